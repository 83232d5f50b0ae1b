"""A campus week on a simulated cluster: how long students wait for a server, and what it costs.

Builds a campus-sized catalog (``--courses`` courses, default 300, derived from the demo's three
shapes) for ``--students`` students (default 11,000), parses it with the real
``campushub.catalog.parse_catalog`` and unrolls one teaching week with the real
``campushub.schedule.occurrences``. Then it plays the same week of student arrivals against one
node pool under five strategies:

1. **reactive**: cluster-autoscaler only, no placeholders;
2. **fixed**: a constant number of node-sized placeholders (campushub's time-weighted mean
   target over the week, rounded), plain pause pods;
3. **berkeley**: Berkeley's scaler as it is: hand-entered calendar events, each sized once for
   everyone expected and held from the event's start to its end, with no look-ahead and no
   count of who is already on (the real ``plan_span`` on the same catalog with ``lead: 0m``;
   nobody is present in a plan of the future); plain pause pods that warm no image;
4. **campushub**: what the scaler service does: every ``--round-s`` (60 s) it calls the real
   ``campushub.demand.plan_pools`` at that moment with ``present`` = each course's servers
   (running, or admitted and waiting for a node) that are not *leaving*, and ``free`` = the
   room free on each warm node, read from the simulated cluster as the service reads it from
   the Kubernetes API and the hub's: ready nodes (not booting) whose images, pulled and not
   still being pulled, include every image the pool's courses use, each with its allocatable
   CPU and memory less the requests of its pods (the guarantees of servers not leaving; a
   placeholder of unit ``node`` requests the whole node). A server is leaving when the idle
   culler will stop it within the pool's lead if it stays idle (its ``last_activity`` from the
   hub's API + the cull timeout <= now + lead) and its student has gone: its people are not
   on, and its room is counted as free though the server holds it until the culler's check.
   It sets the placeholder Deployment to the target; its placeholder pods pull the pool's
   course images as init containers. (The occurrences are passed pre-filtered to those
   running or starting within the lead, which gives the same target as all of them, and is
   fast. A round reads the cluster before the step's new arrivals are placed: for up to
   one ``--step-s`` they count as present while their room still looks free, where the real
   scheduler binds a pod in about a second; placing them before the round instead changes
   campushub's node-hours by 0.3%, and its p95 wait not at all, on the default campus.)
5. **oracle**: perfect foresight, defined below.

Two floors, not to be confused:

- **oracle** (the "perfect oracle" of the goal, and the denominator of the result line's ratio):
  capacity appears exactly when it is needed. A server that finds no room gets a new node at
  that instant, ready and holding every image (boot 0, pull 0); the packing, the culler, and
  the removal of a node empty for ``--idle-min``, are the same as for every other strategy,
  and running servers never move. Its waits are 0 by construction. It is what never making
  anyone wait costs with perfect knowledge and nothing else changed. (Greedy packing in
  arrival order is not optimal, so it is no strict floor: a strategy whose servers are placed
  in other batches, such as the reactive one's, can come out slightly below it.)
- **ideal packing** (a lower bound no scheduler reaches, shown beside it): the integral of
  max(ceil(CPU / node CPU), ceil(memory / node memory)) of the servers running (from their
  student's arrival until the culler stops them), as if they were re-packed perfectly at every
  instant, with no boot and no idle time.

For each: p50, p95 and maximum wait per server start, the share of starts waiting over 30 s,
and node-hours. Goal: campushub's p95
wait at most 30 s with at most 1.15x the oracle's node-hours. Planning the week (``occurrences``
plus ``plan_span``, what the service's chart does) is timed too; goal under 1 s.

The model, all of it (times in seconds from Monday 00:00 of the week, America/Los_Angeles):

- **Campus.** Each course has one of the demo's shapes: data science (Python, 1Gi/1Gi memory
  like data8), statistics (R, the defaults' 512Mi/1Gi like stat20), physics (Julia, the
  defaults, like physics77); CPU is the defaults' 0.05/2. A course meets MWF 50m, TuTh 80m or
  in a weekly 2h lab, starting on the hour or half hour from 08:00 to 18:00. Every student
  takes 1-3 courses picked by a Zipf-like popularity (exponent 0.7), which gives a few lectures
  of a thousand and many of twenty to fifty. A few courses (one per 75) hold a 2h exam instead
  of one meeting this week (``exam: true``, the meeting ``skip``ped that day).
- **Forecast vs. reality.** The catalog's ``expect`` is enrollment x 0.9 (exams: enrollment);
  the people who actually come to a meeting are enrollment x a ratio drawn per meeting,
  uniform in 0.75-0.95 (exams 0.92-1.0), so the plan is not a perfect forecast.
- **Students.** Those who come to a meeting are drawn from the course's enrolled students.
  Each arrives at the start + N(-2 min, 4 min), clipped to -15..+10 min, and stays until the
  end + U(0, 5) min. A server needs the course's guarantee of CPU and memory (the limit during
  an exam, Guaranteed QoS), and a node holds whatever fits in both.
- **The idle culler.** Closing the laptop stops nothing. A server's last activity is when its
  student leaves; jupyterhub-idle-culler, run by campushub's reference configuration, checks
  every ``--cull-every-min`` (``CAMPUSHUB_CULL_EVERY``, 5 min, from Monday 00:00) and stops
  the servers idle for at least ``--cull-min`` (``CAMPUSHUB_CULL_TIMEOUT``, 60 min; 0: no
  culler). A student who comes to a later meeting of the course while their server for it
  still runs uses it at once: no wait, no new server, and its last activity moves on. (With
  the default campus no course meets twice within an hour, so nobody does.) The same for
  every strategy, the oracle and the bound.
- **Nodes.** One pool of ``--node-cpu`` CPU / ``--node-memory-gi`` GiB allocatable. A node is
  ready ``--boot-min`` after it is requested. A server on a node without its course's image
  waits ``--pull-min`` more (the node keeps the image; pulls of different images run side by
  side; a second server of an image being pulled waits for the same pull).
- **Scheduling** (every ``--step-s``, like the autoscaler's 10 s scan): waiting servers in
  arrival order go to the ready node with room that already has (or is pulling) their image,
  then the fullest (packing, like z2jh's user scheduler); with no room anywhere they preempt a
  node-sized placeholder at once.
- **Placeholders.** Node-sized pods of one Deployment. When a strategy's count changes (the
  fixed and berkeley steps: at once; campushub: at its rounds) the Deployment creates the
  missing pods, which wait like any pod, or removes pods: the pending (unscheduled) ones first,
  then running ones, newest node first (ReplicaSet semantics); the nodes of removed running
  ones then idle. A placeholder a student's server preempts is recreated by its Deployment at
  once and pends until a node comes for it or a later round lowers the count (z2jh's user
  placeholders). campushub's placeholder pods pull every pool image as init containers: a node
  a campushub placeholder lands on has them ``--pull-min`` after it lands, so a student
  arriving later starts at once.
- **Cluster autoscaler.** When pods wait and the booting nodes cannot hold them, it requests
  the difference (placeholders one node each, servers packed by CPU and memory); a node it has
  requested boots even if the pod it was for is gone by then. A ready node with no server and
  no placeholder for ``--idle-min`` is removed. No node-count cap.
- **Costs.** Wait = arrival to server running (placement, then image), per server start.
  Node-hours = every node's life from request (booting included) to removal, over the week.

Besides the table, it prints where each strategy's node-hours went (booting, serving students,
holding only servers whose students have gone until the culler stops them, holding only a
placeholder, empty before removal; placeholders preempted; nodes removed without ever serving
a student) and one what-if: campushub's rounds fed the same events cut at start +
``--what-if-cut-min`` (default 10, the end of arrivals), so the room still held for people who
have not come when arrivals end (no-shows, mostly) is let go then, not at the event's end. It
measures what that room costs; it is not what campushub does.

Run from the repository root::

    python benchmarks/scaler_sim.py [--students 11000] [--courses 300] [--seed 2026]
        [--boot-min 5] [--pull-min 2] [--idle-min 10] [--cull-min 60] [--cull-every-min 5]
        [--lead-min LEAD] [--pool-min 0]
        [--pool-max 100] [--node-cpu 8] [--node-memory-gi 64] [--step-s 10] [--round-s 60]

The pool's ``lead`` is, unless ``--lead-min`` sets it, what an operator would choose from
what they can measure: boot + pull + how early the students come, taken at the goal's
percentile. Placeholders asked for ``lead`` before a start are warm ``boot + pull`` later,
so the lead is boot + pull + the minutes before the start by which only 5% of the students
have come (arrivals at -2 +/- 4 minutes: 8.6 minutes), rounded up to a whole minute: 16m with
the defaults. The students earlier than that land in room already free or wait; a longer lead
holds every placeholder longer for everyone else. ``min`` is 0: the campus is empty at night,
and one node more all week would cost 168 node-hours. ``max`` is well above the plan's peak.

The last line is machine-readable:
``result: campus_p95_wait_s=<x> campus_node_hours_ratio=<y> reactive_p95_wait_s=<z>
plan_week_s=<t>`` with the ratio campushub's node-hours over the oracle's (perfect foresight,
not ideal packing).
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import math
import random
import shlex
import statistics
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from campushub.catalog import Catalog, parse_catalog
from campushub.demand import FreeRoom, PoolTarget, plan_pools, plan_span
from campushub.schedule import Occurrence, occurrences
from campushub.units import format_duration, format_memory

P95_GOAL_S = 30.0
NODE_HOURS_GOAL = 1.15
PLAN_GOAL_S = 1.0

LA = ZoneInfo("America/Los_Angeles")
WEEK_START = datetime(2026, 10, 19, tzinfo=LA)  # a teaching Monday, no holiday, no DST change
WEEK_START_UTC = WEEK_START.astimezone(UTC)
WEEK = timedelta(days=7)
TERM_STARTS = date(2026, 8, 19)
TERM_ENDS = date(2026, 12, 18)
HOLIDAYS = (date(2026, 9, 7), date(2026, 11, 11), date(2026, 11, 26), date(2026, 11, 27))
POOL = "standard"

PLANNED_ATTENDANCE = 0.9
ATTENDANCE = (0.75, 0.95)
EXAM_ATTENDANCE = (0.92, 1.0)
ARRIVAL_MEAN_MIN, ARRIVAL_SD_MIN = -2.0, 4.0
ARRIVAL_EARLIEST_MIN, ARRIVAL_LATEST_MIN = -15.0, 10.0
STAY_AFTER_MAX_MIN = 5.0
COURSES_PER_STUDENT = ((1, 0.3), (2, 0.4), (3, 0.3))
POPULARITY_EXPONENT = 0.7
# The operator sizes the lead for the goal's percentile: all but this share of the students
# come after the placeholders asked for at start - lead are warm.
LEAD_EARLY_SHARE = 0.05
COURSES_PER_EXAM = 75
EXAM_MINUTES = 120

TIMES = [f"{hour:02d}:{minute:02d}" for hour in range(8, 19) for minute in (0, 30)][:-1]
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri")
# name: (weekdays, minutes); a lab meets on one weekday, chosen per course.
PATTERNS = {
    "MWF 50m": (("mon", "wed", "fri"), 50),
    "TuTh 80m": (("tue", "thu"), 80),
    "lab 2h": ((), 120),
}


@dataclass(frozen=True, slots=True)
class Shape:
    """One of the demo's three kinds of course."""

    name: str
    image: str
    like: str  # the demo course it is modelled on
    memory: str | None  # "guarantee/limit" override, or the defaults'
    share: float
    patterns: tuple[tuple[str, float], ...]
    departments: tuple[str, ...]


