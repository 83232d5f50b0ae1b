"""A campus week on a simulated cluster: how long students wait for a server, and what it costs.

Builds a campus-sized catalog (``--courses`` courses, default 300, derived from the demo's three
shapes) for ``--students`` students (default 11,000), parses it with the real
``campushub.catalog.parse_catalog``, unrolls one teaching week with the real
``campushub.schedule.occurrences`` and plans it with the real ``campushub.demand.plan_span``.
Then it plays the same week of student arrivals against one node pool under five strategies:

1. **reactive**: cluster-autoscaler only, no placeholders;
2. **fixed**: a constant number of node-sized placeholders (the week's mean campushub target),
   plain pause pods;
3. **berkeley**: calendar events without look-ahead: the same sizing as campushub (the real
   planner on the same catalog with ``lead: 0m``), so placeholders appear when an event starts
   and go when it ends; hand-entered counts, so plain pause pods that warm no image;
4. **campushub**: the real plan (placeholders from the pool's ``lead`` before an event until
   it ends), with placeholder pods that pull the pool's course images as init containers;
5. **oracle**: exactly the nodes the students present need at every instant, no wait.

For each: p50, p95 and maximum wait per server start, and node-hours. Goal: campushub's p95
wait at most 30 s with at most 1.15x the oracle's node-hours. Planning the week (``occurrences``
plus ``plan_span``) is timed too; goal under 1 s.

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
- **Students.** Each arrives at the start + N(-2 min, 4 min), clipped to -15..+10 min, and
  stays until the end + U(0, 5) min. A server needs the course's guarantee of CPU and memory
  (the limit during an exam, Guaranteed QoS), and a node holds whatever fits in both.
- **Nodes.** One pool of ``--node-cpu`` CPU / ``--node-memory-gi`` GiB allocatable. A node is
  ready ``--boot-min`` after it is requested. A server on a node without its course's image
  waits ``--pull-min`` more (the node keeps the image; pulls of different images run side by
  side; a second server of an image being pulled waits for the same pull).
- **Scheduling** (every ``--step-s``, like the autoscaler's 10 s scan): waiting servers in
  arrival order go to the ready node with room that already has (or is pulling) their image,
  then the fullest (packing, like z2jh's user scheduler); with no room anywhere they preempt a
  node-sized placeholder at once. A preempted placeholder pod is recreated by its Deployment
  and waits like any pod (z2jh's user placeholders).
- **Cluster autoscaler.** When pods wait and the booting nodes cannot hold them, it requests
  the difference (placeholders one node each, servers packed by CPU and memory). A ready node
  with no server and no placeholder for ``--idle-min`` is removed. No node-count cap.
- **Placeholders.** The strategy's count is applied at once (scale down drops waiting
  placeholder pods first, then running ones, whose nodes then idle). campushub's placeholder
  pods pull every pool image as init containers: a node a campushub placeholder lands on has
  them ``--pull-min`` after it lands, so a student arriving later starts at once.
- **Costs.** Wait = arrival to server running (placement, then image). Node-hours = every node's
  life from request (booting included) to removal, over the week; the oracle's = the integral
  of max(ceil(CPU / node CPU), ceil(memory / node memory)) of the servers present (ideal
  packing, no boot, no idle).

Besides the table, it prints where each strategy's node-hours went (booting, serving students,
holding only a placeholder, empty before removal) and one what-if: under this model a preempted
placeholder comes back on a new node, so a placeholder count that lasts until an event *ends*
is capacity on top of the students already running; the what-if line is the real planner fed
the same events cut at start + ``--what-if-cut-min`` (default 10, the end of arrivals), to
measure what that costs. It is not what campushub does.

Run from the repository root::

    python benchmarks/scaler_sim.py [--students 11000] [--courses 300] [--seed 2026]
        [--boot-min 5] [--pull-min 2] [--idle-min 10] [--lead-min 20] [--pool-min 0]
        [--pool-max 100] [--node-cpu 8] [--node-memory-gi 64] [--step-s 10]

The pool's ``lead`` (20m) is what an operator would choose: boot + pull + the ~10 minutes
before a start in which nearly all early students come. ``min`` is 0: the campus is empty at
night, and one node more all week would cost 168 node-hours. ``max`` is well above the plan's
peak.

The last line is machine-readable:
``result: campus_p95_wait_s=<x> campus_node_hours_ratio=<y> reactive_p95_wait_s=<z>
plan_week_s=<t>`` with the ratio campushub's node-hours over the oracle's.
"""

from __future__ import annotations

