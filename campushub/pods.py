"""Parts of a course server's pod that campushub adds to KubeSpawner's: plain functions of plain
data, in the manner of KubeSpawner's ``objects.py``, testable without a cluster.

- :func:`folders_init_container`: an init container that creates the person's folders on the
  shared storage (their home under the home claim, a course's shared data when they may write
  it) and gives them to the server's user before the server starts. Without it the kubelet
  creates a ``subPath`` folder owned by root the first time, and the person cannot write to
  their own home (zero-to-jupyterhub's storage guide describes the problem).
- :func:`guaranteed_init_containers`: every init container with CPU and memory requests equal
  to its limits. A pod's QoS class is Guaranteed only if *all* its containers, init containers
  included, have them; zero-to-jupyterhub's ``block-cloud-metadata`` init container has none
  by default, which would leave an exam's pod Burstable.

No JupyterHub, tornado or Kubernetes client imports; KubeSpawner accepts these dicts as they are.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any, Final

from .environments import Volume

FOLDERS_CONTAINER: Final = "campushub-folders"
FOLDERS_ROOT: Final = "/campushub-folders"
# Small, and never more than the server's own guarantees (see folders_resources).
INIT_CPU: Final = 0.1
INIT_MEMORY: Final = 64 * 2**20
# Make each folder named as an argument (its parents as root's), then give that folder, and
# only it, to the owner; a folder that is a symbolic link stops the pod. The paths are
# arguments, never spliced into the script; no braces, which KubeSpawner would expand.
FOLDERS_SCRIPT: Final = (
    'for folder in "$@"; do'
    ' if [ -L "$folder" ]; then echo "$folder is a symbolic link: refused" >&2; exit 1; fi;'
    ' mkdir -p "$folder" && chown -h "$OWNER" "$folder" || exit 1; done'
)


def cpu_quantity(cores: float) -> str:
    """Cores as a Kubernetes quantity in millicores (``0.1`` → ``100m``), at least 1m."""
    return f"{max(1, round(cores * 1000))}m"


def init_resources(cpu: float, memory: int) -> dict[str, dict[str, str]]:
    """Requests equal to limits, at most ``INIT_CPU``/``INIT_MEMORY`` and at most the server's
    own guarantees, so an init container never raises what the pod asks the scheduler for."""
    amounts = {
        "cpu": cpu_quantity(min(cpu, INIT_CPU)),
        "memory": str(max(16 * 2**20, min(memory, INIT_MEMORY))),
    }
    return {"requests": dict(amounts), "limits": dict(amounts)}


def folders_to_prepare(volumes: Iterable[Volume]) -> list[tuple[str, str]]:
    """(pod volume name, folder inside it) for every folder the server's user must own: a
    writable mount's ``subPath`` (its parents are made too, and stay root's, so a person cannot
    replace the folder with a link), or the root of a writable mount without one. Read-only
    mounts are left as they are."""
    return [
        (volume.name, (volume.sub_path or "").strip("/"))
        for volume in volumes
        if not volume.read_only
    ]


def folders_init_container(
    volumes: Iterable[Volume],
    image: str,
    uid: int,
    gid: int,
    resources: Mapping[str, Any],
) -> dict[str, Any] | None:
    """The init container that creates and owns ``volumes``' folders, or None if none need it.

    It runs the server's own image (already pulled for the server, and every course image has
    ``/bin/sh``, ``mkdir`` and ``chown``) as root with only the capabilities chown needs, and
    mounts each volume whole (no ``subPath``) under ``/campushub-folders/<volume name>``.
    """
    folders = folders_to_prepare(volumes)
    if not folders:
        return None
    names = sorted({name for name, _ in folders})
    paths = [f"{FOLDERS_ROOT}/{name}/{level}".rstrip("/") for name, level in folders]
    return {
        "name": FOLDERS_CONTAINER,
        "image": image,
        "command": ["/bin/sh", "-c", FOLDERS_SCRIPT, FOLDERS_CONTAINER, *paths],
        "env": [{"name": "OWNER", "value": f"{uid}:{gid}"}],
        "volumeMounts": [{"name": name, "mountPath": f"{FOLDERS_ROOT}/{name}"} for name in names],
        "resources": copy.deepcopy(dict(resources)),
        "securityContext": {
            "runAsUser": 0,
            "runAsGroup": 0,
            "runAsNonRoot": False,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "DAC_OVERRIDE", "FOWNER"]},
        },
    }


def _resources_of(container: Any) -> dict[str, dict[str, Any]]:
    """A container's requests and limits as plain dicts, whether the container is a dict (as
    in ``KubeSpawner.init_containers``) or a Kubernetes client model (zero-to-jupyterhub's
    configuration appends ``V1Container`` objects)."""
    if isinstance(container, Mapping):
        resources = container.get("resources")
    else:
        resources = getattr(container, "resources", None)
    if resources is None:
        return {"requests": {}, "limits": {}}
    if isinstance(resources, Mapping):
        requests, limits = resources.get("requests"), resources.get("limits")
    else:
        requests, limits = resources.requests, resources.limits
    return {"requests": dict(requests or {}), "limits": dict(limits or {})}


def _name_of(container: Any) -> str:
    if isinstance(container, Mapping):
        return str(container.get("name", ""))
    return str(getattr(container, "name", ""))


def guaranteed_init_containers(
    containers: Iterable[Any], fallback: Mapping[str, Mapping[str, str]]
) -> tuple[list[Any], list[str]]:
    """Copies of ``containers`` whose CPU and memory requests equal their limits, and the names
    of those changed. A resource with a limit gets it as its request; one with only a request
    gets it as its limit; one with neither gets ``fallback``'s."""
    result, changed = [], []
    for container in containers:
        resources = _resources_of(container)
        fixed = copy.deepcopy(resources)
        for resource in ("cpu", "memory"):
            amount = (
                resources["limits"].get(resource)
                or resources["requests"].get(resource)
                or fallback["limits"][resource]
            )
            fixed["requests"][resource] = fixed["limits"][resource] = amount
        if fixed == resources:
            result.append(container)
            continue
        changed.append(_name_of(container))
        if isinstance(container, Mapping):
            result.append({**container, "resources": fixed})
        else:
            copied = copy.copy(container)
            copied.resources = fixed
            result.append(copied)
    return result, changed
