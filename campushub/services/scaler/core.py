"""The scaler's state and its rounds: what it knows, what it plans, what it applied.

Each round (every ``interval`` seconds) it:

1. re-reads the catalog if its file changed (a catalog with problems is refused and the last
   good one kept, with the problems shown);
2. re-reads the calendar feeds when they are due (a feed that cannot be fetched or parsed keeps
   its last good events, and its age shows);
3. re-reads enrollment from the hub's groups when due (kept on failure), and who already runs
   a course server (kept for ``present_keep`` seconds on failure, then taken as nobody: the
   safe side), and follows the meetings under way with it, recording those that ended in
   the history (:mod:`campushub.learning`);
4. asks the cluster for the room already free on each pool's warm nodes (ready nodes holding
   the pool's images and running a server; unknown in dry-run or when the API will not say,
   then counted as none), its cold empty nodes, and how many placeholders are ready;
5. plans every pool at this moment with :func:`campushub.demand.plan_pools`, the meetings as
   the history says to plan them, then :class:`campushub.demand.PlaceholderGuard`;
6. applies the targets to the placeholders (or, in dry-run, only reports them).

Every step catches its own failures and records them; a round never raises, and nothing
a feed, the catalog, the hub or the Kubernetes API says can stop the service.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ...catalog import Catalog, CatalogError, Placeholder, Pool, load_catalog
from ...demand import (
    DEFAULT_ATTENDANCE,
    FreeRoom,
    PlaceholderGuard,
    PoolTarget,
    Request,
    nodes_on_their_way,
    plan_pools,
    plan_span,
)
from ...feeds import FeedError, FeedResult, Skipped, read_feed
from ...learning import ROUND, History, MeetingWatch, learned_occurrences
from ...manifests import pool_images
from ...schedule import Occurrence, occurrences

if TYPE_CHECKING:  # the Kubernetes client is imported only where it is used (not in dry-run)
    from .kube import Applied, PlaceholderScaler

__all__ = ["FeedState", "PoolState", "RunningServer", "Scaler", "feed_label", "parse_here"]

# How far feeds and the schedule are read: a day back (running events), 15 days ahead.
WINDOW_BEFORE = timedelta(days=1)
WINDOW_AFTER = timedelta(days=15)

Fetch = Callable[[str], Awaitable[bytes]]
Enrollment = Callable[[], Awaitable[dict[str, int]]]


@dataclass(frozen=True, slots=True)
class RunningServer:
    """A course server running or starting, as the hub reports it."""

    user: str
    course: str
    last_activity: datetime | None
    started: datetime | None = None


Present = Callable[[], Awaitable[list[RunningServer]]]
Parse = Callable[..., Awaitable[FeedResult]]


async def parse_here(*args: Any) -> FeedResult:
    """Read a feed in this process (the service reads them in a limited worker process)."""
    return read_feed(*args)


def feed_label(entry: str) -> tuple[str, str]:
    """``(label, address)`` of a feed entry: ``name=address`` names it; an https address is
    shown as its host and a short hash (calendar addresses are often secret), whatever its
    scheme and its case, a file as its path. Only the label is ever shown, logged or used as a
    metric label."""
    name, equals, rest = entry.partition("=")
    if equals and name and "/" not in name and ":" not in name:
        return name, rest
    _, scheme_separator, after = entry.partition("://")
    if scheme_separator:  # any scheme, in any case (HTTPS://, webcal://): an address
        host = after.split("/", 1)[0].rpartition("@")[2]
        return f"{host} #{hashlib.sha256(entry.encode()).hexdigest()[:8]}", entry
    return entry, entry


@dataclass
class FeedState:
    """One calendar feed: its last good reading, and the last problem. ``source`` is its
    label, never its (possibly secret) address."""

    source: str
    address: str = ""
    result: FeedResult | None = None
    read_at: datetime | None = None  # when the last good reading was taken
    error: str | None = None
    error_at: datetime | None = None
    due: float = 0.0  # monotonic time of the next reading

    def age(self, now: datetime) -> float | None:
        return (now - self.read_at).total_seconds() if self.read_at else None


@dataclass
class PoolState:
    """One pool: the target now, and what the last apply found and did."""

    pool: str
    target: PoolTarget
    applied: Applied | None = None
    applied_at: datetime | None = None
    patches: int = 0
    errors: int = 0


@dataclass
class Problem:
    when: datetime
    what: str


@dataclass
class Scaler:
    """The scaler's state; ``run_round`` does one round of the work."""

    catalog_path: str
    feeds: Sequence[str]
    fetch: Fetch
    applier: PlaceholderScaler | None  # None: dry-run, report only
    enrollment_source: Enrollment | None = None
    present_source: Present | None = None
    present_keep: float = 600.0
    parse: Parse = parse_here
    cull_timeout: float = 0.0  # the idle culler's timeout (seconds); 0: no culler
    cull_every: float = 300.0  # seconds between the idle culler's checks
    free_room_deadline: float = 30.0  # seconds the cluster may take to say what room is free
    attendance: float = DEFAULT_ATTENDANCE
    feed_interval: float = 300.0
    enrollment_interval: float = 600.0
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("campushub.scaler"))
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    history: History = field(default_factory=History)
    save_history: Callable[[History], None] | None = None  # called when a meeting is added

    catalog: Catalog = field(init=False)
    catalog_loaded_at: datetime = field(init=False)
    catalog_error: str | None = field(init=False, default=None)
    feed_states: dict[str, FeedState] = field(init=False, default_factory=dict)
    enrollment: dict[str, int] = field(init=False, default_factory=dict)
    enrollment_read_at: datetime | None = field(init=False, default=None)
    enrollment_error: str | None = field(init=False, default=None)
    present: dict[str, int] = field(init=False, default_factory=dict)
    servers: list[RunningServer] = field(init=False, default_factory=list)
    leaving: frozenset[tuple[str, str]] = field(init=False, default=frozenset())
    present_read_at: datetime | None = field(init=False, default=None)
    present_error: str | None = field(init=False, default=None)
    watch: MeetingWatch = field(init=False, default_factory=MeetingWatch)
    learned_at: datetime | None = field(init=False, default=None)  # last meeting recorded
    guards: dict[str, PlaceholderGuard] = field(init=False, default_factory=dict)
    # Each placeholder's (replicas, ready) as last read; a pool missing: not known.
    readiness: dict[str, tuple[int, int]] = field(init=False, default_factory=dict)
    # Each pool's nodes on their way that no placeholder waits for, as last read.
    coming_nodes: dict[str, int] = field(init=False, default_factory=dict)
    free: dict[str, list[FreeRoom]] = field(init=False, default_factory=dict)
    free_error: str | None = field(init=False, default=None)
    pools: dict[str, PoolState] = field(init=False, default_factory=dict)
    problems: list[Problem] = field(init=False, default_factory=list)
    rounds: int = field(init=False, default=0)
    last_round_at: datetime | None = field(init=False, default=None)
    last_round_seconds: float = field(init=False, default=0.0)
    _catalog_mtime: float = field(init=False, default=0.0)
    _enrollment_due: float = field(init=False, default=0.0)
    _occurrences: tuple[datetime, datetime, list[Occurrence]] | None = field(
        init=False, default=None
    )

    def __post_init__(self) -> None:
        # The first catalog must be good: the service refuses to start without one.
        self._catalog_mtime = _mtime(self.catalog_path)
        self.catalog = load_catalog(self.catalog_path)
        self.catalog_loaded_at = self.clock()
        self.feed_states = {}
        for entry in self.feeds:
            label, address = feed_label(entry)
            self.feed_states[label] = FeedState(label, address)
        # A first plan from the catalog alone, so the pages have one before the first round.
        self.plan_now(self.clock())

    @property
    def dry_run(self) -> bool:
        return self.applier is None

    # -- one round ----------------------------------------------------------------------------

    async def run_round(self) -> None:
        started = time.monotonic()
        now = self.clock()
        steps = (self.reload_catalog, self.read_feeds, self.read_enrollment, self.read_present)
        for step in steps:
            try:
                await step()
            except Exception as error:  # a bug in one step must not stop the others
                self.problem(f"{step.__name__} failed: {type(error).__name__}: {error}")
                self.log.exception("scaler: %s failed", step.__name__)
        for name, step in (
            ("counting who is on", lambda: self.count_present(now)),
            ("watching meetings", lambda: self.watch_meetings(now)),
            ("reading free room", self.read_free_room),
            ("reading the placeholders", self.read_readiness),
            ("planning", lambda: self.plan_now(now)),
            ("applying", lambda: self.apply(now)),
        ):
            try:
                result = step()
                if hasattr(result, "__await__"):
                    await result
            except Exception as error:  # one step's failure must not stop the next ones
                self.problem(f"{name} failed: {type(error).__name__}: {error}")
                self.log.exception("scaler: %s failed", name)
        self.rounds += 1
        self.last_round_at = now
        self.last_round_seconds = time.monotonic() - started

    async def reload_catalog(self) -> None:
        mtime = _mtime(self.catalog_path)
        if not mtime or mtime == self._catalog_mtime:
            if not mtime and not self.catalog_error:
                self.catalog_error = f"{self.catalog_path} cannot be read; keeping the last good"
                self.problem(self.catalog_error)
            return
        self._catalog_mtime = mtime
        try:
            catalog = load_catalog(self.catalog_path)
        except CatalogError as error:
            self.catalog_error = (
                f"the catalog changed but has problems; keeping the last good.\n{error}"
            )
            self.problem(self.catalog_error)
            self.log.warning("scaler: %s", self.catalog_error)
            return
        self.catalog = catalog
        self.catalog_loaded_at = self.clock()
        self.catalog_error = None
        self._occurrences = None
        self.log.info("scaler: catalog reloaded: %d course(s)", len(catalog.courses))

    async def read_feeds(self, force: bool = False) -> None:
        now = self.clock()
        for state in self.feed_states.values():
            if not force and time.monotonic() < state.due:
                continue
            state.due = time.monotonic() + self.feed_interval
            try:
                data = await self.fetch(state.address)
                result = await self.parse(
                    data,
                    state.source,
                    tuple(self.catalog.pools),
                    now - WINDOW_BEFORE,
                    now + WINDOW_AFTER,
                    self.catalog.timezone,
                    {slug: course.pool.name for slug, course in self.catalog.courses.items()},
                )
            except FeedError as error:
                self._feed_failed(state, now, str(error))
                continue
            except Exception as error:  # fetch errors of every kind
                detail = str(error).replace(state.address, state.source)[:300]
                self._feed_failed(state, now, f"{state.source}: cannot be read: {detail}")
                continue
            state.result, state.read_at, state.error, state.error_at = result, now, None, None
            self.log.info(
                "scaler: feed %s: %d event(s), %d request(s), %d skipped",
                state.source,
                result.events,
                len(result.requests),
                len(result.skipped),
            )

    def _feed_failed(self, state: FeedState, now: datetime, message: str) -> None:
        kept = "keeping its last good events" if state.result else "no events from it yet"
        state.error, state.error_at = f"{message} ({kept})", now
        self.problem(state.error)
        self.log.warning("scaler: %s", state.error)

    async def read_enrollment(self, force: bool = False) -> None:
        if self.enrollment_source is None:
            return
        if not force and time.monotonic() < self._enrollment_due:
            return
        self._enrollment_due = time.monotonic() + self.enrollment_interval
        try:
            enrollment = await self.enrollment_source()
        except Exception as error:
            kept = "keeping the last counts" if self.enrollment_read_at else "no counts yet"
            self.enrollment_error = f"cannot read enrollment from the hub: {error} ({kept})"
            self.problem(self.enrollment_error)
            self.log.warning("scaler: %s", self.enrollment_error)
            return
        self.enrollment = dict(enrollment)
        self.enrollment_read_at = self.clock()
        self.enrollment_error = None

    async def read_present(self) -> None:
        if self.present_source is None:
            return
        try:
            servers = await self.present_source()
        except Exception as error:
            now = self.clock()
            fresh = self.present_read_at and (
                (now - self.present_read_at).total_seconds() < self.present_keep
            )
            if not fresh:
                # Unknown: plan as if nobody were on and nobody leaving (more room, not less).
                self.servers = []
            self.present_error = (
                f"cannot read who is on from the hub: {error}"
                f" ({'keeping the last counts' if fresh else 'counting nobody as on'})"
            )
            self.problem(self.present_error)
            self.log.warning("scaler: %s", self.present_error)
            return
        self.servers = list(servers)
        self.present_read_at = self.clock()
        self.present_error = None

    def count_present(self, now: datetime) -> None:
        """Who is on, per course, and which servers are leaving: the idle culler will have
        stopped them, whenever its check comes (every ``cull_every``), by the time room asked
        now is warm (the pool's warm-up and a round) if they stay idle, so their people are
        gone and their room will be free by the time it is needed."""
        present: dict[str, int] = {}
        leaving = set()
        for server in self.servers:
            course = self.catalog.courses.get(server.course)
            if course is None:
                continue
            last = server.last_activity
            # Stopped, whenever the culler's check comes, by the time room asked now is warm.
            horizon = (course.pool.warmup + ROUND).total_seconds()
            if (
                self.cull_timeout > 0
                and last is not None
                and (now - last).total_seconds() >= self.cull_timeout + self.cull_every - horizon
            ):
                leaving.add((server.user, server.course))
            else:
                present[server.course] = present.get(server.course, 0) + 1
        self.present, self.leaving = present, frozenset(leaving)

    def watch_meetings(self, now: datetime) -> None:
        """Follow the meetings under way with who runs a server (when the hub could say),
        and record those that ended in the history (saved at once)."""
        if self.present_source is None or self.present_read_at is None:
            return
        servers = self.servers if self.present_error is None else []
        ended = self.watch.see(now, self.occurrences(now), servers, self.enrollment)
        for occurrence, observation in ended:
            self.history.record(occurrence, observation)
        if ended:
            self.learned_at = now
            self.log.info("scaler: %d meeting(s) added to the history", len(ended))
            if self.save_history is not None:
                self.save_history(self.history)

    async def read_free_room(self) -> None:
        """Free room on each pool's warm nodes; none where it cannot be read (the safe side)."""
        if self.applier is None:
            return
        free: dict[str, list[FreeRoom]] = {}
        problems = []
        applier = self.applier

        async def one(name: str, pool: Pool) -> None:
            try:
                free[name] = await asyncio.wait_for(
                    applier.free_room(pool, pool_images(self.catalog, pool), self.leaving),
                    self.free_room_deadline,
                )
            except TimeoutError:
                problems.append(
                    f"free room of pool {name} unknown, counted as none: the API took more"
                    f" than {self.free_room_deadline:.0f} s"
                )
            except Exception as error:  # KubeError, or anything unexpected
                problems.append(f"free room of pool {name} unknown, counted as none: {error}")

        await asyncio.gather(
            *(one(name, pool) for name, pool in self.catalog.pools.items() if pool.placeholder)
        )
        self.free = free
        self.free_error = "; ".join(problems) or None
        for problem in problems:
            self.problem(problem)

    async def read_readiness(self) -> None:
        """How many of each placeholder's replicas are ready (unknown where the API will not
        say: then its target is applied as planned)."""
        if self.applier is None:
            return
        applier = self.applier
        readiness: dict[str, tuple[int, int]] = {}
        coming: dict[str, int] = {}
        now = self.clock()

        async def one(name: str, pool: Pool, placeholder: Placeholder) -> None:
            try:
                readiness[name] = await asyncio.wait_for(
                    applier.readiness(placeholder), self.free_room_deadline
                )
            except TimeoutError:
                self.problem(f"readiness of pool {name}'s placeholders unknown: the API was slow")
                return
            except Exception as error:  # KubeError, or anything unexpected
                self.problem(f"readiness of pool {name}'s placeholders unknown: {error}")
                return
            try:
                pods = await asyncio.wait_for(
                    applier.placeholder_pods(pool, now - pool.warmup),
                    self.free_room_deadline,
                )
                coming[name] = nodes_on_their_way(pods, now, pool.warmup)
            except TimeoutError:
                self.problem(f"nodes on their way to pool {name} unknown: the API was slow")
            except Exception as error:  # KubeError, or anything unexpected
                self.problem(f"nodes on their way to pool {name} unknown: {error}")

        await asyncio.gather(
            *(
                one(name, pool, pool.placeholder)
                for name, pool in self.catalog.pools.items()
                if pool.placeholder
            )
        )
        self.readiness = readiness
        self.coming_nodes = coming

    # -- planning ---------------------------------------------------------------------------

    def requests(self) -> list[Request]:
        return [
            request
            for state in self.feed_states.values()
            if state.result
            for request in state.result.requests
        ]

    def added(self) -> list[Occurrence]:
        """Meetings the feeds add on top of the plan (``pool: +people`` lines)."""
        return [
            occurrence
            for state in self.feed_states.values()
            if state.result
            for occurrence in state.result.added
        ]

    def skipped(self) -> list[Skipped]:
        return [
            skipped
            for state in self.feed_states.values()
            if state.result
            for skipped in state.result.skipped
        ]

    def occurrences(self, now: datetime) -> list[Occurrence]:
        """The catalog's occurrences over the window around ``now`` (cached by the day)."""
        cached = self._occurrences
        if (
            cached
            and cached[0] <= now - WINDOW_BEFORE + timedelta(hours=1)
            and (now + timedelta(days=14) <= cached[1])
        ):
            return cached[2]
        start, end = now - WINDOW_BEFORE, now + WINDOW_AFTER
        found = occurrences(self.catalog, start, end)
        self._occurrences = (start, end, found)
        return found

    def learned(self, now: datetime, at: datetime | None = None) -> list[Occurrence]:
        """The catalog's occurrences as the history says to plan them at ``at`` (or, without,
        over a span): see :mod:`campushub.learning`."""
        return learned_occurrences(
            self.catalog,
            self.occurrences(now),
            self.history,
            self.enrollment,
            at,
            self.attendance,
        )

    def targets(
        self, now: datetime, free: Mapping[str, Sequence[FreeRoom]] | None = None
    ) -> dict[str, PoolTarget]:
        """Each pool's plan now, with the room free on its warm nodes (``free``: instead of
        what was last read)."""
        return plan_pools(
            self.catalog,
            [*self.learned(now, now), *self.added()],
            now,
            self.requests(),
            enrollment=self.enrollment,
            attendance=self.attendance,
            present=self.present,
            free=self.free if free is None else free,
        )

    def plan_now(self, now: datetime) -> None:
        targets = self.targets(now)
        # The same plan without the room of servers the culler is about to stop: the guard
        # keeps the placeholders there that this room cannot stand in for yet.
        firm_free = {
            name: [room.firm() for room in rooms]
            for name, rooms in self.free.items()
            if any(room.leaving_cpu or room.leaving_memory for room in rooms)
        }
        firm = self.targets(now, {**self.free, **firm_free}) if firm_free else {}
        for name, target in targets.items():
            pool = self.catalog.pools[name]
            guard = self.guards.get(name)
            if guard is None or guard.limit != 2 * pool.warmup:
                guard = self.guards[name] = PlaceholderGuard(2 * pool.warmup)
            replicas, ready = self.readiness.get(name, (None, None))
            cold = sum(not room.warm for room in self.free.get(name, ()))
            target = guard(
                target,
                now,
                replicas,
                ready,
                cold,
                pool.max,
                firm.get(name) if name in firm_free else None,
                self.coming_nodes.get(name, 0),
            )
            state = self.pools.get(name)
            if state is None:
                self.pools[name] = PoolState(name, target)
            else:
                state.target = target
        for gone in set(self.pools) - set(targets):  # a pool removed from the catalog
            del self.pools[gone]

    def span(self, now: datetime, hours: int) -> dict[str, list[tuple[datetime, PoolTarget]]]:
        return plan_span(
            self.catalog,
            [*self.learned(now), *self.added()],
            self.requests(),
            now,
            now + timedelta(hours=hours),
            enrollment=self.enrollment,
            attendance=self.attendance,
        )

    # -- applying -----------------------------------------------------------------------------

    async def apply(self, now: datetime) -> None:
        if self.applier is None:
            return
        applier = self.applier

        async def one(state: PoolState, pool: Pool, placeholder: Placeholder) -> None:
            # The target is already clamped; clamp again so no path can leave min..max.
            target = min(max(state.target.replicas, pool.min), pool.max)
            applied = await applier.scale(placeholder, target)
            state.applied, state.applied_at = applied, now
            if applied.patched:
                state.patches += 1
            if applied.error:
                state.errors += 1
                self.problem(applied.error)

        await asyncio.gather(
            *(
                one(state, pool, pool.placeholder)
                for name, state in self.pools.items()
                if (pool := self.catalog.pools.get(name)) and pool.placeholder
            )
        )

    # -- problems -----------------------------------------------------------------------------

    def problem(self, what: str) -> None:
        """Remember a problem (the latest 50 distinct ones; a repeat moves to the end)."""
        self.problems = [p for p in self.problems if p.what != what]
        self.problems.append(Problem(self.clock(), what))
        del self.problems[:-50]


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
