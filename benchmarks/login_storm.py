"""How fast people can log in: a storm of full OpenID Connect logins, campushub against stock.

Starts a real identity provider (oidc-provider-mock) on 127.0.0.1, creates ``--users`` people
in it (default 1,000: students of one to three demo courses in Berkeley's
``course::<id>::enrollment_type::<type>`` form, a few TAs and instructors), then starts two
hubs, each with its own state folder and free ports:

- **campushub**: JupyterHub from the reference ``jupyterhub_config.py`` (``CampusAuthenticator``:
  id_token verification, memberships, course groups and staff roles);
- **stock**: the same configuration with oauthenticator's ``GenericOAuthenticator`` instead, set
  up for the same claims (``manage_groups`` from ``groups``, ``allow_all``);

and logs every person in to each, ``--concurrency`` at a time, each with a requests session of
their own following the whole flow (hub → provider's form → provider → hub callback →
``/hub/home``) through configurable-http-proxy. The people come in ``--slices`` slices and the
hubs take turns, one slice each (who goes first alternates), so a change in the machine's load
over a long storm falls on both alike; only one hub is stormed at a time. For each hub it
reports failures, wall time, logins per second, p50/p95/p99 latency, the hub's resident memory
before and after (and its peak), and the CPU seconds the hub (and its proxy), the identity
provider, this client and everything else on the machine used during its slices, so the figures
say where the time goes; the hub's CPU per login is also given as the median over the slices,
which is steadier than wall time.

Run from the repository root, with the virtualenv's ``bin`` first on PATH (for
configurable-http-proxy)::

    PATH=$PWD/.venv/bin:$PATH .venv/bin/python benchmarks/login_storm.py [--users 1000]
        [--concurrency 20] [--slices 10] [--quick] [--profile DIR]

``--quick`` is 100 people. ``--profile DIR`` runs each hub under cProfile and prints where its
CPU went (the profiler slows the hub, so those figures are not the benchmark's).

The last line is machine-readable:
``result: users=<n> failures=<f> ratio=<r> campus_logins_per_s=<x> stock_logins_per_s=<y>
campus_hub_cpu_ms=<a> stock_hub_cpu_ms=<b> hub_cpu_ratio=<c> memory_ratio=<m>`` with
``failures`` both hubs' together, ``ratio`` campushub's wall time over stock's, the hub CPU per
login the median over slices, and ``memory_ratio`` the hubs' resident memory after the storm.
"""

from __future__ import annotations

import argparse
import io
import os
import pstats
import random
import resource
import shlex
import statistics
import sys
import tempfile
import textwrap
import time
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from stock_oauth import generic_oauth_lines

from campushub.demo import launch
from campushub.demo.login import LoginError, login

# The demo catalog's course keys (data8, stat20, physics77).
COURSE_KEYS = ("1524699", "1525001", "1525333")
QUICK_USERS = 100
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# From the "Speed" section.
GOAL_RATIO = 1.10
GOAL_SECONDS_PER_1000 = 60.0
SHOWN_FAILURES = 5


# -- the people ----------------------------------------------------------------------------------