SHAPES = (
    Shape(
        "data science",
        "python",
        "data8",
        "1Gi/1Gi",
        0.5,
        (("MWF 50m", 0.6), ("TuTh 80m", 0.25), ("lab 2h", 0.15)),
        ("data", "compsci", "info", "econ", "cogsci", "ugba", "pbhlth", "polsci"),
    ),
    Shape(
        "statistics",
        "r",
        "stat20",
        None,
        0.3,
        (("TuTh 80m", 0.6), ("MWF 50m", 0.25), ("lab 2h", 0.15)),
        ("stat", "demog", "psych", "sociol", "epidem", "envecon"),
    ),
    Shape(
        "physics",
        "julia",
        "physics77",
        None,
        0.2,
        (("lab 2h", 0.6), ("TuTh 80m", 0.25), ("MWF 50m", 0.15)),
        ("physics", "astron", "chem", "mecheng", "eleng", "math"),
    ),
)


@dataclass(frozen=True, slots=True)
class CourseSpec:
    """A generated course: what the catalog says about it, and how many are enrolled."""

    slug: str
    shape: Shape
    enrollment: int
    pattern: str
    weekdays: tuple[str, ...]
    at: str
    exam_day: date | None = None


@dataclass(frozen=True, slots=True)
class Arrival:
    """One student coming to one meeting: when they come and go, what their server needs
    (millicores, MiB), the course it is for and who they are (a number within the course)."""

    at: float
    leaves: float
    cpu: int
    memory: int
    image: str
    course: str
    student: int = 0


@dataclass(frozen=True, slots=True)
class Server:
    """One student's server for one course: the visits it served ((arrival, leaving), in time
    order, apart), what it requests (millicores, MiB) and when the idle culler stops it."""

    visits: tuple[tuple[float, float], ...]
    cpu: int
    memory: int
    image: str
    course: str
    stops: float

    @property
    def starts(self) -> float:
        return self.visits[0][0]


@dataclass(frozen=True, slots=True)
class Cluster:
    """The simulated pool and cluster timings, in seconds, millicores and MiB."""

    node_cpu: int
    node_memory: int
    boot: float
    pull: float
    idle: float
    step: float
    span: float
    cull: float = 3600.0  # the idle culler's timeout (CAMPUSHUB_CULL_TIMEOUT); 0: no culler
    cull_every: float = 300.0  # seconds between its checks (CAMPUSHUB_CULL_EVERY)


# ---------------------------------------------------------------------------------------------
# The campus and its catalog
# ---------------------------------------------------------------------------------------------


