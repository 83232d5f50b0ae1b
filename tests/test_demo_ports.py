"""The local campus comes back on the same addresses after a restart: ports a stopped process
left in TIME_WAIT count as free, the ports of the last start are kept in the state folder,
and only a port something else listens on is given up."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from campushub.demo import launch


def _time_wait_port() -> int:
    """A port whose listener (with SO_REUSEADDR, as tornado's and node's servers bind) has
    stopped, with a connection it closed first in TIME_WAIT."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    accepted.close()  # the server side closes first: TIME_WAIT is on the server's port
    client.close()
    listener.close()
    return port


def test_a_port_left_in_time_wait_is_taken_again() -> None:
    port = _time_wait_port()
    plain = socket.socket()
    try:
        plain.bind(("127.0.0.1", port))
        in_time_wait = False  # the kernel let it go already: the check below still holds
    except OSError:
        in_time_wait = True  # what made the demo move to a random port before
    finally:
        plain.close()
    assert launch.choose_ports([port]) == [port], f"TIME_WAIT seen: {in_time_wait}"


def test_a_port_something_listens_on_is_given_up() -> None:
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        taken = busy.getsockname()[1]
        first, second = launch.choose_ports([taken, taken])
        assert taken not in (first, second) and first != second
    finally:
        busy.close()


def test_ports_are_chosen_below_the_ephemeral_range() -> None:
    """The OS gives outgoing connections their local port from the ephemeral range: a port
    chosen there may be taken by one while the demo is stopped (as a restart found when the
    tests ran beside other work). Chosen ports lie below it."""
    low = int(launch.EPHEMERAL_RANGE_FILE.read_text().split()[0])
    stable = launch.stable_port_range()
    assert stable.start == launch.STABLE_PORTS_FROM and stable.stop == low
    chosen = launch.choose_ports([None] * 20)
    assert len(set(chosen)) == 20
    assert all(launch.STABLE_PORTS_FROM <= port < low for port in chosen), chosen


def test_with_no_stable_range_the_os_chooses(monkeypatch, tmp_path: Path) -> None:
    for text in ("", "garbage", "1024 60999"):
        ranges = tmp_path / "range"
        ranges.write_text(text)
        monkeypatch.setattr(launch, "EPHEMERAL_RANGE_FILE", ranges)
        assert launch.stable_port_range() == range(0)
        port = launch.free_port()
        listener = socket.socket()
        try:
            listener.bind(("127.0.0.1", port))  # really free
        finally:
            listener.close()


def test_the_ports_of_the_last_start_are_kept_and_reused(tmp_path: Path) -> None:
    defaults = {"public": launch.free_port(), "git": launch.free_port()}
    first = launch.demo_ports(tmp_path, defaults)
    assert first == defaults
    assert json.loads((tmp_path / "ports.json").read_text()) == first
    # Saved ports win over the defaults at the next start.
    saved = {"public": launch.free_port(), "git": launch.free_port()}
    (tmp_path / "ports.json").write_text(json.dumps(saved))
    assert launch.demo_ports(tmp_path, defaults) == saved
    # A saved port something now listens on is replaced, and the new one saved.
    busy = socket.socket()
    busy.bind(("127.0.0.1", saved["git"]))
    busy.listen(1)
    said: list[str] = []
    try:
        moved = launch.demo_ports(tmp_path, defaults, said.append)
    finally:
        busy.close()
    assert moved["public"] == saved["public"] and moved["git"] != saved["git"]
    assert said == [
        f"the git port {saved['git']} of the last start is taken by something else;"
        f" using {moved['git']} (links made for the old address will not open)"
    ]
    assert json.loads((tmp_path / "ports.json").read_text()) == moved


def test_a_ports_file_that_is_not_what_was_saved_falls_back_to_the_defaults(
    tmp_path: Path,
) -> None:
    defaults = {"public": launch.free_port(), "git": launch.free_port()}
    for text in ("not json", "[1, 2]", json.dumps({"public": "8000", "git": 80})):
        (tmp_path / "ports.json").write_text(text)
        assert launch.demo_ports(tmp_path, defaults) == defaults


# A hub as JupyterHub stops its proxy: on SIGTERM it sends the proxy (in a session of its own,
# named by a pid file) SIGTERM, removes the pid file and exits at once; the proxy takes a
# while to go, listening until it does.
PROXY_LIKE = """
import signal, socket, sys, time
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
open(sys.argv[1], "w").write(str(listener.getsockname()[1]))
signal.signal(signal.SIGTERM, lambda *_: (time.sleep(3), sys.exit(0)))
while True:
    time.sleep(1)
"""
HUB_LIKE = """
import os, signal, subprocess, sys, time
pid_file, port_file, proxy_code = sys.argv[1:4]
proxy = subprocess.Popen([sys.executable, "-c", proxy_code, port_file], start_new_session=True)
open(pid_file, "w").write(str(proxy.pid))
def stop(*_):
    proxy.send_signal(signal.SIGTERM)
    os.unlink(pid_file)
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
while True:
    time.sleep(1)
"""