def make_people(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` people's claims, like the demo's: mostly students of one to three courses,
    about 4 % TAs and 1 % instructors (staff of their first course, students of the rest)."""
    rng = random.Random(seed)
    people = []
    for index in range(count):
        sub = f"storm{index:05d}"
        course_count = rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
        courses = rng.sample(COURSE_KEYS, course_count)
        roll = rng.random()
        first_role = "teacher" if roll < 0.01 else "ta" if roll < 0.05 else "student"
        roles = [first_role] + ["student"] * (course_count - 1)
        people.append(
            {
                "sub": sub,
                "preferred_username": sub,
                "name": f"Storm Person {index}",
                "email": f"{sub}@campus.example.edu",
                "email_verified": True,
                "groups": [
                    f"course::{key}::enrollment_type::{role}"
                    for key, role in zip(courses, roles, strict=True)
                ],
            }
        )
    return people


def create_people(idp_url: str, people: Sequence[dict[str, Any]], concurrency: int) -> None:
    """Create every person in the running identity provider (``PUT /users/<sub>``)."""

    def put(person: dict[str, Any]) -> None:
        response = requests.put(f"{idp_url}/users/{person['sub']}", json=person, timeout=30)
        response.raise_for_status()

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(put, people))


# -- CPU time from /proc -------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (field 3, the state, first)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def _own_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` plus those of children it has waited for."""
    try:
        fields = _stat_fields(pid)
    except (OSError, ValueError):
        return 0.0  # the process has gone
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return (utime + stime + cutime + cstime) / CLOCK_TICKS


def descendants(pid: int) -> list[int]:
    """The live processes below ``pid`` (children, their children, ...)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry.name))[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    waiting = [pid]
    while waiting:
        below = children.get(waiting.pop(), [])
        found += below
        waiting += below
    return found


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs of the machine have spent not idle since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


@dataclass(frozen=True)
class CpuSample:
    """Cumulative CPU seconds at one moment."""

    hub: float
    proxy: float  # the hub's descendants: configurable-http-proxy
    identity_provider: float
    client: float  # this benchmark's own process (all its threads)
    machine: float

    @classmethod
    def take(cls, hub_pid: int, idp_pid: int) -> CpuSample:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return cls(
            hub=_own_cpu_seconds(hub_pid),
            proxy=sum(_own_cpu_seconds(pid) for pid in descendants(hub_pid)),
            identity_provider=_own_cpu_seconds(idp_pid)
            + sum(_own_cpu_seconds(pid) for pid in descendants(idp_pid)),
            client=usage.ru_utime + usage.ru_stime,
            machine=machine_busy_seconds(),
        )

    def plus(self, other: CpuSample) -> CpuSample:
        return CpuSample(
            hub=self.hub + other.hub,
            proxy=self.proxy + other.proxy,
            identity_provider=self.identity_provider + other.identity_provider,
            client=self.client + other.client,
            machine=self.machine + other.machine,
        )

    def minus(self, earlier: CpuSample) -> CpuSample:
        return CpuSample(
            hub=self.hub - earlier.hub,
            proxy=self.proxy - earlier.proxy,
            identity_provider=self.identity_provider - earlier.identity_provider,
            client=self.client - earlier.client,
            machine=self.machine - earlier.machine,
        )

    @property
    def others(self) -> float:
        """What the rest of the machine used meanwhile (other sessions, the kernel)."""
        return max(0.0, self.machine - self.hub - self.proxy - self.identity_provider - self.client)


# -- one storm -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    """A process's resident memory now and at its highest, in MB (``/proc/<pid>/status``)."""

    rss_mb: float
    peak_mb: float

    @classmethod
    def take(cls, pid: int) -> Memory:
        fields: dict[str, float] = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024  # kB
        return cls(rss_mb=fields.get("VmRSS", 0.0), peak_mb=fields.get("VmHWM", 0.0))


@dataclass
class StormResult:
    """What one hub did during its storm, slice by slice."""

    label: str
    latencies_s: list[float] = field(default_factory=list)
    failure_messages: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    cpu: CpuSample = field(default_factory=lambda: CpuSample(0.0, 0.0, 0.0, 0.0, 0.0))
    # The hub's CPU per login in each slice, in ms: its median is steadier than the total.
    slice_hub_ms: list[float] = field(default_factory=list)
    memory_before: Memory | None = None
    memory_after: Memory | None = None

    @property
    def logins(self) -> int:
        return len(self.latencies_s)

    @property
    def failures(self) -> int:
        return len(self.failure_messages)

    @property
    def logins_per_s(self) -> float:
        return self.logins / self.wall_s

    def percentile_ms(self, percent: int) -> float:
        if len(self.latencies_s) < 2:
            return 1000 * (self.latencies_s or [0.0])[0]
        cuts = statistics.quantiles(self.latencies_s, n=100, method="inclusive")
        return 1000 * cuts[percent - 1]

    def per_login_ms(self, seconds: float) -> float:
        return 1000 * seconds / self.logins

    @property
    def median_slice_hub_ms(self) -> float:
        return statistics.median(self.slice_hub_ms)


def login_once(hub_url: str, sub: str) -> tuple[float, str | None]:
    """Log ``sub`` in with a fresh session; the seconds it took and what went wrong, if any."""
    with requests.Session() as session:
        session.trust_env = False  # loopback only; no proxy or .netrc lookups per request
        started = time.perf_counter()
        try:
            page = login(session, hub_url, sub, next_url="/hub/home")
            problem = None
            if page.status_code != 200 or urllib.parse.urlsplit(page.url).path != "/hub/home":
                problem = f"{sub}: ended at {page.url} with HTTP {page.status_code}"
        except (LoginError, requests.RequestException) as error:
            problem = f"{sub}: {error}"
        return time.perf_counter() - started, problem


def storm_slice(
    result: StormResult,
    hub: launch.Process,
    idp: launch.Process,
    subs: Sequence[str],
    concurrency: int,
) -> None:
    """Log ``subs`` in, ``concurrency`` at a time, and add what it took to ``result``."""
    before = CpuSample.take(hub.popen.pid, idp.popen.pid)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        outcomes = list(pool.map(lambda sub: login_once(hub.url, sub), subs))
    result.wall_s += time.perf_counter() - started
    cpu = CpuSample.take(hub.popen.pid, idp.popen.pid).minus(before)
    result.cpu = result.cpu.plus(cpu)
    result.latencies_s += [seconds for seconds, _ in outcomes]
    result.failure_messages += [problem for _, problem in outcomes if problem]
    result.slice_hub_ms.append(1000 * cpu.hub / len(subs))


# -- the two hubs --------------------------------------------------------------------------------


def stock_config(settings: launch.HubSettings, discovery: dict[str, Any]) -> str:
    """A hub configuration: the reference one, switched to stock ``GenericOAuthenticator``."""
    config = textwrap.dedent(
        f"""
        # The reference configuration (proxy, ports, state, spawner), then stock oauthenticator.
        load_subconfig({str(launch.reference_config())!r})
        #GENERIC_OAUTH
        c.GenericOAuthenticator.username_claim = "preferred_username"
        c.GenericOAuthenticator.manage_groups = True
        c.GenericOAuthenticator.auth_state_groups_key = "oauth_user.groups"
        c.GenericOAuthenticator.allow_all = True
        c.GenericOAuthenticator.auto_login = True
        # Whatever the reference configuration gave CampusAuthenticator (encrypted auth_state
        # and its refresh age, when JUPYTERHUB_CRYPT_KEY is set), stock gets too.
        for name in ("enable_auth_state", "auth_refresh_age"):
            if name in c.CampusAuthenticator:
                setattr(c.GenericOAuthenticator, name, c.CampusAuthenticator[name])
        """
    )
    return config.replace("#GENERIC_OAUTH", generic_oauth_lines(settings, discovery))


def start_hub(
    settings: launch.HubSettings, log_dir: Path, config: Path | None, profile: Path | None
) -> launch.Process:
    """``launch.start_hub``, or the same hub run under cProfile writing to ``profile``."""
    if profile is None:
        return launch.start_hub(settings, log_dir, config=config)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "cProfile", "-o", str(profile)]
    argv += ["-m", "jupyterhub", "-f", str(config or launch.reference_config())]
    return launch.start_process(
        "hub",
        argv,
        f"{settings.public_url}/hub/api/",
        log_dir,
        env=settings.environment(),
        cwd=settings.state_dir,
        timeout=90.0,
        url=settings.public_url,
        pid_files=(settings.state_dir / "jupyterhub-proxy.pid",),
    )


