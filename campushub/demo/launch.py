"""Start and stop the real parts of a local campus: identity provider, git server, hub.

Used by ``campushub demo`` and by the test suite's fixtures, so both run exactly the same
processes. Every part runs as a real process on 127.0.0.1, is waited on by polling a URL
(never by a fixed sleep) and is stopped with everything it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

DEMO_DIR = Path(__file__).parent
DEMO_CATALOG = DEMO_DIR / "courses.yaml"
DEMO_PEOPLE = DEMO_DIR / "people.yaml"
DEMO_REPO_CONTENT = DEMO_DIR / "course-repo"
DEMO_REPO_NAME = "course-materials.git"
# The demo catalog names the demo git server by this address; the launcher rewrites it.
DEMO_GIT_PLACEHOLDER = "http://127.0.0.1:8900/"
ADMIN_GROUP = "campushub-admins"
# The demo people carry memberships in both forms a campus sends: Berkeley's Canvas-derived
# values and eduPersonEntitlement-style URNs (which name the course slug directly).
DEMO_MEMBERSHIP_PATTERNS = [
    r"course::(?P<course>[^:]+)::enrollment_type::(?P<role>[^:]+)",
    r"urn:mace:campus\.example\.edu:course:(?P<course>[^:]+):(?P<role>[^:]+)",
]


class StartError(RuntimeError):
    """A part of the local campus did not start; the message carries its log's tail."""


# Everything here talks to 127.0.0.1; a proxy configured for the machine must not intercept it.
LOOPBACK_NO_PROXY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def free_port(preferred: int | None = None) -> int:
    """Return ``preferred`` if nothing listens there, else a free port (see
    :func:`choose_ports`)."""
    return free_ports(1, preferred)[0]


def free_ports(count: int, preferred: int | None = None) -> list[int]:
    """``count`` distinct free ports (the first ``preferred`` if free), held open together
    while they are chosen so that they cannot collide with each other."""
    return choose_ports([preferred] + [None] * (count - 1))


# Ports chosen here lie below the system's ephemeral range, from which the OS gives the local
# port of every outgoing connection: one chosen there may be taken by a connection while the
# server it was chosen for is stopped, and a restart could not come back on it.
STABLE_PORTS_FROM: Final = 20000
EPHEMERAL_RANGE_FILE: Final = Path("/proc/sys/net/ipv4/ip_local_port_range")
STABLE_TRIES: Final = 64


