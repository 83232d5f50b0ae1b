"""Calendar feeds: iCalendar events that ask for placeholders, in Berkeley's format.

An event's description holds ``pool: count`` lines (calendar apps often wrap them in HTML,
which is stripped)::

    standard: 5
    gpu: 2

``read_feed(data, source, pools, start, end, zone)`` expands the feed's events over
``[start, end)`` with recurring-ical-events (recurrence rules, exceptions, moved
occurrences, time zones, all-day events) and turns each good ``pool: count`` line into a
:class:`campushub.demand.Request`. Everything else is listed as a :class:`Skipped` entry with
the reason, and reading goes on: a bad line never spoils the rest of its event, a bad event
never spoils the feed. Only a feed that is not iCalendar at all raises :class:`FeedError`.

Pure: bytes in, plain data out; fetching is the scaler service's job.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from html import unescape
from html.parser import HTMLParser
from typing import Any

import icalendar
import recurring_ical_events

from .demand import Request

__all__ = ["FeedError", "FeedResult", "Skipped", "parse_description", "read_feed"]

# Hostile feeds: bounds on what one feed may make us do.
MAX_FEED_BYTES = 5_000_000
MAX_EVENTS = 20_000  # occurrences in the window
MAX_COUNT = 100_000  # larger counts are refused; the pool's max clamps anyway
_LINE = re.compile(r"^\s*([^:]*?)\s*:\s*(.*?)\s*$")
_POOL_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")


class FeedError(ValueError):
    """The feed as a whole cannot be read (not iCalendar, too large)."""


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something in a feed that was not used, and why."""

    feed: str
    event: str  # the event's summary and start, e.g. "DATA 8 midterm (2026-12-14 08:00)"
    reason: str


@dataclass(frozen=True, slots=True)
class FeedResult:
    requests: tuple[Request, ...]
    skipped: tuple[Skipped, ...]
    events: int  # occurrences read in the window


def read_feed(
    data: bytes | str,
    source: str,
    pools: Collection[str],
    start: datetime,
    end: datetime,
    zone: tzinfo,
) -> FeedResult:
    """The requests of the feed ``data`` (named ``source`` in messages) over ``[start, end)``.

    Times without a zone (floating) and all-day events are read in ``zone`` (the catalog's);
    an all-day event asks for its count from local midnight to midnight. Raises
    :class:`FeedError` only when ``data`` is not a calendar at all.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("read_feed() needs time-zone aware datetimes")
    if len(data) > MAX_FEED_BYTES:
        raise FeedError(f"{source}: the feed is {len(data)} bytes, more than {MAX_FEED_BYTES}")
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except Exception as error:  # icalendar raises ValueError, IndexError, KeyError...
        raise FeedError(f"{source}: not an iCalendar feed: {_short(error)}") from error
    if not isinstance(calendar, icalendar.Calendar) or calendar.name != "VCALENDAR":
        raise FeedError(f"{source}: not an iCalendar feed (no VCALENDAR)")
    try:
        found = recurring_ical_events.of(calendar).between(start, end)
    except Exception as error:  # a broken RRULE or DTSTART anywhere stops the expansion
        raise FeedError(f"{source}: its events cannot be expanded: {_short(error)}") from error
    requests: list[Request] = []
    skipped: list[Skipped] = []
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    for count, event in enumerate(found):
        if count >= MAX_EVENTS:
            skipped.append(
                Skipped(source, "(the rest)", f"more than {MAX_EVENTS} events in the window")
            )
            break
        summary = _text(event.get("SUMMARY")) or "(no title)"
        try:
            starts, ends = _span(event, zone)
        except ValueError as error:
            skipped.append(Skipped(source, summary, str(error)))
            continue
        label = f"{summary} ({starts.astimezone(zone):%Y-%m-%d %H:%M})"
        if not (starts < end_utc and ends > start_utc):
            continue
        if ends <= starts:
            skipped.append(Skipped(source, label, "it ends when it starts (no end or duration)"))
            continue
        counts, problems = parse_description(_text(event.get("DESCRIPTION")), pools)
        skipped.extend(Skipped(source, label, problem) for problem in problems)
        for pool, value in counts.items():
            requests.append(Request(pool, value, starts, ends, f"{source}: {label}"))
    requests.sort(key=lambda r: (r.starts, r.pool, r.source))
    return FeedResult(tuple(requests), tuple(skipped), min(len(found), MAX_EVENTS))


def parse_description(text: str, pools: Collection[str]) -> tuple[dict[str, int], list[str]]:
    """The ``pool: count`` lines of an event description, and a message for each bad line.

    HTML is stripped first (``<br>``, ``<p>`` and ``<div>`` end lines). A pool named twice
    keeps its larger count.
    """
    counts: dict[str, int] = {}
    problems: list[str] = []
    lines = [line.strip() for line in _strip_html(text).splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return counts, ["its description has no 'pool: count' line"]
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
        elif pool not in pools:
            known = ", ".join(sorted(pools)) or "none"
            name = pool if _POOL_NAME.match(pool) else shown
            problems.append(f"{name!s} is not a pool of the catalog (pools: {known})")
        elif not re.fullmatch(r"[0-9]{1,6}", value):
            problems.append(f"{pool}: {value[:20]!r} is not a whole number of 0 or more")
        elif int(value) > MAX_COUNT:
            problems.append(f"{pool}: {value} is more than {MAX_COUNT}")
        else:
            counts[pool] = max(counts.get(pool, 0), int(value))
    return counts, problems


def _span(event: Any, zone: tzinfo) -> tuple[datetime, datetime]:
    """The event's start and end as aware UTC datetimes."""
    try:
        starts, ends = event.start, event.end
    except Exception as error:  # icalendar: IncompleteComponent / InvalidCalendar
        raise ValueError(f"it has no usable start or end: {_short(error)}") from None
    return _instant(starts, zone), _instant(ends, zone)


def _instant(value: date | datetime, zone: tzinfo) -> datetime:
    if not isinstance(value, datetime):  # all-day: local midnight
        value = datetime.combine(value, time(0), tzinfo=zone)
    elif value.tzinfo is None:  # floating time: the catalog's zone
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


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
