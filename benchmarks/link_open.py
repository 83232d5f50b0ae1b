"""How fast the links service opens a link, and how long a click takes to bring the file.

Starts a local campus on 127.0.0.1 (the real identity provider, git server, and JupyterHub
from the reference ``jupyterhub_config.py`` with configurable-http-proxy, the local spawner
and the links service the hub starts), in a temporary folder, on free ports. Then:

1. ines (instructor of data8) makes ``--links`` links to the demo notebook through the JSON API;
2. ``--students`` students of data8 are added to the identity provider and log in (the whole
   OpenID Connect flow, then the service's own hub login);
3. they open existing links ``--opens`` times in all, ``--concurrency`` at a time, each open
   one ``GET /services/links/l/<id>`` through the proxy, answered with a redirect to the hub's
   spawn page. The figures are the **service's own** time per open (from its access log,
   tornado's request time), with the round trip through the proxy beside them;
4. one more student, whose course server has never started, "clicks" a link: the time from
   that request to the notebook being on disk in their course folder, following what the
   browser does (the spawn page, waiting for the server, nbgitpuller's page and its pull).

Run from the repository root, with the virtualenv's ``bin`` first on PATH (for
configurable-http-proxy)::

    PATH=$PWD/.venv/bin:$PATH .venv/bin/python benchmarks/link_open.py [--opens 500]
        [--students 20] [--links 5] [--concurrency 8]

The goal (the issue's Speed section) is p95 <= 20 ms for the service's own time. The last line
is machine-readable: ``result: opens=<n> p50_ms=<x> p95_ms=<y> click_to_file_s=<z>``.
"""

from __future__ import annotations

import argparse
import re
import secrets
import shlex
import statistics
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from campushub.demo import launch
from campushub.demo.login import login

GOAL_P95_MS = 20.0
DATA8_KEY = "1524699"
BENCH_SERVICE = "link-open-benchmark"
ACCESS_LINE = re.compile(r"\[tornado\.access\] (\d{3}) GET /services/links/l/\w+ ([\d.]+)ms")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def start_campus(
    root: Path,
    scopes: tuple[str, ...] = ("admin:users", "admin:servers", "tokens"),
    extra_env: dict[str, str] | None = None,
) -> tuple[list[launch.Process], launch.HubSettings, str, str, str]:
    """Identity provider, git server and hub (its benchmark service holding ``scopes``, more
    CAMPUSHUB_* variables in ``extra_env``); returns them, the settings, the hub's admin
    token for this benchmark, the identity provider's and the git server's URLs."""
    logs = root / "logs"
    started: list[launch.Process] = []
    try:
        return _start_campus(root, scopes, extra_env, logs, started)
    except BaseException:
        for process in reversed(started):  # what did start, stopped: nothing left behind
            process.stop()
        raise


def _start_campus(
    root: Path,
    scopes: tuple[str, ...],
    extra_env: dict[str, str] | None,
    logs: Path,
    started: list[launch.Process],
) -> tuple[list[launch.Process], launch.HubSettings, str, str, str]:
    launch.make_course_repo(root / "git")
    git = launch.start_git_server(launch.free_port(), root / "git", logs)
    started.append(git)
    idp = launch.start_identity_provider(launch.free_port(), launch.demo_people(), logs)
    started.append(idp)
    catalog = launch.write_catalog(root / "courses.yaml", git.url)
    token = secrets.token_hex(24)
    config = launch.write_hub_config(
        root / "jupyterhub_config.py",
        BENCH_SERVICE,
        token,
        list(scopes),
    )
    public_port, hub_port, proxy_api_port = launch.free_ports(3)
    settings = launch.HubSettings(
        state_dir=root / "hub",
        catalog=catalog,
        issuer=idp.url,
        public_port=public_port,
        hub_port=hub_port,
        proxy_api_port=proxy_api_port,
        extra_env=dict(extra_env or {}),
    )
    started.append(launch.start_hub(settings, logs, config=config))
    return started, settings, token, idp.url, git.url


def add_student(idp_url: str, sub: str) -> None:
    claims = {
        "sub": sub,
        "preferred_username": sub,
        "name": sub,
        "email": f"{sub}@campus.example.edu",
        "email_verified": True,
        "groups": [f"course::{DATA8_KEY}::enrollment_type::student"],
    }
    requests.put(f"{idp_url}/users/{sub}", json=claims, timeout=10).raise_for_status()


def logged_in(hub_url: str, sub: str) -> requests.Session:
    """A session logged in to the hub and to the links service."""
    session = requests.Session()
    login(session, hub_url, sub)
    session.get(f"{hub_url}/services/links/", timeout=30)  # the service's own hub login
    return session


def make_links(hub_url: str, admin_token: str, repo: str, count: int) -> list[str]:
    headers = {"Authorization": f"token {admin_token}"}
    made = requests.post(
        f"{hub_url}/hub/api/users/ines/tokens", headers=headers, json={}, timeout=30
    )
    made.raise_for_status()
    api = requests.Session()
    api.headers["Authorization"] = f"token {made.json()['token']}"
    ids = []
    for index in range(count):
        body = {
            "course": "data8",
            "repo": repo,
            "branch": "main",
            "path": "lab01.ipynb" if index % 2 == 0 else "README.md",
            "app": "lab" if index % 2 == 0 else "notebook",
        }
        response = api.post(f"{hub_url}/services/links/api/links", json=body, timeout=60)
        response.raise_for_status()
        ids.append(response.json()["id"])
    return ids


