"""What each catalog language runs as on the local campus, where servers are local processes
of this machine's Python, not the course images.

Python runs as itself. R runs where Debian's ``r-base-core`` and ``r-cran-irkernel`` are
installed (the README's set-up installs them as root): the R kernel is the default kernel of
an R course's server. Julia has no Debian package: a Julia course says on its home page row
that it runs Python here. A language this machine lacks is said, never hidden.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from functools import cache

__all__ = ["LocalRuntime", "local_runtime"]


@dataclass(frozen=True, slots=True)
class LocalRuntime:
    """How a language runs here: its kernel (None: the server's own Python) and what the
    home page says about it (empty: as in the cluster)."""

    kernel: str | None
    note: str


# The kernels a language's image provides, by the name of their Jupyter kernelspec.
KERNELS = {"r": "ir", "julia": "julia"}
# What each needs besides its kernelspec, and where a machine without it gets it.
HOW = {
    "r": ("R", "Debian's r-base-core and r-cran-irkernel"),
    "julia": ("julia", "Julia, which Debian does not package"),
}


@cache
def _which(program: str) -> str | None:
    """Where ``program`` is on PATH (read once: the home page asks for every R course)."""
    return shutil.which(program)


@cache
def _kernelspecs() -> frozenset[str]:
    from jupyter_client.kernelspec import KernelSpecManager

    try:
        return frozenset(KernelSpecManager().find_kernel_specs())
    except Exception:  # a broken kernelspec folder: as if none were there
        return frozenset()


def local_runtime(language: str) -> LocalRuntime:
    """How ``language`` runs on this machine's local campus."""
    kernel = KERNELS.get(language)
    if kernel is None:
        return LocalRuntime(None, "")
    program, needs = HOW[language]
    if kernel in _kernelspecs() and _which(program):
        return LocalRuntime(kernel, "")
    return LocalRuntime(None, f"no {program} on this machine (needs {needs}): runs Python here")