def make_courses(courses: int, students: int, rng: random.Random) -> list[CourseSpec]:
    """``courses`` courses with enrollments from ``students`` students taking 1-3 each."""
    shapes = rng.choices(SHAPES, [shape.share for shape in SHAPES], k=courses)
    popularity = [1 / rank**POPULARITY_EXPONENT for rank in range(1, courses + 1)]
    rng.shuffle(popularity)
    enrollment = [0] * courses
    counts, weights = zip(*COURSES_PER_STUDENT, strict=True)
    for _ in range(students):
        taken: set[int] = set()
        wanted = rng.choices(counts, weights)[0]
        while len(taken) < wanted:
            taken.add(rng.choices(range(courses), popularity)[0])
        for index in taken:
            enrollment[index] += 1
    specs: list[CourseSpec] = []
    used: set[str] = set()
    for index, shape in enumerate(shapes):
        slug = ""
        while not slug or slug in used:
            slug = f"{rng.choice(shape.departments)}{rng.randint(1, 199)}"
        used.add(slug)
        pattern = rng.choices(*zip(*shape.patterns, strict=True))[0]
        weekdays = PATTERNS[pattern][0] or (rng.choice(WEEKDAY_NAMES),)
        specs.append(
            CourseSpec(slug, shape, max(enrollment[index], 1), pattern, weekdays, rng.choice(TIMES))
        )
    # A few mid-sized courses hold an exam this week, in place of one of their meetings.
    mid_sized = [i for i, spec in enumerate(specs) if 40 <= spec.enrollment <= 250]
    for index in rng.sample(mid_sized, min(len(mid_sized), max(1, courses // COURSES_PER_EXAM))):
        day = WEEK_START.date() + timedelta(
            days=WEEKDAY_NAMES.index(rng.choice(specs[index].weekdays))
        )
        specs[index] = dataclasses.replace(specs[index], exam_day=day)
    return specs


def catalog_text(
    specs: Sequence[CourseSpec],
    *,
    lead_min: int,
    pool_min: int,
    pool_max: int,
    node_cpu: int,
    node_memory_gi: int,
) -> str:
    """The catalog YAML for ``specs``: the demo's term layout, images and defaults, one pool."""
    lines = [
        "# Generated by benchmarks/scaler_sim.py",
        "term:",
        "  name: 2026-fall",
        f"  starts: {TERM_STARTS}",
        f"  ends: {TERM_ENDS}",
        f"  holidays: [{', '.join(str(day) for day in HOLIDAYS)}]",
        "timezone: America/Los_Angeles",
        "images:",
        '  python: {ref: "ghcr.io/campushub/python:2026.08", default_url: /lab}',
        '  r: {ref: "ghcr.io/campushub/r:2026.08", default_url: /rstudio}',
        '  julia: {ref: "ghcr.io/campushub/julia:2026.08", default_url: /lab}',
        "pools:",
        f"  {POOL}:",
        f"    node: {{cpu: {node_cpu}, memory: {node_memory_gi}Gi}}",
        f"    node_selector: {{hub.jupyter.org/pool-name: {POOL}}}",
        f"    placeholder: {{kind: Deployment, name: {POOL}-placeholder}}",
        f"    min: {pool_min}",
        f"    max: {pool_max}",
        f"    lead: {lead_min}m",
        "defaults:",
        "  image: python",
        f"  pool: {POOL}",
        "  cpu: {guarantee: 0.05, limit: 2}",
        "  memory: {guarantee: 512Mi, limit: 1Gi}",
        "courses:",
    ]
    for spec in specs:
        minutes = PATTERNS[spec.pattern][1]
        expect = math.ceil(round(spec.enrollment * PLANNED_ATTENDANCE, 6))
        skip = f", skip: [{spec.exam_day}]" if spec.exam_day else ""
        lines += [
            f"  {spec.slug}:",
            f'    title: "{spec.slug.upper()}: {spec.shape.name} ({spec.shape.like}-like)"',
        ]
        if spec.shape.image != "python":
            lines.append(f"    image: {spec.shape.image}")
        if spec.shape.memory:
            guarantee, limit = spec.shape.memory.split("/")
            lines.append(f"    memory: {{guarantee: {guarantee}, limit: {limit}}}")
        lines += [
            "    schedule:",
            f'      - {{every: [{", ".join(spec.weekdays)}], at: "{spec.at}", for: {minutes}m,'
            f" expect: {expect}{skip}}}",
        ]
        if spec.exam_day:
            lines.append(
                f'      - {{on: {spec.exam_day}, at: "{spec.at}", for: {EXAM_MINUTES}m,'
                f" expect: {spec.enrollment}, exam: true}}"
            )
    return "\n".join(lines) + "\n"


def make_arrivals(
    catalog: Catalog,
    enrollment: dict[str, int],
    week: Sequence[Occurrence],
    rng: random.Random,
) -> list[Arrival]:
    """Every student's coming to a meeting in the week, in arrival order."""
    start = WEEK_START
    meetings: list[tuple[Occurrence, list[Arrival]]] = []
    for occurrence in week:
        course = catalog.courses[occurrence.course]
        if occurrence.exam:
            cpu, memory = course.cpu.limit, course.memory.limit
            low, high = EXAM_ATTENDANCE
        else:
            cpu, memory = course.cpu.guarantee, course.memory.guarantee
            low, high = ATTENDANCE
        millicores, mebibytes = round(cpu * 1000), memory // 2**20
        begins = (occurrence.starts - start).total_seconds()
        ends = (occurrence.ends - start).total_seconds()
        people = round(enrollment[occurrence.course] * rng.uniform(low, high))
        coming = []
        for _ in range(people):
            offset = rng.gauss(ARRIVAL_MEAN_MIN, ARRIVAL_SD_MIN)
            offset = min(max(offset, ARRIVAL_EARLIEST_MIN), ARRIVAL_LATEST_MIN)
            leaves = ends + rng.uniform(0, STAY_AFTER_MAX_MIN) * 60
            coming.append(
                Arrival(
                    begins + offset * 60,
                    leaves,
                    millicores,
                    mebibytes,
                    course.image.name,
                    occurrence.course,
                )
            )
        meetings.append((occurrence, coming))
    # Who comes is drawn after when, so that a seed's times do not depend on it.
    arrivals: list[Arrival] = []
    for occurrence, coming in meetings:
        who = rng.sample(range(enrollment[occurrence.course]), len(coming))
        arrivals += [
            dataclasses.replace(arrival, student=student)
            for arrival, student in zip(coming, who, strict=True)
        ]
    arrivals.sort(key=lambda arrival: arrival.at)
    return arrivals


def culled_at(last_activity: float, cluster: Cluster) -> float:
    """When the idle culler stops a server whose last activity was at ``last_activity``: at its
    first check (every ``cull_every`` from the week's start, as it checks from when the hub
    starts) with the server idle for at least the timeout; never with the culler off."""
    if cluster.cull <= 0:
        return math.inf
    checks = math.ceil(round((last_activity + cluster.cull) / cluster.cull_every, 9))
    return checks * cluster.cull_every


def make_servers(arrivals: Sequence[Arrival], cluster: Cluster) -> list[Server]:
    """The servers ``arrivals`` start, in start order. Closing the laptop stops nothing: a
    server's last activity is when its student leaves, and the culler stops it. A student who
    comes back to the course while its server still runs uses it at once, and its last activity
    moves on. (The reused server keeps what it was started with: here no course meets twice in
    a culler's timeout, so an exam never finds a lecture's server.)"""
    running: dict[tuple[str, int], int] = {}  # (course, student) -> their latest server
    visits: list[list[tuple[float, float]]] = []
    first: list[Arrival] = []
    for arrival in sorted(arrivals, key=lambda arrival: arrival.at):
        key = (arrival.course, arrival.student)
        index = running.get(key)
        if index is not None and arrival.at < culled_at(visits[index][-1][1], cluster):
            came, left = visits[index][-1]
            if arrival.at < left:  # still there: one visit
                visits[index][-1] = (came, max(left, arrival.leaves))
            else:
                visits[index].append((arrival.at, arrival.leaves))
            continue
        running[key] = len(first)
        first.append(arrival)
        visits.append([(arrival.at, arrival.leaves)])
    return [
        Server(
            tuple(times),
            arrival.cpu,
            arrival.memory,
            arrival.image,
            arrival.course,
            culled_at(times[-1][1], cluster),
        )
        for arrival, times in zip(first, visits, strict=True)
    ]


def operator_lead(boot_min: float, pull_min: float) -> tuple[int, float]:
    """The lead an operator would choose, in whole minutes, and the minutes before a start by
    which only ``LEAD_EARLY_SHARE`` of the students have come (from the arrival model)."""
    arrivals = statistics.NormalDist(ARRIVAL_MEAN_MIN, ARRIVAL_SD_MIN)
    early = -max(arrivals.inv_cdf(LEAD_EARLY_SHARE), ARRIVAL_EARLIEST_MIN)
    return math.ceil(round(boot_min + pull_min + early, 6)), early


def early_share(lead_min: float, boot_min: float, pull_min: float) -> float:
    """The share of students who come before placeholders asked for at start - ``lead_min``
    are warm (boot + pull later)."""
    warm = boot_min + pull_min - lead_min  # minutes from the start
    if warm <= ARRIVAL_EARLIEST_MIN:
        return 0.0
    if warm > ARRIVAL_LATEST_MIN:
        return 1.0
    return statistics.NormalDist(ARRIVAL_MEAN_MIN, ARRIVAL_SD_MIN).cdf(warm)


def plan_steps(
    steps: dict[str, list[tuple[datetime, PoolTarget]]],
) -> list[tuple[float, int]]:
    """The pool's ``plan_span`` steps as (seconds from the week's start, replicas)."""
    return [
        ((moment - WEEK_START).total_seconds(), target.replicas) for moment, target in steps[POOL]
    ]


def mean_target(targets: Sequence[tuple[float, int]], span: float) -> float:
    """The time-weighted mean of a step function over ``[0, span)``."""
    total = 0.0
    for (moment, replicas), (following, _) in zip(targets, [*targets[1:], (span, 0)], strict=True):
        total += replicas * (min(following, span) - max(moment, 0.0))
    return total / span


def time_plan(catalog: Catalog, runs: int) -> list[float]:
    """Wall seconds of ``runs`` plans of the week: occurrences() plus plan_span()."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        week = occurrences(catalog, WEEK_START, WEEK_START + WEEK)
        plan_span(catalog, week, [], WEEK_START, WEEK_START + WEEK)
        seconds.append(time.perf_counter() - started)
    return seconds


# ---------------------------------------------------------------------------------------------
# The placeholder counts
# ---------------------------------------------------------------------------------------------

Present = Mapping[str, int]  # course slug -> its servers not leaving
# The cluster read as the scaler service reads it from the Kubernetes API: given the images a
# pool's courses use, the room free now on each ready node that has all of them, the requests
# of leaving servers not counted.
ReadFreeRoom = Callable[[Collection[str]], list[FreeRoom]]


class Placeholders(Protocol):
    """A strategy's placeholder count: asked every ``round_s`` seconds (0: every step) with
    who is on and a reader of the cluster's free room, it gives the placeholder Deployment's
    replicas. A server the culler will stop within ``lead`` seconds if it stays idle is
    leaving: not in ``present``, and its room reads as free."""

    @property
    def round_s(self) -> float: ...

    @property
    def lead(self) -> float: ...

    def __call__(self, now: float, present: Present, read_free: ReadFreeRoom) -> int: ...


@dataclass(frozen=True, slots=True)
class Steps:
    """A count that follows ``steps`` ((seconds, replicas) in time order), applied the step it
    changes; blind to who is on."""

    steps: Sequence[tuple[float, int]]
    round_s: float = 0.0
    lead: float = 0.0

    def __call__(self, now: float, present: Present, read_free: ReadFreeRoom) -> int:
        index = bisect.bisect_right(self.steps, now, key=lambda step: step[0])
        return self.steps[index - 1][1] if index else 0


@dataclass(slots=True)
class ScalerRounds:
    """campushub's scaler service: each round, the real ``plan_pools`` at that moment with who
    is on (servers not leaving) and the room free on the pool's warm nodes (ready, holding
    every image the pool's courses use; leaving servers' requests not counted).

    The week's occurrences are swept in start order as the rounds move on, so a round passes
    only those running or starting within the pool's lead: the ones ``plan_pools`` would count
    out of the whole week, in the same order (the tests check it gives the same target). Rounds
    must come in time order.
    """

    catalog: Catalog
    week: Sequence[Occurrence]
    round_s: float = 60.0
    _upcoming: list[Occurrence] = field(init=False)
    _cursor: int = field(init=False, default=0)
    _active: list[Occurrence] = field(init=False, default_factory=list)
    _last: float = field(init=False, default=-math.inf)
    rounds: int = field(init=False, default=0)  # plan_pools calls so far
    images: tuple[str, ...] = field(init=False)  # the images the pool's courses use

    def __post_init__(self) -> None:
        self._upcoming = sorted(self.week, key=lambda occurrence: occurrence.starts)
        self.images = tuple(
            sorted(
                {
                    course.image.name
                    for course in self.catalog.courses.values()
                    if course.pool.name == POOL
                }
            )
        )

    @property
    def lead(self) -> float:
        """The pool's lead, seconds."""
        return self.catalog.pools[POOL].lead.total_seconds()

    def active(self, at: datetime) -> list[Occurrence]:
        """The occurrences running at ``at`` or starting within the pool's lead after it."""
        lead = self.catalog.pools[POOL].lead
        upcoming = self._upcoming
        while self._cursor < len(upcoming) and upcoming[self._cursor].starts - lead <= at:
            self._active.append(upcoming[self._cursor])
            self._cursor += 1
        self._active = [occurrence for occurrence in self._active if at < occurrence.ends]
        return self._active

    def target(self, now: float, present: Present, free: Sequence[FreeRoom] = ()) -> PoolTarget:
        """The pool's target ``now`` seconds into the week."""
        if now < self._last:
            raise ValueError(f"rounds go forward in time: {now} s came after {self._last} s")
        self._last = now
        self.rounds += 1
        at = WEEK_START_UTC + timedelta(seconds=now)
        targets = plan_pools(self.catalog, self.active(at), at, present=present, free={POOL: free})
        return targets[POOL]

    def __call__(self, now: float, present: Present, read_free: ReadFreeRoom) -> int:
        return self.target(now, present, read_free(self.images)).replicas


# ---------------------------------------------------------------------------------------------
# The cluster
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class Node:
    """One node: its free room, what runs on it, and the images it has (ready time each)."""

    requested: float
    ready_at: float
    cpu_free: int
    memory_free: int
    servers: int = 0
    active: int = 0  # servers whose student is on
    leaving_cpu: int = 0  # requests of its leaving servers
    leaving_memory: int = 0
    placeholder: bool = False
    images: dict[str, float] = field(default_factory=dict)
    empty_since: float | None = None  # ready and holding nothing since
    served: bool = False  # has held a student's server


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one strategy cost over the week."""

    waits: list[float]  # per server start (a reused server is no start)
    node_hours: float
    peak_nodes: int
    nodes_started: int
    # Where the node-hours went, as sampled each step: booting, ready with a server whose
    # student is on, ready with only servers whose students have gone (for the culler), ready
    # holding only a placeholder, ready and empty (waiting for removal).
    booting_hours: float = 0.0
    serving_hours: float = 0.0
    culling_hours: float = 0.0
    placeholder_hours: float = 0.0
    empty_hours: float = 0.0
    # The placeholder count as set: (seconds, replicas) each time it changed.
    targets: list[tuple[float, int]] = field(default_factory=list)
    preemptions: int = 0  # placeholders a student's server displaced
    never_served: int = 0  # nodes started that never held a student's server


# What happens to a server, in this order when at the same moment.
RETURNS, LEAVES, GOES, STOPS = range(4)


def server_events(
    servers: Sequence[Server], cluster: Cluster, lead: float
) -> list[tuple[float, int, int]]:
    """(seconds, what, server index) in time order: its student returns (a later visit) or
    leaves; it starts leaving (the culler will stop it within ``lead`` if it stays idle: last
    activity + timeout <= now + lead, and its student gone); the culler stops it."""
    events = []
    for index, server in enumerate(servers):
        visits = server.visits
        for number, (came, left) in enumerate(visits):
            if number:
                events.append((came, RETURNS, index))
            events.append((left, LEAVES, index))
            if cluster.cull > 0:
                goes = max(left, left + cluster.cull - lead)
                if number + 1 == len(visits) or goes < visits[number + 1][0]:
                    events.append((goes, GOES, index))
        if server.stops < math.inf:
            events.append((server.stops, STOPS, index))
    events.sort()
    return events


def simulate(
    arrivals: Sequence[Arrival],
    placeholders: Placeholders,
    cluster: Cluster,
    warm_images: tuple[str, ...] = (),
    *,
    foresight: bool = False,
) -> Outcome:
    """Play ``arrivals`` against a pool whose placeholder count ``placeholders`` sets.

    ``warm_images``: the images a placeholder pod pulls where it lands (campushub's init
    containers); empty for plain pause pods. ``foresight``: the oracle's; a server that finds
    no room gets a node of its own at that instant (with boot and pull 0: no wait).
    """
    servers = make_servers(arrivals, cluster)
    events = server_events(servers, cluster, placeholders.lead)
    node_of: list[Node | None] = [None] * len(servers)
    student_on = [True] * len(servers)
    leaving = [False] * len(servers)
    stopped = [False] * len(servers)
    booting: deque[Node] = deque()
    ready: list[Node] = []
    node_seconds = 0.0
    nodes_started = 0
    never_served = 0
    preemptions = 0
    peak = 0
    states = [0, 0, 0, 0, 0]  # node-steps booting, serving, culling, placeholder only, empty
    waits: list[float] = []
    pending: list[int] = []  # servers waiting for a node, in start order
    present: Counter[str] = Counter()  # per course, servers not leaving
    pending_placeholders = 0
    running_placeholders = 0
    now = 0.0

    def read_free(images: Collection[str]) -> list[FreeRoom]:
        # As the scaler service reads the Kubernetes API and the hub's: ready nodes whose
        # images (pulled, not being pulled) include every one given; allocatable less the
        # requests of the pods on the node, a node-sized placeholder's included (which leaves
        # nothing), leaving servers' not.
        rooms = []
        for index, node in enumerate(ready):
            if any(node.images.get(image, math.inf) > now for image in images):
                continue
            held_cpu, held_memory = (
                (cluster.node_cpu, cluster.node_memory) if node.placeholder else (0, 0)
            )
            cpu = max(node.cpu_free + node.leaving_cpu - held_cpu, 0)
            memory = max(node.memory_free + node.leaving_memory - held_memory, 0)
            rooms.append(FreeRoom(f"node-{index}", cpu / 1000, memory * 2**20))
        return rooms

    def land_placeholder(node: Node, at: float) -> None:
        node.placeholder = True
        node.empty_since = None
        for image in warm_images:
            node.images[image] = min(node.images.get(image, math.inf), at + cluster.pull)

    target = placeholders(now, present, read_free)
    targets = [(0.0, target)]
    next_round = placeholders.round_s
    next_server = 0
    next_event = 0

    # A strategy that wants placeholders when the week starts has them already (steady state).
    for _ in range(target):
        node = Node(0.0, 0.0, cluster.node_cpu, cluster.node_memory)
        land_placeholder(node, -cluster.pull)
        ready.append(node)
        running_placeholders += 1
        nodes_started += 1

    while now <= cluster.span:
        before = now - cluster.step
        # Students come back to running servers and leave; servers start leaving; the culler
        # stops idle ones.
        while next_event < len(events) and events[next_event][0] <= now:
            moment, what, index = events[next_event]
            next_event += 1
            server, node = servers[index], node_of[index]
            if what == RETURNS:
                student_on[index] = True
                if node is not None:
                    node.active += 1
                if leaving[index]:
                    leaving[index] = False
                    present[server.course] += 1
                    if node is not None:
                        node.leaving_cpu -= server.cpu
                        node.leaving_memory -= server.memory
            elif what == LEAVES:
                student_on[index] = False
                if node is not None:
                    node.active -= 1
            elif what == GOES:
                leaving[index] = True
                present[server.course] -= 1
                if node is not None:
                    node.leaving_cpu += server.cpu
                    node.leaving_memory += server.memory
            else:
                stopped[index] = True
                if not leaving[index]:
                    present[server.course] -= 1
                if node is not None:
                    node.cpu_free += server.cpu
                    node.memory_free += server.memory
                    node.servers -= 1
                    if leaving[index]:
                        node.leaving_cpu -= server.cpu
                        node.leaving_memory -= server.memory
                    if node.servers == 0 and not node.placeholder:
                        node.empty_since = moment
        # Nodes finish booting.
        while booting and booting[0].ready_at <= now:
            node = booting.popleft()
            node.empty_since = node.ready_at
            ready.append(node)
        # Students arrive and ask for a server; from now on the hub counts them as on.
        while next_server < len(servers) and servers[next_server].starts <= now:
            pending.append(next_server)
            present[servers[next_server].course] += 1
            next_server += 1
        # The scaler sets the placeholder count (at its rounds); the Deployment keeps to it.
        if now >= next_round:
            target = placeholders(now, present, read_free)
            next_round = now + placeholders.round_s
            if target != targets[-1][1]:
                targets.append((now, target))
        excess = running_placeholders + pending_placeholders - target
        if excess < 0:
            pending_placeholders += -excess  # the Deployment creates the missing pods
        elif excess > 0:
            dropped = min(excess, pending_placeholders)  # unscheduled pods go first
            pending_placeholders -= dropped
            excess -= dropped
            for node in reversed(ready):
                if excess == 0:
                    break
                if node.placeholder:
                    node.placeholder = False
                    running_placeholders -= 1
                    excess -= 1
                    if node.servers == 0:
                        node.empty_since = now
        # Waiting servers are placed, preempting placeholders if they must.
        if pending:
            still: list[int] = []
            no_room: set[tuple[int, int]] = set()
            for index in pending:
                if stopped[index]:  # never happens here: nobody waits an hour
                    continue
                server = servers[index]
                size = (server.cpu, server.memory)
                node = None if size in no_room else _best_node(ready, server, cluster)
                if node is None and foresight:
                    node = Node(server.starts, server.starts, cluster.node_cpu, cluster.node_memory)
                    ready.append(node)
                    nodes_started += 1
                if node is None and size not in no_room:
                    node = _placeholder_node(ready, server.image)
                    if node is not None:
                        node.placeholder = False  # preempted; its Deployment makes another
                        running_placeholders -= 1
                        pending_placeholders += 1
                        preemptions += 1
                if node is None:
                    no_room.add(size)
                    still.append(index)
                    continue
                placed = max(server.starts, before, node.ready_at)
                image_at = node.images.get(server.image)
                if image_at is None:
                    image_at = node.images[server.image] = placed + cluster.pull
                waits.append(max(placed, image_at) - server.starts)
                node.cpu_free -= server.cpu
                node.memory_free -= server.memory
                node.servers += 1
                node.active += student_on[index]
                if leaving[index]:
                    node.leaving_cpu += server.cpu
                    node.leaving_memory += server.memory
                node.served = True
                node.empty_since = None
                node_of[index] = node
            pending = still
        # Waiting placeholders land on empty ready nodes.
        if pending_placeholders:
            for node in ready:
                if pending_placeholders == 0:
                    break
                if not node.placeholder and node.servers == 0:
                    land_placeholder(node, max(before, node.ready_at))
                    pending_placeholders -= 1
                    running_placeholders += 1
        # The cluster autoscaler adds what the booting nodes cannot hold.
        if pending or pending_placeholders:
            cpu = sum(servers[index].cpu for index in pending)
            memory = sum(servers[index].memory for index in pending)
            for_servers = max(-(-cpu // cluster.node_cpu), -(-memory // cluster.node_memory))
            for _ in range(pending_placeholders + for_servers - len(booting)):
                booting.append(Node(now, now + cluster.boot, cluster.node_cpu, cluster.node_memory))
                nodes_started += 1
        # ... and removes nodes idle for long enough.
        keep = []
        for node in ready:
            since = node.empty_since
            if since is not None and since + cluster.idle <= now:
                node_seconds += since + cluster.idle - node.requested
                never_served += not node.served
            else:
                keep.append(node)
                if node.active:
                    states[1] += 1
                elif node.servers:
                    states[2] += 1
                else:
                    states[3 if node.placeholder else 4] += 1
        ready = keep
        states[0] += len(booting)
        peak = max(peak, len(ready) + len(booting))
        now += cluster.step
    for node in (*ready, *booting):
        node_seconds += cluster.span - node.requested
        never_served += not node.served
    booting_h, serving_h, culling_h, placeholder_h, empty_h = (
        n * cluster.step / 3600 for n in states
    )
    return Outcome(
        waits,
        node_seconds / 3600,
        peak,
        nodes_started,
        booting_h,
        serving_h,
        culling_h,
        placeholder_h,
        empty_h,
        targets,
        preemptions,
        never_served,
    )


def _best_node(ready: list[Node], server: Server, cluster: Cluster) -> Node | None:
    # The node with room that has (or is pulling) the image, then the fullest.
    best = None
    best_key = (False, -1.0)
    for node in ready:
        if node.placeholder or node.cpu_free < server.cpu or node.memory_free < server.memory:
            continue
        used = (1 - node.cpu_free / cluster.node_cpu) + (1 - node.memory_free / cluster.node_memory)
        key = (server.image in node.images, used)
        if key > best_key:
            best, best_key = node, key
    return best


def _placeholder_node(ready: list[Node], image: str) -> Node | None:
    # A node holding a placeholder, one whose image is ready first.
    found = [node for node in ready if node.placeholder]
    if not found:
        return None
    return min(found, key=lambda node: node.images.get(image, math.inf))


def oracle(arrivals: Sequence[Arrival], cluster: Cluster) -> Outcome:
    """Perfect foresight: each node appears, ready with every image, the instant a server finds
    no room; the same packing, culler and idle removal as the other strategies, no
    placeholder."""
    instant = dataclasses.replace(cluster, boot=0.0, pull=0.0)
    return simulate(arrivals, Steps([(0.0, 0)]), instant, foresight=True)


def ideal_packing(arrivals: Sequence[Arrival], cluster: Cluster) -> tuple[float, int]:
    """Node-hours and peak of exactly the nodes the running servers need (from their start
    until the culler stops them), packed ideally at every instant, with no boot and no idle
    time: a lower bound, not a strategy."""
    changes: list[tuple[float, int, int]] = []
    for server in make_servers(arrivals, cluster):
        changes.append((server.starts, server.cpu, server.memory))
        changes.append((min(server.stops, cluster.span), -server.cpu, -server.memory))
    changes.sort(key=lambda change: change[0])
    cpu = memory = 0
    nodes = peak = 0
    last = 0.0
    node_seconds = 0.0
    for moment, cpu_change, memory_change in changes:
        node_seconds += nodes * (moment - last)
        last = moment
        cpu += cpu_change
        memory += memory_change
        nodes = max(-(-cpu // cluster.node_cpu), -(-memory // cluster.node_memory))
        peak = max(peak, nodes)
    return node_seconds / 3600, peak


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table (waits None: a bound, not a strategy)."""

    name: str
    p50: float | None
    p95: float | None
    worst: float | None
    over_goal: float | None  # the share of server starts waiting longer than the goal's p95
    node_hours: float
    peak: int
    started: int | None
    outcome: Outcome | None = None

    @classmethod
    def of(cls, name: str, outcome: Outcome) -> Row:
        waits = outcome.waits
        return cls(
            name,
            percentile(waits, 0.5),
            percentile(waits, 0.95),
            max(waits, default=0.0),
            sum(wait > P95_GOAL_S for wait in waits) / max(len(waits), 1),
            outcome.node_hours,
            outcome.peak_nodes,
            outcome.nodes_started,
            outcome,
        )


def print_table(rows: Sequence[Row], oracle_hours: float, ideal_hours: float) -> None:
    goal = f"{P95_GOAL_S:g}s"
    print(
        f"  {'strategy':<38} {'p50 s':>6} {'p95 s':>6} {'max s':>6} {'>' + goal:>6} {'node-h':>7}"
        f" {'x oracle':>8} {'x ideal':>7} {'peak':>5} {'nodes':>6}"
    )
    for row in rows:
        waits = [
            "-" if value is None else f"{value:.0f}" for value in (row.p50, row.p95, row.worst)
        ]
        over = "-" if row.over_goal is None else f"{row.over_goal:.1%}"
        started = "-" if row.started is None else str(row.started)
        print(
            f"  {row.name:<38} {waits[0]:>6} {waits[1]:>6} {waits[2]:>6} {over:>6}"
            f" {row.node_hours:7.1f}"
            f" {row.node_hours / oracle_hours:8.2f} {row.node_hours / ideal_hours:7.2f}"
            f" {row.peak:5d} {started:>6}"
        )


def verdict(met: bool) -> str:
    return "pass" if met else "FAIL"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=11_000, help="students on campus")
    parser.add_argument("--courses", type=int, default=300, help="courses in the catalog")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (campus, arrivals)")
    parser.add_argument("--boot-min", type=float, default=5, help="node boot time, minutes")
    parser.add_argument("--pull-min", type=float, default=2, help="image pull time, minutes")
    parser.add_argument("--idle-min", type=float, default=10, help="idle node removal, minutes")
    parser.add_argument(
        "--cull-min",
        type=float,
        default=60,
        help="the idle culler's timeout, minutes (CAMPUSHUB_CULL_TIMEOUT's default: 60; 0: off)",
    )
    parser.add_argument(
        "--cull-every-min",
        type=float,
        default=5,
        help="minutes between the idle culler's checks (CAMPUSHUB_CULL_EVERY's default: 5)",
    )
    parser.add_argument(
        "--lead-min",
        type=int,
        default=None,
        help="the pool's lead, minutes (default: boot + pull + how early 5%% of students come)",
    )
    parser.add_argument("--pool-min", type=int, default=0, help="the pool's min")
    parser.add_argument("--pool-max", type=int, default=100, help="the pool's max")
    parser.add_argument("--node-cpu", type=int, default=8, help="allocatable CPU per node")
    parser.add_argument("--node-memory-gi", type=int, default=64, help="allocatable GiB per node")
    parser.add_argument("--step-s", type=float, default=10, help="simulation step, seconds")
    parser.add_argument(
        "--round-s", type=float, default=60, help="campushub's scaler: seconds between rounds"
    )
    parser.add_argument(
        "--what-if-cut-min",
        type=int,
        default=int(ARRIVAL_LATEST_MIN),
        help="what-if: events end this long after they start, minutes",
    )
    parser.add_argument("--plan-runs", type=int, default=7, help="timed plans (median reported)")
    options = parser.parse_args(argv)
    chosen_lead, early_min = operator_lead(options.boot_min, options.pull_min)
    if options.lead_min is None:
        options.lead_min = chosen_lead

    rng = random.Random(options.seed)
    specs = make_courses(options.courses, options.students, rng)
    enrollment = {spec.slug: spec.enrollment for spec in specs}
    pool_settings = {
        "pool_min": options.pool_min,
        "pool_max": options.pool_max,
        "node_cpu": options.node_cpu,
        "node_memory_gi": options.node_memory_gi,
    }
    catalog = parse_catalog(
        catalog_text(specs, lead_min=options.lead_min, **pool_settings), "<campus>"
    )
    no_lead = parse_catalog(catalog_text(specs, lead_min=0, **pool_settings), "<no lead>")
    end = WEEK_START + WEEK
    week = occurrences(catalog, WEEK_START, end)
    arrivals = make_arrivals(catalog, enrollment, week, rng)
    cluster = Cluster(
        node_cpu=options.node_cpu * 1000,
        node_memory=options.node_memory_gi * 1024,
        boot=options.boot_min * 60,
        pull=options.pull_min * 60,
        idle=options.idle_min * 60,
        step=options.step_s,
        span=WEEK.total_seconds(),
        cull=options.cull_min * 60,
        cull_every=options.cull_every_min * 60,
    )
    servers = make_servers(arrivals, cluster)
    reused = len(arrivals) - len(servers)
    idle_after = [server.stops - server.visits[-1][1] for server in servers]

    plan_seconds = time_plan(catalog, options.plan_runs)
    plan_s = statistics.median(plan_seconds)
    # The chart's plan: plan_span of the week, nobody counted as on.
    chart = plan_span(catalog, week, [], WEEK_START, end)
    chart_targets = plan_steps(chart)
    chart_mean = mean_target(chart_targets, cluster.span)
    chart_peak = max(target.need for _, target in chart[POOL])
    capped = sum(target.need > target.replicas for _, target in chart[POOL])
    berkeley = Steps(
        plan_steps(plan_span(no_lead, occurrences(no_lead, WEEK_START, end), [], WEEK_START, end))
    )
    cut_after = timedelta(minutes=options.what_if_cut_min)
    cut = [dataclasses.replace(o, ends=min(o.ends, o.starts + cut_after)) for o in week]
    images = tuple(catalog.images)

    shapes = Counter(spec.shape.name for spec in specs)
    patterns = Counter(spec.pattern for spec in specs)
    sizes = sorted(enrollment.values())
    exams = [o for o in week if o.exam]
    print(
        f"campus    {options.students} students, {len(specs)} courses (seed {options.seed}):"
        f" {', '.join(f'{count} {name}' for name, count in shapes.items())};"
        f" {', '.join(f'{count} {name}' for name, count in patterns.items())}"
    )
    print(
        f"          {sum(sizes)} enrollments, per course median {statistics.median(sizes):.0f},"
        f" largest {sizes[-1]}, smallest {sizes[0]}"
    )
    print(
        f"week      {WEEK_START.date()} to {(end - timedelta(days=1)).date()}:"
        f" {len(week)} meetings, {len(exams)} exam(s), {len(arrivals)} students come"
        f" (catalog expects {PLANNED_ATTENDANCE:.0%} of enrolled,"
        f" actual {ATTENDANCE[0]:.0%}-{ATTENDANCE[1]:.0%} per meeting)"
    )
    for exam in exams:
        (reason,) = plan_pools(catalog, [exam], exam.starts)[POOL].reasons
        print(
            f"  exam    {exam.source} for {format_duration(exam.duration)}: {reason.people}"
            f" expected at {reason.cpu:g} CPU / {format_memory(reason.memory)} each (limits)"
            f" = {reason.share:.1f} node(s)"
        )
    print(
        f"pool      {POOL}: {options.node_cpu} CPU / {options.node_memory_gi}Gi nodes,"
        f" min {options.pool_min}, max {options.pool_max}, lead {options.lead_min}m;"
        f" idle removal {options.idle_min:g}m; step {options.step_s:g}s"
    )
    if cluster.cull > 0:
        print(
            f"culler    servers outlive their students: last activity when the student leaves,"
            f" stopped once idle {options.cull_min:g}m (CAMPUSHUB_CULL_TIMEOUT"
            f" {cluster.cull:g}), checked every {options.cull_every_min:g}m"
            f" (CAMPUSHUB_CULL_EVERY {cluster.cull_every:g}): each server runs"
            f" {min(idle_after) / 60:.0f}-{max(idle_after) / 60:.0f}m after its student left;"
            f" {len(servers)} server starts, {reused} reused (a student back while theirs ran)"
        )
    else:
        print(
            f"culler    off: servers run until the week ends; {len(servers)} server starts,"
            f" {reused} reused"
        )
    late = early_share(options.lead_min, options.boot_min, options.pull_min)
    operator = (
        f"boot {options.boot_min:g}m + pull {options.pull_min:g}m + {early_min:.1f}m (only"
        f" {LEAD_EARLY_SHARE:.0%} of students come earlier), rounded up"
    )
    source = (
        f"the operator's choice: {operator}"
        if options.lead_min == chosen_lead
        else f"--lead-min; the operator's choice is {chosen_lead}m = {operator}"
    )
    print(
        f"lead      {options.lead_min}m, {source}; placeholders asked for at"
        f" start-{options.lead_min}m are warm at"
        f" start{options.boot_min + options.pull_min - options.lead_min:+g}m, after"
        f" {late:.1%} of the students have come"
    )
    print(
        f"chart     plan_span of the week (nobody on): {len(chart_targets)} steps, peak need"
        f" {chart_peak} node(s) ({capped} step(s) capped at max), time-weighted mean"
        f" {chart_mean:.1f}"
    )
    print(
        f"          occurrences() + plan_span() for the week: median {plan_s:.3f} s"
        f" over {options.plan_runs} runs"
    )

    started = time.perf_counter()
    rounds = ScalerRounds(catalog, week, options.round_s)
    rounds_started = time.perf_counter()
    campus = simulate(arrivals, rounds, cluster, images)
    campus_s = time.perf_counter() - rounds_started
    campus_mean = mean_target(campus.targets, cluster.span)
    fixed_count = round(campus_mean)
    perfect = oracle(arrivals, cluster)
    ideal_hours, ideal_peak = ideal_packing(arrivals, cluster)
    rows = [
        Row.of("1 reactive (autoscaler only)", simulate(arrivals, Steps([(0.0, 0)]), cluster)),
        Row.of(
            f"2 fixed: {fixed_count} placeholder node(s)",
            simulate(arrivals, Steps([(0.0, fixed_count)]), cluster),
        ),
        Row.of("3 berkeley: events sized once, no lead", simulate(arrivals, berkeley, cluster)),
        Row.of(f"4 campushub: rounds every {options.round_s:g}s", campus),
        Row.of("5 oracle: perfect foresight", perfect),
        Row("6 ideal packing (lower bound)", None, None, None, None, ideal_hours, ideal_peak, None),
    ]
    what_if = Row.of(
        f"  events cut at start+{options.what_if_cut_min}m",
        simulate(arrivals, ScalerRounds(catalog, cut, options.round_s), cluster, images),
    )
    simulated_s = time.perf_counter() - started
    print(
        f"campushub {rounds.rounds} rounds of plan_pools every {options.round_s:g}s with who is"
        f" on and the room free on warm nodes, servers the culler stops within the lead"
        f" ({options.lead_min}m) counted as leaving (campushub's whole week"
        f" simulated in {campus_s:.1f} s); target time-weighted mean {campus_mean:.1f},"
        f" peak {max(replicas for _, replicas in campus.targets)}; the fixed strategy holds"
        f" {fixed_count}"
    )
    print(
        f"strategies  wait per server start (and the share waiting over {P95_GOAL_S:g} s),"
        f" node-hours over the week, peak and started nodes"
        f" (simulated in {simulated_s:.1f} s)"
    )
    print_table(rows, perfect.node_hours, ideal_hours)
    print(
        f"what-if   campushub's rounds fed the same events ending at"
        f" start+{options.what_if_cut_min}m (not what it does):"
    )
    print_table([what_if], perfect.node_hours, ideal_hours)
    print(
        "node-hours by node state: booting, serving students (a server whose student is on),"
        " culling (only servers whose students have gone), holding only a placeholder, empty;"
        " placeholders preempted; nodes that never served a student"
    )
    print(
        f"  {'':<38} {'boot':>6} {'serve':>6} {'cull':>6} {'hold':>6} {'empty':>6}"
        f" {'preempt':>8} {'unused':>7}"
    )
    for row in [*rows[:5], what_if]:
        assert row.outcome is not None
        outcome = row.outcome
        print(
            f"  {row.name:<38} {outcome.booting_hours:6.1f} {outcome.serving_hours:6.1f}"
            f" {outcome.culling_hours:6.1f} {outcome.placeholder_hours:6.1f}"
            f" {outcome.empty_hours:6.1f} {outcome.preemptions:8d} {outcome.never_served:7d}"
        )
    print(
        f"  {rows[5].name:<38} {0:6.1f} {ideal_hours:6.1f} {'-':>6} {0:6.1f} {0:6.1f}"
        f" {'-':>8} {'-':>7}"
    )

    campus_row = rows[3]
    ratio = campus.node_hours / perfect.node_hours
    print(
        f"oracle    perfect foresight (nodes ready at once with every image, same packing,"
        f" culler and {options.idle_min:g}m idle removal): {perfect.node_hours:.1f} node-hours,"
        f" p95 wait"
        f" {percentile(perfect.waits, 0.95):g} s; campushub is {ratio:.2f}x it"
    )
    print(
        f"bound     ideal packing (servers, until culled, re-packed perfectly, no boot, no idle):"
        f" {ideal_hours:.1f} node-hours; campushub is {campus.node_hours / ideal_hours:.2f}x it,"
        f" the oracle {perfect.node_hours / ideal_hours:.2f}x"
    )
    print(
        f"goal      campushub p95 wait at most {P95_GOAL_S:g} s:"
        f" {verdict(campus_row.p95 is not None and campus_row.p95 <= P95_GOAL_S)}"
    )
    print(
        f"goal      campushub node-hours at most {NODE_HOURS_GOAL:g}x the oracle's"
        f" (perfect foresight): {verdict(ratio <= NODE_HOURS_GOAL)}"
    )
    print(f"goal      planning the week under {PLAN_GOAL_S:g} s: {verdict(plan_s < PLAN_GOAL_S)}")
    print(f"python    {sys.version.split()[0]} ({sys.executable})")
    command = ["python", "benchmarks/scaler_sim.py", *sys.argv[1:]]
    print(f"reproduce {shlex.join(command)}  (from the repository root)")
    print(
        f"result: campus_p95_wait_s={campus_row.p95:.1f} campus_node_hours_ratio={ratio:.3f}"
        f" reactive_p95_wait_s={rows[0].p95:.1f} plan_week_s={plan_s:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