def click_to_file(hub_url: str, settings: launch.HubSettings, admin_token: str, link: str) -> float:
    """Seconds from opening ``link`` (already logged in) to its notebook on disk, for a
    student whose course server has never started."""
    session = logged_in(hub_url, "clicker")
    notebook = settings.state_dir / "homes" / "clicker" / "data8" / "course-materials"
    notebook = notebook / "lab01.ipynb"
    started = time.monotonic()
    response = session.get(f"{hub_url}/services/links/l/{link}", timeout=120)
    if "/hub/spawn-pending/" in response.url:
        headers = {"Authorization": f"token {admin_token}"}
        while True:  # what the pending page's script waits for
            model = requests.get(
                f"{hub_url}/hub/api/users/clicker", headers=headers, timeout=30
            ).json()
            if model["servers"].get("data8", {}).get("ready"):
                break
            time.sleep(0.1)  # polling interval
        response = session.get(response.url, timeout=60)
    response.raise_for_status()
    params = dict(urllib.parse.parse_qsl(response.url.partition("?")[2]))
    pull = {key: params[key] for key in ("repo", "branch", "targetpath")}
    stream = session.get(f"{hub_url}/user/clicker/data8/git-pull/api", params=pull, timeout=120)
    if '"phase": "finished"' not in stream.text or not notebook.exists():
        raise RuntimeError(f"the pull did not finish: {stream.text[-500:]}")
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--opens", type=int, default=500)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--links", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="campushub-link-open-") as work:
        root = Path(work)
        print(f"starting a local campus in {root} ...", flush=True)
        started, settings, token, idp_url, git_url = start_campus(root)
        hub = started[-1]
        try:
            hub_url = settings.public_url
            logged_in(hub_url, "ines")  # the hub knows her, and her courses, once she logs in
            links = make_links(hub_url, token, git_url + launch.DEMO_REPO_NAME, args.links)
            students = [f"bench{index:03d}" for index in range(args.students)]
            for sub in [*students, "clicker"]:
                add_student(idp_url, sub)
            sessions = [logged_in(hub_url, sub) for sub in students]
            print(
                f"{len(links)} links, {len(sessions)} students logged in; {args.opens} opens,"
                f" {args.concurrency} at a time ...",
                flush=True,
            )
            log_offset = hub.log_path.stat().st_size

            def open_one(index: int) -> tuple[int, float]:
                session = sessions[index % len(sessions)]
                link = links[index % len(links)]
                before = time.perf_counter()
                response = session.get(
                    f"{hub_url}/services/links/l/{link}", allow_redirects=False, timeout=30
                )
                elapsed = time.perf_counter() - before
                ok = response.status_code == 302 and response.headers["Location"].startswith(
                    "/hub/spawn/"
                )
                return (0 if ok else 1), elapsed * 1000

            wall = time.monotonic()
            with ThreadPoolExecutor(args.concurrency) as pool:
                results = list(pool.map(open_one, range(args.opens)))
            wall = time.monotonic() - wall
            failures = sum(failed for failed, _ in results)
            round_trips = [ms for _, ms in results]
            time.sleep(0.5)  # let the hub's log catch up with the service's output
            with hub.log_path.open("rb") as log:
                log.seek(log_offset)
                text = log.read().decode("utf-8", "replace")
            service_ms = [float(ms) for status, ms in ACCESS_LINE.findall(text) if status == "302"]

            print("measuring click to file for a student whose server never started ...")
            click_s = click_to_file(hub_url, settings, token, links[0])
        finally:
            for process in reversed(started):
                process.stop()

    if len(service_ms) != args.opens - failures:
        print(
            f"warning: {len(service_ms)} opens in the service's log for"
            f" {args.opens - failures} answered"
        )
    p50, p95 = percentile(service_ms, 0.50), percentile(service_ms, 0.95)
    print()
    print(f"opens              {args.opens} ({failures} failed) in {wall:.1f} s")
    print(
        f"service's own time p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(service_ms):.1f} ms"
        f" (goal: p95 <= {GOAL_P95_MS:.0f} ms: {'met' if p95 <= GOAL_P95_MS else 'NOT met'})"
    )
    print(
        f"through the proxy  p50 {statistics.median(round_trips):.1f} ms,"
        f" p95 {percentile(round_trips, 0.95):.1f} ms"
    )
    print(f"click to file      {click_s:.1f} s (course server started, repository pulled)")
    print(
        "reproduce with:    PATH=$PWD/.venv/bin:$PATH .venv/bin/python benchmarks/link_open.py "
        + shlex.join(argv if argv is not None else sys.argv[1:])
    )
    print(
        f"result: opens={args.opens} p50_ms={p50:.1f} p95_ms={p95:.1f}"
        f" click_to_file_s={click_s:.1f}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
