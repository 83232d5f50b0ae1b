"""A lecture's load on the local campus: 1,000 people sign in and click the course link.

Starts a local campus on 127.0.0.1 in a temporary folder, on free ports: the real identity
provider (oidc-provider-mock), the git server with the demo course, and JupyterHub from the
reference ``jupyterhub_config.py`` with configurable-http-proxy, the local spawner and the
links and scaler services. ines (instructor of data8) makes one link to the demo notebook.
Then ``--people`` data8 students (default 1,000) come, ``--concurrency`` at a time, each with
a browser-like session of their own:

1. signing in: the whole OpenID Connect flow through the proxy to "Your courses";
2. clicking the link: the links service's own sign-in, then ``/services/links/l/<id>``, which
   answers with the hub's spawn page for their data8 server;
3. the first ``--servers`` of them (default 40; see below) go on as the browser would: the
   spawn page (answered 429, "Try again in N seconds", while the hub's concurrent-spawn limit
   is reached, and retried after that many seconds; or, when the hub is too busy to say so
   within the second JupyterHub's spawn handler waits, the pending page, where the refused
   start shows "not running" and its start button, pressed again), waiting for the server,
   nbgitpuller's page and its pull, until the notebook is in their course folder: **link to
   notebook**. The others
   load "Your courses" instead (a person who has not started yet).

Why 40 real servers: each is a local jupyter-server process of this machine's Python,
about 100 MB of memory and 2-4 CPU seconds to start; 40 starting within a minute or two keep
this 2-core machine's hub answering the other 960 people's sign-ins, which is what the run
measures. The memory the servers used is printed. The hub's concurrent-spawn limit is set to
``--spawn-limit`` (default 8, below the 16 people at a time, so its page is met and retried).

Every answer with a status of 500 or more from the hub or a campushub service is an error
(a 503 from the proxy while a service restarts would count too; none is expected). At the
end the hub's and the links service's records are checked against what happened: every
person has an account and the data8 group, the link's opens and people are the clicks made,
and the running servers are those started. All of it is stopped and removed afterwards.

Run from the repository root, with the virtualenv's ``bin`` first on PATH (for
configurable-http-proxy)::

    PATH=$PWD/.venv/bin:$PATH .venv/bin/python benchmarks/campus_load.py [--people 1000]
        [--servers 40] [--concurrency 16] [--spawn-limit 8]

The last line is machine-readable:
``result: people=<n> servers=<n> errors_5xx=<e> p95_login_s=<a> p95_link_to_notebook_s=<b>
consistent=<yes|no>``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
from link_open import add_student, make_links, percentile, start_campus

from campushub.demo import launch
from campushub.demo.login import LoginError, login


@dataclass
class Tally:
    """What every request answered, across all people (thread-safe)."""

    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    retried_429: int = 0
    relaunched: int = 0  # starts refused after the pending page was shown, pressed again
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hook(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code >= 500:
                self.errors.append(
                    f"{response.status_code} {response.request.method} {response.url}"
                )


@dataclass
class Outcome:
    sub: str
    login_s: float | None = None
    notebook_s: float | None = None
    problem: str | None = None


def add_people(idp_url: str, subs: list[str], concurrency: int) -> None:
    """Every person a data8 student in the identity provider, ``concurrency`` at a time."""
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda sub: add_student(idp_url, sub), subs))


def person(
    hub_url: str,
    sub: str,
    link: str,
    start_server: bool,
    admin: requests.Session,
    home_of: Path,
    tally: Tally,
) -> Outcome:
    """One person's lecture: sign in, click the link, and (``start_server``) on to the file."""
    outcome = Outcome(sub)
    session = requests.Session()
    session.trust_env = False
    session.hooks["response"].append(tally.hook)
    try:
        started = time.perf_counter()
        page = login(session, hub_url, sub)
        outcome.login_s = time.perf_counter() - started
        if urllib.parse.urlsplit(page.url).path != "/hub/home":
            outcome.problem = f"{sub}: signed in to {page.url}"
            return outcome
        clicked = time.perf_counter()
        # The click: the service's own sign-in (redirects through the hub), then its answer,
        # the hub's spawn page, which is not followed here.
        answer = session.get(
            f"{hub_url}/services/links/l/{link}", allow_redirects=False, timeout=60
        )
        for _ in range(10):
            spawn = answer.headers.get("Location", "")
            if answer.status_code != 302 or spawn.startswith("/hub/spawn/"):
                break
            answer = session.get(
                urllib.parse.urljoin(f"{hub_url}/", spawn), allow_redirects=False, timeout=60
            )
        spawn = answer.headers.get("Location", "")
        if answer.status_code != 302 or not spawn.startswith(f"/hub/spawn/{sub}/data8?next="):
            outcome.problem = f"{sub}: the link answered {answer.status_code} {spawn}"
            return outcome
        if not start_server:
            home = session.get(f"{hub_url}/hub/home", timeout=60)
            if home.status_code != 200:
                outcome.problem = f"{sub}: home answered {home.status_code}"
            return outcome
        for _ in range(20):
            # The spawn page: 429 "Try again in N seconds" while the concurrent-spawn limit is
            # reached. JupyterHub's spawn handler waits only a second for that check: when the
            # hub is busy, it sends the browser to the pending page first, and the refused
            # start leaves "not running" with a start button there (upstream's behaviour):
            # pressing it is the same request again.
            response = session.get(f"{hub_url}{spawn}", timeout=120)
            if response.status_code == 429:
                with tally.lock:
                    tally.retried_429 += 1
                if "Try again in" not in response.text:
                    outcome.problem = f"{sub}: a 429 that does not say when to retry"
                    return outcome
                time.sleep(float(response.headers.get("Retry-After", "5")))
                continue
            if "/hub/spawn-pending/" not in response.url:
                break
            deadline = time.monotonic() + 180
            state: dict = {}
            while time.monotonic() < deadline:  # what the pending page's script waits for
                model = admin.get(f"{hub_url}/hub/api/users/{sub}", timeout=30).json()
                state = model["servers"].get("data8", {})
                if state.get("ready") or not state:
                    break
                time.sleep(0.5)  # polling interval
            if state.get("ready"):
                response = session.get(response.url, timeout=60)
                break
            with tally.lock:
                tally.relaunched += 1
            time.sleep(2)  # a person reads the page, then presses start
        if urllib.parse.urlsplit(response.url).path != f"/user/{sub}/data8/git-pull":
            outcome.problem = f"{sub}: the spawn ended at {response.url} ({response.status_code})"
            return outcome
        params = dict(urllib.parse.parse_qsl(response.url.partition("?")[2]))
        pull = {key: params[key] for key in ("repo", "branch", "targetpath")}
        stream = session.get(f"{hub_url}/user/{sub}/data8/git-pull/api", params=pull, timeout=180)
        notebook = home_of / sub / "data8" / pull["targetpath"] / "lab01.ipynb"
        if '"phase": "finished"' not in stream.text or not notebook.exists():
            outcome.problem = f"{sub}: the pull did not finish: {stream.text[-300:]}"
            return outcome
        outcome.notebook_s = time.perf_counter() - clicked
    except (LoginError, requests.RequestException, ValueError, KeyError) as error:
        outcome.problem = f"{sub}: {type(error).__name__}: {error}"[:300]
    finally:
        session.close()
    return outcome