def stable_port_range() -> range:
    """Ports below the ephemeral range (Linux's ``ip_local_port_range``, 32768 by default), from
    ``STABLE_PORTS_FROM``; empty where the range cannot be read or leaves no room."""
    try:
        low = int(EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return range(0)
    return range(STABLE_PORTS_FROM, max(STABLE_PORTS_FROM, min(low, 65536)))


def choose_ports(preferred: list[int | None]) -> list[int]:
    """A free port for each entry: the one preferred if nothing listens there (connections
    of a process just stopped, in TIME_WAIT, do not count: the servers bind with
    SO_REUSEADDR too), else one picked at random below the ephemeral range
    (:func:`stable_port_range`), else one the OS chooses; all distinct, held open together
    while they are chosen."""
    stable = stable_port_range()
    sockets: list[socket.socket] = []
    try:
        for wanted in preferred:
            picks = [random.choice(stable) for _ in range(STABLE_TRIES)] if stable else []
            for port in ([wanted] if wanted else []) + picks + [0]:
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", port))
                    sock.listen(1)  # a second bind with SO_REUSEADDR fails while this listens
                except OSError:
                    sock.close()
                    continue
                sockets.append(sock)
                break
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def demo_ports(
    state_dir: Path,
    defaults: Mapping[str, int],
    report: Callable[[str], None] | None = None,
    asked: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """The local campus's ports: those its last start used (kept in ``<state>/ports.json``),
    else ``defaults``, each kept if nothing else listens there (``asked`` ones, given on the
    command line, come first); saved for the next start, so that a restart comes back on the
    same addresses and every link made keeps working."""
    path = state_dir / "ports.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        saved = {}
    if not isinstance(saved, dict):
        saved = {}
    names = list(defaults)
    wanted = []
    saved.update(asked or {})  # a port asked for now wins over the last start's
    for name in names:
        port = saved.get(name, defaults[name])
        valid = isinstance(port, int) and not isinstance(port, bool) and 1024 <= port <= 65535
        wanted.append(port if valid else defaults[name])
    chosen = dict(zip(names, choose_ports(wanted), strict=True))
    for name, port in zip(names, wanted, strict=True):
        if report is not None and name in saved and chosen[name] != port:
            report(
                f"the {name} port {port} of the last start is taken by something else;"
                f" using {chosen[name]} (links made for the old address will not open)"
            )
    state_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(chosen, indent=1))
    return chosen


@dataclass
class Process:
    """A started part of the campus: its process, log file and the URL it answers on."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    url: str
    # Pid files of processes it starts in sessions of their own (the hub's proxy).
    pid_files: tuple[Path, ...] = ()
    # Text in the environment of processes it starts in sessions of their own (the hub's
    # servers and their kernels): whatever still carries it after the stop is ended too.
    environment_marker: bytes | None = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 40.0, keep_servers: bool = False) -> None:
        """Ask the process to stop (SIGTERM) and wait, then kill what is left.

        The hub stops its servers and proxy itself on SIGTERM, which can take a while; if it
        has to be killed, its process group (children in the same session) and the processes
        named by its pid files go too. Processes carrying the environment marker (its servers)
        are ended as well, unless ``keep_servers`` (a hub restarting with
        ``cleanup_servers`` off finds them again). Returns once those are gone: JupyterHub
        sends its proxy SIGTERM and removes the pid file without waiting for it, and a proxy
        still listening would make a start right after this one move to other ports.
        """
        named = [found for pid_file in self.pid_files if (found := _pid_in(pid_file))]
        if self.running():
            self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(5)
        named += [found for pid_file in self.pid_files if (found := _pid_in(pid_file))]
        for pid_file in self.pid_files:
            with contextlib.suppress(OSError):
                pid_file.unlink()
        if self.environment_marker and not keep_servers:
            named += [(pid, _started(pid)) for pid in processes_with(self.environment_marker)]
        _end(named)


def _started(pid: int) -> str | None:
    """When process ``pid`` started (``/proc/<pid>/stat``, field 22), which tells it from a
    later process given the same number; None once it is gone (or a zombie: its files and
    sockets are closed)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20 or fields[0] == "Z":
        return None
    return fields[19]


def _pid_in(pid_file: Path) -> tuple[int, str | None] | None:
    """The process a pid file names, with when it started; None if there is none."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return (pid, started) if pid > 1 and (started := _started(pid)) else None


def _end(processes: Iterable[tuple[int, str | None]], wait: float = 10.0) -> None:
    """Kill each process (pid, when it started) still running, and wait up to ``wait``
    seconds until all are gone."""
    alive = {pid: started for pid, started in processes if started is not None}
    for pid, started in alive.items():
        if _started(pid) == started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait
    while alive and time.monotonic() < deadline:
        alive = {pid: started for pid, started in alive.items() if _started(pid) == started}
        if alive:
            time.sleep(0.02)


def processes_with(marker: bytes) -> list[int]:
    """Processes (other than this one) whose environment contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "environ").read_bytes():
                found.append(int(entry.name))
    return found


