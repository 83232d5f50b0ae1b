"""Spawners: course environments on Kubernetes, and the same on local processes.

``CourseKubeSpawner`` runs servers as pods through KubeSpawner; ``CourseLocalSpawner`` runs
them as local processes for the local campus and the test suite. The course choices (image,
resources, pool, data from the catalog) are to be made by plain functions and applied by
both; until then both are their upstream spawners with campushub's defaults.
"""

from __future__ import annotations

import os
import sys

from jupyterhub.spawner import SimpleLocalProcessSpawner
from kubespawner import KubeSpawner
from traitlets import default


class CourseKubeSpawner(KubeSpawner):
    """KubeSpawner for campushub: one pod per person and course."""


class CourseLocalSpawner(SimpleLocalProcessSpawner):
    """Local processes for the local campus and the tests; never for production.

    Each person gets a home folder under ``home_dir_template``. The single-user server runs
    with the hub's own Python, so it works without activating a virtualenv (the hub's PATH
    is kept, through ``env_keep``, so it finds the same git and nbgitpuller).
    """

    @default("cmd")
    def _default_cmd(self) -> list[str]:
        return [sys.executable, "-m", "jupyterhub.singleuser"]

    @default("default_url")
    def _default_default_url(self) -> str:
        return "/lab"

    def get_args(self) -> list[str]:
        """Add ``--allow-root`` when the hub runs as root, as jupyter-server requires."""
        args: list[str] = super().get_args()
        if os.geteuid() == 0 and "--allow-root" not in args:
            args.append("--allow-root")
        return args
