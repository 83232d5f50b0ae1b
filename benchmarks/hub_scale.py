"""One hub at campus size: campushub's configuration against stock JupyterHub, side by side.

Builds a hub database as a term of sign-ins leaves it for 11,000 people in 2,000 courses
(``--people``, ``--courses``), once per hub:

- people: about 1,200 instructors (1.7 courses each), 1,800 graduate students who TA one or
  two courses and take one or two, and undergraduates taking three to six courses; course
  sizes fall off as on a real campus (the largest about 1,500 students, with 38 TAs);
- both hubs: every person, the course groups campushub's authenticator gives them
  (``course:<slug>`` and ``course:<slug>:<role>s``), a stopped named server for each of their
  courses, and the ``user`` role;
- **campushub** adds what its access design keeps (all made by campushub's own functions): the
  per-course staff roles of ``staff_roles``, assigned as ``user_roles`` says, each holding the
  course's roster and one ``access:servers!server=`` scope per course server its holders reach
  (``reach_scopes``): the TA role of the largest course holds about 1,500.

Then, for ``--rounds`` rounds, starts each hub on its database ``--starts`` times, the two
taking turns (A B B A ...; which goes first alternates between rounds), each start alone on
the machine: the time until its API answers through configurable-http-proxy, which like
zero-to-jupyterhub's sends what has no route yet to the hub; the time until the hub says it
runs, its services started; and its resident memory. (A hub left running beside the other's
start was not idle: campushub's services read every person from the hub as they start.)
Then it starts both once more, and makes the requests of a lecture as sampled people to
both hubs **side by side**: each
request to one hub, then the same to the other (which goes first alternates), so that what
else the machine does in a moment (this machine's latency tails moved the p95 ratios by a
quarter between runs made one hub after the other) falls on both alike:

- ``login``: a sign-in through the identity provider (oidc-provider-mock), wall time and the
  hub's CPU;
- ``home``: the home page with the session of that sign-in (campushub's "Your courses";
  stock's server list);
- ``model``: the person's own model from the REST API (``GET /hub/api/users/<name>``);
- ``access``: the check a server makes when someone opens it (``GET /hub/api/user`` with a
  token limited to ``access:servers!server=<owner>/<course>``): students opening their own
  course server, and TAs and instructors of the largest course opening one of its students'
  servers (campushub grants it through the course role; stock has no such grant, so there
  the same people open their own course server);
- ``spawn``: start a student's course server through the API, wait until it is ready, stop it.

Latency is measured at the client (through the proxy); hub CPU per request from the hub
process's own user and system time around each batch (the other hub's work is its own), so
other load on the machine does not count. The hubs use the same spawner base (JupyterHub's
``SimpleLocalProcessSpawner``), the same identity provider and encrypted auth_state; both
run the idle culler (zero-to-jupyterhub's default), and campushub also its links and scaler
services, as in production. Refreshing sign-ins is off in both (``auth_refresh_age = 0``);
the sampled people sign in once per round through the real identity provider (``login``:
the whole OpenID Connect flow, which for campushub includes the reach of their course
servers), and their sessions load the home page.

Run from the repository root (the virtualenv's ``bin`` first on PATH, for
configurable-http-proxy); ``.venv-chart/bin/python`` measures zero-to-jupyterhub's versions::

    PATH=$PWD/.venv/bin:$PATH .venv/bin/python benchmarks/hub_scale.py [--rounds 2]
        [--starts 3] [--people 11000] [--courses 2000] [--db sqlite|postgresql] [--quick]

``--quick`` is 1,100 people in 200 courses. ``--db postgresql`` starts a throwaway PostgreSQL
server (Debian's ``postgresql`` package, as the test command installs it; run as its
``postgres`` account when root; ``fsync`` off, as a benchmark's scratch server) and puts each
hub's database on it, and campushub's links and scaler services' too, as a production campus
on PostgreSQL runs them; the default is SQLite files, zero-to-jupyterhub's default. The last
line is machine-readable:
``result: users=<n> courses=<c> startup_ratio=<x> memory_ratio=<y> request_p95_ratio=<z>``,
each campushub over stock: start-up by the median start, memory by the resident memory after
the requests, requests by the largest ratio of p95 latencies over the request kinds.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from stock_oauth import generic_oauth_lines

from campushub.demo import launch
from campushub.demo.login import LoginError, login

GOAL_RATIO = 1.2
QUICK = {"people": 1100, "courses": 200}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
KINDS = ("login", "home", "model", "access", "spawn")
# The claim values campushub reads (the demo's Berkeley-style pattern) for each member role.
CLAIM_ROLE = {"student": "student", "ta": "ta", "instructor": "teacher"}


# -- the campus ----------------------------------------------------------------------------------


@dataclass
class Campus:
    courses: list[str]
    memberships: dict[str, dict[str, str]]  # person -> {course: role}

    def members(self, course: str, role: str) -> list[str]:
        return sorted(p for p, m in self.memberships.items() if m.get(course) == role)


def make_campus(people: int, courses: int, seed: int) -> Campus:
    """A campus of ``people`` in ``courses`` (see the module's docstring)."""
    rng = random.Random(seed)
    slugs = [f"c{index:04d}" for index in range(courses)]
    scale = people / 11000
    # Relative sizes: the largest course ~1,500 at full size, a long tail of small ones.
    weights = [9 + 1500 * (rank + 1) ** -0.8 for rank in range(courses)]
    names = [f"u{index:05d}" for index in range(people)]
    instructors = names[: max(1, round(people * 1200 / 11000))]
    tas = names[len(instructors) : len(instructors) + max(1, round(people * 1800 / 11000))]
    undergraduates = names[len(instructors) + len(tas) :]
    memberships: dict[str, dict[str, str]] = {name: {} for name in names}
    cumulative = []
    total = 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)

    def take(person: str, count: int) -> None:
        while len([r for r in memberships[person].values() if r == "student"]) < count:
            course = rng.choices(slugs, cum_weights=cumulative)[0]
            memberships[person].setdefault(course, "student")

    for person in undergraduates:
        take(person, rng.choice((3, 4, 4, 5, 5, 6)))
    for person in tas:
        take(person, rng.choice((1, 2)))
    teaching = list(instructors)
    rng.shuffle(teaching)
    instructor_cycle = 0
    for course in slugs:
        students = sum(1 for m in memberships.values() if m.get(course) == "student")
        for _ in range(2 if students > 300 * scale else 1):
            person = teaching[instructor_cycle % len(teaching)]
            instructor_cycle += 1
            memberships[person][course] = "instructor"
        wanted = math.ceil(students / 40)
        for person in rng.sample(tas, min(len(tas), wanted * 2)):
            if wanted == 0:
                break
            if course not in memberships[person]:
                memberships[person][course] = "ta"
                wanted -= 1
    return Campus(slugs, memberships)


