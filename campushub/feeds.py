"""Calendar feeds: iCalendar events that ask for placeholders, in Berkeley's format.

An event's description holds ``pool: count`` lines (calendar apps often wrap them in HTML,
which is stripped)::

    standard: 5
    gpu: 2

Each asks for at least that many placeholders in the pool while the event runs (and the pool's
lead before), as in Berkeley's scaler. campushub also reads ``pool: +people`` lines::

    standard: +600

which ask for room for that many people *more than the plan* (a surprise review session on
top of the week's lectures): a meeting of no course, sized as the catalog's ``defaults``, that
the planner adds to the pool's other meetings. A course's slug in place of the pool::

    data8: +600

adds a meeting of that course, in its pool and sized with its guarantees (a name that is both
a pool and a course is the pool).

``read_feed(data, source, pools, start, end, zone)`` expands the feed's events over
``[start, end)`` with recurring-ical-events (recurrence rules, exceptions, moved
occurrences, time zones, all-day events) and turns each good ``pool: count`` line into a
:class:`campushub.demand.Request`. Everything else is listed as a :class:`Skipped` entry with
the reason, and reading goes on: a bad line never spoils the rest of its event, a bad event
never spoils the feed. Only a feed that is not iCalendar at all (or is cut short) raises
:class:`FeedError`.

Times:

- A time with a zone (``Z``, a ``TZID`` of the zone database or a Windows zone name, or a
  ``TZID`` the feed defines with a VTIMEZONE) is read in that zone.
- Floating times (no zone, or a ``TZID`` nobody defines) are read in the calendar's
  ``X-WR-TIMEZONE`` when that names a valid zone (Google Calendar feeds carry it), else in
  the catalog's zone; an invalid ``X-WR-TIMEZONE`` is listed as skipped.
- All-day events are campus days: local midnight to midnight in the catalog's zone.

What is left out, and how it is listed (one :class:`Skipped` per event and reason, with
``count`` its occurrences in the window; at most 3 reasons per event, then "...and N more",
and at most 200 entries per feed, then "N more problems"):

- Cancelled events and cancelled occurrences (``STATUS:CANCELLED``) ask for nothing and are
  not listed: cancelling is not a mistake.
- An event that ends before it starts, a timed event longer than 7 days, an all-day event
  longer than 7 days, an event with no end: skipped with the reason (never swapped or guessed).
- Repeat rules by the second or minute (``FREQ=SECONDLY``/``MINUTELY``); rules that would take
  more than 20,000 repeats from their ``DTSTART`` to the window's end (an hourly rule from
  years back; a daily one from 10 years back is fine); rules whose parts may go years without
  a date (``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30``): skipped before any expansion.
- More than 2,000 occurrences of one event in the window: the first 2,000 are read.
- A feed's reading is bounded: about 1 MB of events near the window are parsed, 200,000
  repeat steps and 10,000 occurrences are expanded (the smallest events first, so one busy
  event cannot push out the others), and the occurrences are sorted by start before the cap.
  What does not fit is listed once.

Pure: bytes in, plain data out; fetching is the scaler service's job.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from html import unescape
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from dateutil.rrule import rrule, rruleset
from icalendar.prop import vRecur

from .demand import Request
from .schedule import Occurrence

__all__ = ["FeedError", "FeedResult", "Skipped", "parse_description", "read_feed"]

# Hostile feeds: bounds on what one feed may make us do.
MAX_FEED_BYTES = 5_000_000
MAX_EVENT_BYTES = 100_000  # one VEVENT's text
MAX_PARSE_BYTES = 1_000_000  # VEVENTs near the window parsed per feed
PARSE_CHUNK_BYTES = 100_000
MAX_SERIES_STEPS = 20_000  # repeats of one event from its DTSTART to the window's end
MAX_FEED_STEPS = 200_000  # the same, summed over a feed (dateutil takes ~3 us a step)
MAX_SERIES_OCCURRENCES = 2_000  # occurrences of one event in the window
MAX_EVENTS = 10_000  # occurrences in the window per feed
MAX_RULES = 3  # RRULE lines of one event
MAX_EXTRA_DATES = 1_000  # RDATE values of one event
MAX_LENGTH = timedelta(days=7)  # of one event, timed or all-day
MAX_COUNT = 100_000  # larger counts are refused; the pool's max clamps anyway
MAX_PROBLEMS_PER_EVENT = 3
MAX_SKIPPED = 200
SUMMARY_CHARS = 80

_LINE = re.compile(r"^\s*([^:]*?)\s*:\s*(.*?)\s*$")
_POOL_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
_FOLD = re.compile(r"\r?\n[ \t]")
_NEWLINE = re.compile(r"\r?\n")
_VALUE = re.compile(r'^(?:[^:"]|"[^"]*")*:(.*)$', re.DOTALL)
_DATE = re.compile(r"[0-9]{8}")
_UNTIL = re.compile(r"UNTIL=([0-9]{8})", re.IGNORECASE)
_TZID = re.compile(r';TZID=("[^"]*"|[^;:]*)', re.IGNORECASE)
_WEEKDAY = re.compile(r"^([+-]?[0-9]{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_SCREENED = frozenset({"UID", "DTS", "REC", "RRU", "RDA"})  # first letters of what is read
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# The shortest period of each frequency: the number of periods is never underestimated.
_PERIOD = {
    "YEARLY": timedelta(days=365),
    "MONTHLY": timedelta(days=28),
    "WEEKLY": timedelta(days=7),
    "DAILY": timedelta(days=1),
    "HOURLY": timedelta(hours=1),
}
_RULE_PARTS = frozenset(
    {"FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST", "BYSECOND", "BYMINUTE", "BYHOUR"}
    | {"BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS"}
)
_RANGES = {
    "BYSECOND": (0, 59),  # dateutil has no leap second
    "BYMINUTE": (0, 59),
    "BYHOUR": (0, 23),
    "BYMONTH": (1, 12),
    "BYMONTHDAY": (-31, 31),
    "BYYEARDAY": (-366, 366),
    "BYWEEKNO": (-53, 53),
    "BYSETPOS": (-366, 366),
}
_DAY_PARTS = frozenset({"BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY"})
_MONTH_DAYS = {1: 31, 2: 28, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30}
_MONTH_DAYS[12] = 31
_ALL_MONTHS = tuple(range(1, 13))


class FeedError(ValueError):
    """The feed as a whole cannot be read (not iCalendar, cut short, too large)."""


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something in a feed that was not used, and why.

    ``count`` is how many occurrences in the window the reason applies to (1 for an event
    refused as a whole before it is expanded, or for a note about the whole feed).
    """

    feed: str
    event: str  # the event's summary and start, e.g. "DATA 8 midterm (2026-12-14 08:00)"
    reason: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class FeedResult:
    requests: tuple[Request, ...]
    skipped: tuple[Skipped, ...]
    events: int  # occurrences read in the window
    # ``pool: +people`` lines: meetings of no course (sized as the catalog's defaults).
    added: tuple[Occurrence, ...] = ()


