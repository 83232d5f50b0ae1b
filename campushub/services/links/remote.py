"""Check a link's branch and file against the repository itself, before the link is issued.

``git ls-remote`` finds the branch; when a file is named, a shallow clone without file
contents (``--depth 1 --filter=blob:none``, into a temporary bare repository) lets
``git ls-tree`` say whether the path exists on that branch. Every git command runs as an
asyncio subprocess under one overall timeout, never prompts for credentials, may only use
http(s), and is given the URL after ``--`` so that it can never be taken for an option
(the rules refuse URLs starting with ``-`` as well).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .rules import FieldProblem, LinkTarget

SHOWN_BRANCHES = 8
MAX_GIT_OUTPUT = 4 * 1024 * 1024


class GitTimeout(Exception):
    """A git command did not finish within the time left."""


@dataclass(frozen=True, slots=True)
class GitResult:
    returncode: int
    stdout: bytes
    stderr: str


def git_environment(home: str) -> dict[str, str]:
    """git's environment: no prompts, no credential helpers, http(s) only."""
    return {
        **os.environ,
        "HOME": os.environ.get("HOME") or home,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "true",  # answers every prompt with nothing
        "SSH_ASKPASS": "true",
        "GCM_INTERACTIVE": "never",
        "GIT_ALLOW_PROTOCOL": "http:https",
        "GIT_PROTOCOL_FROM_USER": "0",
        "LC_ALL": "C",
    }


async def run_git(args: Sequence[str], timeout: float, env: dict[str, str]) -> GitResult:
    """Run ``git <args>``; kill it and raise :class:`GitTimeout` after ``timeout`` seconds."""
    if timeout <= 0:
        raise GitTimeout
    process = await asyncio.create_subprocess_exec(
        "git",
        "-c",
        "credential.helper=",
        "-c",
        "core.askPass=true",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        # A group of its own: git runs helpers (git-remote-http) that must end with it.
        start_new_session=True,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        raise GitTimeout from None
    return GitResult(
        process.returncode or 0,
        stdout[:MAX_GIT_OUTPUT],
        stderr.decode("utf-8", "replace"),
    )


def _first_error(stderr: str) -> str:
    """git's own reason, one line, cut short (it may echo the server's text)."""
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith(("fatal:", "error:", "remote:")):
            return line[:200]
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no reason given"


async def check_remote(target: LinkTarget, timeout: float = 20.0) -> list[FieldProblem]:
    """Problems with ``target``'s branch and file as the repository has them ([] if none).

    A repository that cannot be reached or does not answer within ``timeout`` seconds (all
    git commands together) is a problem of the ``repo`` field.
    """
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="campushub-links-") as work:
        env = git_environment(work)
        try:
            listed = await run_git(
                ["ls-remote", "--heads", "--", target.repo], deadline - time.monotonic(), env
            )
        except GitTimeout:
            return [
                FieldProblem(
                    "repo", f"the repository did not answer within {timeout:.0f} s; try again"
                )
            ]
        if listed.returncode != 0:
            return [
                FieldProblem(
                    "repo",
                    "cannot be read as a public git repository: " + _first_error(listed.stderr),
                )
            ]
        branches = []
        for line in listed.stdout.decode("utf-8", "replace").splitlines():
            _, _, ref = line.partition("\t")
            if ref.startswith("refs/heads/"):
                branches.append(ref.removeprefix("refs/heads/"))
        if target.branch not in branches:
            shown = ", ".join(sorted(branches)[:SHOWN_BRANCHES]) or "none"
            more = f" and {len(branches) - SHOWN_BRANCHES} more" if len(branches) > 8 else ""
            return [
                FieldProblem(
                    "branch",
                    f"{target.branch!r} is not a branch of the repository (its branches:"
                    f" {shown}{more})",
                )
            ]
        if not target.path:
            return []
        clone = os.path.join(work, "repo.git")
        try:
            cloned = await run_git(
                [
                    *("clone", "--quiet", "--bare", "--depth", "1", "--filter=blob:none"),
                    *("--no-tags", "--single-branch", "--branch", target.branch),
                    *("--", target.repo, clone),
                ],
                deadline - time.monotonic(),
                env,
            )
            if cloned.returncode != 0:
                return [
                    FieldProblem(
                        "repo",
                        "cannot be fetched to look for the file: " + _first_error(cloned.stderr),
                    )
                ]
            # ls-tree needs the trees only, which the blob-less clone has.
            listing = await run_git(
                ["-C", clone, "ls-tree", "-z", "HEAD", "--", target.path],
                deadline - time.monotonic(),
                env,
            )
        except GitTimeout:
            return [
                FieldProblem(
                    "path",
                    f"could not be looked for: the repository did not answer within"
                    f" {timeout:.0f} s; try again",
                )
            ]
        found = [
            entry.decode("utf-8", "replace").partition("\t")
            for entry in listing.stdout.split(b"\0")
            if entry
        ]
        if not any(path == target.path for _, _, path in found):
            return [
                FieldProblem(
                    "path",
                    f"{target.path!r} is not in branch {target.branch!r} of the repository"
                    " (paths are relative to its top and case-sensitive)",
                )
            ]
        return []
