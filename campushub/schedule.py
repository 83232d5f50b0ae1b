"""When courses meet: the catalog's schedules unrolled into dated occurrences.

``occurrences(catalog, start, end)`` lists every weekly meeting and one-off event of every
course that overlaps ``[start, end)``. A meeting starts at its local wall time in the
catalog's time zone and lasts its duration in *elapsed* time, so a 10:00 lecture stays at
10:00 across a daylight-saving change and a 3h exam on such a day lasts 3 hours.

Pure: plain data in, plain data out; no tornado, Kubernetes or HTTP. iCalendar feeds are read
elsewhere and only add counts (see :mod:`campushub.demand`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from .catalog import WEEKDAYS, Catalog, Course, OneOffEvent, WeeklyMeeting

__all__ = ["Occurrence", "occurrences"]


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One dated meeting of a course: when (aware UTC), where, how many, and from what entry.

    ``source`` says which schedule entry it came from, e.g. ``data8 weekly mon/wed/fri 10:00``.
    """

    course: str
    pool: str
    starts: datetime
    ends: datetime
    expect: int | None  # None: enrollment x attendance (see campushub.demand)
    exam: bool
    source: str
    # How long before it room is asked for, when the scaler has learned it for this meeting
    # (see campushub.learning); None: the pool's lead.
    lead: timedelta | None = None
    # The meeting's own end, when the scaler stops counting it earlier (``ends``: the end of
    # arrivals its history knows, see campushub.learning); None: ``ends`` is the meeting's.
    meets_until: datetime | None = None

    @property
    def duration(self) -> timedelta:
        return self.ends - self.starts

    def running_or_starting(self, at: datetime, lead: timedelta) -> bool:
        """True if it is running at ``at`` or starts within its lead (``lead`` unless it has
        its own) after it."""
        return self.starts - (lead if self.lead is None else self.lead) <= at < self.ends

    def lingers(self, at: datetime) -> bool:
        """True if at ``at`` its arrivals are over, as learned, but the meeting still runs."""
        return self.meets_until is not None and self.ends <= at < self.meets_until


def occurrences(catalog: Catalog, start: datetime, end: datetime) -> list[Occurrence]:
    """Every course occurrence overlapping ``[start, end)``, sorted by start time.

    ``start`` and ``end`` must be time-zone aware. Weekly meetings run on their weekdays over
    the term, within their ``from``/``until``, except on term holidays and their ``skip``
    dates; one-off events run on their date. A wall time that does not exist on a
    spring-forward day is taken with the offset before the change (02:30 becomes 03:30 PDT);
    one that occurs twice on a fall-back day is taken the first time.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("occurrences() needs time-zone aware start and end datetimes")
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    if end_utc <= start_utc:
        return []
    zone = catalog.timezone
    # Local days that can hold an overlapping occurrence: durations are at most 24h, and a
    # day either side covers the offset between local and UTC dates.
    first_day = start_utc.astimezone(zone).date() - timedelta(days=2)
    last_day = end_utc.astimezone(zone).date() + timedelta(days=1)
    holidays = frozenset(catalog.term.holidays)
    found: list[Occurrence] = []
    for course in catalog.courses.values():
        for entry in course.schedule:
            if isinstance(entry, OneOffEvent):
                days: Iterator[date] = iter((entry.on,))
                source = _one_off_source(course, entry)
            else:
                days = _meeting_days(catalog, entry, holidays, first_day, last_day)
                source = _weekly_source(course, entry)
            for day in days:
                starts = _instant(day, entry.at, catalog)
                ends = starts + entry.duration
                if starts < end_utc and ends > start_utc:
                    found.append(
                        Occurrence(
                            course.slug,
                            course.pool.name,
                            starts,
                            ends,
                            entry.expect,
                            entry.exam,
                            source,
                        )
                    )
    found.sort(key=lambda o: (o.starts, o.pool, o.course, o.source))
    return found


def _meeting_days(
    catalog: Catalog,
    meeting: WeeklyMeeting,
    holidays: frozenset[date],
    first_day: date,
    last_day: date,
) -> Iterator[date]:
    """The local dates in ``first_day..last_day`` on which ``meeting`` takes place."""
    term = catalog.term
    lowest = max(first_day, term.starts, meeting.starts or term.starts)
    highest = min(last_day, term.ends, meeting.ends or term.ends)
    if highest < lowest:
        return
    skip = frozenset(meeting.skip)
    weekdays = frozenset(meeting.weekdays)
    day = lowest
    one_day = timedelta(days=1)
    while day <= highest:
        if day.weekday() in weekdays and day not in holidays and day not in skip:
            yield day
        day += one_day


def _instant(day: date, at: time, catalog: Catalog) -> datetime:
    # Local wall time to UTC; arithmetic afterwards is in UTC, so durations are elapsed time
    # (datetimes sharing a zone add and compare by wall clock).
    return datetime.combine(day, at, tzinfo=catalog.timezone).astimezone(UTC)


def _weekly_source(course: Course, meeting: WeeklyMeeting) -> str:
    days = "/".join(WEEKDAYS[number] for number in meeting.weekdays)
    exam = " exam" if meeting.exam else ""
    return f"{course.slug} weekly{exam} {days} {meeting.at:%H:%M}"


def _one_off_source(course: Course, event: OneOffEvent) -> str:
    kind = "exam" if event.exam else "event"
    return f"{course.slug} {kind} {event.on.isoformat()} {event.at:%H:%M}"