def test_a_stopped_hub_s_proxy_is_gone_when_stop_returns(tmp_path: Path) -> None:
    pid_file, port_file = tmp_path / "proxy.pid", tmp_path / "proxy.port"
    popen = subprocess.Popen(
        [sys.executable, "-c", HUB_LIKE, str(pid_file), str(port_file), PROXY_LIKE],
        start_new_session=True,
    )
    hub = launch.Process("hub", popen, tmp_path / "hub.log", "http://127.0.0.1:1/", (pid_file,))
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    port = int(port_file.read_text())
    proxy = int(pid_file.read_text())
    hub.stop()
    try:  # gone, or a zombie (its sockets closed) waiting for init to reap it
        state = Path(f"/proc/{proxy}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        state = "gone"
    assert state in ("gone", "Z"), f"the proxy still runs ({state})"
    # Its port is free at once: a start right after comes back on it.
    assert launch.choose_ports([port]) == [port]


@pytest.fixture
def default_ports() -> Iterator[None]:
    """The demo's default ports (8000, 8081, ...) are the machine's: a test that starts
    ``campushub demo`` as a person does holds this lock, so that the runs scripts/test.sh
    puts side by side take turns (two demos choosing at the same moment would both take
    8081, each seeing it free)."""
    with open(Path(tempfile.gettempdir()) / "campushub-demo-default-ports.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _start_demo(state: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``campushub demo`` as a person starts it; its banner once it is up."""
    out = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "campushub.cli", "demo", "--state-dir", str(state)],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        start_new_session=True,
        # As from a terminal, where Ctrl-C is not ignored: a run started in the background
        # by a script (scripts/test.sh's second run) ignores SIGINT, and its children would
        # inherit that, and the demo would not stop on it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "Press Ctrl-C to stop everything" in text:
            return process, text
        if process.poll() is not None:
            break
        time.sleep(0.5)
    process.kill()
    raise AssertionError(f"the demo did not start:\n{log.read_text(errors='replace')[-3000:]}")


def _descendants(pid: int) -> list[int]:
    """The processes under ``pid`` (its children, theirs, ...), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat[stat.rfind(")") + 2 :].split()[1])
            parents.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        children = parents.get(queue.pop(), [])
        found += children
        queue += children
    return found


def _stop_demo(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C; it must stop everything it started within the minute (if not, what it started
    is killed too, so that nothing is left holding ports for the tests after)."""
    started = _descendants(process.pid)
    process.send_signal(signal.SIGINT)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        for pid in started + _descendants(process.pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        process.wait(10)
        raise AssertionError("the demo did not stop within 60 s of Ctrl-C") from None


def test_a_restarted_demo_keeps_its_addresses_and_its_links(
    tmp_path: Path, default_ports: None
) -> None:
    state = tmp_path / "demo"
    first, banner = _start_demo(state, tmp_path / "first.log")
    try:
        link = re.search(r"(http://127\.0\.0\.1:\d+/services/links/l/\w+)", banner)
        assert link, banner
        hub = re.search(r"Open  (http://127\.0\.0\.1:\d+)/", banner)[1]
        git = re.search(r"Git server\s+(\S+)", banner)[1]
        idp = re.search(r"Identity provider\s+(\S+)", banner)[1]
        assert requests.get(f"{hub}/hub/health", timeout=10).status_code == 200
    finally:
        _stop_demo(first)
    # At once, while the stopped servers' connections are still in TIME_WAIT.
    second, again = _start_demo(state, tmp_path / "second.log")
    try:
        assert re.search(r"Open  (http://127\.0\.0\.1:\d+)/", again)[1] == hub
        assert re.search(r"Git server\s+(\S+)", again)[1] == git
        assert re.search(r"Identity provider\s+(\S+)", again)[1] == idp
        assert link[1] in again  # the same demo link, and it still leads to the course
        # Followed by someone not signed in: the links service, the hub, then campus sign-on.
        opened = requests.get(link[1], timeout=30)
        assert opened.status_code == 200 and opened.url.startswith(idp), opened.url
        assert any("/services/links/" in step.url for step in opened.history)
        assert requests.get(f"{git}", timeout=10).status_code < 500
    finally:
        _stop_demo(second)
