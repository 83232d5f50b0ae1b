"""End-to-end tests for campushub.demo.gitserver: real git, real HTTP, real subprocess."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
STARTUP_DEADLINE = 20.0  # seconds

NOTEBOOK = {
    "cells": [
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": ["# Hello from the course repository\n"],
        }
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def _git_env() -> dict[str, str]:
    """Environment for git: no prompts, no user/system config, no proxy for loopback."""
    env = dict(os.environ)
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            # Ignore the developer's ~/.gitconfig (insteadOf rules, hooks, ...).
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    return env


def git(*args: str | os.PathLike[str], cwd: pathlib.Path | None = None) -> str:
    """Run git with an identity given by -c flags; return stdout. Raises on failure."""
    cmd = ["git", "-c", "user.name=CampusHub Test", "-c", "user.email=test@campushub.invalid"]
    proc = subprocess.run(
        [*cmd, *map(str, args)], check=True, capture_output=True, cwd=cwd, env=_git_env()
    )
    return proc.stdout.decode()


def git_fails(*args: str | os.PathLike[str], cwd: pathlib.Path | None = None) -> str:
    """Run git expecting failure; return its stderr."""
    cmd = ["git", "-c", "user.name=CampusHub Test", "-c", "user.email=test@campushub.invalid"]
    proc = subprocess.run(
        [*cmd, *map(str, args)], check=False, capture_output=True, cwd=cwd, env=_git_env()
    )
    assert proc.returncode != 0, f"git {args} unexpectedly succeeded: {proc.stdout!r}"
    return proc.stderr.decode()


def free_port() -> int:
    """Ask the OS for a free loopback port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Send one raw HTTP request (http.client does not normalise ``..`` away)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _output(log_path: pathlib.Path) -> str:
    return log_path.read_text(errors="replace") if log_path.exists() else ""


def start_server(
    root: pathlib.Path,
    port: int,
    log_path: pathlib.Path,
    path_prefix: pathlib.Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start the git server as a real subprocess; output goes to ``log_path``.

    ``path_prefix`` is put first on the server's PATH (to substitute a fake ``git``).
    """
    env = dict(os.environ)
    if path_prefix is not None:
        env["PATH"] = os.pathsep.join([str(path_prefix), env.get("PATH", "")])
    # Importable even when the package is not pip-installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "campushub.demo.gitserver", "--port", str(port), "--root", root],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )


def wait_until_ready(
    proc: subprocess.Popen[bytes], port: int, log_path: pathlib.Path, ready_status: int = 200
) -> None:
    """Poll the server until it answers a ref advertisement, or fail with its output."""
    deadline = time.monotonic() + STARTUP_DEADLINE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"git server exited with {proc.returncode}:\n{_output(log_path)}")
        try:
            status, _, _ = http_request(
                port, "GET", "/course.git/info/refs?service=git-upload-pack"
            )
        except OSError:
            status = None
        if status == ready_status:
            return
        time.sleep(0.05)  # poll interval, not a fixed wait
    stop_server(proc)
    pytest.fail(f"git server not ready after {STARTUP_DEADLINE} s:\n{_output(log_path)}")


def stop_server(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    """Stop the server with ``sig``; kill it if it does not exit. Returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@dataclass
class GitServer:
    """A running server plus the repositories it serves."""

    port: int
    root: pathlib.Path
    bare: pathlib.Path
    work: pathlib.Path
    tmp: pathlib.Path
    proc: subprocess.Popen[bytes]
    log_path: pathlib.Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/course.git"


@pytest.fixture(scope="module")
def gitserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    """A bare ``course.git`` with ``hello.ipynb`` on ``main``, served over HTTP."""
    tmp = tmp_path_factory.mktemp("gitserver")
    root = tmp / "repos"
    root.mkdir()
    bare = root / "course.git"
    git("init", "--bare", "--initial-branch=main", bare)

    # Author the content in a work clone and push it by file path, as an instructor would.
    work = tmp / "work"
    git("clone", bare, work)
    git("symbolic-ref", "HEAD", "refs/heads/main", cwd=work)  # independent of init defaults
    (work / "hello.ipynb").write_text(json.dumps(NOTEBOOK, indent=1) + "\n")
    git("add", "hello.ipynb", cwd=work)
    git("commit", "-m", "Add hello notebook", cwd=work)
    git("push", "origin", "main", cwd=work)

    port = free_port()
    log_path = tmp / "server.log"
    proc = start_server(root, port, log_path)
    try:
        wait_until_ready(proc, port, log_path)
        yield GitServer(port, root, bare, work, tmp, proc, log_path)
    finally:
        code = stop_server(proc)
    assert code == 0, f"server did not exit cleanly ({code}):\n{_output(log_path)}"


def test_clone_over_http(gitserver: GitServer) -> None:
    dest = gitserver.tmp / "clone-basic"
    git("clone", gitserver.url, dest)
    notebook = json.loads((dest / "hello.ipynb").read_text())
    assert notebook["nbformat"] == 4
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=dest).strip() == "main"


def test_pull_brings_new_commit(gitserver: GitServer) -> None:
    dest = gitserver.tmp / "clone-pull"
    git("clone", gitserver.url, dest)
    assert not (dest / "week2.ipynb").exists()

    # A new commit lands in the bare repository by file path, not over HTTP.
    work = gitserver.work
    (work / "week2.ipynb").write_text(json.dumps(NOTEBOOK) + "\n")
    git("add", "week2.ipynb", cwd=work)
    git("commit", "-m", "Add week 2", cwd=work)
    git("push", "origin", "main", cwd=work)

    git("pull", "--ff-only", cwd=dest)
    assert (dest / "week2.ipynb").exists()
    head = git("rev-parse", "HEAD", cwd=dest).strip()
    assert head == git("rev-parse", "HEAD", cwd=work).strip()