import argparse
import dataclasses
import heapq
import math
import random
import shlex
import statistics
import sys
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from campushub.catalog import Catalog, parse_catalog
from campushub.demand import PoolTarget, plan_pools, plan_span
from campushub.schedule import Occurrence, occurrences
from campushub.units import format_duration, format_memory

P95_GOAL_S = 30.0
NODE_HOURS_GOAL = 1.15
PLAN_GOAL_S = 1.0

LA = ZoneInfo("America/Los_Angeles")
WEEK_START = datetime(2026, 10, 19, tzinfo=LA)  # a teaching Monday, no holiday, no DST change
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
    """One server start: when the student comes and goes, what it needs (millicores, MiB)."""

    at: float
    leaves: float
    cpu: int
    memory: int
    image: str


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
    """Every server start of the week, in arrival order."""
    start = WEEK_START
    arrivals: list[Arrival] = []
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
        for _ in range(people):
            offset = rng.gauss(ARRIVAL_MEAN_MIN, ARRIVAL_SD_MIN)
            offset = min(max(offset, ARRIVAL_EARLIEST_MIN), ARRIVAL_LATEST_MIN)
            leaves = ends + rng.uniform(0, STAY_AFTER_MAX_MIN) * 60
            arrivals.append(
                Arrival(begins + offset * 60, leaves, millicores, mebibytes, course.image.name)
            )
    arrivals.sort(key=lambda arrival: arrival.at)
    return arrivals


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
    placeholder: bool = False
    images: dict[str, float] = field(default_factory=dict)
    empty_since: float | None = None  # ready and holding nothing since


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one strategy cost over the week."""

    waits: list[float]
    node_hours: float
    peak_nodes: int
    nodes_started: int
    # Where the node-hours went, as sampled each step: booting, ready with servers, ready
    # holding only a placeholder, ready and empty (waiting for removal).
    booting_hours: float = 0.0
    serving_hours: float = 0.0
    placeholder_hours: float = 0.0
    empty_hours: float = 0.0


def simulate(
    arrivals: Sequence[Arrival],
    targets: Sequence[tuple[float, int]],
    cluster: Cluster,
    warm_images: tuple[str, ...] = (),
) -> Outcome:
    """Play ``arrivals`` against a pool whose placeholder count follows ``targets``.

    ``warm_images``: the images a placeholder pod pulls where it lands (campushub's init
    containers); empty for plain pause pods.
    """
    booting: deque[Node] = deque()
    ready: list[Node] = []
    node_seconds = 0.0
    nodes_started = 0
    peak = 0
    states = [0, 0, 0, 0]  # node-steps booting, serving, placeholder only, empty
    waits: list[float] = []
    departures: list[tuple[float, int, Node, int, int]] = []
    pending: list[Arrival] = []
    pending_placeholders = 0
    running_placeholders = 0
    target_index = 0
    next_arrival = 0
    sequence = 0

    def land_placeholder(node: Node, at: float) -> None:
        node.placeholder = True
        node.empty_since = None
        for image in warm_images:
            node.images[image] = min(node.images.get(image, math.inf), at + cluster.pull)

    # A strategy that wants placeholders when the week starts has them already (steady state).
    for _ in range(targets[0][1] if targets[0][0] <= 0 else 0):
        node = Node(0.0, 0.0, cluster.node_cpu, cluster.node_memory)
        land_placeholder(node, -cluster.pull)
        ready.append(node)
        running_placeholders += 1
        nodes_started += 1

    now = 0.0
    while now <= cluster.span:
        before = now - cluster.step
        # Servers leave.
        while departures and departures[0][0] <= now:
            leaves, _, node, cpu, memory = heapq.heappop(departures)
            node.cpu_free += cpu
            node.memory_free += memory
            node.servers -= 1
            if node.servers == 0 and not node.placeholder:
                node.empty_since = leaves
        # Nodes finish booting.
        while booting and booting[0].ready_at <= now:
            node = booting.popleft()
            node.empty_since = node.ready_at
            ready.append(node)
        # The scaler sets the placeholder count.
        while target_index + 1 < len(targets) and targets[target_index + 1][0] <= now:
            target_index += 1
        excess = running_placeholders + pending_placeholders - targets[target_index][1]
        if excess < 0:
            pending_placeholders += -excess  # the Deployment creates the missing pods
        elif excess > 0:
            dropped = min(excess, pending_placeholders)
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
        # Students arrive; waiting servers are placed, preempting placeholders if they must.
        while next_arrival < len(arrivals) and arrivals[next_arrival].at <= now:
            pending.append(arrivals[next_arrival])
            next_arrival += 1
        if pending:
            still: list[Arrival] = []
            no_room: set[tuple[int, int]] = set()
            for arrival in pending:
                size = (arrival.cpu, arrival.memory)
                node = None if size in no_room else _best_node(ready, arrival, cluster)
                if node is None and size not in no_room:
                    node = _placeholder_node(ready, arrival.image)
                    if node is not None:
                        node.placeholder = False  # preempted; its Deployment makes another
                        running_placeholders -= 1
                        pending_placeholders += 1
                if node is None:
                    no_room.add(size)
                    still.append(arrival)
                    continue
                placed = max(arrival.at, before, node.ready_at)
                image_at = node.images.get(arrival.image)
                if image_at is None:
                    image_at = node.images[arrival.image] = placed + cluster.pull
                waits.append(max(placed, image_at) - arrival.at)
                node.cpu_free -= arrival.cpu
                node.memory_free -= arrival.memory
                node.servers += 1
                node.empty_since = None
                sequence += 1
                heapq.heappush(
                    departures, (arrival.leaves, sequence, node, arrival.cpu, arrival.memory)
                )
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
            cpu = sum(arrival.cpu for arrival in pending)
            memory = sum(arrival.memory for arrival in pending)
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
            else:
                keep.append(node)
                states[1 if node.servers else 2 if node.placeholder else 3] += 1
        ready = keep
        states[0] += len(booting)
        peak = max(peak, len(ready) + len(booting))
        now += cluster.step
    for node in (*ready, *booting):
        node_seconds += cluster.span - node.requested
    booting_h, serving_h, placeholder_h, empty_h = (n * cluster.step / 3600 for n in states)
    return Outcome(
        waits,
        node_seconds / 3600,
        peak,
        nodes_started,
        booting_h,
        serving_h,
        placeholder_h,
        empty_h,
    )


def _best_node(ready: list[Node], arrival: Arrival, cluster: Cluster) -> Node | None:
    # The node with room that has (or is pulling) the image, then the fullest.
    best = None
    best_key = (False, -1.0)
    for node in ready:
        if node.placeholder or node.cpu_free < arrival.cpu or node.memory_free < arrival.memory:
            continue
        used = (1 - node.cpu_free / cluster.node_cpu) + (1 - node.memory_free / cluster.node_memory)
        key = (arrival.image in node.images, used)
        if key > best_key:
            best, best_key = node, key
    return best


def _placeholder_node(ready: list[Node], image: str) -> Node | None:
    # A node holding a placeholder, one whose image is ready first.
    found = [node for node in ready if node.placeholder]
    if not found:
        return None
    return min(found, key=lambda node: node.images.get(image, math.inf))


def oracle(arrivals: Sequence[Arrival], cluster: Cluster) -> tuple[float, int]:
    """Node-hours and peak of exactly the nodes the servers present need, packed ideally."""
    changes: list[tuple[float, int, int]] = []
    for arrival in arrivals:
        changes.append((arrival.at, arrival.cpu, arrival.memory))
        changes.append((arrival.leaves, -arrival.cpu, -arrival.memory))
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
    """One strategy's line of the table."""

    name: str
    p50: float
    p95: float
    worst: float
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
            outcome.node_hours,
            outcome.peak_nodes,
            outcome.nodes_started,
            outcome,
        )