def start_process(
    name: str,
    argv: list[str],
    ready_url: str,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60.0,
    url: str | None = None,
    any_answer: bool = False,
    pid_files: tuple[Path, ...] = (),
    environment_marker: bytes | None = None,
) -> Process:
    """Start ``argv`` in its own process group and wait until ``ready_url`` answers 200.

    With ``any_answer``, any HTTP answer below 500 counts (a server whose root is a 404).
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    process = Process(name, popen, log_path, url or ready_url, pid_files, environment_marker)
    try:
        wait_until_ready(process, ready_url, timeout, any_answer)
    except BaseException:
        process.stop()
        raise
    return process


def wait_until_ready(process: Process, url: str, timeout: float, any_answer: bool = False) -> None:
    """Poll ``url`` until it answers 200 (or anything below 500); fail early if the process
    exits. A proxy that is up before its routes answers 404, which is not ready."""
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if not process.running():
            raise StartError(
                f"{process.name} exited with code {process.popen.returncode} before it was"
                f" ready; the end of {process.log_path}:\n{process.log_tail()}"
            )
        try:
            with _LOOPBACK.open(url, timeout=2) as response:
                answered = response.status == 200
        except urllib.error.HTTPError as error:
            answered = any_answer and error.code < 500
            last_error = f"HTTP {error.code}"
        except (OSError, urllib.error.URLError) as error:
            answered, last_error = False, str(error)
        if answered:
            if process.running():  # not some other server that holds the port
                return
            continue  # the next round reports the exit
        time.sleep(0.1)  # polling interval, not a wait for readiness
    raise StartError(
        f"{process.name} did not answer at {url} within {timeout:.0f} s ({last_error});"
        f" the end of {process.log_path}:\n{process.log_tail()}"
    )


# Readiness polls go straight to 127.0.0.1, whatever proxy the environment names.
_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# -- the identity provider ---------------------------------------------------------------------


def demo_people() -> list[dict[str, Any]]:
    """The demo people: OIDC claims plus a ``role`` line that describes them to a newcomer."""
    people = yaml.safe_load(DEMO_PEOPLE.read_text())
    return [dict(person) for person in people]


def person_claims(person: Mapping[str, Any]) -> dict[str, Any]:
    """The claims the identity provider returns for a demo person."""
    sub = person["sub"]
    return {
        "sub": sub,
        "preferred_username": sub,
        "name": person.get("name", sub),
        "email": f"{sub}@campus.example.edu",
        "email_verified": True,
        "groups": list(person.get("groups", [])),
    }


def start_identity_provider(
    port: int, people: Iterable[Mapping[str, Any]], log_dir: Path
) -> Process:
    """Start oidc-provider-mock, a real OpenID Connect provider, holding ``people``, with a
    sign-in page that says who each is (campushub.demo.identity)."""
    argv = [sys.executable, "-m", "campushub.demo.identity", "--host", "127.0.0.1"]
    argv += ["--port", str(port)]
    for person in people:
        shown = {**person_claims(person), "role": str(person.get("role", ""))}
        argv += ["--person", json.dumps(shown)]
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **LOOPBACK_NO_PROXY, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    return start_process(
        "identity-provider",
        argv,
        f"{url}/.well-known/openid-configuration",
        log_dir,
        env=env,
        url=url,
    )


# -- the git server ----------------------------------------------------------------------------


def _git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=campushub demo",
            "-c",
            "user.email=demo@campus.example.edu",
            "-c",
            "init.defaultBranch=main",
            *args,
        ],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )


def make_course_repo(root: Path, content: Path = DEMO_REPO_CONTENT) -> Path:
    """Create (once) a bare repository under ``root`` holding the demo course material."""
    bare = root / DEMO_REPO_NAME
    if bare.exists():
        return bare
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir) / "work"
        shutil.copytree(content, work)
        _git("init", "-q", cwd=work)
        _git("add", "-A", cwd=work)
        _git("commit", "-q", "-m", "Demo course material", cwd=work)
        _git("clone", "-q", "--bare", str(work), str(bare))
    return bare


def start_git_server(port: int, root: Path, log_dir: Path) -> Process:
    """Serve the repositories under ``root`` read-only over smart HTTP (git http-backend)."""
    argv = [sys.executable, "-m", "campushub.demo.gitserver"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--root", str(root)]
    url = f"http://127.0.0.1:{port}/"
    return start_process("git-server", argv, url, log_dir, url=url, any_answer=True)


def write_catalog(dest: Path, git_url: str, source: Path = DEMO_CATALOG) -> Path:
    """Copy the demo catalog to ``dest`` with the demo git server's real address in it."""
    text = source.read_text().replace(DEMO_GIT_PLACEHOLDER, git_url.rstrip("/") + "/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text)
    return dest


# -- the hub -----------------------------------------------------------------------------------


def reference_config() -> Path:
    """The reference ``jupyterhub_config.py`` of this campushub checkout."""
    path = DEMO_DIR.parents[1] / "jupyterhub_config.py"
    if not path.exists():
        raise StartError(
            f"{path} not found: run the local campus from a campushub checkout (make demo)"
        )
    return path


@dataclass
class HubSettings:
    """Where the hub listens and keeps its state; turned into CAMPUSHUB_* variables."""

    state_dir: Path
    catalog: Path
    issuer: str
    public_port: int
    hub_port: int
    proxy_api_port: int
    client_id: str = "campushub-local"
    client_secret: str = "campushub-local-secret"  # the development provider accepts any
    auth_refresh_age: int = 300
    # The links service's port (a hub-managed service on 127.0.0.1).
    links_port: int = field(default_factory=free_port)
    scaler_port: int = field(default_factory=free_port)
    grading_port: int = field(default_factory=free_port)
    # More CAMPUSHUB_* variables (e.g. CAMPUSHUB_CULL_TIMEOUT), set last.
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.public_port}"

    def environment(self) -> dict[str, str]:
        """The environment the reference configuration reads (see the README)."""
        bin_dir = str(Path(sys.executable).parent)
        return {
            **os.environ,
            **LOOPBACK_NO_PROXY,
            "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
            "CAMPUSHUB_MODE": "local",
            "CAMPUSHUB_CATALOG": str(self.catalog),
            "CAMPUSHUB_STATE_DIR": str(self.state_dir),
            "CAMPUSHUB_PUBLIC_URL": self.public_url,
            "CAMPUSHUB_HUB_PORT": str(self.hub_port),
            "CAMPUSHUB_PROXY_API_PORT": str(self.proxy_api_port),
            "CAMPUSHUB_OIDC_ISSUER": self.issuer,
            "CAMPUSHUB_OIDC_CLIENT_ID": self.client_id,
            "CAMPUSHUB_OIDC_CLIENT_SECRET": self.client_secret,
            "CAMPUSHUB_ADMIN_VALUES": ADMIN_GROUP,
            "CAMPUSHUB_MEMBERSHIP_PATTERNS": json.dumps(DEMO_MEMBERSHIP_PATTERNS),
            "CAMPUSHUB_AUTH_REFRESH_AGE": str(self.auth_refresh_age),
            "JUPYTERHUB_CRYPT_KEY": self.crypt_key(),
            "CAMPUSHUB_LINKS_PORT": str(self.links_port),
            "CAMPUSHUB_SCALER_PORT": str(self.scaler_port),
            "CAMPUSHUB_GRADING_PORT": str(self.grading_port),
            **self.extra_env,
        }

    def crypt_key(self) -> str:
        """The key that encrypts auth_state, made once per state folder."""
        path = self.state_dir / "crypt_key"
        if not path.exists():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(32))
        return path.read_text().strip()


