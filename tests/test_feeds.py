"""Calendar feeds in Berkeley's format, read with icalendar and recurring-ical-events:
recurrence rules, exceptions, moved occurrences, time zones, all-day and floating events,
and every kind of broken description (skipped with the reason, never fatal)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from campushub.feeds import FeedError, parse_description, read_feed

LA = ZoneInfo("America/Los_Angeles")
POOLS = ("standard", "gpu")
# Two weeks around the end of daylight-saving time (Sunday 2026-11-01 in Los Angeles).
START = datetime(2026, 10, 26, tzinfo=LA)
END = datetime(2026, 11, 9, tzinfo=LA)


def feed(*events: str) -> str:
    body = "\r\n".join(
        "BEGIN:VEVENT\r\n"
        + "\r\n".join(line.strip() for line in e.strip().splitlines())
        + "\r\nEND:VEVENT"
        for e in events
    )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//campushub tests//EN\r\n"
        f"{body}\r\nEND:VCALENDAR\r\n"
    )


def read(text: str, start: datetime = START, end: datetime = END):
    return read_feed(text, "feed.ics", POOLS, start, end, LA)


def test_a_weekly_rule_stays_at_local_time_across_the_dst_change() -> None:
    result = read(
        feed(
            """UID:lecture
            SUMMARY:DATA 8 lecture
            DTSTART;TZID=America/Los_Angeles:20261026T100000
            DTEND;TZID=America/Los_Angeles:20261026T105000
            RRULE:FREQ=WEEKLY;BYDAY=MO,WE
            DESCRIPTION:standard: 5"""
        )
    )
    assert result.skipped == ()
    starts = [r.starts.astimezone(LA) for r in result.requests]
    assert [s.strftime("%a %m-%d %H:%M") for s in starts] == [
        "Mon 10-26 10:00",
        "Wed 10-28 10:00",
        "Mon 11-02 10:00",
        "Wed 11-04 10:00",
    ]
    # 10:00 PDT is 17:00 UTC, 10:00 PST is 18:00 UTC.
    assert [r.starts.hour for r in result.requests] == [17, 17, 18, 18]
    assert all(r.ends - r.starts == timedelta(minutes=50) for r in result.requests)
    assert {(r.pool, r.count) for r in result.requests} == {("standard", 5)}
    assert "DATA 8 lecture (2026-10-26 10:00)" in result.requests[0].source


def test_exceptions_and_moved_occurrences() -> None:
    result = read(
        feed(
            """UID:lab
            SUMMARY:Lab
            DTSTART;TZID=America/Los_Angeles:20261026T130000
            DTEND;TZID=America/Los_Angeles:20261026T150000
            RRULE:FREQ=DAILY;COUNT=5
            EXDATE;TZID=America/Los_Angeles:20261027T130000
            DESCRIPTION:gpu: 2""",
            """UID:lab
            RECURRENCE-ID;TZID=America/Los_Angeles:20261029T130000
            SUMMARY:Lab (moved)
            DTSTART;TZID=America/Los_Angeles:20261029T170000
            DTEND;TZID=America/Los_Angeles:20261029T180000
            DESCRIPTION:gpu: 4""",
        )
    )
    got = [(r.starts.astimezone(LA).strftime("%d %H"), r.count) for r in result.requests]
    assert got == [("26 13", 2), ("28 13", 2), ("29 17", 4), ("30 13", 2)]


def test_other_time_zones_all_day_and_floating_events() -> None:
    result = read(
        feed(
            """UID:ny
            SUMMARY:Review from New York
            DTSTART;TZID=America/New_York:20261027T120000
            DTEND;TZID=America/New_York:20261027T130000
            DESCRIPTION:standard: 3""",
            """UID:utc
            SUMMARY:UTC event
            DTSTART:20261028T160000Z
            DURATION:PT90M
            DESCRIPTION:standard: 4""",
            """UID:allday
            SUMMARY:Exam day
            DTSTART;VALUE=DATE:20261030
            DESCRIPTION:standard: 7""",
            """UID:floating
            SUMMARY:Floating
            DTSTART:20261031T090000
            DTEND:20261031T100000
            DESCRIPTION:gpu: 1""",
        )
    )
    assert result.skipped == ()
    by_summary = {r.source.split(": ", 1)[1].split(" (")[0]: r for r in result.requests}
    assert by_summary["Review from New York"].starts == datetime(2026, 10, 27, 16, tzinfo=UTC)
    utc = by_summary["UTC event"]
    assert (utc.starts, utc.ends - utc.starts) == (
        datetime(2026, 10, 28, 16, tzinfo=UTC),
        timedelta(minutes=90),
    )
    allday = by_summary["Exam day"]
    # Local midnight to midnight in the catalog's zone.
    assert allday.starts == datetime(2026, 10, 30, tzinfo=LA)
    assert allday.ends == datetime(2026, 10, 31, tzinfo=LA)
    assert by_summary["Floating"].starts == datetime(2026, 10, 31, 9, tzinfo=LA)


def test_html_descriptions_from_calendar_apps_are_stripped() -> None:
    counts, problems = parse_description("<p>standard:&nbsp;5</p><div>gpu: 2<br></div><br/>", POOLS)
    assert (counts, problems) == ({"standard": 5, "gpu": 2}, [])
    counts, problems = parse_description("<b>standard</b>: 3<br>gpu : 1", POOLS)
    assert (counts, problems) == ({"standard": 3, "gpu": 1}, [])


@pytest.mark.parametrize(
    ("description", "counts", "problem"),
    [
        ("- standard: 5", {}, "'- standard: 5' is a list item; write 'pool: count' lines"),
        ("5", {}, "'5' is not a 'pool: count' line"),
        (": 5", {}, "': 5' names no pool"),
        ("ghost: 3\nstandard: 2", {"standard": 2}, "ghost is not a pool of the catalog"),
        ("standard: 2.5", {}, "standard: '2.5' is not a whole number of 0 or more"),
        ("standard: -1", {}, "standard: '-1' is not a whole number"),
        ("standard: many", {}, "standard: 'many' is not a whole number"),
        ("standard: 1e9", {}, "standard: '1e9' is not a whole number"),
        ("standard: 9" * 1, {"standard": 9}, None),
        ("standard: 999999", {}, "standard: 999999 is more than 100000"),
        ("standard: " + "9" * 5000, {}, "is not a whole number"),
        ("Bring laptops!", {}, "'Bring laptops!' is not a 'pool: count' line"),
        ("", {}, "its description has no 'pool: count' line"),
        ("<script>alert(1)</script>", {}, "'alert(1)' is not a 'pool: count' line"),
        ("standard: 2\nstandard: 6", {"standard": 6}, None),
        ("{standard: 5}", {}, "'{standard: 5}' is not a pool of the catalog"),
    ],
)
def test_broken_descriptions_keep_the_good_lines_and_say_why(
    description: str, counts: dict[str, int], problem: str | None
) -> None:
    got, problems = parse_description(description, POOLS)
    assert got == counts
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problem in problems[0]


def test_a_bad_event_is_listed_and_the_rest_of_the_feed_is_read() -> None:
    result = read(
        feed(
            """UID:good
            SUMMARY:Good
            DTSTART;TZID=America/Los_Angeles:20261027T100000
            DTEND;TZID=America/Los_Angeles:20261027T110000
            DESCRIPTION:standard: 5""",
            """UID:words
            SUMMARY:Words
            DTSTART;TZID=America/Los_Angeles:20261028T100000
            DTEND;TZID=America/Los_Angeles:20261028T110000
            DESCRIPTION:five nodes please""",
            """UID:nodesc
            SUMMARY:No description
            DTSTART;TZID=America/Los_Angeles:20261029T100000
            DTEND;TZID=America/Los_Angeles:20261029T110000""",
            """UID:instant
            SUMMARY:Instant
            DTSTART;TZID=America/Los_Angeles:20261030T100000
            DESCRIPTION:standard: 3""",
        )
    )
    assert [(r.pool, r.count) for r in result.requests] == [("standard", 5)]
    reasons = {s.event.split(" (")[0]: s.reason for s in result.skipped}
    assert reasons == {
        "Words": "'five nodes please' is not a 'pool: count' line",
        "No description": "its description has no 'pool: count' line",
        "Instant": "it ends when it starts (no end or duration)",
    }
    assert all(s.feed == "feed.ics" for s in result.skipped)


def test_events_outside_the_window_are_not_read() -> None:
    text = feed(
        """UID:late
        SUMMARY:Later
        DTSTART;TZID=America/Los_Angeles:20261201T100000
        DTEND;TZID=America/Los_Angeles:20261201T110000
        DESCRIPTION:standard: 5"""
    )
    assert read(text).requests == ()
    later = read(text, datetime(2026, 12, 1, tzinfo=LA), datetime(2026, 12, 2, tzinfo=LA))
    assert len(later.requests) == 1


@pytest.mark.parametrize(
    "data",
    [
        "",
        "not a calendar",
        "<html><body>Sign in to Google</body></html>",
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n",  # cut short
        "BEGIN:VEVENT\r\nEND:VEVENT\r\n",  # no calendar around it
        b"\xff\xfe\x00garbage",
    ],
)
def test_what_is_not_a_calendar_raises_feed_error_naming_the_feed(data: str | bytes) -> None:
    with pytest.raises(FeedError, match=r"^feed\.ics: "):
        read_feed(data, "feed.ics", POOLS, START, END, LA)


def test_a_huge_feed_is_refused() -> None:
    with pytest.raises(FeedError, match="more than"):
        read_feed(b"x" * 5_000_001, "feed.ics", POOLS, START, END, LA)


def test_a_rule_without_end_is_bounded_by_the_window() -> None:
    result = read(
        feed(
            """UID:forever
            SUMMARY:Every minute
            DTSTART;TZID=America/Los_Angeles:20261026T000000
            DURATION:PT1M
            RRULE:FREQ=MINUTELY
            DESCRIPTION:standard: 1"""
        ),
        START,
        START + timedelta(hours=2),
    )
    assert len(result.requests) == 120