def start_one(
    label: str,
    work_dir: Path,
    idp: launch.Process,
    make_config: Callable[[launch.HubSettings], str | None],
    profile: Path | None,
) -> launch.Process:
    """Start one hub on fresh ports and state."""
    public_port, hub_port, proxy_api_port = launch.free_ports(3)
    settings = launch.HubSettings(
        state_dir=work_dir / label / "state",
        catalog=launch.DEMO_CATALOG,  # its git addresses are never used by a login
        issuer=idp.url,
        public_port=public_port,
        hub_port=hub_port,
        proxy_api_port=proxy_api_port,
    )
    config_text = make_config(settings)
    config = None
    if config_text is not None:
        config = work_dir / label / "jupyterhub_config.py"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(config_text)
    print(f"{label}: starting the hub on {settings.public_url} ...", file=sys.stderr, flush=True)
    return start_hub(settings, work_dir / label / "logs", config, profile)


def slices_of(subs: Sequence[str], count: int) -> list[Sequence[str]]:
    """``subs`` cut into ``count`` nearly equal slices, in order (none empty)."""
    count = max(1, min(count, len(subs)))
    size, extra = divmod(len(subs), count)
    cuts, at = [], 0
    for index in range(count):
        step = size + (1 if index < extra else 0)
        cuts.append(subs[at : at + step])
        at += step
    return cuts