def server_memory(state_dir: Path) -> int:
    """Resident memory of the local servers (jupyterhub-singleuser processes), bytes."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes()
            if b"jupyterhub.singleuser" not in command:
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def all_users(hub_url: str, admin: requests.Session, **params: str) -> list[dict]:
    """Every user model the hub's REST API lists (``params`` filter), page by page."""
    found: list[dict] = []
    headers = {"Accept": "application/jupyterhub-pagination+json"}
    while True:
        page = admin.get(
            f"{hub_url}/hub/api/users",
            params={**params, "offset": len(found), "limit": 200},
            headers=headers,
            timeout=60,
        ).json()
        found += page["items"]
        if not page["_pagination"]["next"]:
            return found


def consistent(
    hub_url: str,
    admin: requests.Session,
    subs: list[str],
    servers: list[str],
    link: str,
    clicks: int,
) -> list[str]:
    """What the hub's and the links service's records say, against what was done."""
    problems = []
    names = {user["name"] for user in all_users(hub_url, admin)}
    missing = sorted(set(subs) - names)
    if missing:
        problems.append(f"{len(missing)} people have no account, e.g. {missing[:3]}")
    group = admin.get(f"{hub_url}/hub/api/groups/course:data8", timeout=60).json()
    outside = sorted(set(subs) - set(group.get("users", [])))
    if outside:
        problems.append(f"{len(outside)} people are not in course:data8, e.g. {outside[:3]}")
    running = {
        user["name"]
        for user in all_users(hub_url, admin, state="active")
        if user["servers"].get("data8", {}).get("ready")
    }
    if running != set(servers):
        problems.append(f"running servers {len(running)}, started {len(servers)}")
    made = admin.post(f"{hub_url}/hub/api/users/ines/tokens", json={}, timeout=30).json()
    staff = requests.Session()
    staff.headers["Authorization"] = f"token {made['token']}"
    model = staff.get(f"{hub_url}/services/links/api/links/{link}", timeout=30).json()
    if (model.get("opens"), model.get("people")) != (clicks, clicks):
        problems.append(
            f"the link counts {model.get('opens')} opens by {model.get('people')}, made {clicks}"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--spawn-limit", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the campus's folder (logs)")
    args = parser.parse_args(argv)
    subs = [f"load{index:04d}" for index in range(args.people)]
    starting = set(subs[: args.servers])
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="campushub-campus-load-") as work:
        root = Path(tempfile.mkdtemp(prefix="campushub-campus-load-")) if args.keep else Path(work)
        print(f"starting a local campus in {root} ...", flush=True)
        started, settings, token, idp_url, git_url = start_campus(
            root,
            ("admin:users", "admin:servers", "admin:groups", "tokens", "list:users"),
            {"CAMPUSHUB_CONCURRENT_SPAWN_LIMIT": str(args.spawn_limit)},
        )
        hub_url = settings.public_url
        admin = requests.Session()
        admin.headers["Authorization"] = f"token {token}"
        try:
            login(requests.Session(), hub_url, "ines")
            (link,) = make_links(hub_url, token, git_url + launch.DEMO_REPO_NAME, 1)
            add_people(idp_url, subs, args.concurrency)
            print(
                f"{args.people} people, {args.servers} of them starting servers,"
                f" {args.concurrency} at a time; concurrent-spawn limit {args.spawn_limit} ...",
                flush=True,
            )
            began = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                outcomes = list(
                    pool.map(
                        lambda sub: person(
                            hub_url,
                            sub,
                            link,
                            sub in starting,
                            admin,
                            settings.state_dir / "homes",
                            tally,
                        ),
                        # The server starters among the first comers, as at a lecture's start.
                        sorted(subs, key=lambda sub: (sub not in starting, sub)),
                    )
                )
            wall = time.perf_counter() - began
            memory = server_memory(settings.state_dir)
            problems = [o.problem for o in outcomes if o.problem]
            clicks = sum(
                1
                for o in outcomes
                if o.login_s is not None and (o.problem is None or "the link" not in o.problem)
            )
            servers = [o.sub for o in outcomes if o.notebook_s is not None]
            inconsistent = consistent(hub_url, admin, subs, servers, link, clicks)
        finally:
            for process in reversed(started):
                process.stop()
    logins = [o.login_s for o in outcomes if o.login_s is not None]
    notebooks = [o.notebook_s for o in outcomes if o.notebook_s is not None]
    p95_login = percentile(logins, 0.95) if logins else float("nan")
    p95_notebook = percentile(notebooks, 0.95) if notebooks else float("nan")
    print(f"wall      {wall:.0f} s for {args.people} people ({args.people / wall:.1f} per s)")
    print(
        f"sign-in   p50 {percentile(logins, 0.5):.2f} s, p95 {p95_login:.2f} s,"
        f" max {max(logins):.2f} s ({len(logins)} signed in)"
    )
    if notebooks:
        print(
            f"notebook  link to notebook p50 {percentile(notebooks, 0.5):.1f} s, p95"
            f" {p95_notebook:.1f} s ({len(notebooks)} servers started; {tally.retried_429}"
            f" spawn pages answered 429 'Try again' and retried; {tally.relaunched} refused"
            " behind the pending page and started again)"
        )
    print(f"memory    the {len(notebooks)} local servers: {memory / 2**20:.0f} MiB resident")
    print(f"answers   {dict(sorted(tally.statuses.items()))}")
    for problem in problems[:10]:
        print(f"problem   {problem}")
    for error in tally.errors[:10]:
        print(f"5xx       {error}")
    for problem in inconsistent:
        print(f"records   {problem}")
    print(f"python    {sys.version.split()[0]}")
    print(
        f"reproduce {shlex.join(['python', 'benchmarks/campus_load.py', *(argv or sys.argv[1:])])}"
    )
    print(
        f"result: people={args.people} servers={len(notebooks)} errors_5xx={len(tally.errors)}"
        f" p95_login_s={p95_login:.2f} p95_link_to_notebook_s={p95_notebook:.1f}"
        f" consistent={'no' if inconsistent or problems else 'yes'}"
    )
    return 0 if not (tally.errors or inconsistent or problems) else 1


if __name__ == "__main__":
    sys.exit(main())