def test_ls_remote_lists_branch(gitserver: GitServer) -> None:
    out = git("ls-remote", gitserver.url)
    refs = {line.split("\t")[1]: line.split("\t")[0] for line in out.splitlines()}
    assert "refs/heads/main" in refs
    assert refs["refs/heads/main"] == git("rev-parse", "main", cwd=gitserver.bare).strip()


def test_protocol_v0_clone(gitserver: GitServer) -> None:
    """The old protocol (no Git-Protocol header) works too."""
    dest = gitserver.tmp / "clone-v0"
    git("-c", "protocol.version=0", "clone", gitserver.url, dest)
    assert (dest / "hello.ipynb").exists()


def test_push_over_http_is_refused(gitserver: GitServer) -> None:
    dest = gitserver.tmp / "clone-push"
    git("clone", gitserver.url, dest)
    before = git("rev-parse", "main", cwd=gitserver.bare).strip()
    (dest / "evil.txt").write_text("should never arrive\n")
    git("add", "evil.txt", cwd=dest)
    git("commit", "-m", "try to push", cwd=dest)

    stderr = git_fails("push", "origin", "main", cwd=dest)
    assert "403" in stderr
    assert git("rev-parse", "main", cwd=gitserver.bare).strip() == before


def test_receive_pack_endpoints_get_403(gitserver: GitServer) -> None:
    status, headers, body = http_request(
        gitserver.port, "GET", "/course.git/info/refs?service=git-receive-pack"
    )
    assert status == 403
    assert headers["content-type"].startswith("text/plain")
    assert b"read-only" in body

    status, _, body = http_request(
        gitserver.port,
        "POST",
        "/course.git/git-receive-pack",
        body=b"0000",
        headers={"Content-Type": "application/x-git-receive-pack-request"},
    )
    assert status == 403
    assert b"read-only" in body


@pytest.mark.parametrize(
    "path",
    [
        "/../course.git/info/refs?service=git-upload-pack",
        "/course.git/../course.git/info/refs?service=git-upload-pack",
        "/%2e%2e/etc/passwd",
        "/course.git/%2E%2E/%2E%2E/etc/passwd",
    ],
)
def test_dotdot_path_is_404(gitserver: GitServer, path: str) -> None:
    status, _, _ = http_request(gitserver.port, "GET", path)
    assert status == 404


def test_missing_repository_is_404(gitserver: GitServer) -> None:
    status, _, _ = http_request(
        gitserver.port, "GET", "/nope.git/info/refs?service=git-upload-pack"
    )
    assert status == 404


def test_other_methods_are_rejected(gitserver: GitServer) -> None:
    status, _, _ = http_request(gitserver.port, "PUT", "/course.git/HEAD", body=b"x")
    assert status == 405


def test_smart_ref_advertisement_headers(gitserver: GitServer) -> None:
    status, headers, body = http_request(
        gitserver.port, "GET", "/course.git/info/refs?service=git-upload-pack"
    )
    assert status == 200
    assert headers["content-type"] == "application/x-git-upload-pack-advertisement"
    assert body.startswith(b"001e# service=git-upload-pack\n")


def _pkt(line: str) -> bytes:
    data = line.encode()
    return f"{len(data) + 4:04x}".encode() + data


def test_gzip_request_body(gitserver: GitServer) -> None:
    """A gzip-encoded protocol v2 ls-refs request is decoded by http-backend."""
    request = _pkt("command=ls-refs\n") + b"0001" + _pkt("peel\n") + b"0000"
    status, headers, body = http_request(
        gitserver.port,
        "POST",
        "/course.git/git-upload-pack",
        body=gzip.compress(request),
        headers={
            "Content-Type": "application/x-git-upload-pack-request",
            "Content-Encoding": "gzip",
            "Git-Protocol": "version=2",
        },
    )
    assert status == 200, body
    assert headers["content-type"] == "application/x-git-upload-pack-result"
    main_sha = git("rev-parse", "main", cwd=gitserver.bare).strip()
    assert f"{main_sha} refs/heads/main".encode() in body


def test_cli_banner_and_sigint(gitserver: GitServer) -> None:
    """A second instance prints its banner once listening and exits 0 on SIGINT."""
    port = free_port()
    log_path = gitserver.tmp / "server-sigint.log"
    proc = start_server(gitserver.root, port, log_path)
    try:
        wait_until_ready(proc, port, log_path)
        banner = (
            f"campushub git server serving {gitserver.root.resolve()} at http://127.0.0.1:{port}/"
        )
        assert banner in _output(log_path).splitlines()
    finally:
        code = stop_server(proc, signal.SIGINT)
    assert code == 0, _output(log_path)


def test_backend_failure_is_500(gitserver: GitServer) -> None:
    """A backend that exits non-zero without output yields a 500, with its stderr logged."""
    fake_bin = gitserver.tmp / "fake-bin"
    fake_bin.mkdir()
    fake_git = fake_bin / "git"
    fake_git.write_text("#!/bin/sh\necho 'fake backend exploded' >&2\nexit 3\n")
    fake_git.chmod(0o755)

    port = free_port()
    log_path = gitserver.tmp / "server-broken.log"
    proc = start_server(gitserver.root, port, log_path, path_prefix=fake_bin)
    try:
        wait_until_ready(proc, port, log_path, ready_status=500)
        status, _, body = http_request(port, "GET", "/course.git/HEAD")
        assert status == 500
        assert b"exploded" not in body  # stderr goes to the log, not to the client
    finally:
        code = stop_server(proc)
    assert code == 0, _output(log_path)
    assert "fake backend exploded" in _output(log_path)
