"""How many placeholders each pool needs at a moment: plain data in, plain data out.

``plan_pools(catalog, occurrences, at)`` counts, for each pool, the occurrences running at
``at`` or starting within the pool's lead time after it, and sizes the pool from them:

- unit ``node``: the people expected times the course's CPU and memory guarantees (its limits
  during an exam, which runs with Guaranteed QoS), divided by one node's allocatable CPU and
  memory; whichever resource needs more nodes decides;
- unit ``user``: one placeholder per person expected.

The people expected are an entry's ``expect``, or the course's enrollment (from the hub's
groups) times an attendance ratio. Placeholders hold room for the people *still to come*:
those of a course who already run a server (``present``) hold their own room, so they are
taken off its events' counts. (A placeholder a student's server displaces is recreated by its
Deployment and would ask the cluster for a new node; counting the people on as well would
double the pool for the length of every lecture.)

Room already free on the pool's ready nodes that hold its images (``free``, from the cluster)
takes people too: they start there at once, so no placeholder is needed for them.

A calendar feed event (:class:`Request`) asks for at least a count while it runs and the
pool's lead time before (the largest wins, as in Berkeley's scaler). The result is always
clamped to the pool's ``min``..``max``, and each :class:`PoolTarget` says why in words.

``plan_span`` gives the same plan over a span (the next week, say) as the moments a pool's
target changes, by sweeping the events in start order rather than planning minute by minute.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from .catalog import Allocation, Catalog, Pool
from .schedule import Occurrence
from .units import format_cpu, format_duration, format_memory

__all__ = [
    "DEFAULT_ATTENDANCE",
    "FreeRoom",
    "PlaceholderGuard",
    "PlaceholderPod",
    "PoolTarget",
    "Reason",
    "Request",
    "nodes_on_their_way",
    "plan_pools",
    "plan_span",
]

DEFAULT_ATTENDANCE = 0.9


@dataclass(frozen=True, slots=True)
class Request:
    """A calendar feed event: at least ``count`` placeholders in ``pool`` while it runs
    (from the pool's lead time before ``starts`` until ``ends``)."""

    pool: str
    count: int
    starts: datetime
    ends: datetime
    source: str

    def running_or_starting(self, at: datetime, lead: timedelta) -> bool:
        return self.starts - lead <= at < self.ends


@dataclass(frozen=True, slots=True)
class FreeRoom:
    """Room free now on one ready node of a pool that already has the pool's images and
    runs a server (the autoscaler removes an empty node: its room is not there to count on).

    ``warm`` False: a ready node still pulling the pool's images that runs no pod (daemon
    sets aside). Its room is not counted; the scheduler would put the next student there
    (a node with room comes before preempting a placeholder) to wait for the pull, so while
    people are coming a placeholder is asked for to take it (:class:`PlaceholderGuard`)."""

    node: str
    cpu: float  # cores
    memory: int  # bytes
    warm: bool = True
    # Of ``cpu`` and ``memory``, what servers the culler is about to stop hold now: free by
    # the time room asked now is warm, not before.
    leaving_cpu: float = 0.0
    leaving_memory: int = 0

    def firm(self) -> FreeRoom:
        """The room free now, the leaving servers' not counted."""
        return FreeRoom(
            self.node,
            max(self.cpu - self.leaving_cpu, 0.0),
            max(self.memory - self.leaving_memory, 0),
            self.warm,
        )


@dataclass(frozen=True, slots=True)
class PlaceholderPod:
    """One of a pool's placeholder pods as the Kubernetes API shows it: when it was made,
    when it was bound to a node (its ``PodScheduled`` condition; None while pending) and when
    that node was made."""

    created: datetime
    scheduled: datetime | None = None
    node_created: datetime | None = None


# The cluster autoscaler looks for pods it cannot schedule about every 10 s (its
# --scan-interval): a placeholder pending that long has asked it for a node.
AUTOSCALER_SCAN = timedelta(seconds=10)


def nodes_on_their_way(pods: Iterable[PlaceholderPod], at: datetime, warmup: timedelta) -> int:
    """Nodes the cluster autoscaler is booting that no placeholder is waiting for.

    A placeholder that stayed pending for a scan of the autoscaler asked it for a node. If it
    was then bound to a node that was already there (room a stopped server left, say), the
    node booted for it comes anyway, to nobody: ready and empty, still pulling the pool's
    images, the next student is put there to wait for the pull. Such a node is counted from
    the placeholder's making until ``warmup`` (boot + pull) after it, by when it has come,
    less the placeholders pending since it was left to nobody: the autoscaler counts a node
    on its way for a pod pending, so each of those will take one as it comes.
    :class:`PlaceholderGuard` asks for a placeholder more for each node left, which takes the
    node the moment it is ready. All from the API's timestamps, so it holds over restarts."""
    pods = list(pods)
    left: list[datetime] = []  # when each such node was left to nobody
    for pod in pods:
        if pod.scheduled is None or pod.node_created is None or at >= pod.created + warmup:
            continue
        asked = pod.created + AUTOSCALER_SCAN
        if pod.scheduled >= asked and pod.node_created < asked:
            left.append(pod.scheduled)
    if not left:
        return 0
    # Made after (the API's times are whole seconds: one made the same second is not
    # counted, so a node is asked for once too often rather than once too few).
    waiting = sum(1 for pod in pods if pod.scheduled is None and pod.created > min(left))
    return max(len(left) - waiting, 0)


@dataclass(frozen=True, slots=True)
class Expected:
    """How to count the people of entries without ``expect``: enrolled x attendance."""

    enrollment: Mapping[str, int]
    attendance: float = DEFAULT_ATTENDANCE

    def people(self, occurrence: Occurrence) -> int:
        if occurrence.expect is not None:
            return occurrence.expect
        enrolled = self.enrollment.get(occurrence.course, 0)
        # round first: 100 x 0.9 is 90.00000000000001 in floating point, not 91 people.
        return math.ceil(round(enrolled * self.attendance, 6))


_NO_ENROLLMENT = Expected({})


@dataclass(frozen=True, slots=True)
class Reason:
    """One occurrence counted for a pool and its share of the need.

    ``people`` are those the placeholders hold room for: ``expected`` less those of the course
    already on (``present``) and those who fit in room already free on warm nodes (``free``).
    ``share`` is in the pool's unit: nodes (a fraction) for ``node`` pools,
    people for ``user`` pools. ``cpu`` (cores) and ``memory`` (bytes) are per person.
    """

    occurrence: Occurrence
    people: int
    cpu: float
    memory: int
    share: float
    expected: int
    present: int = 0
    free: int = 0


@dataclass(frozen=True, slots=True)
class PoolTarget:
    """A pool's placeholder count at one moment, with the events behind it and why."""

    pool: str
    replicas: int
    need: int  # before clamping: the larger of the events' need and any requested count
    reasons: tuple[Reason, ...]
    clamped: bool
    why: str
    requested: int | None = None  # the largest count calendar events asked for, if any


@dataclass
class PlaceholderGuard:
    """What the cluster does with a pool's target, taken into account: three rules applied to
    the plan's target, given the placeholders now (``replicas``, ``ready``), the ready nodes
    of the pool still pulling its images that run no pod (``cold``) and the target the plan
    gives without the room of servers the culler is about to stop (``firm``).

    - **Keep what leaving room cannot replace yet.** The plan counts the room of servers the
      culler will have stopped by the time room asked now is warm; until the culler has
      stopped them, students coming now cannot use it. So that room may save asking for
      placeholders, never delete those there: the target is at least the smaller of the
      placeholders there and the ``firm`` target.
    - **Fall only once ready.** Scaling down deletes the placeholders that are not ready
      first (a Deployment does; so does the scaler with pods of its own): the pending ones,
      whose nodes the cluster autoscaler is already booting, and those still pulling images
      on a new node. Either way a new node is left empty and cold,
      and the scheduler puts the next student there (a node with room comes before
      preempting a placeholder) to wait for the pull. So while people are coming (the plan
      holds room for some) the target falls only once every placeholder is ready, or after
      ``limit`` (placeholders that never become ready must not pin the pool); falling then
      deletes ready ones, whose nodes are warm.
    - **Take cold nodes.** While people are coming (the plan holds room for some), a ready,
      empty node still pulling the images gets a placeholder more than the Deployment has, so
      a placeholder takes it before a student does; so does each node on its way that no
      placeholder waits for (``coming_nodes``, :func:`nodes_on_their_way`), the placeholder
      pending so that it takes the node the moment it is ready.
    """

    limit: timedelta
    _since: datetime | None = None

    def __call__(
        self,
        target: PoolTarget,
        at: datetime,
        replicas: int | None,
        ready: int | None,
        cold: int = 0,
        maximum: int | None = None,
        firm: PoolTarget | None = None,
        coming_nodes: int = 0,
    ) -> PoolTarget:
        if replicas is None or ready is None:
            self._since = None
            return target
        # People are coming when the plan holds room for some, the room of servers about to
        # stop counted or not (that room may cover them, but only once those servers stop).
        coming = target.need > 0 or (firm is not None and firm.need > 0)
        if firm is not None and min(replicas, firm.replicas) > target.replicas:
            kept = min(replicas, firm.replicas)
            target = dataclasses.replace(
                target,
                replicas=kept,
                why=f"{target.why}; kept at {kept}: the room of servers the culler is about to"
                " stop is free only once it has, so it may stand in for placeholders asked"
                " now, not for those already there",
            )
        if (cold or coming_nodes) and coming:
            more = cold + coming_nodes
            wanted = replicas + more if maximum is None else min(replicas + more, maximum)
            if wanted > target.replicas:
                self._since = None
                nodes = " and ".join(
                    what
                    for what in (
                        f"{cold} ready node(s) still pulling the pool's images" if cold else "",
                        f"{coming_nodes} node(s) on their way that no placeholder waits for"
                        if coming_nodes
                        else "",
                    )
                    if what
                )
                return dataclasses.replace(
                    target,
                    replicas=wanted,
                    why=f"{target.why}; {wanted} instead: {more} more than the {replicas} there"
                    f" are, for {nodes}, so that a placeholder takes each before a student"
                    " lands there to wait for the pull",
                )
        if target.replicas >= replicas or ready >= replicas or not coming:
            self._since = None  # (nobody coming: a cold node is left for the autoscaler)
            return target
        if self._since is None or self._since > at:
            self._since = at
        if at - self._since >= self.limit:
            self._since = None
            return target
        return dataclasses.replace(
            target,
            replicas=replicas,
            why=f"{target.why}; held at {replicas} while {replicas - ready} placeholder(s) are"
            " not ready (scaling down would delete those first and leave their new nodes empty"
            " for a student to wait on)",
        )


def plan_pools(
    catalog: Catalog,
    occurrences: Iterable[Occurrence],
    at: datetime,
    requests: Iterable[Request] = (),
    *,
    enrollment: Mapping[str, int] | None = None,
    attendance: float = DEFAULT_ATTENDANCE,
    present: Mapping[str, int] | None = None,
    free: Mapping[str, Sequence[FreeRoom]] | None = None,
) -> dict[str, PoolTarget]:
    """The target of every pool in ``catalog`` at ``at`` (time-zone aware).

    ``occurrences`` usually come from :func:`campushub.schedule.occurrences` and ``requests``
    from calendar feeds; those of pools the catalog does not have are ignored (the feed reader
    lists such events as skipped). Entries without ``expect`` count ``enrollment[course]`` x
    ``attendance`` people; ``present[course]`` people of a course already have a server and are
    taken off its events (earliest first); ``free[pool]`` is the room free on the pool's warm
    nodes, filled with the people still to come before any placeholder is asked for.
    """
    if at.tzinfo is None:
        raise ValueError("plan_pools() needs a time-zone aware datetime")
    instant = at.astimezone(UTC)
    expected = Expected(enrollment or {}, attendance)
    counted: dict[str, list[Occurrence]] = {name: [] for name in catalog.pools}
    lingering: dict[str, list[Occurrence]] = {name: [] for name in catalog.pools}
    for occurrence in occurrences:
        pool = catalog.pools.get(occurrence.pool)
        if pool is None:
            continue
        if occurrence.running_or_starting(instant, pool.lead):
            counted[pool.name].append(occurrence)
        elif occurrence.lingers(instant):
            lingering[pool.name].append(occurrence)
    asked: dict[str, int] = {}
    for request in requests:
        pool = catalog.pools.get(request.pool)
        if pool is not None and request.running_or_starting(instant, pool.lead):
            asked[pool.name] = max(asked.get(pool.name, 0), request.count)
    return {
        name: _plan_pool(
            catalog,
            pool,
            counted[name],
            asked.get(name),
            expected,
            present,
            (free or {}).get(name, ()),
            lingering[name],
        )
        for name, pool in catalog.pools.items()
    }


def plan_span(
    catalog: Catalog,
    occurrences: Iterable[Occurrence],
    requests: Iterable[Request],
    start: datetime,
    end: datetime,
    *,
    enrollment: Mapping[str, int] | None = None,
    attendance: float = DEFAULT_ATTENDANCE,
) -> dict[str, list[tuple[datetime, PoolTarget]]]:
    """Each pool's targets over ``[start, end)`` as ``(moment, target)`` steps: the target at
    ``start``, then one step at each moment the number of replicas changes.

    The same answer as :func:`plan_pools` at every minute, found by a sweep: a target can
    only change when an event enters its lead-time window or ends. It plans the future, so
    nobody is counted as already on.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("plan_span() needs time-zone aware datetimes")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    expected = Expected(enrollment or {}, attendance)
    items: dict[str, list[Occurrence | Request]] = {name: [] for name in catalog.pools}
    for item in (*occurrences, *requests):
        if item.pool in items:
            items[item.pool].append(item)
    steps: dict[str, list[tuple[datetime, PoolTarget]]] = {}
    for name, pool in catalog.pools.items():
        # In the order they begin to count: each from its own lead before it starts.
        pending = sorted(items[name], key=lambda item: item.starts - _lead(item, pool))
        moments = {start}
        for item in pending:
            ends = getattr(item, "meets_until", None) or item.ends
            for moment in (item.starts - _lead(item, pool), item.ends, ends):
                if start < moment < end:
                    moments.add(moment)
        # Occurrences are few at a time; feed requests may be many and long, so the largest
        # running count comes from a heap (lazily cleared of ended requests).
        active: list[Occurrence] = []
        lingering: list[Occurrence] = []  # arrivals over, as learned; the meeting runs on
        largest: list[tuple[int, datetime]] = []  # (-count, ends)
        cursor = 0
        previous: tuple[tuple[int, ...], tuple[int, ...], int | None] | None = None
        pool_steps: list[tuple[datetime, PoolTarget]] = []
        for moment in sorted(moments):
            while cursor < len(pending):
                item = pending[cursor]
                if item.starts - _lead(item, pool) > moment:
                    break
                if isinstance(item, Request):
                    heapq.heappush(largest, (-item.count, item.ends))
                else:
                    active.append(item)
                cursor += 1
            if any(item.ends <= moment for item in active):
                lingering += [item for item in active if item.lingers(moment)]
                active = [item for item in active if item.ends > moment]
            if lingering:
                lingering = [item for item in lingering if item.lingers(moment)]
            while largest and largest[0][1] <= moment:
                heapq.heappop(largest)
            requested = -largest[0][0] if largest else None
            key = (tuple(map(id, active)), tuple(map(id, lingering)), requested)
            if key == previous:
                continue  # nothing that sizes the pool changed
            previous = key
            target = _plan_pool(catalog, pool, active, requested, expected, lingering=lingering)
            if not pool_steps or pool_steps[-1][1].replicas != target.replicas:
                pool_steps.append((moment, target))
        steps[name] = pool_steps
    return steps


def _lead(item: Occurrence | Request, pool: Pool) -> timedelta:
    """How long before ``item`` starts it is counted: its own lead if it has one."""
    own = item.lead if isinstance(item, Occurrence) else None
    return pool.lead if own is None else own


def _plan_pool(
    catalog: Catalog,
    pool: Pool,
    counted: list[Occurrence],
    requested: int | None,
    expected: Expected = _NO_ENROLLMENT,
    present: Mapping[str, int] | None = None,
    free: Sequence[FreeRoom] = (),
    lingering: Sequence[Occurrence] = (),
) -> PoolTarget:
    lead = format_duration(pool.lead)
    arrivals, left = _fit_in_free_room(
        catalog, _still_to_come(counted, expected, present or {}), free
    )
    if pool.unit == "user":
        reasons = tuple(
            Reason(
                o, coming - fits, *_per_person(catalog, o), float(coming - fits), total, on, fits
            )
            for o, total, on, coming, fits in arrivals
        )
        from_events = sum(r.people for r in reasons)
        sizing = f"{from_events} people to hold room for, one placeholder each"
    else:
        reasons, from_events, sizing = _size_in_nodes(catalog, pool, arrivals)
    if counted:
        listed = "; ".join(
            f"{r.occurrence.source} ({_people(r)}, {r.share:.2f})"
            if pool.unit == "node"
            else f"{r.occurrence.source} ({_people(r)})"
            for r in reasons
        )
        events = f"{len(counted)} event(s) running or starting within {lead}: {listed}; {sizing}"
    else:
        events = f"no events running or starting within {lead}"
    need = from_events
    parts = [events]
    if any(coming for _, _, _, coming, _ in arrivals):
        extra, said = _spare(pool, reasons, from_events, left)
        if extra:
            need += extra
            parts.append(said)
    elif lingering:
        extra, said = _late_room(catalog, pool, lingering, from_events, left)
        if extra:
            need += extra
            parts.append(said)
    if requested is not None:
        if requested > from_events:
            parts.append(f"a calendar event asks for at least {requested}")
            need = requested
        else:
            parts.append(f"a calendar event asks for {requested}, no more than the events need")
    replicas = min(max(need, pool.min), pool.max)
    clamped = replicas != need
    if need < pool.min:
        parts.append(f"raised to the pool's min {pool.min}")
    elif need > pool.max:
        parts.append(f"capped at the pool's max {pool.max}")
    unit = "node(s)" if pool.unit == "node" else "user slot(s)"
    parts.append(f"target {replicas} {unit}")
    return PoolTarget(pool.name, replicas, need, reasons, clamped, "; ".join(parts), requested)


def _still_to_come(
    counted: list[Occurrence], expected: Expected, present: Mapping[str, int]
) -> list[tuple[Occurrence, int, int, int]]:
    """(occurrence, expected, already on, still to come) for each, earliest first; the people
    already on are taken off a course's events in start order."""
    left = {course: max(0, int(n)) for course, n in present.items()}
    found = []
    for occurrence in sorted(counted, key=lambda o: o.starts):
        total = expected.people(occurrence)
        on = min(total, left.get(occurrence.course, 0))
        if on:
            left[occurrence.course] -= on
        found.append((occurrence, total, on, total - on))
    return found


def _fit_in_free_room(
    catalog: Catalog, arrivals: list[tuple[Occurrence, int, int, int]], free: Sequence[FreeRoom]
) -> tuple[list[tuple[Occurrence, int, int, int, int]], list[tuple[Fraction, int]]]:
    """Each arrival with how many of its people fit in the free room (earliest first), and
    the free room left on each node after them (CPU cores, memory bytes): kept node by node,
    as a person needs both on one node (CPU free on one and memory on another hold nobody)."""
    rooms = [[Fraction(str(max(room.cpu, 0.0))), max(room.memory, 0)] for room in free if room.warm]
    fitted = []
    for occurrence, total, on, coming in arrivals:
        cpu, memory = _per_person(catalog, occurrence)
        cpu_each = Fraction(str(cpu))
        fits = 0
        for room in rooms:
            if fits == coming:
                break
            by_cpu = int(room[0] // cpu_each) if cpu_each > 0 else coming
            by_memory = room[1] // memory if memory > 0 else coming
            here = min(coming - fits, by_cpu, by_memory)
            if here > 0:
                room[0] -= here * cpu_each
                room[1] -= here * memory
                fits += here
        fitted.append((occurrence, total, on, coming, fits))
    return fitted, [(cpu, memory) for cpu, memory in rooms]


def _spare(
    pool: Pool, reasons: Sequence[Reason], placeholders: int, left: Sequence[tuple[Fraction, int]]
) -> tuple[int, str]:
    """Placeholders to add so that, while people are coming, the pool's ``spare`` room is
    there beyond the plan: in the free room the arrivals leave, and in what the placeholders
    hold beyond them (a node's rounding). The plan is exact; students of other courses, or a
    few more than seen, take room too, and room asked late is warm a warm-up later.

    Free room counts node by node, for what a node can still hold: the smaller of its free
    CPU and memory, each over a whole node's (a node full by memory with CPU free, next to
    one full by CPU with memory free, spares nothing, though the two add up to a node)."""
    if pool.spare <= 0:
        return 0, ""
    if pool.unit == "user":
        # Slots for the largest person coming, from the free room left.
        coming = [r for r in reasons if r.people + r.free]
        cpu = Fraction(str(max(r.cpu for r in coming)))
        memory = max(r.memory for r in coming)
        slots = sum(
            min(
                int(room_cpu // cpu) if cpu > 0 else int(pool.spare),
                room_memory // memory if memory > 0 else int(pool.spare),
            )
            for room_cpu, room_memory in left
        )
        short = pool.spare - slots
        what = f"{pool.spare} user slot(s)"
    else:
        node_cpu = Fraction(str(pool.node_cpu))
        node_memory = Fraction(pool.node_memory)
        used_cpu = sum((r.people * Fraction(str(r.cpu)) for r in reasons), Fraction(0))
        used_memory = sum(r.people * r.memory for r in reasons)
        in_free_room = sum(
            (min(room_cpu / node_cpu, room_memory / node_memory) for room_cpu, room_memory in left),
            Fraction(0),
        )
        beyond_people = min(
            (placeholders * node_cpu - used_cpu) / node_cpu,
            (placeholders * node_memory - used_memory) / node_memory,
        )
        short = pool.spare - in_free_room - beyond_people
        what = f"{_nodes(pool.spare)} node(s)"
    if short <= 0:
        return 0, ""
    extra = _ceil(short)
    return extra, f"{extra} more to keep the pool's spare ({what}) while people are coming"


def _late_room(
    catalog: Catalog,
    pool: Pool,
    lingering: Sequence[Occurrence],
    placeholders: int,
    left: Sequence[tuple[Fraction, int]],
) -> tuple[int, str]:
    """A placeholder more, if no node's free room left holds one person of the meetings still
    running past the end of their arrivals (as learned): with n arrivals seen, the next is
    later than all of them with chance about 1/(n+1), so a meeting of a hundred people
    brings a straggler now and then, who would otherwise wait for a new node."""
    cpu, memory = max(_per_person(catalog, occurrence) for occurrence in lingering)
    if pool.unit == "node" and placeholders > 0:
        return 0, ""  # a node-sized placeholder holds room beyond the people coming
    each = Fraction(str(cpu))
    if any(room_cpu >= each and room_memory >= memory for room_cpu, room_memory in left):
        return 0, ""
    names = ", ".join(sorted({occurrence.source for occurrence in lingering}))
    return 1, f"1 more for a late arrival while meetings run on past their arrivals ({names})"


def _nodes(value: Fraction) -> str:
    return str(int(value)) if value.denominator == 1 else f"{float(value):g}"


def _people(reason: Reason) -> str:
    parts = []
    if reason.present:
        parts.append(f"{reason.present} already on")
    if reason.free:
        parts.append(f"{reason.free} in free room")
    if parts:
        return f"{reason.expected} people, {', '.join(parts)}, {reason.people} to hold room for"
    return f"{reason.people} people"


def _per_person(catalog: Catalog, occurrence: Occurrence) -> tuple[float, int]:
    """CPU (cores) and memory (bytes) one person of ``occurrence`` is guaranteed."""
    course = catalog.course(occurrence.course)
    cpu: Allocation[float] = course.cpu if course else catalog.defaults.cpu
    memory: Allocation[int] = course.memory if course else catalog.defaults.memory
    # Exams run with Guaranteed QoS: guarantee = limit.
    if occurrence.exam:
        return cpu.limit, memory.limit
    return cpu.guarantee, memory.guarantee


def _size_in_nodes(
    catalog: Catalog, pool: Pool, arrivals: list[tuple[Occurrence, int, int, int, int]]
) -> tuple[tuple[Reason, ...], int, str]:
    # Exact fractions: 800 x 0.05 cores / 8 cores is 5 nodes, not 5.000000000000001 -> 6.
    node_cpu = Fraction(str(pool.node_cpu))
    node_memory = Fraction(pool.node_memory)
    total_cpu = Fraction(0)
    total_memory = Fraction(0)
    reasons = []
    for occurrence, total, on, coming, fits in arrivals:
        people = coming - fits
        cpu, memory = _per_person(catalog, occurrence)
        cpu_need = people * Fraction(str(cpu))
        memory_need = people * Fraction(memory)
        total_cpu += cpu_need
        total_memory += memory_need
        share = max(cpu_need / node_cpu, memory_need / node_memory)
        reasons.append(Reason(occurrence, people, cpu, memory, float(share), total, on, fits))
    nodes_for_cpu = _ceil(total_cpu / node_cpu)
    nodes_for_memory = _ceil(total_memory / node_memory)
    need = max(nodes_for_cpu, nodes_for_memory)
    decides = "memory" if nodes_for_memory >= nodes_for_cpu else "CPU"
    sizing = (
        f"CPU {format_cpu(float(total_cpu))} / {format_cpu(pool.node_cpu)} per node"
        f" = {nodes_for_cpu} node(s), memory {format_memory(int(total_memory))}"
        f" / {format_memory(pool.node_memory)} per node = {nodes_for_memory} node(s);"
        f" {decides} decides: {need} node(s)"
    )
    return tuple(reasons), need, sizing


def _ceil(value: Fraction) -> int:
    return -(-value.numerator // value.denominator)