def course_key(campus: Campus, slug: str) -> str:
    return str(1_000_000 + campus.courses.index(slug))


def person_claims(campus: Campus, name: str) -> dict[str, Any]:
    """What the identity provider says of ``name``: campushub reads ``groups`` (memberships
    as Berkeley sends them), stock's ``manage_groups`` reads ``hub_groups`` (the same
    memberships as the hub's group names)."""
    from campushub.memberships import course_groups

    memberships = campus.memberships[name]
    return {
        "sub": name,
        "preferred_username": name,
        "name": f"Person {name}",
        "email": f"{name}@campus.example.edu",
        "email_verified": True,
        "groups": [
            f"course::{course_key(campus, slug)}::enrollment_type::{CLAIM_ROLE[role]}"
            for slug, role in sorted(memberships.items())
        ],
        "hub_groups": sorted(course_groups(memberships)),
    }


def write_catalog(path: Path, campus: Campus) -> Path:
    """The demo catalog's term, images and pool, with the campus's courses."""
    demo = yaml.safe_load(launch.DEMO_CATALOG.read_text())
    demo["pools"]["standard"]["max"] = 2000
    demo["courses"] = {
        slug: {"title": f"Course {slug}", "keys": [course_key(campus, slug)]}
        for slug in campus.courses
    }
    path.write_text(yaml.safe_dump(demo, sort_keys=False))
    return path


# -- the databases -------------------------------------------------------------------------------


@dataclass
class Tokens:
    """API tokens of the sampled people, by purpose."""

    inherit: dict[str, str] = field(default_factory=dict)  # person -> full token
    access: list[tuple[str, str, str]] = field(default_factory=list)
    # (persona, owner/server, a token limited to opening that server)
    spawns: list[tuple[str, str, str]] = field(default_factory=list)  # (person, course, token)