def read_feed(
    data: bytes | str,
    source: str,
    pools: Collection[str],
    start: datetime,
    end: datetime,
    zone: tzinfo,
    courses: Mapping[str, str] | None = None,
) -> FeedResult:
    """The requests of the feed ``data`` (named ``source`` in messages) over ``[start, end)``.

    Times without a zone (floating) are read in the feed's ``X-WR-TIMEZONE`` if valid, else
    in ``zone`` (the catalog's); all-day events ask for their count from local midnight to
    midnight in ``zone``. ``courses`` (slug: pool) are the courses a ``course: +people`` line
    may name. Raises :class:`FeedError` only when ``data`` is not a calendar at
    all (and :class:`ValueError` for naive ``start``/``end``, a caller's mistake); whatever
    else goes wrong with an event is listed in ``skipped``.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("read_feed() needs time-zone aware datetimes")
    if len(data) > MAX_FEED_BYTES:
        raise FeedError(f"{source}: the feed is {len(data)} bytes, more than {MAX_FEED_BYTES}")
    try:
        return _FeedReader(source, pools, start, end, zone, courses or {}).read(data)
    except FeedError:
        raise
    except Exception as error:  # a bug or a case nobody foresaw: still only FeedError
        raise FeedError(f"{source}: cannot be read: {_short(error)}") from error


def parse_description(text: str, pools: Collection[str]) -> tuple[dict[str, int], list[str]]:
    """The ``pool: count`` lines of an event description, and a message for each bad line
    (``pool: +people`` lines are read by :func:`parse_lines`)."""
    counts, _, problems = parse_lines(text, pools)
    return counts, problems


def parse_lines(
    text: str, pools: Collection[str], courses: Collection[str] = ()
) -> tuple[dict[str, int], dict[str, int], list[str]]:
    """The ``pool: count`` lines (at least that many placeholders) and ``pool: +people`` or
    ``course: +people`` lines (that many people more than the plan) of an event description,
    and a message for each bad line.

    HTML is stripped first (``<br>``, ``<p>`` and ``<div>`` end lines). A pool named twice
    keeps its larger count, and its larger number of people.
    """
    counts: dict[str, int] = {}
    people: dict[str, int] = {}
    problems: list[str] = []
    lines = [line.strip() for line in _strip_html(text).splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return counts, people, ["its description has no 'pool: count' line"]
    for line in lines:
        shown = repr(line if len(line) <= 60 else line[:57] + "...")
        if line.startswith(("- ", "-\t")) or line == "-":
            problems.append(f"{shown} is a list item; write 'pool: count' lines")
            continue
        match = _LINE.match(line)
        if match is None:
            problems.append(f"{shown} is not a 'pool: count' line")
            continue
        pool, value = match.groups()
        if not pool:
            problems.append(f"{shown} names no pool")
            continue
        course_people = pool not in pools and pool in courses
        if pool not in pools and not (course_people and value.startswith("+")):
            known = ", ".join(sorted(pools)) or "none"
            if course_people:
                problems.append(
                    f"{pool} is a course: write '{pool}: +people' for people more than the plan,"
                    f" or a pool's count (pools: {known})"
                )
            else:
                name = pool if _POOL_NAME.match(pool) else shown
                problems.append(f"{name!s} is not a pool of the catalog (pools: {known})")
            continue
        if match_more := re.fullmatch(r"\+\s*([0-9]{1,6})(?:\s+people)?", value):
            more = int(match_more.group(1))
            if more > MAX_COUNT:
                problems.append(f"{pool}: +{more} is more than {MAX_COUNT} people")
            else:
                people[pool] = max(people.get(pool, 0), more)
        elif not re.fullmatch(r"[0-9]{1,6}", value):
            problems.append(
                f"{pool}: {value[:20]!r} is not a whole number of 0 or more"
                " (or +people for people more than the plan)"
            )
        elif int(value) > MAX_COUNT:
            problems.append(f"{pool}: {value} is more than {MAX_COUNT}")
        else:
            counts[pool] = max(counts.get(pool, 0), int(value))
    return counts, people, problems


# -- The feed's text, before icalendar: cheap, so that a big or hostile feed costs little --


@dataclass(slots=True)
class _Block:
    """One VEVENT of the feed as unfolded lines, and what the screen needs of it."""

    lines: list[str]
    uid: str | None = None
    start: str | None = None  # YYYYMMDD of DTSTART; None if absent or unreadable
    recurrence: str | None = None  # YYYYMMDD of RECURRENCE-ID
    is_override: bool = False
    this_and_future: bool = False
    repeats: bool = False  # RRULE or RDATE
    until: str | None = ""  # the latest UNTIL; None if a rule has none, "" if no rule
    size: int = 0

    def read_property(self, line: str) -> None:
        """Note the line if it is one the screen needs (the event's own, not nested)."""
        name = _name(line)
        if name not in ("UID", "DTSTART", "RECURRENCE-ID", "RRULE", "RDATE"):
            return
        match = _VALUE.match(line)
        value = match.group(1).strip() if match else ""
        if name == "UID":
            self.uid = value
        elif name == "DTSTART":
            self.start = value[:8] if _DATE.match(value) else None
        elif name == "RECURRENCE-ID":
            self.is_override = True
            self.recurrence = value[:8] if _DATE.match(value) else None
            self.this_and_future = "THISANDFUTURE" in line[: len(line) - len(value)].upper()
        else:
            self.repeats = True
            if name == "RRULE":
                until = _UNTIL.search(value)
                if until is None:
                    self.until = None
                elif self.until is not None:
                    self.until = max(self.until, until.group(1))

    def near(self, low: str, high: str) -> bool:
        """Whether it may have an occurrence in the window (dates padded by days)."""

        def inside(day: str | None) -> bool:
            return day is None or low <= day <= high

        if self.is_override:
            if self.this_and_future:
                return self.recurrence is None or self.recurrence <= high
            return inside(self.recurrence) or inside(self.start)
        if self.repeats:
            return (self.start is None or self.start <= high) and (
                self.until is None or self.until == "" or self.until >= low
            )
        return inside(self.start)


@dataclass(slots=True)
class _RawCalendar:
    properties: dict[str, str]
    timezones: dict[str, list[str]]  # TZID -> the VTIMEZONE's lines
    events: list[_Block]


def _split_calendar(data: bytes | str, source: str) -> _RawCalendar:
    """The feed's calendar properties, VTIMEZONEs and VEVENTs, as text."""
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    lines = [line for line in _NEWLINE.split(_FOLD.sub("", text)) if line.strip()]
    if not lines or lines[0].strip().lstrip("\ufeff").upper() != "BEGIN:VCALENDAR":
        shown = repr(lines[0][:40]) if lines else "nothing"
        raise FeedError(
            f"{source}: not an iCalendar feed (it begins with {shown}, not BEGIN:VCALENDAR)"
        )
    calendar = _RawCalendar({}, {}, [])
    depth = 1
    name = ""
    block: list[str] = []
    event = _Block(block)
    for line in lines[1:]:
        head = line[:6].upper()
        if head == "BEGIN:":
            depth += 1
            if depth == 2:
                name, block = line[6:].strip().upper(), []
                event = _Block(block)
        elif head[:4] == "END:":
            depth -= 1  # like icalendar: END closes the innermost component, whatever its name
            if depth == 0:
                break
            if depth == 1:
                block.append(line)
                if name == "VEVENT":
                    event.size = sum(map(len, block)) + 2 * len(block)
                    calendar.events.append(event)
                elif name == "VTIMEZONE":
                    tzid = next((_value(x) for x in block if _name(x) == "TZID"), "")
                    calendar.timezones.setdefault(tzid, block)
                block = []
                continue
        elif depth == 1:
            calendar.properties.setdefault(_name(line), _value(line))
            continue
        elif depth == 2 and head[:3] in _SCREENED and name == "VEVENT":
            event.read_property(line)
        block.append(line)
    else:
        raise FeedError(f"{source}: the feed is cut short (no END:VCALENDAR)")
    return calendar


def _name(line: str) -> str:
    return line.split(":", 1)[0].split(";", 1)[0].strip().upper()


def _value(line: str) -> str:
    match = _VALUE.match(line)
    return match.group(1).strip() if match else ""


# -- Reading: screen each event (one UID: its master and moved occurrences), then expand --


class _Refused(Exception):
    """An event (or one of its occurrences) is skipped for ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class _Series:
    """One event ready to expand: its components (the master, a copy with the dates of bad
    or cancelled moved occurrences excluded, and its good moved occurrences)."""

    index: int
    first: datetime  # its start: of equally cheap events, the earliest are read first
    components: list[Any]
    steps: int  # repeats from DTSTART to the window's end (estimated)
    in_window: int  # occurrences in the window (estimated, at most)
    spans: list[tuple[datetime, datetime, Any]] | None = None  # known without expanding

    @property
    def component(self) -> Any:
        """The component that names the event in messages."""
        return self.components[0] if self.components else self.spans[0][2]  # type: ignore[index]


@dataclass(slots=True)
class _Occurrence:
    starts: datetime
    ends: datetime
    series: int
    component: Any


class _FeedReader:
    """One reading of one feed: screen each event, expand what fits, list what does not."""

    def __init__(
        self,
        source: str,
        pools: Collection[str],
        start: datetime,
        end: datetime,
        zone: tzinfo,
        courses: Mapping[str, str],
    ) -> None:
        self.source = source
        self.pools = pools
        self.courses = courses
        self.zone = zone
        self.floating = zone
        self.start = start.astimezone(UTC)
        self.end = end.astimezone(UTC)
        # Asked of the expansion: a day more each side, for floating times and zones.
        self.low = self.start - timedelta(days=1)
        self.high = self.end + timedelta(days=1)
        self.report = _Report(source)
        self._zones: dict[int, str | None] = {}

    def read(self, data: bytes | str) -> FeedResult:
        raw = _split_calendar(data, self.source)
        self._read_calendar_properties(raw.properties)
        if raw.properties.get("CALSCALE", "GREGORIAN").upper() != "GREGORIAN":
            self.report.note(f"its CALSCALE is {raw.properties['CALSCALE'][:40]!r}: not read")
            return FeedResult((), self.report.result(), 0)
        groups = self._near_window(raw.events)
        series: list[_Series] = []
        steps = in_window = 0
        index = position = 0
        # Parsed a chunk at a time, smallest events first: once the events screened already
        # fill the expansion budget, the rest is not worth parsing (icalendar is the slow part).
        while position < len(groups) and steps <= MAX_FEED_STEPS and in_window <= MAX_EVENTS:
            chunk, size = [], 0
            while position < len(groups) and size < PARSE_CHUNK_BYTES:
                chunk.append(groups[position])
                size += sum(block.size for block in groups[position])
                position += 1
            for components in self._parse(raw.timezones, chunk):
                found = self._screen_safely(index, components)
                index += 1
                if found is not None:
                    series.append(found)
                    steps += found.steps
                    in_window += found.in_window
        occurrences = self._expand_within_budget(series, unparsed=len(groups) - position)
        return self._requests(occurrences)

    def _screen_safely(self, index: int, components: list[Any]) -> _Series | None:
        try:
            return self._screen(index, components)
        except _Refused as refusal:
            self._refuse(index, components[0], refusal.reason)
        except Exception as error:  # whatever a broken event does, it is this event's
            self._refuse(index, components[0], f"it cannot be read: {_short(error)}")
        return None

    def _read_calendar_properties(self, properties: dict[str, str]) -> None:
        name = properties.get("X-WR-TIMEZONE", "").strip()
        if not name:
            return
        try:
            self.floating = ZoneInfo(name)
        except Exception:  # ZoneInfoNotFoundError, ValueError for paths, ...
            shown = name if len(name) <= 40 else name[:37] + "..."
            self.report.note(
                f"X-WR-TIMEZONE {shown!r} is not a time zone; times without a zone are read"
                f" in the catalog's zone ({self.zone})"
            )

    def _near_window(self, events: list[_Block]) -> list[list[_Block]]:
        """The events (grouped by UID) that may have an occurrence in the window, smallest
        first, within the parse budget; the rest are listed once."""
        low = (self.start - MAX_LENGTH - timedelta(days=2)).strftime("%Y%m%d")
        high = (self.end + timedelta(days=2)).strftime("%Y%m%d")
        by_uid: dict[str | int, list[_Block]] = {}
        for number, block in enumerate(events):
            by_uid.setdefault(block.uid if block.uid else number, []).append(block)
        groups = []
        for blocks in by_uid.values():
            near = [block for block in blocks if block.near(low, high)]
            large = [block for block in near if block.size > MAX_EVENT_BYTES]
            for block in large:
                self.report.add(
                    -1,
                    None,
                    f"{block.uid or '(no UID)'!s:.{SUMMARY_CHARS}}",
                    f"it is {block.size:,} bytes long, more than {MAX_EVENT_BYTES:,}: not read",
                )
            if near and not large:
                groups.append(near)
        groups.sort(key=lambda blocks: sum(block.size for block in blocks))
        used = 0
        for kept, blocks in enumerate(groups):
            used += sum(block.size for block in blocks)
            if used > MAX_PARSE_BYTES:
                left = len(groups) - kept
                self.report.rest(
                    f"{left} more event(s) near the window not read: the feed has more than"
                    f" {MAX_PARSE_BYTES:,} bytes of them",
                    left,
                )
                return groups[:kept]
        return groups

    def _parse(
        self, timezones: dict[str, list[str]], groups: list[list[_Block]]
    ) -> list[list[Any]]:
        """The icalendar components of each group: one parse for all, or one each if that
        fails (then a group that cannot be parsed is listed)."""

        def text(blocks: list[list[_Block]]) -> str:
            lines = [line for group in blocks for block in group for line in block.lines]
            used = {name.strip('"') for line in lines for name in _TZID.findall(line[:200])}
            zones = [line for tzid in sorted(used) for line in timezones.get(tzid, ())]
            return "\r\n".join(["BEGIN:VCALENDAR", *zones, *lines, "END:VCALENDAR", ""])

        if not groups:
            return []
        try:
            events = _events_of(text(groups))
            if len(events) == sum(len(group) for group in groups):
                parsed, position = [], 0
                for group in groups:
                    parsed.append(events[position : position + len(group)])
                    position += len(group)
                return parsed
        except Exception:  # read each event on its own below, to say which one fails
            pass
        parsed = []
        for group in groups:
            try:
                events = _events_of(text([group]))
                if len(events) != len(group):
                    raise ValueError("its BEGIN and END lines do not match")
                parsed.append(events)
            except Exception as error:
                label = f"{group[0].uid or '(no UID)'!s:.{SUMMARY_CHARS}}"
                self.report.add(-1, None, label, f"it cannot be read: {_short(error)}")
        return parsed

    # -- screening, before any expansion --

    def _screen(self, index: int, components: list[Any]) -> _Series | None:
        masters = [c for c in components if c.get("RECURRENCE-ID") is None]
        overrides = [c for c in components if c.get("RECURRENCE-ID") is not None]
        # As recurring-ical-events does: the master with the highest SEQUENCE counts.
        master = max(masters, key=_sequence) if masters else None
        if master is not None and _cancelled(master):
            master = None
        steps = in_window = 0
        if master is not None:
            try:
                starts, ends = self._span(master)
                rules, extra = self._rules(master)
                steps, in_window = extra, extra
                for rule in rules:
                    rule_steps, rule_in_window = self._rule_cost(rule, master, ends - starts)
                    steps += rule_steps
                    in_window += rule_in_window
            except _Refused as refusal:
                self._refuse(index, master, refusal.reason)
                return None
            if not rules and not extra and not overrides and master.get("EXDATE") is None:
                return _Series(index, starts, [], 1, 1, [(starts, ends, master)])
        kept, excluded = self._screen_overrides(index, overrides)
        if master is None:
            if not kept:
                return None
            return _Series(index, min(s for s, _, _ in kept), [], len(kept), len(kept), kept)
        if excluded:
            master = master.copy()  # the feed's own component stays as it was
            for recurrence in excluded:
                master.add("EXDATE", recurrence)
        in_window += len(kept)
        components = [master, *(c for _, _, c in kept)]
        return _Series(index, starts, components, steps + len(kept), in_window)

    def _screen_overrides(
        self, index: int, overrides: list[Any]
    ) -> tuple[list[tuple[datetime, datetime, Any]], list[date | datetime]]:
        """The good moved occurrences with their spans, and the RECURRENCE-IDs of the
        cancelled and bad ones: those dates are excluded from the master, so that a broken
        moved occurrence never brings back the occurrence it replaced."""
        kept, excluded = [], []
        for override in overrides:
            recurrence = override.get("RECURRENCE-ID")
            try:
                recurrence = recurrence.dt
                self._check_zone(recurrence)
            except Exception:
                recurrence = None
            if _cancelled(override):
                if recurrence is not None:
                    excluded.append(recurrence)
                continue
            try:
                if recurrence is None:
                    raise _Refused("its RECURRENCE-ID is not a date or a time")
                starts, ends = self._span(override)
            except _Refused as refusal:
                self._refuse(index, override, refusal.reason)
                if recurrence is not None:
                    excluded.append(recurrence)
                continue
            kept.append((starts, ends, override))
        return kept, excluded

    def _span(self, component: Any) -> tuple[datetime, datetime]:
        """The component's own start and end (UTC), checked before anything expands it:
        recurring-ical-events would swap an end before the start, or overflow."""
        starts_at = _date_value(component, "DTSTART", "start")
        if starts_at is None:
            raise _Refused("it has no start (DTSTART)")
        self._check_zone(starts_at)
        all_day = not isinstance(starts_at, datetime)
        ends_at = _date_value(component, "DTEND", "end")
        duration = component.get("DURATION")
        if ends_at is not None:
            self._check_zone(ends_at)
            if isinstance(ends_at, datetime) != (not all_day):
                raise _Refused("its start and end mix a date and a time")
            length = (
                ends_at - starts_at
                if all_day
                else self._instant(ends_at) - self._instant(starts_at)
            )
        elif duration is not None:
            if isinstance(duration, list):
                raise _Refused("it has more than one DURATION")
            try:
                length = duration.dt
            except Exception:
                length = None
            if not isinstance(length, timedelta):
                raise _Refused(f"its DURATION {_shown(duration)} is not a duration")
        else:
            length = timedelta(days=1) if all_day else timedelta(0)
        if length < timedelta(0):
            raise _Refused("it ends before it starts")
        if length > MAX_LENGTH:
            raise _Refused(f"it is longer than {MAX_LENGTH.days} days")
        if length == timedelta(0):
            raise _Refused("it ends when it starts (no end or duration)")
        starts = self._instant(starts_at)
        if all_day and ends_at is not None:
            return starts, self._instant(ends_at)
        if all_day and duration is None:
            return starts, self._instant(starts_at + length)
        return starts, starts + length

    def _rules(self, master: Any) -> tuple[list[vRecur], int]:
        """The master's repeat rules and its number of extra dates (RDATE), if readable."""
        found = master.get("RRULE")
        rules = [] if found is None else found if isinstance(found, list) else [found]
        if len(rules) > MAX_RULES:
            raise _Refused(f"it has {len(rules)} repeat rules (RRULE), more than {MAX_RULES}")
        for rule in rules:
            if not isinstance(rule, vRecur):
                raise _Refused(f"its repeat rule {_shown(rule)} cannot be read")
        extra = 0
        for value in _date_values(master.get("RDATE"), "extra dates (RDATE)"):
            self._check_zone(value)
            extra += 1
            if extra > MAX_EXTRA_DATES:
                raise _Refused(f"it has more than {MAX_EXTRA_DATES} extra dates (RDATE)")
        for value in _date_values(master.get("EXDATE"), "excluded dates (EXDATE)"):
            self._check_zone(value)
        return rules, extra

    def _rule_cost(self, rule: vRecur, master: Any, length: timedelta) -> tuple[int, int]:
        """Estimated repeats from DTSTART to the window's end, and in the window; refused
        before any expansion if too frequent, too many or possibly endless without a date."""
        text = rule.to_ical().decode(errors="replace")
        parts = _RuleParts.of(rule, text)
        if parts.freq in ("SECONDLY", "MINUTELY"):
            unit = "second" if parts.freq == "SECONDLY" else "minute"
            raise _Refused(
                f"it repeats every {unit} (FREQ={parts.freq}); the reader expands rules that"
                " repeat at most hourly"
            )
        first = _date_value(master, "DTSTART", "start")
        first_day = first.date() if isinstance(first, datetime) else first
        starts = self._instant(first)
        if parts.sparse(first_day):
            raise _Refused(
                f"its repeat rule {text[:60]!r} may go years without a date; the reader"
                " expands the usual shapes only (such as WEEKLY;BYDAY=MO,WE or"
                " MONTHLY;BYDAY=2TU)"
            )
        period = _PERIOD[parts.freq] * parts.interval
        last = self.high
        if parts.until is not None:  # dateutil stops at the first date after it
            last = min(last, self._instant(parts.until) + period)
        periods = max(last - starts, timedelta(0)) // period + 1
        if parts.count is not None and parts.dense():
            periods = min(periods, parts.count)
        steps = periods * parts.per_period()
        if steps > MAX_SERIES_STEPS:
            raise _Refused(
                f"it repeats {parts.freq} from {starts.astimezone(self.zone):%Y-%m-%d}: about"
                f" {steps:,} repeats up to the window's end, more than {MAX_SERIES_STEPS:,};"
                " start the rule nearer the present"
            )
        window = self.end - self.start + length
        return steps, min(steps, (window // period + 1) * parts.per_period())

    def _check_zone(self, value: date | datetime) -> None:
        """Refuse a time in a zone the feed defined with rules that could run for ever (a
        VTIMEZONE with FREQ=SECONDLY hangs the first conversion)."""
        zone = value.tzinfo if isinstance(value, datetime) else None
        if zone is None or isinstance(zone, (ZoneInfo, timezone)):
            return
        if id(zone) not in self._zones:
            self._zones[id(zone)] = _zone_problem(zone)
        problem = self._zones[id(zone)]
        if problem is not None:
            raise _Refused(problem)

    # -- expansion --

    def _expand_within_budget(self, series: list[_Series], unparsed: int) -> list[_Occurrence]:
        """Expand the events, the cheapest first, while the feed's budget lasts."""
        series.sort(key=lambda s: (s.in_window, s.steps, s.first, s.index))
        steps = in_window = 0
        left = unparsed
        occurrences: list[_Occurrence] = []
        for one in series:
            if steps + one.steps > MAX_FEED_STEPS or in_window + one.in_window > MAX_EVENTS:
                left += 1
                continue
            steps += one.steps
            in_window += one.in_window
            try:
                occurrences.extend(self._expand(one))
            except _Refused as refusal:
                self._refuse(one.index, one.component, refusal.reason)
            except Exception as error:  # a broken rule, date or zone: this event only
                self._refuse(one.index, one.component, f"it cannot be read: {_short(error)}")
        if left:
            self.report.rest(
                f"{left} more event(s) not read: the feed asks for more than"
                f" {MAX_EVENTS:,} occurrences in the window or {MAX_FEED_STEPS:,} repeats",
                left,
            )
        return occurrences

    def _expand(self, series: _Series) -> list[_Occurrence]:
        if series.spans is not None:
            found = series.spans
        else:
            calendar = icalendar.Calendar()
            for component in series.components:
                calendar.add_component(component)
            found = []
            for component in recurring_ical_events.of(calendar).between(self.low, self.high):
                if _cancelled(component):
                    continue
                starts = self._instant(component["DTSTART"].dt)
                ends = self._instant(component["DTEND"].dt)
                if not (starts < self.end and ends > self.start):
                    continue
                # An RDATE period has its own length; an hour more for a DST change.
                if not timedelta(0) < ends - starts <= MAX_LENGTH + timedelta(hours=1):
                    self.report.add(
                        series.index,
                        starts,
                        self._label(component, starts),
                        f"it ends when or before it starts, or lasts more than"
                        f" {MAX_LENGTH.days} days",
                    )
                    continue
                found.append((starts, ends, component))
        inside = [
            _Occurrence(starts, ends, series.index, component)
            for starts, ends, component in found
            if starts < self.end and ends > self.start
        ]
        inside.sort(key=lambda o: o.starts)
        if len(inside) > MAX_SERIES_OCCURRENCES:
            left = len(inside) - MAX_SERIES_OCCURRENCES
            after = inside[MAX_SERIES_OCCURRENCES]
            self.report.add(
                series.index,
                after.starts,
                self._label(after.component, after.starts),
                f"{left} more occurrence(s) in the window left out: the first"
                f" {MAX_SERIES_OCCURRENCES:,} are read",
                left,
            )
            inside = inside[:MAX_SERIES_OCCURRENCES]
        return inside

    def _requests(self, occurrences: list[_Occurrence]) -> FeedResult:
        occurrences.sort(key=lambda o: (o.starts, o.series))
        if len(occurrences) > MAX_EVENTS:
            left = len(occurrences) - MAX_EVENTS
            after = occurrences[MAX_EVENTS].starts.astimezone(self.zone)
            self.report.rest(
                f"{left} more occurrence(s) in the window from {after:%Y-%m-%d %H:%M} not"
                f" read: more than {MAX_EVENTS:,} in the window",
                left,
            )
            occurrences = occurrences[:MAX_EVENTS]
        descriptions: dict[str, tuple[dict[str, int], dict[str, int], list[str], int]] = {}
        requests: list[Request] = []
        added: list[Occurrence] = []
        for occurrence in occurrences:
            text = _description(occurrence.component)
            if text not in descriptions:
                counts, people, problems = parse_lines(text, self.pools, self.courses)
                shown = problems[:MAX_PROBLEMS_PER_EVENT]
                descriptions[text] = (counts, people, shown, len(problems) - len(shown))
            counts, people, problems, hidden = descriptions[text]
            label = self._label(occurrence.component, occurrence.starts)
            if problems:
                self.report.add_problems(occurrence.series, occurrence.starts, label, problems)
            if hidden:
                self.report.add_hidden(occurrence.series, occurrence.starts, label, text, hidden)
            for pool, value in counts.items():
                requests.append(
                    Request(
                        pool, value, occurrence.starts, occurrence.ends, f"{self.source}: {label}"
                    )
                )
            for name, more in people.items():
                # People on top of the plan: a meeting of the course named (in its pool, with
                # its guarantees) or of no course (sized as the catalog's defaults), which the
                # planner adds to the pool's other meetings.
                course = name if name not in self.pools else ""
                added.append(
                    Occurrence(
                        course,
                        self.courses[name] if course else name,
                        occurrence.starts,
                        occurrence.ends,
                        more,
                        False,
                        f"{self.source}: {label} (+{more} people)",
                    )
                )
        requests.sort(key=lambda r: (r.starts, r.pool, r.source))
        added.sort(key=lambda o: (o.starts, o.pool, o.source))
        return FeedResult(tuple(requests), self.report.result(), len(occurrences), tuple(added))

    # -- helpers --

    def _instant(self, value: date | datetime) -> datetime:
        if not isinstance(value, datetime):  # all-day: the campus's local midnight
            return datetime.combine(value, time(0), tzinfo=self.zone).astimezone(UTC)
        if value.tzinfo is None:  # floating: X-WR-TIMEZONE if valid, else the catalog's
            value = value.replace(tzinfo=self.floating)
        return value.astimezone(UTC)

    def _label(self, component: Any, starts: datetime | None) -> str:
        summary = _summary(component)
        if starts is None:
            return summary
        return f"{summary} ({starts.astimezone(self.zone):%Y-%m-%d %H:%M})"

    def _refuse(self, index: int, component: Any, reason: str) -> None:
        try:
            value = component["DTSTART"].dt
            self._check_zone(value)  # never convert a time in a zone that may hang
            starts: datetime | None = self._instant(value)
        except Exception:  # the start is what is broken
            starts = None
        self.report.add(index, starts, self._label(component, starts), reason)


@dataclass(slots=True)
class _RuleParts:
    """A repeat rule's parts, as the screen needs them."""

    freq: str
    interval: int
    count: int | None
    parts: dict[str, list[int]]
    days: list[tuple[int, int]]  # BYDAY as (n or 0, weekday 0-6)
    until: date | None = None

    @classmethod
    def of(cls, rule: vRecur, text: str) -> _RuleParts:
        keys = {str(key).upper(): value for key, value in rule.items()}
        unknown = sorted(set(keys) - _RULE_PARTS)
        if unknown:
            raise _Refused(
                f"its repeat rule uses {unknown[0][:20]}, which the reader does not follow"
            )
        freq = str(keys.get("FREQ", [""])[0]).upper()
        if freq not in _PERIOD and freq not in ("SECONDLY", "MINUTELY"):
            raise _Refused(f"its repeat rule {text[:60]!r} has no valid FREQ")
        try:
            interval = int(keys.get("INTERVAL", [1])[0])
            count = int(keys["COUNT"][0]) if "COUNT" in keys else None
            parts = {
                key: [int(value) for value in values]
                for key, values in keys.items()
                if key.startswith("BY") and key != "BYDAY"
            }
            days = [_weekday(str(value)) for value in keys.get("BYDAY", [])]
        except (TypeError, ValueError):
            raise _Refused(f"its repeat rule {text[:60]!r} cannot be read") from None
        if interval < 1:
            raise _Refused("its repeat rule's INTERVAL is not 1 or more")
        for key, values in parts.items():
            low, high = _RANGES[key]
            wrong = [v for v in values if not low <= v <= high or (low < 0 and v == 0)]
            if wrong:
                raise _Refused(f"its repeat rule's {key} has {wrong[0]}, out of range")
        if any(n and not 1 <= abs(n) <= 53 for n, _ in days):
            raise _Refused(f"its repeat rule {text[:60]!r} has a BYDAY out of range")
        if days:
            parts["BYDAY"] = [weekday for _, weekday in days]
        if freq in ("WEEKLY", "DAILY", "HOURLY"):  # dateutil ignores 2MO there: any Monday
            days = [(0, weekday) for _, weekday in days]
        until = keys.get("UNTIL", [None])[0]
        return cls(freq, interval, count, parts, days, until if isinstance(until, date) else None)

    def _times(self) -> int:
        """Times of day per date: the lengths of the BY lists finer than the period."""
        names = ("BYMINUTE", "BYSECOND")
        if self.freq != "HOURLY":
            names = ("BYHOUR", *names)
        found = 1
        for name in names:
            found *= len(set(self.parts.get(name, ()))) or 1
        return found

    def per_period(self) -> int:
        """At most how many dates one period gives (dateutil's steps per period)."""
        p = self.parts
        months = len(set(p.get("BYMONTH", ()))) or 12
        if self.freq == "YEARLY":
            if "BYYEARDAY" in p:
                days = len(p["BYYEARDAY"])
            elif "BYWEEKNO" in p:
                days = len(p["BYWEEKNO"]) * (len(self.days) or 7)
            elif "BYMONTHDAY" in p:
                days = len(p["BYMONTHDAY"]) * months
            elif self.days:
                per = months if "BYMONTH" in p else 1
                days = sum(1 if n else (5 if "BYMONTH" in p else 53) for n, _ in self.days) * per
            else:
                days = len(set(p.get("BYMONTH", ()))) or 1
        elif self.freq == "MONTHLY":
            if "BYMONTHDAY" in p:
                days = len(p["BYMONTHDAY"])
            else:
                days = sum(1 if n else 5 for n, _ in self.days) or 1
        elif self.freq == "WEEKLY":
            days = len(set(self.days)) or 1
        else:
            days = 1
        return min(days, 366) * self._times()

    def dense(self) -> bool:
        """Whether every period has a date (then COUNT bounds the periods too)."""
        limiting = set(self.parts) & (_DAY_PARTS | {"BYSETPOS"})
        if self.freq in ("DAILY", "HOURLY"):
            return not limiting and (self.freq == "DAILY" or "BYHOUR" not in self.parts)
        return self.freq == "WEEKLY" and not (limiting - {"BYDAY"})

    def sparse(self, first: date) -> bool:
        """Whether the rule may go years without a date (or never have one): dateutil then
        searches up to the year 9999, seconds to minutes for one event. Only the usual shapes
        are let through; each has a date at least every few years."""
        p, freq, interval = self.parts, self.freq, self.interval
        day_parts = set(p) & _DAY_PARTS
        setpos = p.get("BYSETPOS")
        leap_ok = interval == 1  # February 29 comes back within 8 years
        if freq == "HOURLY":
            return bool(day_parts or setpos or "BYHOUR" in p)
        if freq == "DAILY":
            if setpos or day_parts & {"BYWEEKNO", "BYYEARDAY"}:
                return True
            if "BYMONTHDAY" in p:
                return interval != 1 or "BYDAY" in p or not self._some_day(p.get("BYMONTH"))
            if "BYDAY" in p and "BYMONTH" in p:
                return interval != 1
            if "BYDAY" in p:
                return interval % 7 == 0 and first.weekday() not in p["BYDAY"]
            return "BYMONTH" in p and interval > 28
        if freq == "WEEKLY":
            if day_parts & {"BYWEEKNO", "BYYEARDAY", "BYMONTHDAY"}:
                return True
            if "BYMONTH" in p and (interval > 4 or setpos):
                return True
            weekdays = len(set(p.get("BYDAY", ()))) or 1
            return bool(setpos) and not self._some_position(setpos, weekdays)
        if freq == "MONTHLY":
            if day_parts & {"BYWEEKNO", "BYYEARDAY"} or {"BYMONTHDAY", "BYDAY"} <= set(p):
                return True
            visited = {(first.month - 1 + k * interval) % 12 + 1 for k in range(12)}
            months = sorted(visited & set(p.get("BYMONTH", _ALL_MONTHS)))
            leap_ok = 12 % interval == 0
            if not months:
                return True
            if "BYMONTHDAY" in p:
                found = self._some_day(months, leap_ok)
                least = sum(1 for d in p["BYMONTHDAY"] if 1 <= abs(d) <= 28)
            elif self.days:
                nths = [n for n, _ in self.days]
                found = any(abs(n) <= 4 for n in nths) or (interval == 1 and 5 in map(abs, nths))
                least = sum(4 if n == 0 else 1 for n in nths if abs(n) <= 4)
            else:
                found = self._some_day(months, leap_ok, [first.day])
                least = 1
            return not found or (bool(setpos) and not self._some_position(setpos, least))
        # YEARLY
        if setpos:
            if day_parts != {"BYMONTH", "BYDAY"} or any(n for n, _ in self.days):
                return True
            least = 4 * len(set(p["BYDAY"])) * len(set(p["BYMONTH"]))
            return not self._some_position(setpos, least)
        if "BYWEEKNO" in p:
            return (
                bool(day_parts - {"BYWEEKNO", "BYDAY"})
                or any(n for n, _ in self.days)
                or not any(1 <= abs(w) <= 52 for w in p["BYWEEKNO"])
            )
        if "BYYEARDAY" in p:
            return bool(day_parts - {"BYYEARDAY"}) or not any(
                1 <= abs(d) <= 365 or (leap_ok and abs(d) == 366) for d in p["BYYEARDAY"]
            )
        if "BYMONTHDAY" in p:
            return "BYDAY" in p or not self._some_day(p.get("BYMONTH"), leap_ok)
        if self.days:
            limit = 4 if "BYMONTH" in p else 52
            return not any(
                abs(n) <= limit or (leap_ok and abs(n) == limit + 1) for n, _ in self.days
            )
        return not self._some_day(p.get("BYMONTH", [first.month]), leap_ok, [first.day])

    def _some_day(
        self, months: list[int] | None, leap_ok: bool = True, days: list[int] | None = None
    ) -> bool:
        """Whether some month of ``months`` (all if None) has some day of ``days`` (the
        rule's BYMONTHDAY if None); February 29 counts only if ``leap_ok``."""
        days = self.parts.get("BYMONTHDAY", []) if days is None else days
        for month in months or _ALL_MONTHS:
            longest = _MONTH_DAYS.get(month, 0) + (1 if month == 2 and leap_ok else 0)
            if any(1 <= abs(day) <= longest for day in days):
                return True
        return False

    def _some_position(self, setpos: list[int], least_dates: int) -> bool:
        """Whether some BYSETPOS position exists in every period, which has at least
        ``least_dates`` dates (times each)."""
        least = least_dates * self._times()
        return any(1 <= abs(position) <= least for position in setpos)


def _weekday(value: str) -> tuple[int, int]:
    match = _WEEKDAY.match(value.strip().upper())
    if match is None:
        raise ValueError(value)
    return int(match.group(1) or 0), _WEEKDAYS.index(match.group(2))


def _zone_problem(zone: tzinfo) -> str | None:
    """Why times in a zone built from a feed's VTIMEZONE (dateutil's tzical) cannot be used
    safely, or None. Each of its rules must be a yearly rule of the usual shape: dateutil
    expands them from their DTSTART at every conversion."""
    name = str(getattr(zone, "_tzid", "") or zone)[:40]
    problem = (
        f"its time zone {name!r} is defined (VTIMEZONE) with rules the reader does not follow;"
        " use a zone name such as America/Los_Angeles"
    )
    try:
        components = zone._comps  # type: ignore[attr-defined]
        if len(components) > 100:
            return problem
        for component in components:
            found = component.rrule
            if found is None:
                continue
            if isinstance(found, rruleset):
                if found._exrule or len(found._rdate) > MAX_EXTRA_DATES:
                    return problem
                rules = list(found._rrule)
            else:
                rules = [found]
            for rule in rules:
                if not isinstance(rule, rrule) or not _usual_zone_rule(rule):
                    return problem
    except Exception:  # not the structure we know: do not touch it
        return problem
    return None


def _usual_zone_rule(rule: rrule) -> bool:
    if rule._freq != 0 or rule._interval != 1:  # YEARLY, every year
        return False
    if rule._byweekno or rule._byyearday or rule._bysetpos or rule._byeaster:
        return False
    parts: dict[str, list[int]] = {"BYMONTH": list(rule._bymonth or ())}
    monthdays = [*(rule._bymonthday or ()), *(rule._bynmonthday or ())]
    if monthdays:
        parts["BYMONTHDAY"] = monthdays
    days = [(0, day) for day in rule._byweekday or ()]
    days += [(n, day) for day, n in rule._bynweekday or ()]
    if days:
        parts["BYDAY"] = [day for _, day in days]
    if not parts["BYMONTH"]:
        del parts["BYMONTH"]
    found = _RuleParts("YEARLY", 1, None, parts, days)
    first = rule._dtstart.date()
    if "BYMONTHDAY" in parts and days:  # "the Sunday on or after the 8th": 7 days in a row
        in_a_row = sorted(set(monthdays))
        return any(
            in_a_row[i : i + 7] == list(range(in_a_row[i], in_a_row[i] + 7))
            for i in range(len(in_a_row))
        )
    return not found.sparse(first)


def _events_of(text: str) -> list[Any]:
    calendar = icalendar.Calendar.from_ical(text)
    return [c for c in calendar.subcomponents if c.name == "VEVENT"]


def _date_value(component: Any, name: str, what: str) -> date | datetime | None:
    found = component.get(name)
    if found is None:
        return None
    if isinstance(found, list):
        raise _Refused(f"it has more than one {what} ({name})")
    try:
        value = found.dt
    except Exception:  # icalendar's vBroken: the text was not a date
        value = None
    if not isinstance(value, date):
        raise _Refused(f"its {what} {_shown(found)} is not a date or a time")
    return value


def _date_values(found: Any, what: str) -> Iterator[date | datetime]:
    for item in found if isinstance(found, list) else () if found is None else [found]:
        try:
            values = [one.dt for one in item.dts] if hasattr(item, "dts") else [item.dt]
        except Exception:
            values = [None]
        for value in values:
            if isinstance(value, tuple):  # a PERIOD: its start
                value = value[0]
            if not isinstance(value, date):
                raise _Refused(f"one of its {what} is not a date or a time")
            yield value


def _cancelled(component: Any) -> bool:
    status = component.get("STATUS")
    if isinstance(status, list):
        status = status[0] if status else None
    return str(status or "").strip().upper() == "CANCELLED"


def _sequence(component: Any) -> int:
    try:
        return int(component.get("SEQUENCE", -1))
    except (TypeError, ValueError):
        return -1


def _summary(component: Any) -> str:
    found = component.get("SUMMARY")
    if isinstance(found, list):  # repeated: the first counts
        found = found[0] if found else None
    summary = " ".join(_text(found).split()) or "(no title)"
    return summary if len(summary) <= SUMMARY_CHARS else summary[: SUMMARY_CHARS - 3] + "..."


def _description(component: Any) -> str:
    found = component.get("DESCRIPTION")
    if isinstance(found, list):  # repeated: all of them, a line apart
        return "\n".join(_text(item) for item in found)[:10_000]
    return _text(found)


def _shown(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


class _Report:
    """The Skipped entries: one per event and reason with a count, at most
    MAX_PROBLEMS_PER_EVENT reasons per event, at most MAX_SKIPPED entries per feed."""

    @dataclass(slots=True)
    class _Event:
        first: datetime | None
        label: str = ""
        reasons: dict[str, list[Any]] = field(default_factory=dict)  # reason -> [label, count]
        more: set[str] = field(default_factory=set)
        hidden: dict[str, int] = field(default_factory=dict)  # description -> problems hidden
        more_count: int = 0

    def __init__(self, source: str) -> None:
        self.source = source
        self._notes: list[Skipped] = []
        self._events: dict[int, _Report._Event] = {}
        self._rest: list[Skipped] = []

    def note(self, reason: str) -> None:
        """About the feed as a whole."""
        self._notes.append(Skipped(self.source, "(the calendar)", reason))

    def rest(self, reason: str, count: int) -> None:
        """About what a limit left unread; listed last, never cut."""
        self._rest.append(Skipped(self.source, "(the rest)", reason, count))

    def _event(self, series: int, starts: datetime | None, label: str) -> _Report._Event:
        event = self._events.get(series)
        if event is None:
            event = self._events[series] = self._Event(starts, label)
        elif starts is not None and (event.first is None or starts < event.first):
            event.first = starts
        return event

    def add(
        self, series: int, starts: datetime | None, label: str, reason: str, count: int = 1
    ) -> None:
        if series < 0:  # not tied to an event of its own
            series = -1 - len(self._events)
        event = self._event(series, starts, label)
        known = event.reasons.get(reason)
        if known is not None:
            known[1] += count
        elif len(event.reasons) < MAX_PROBLEMS_PER_EVENT:
            event.reasons[reason] = [label, count]
        else:
            event.more.add(reason)
            event.more_count += count

    def add_problems(self, series: int, starts: datetime, label: str, reasons: list[str]) -> None:
        for reason in reasons:
            self.add(series, starts, label, reason)

    def add_hidden(
        self, series: int, starts: datetime, label: str, description: str, hidden: int
    ) -> None:
        """A description with more problems than are looked at, once per description."""
        event = self._event(series, starts, label)
        event.hidden[description] = hidden
        event.more_count += 1

    def result(self) -> tuple[Skipped, ...]:
        listed: list[Skipped] = []
        far = datetime.max.replace(tzinfo=UTC)
        for _, event in sorted(
            self._events.items(), key=lambda item: (item[1].first or far, item[0])
        ):
            for reason, (label, count) in event.reasons.items():
                listed.append(Skipped(self.source, label, reason, count))
            more = len(event.more) + sum(event.hidden.values())
            if more:
                listed.append(
                    Skipped(
                        self.source, event.label, f"...and {more} more problem(s)", event.more_count
                    )
                )
        if len(listed) > MAX_SKIPPED:
            cut = listed[MAX_SKIPPED:]
            listed = listed[:MAX_SKIPPED]
            listed.append(
                Skipped(
                    self.source,
                    "(the rest)",
                    f"{len(cut)} more problem(s) not listed",
                    sum(s.count for s in cut),
                )
            )
        return (*self._notes, *listed, *self._rest)


class _TextOnly(HTMLParser):
    _BREAKS = frozenset({"br", "p", "div", "li", "tr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _strip_html(text: str) -> str:
    if "<" not in text:
        return unescape(text)
    parser = _TextOnly()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts).replace("\xa0", " ")


def _text(value: Any) -> str:
    return "" if value is None else str(value)[:10_000]


def _short(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."