def write_hub_config(path: Path, service: str, token: str, scopes: Iterable[str]) -> Path:
    """A hub configuration: the reference one, plus an API service ``service`` holding
    ``scopes`` with ``token`` (for the tests and benchmarks that drive the hub's API)."""
    role = {"name": service, "scopes": sorted(scopes), "services": [service]}
    path.write_text(
        f"load_subconfig({str(reference_config())!r})\n"
        f"c.JupyterHub.services.append({{'name': {service!r}, 'api_token': {token!r}}})\n"
        f"c.JupyterHub.load_roles.append({role!r})\n"
    )
    return path


def start_hub(
    settings: HubSettings,
    log_dir: Path,
    config: Path | None = None,
    timeout: float = 90.0,
    services: bool = True,
) -> Process:
    """Start JupyterHub (which starts configurable-http-proxy) and wait for its API through
    the proxy; with ``services``, also until the hub says it is running (it has started its
    services, one after the other, and added their routes). The proxy sends what has no route
    to the hub, so the hub answers before its services do."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "jupyterhub", "-f", str(config or reference_config())]
    began = time.monotonic()
    hub = start_process(
        "hub",
        argv,
        f"{settings.public_url}/hub/api/",
        log_dir,
        env=settings.environment(),
        cwd=settings.state_dir,
        timeout=timeout,
        url=settings.public_url,
        pid_files=(settings.state_dir / "jupyterhub-proxy.pid",),
        environment_marker=f"JUPYTERHUB_API_URL=http://127.0.0.1:{settings.hub_port}/".encode(),
    )
    if services:
        try:
            wait_for_log(hub, HUB_RUNNING, timeout - (time.monotonic() - began))
        except BaseException:
            hub.stop()
            raise
    return hub


HUB_RUNNING = b"JupyterHub is now running"


def wait_for_log(process: Process, line: bytes, timeout: float) -> None:
    """Wait until ``process``'s log holds ``line``; fail early if the process exits."""
    deadline = time.monotonic() + timeout
    while line not in process.log_path.read_bytes():
        if not process.running():
            raise StartError(
                f"{process.name} exited with code {process.popen.returncode} before it said"
                f" {line.decode()!r}; the end of {process.log_path}:\n{process.log_tail()}"
            )
        if time.monotonic() > deadline:
            raise StartError(
                f"{process.name} did not say {line.decode()!r} within {timeout:.0f} s; the"
                f" end of {process.log_path}:\n{process.log_tail()}"
            )
        time.sleep(0.1)  # polling interval, not a wait for readiness