def run_storms(
    hubs: dict[str, launch.Process],
    idp: launch.Process,
    subs: Sequence[str],
    concurrency: int,
    slice_count: int,
) -> dict[str, StormResult]:
    """Storm every hub slice by slice, taking turns (the first hub of a slice alternates), so a
    change in the machine's load falls on both alike. Only one hub is stormed at a time."""
    results = {label: StormResult(label) for label in hubs}
    for label, hub in hubs.items():
        results[label].memory_before = Memory.take(hub.popen.pid)
    order = list(hubs)
    cuts = slices_of(subs, slice_count)
    for number, cut in enumerate(cuts, 1):
        for label in order if number % 2 else reversed(order):
            print(
                f"{label}: slice {number}/{len(cuts)}, {len(cut)} logins, {concurrency} at a time",
                file=sys.stderr,
                flush=True,
            )
            try:
                storm_slice(results[label], hubs[label], idp, cut, concurrency)
            except BaseException:
                print(f"{label}: hub log {hubs[label].log_path}:\n{hubs[label].log_tail()}")
                raise
    for label, hub in hubs.items():
        results[label].memory_after = Memory.take(hub.popen.pid)
        if results[label].failures:
            print(f"{label}: the end of the hub's log:\n{hub.log_tail(15)}", file=sys.stderr)
    return results


# -- the report ----------------------------------------------------------------------------------


def ratio(campus: float, stock: float) -> float:
    return campus / stock if stock else float("inf")


def print_table(campus: StormResult, stock: StormResult) -> None:
    """Both storms side by side, with campus/stock where it means something."""
    rows: list[tuple[str, float, float, str, bool]] = [
        # (what, campus, stock, format, show the ratio)
        ("logins", campus.logins, stock.logins, "{:.0f}", False),
        ("failures", campus.failures, stock.failures, "{:.0f}", False),
        ("wall time (s)", campus.wall_s, stock.wall_s, "{:.2f}", True),
        ("logins per second", campus.logins_per_s, stock.logins_per_s, "{:.1f}", True),
        ("latency p50 (ms)", campus.percentile_ms(50), stock.percentile_ms(50), "{:.0f}", True),
        ("latency p95 (ms)", campus.percentile_ms(95), stock.percentile_ms(95), "{:.0f}", True),
        ("latency p99 (ms)", campus.percentile_ms(99), stock.percentile_ms(99), "{:.0f}", True),
        (
            "latency max (ms)",
            1000 * max(campus.latencies_s),
            1000 * max(stock.latencies_s),
            "{:.0f}",
            False,
        ),
    ]
    for what, attribute in (
        ("hub", "hub"),
        ("proxy (CHP)", "proxy"),
        ("identity provider", "identity_provider"),
        ("benchmark client", "client"),
        ("everything else", "others"),
    ):
        campus_s = getattr(campus.cpu, attribute)
        stock_s = getattr(stock.cpu, attribute)
        rows.append((f"{what} CPU (s)", campus_s, stock_s, "{:.2f}", False))
        rows.append(
            (
                f"{what} CPU per login (ms)",
                campus.per_login_ms(campus_s),
                stock.per_login_ms(stock_s),
                "{:.1f}",
                True,
            )
        )
    rows.insert(
        -8,
        (
            "hub CPU per login, median slice (ms)",
            campus.median_slice_hub_ms,
            stock.median_slice_hub_ms,
            "{:.1f}",
            True,
        ),
    )
    for what, memory in (("before", "memory_before"), ("after", "memory_after")):
        campus_memory, stock_memory = getattr(campus, memory), getattr(stock, memory)
        if campus_memory and stock_memory:
            rows.append(
                (
                    f"hub memory {what} (MB RSS)",
                    campus_memory.rss_mb,
                    stock_memory.rss_mb,
                    "{:.0f}",
                    True,
                )
            )
    if campus.memory_after and stock.memory_after:
        rows.append(
            (
                "hub memory peak (MB)",
                campus.memory_after.peak_mb,
                stock.memory_after.peak_mb,
                "{:.0f}",
                True,
            )
        )
    cpus = os.cpu_count() or 1
    rows.append(
        (
            f"machine busy (% of {cpus} CPUs)",
            100 * campus.cpu.machine / (campus.wall_s * cpus),
            100 * stock.cpu.machine / (stock.wall_s * cpus),
            "{:.0f}",
            False,
        )
    )
    print(f"{'':34} {'campushub':>10} {'stock':>10} {'campus/stock':>13}")
    for what, campus_value, stock_value, form, show_ratio in rows:
        shown = f"{ratio(campus_value, stock_value):.2f}" if show_ratio else ""
        print(
            f"{what:34} {form.format(campus_value):>10} {form.format(stock_value):>10} {shown:>13}"
        )