def print_table(rows: Sequence[Row], oracle_hours: float) -> None:
    print(
        f"  {'strategy':<36} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'node-h':>8}"
        f" {'x oracle':>8} {'peak':>5} {'nodes':>6}"
    )
    for row in rows:
        started = "" if row.started is None else str(row.started)
        print(
            f"  {row.name:<36} {row.p50:7.0f} {row.p95:7.0f} {row.worst:7.0f}"
            f" {row.node_hours:8.1f} {row.node_hours / oracle_hours:8.2f} {row.peak:5d}"
            f" {started:>6}"
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
    parser.add_argument("--lead-min", type=int, default=20, help="the pool's lead, minutes")
    parser.add_argument("--pool-min", type=int, default=0, help="the pool's min")
    parser.add_argument("--pool-max", type=int, default=100, help="the pool's max")
    parser.add_argument("--node-cpu", type=int, default=8, help="allocatable CPU per node")
    parser.add_argument("--node-memory-gi", type=int, default=64, help="allocatable GiB per node")
    parser.add_argument("--step-s", type=float, default=10, help="simulation step, seconds")
    parser.add_argument(
        "--what-if-cut-min",
        type=int,
        default=int(ARRIVAL_LATEST_MIN),
        help="what-if: events end this long after they start, minutes",
    )
    parser.add_argument("--plan-runs", type=int, default=7, help="timed plans (median reported)")
    options = parser.parse_args(argv)

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
    )

    plan_seconds = time_plan(catalog, options.plan_runs)
    plan_s = statistics.median(plan_seconds)
    campus_plan = plan_span(catalog, week, [], WEEK_START, end)
    campus_targets = plan_steps(campus_plan)
    berkeley_targets = plan_steps(
        plan_span(no_lead, occurrences(no_lead, WEEK_START, end), [], WEEK_START, end)
    )
    cut_after = timedelta(minutes=options.what_if_cut_min)
    cut = [dataclasses.replace(o, ends=min(o.ends, o.starts + cut_after)) for o in week]
    what_if_targets = plan_steps(plan_span(catalog, cut, [], WEEK_START, end))
    mean_plan = mean_target(campus_targets, cluster.span)
    fixed_count = round(mean_plan)
    peak_need = max(target.need for _, target in campus_plan[POOL])
    capped = sum(target.need > target.replicas for _, target in campus_plan[POOL])
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
        f" {len(week)} meetings, {len(exams)} exam(s), {len(arrivals)} server starts"
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
        f" min {options.pool_min}, max {options.pool_max}, lead {options.lead_min}m"
        f" (boot {options.boot_min:g}m + pull {options.pull_min:g}m + early arrivals);"
        f" idle removal {options.idle_min:g}m; step {options.step_s:g}s"
    )
    print(
        f"plan      {len(campus_targets)} steps, peak need {peak_need} node(s)"
        f" ({capped} step(s) capped at max), time-weighted mean {mean_plan:.1f};"
        f" the fixed strategy holds {fixed_count}"
    )
    print(
        f"          occurrences() + plan_span() for the week: median {plan_s:.3f} s"
        f" over {options.plan_runs} runs"
    )

    started = time.perf_counter()
    oracle_hours, oracle_peak = oracle(arrivals, cluster)
    rows = [
        Row.of("1 reactive (autoscaler only)", simulate(arrivals, [(0.0, 0)], cluster)),
        Row.of(
            f"2 fixed: {fixed_count} placeholder nodes",
            simulate(arrivals, [(0.0, fixed_count)], cluster),
        ),
        Row.of("3 berkeley: events, no lead", simulate(arrivals, berkeley_targets, cluster)),
        Row.of(
            "4 campushub: plan_span, warm images",
            simulate(arrivals, campus_targets, cluster, images),
        ),
        Row("5 oracle", 0.0, 0.0, 0.0, oracle_hours, oracle_peak, None),
    ]
    what_if = Row.of(
        f"  events cut at start+{options.what_if_cut_min}m",
        simulate(arrivals, what_if_targets, cluster, images),
    )
    simulated_s = time.perf_counter() - started
    print(
        f"strategies  wait per server start, node-hours over the week, peak and started nodes"
        f" (simulated in {simulated_s:.1f} s)"
    )
    print_table(rows, oracle_hours)
    print(
        f"what-if   campushub's planner fed the same events ending at"
        f" start+{options.what_if_cut_min}m (not what it does today):"
    )
    print_table([what_if], oracle_hours)
    print("node-hours by node state: booting, serving students, holding only a placeholder, empty")
    print(f"  {'':<36} {'boot':>7} {'serve':>7} {'hold':>7} {'empty':>7}")
    for row in [*rows[:4], what_if]:
        assert row.outcome is not None
        outcome = row.outcome
        print(
            f"  {row.name:<36} {outcome.booting_hours:7.1f} {outcome.serving_hours:7.1f}"
            f" {outcome.placeholder_hours:7.1f} {outcome.empty_hours:7.1f}"
        )
    print(f"  {'5 oracle (ideal packing)':<36} {0:7.1f} {oracle_hours:7.1f} {0:7.1f} {0:7.1f}")

    campus = rows[3]
    ratio = campus.node_hours / oracle_hours
    print(
        f"goal      campushub p95 wait at most {P95_GOAL_S:g} s:"
        f" {verdict(campus.p95 <= P95_GOAL_S)}"
    )
    print(
        f"goal      campushub node-hours at most {NODE_HOURS_GOAL:g}x the oracle's:"
        f" {verdict(ratio <= NODE_HOURS_GOAL)}"
    )
    print(f"goal      planning the week under {PLAN_GOAL_S:g} s: {verdict(plan_s < PLAN_GOAL_S)}")
    print(f"python    {sys.version.split()[0]} ({sys.executable})")
    command = ["python", "benchmarks/scaler_sim.py", *sys.argv[1:]]
    print(f"reproduce {shlex.join(command)}  (from the repository root)")
    print(
        f"result: campus_p95_wait_s={campus.p95:.1f} campus_node_hours_ratio={ratio:.3f}"
        f" reactive_p95_wait_s={rows[0].p95:.1f} plan_week_s={plan_s:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