def sample_people(campus: Campus, rng: random.Random, count: int) -> dict[str, list[str]]:
    largest = campus.courses[0]
    students = [p for p, m in campus.memberships.items() if "instructor" not in m.values()]
    return {
        "student": rng.sample(sorted(students), count),
        "ta": campus.members(largest, "ta")[:count],
        "instructor": campus.members(largest, "instructor"),
    }


def build_database(
    db_url: str, campus: Campus, catalog_path: Path, kind: str, seed: int, samples: int
) -> Tokens:
    """Write the database a term of sign-ins leaves (see the module's docstring)."""
    from jupyterhub import orm
    from jupyterhub.roles import get_default_roles

    from campushub.catalog import load_catalog
    from campushub.memberships import course_groups, staff_roles, user_roles
    from campushub.reach import reach_scopes

    db = orm.new_session_factory(db_url)()
    catalog = load_catalog(catalog_path)
    groups: dict[str, Any] = {}
    users: dict[str, Any] = {}
    for name, memberships in campus.memberships.items():
        user = orm.User(name=name)
        users[name] = user
        db.add(user)
        for group_name in sorted(course_groups(memberships)):
            if group_name not in groups:
                groups[group_name] = orm.Group(name=group_name)
                db.add(groups[group_name])
            user.groups.append(groups[group_name])
        for course in memberships:
            db.add(orm.Spawner(user=user, name=course))
    db.commit()
    user_role_spec = {r["name"]: r for r in get_default_roles()}["user"]
    roles = {
        "user": orm.Role(
            name="user",
            description=user_role_spec["description"],
            scopes=list(user_role_spec["scopes"]),
            managed_by_auth=kind == "campushub",
        )
    }
    if kind == "campushub":
        # The reference configuration's user_scopes: the user role's, and both services.
        roles["user"].scopes = [*user_role_spec["scopes"], "access:services!service=links",
                                "access:services!service=scaler"]  # fmt: skip
        # The staff roles as the hub's start makes them: rosters and the servers they reach.
        reach = reach_scopes(db, catalog.courses)
        for spec in staff_roles(catalog, reach):
            roles[spec["name"]] = orm.Role(
                name=spec["name"],
                description=spec["description"],
                scopes=spec["scopes"],
                managed_by_auth=True,
            )
    db.add_all(roles.values())
    for name, memberships in campus.memberships.items():
        names = user_roles(memberships) if kind == "campushub" else ["user"]
        users[name].roles = [roles[role] for role in names]
    db.commit()
    if db.query(orm.OAuthClient).filter_by(identifier="jupyterhub").one_or_none() is None:
        # Tokens name the hub's own OAuth client, which the hub updates when it starts.
        db.add(orm.OAuthClient(identifier="jupyterhub"))
        db.commit()
    tokens = Tokens()
    rng = random.Random(seed)
    sampled = sample_people(campus, rng, samples)
    for people in sampled.values():
        for name in people:
            tokens.inherit[name] = orm.APIToken.new(user=users[name], note="hub_scale")
    largest = campus.courses[0]
    class_students = campus.members(largest, "student")
    for persona, people in sampled.items():
        for name in people:
            if persona == "student" or kind == "stock":
                # Stock grants staff nothing of their students': they open their own.
                course = largest if persona != "student" else sorted(campus.memberships[name])[0]
                server = f"{name}/{course}"
            else:
                server = f"{rng.choice(class_students)}/{largest}"
            scopes = [f"access:servers!server={server}"]
            # JupyterHub refuses a token scope its owner does not hold: campushub's staff hold
            # these through their course roles.
            token = orm.APIToken.new(user=users[name], scopes=scopes, note="hub_scale access")
            tokens.access.append((persona, server, token))
    for name in sampled["student"][: max(1, samples // 4)]:
        course = sorted(c for c, r in campus.memberships[name].items() if r == "student")[0]
        tokens.spawns.append((name, course, tokens.inherit[name]))
    db.commit()
    db.close()
    return tokens


# -- measuring a hub -----------------------------------------------------------------------------


def own_cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` itself (not its children)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def resident_mb(pid: int) -> float:
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return pages * PAGE_SIZE / 2**20


@dataclass
class Batch:
    latencies: list[float] = field(default_factory=list)  # seconds
    cpu: float = 0.0  # hub CPU seconds for the whole batch
    failures: list[str] = field(default_factory=list)

    def add(self, other: Batch) -> None:
        self.latencies += other.latencies
        self.cpu += other.cpu
        self.failures += other.failures

    def p(self, percent: int) -> float:
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, math.ceil(percent / 100 * len(ordered)) - 1)]

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu / max(1, len(self.latencies))


@dataclass
class HubResult:
    starts: list[float] = field(default_factory=list)  # until the hub answered
    running: list[float] = field(default_factory=list)  # until it said it runs (services up)
    memory_started: list[float] = field(default_factory=list)
    memory_after: list[float] = field(default_factory=list)
    batches: dict[str, Batch] = field(default_factory=lambda: {k: Batch() for k in KINDS})


def session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # loopback, whatever proxy the environment names
    return s


# A request of the lecture: it returns its latency (seconds) and what went wrong, if anything.
Call = Callable[[], tuple[float, str | None]]


def timed(run: Callable[[], str | None]) -> Call:
    def call() -> tuple[float, str | None]:
        start = time.perf_counter()
        problem = run()
        return time.perf_counter() - start, problem

    return call


def lecture_calls(url: str, tokens: Tokens, repeats: int) -> dict[str, list[Call]]:
    """The requests of a lecture to the hub at ``url``, by kind, in the order they are made
    (each person's sign-in once, then ``repeats`` rounds of home pages, models and access
    checks, then the spawns)."""
    http = session()

    def get(path: str, token: str, check: Callable[[requests.Response], str | None]):
        def call() -> str | None:
            response = http.get(url + path, headers={"Authorization": f"token {token}"})
            if response.status_code != 200:
                return f"GET {path}: HTTP {response.status_code}"
            return check(response)

        return call

    def model_of(name: str) -> Callable[[requests.Response], str | None]:
        return lambda r: None if r.json().get("name") == name else f"model: not {name}'s"

    def access_check(server: str) -> Callable[[requests.Response], str | None]:
        scope = f"access:servers!server={server}"

        def check(response: requests.Response) -> str | None:
            granted = scope in response.json().get("scopes", [])
            return None if granted else f"access to {server}: not granted"

        return check

    inherit = sorted(tokens.inherit.items())
    sessions: dict[str, requests.Session] = {}

    def sign_in(name: str) -> Callable[[], str | None]:
        def call() -> str | None:
            sessions[name] = session()
            try:
                page = login(sessions[name], url, name)
            except LoginError as error:
                return f"login {name}: {error}"
            return None if page.url.endswith("/hub/home") else f"login {name}: at {page.url}"

        return call

    def home(name: str) -> Callable[[], str | None]:
        def call() -> str | None:
            page = sessions[name].get(f"{url}/hub/home")
            if page.status_code != 200 or not page.url.endswith("/hub/home"):
                return f"home of {name}: HTTP {page.status_code} at {page.url}"
            return None if name in page.text else f"home of {name}: does not name them"

        return call

    return {
        "login": [timed(sign_in(n)) for n, _ in inherit],
        "home": [timed(home(n)) for n, _ in inherit] * repeats,
        "model": [timed(get(f"/hub/api/users/{n}", t, model_of(n))) for n, t in inherit] * repeats,
        "access": [timed(get("/hub/api/user", t, access_check(s))) for _, s, t in tokens.access]
        * repeats,
        "spawn": [spawn_call(http, url, *spawn) for spawn in tokens.spawns],
    }


def side_by_side(hubs: dict[str, tuple[int, dict[str, list[Call]]]]) -> dict[str, dict[str, Batch]]:
    """Each kind of request made to every hub in turn, one request at a time (the first hub
    first, then the other first, alternately), so that whatever else the machine does in a
    moment falls on both; each hub's CPU is its own over the whole batch. ``hubs``: label ->
    (the hub's pid, its calls by kind)."""
    found: dict[str, dict[str, Batch]] = {label: {} for label in hubs}
    labels = list(hubs)
    for kind in KINDS:
        batches = {label: Batch() for label in labels}
        before = {label: own_cpu_seconds(pid) for label, (pid, _) in hubs.items()}
        count = max(len(calls[kind]) for _, calls in hubs.values())
        for index in range(count):
            for label in labels if index % 2 == 0 else labels[::-1]:
                calls = hubs[label][1][kind]
                if index < len(calls):
                    latency, problem = calls[index]()
                    batches[label].latencies.append(latency)
                    if problem:
                        batches[label].failures.append(problem)
        for label, (pid, _) in hubs.items():
            batches[label].cpu = own_cpu_seconds(pid) - before[label]
            found[label][kind] = batches[label]
    return found


def spawn_call(http: requests.Session, url: str, name: str, course: str, token: str) -> Call:
    """Start the server through the API and wait until it is ready (the latency), then stop
    it and wait until it is stopped (in the hub's CPU, not in the latency)."""

    def call() -> tuple[float, str | None]:
        headers = {"Authorization": f"token {token}"}
        api = f"{url}/hub/api/users/{name}/servers/{course}"
        start = time.perf_counter()
        response = http.post(api, headers=headers, json={})
        problem = None
        if response.status_code not in (201, 202):
            problem = f"spawn {name}/{course}: HTTP {response.status_code} {response.text[:200]}"
        else:
            problem = wait_for(http, url, name, course, headers, ready=True)
        latency = time.perf_counter() - start
        stop = http.delete(api, headers=headers)
        if stop.status_code not in (202, 204):
            problem = problem or f"stop {name}/{course}: HTTP {stop.status_code}"
        problem = problem or wait_for(http, url, name, course, headers, ready=False)
        return latency, problem

    return call


def wait_for(
    http: requests.Session, url: str, name: str, course: str, headers: dict[str, str], ready: bool
) -> str | None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        model = http.get(f"{url}/hub/api/users/{name}", headers=headers).json()
        server = (model.get("servers") or {}).get(course)
        if ready and server and server.get("ready"):
            return None
        if not ready and not server:
            return None
        time.sleep(0.05)
    return f"{name}/{course} not {'ready' if ready else 'stopped'} within 120 s"


# -- the two hubs --------------------------------------------------------------------------------


def stock_config(settings: launch.HubSettings, discovery: dict[str, Any], db_url: str) -> str:
    """Stock JupyterHub for the same people: GenericOAuthenticator with the same provider and
    encrypted auth_state, named servers with JupyterHub's SimpleLocalProcessSpawner, no
    services; the same addresses and state folder as the reference configuration uses."""
    state = settings.state_dir.resolve()
    config = textwrap.dedent(
        f"""
        import os
        c.JupyterHub.bind_url = {settings.public_url!r}
        c.JupyterHub.hub_ip = "127.0.0.1"
        c.JupyterHub.hub_port = {settings.hub_port}
        c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{settings.proxy_api_port}"
        c.ConfigurableHTTPProxy.pid_file = {str(state / "jupyterhub-proxy.pid")!r}
        # as zero-to-jupyterhub runs the proxy (and the reference configuration)
        c.ConfigurableHTTPProxy.command = [
            "configurable-http-proxy", "--default-target=http://127.0.0.1:{settings.hub_port}"
        ]
        c.JupyterHub.pid_file = {str(state / "jupyterhub.pid")!r}
        c.JupyterHub.db_url = {db_url!r}
        c.JupyterHub.cookie_secret_file = {str(state / "jupyterhub_cookie_secret")!r}
        #GENERIC_OAUTH
        c.GenericOAuthenticator.username_claim = "sub"
        c.GenericOAuthenticator.manage_groups = True
        c.GenericOAuthenticator.auth_state_groups_key = "oauth_user.hub_groups"
        c.GenericOAuthenticator.allow_all = True
        c.GenericOAuthenticator.enable_auth_state = True
        c.GenericOAuthenticator.auth_refresh_age = 0
        c.JupyterHub.allow_named_servers = True
        c.JupyterHub.named_server_limit_per_user = 8
        c.JupyterHub.spawner_class = "simple"
        c.Spawner.start_timeout = 120
        c.Spawner.http_timeout = 60
        c.Spawner.default_url = "/lab"
        c.Spawner.cmd = [{sys.executable!r}, "-m", "jupyterhub.singleuser"]
        c.SimpleLocalProcessSpawner.home_dir_template = {str(state / "homes" / "{username}")!r}
        if os.geteuid() == 0:
            c.Spawner.args = ["--allow-root"]
        # zero-to-jupyterhub's idle culler, with the chart's defaults (cull.timeout 3600,
        # cull.every 600, concurrency 10) and its role.
        c.JupyterHub.services = [{{
            "name": "idle-culler",
            "command": [{sys.executable!r}, "-m", "jupyterhub_idle_culler",
                        "--timeout=3600", "--cull-every=600", "--concurrency=10"],
        }}]
        c.JupyterHub.load_roles = [{{
            "name": "idle-culler",
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
            "services": ["idle-culler"],
        }}]
        """
    )
    return config.replace("#GENERIC_OAUTH", generic_oauth_lines(settings, discovery))


def hub_settings(work_dir: Path, label: str, catalog: Path, idp: launch.Process):
    public_port, hub_port, proxy_api_port = launch.free_ports(3)
    return launch.HubSettings(
        state_dir=work_dir / label / "state",
        catalog=catalog,
        issuer=idp.url,
        public_port=public_port,
        hub_port=hub_port,
        proxy_api_port=proxy_api_port,
        auth_refresh_age=0,
    )


@dataclass
class WarmUp:
    """The first start of each hub on its database, as on the day it was deployed."""

    seconds: float = 0.0  # until the hub answered
    running: float = 0.0  # until it said it runs (its services up)
    settled: float = 0.0  # until campushub's scaler had read enrollment once (else 0)
    hub_cpu: float = 0.0  # the hub's CPU seconds in all, start and settling


def warm_up(
    label: str, settings: launch.HubSettings, config: Path | None, timeout: float
) -> WarmUp:
    """Start the hub once and, for campushub, wait until its scaler has read enrollment from
    the hub and kept it (``enrollment.json`` in its state folder): the state every later start
    of a running campus begins from (the read is repeated every 6 hours, not at each start)."""
    print(f"{label}: first start ...", file=sys.stderr, flush=True)
    log_dir = settings.state_dir.parent / "logs"
    began = time.perf_counter()
    hub = launch.start_hub(settings, log_dir, config=config, timeout=600, services=False)
    result = WarmUp(seconds=time.perf_counter() - began)
    try:
        launch.wait_for_log(hub, launch.HUB_RUNNING, 600)
        result.running = time.perf_counter() - began
        if label == "campushub":
            from campushub.services.scaler.state import open_state

            saved = open_state(
                settings.state_dir / "scaler", settings.extra_env.get("CAMPUSHUB_SCALER_DB_URL", "")
            )
            deadline = time.monotonic() + timeout
            while saved.read("enrollment") is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{label}: the scaler did not read enrollment in time")
                time.sleep(0.5)  # polling interval
            result.settled = time.perf_counter() - began
        result.hub_cpu = own_cpu_seconds(hub.popen.pid)
    finally:
        hub.stop()
    return result


def start_measured(
    label: str, settings: launch.HubSettings, config: Path | None, result: HubResult, index: int
) -> launch.Process:
    """Start the hub and record how long it took and its memory once started."""
    print(f"{label}: start {index + 1} ...", file=sys.stderr, flush=True)
    log_dir = settings.state_dir.parent / "logs"
    began = time.perf_counter()
    hub = launch.start_hub(settings, log_dir, config=config, timeout=600, services=False)
    result.starts.append(time.perf_counter() - began)
    try:
        launch.wait_for_log(hub, launch.HUB_RUNNING, 600)
        result.running.append(time.perf_counter() - began)
        time.sleep(2)  # the start's own work settles (services, first proxy check)
        result.memory_started.append(resident_mb(hub.popen.pid))
    except BaseException:
        print(f"{label}: hub log {hub.log_path}:\n{hub.log_tail()}", file=sys.stderr)
        hub.stop()
        raise
    return hub


def run_round(
    prepared: dict[str, tuple[launch.HubSettings, Path | None, Tokens]],
    starts: int,
    repeats: int,
    results: dict[str, HubResult],
    profile: Path | None = None,
) -> None:
    """Each hub started ``starts`` times, the two taking turns (A B B A A B ...), each start
    alone on the machine (stopped before the next); then both started once more, and with
    both running, the lecture's requests to both side by side (:func:`side_by_side`)."""
    running: dict[str, launch.Process] = {}
    spies: list[subprocess.Popen] = []
    labels = list(prepared)
    try:
        for index in range(starts):
            for label in labels if index % 2 == 0 else labels[::-1]:
                settings, config, _ = prepared[label]
                start_measured(label, settings, config, results[label], index).stop()
        for label, (settings, config, _) in prepared.items():
            print(f"{label}: started for the lecture ...", file=sys.stderr, flush=True)
            hub = launch.start_hub(
                settings, settings.state_dir.parent / "logs", config=config, timeout=600
            )
            running[label] = hub
        print("the lecture's requests, both hubs side by side ...", file=sys.stderr, flush=True)
        for label, hub in running.items():
            if profile is not None:
                profile.mkdir(parents=True, exist_ok=True)
                target = profile / f"{label}-{len(list(profile.iterdir()))}.txt"
                spies.append(subprocess.Popen(
                    ["py-spy", "record", "--pid", str(hub.popen.pid), "--format", "raw",
                     "--rate", "200", "--output", str(target)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                ))  # fmt: skip
        if spies:
            time.sleep(1)
        hubs = {
            label: (hub.popen.pid, lecture_calls(hub.url, prepared[label][2], repeats))
            for label, hub in running.items()
        }
        for label, batches in side_by_side(hubs).items():
            for kind, batch in batches.items():
                results[label].batches[kind].add(batch)
        for spy in spies:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        for label, hub in running.items():
            results[label].memory_after.append(resident_mb(hub.popen.pid))
    except BaseException:
        for label, hub in running.items():
            print(f"{label}: hub log {hub.log_path}:\n{hub.log_tail()}", file=sys.stderr)
        raise
    finally:
        for hub in running.values():
            hub.stop()


# -- the report ----------------------------------------------------------------------------------


def ratio(campus: float, stock: float) -> float:
    return campus / stock if stock > 0 else math.inf


def print_report(campus: HubResult, stock: HubResult) -> tuple[float, float, float]:
    def row(name: str, c: float, s: float, unit: str) -> None:
        print(f"  {name:<38} {c:>10.1f} {s:>10.1f} {unit:<4} {ratio(c, s):>7.2f}")

    print(f"  {'':<38} {'campushub':>10} {'stock':>10} {'':<4} {'ratio':>7}")
    start_c, start_s = statistics.median(campus.starts), statistics.median(stock.starts)
    row("start-up, median (s)", start_c, start_s, "s")
    row("start-up, slowest (s)", max(campus.starts), max(stock.starts), "s")
    row("services up too, median (s)", statistics.median(campus.running),
        statistics.median(stock.running), "s")  # fmt: skip
    row("memory after start (MB)", max(campus.memory_started), max(stock.memory_started), "MB")
    mem_c, mem_s = max(campus.memory_after), max(stock.memory_after)
    row("memory after requests (MB)", mem_c, mem_s, "MB")
    worst = 0.0
    for kind in KINDS:
        c, s = campus.batches[kind], stock.batches[kind]
        scale = 1 if kind == "spawn" else 1000
        unit = "s" if kind == "spawn" else "ms"
        row(f"{kind}: p50 ({len(c.latencies)} vs {len(s.latencies)})", c.p(50) * scale,
            s.p(50) * scale, unit)  # fmt: skip
        row(f"{kind}: p95", c.p(95) * scale, s.p(95) * scale, unit)
        row(f"{kind}: hub CPU per request (ms)", c.cpu_ms_per_request, s.cpu_ms_per_request, "ms")
        worst = max(worst, ratio(c.p(95), s.p(95)))
    for label, result in (("campushub", campus), ("stock", stock)):
        for kind in KINDS:
            for problem in result.batches[kind].failures[:5]:
                print(f"  FAILED {label} {kind}: {problem}")
    return ratio(start_c, start_s), ratio(mem_c, mem_s), worst


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=11000)
    parser.add_argument("--courses", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both hubs")
    parser.add_argument("--starts", type=int, default=3, help="starts of each hub per round")
    parser.add_argument("--samples", type=int, default=12, help="people of each persona")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of each request")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--quick", action="store_true", help="1,100 people in 200 courses")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--profile",
        type=Path,
        help="record each hub's stacks during the requests with py-spy (collapsed, into DIR)",
    )
    parser.add_argument(
        "--db",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the hubs' database: SQLite files (zero-to-jupyterhub's default) or a PostgreSQL"
        " server started for the run (Debian's postgresql package)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.people, args.courses = QUICK["people"], QUICK["courses"]
    if shutil.which("configurable-http-proxy") is None:
        print("configurable-http-proxy is not on PATH (see the module's docstring)")
        return 2
    work_dir = Path(tempfile.mkdtemp(prefix="campushub-hub-scale-"))
    began = time.perf_counter()
    campus = make_campus(args.people, args.courses, args.seed)
    seats = sum(len(m) for m in campus.memberships.values())
    catalog = write_catalog(work_dir / "courses.yaml", campus)
    idp = launch.start_identity_provider(launch.free_port(), [], work_dir / "idp-logs")
    idp_session = session()
    results = {"campushub": HubResult(), "stock": HubResult()}
    db_urls: dict[str, str] = {}
    postgres = None
    try:
        if args.db == "postgresql":
            postgres = start_postgres()
        discovery = requests.get(f"{idp.url}/.well-known/openid-configuration").json()
        prepared: dict[str, tuple[launch.HubSettings, Path | None, Tokens]] = {}
        for label in ("stock", "campushub"):
            settings = hub_settings(work_dir, label, catalog, idp)
            print(f"{label}: writing the database ...", file=sys.stderr, flush=True)
            db_url = f"sqlite:///{settings.state_dir / 'jupyterhub.sqlite'}"
            settings.state_dir.mkdir(parents=True, exist_ok=True)
            if postgres is not None:
                # As production runs it: the hub, and campushub's links and scaler services,
                # each on a database of the server.
                db_url = postgres.new_database(f"hub_{label}")
                settings.extra_env["CAMPUSHUB_DB_URL"] = db_url
                for service in ("LINKS", "SCALER"):
                    settings.extra_env[f"CAMPUSHUB_{service}_DB_URL"] = postgres.new_database(
                        f"{service.lower()}_{label}"
                    )
            tokens = build_database(db_url, campus, catalog, label, args.seed, args.samples)
            for name in tokens.inherit:
                claims = person_claims(campus, name)
                idp_session.put(f"{idp.url}/users/{name}", json=claims).raise_for_status()
            config = None
            if label == "stock":
                config = work_dir / label / "jupyterhub_config.py"
                config.write_text(stock_config(settings, discovery, db_url))
            prepared[label] = (settings, config, tokens)
            db_urls[label] = db_url
        reach = count_reach(db_urls["campushub"])
        warm = {
            label: warm_up(label, settings, config, timeout=1800)
            for label, (settings, config, _) in prepared.items()
        }
        for number in range(args.rounds):
            # Which hub starts first alternates between rounds (and within one, per start).
            order = ("stock", "campushub") if number % 2 == 0 else ("campushub", "stock")
            run_round({label: prepared[label] for label in order}, args.starts, args.repeats,
                      results, args.profile)  # fmt: skip
    finally:
        idp.stop()
        if postgres is not None:
            postgres.stop()
        if not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    print(
        f"hub_scale: {args.people} people, {args.courses} courses, {seats} memberships,"
        f" {reach} server scopes in staff roles (campushub);"
        f" {args.rounds} round(s) of {args.starts} start(s) each;"
        f" {time.perf_counter() - began:.0f} s in all"
    )
    startup, memory, request_p95 = print_report(results["campushub"], results["stock"])
    first = warm["campushub"]
    print(
        f"  first start: campushub {first.seconds:.1f} s (services up {first.running:.1f} s),"
        f" stock {warm['stock'].seconds:.1f} s ({warm['stock'].running:.1f} s);"
        f" campushub's scaler then read enrollment (every course group, paced) for"
        f" {first.settled - first.seconds:.0f} s, the hub using {first.hub_cpu:.1f} s of CPU"
        f" from its start to then (stock's start: {warm['stock'].hub_cpu:.1f} s); it reads it"
        " again every 6 hours, and later starts begin from the counts it kept"
    )
    failures = sum(len(b.failures) for r in results.values() for b in r.batches.values())
    met = all(r <= GOAL_RATIO for r in (startup, memory, request_p95)) and not failures
    print(f"goal: each ratio <= {GOAL_RATIO}: {'met' if met else 'NOT met'}")
    print(
        f"result: users={args.people} courses={args.courses} startup_ratio={startup:.2f}"
        f" memory_ratio={memory:.2f} request_p95_ratio={request_p95:.2f}"
    )
    return 1 if failures else 0


def start_postgres() -> Any:
    """A throwaway PostgreSQL cluster on a free loopback port (the tests' own helper)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.postgres import start_postgres as start

    return start()


def count_reach(db_url: str) -> int:
    """How many server scopes campushub's staff roles hold (one per staff role and server)."""
    import json

    import sqlalchemy

    engine = sqlalchemy.create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sqlalchemy.text("SELECT scopes FROM roles WHERE name LIKE 'course-%'")
            )
            return sum(
                1
                for (scopes,) in rows
                for scope in (json.loads(scopes) if isinstance(scopes, str) else scopes)
                if scope.startswith("access:")
            )
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