def where_the_time_goes(result: StormResult) -> str:
    """One line: the storm's CPU seconds by process, as shares of what the machine used."""
    cpu = result.cpu
    cpus = os.cpu_count() or 1
    parts = [
        ("hub", cpu.hub),
        ("identity provider", cpu.identity_provider),
        ("client", cpu.client),
        ("proxy", cpu.proxy),
        ("other", cpu.others),
    ]
    total = max(cpu.machine, 1e-9)
    shares = ", ".join(f"{name} {100 * seconds / total:.0f} %" for name, seconds in parts)
    busy = 100 * cpu.machine / (result.wall_s * cpus)
    return (
        f"{result.label:9} {cpu.machine:.1f} CPU-s in {result.wall_s:.1f} s on {cpus} CPUs"
        f" ({busy:.0f} % busy): {shares}"
    )


def print_profile(label: str, path: Path, lines: int = 25) -> None:
    """The functions the profiled hub spent most time in, itself and below."""
    if not path.exists():
        print(f"profile   {label}: no profile written at {path}")
        return
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(str(path), stream=out).strip_dirs().sort_stats(order).print_stats(lines)
        text = out.getvalue()
        table = text[text.index("   ncalls") :] if "   ncalls" in text else text
        print(f"profile   {label} hub by {order} ({path}):")
        print(textwrap.indent(table.rstrip(), "  "))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000, help="people who log in, per hub")
    parser.add_argument("--concurrency", type=int, default=20, help="logins at the same time")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_USERS} people, to try it out")
    parser.add_argument("--seed", type=int, default=2026, help="random seed for the people")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run each hub under cProfile, write DIR/<hub>.prof and print the top functions",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep logs, state and configurations in DIR (default: a removed temporary folder)",
    )
    parser.add_argument(
        "--slices",
        type=int,
        default=10,
        help="storm the hubs in turns, this many slices of the people each (default 10)",
    )
    options = parser.parse_args(argv)
    users = QUICK_USERS if options.quick else options.users
    if users < 1 or options.concurrency < 1 or options.slices < 1:
        parser.error("--users, --concurrency and --slices must be at least 1")
    os.environ.update(launch.LOOPBACK_NO_PROXY)

    people = make_people(users, options.seed)
    subs = [person["sub"] for person in people]
    profiles: dict[str, Path | None] = {"campushub": None, "stock": None}
    if options.profile:
        options.profile.mkdir(parents=True, exist_ok=True)
        profiles = {label: options.profile.resolve() / f"{label}.prof" for label in profiles}

    with tempfile.TemporaryDirectory(prefix="login-storm-") as temporary:
        work_dir = (options.keep or Path(temporary)).resolve()
        idp = launch.start_identity_provider(launch.free_port(), [], work_dir / "logs")
        try:
            create_people(idp.url, people, options.concurrency)
            discovery = requests.get(
                f"{idp.url}/.well-known/openid-configuration", timeout=10
            ).json()
            hubs: dict[str, launch.Process] = {}
            try:
                hubs["campushub"] = start_one(
                    "campushub",
                    work_dir,
                    idp,
                    lambda settings: None,  # the reference configuration as it is
                    profiles["campushub"],
                )
                hubs["stock"] = start_one(
                    "stock",
                    work_dir,
                    idp,
                    lambda settings: stock_config(settings, discovery),
                    profiles["stock"],
                )
                results = run_storms(hubs, idp, subs, options.concurrency, options.slices)
            finally:
                for hub in hubs.values():
                    hub.stop()
            campus, stock = results["campushub"], results["stock"]
        finally:
            idp.stop()

    staff = sum(1 for person in people if "enrollment_type::student" not in person["groups"][0])
    print(
        f"login storm: {users} people ({staff} TAs/instructors), {options.concurrency} at a time,"
        f" full OIDC login through configurable-http-proxy to /hub/home, on 127.0.0.1"
    )
    print()
    print_table(campus, stock)
    print()
    for result in (campus, stock):
        print(f"cpu       {where_the_time_goes(result)}")
    for result in (campus, stock):
        # As the database fills up, slice by slice: does a hub's cost grow with its people?
        series = " ".join(f"{value:.1f}" for value in result.slice_hub_ms)
        print(f"slices    {result.label:9} hub CPU per login (ms), in order: {series}")
        for message in result.failure_messages[:SHOWN_FAILURES]:
            print(f"failure   {result.label}: {message}")
    wall_ratio = ratio(campus.wall_s, stock.wall_s)
    cpu_ratio = ratio(
        campus.per_login_ms(campus.cpu.hub + campus.cpu.proxy),
        stock.per_login_ms(stock.cpu.hub + stock.cpu.proxy),
    )
    print(f"ratio     campus/stock wall time {wall_ratio:.2f}")
    print(
        f"ratio     campus/stock hub CPU per login {ratio(campus.cpu.hub, stock.cpu.hub):.2f}"
        f" (hub and proxy together {cpu_ratio:.2f})"
    )
    failures = campus.failures + stock.failures
    per_1000_s = 1000 * campus.wall_s / users
    print(f"goal      no failures: {'pass' if failures == 0 else 'FAIL'} ({failures})")
    print(
        f"goal      campus at most {GOAL_RATIO:.2f}x stock's time:"
        f" {'pass' if wall_ratio <= GOAL_RATIO else 'FAIL'} ({wall_ratio:.2f}x)"
    )
    print(
        f"goal      1,000 logins within {GOAL_SECONDS_PER_1000:.0f} s:"
        f" {'pass' if per_1000_s <= GOAL_SECONDS_PER_1000 else 'FAIL'}"
        f" (campus {per_1000_s:.1f} s per 1,000 at this rate)"
    )
    for label, path in profiles.items():
        if path is not None:
            print_profile(label, path)
    print(f"python    {sys.version.split()[0]} ({sys.executable}), {os.cpu_count()} CPUs")
    command = ["python", "benchmarks/login_storm.py", *(sys.argv[1:] if argv is None else argv)]
    print(f"reproduce PATH=$PWD/.venv/bin:$PATH {shlex.join(command)}  (from the repository root)")
    cpu_median_ratio = ratio(campus.median_slice_hub_ms, stock.median_slice_hub_ms)
    memory_ratio = ratio(
        campus.memory_after.rss_mb if campus.memory_after else 0.0,
        stock.memory_after.rss_mb if stock.memory_after else 0.0,
    )
    print(
        f"result: users={users} failures={failures} ratio={wall_ratio:.2f}"
        f" campus_logins_per_s={campus.logins_per_s:.1f}"
        f" stock_logins_per_s={stock.logins_per_s:.1f}"
        f" campus_hub_cpu_ms={campus.median_slice_hub_ms:.1f}"
        f" stock_hub_cpu_ms={stock.median_slice_hub_ms:.1f}"
        f" hub_cpu_ratio={cpu_median_ratio:.2f} memory_ratio={memory_ratio:.2f}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
