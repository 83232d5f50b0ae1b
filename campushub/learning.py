"""What the scaler learns of the campus: when each meeting's students come, and how many.

The hub's API says, for every course server, when it was started. A :class:`MeetingWatch`
follows each meeting of the catalog from :data:`WATCH_BEFORE` before it starts until it ends:
every person of its course with a server during that time came (those already on included),
and those whose server *started* in that time came at an offset from the start. When the
meeting ends, one :class:`Observation` (enrolled, came, the offsets at :data:`QUANTILES`) goes
into the :class:`History`, which keeps the latest :data:`KEEP` of each meeting and is saved as
JSON in the scaler's state folder.

:func:`learned_occurrences` gives each coming meeting what its history says:

- **lead**: room is asked for the pool's ``warmup`` (a new node's boot and image pull) plus
  how early its earliest student came (over the meetings kept) plus one round, instead of the
  pool's ``lead``; and, planning a moment, only for the people who will have come by the
  time room asked for then is warm, and two rounds more (the next round's room is warm a
  round later, and a round that notices a miss needs one to act), by the earliest arrivals
  seen at each quantile, so the room grows with the arrivals instead of all at once;
- **the first student**: a meeting is counted from as early as any student of its pool has
  come before a meeting (:meth:`History.pool_lead`), with room for at least one person until
  it starts: a small course's few meetings show only a few arrivals, and its earliest student
  may come before any of them did. In the morning, when the pool has no room, the first
  student of any course finds a warm node; by day the free room usually holds them;
- **end**: the room still held for people who have not come is let go when arrivals end (the
  latest arrival of recent meetings, plus one round), not at the meeting's end: those who
  came hold their own room, and the rest are no-shows; until the meeting's own end, room
  for one late student more is kept (:func:`campushub.demand.plan_pools`: with n arrivals
  seen, the next is later than all of them with chance about 1/(n+1));
- **expect** (for entries without ``expect``): enrolled x the highest attendance of recent
  meetings, plus :data:`ATTENDANCE_MARGIN`; after a fall (at least :data:`FALL_SEEN` latest
  meetings all below every earlier one kept by more than the margin: the hub's groups keep
  students who dropped, as they never sign in again to leave), of the meetings since.

Timing needs :data:`MIN_ARRIVALS` observed arrivals: a meeting with fewer borrows the timing
of the course's other meetings; attendance is the meeting's own. A course with no history
keeps the catalog's defaults (the pool's ``lead``, the meeting's end, the scaler's attendance
ratio). An exam learns only how early the course's students come (never later than the
pool's ``lead``): room for everyone it expects (the catalog's ``expect``, or enrollment x
attendance) from then until its end.

Pure: plain data in, plain data out (the scaler reads the hub and the files).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from .catalog import Catalog
from .demand import DEFAULT_ATTENDANCE
from .schedule import Occurrence

__all__ = [
    "History",
    "HistoryError",
    "Learned",
    "MeetingWatch",
    "Observation",
    "Seen",
    "learned_occurrences",
]

# The offsets kept of each meeting: their quantiles, seconds from its start.
QUANTILES: Final = (0.0, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 1.0)
KEEP: Final = 8  # observations kept per meeting
MIN_ARRIVALS: Final = 30  # arrivals observed before a meeting's timing is trusted
ATTENDANCE_MARGIN: Final = 0.05
FALL_SEEN: Final = 3  # the latest meetings that show attendance has fallen, at least
ROUND: Final = timedelta(minutes=1)  # the scaler's round: room asked a round early
WATCH_BEFORE: Final = timedelta(minutes=30)  # a server started this long before counts
MAX_LEAD: Final = timedelta(hours=24)


class HistoryError(ValueError):
    """A saved history that cannot be read (says what and where)."""


class Seen(Protocol):
    """A course server as the hub reports it: whose, which course, when it started."""

    @property
    def user(self) -> str: ...

    @property
    def course(self) -> str: ...

    @property
    def started(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Observation:
    """One meeting as it happened: its start, its course's enrollment then, how many came,
    and the start offsets (seconds) of those whose server started for it, at ``QUANTILES``
    (empty when none did)."""

    starts: datetime
    enrolled: int
    came: int
    arrivals: int
    offsets: tuple[float, ...]

    @property
    def attendance(self) -> float | None:
        return self.came / self.enrolled if self.enrolled > 0 else None

    def offset(self, share: float) -> float:
        """The offset by which ``share`` of its arrivals had come (interpolated)."""
        index = bisect.bisect_left(QUANTILES, share)
        if index >= len(QUANTILES):
            return self.offsets[-1]
        if QUANTILES[index] == share or index == 0:
            return self.offsets[index]
        low, high = QUANTILES[index - 1], QUANTILES[index]
        part = (share - low) / (high - low)
        return self.offsets[index - 1] + part * (self.offsets[index] - self.offsets[index - 1])

    def to_json(self) -> dict[str, Any]:
        return {
            "starts": self.starts.astimezone(UTC).isoformat(),
            "enrolled": self.enrolled,
            "came": self.came,
            "arrivals": self.arrivals,
            "offsets": [round(value, 1) for value in self.offsets],
        }


@dataclass(frozen=True, slots=True)
class Learned:
    """What the history says of one meeting, and from what."""

    lead: timedelta | None  # None: the pool's lead
    until: timedelta | None  # after the start, when arrivals end; None: the meeting's end
    attendance: float | None  # None: the scaler's ratio
    timing_from: str  # "this meeting", "the course's meetings" or "" (catalog defaults)
    observations: int
    # The earliest arrivals seen: at each of QUANTILES, the earliest offset (seconds) of the
    # meetings the timing comes from; empty without timing.
    arrivals: tuple[float, ...] = ()

    def share_by(self, offset: float) -> float:
        """The share of the people who come that have come ``offset`` seconds after the
        start, by the earliest arrivals seen (1.0 without timing)."""
        points = self.arrivals
        if not points or offset >= points[-1]:
            return 1.0
        if offset < points[0]:
            return 0.0
        index = bisect.bisect_right(points, offset)  # points[index - 1] <= offset < points[index]
        low, high = points[index - 1], points[index]
        part = (offset - low) / (high - low) if high > low else 1.0
        return QUANTILES[index - 1] + part * (QUANTILES[index] - QUANTILES[index - 1])


@dataclass
class Meeting:
    course: str
    seen: list[Observation] = field(default_factory=list)


def observe(starts: datetime, enrolled: int, came: int, offsets: Sequence[float]) -> Observation:
    """An observation from the offsets (seconds from the start) of the servers started for a
    meeting; ``came`` counts those already on as well."""
    ordered = sorted(offsets)
    kept: tuple[float, ...] = ()
    if ordered:
        last = len(ordered) - 1
        kept = tuple(ordered[round(share * last)] for share in QUANTILES)
    return Observation(
        starts.astimezone(UTC), max(enrolled, 0), max(came, len(ordered)), len(ordered), kept
    )


@dataclass
class History:
    """The observations of every meeting (``Occurrence.source`` keys), latest last."""

    meetings: dict[str, Meeting] = field(default_factory=dict)
    keep: int = KEEP
    _courses: dict[str, list[Observation]] | None = field(default=None, repr=False)
    _learned: dict[tuple[str, timedelta], Learned | None] = field(default_factory=dict, repr=False)
    _pool_leads: dict[tuple[Catalog, str], timedelta | None] = field(
        default_factory=dict, repr=False
    )

    def forget(self) -> None:
        """Drop what was worked out from the observations (done when one is recorded)."""
        self._courses, self._learned, self._pool_leads = None, {}, {}

    def pool_lead(self, catalog: Catalog, pool: str) -> timedelta | None:
        """The pool's warm-up plus how early the earliest student of any of its courses'
        meetings kept came, plus a round; None when none came for one, or the catalog has no
        such pool."""
        key = (catalog, pool)
        if key not in self._pool_leads:
            found = catalog.pools.get(pool)
            earliest = min(
                (
                    seen.offsets[0]
                    for meeting in self.meetings.values()
                    if (course := catalog.courses.get(meeting.course)) and course.pool.name == pool
                    for seen in meeting.seen
                    if seen.arrivals
                ),
                default=None,
            )
            self._pool_leads[key] = (
                None if found is None or earliest is None else _lead(found.warmup, earliest)
            )
        return self._pool_leads[key]

    def record(self, occurrence: Occurrence, observation: Observation) -> None:
        self.forget()
        meeting = self.meetings.setdefault(occurrence.source, Meeting(occurrence.course))
        meeting.course = occurrence.course
        meeting.seen = sorted(
            [seen for seen in meeting.seen if seen.starts != observation.starts] + [observation],
            key=lambda seen: seen.starts,
        )[-self.keep :]

    def of_course(self, course: str) -> list[Observation]:
        if self._courses is None:
            self._courses = {}
            for meeting in self.meetings.values():
                self._courses.setdefault(meeting.course, []).extend(meeting.seen)
        return self._courses.get(course, [])

    def learned(self, occurrence: Occurrence, warmup: timedelta) -> Learned | None:
        """What to plan ``occurrence`` with, or None: nothing learned (catalog defaults)."""
        if occurrence.exam:
            key = (f"exam of {occurrence.course}", warmup)
            if key not in self._learned:
                self._learned[key] = self._learn_exam(occurrence.course, warmup)
            return self._learned[key]
        return self.learned_meeting(occurrence.source, occurrence.course, warmup)

    def _learn_exam(self, course: str, warmup: timedelta) -> Learned | None:
        """An exam learns only how early the course's students come, from all its meetings
        (room all at once from then, held to its end, for everyone it expects)."""
        timing = [seen for seen in self.of_course(course) if seen.arrivals]
        if sum(seen.arrivals for seen in timing) < MIN_ARRIVALS:
            return None
        earliest = min(seen.offsets[0] for seen in timing)
        return Learned(_lead(warmup, earliest), None, None, "the course's meetings", 0)

    def learned_meeting(self, source: str, course: str, warmup: timedelta) -> Learned | None:
        """What to plan the meeting ``source`` of ``course`` with (see :meth:`learned`)."""
        key = (source, warmup)
        if key not in self._learned:
            self._learned[key] = self._learn(source, course, warmup)
        return self._learned[key]

    def _learn(self, source: str, course: str, warmup: timedelta) -> Learned | None:
        meeting = self.meetings.get(source)
        own = meeting.seen if meeting else []
        timing, timing_from = own, "this meeting"
        if sum(seen.arrivals for seen in own) < MIN_ARRIVALS:
            timing, timing_from = self.of_course(course), "the course's meetings"
            if sum(seen.arrivals for seen in timing) < MIN_ARRIVALS:
                timing, timing_from = [], ""
        timing = [seen for seen in timing if seen.arrivals]
        ratios = [ratio for seen in own if (ratio := seen.attendance) is not None]
        if not timing and not ratios:
            return None
        lead = until = None
        arrivals: tuple[float, ...] = ()
        if timing:
            arrivals = tuple(
                min(seen.offsets[index] for seen in timing) for index in range(len(QUANTILES))
            )
            lead = _lead(warmup, arrivals[0])
            latest = max(seen.offsets[-1] for seen in timing)
            until = max(timedelta(seconds=latest) + ROUND, ROUND)
        since = _since_a_fall(ratios)
        attendance = min(max(since) + ATTENDANCE_MARGIN, 1.0) if since else None
        return Learned(lead, until, attendance, timing_from, len(own), arrivals)

    # -- saving -----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "meetings": {
                key: {"course": meeting.course, "seen": [seen.to_json() for seen in meeting.seen]}
                for key, meeting in sorted(self.meetings.items())
            },
        }

    @classmethod
    def from_json(cls, data: Any, where: str = "history") -> tuple[History, list[str]]:
        """A history from its saved form, and the problems of what was left out (each says
        where). Raises :class:`HistoryError` when nothing of it can be read."""
        if not isinstance(data, dict) or data.get("version") != 1:
            raise HistoryError(f"{where}: not a campushub scaler history (version 1)")
        meetings = data.get("meetings")
        if not isinstance(meetings, dict):
            raise HistoryError(f"{where}: 'meetings' must be a mapping")
        history, problems = cls(), []
        for key, value in meetings.items():
            place = f"{where}: meetings[{str(key)[:80]!r}]"
            try:
                if not isinstance(key, str) or not 0 < len(key) <= 300:
                    raise HistoryError("the meeting's name must be text of 1-300 characters")
                if not isinstance(value, dict) or not isinstance(value.get("course"), str):
                    raise HistoryError("must be a mapping with a 'course'")
                seen = value.get("seen")
                if not isinstance(seen, list):
                    raise HistoryError("'seen' must be a list")
                observations = [_observation(item) for item in seen[-KEEP:]]
            except HistoryError as error:
                problems.append(f"{place}: {error}; left out")
                continue
            history.meetings[key] = Meeting(value["course"][:100], observations)
        return history, problems


def _lead(warmup: timedelta, earliest: float) -> timedelta:
    """Room asked for the ``warmup`` before the earliest arrival (``earliest`` seconds from the
    start), and a round before that: from 0 to ``MAX_LEAD``."""
    return min(max(warmup + timedelta(seconds=-earliest) + ROUND, timedelta(0)), MAX_LEAD)


def _since_a_fall(ratios: Sequence[float]) -> Sequence[float]:
    """The attendance ratios (oldest first) to plan with: the latest run of at least
    ``FALL_SEEN`` that are all lower, by more than ``ATTENDANCE_MARGIN``, than every one
    before it (the longest such run), or all of them. Attendance going up needs no such rule:
    the highest counts at once. A fall is believed only when it is clear: meetings that vary
    week to week rarely put their three latest below all the others by that much."""
    for cut in range(1, len(ratios) - FALL_SEEN + 1):
        latest = ratios[cut:]
        if max(latest) + ATTENDANCE_MARGIN < min(ratios[:cut]):
            return latest
    return ratios


def _observation(item: Any) -> Observation:
    if not isinstance(item, dict):
        raise HistoryError("an observation must be a mapping")
    try:
        starts = datetime.fromisoformat(item["starts"])
    except (KeyError, TypeError, ValueError):
        raise HistoryError("an observation's 'starts' must be an ISO date and time") from None
    if starts.tzinfo is None:
        raise HistoryError("an observation's 'starts' needs a time zone")
    numbers = [item.get(name) for name in ("enrolled", "came", "arrivals")]
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 10**6 for n in numbers):
        raise HistoryError("'enrolled', 'came' and 'arrivals' must be whole numbers, 0-1000000")
    offsets = item.get("offsets")
    if not (
        isinstance(offsets, list)
        and len(offsets) in (0, len(QUANTILES))
        and all(
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and abs(value) <= 86400
            for value in offsets
        )
        and list(offsets) == sorted(offsets)
        and bool(offsets) == bool(numbers[2])
    ):
        raise HistoryError(
            f"'offsets' must be {len(QUANTILES)} ordered seconds within a day"
            " (none when no server started)"
        )
    enrolled, came, arrivals = numbers
    return Observation(
        starts.astimezone(UTC), enrolled, max(came, arrivals), arrivals, tuple(map(float, offsets))
    )


@dataclass
class _Watching:
    occurrence: Occurrence
    enrolled: int
    came: set[str] = field(default_factory=set)
    offsets: dict[str, float] = field(default_factory=dict)


@dataclass
class MeetingWatch:
    """The meetings being followed, each from ``WATCH_BEFORE`` before it until its end."""

    watching: dict[tuple[str, datetime], _Watching] = field(default_factory=dict)

    def see(
        self,
        now: datetime,
        occurrences: Iterable[Occurrence],
        servers: Iterable[Seen],
        enrollment: Mapping[str, int],
    ) -> list[tuple[Occurrence, Observation]]:
        """Follow the meetings under way at ``now`` with the servers the hub reports now;
        return the meetings that have ended, each with what was seen of it."""
        for occurrence in occurrences:
            if occurrence.starts - WATCH_BEFORE <= now < occurrence.ends:
                key = (occurrence.source, occurrence.starts)
                if key not in self.watching:
                    enrolled = enrollment.get(occurrence.course, 0)
                    self.watching[key] = _Watching(occurrence, enrolled)
        by_course: dict[str, list[Seen]] = {}
        for server in servers:
            by_course.setdefault(server.course, []).append(server)
        ended = []
        for key, watching in list(self.watching.items()):
            occurrence = watching.occurrence
            if now >= occurrence.ends:
                del self.watching[key]
                ended.append(
                    (
                        occurrence,
                        observe(
                            occurrence.starts,
                            watching.enrolled,
                            len(watching.came),
                            list(watching.offsets.values()),
                        ),
                    )
                )
                continue
            opened = occurrence.starts - WATCH_BEFORE
            for server in by_course.get(occurrence.course, ()):
                watching.came.add(server.user)
                started = server.started
                if started is not None and opened <= started < occurrence.ends:
                    offset = (started - occurrence.starts).total_seconds()
                    watching.offsets.setdefault(server.user, offset)
        return ended


def learned_occurrences(
    catalog: Catalog,
    occurrences: Iterable[Occurrence],
    history: History,
    enrollment: Mapping[str, int],
    at: datetime | None = None,
    attendance: float = DEFAULT_ATTENDANCE,
) -> list[Occurrence]:
    """``occurrences`` as the history says to plan them (see the module's text). With ``at``
    (a plan of that moment), a meeting with timing expects only the people who will have come
    by the time room asked for now is warm (``at`` + warm-up + a round), by its earliest
    arrivals seen; without, all of them (a plan of a span shows the most it may ask for).
    A meeting with timing counts from the pool's lead as learned (:meth:`History.pool_lead`)
    if that is earlier than its own, expecting at least one person until it starts."""
    found = []
    for occurrence in occurrences:
        pool = catalog.pools.get(occurrence.pool)
        learned = history.learned(occurrence, pool.warmup) if pool else None
        if learned is None or pool is None:
            found.append(occurrence)
            continue
        changes: dict[str, Any] = {}
        if learned.lead is not None:
            # An exam is never asked for later than the pool's lead; any other meeting with
            # timing, from as early as any student of the pool has come.
            if occurrence.exam:
                changes["lead"] = max(learned.lead, pool.lead)
            else:
                earliest = history.pool_lead(catalog, pool.name)
                changes["lead"] = learned.lead if earliest is None else max(learned.lead, earliest)
        if learned.until is not None and occurrence.starts + learned.until < occurrence.ends:
            changes["ends"] = occurrence.starts + learned.until
            changes["meets_until"] = occurrence.ends
        enrolled = enrollment.get(occurrence.course, 0)
        total = occurrence.expect
        if total is None and enrolled:
            ratio = attendance if learned.attendance is None else learned.attendance
            total = math.ceil(round(enrolled * ratio, 6))
        if total is not None and at is not None and learned.arrivals:
            # Room asked now is warm after the warm-up; the room asked next round a round
            # later; and a round more for the round that notices a miss to act on it.
            ready = (at + pool.warmup + 2 * ROUND - occurrence.starts).total_seconds()
            staged = math.ceil(round(total * learned.share_by(ready), 6))
            # Until it starts, room for its first student at least (who may come earlier
            # than any of its own meetings' students did).
            total = max(staged, 1) if total > 0 and at < occurrence.starts else staged
        if total is not None and total != occurrence.expect:
            changes["expect"] = total
        found.append(dataclasses.replace(occurrence, **changes) if changes else occurrence)
    return found
