"""Calendar feeds in Berkeley's format, read with icalendar and recurring-ical-events:
recurrence rules, exceptions, moved occurrences, time zones, all-day and floating events,
every kind of broken description and event (skipped with the reason, never fatal), and
hostile feeds (refused or capped before they cost time or memory)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from campushub import feeds
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
            SUMMARY:Lab moved
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
            SUMMARY:Every day since 2024
            DTSTART;TZID=America/Los_Angeles:20240101T090000
            DURATION:PT1H
            RRULE:FREQ=DAILY
            DESCRIPTION:standard: 1"""
        )
    )
    assert (len(result.requests), result.events, result.skipped) == (14, 14, ())


def reasons_of(result: feeds.FeedResult) -> dict[str, str]:
    return {s.event.split(" (")[0]: s.reason for s in result.skipped}


GOOD = """UID:good
SUMMARY:Good
DTSTART;TZID=America/Los_Angeles:20261027T100000
DTEND;TZID=America/Los_Angeles:20261027T110000
DESCRIPTION:standard: 5"""


def test_rules_by_the_second_or_minute_are_refused_before_expanding() -> None:
    result = read(
        feed(
            """UID:seconds
            SUMMARY:Seconds
            DTSTART;TZID=America/Los_Angeles:20261025T235900
            DURATION:PT1S
            RRULE:FREQ=SECONDLY
            DESCRIPTION:standard: 1""",
            """UID:minutes
            SUMMARY:Minutes
            DTSTART;TZID=America/Los_Angeles:20261025T230000
            DURATION:PT1M
            RRULE:FREQ=MINUTELY
            DESCRIPTION:standard: 1""",
            GOOD.replace("20261027T1", "20261026T0"),
        ),
        START,
        START + timedelta(hours=2),
    )
    assert [r.source for r in result.requests] == ["feed.ics: Good (2026-10-26 00:00)"]
    reasons = reasons_of(result)
    assert "it repeats every second (FREQ=SECONDLY)" in reasons["Seconds"]
    assert "it repeats every minute (FREQ=MINUTELY)" in reasons["Minutes"]


def test_a_rule_that_repeats_too_often_before_the_window_is_refused() -> None:
    result = read(
        feed(
            """UID:hourly
            SUMMARY:Hourly since 2016
            DTSTART;TZID=America/Los_Angeles:20161026T000000
            DURATION:PT30M
            RRULE:FREQ=HOURLY
            DESCRIPTION:standard: 1""",
            """UID:daily
            SUMMARY:Daily since 2016
            DTSTART;TZID=America/Los_Angeles:20161026T090000
            DURATION:PT1H
            RRULE:FREQ=DAILY
            DESCRIPTION:standard: 1""",
        )
    )
    assert len(result.requests) == 14  # the daily one: ~3,650 repeats are fine
    assert {r.source.split(": ")[1].split(" (")[0] for r in result.requests} == {"Daily since 2016"}
    reason = reasons_of(result)["Hourly since 2016"]
    assert reason.startswith("it repeats HOURLY from 2016-10-26: about ")
    assert "more than 20,000; start the rule nearer the present" in reason


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",  # never: dateutil would search to the year 9999
        "FREQ=MONTHLY;INTERVAL=12;BYMONTH=2",  # from October: never in February
        "FREQ=DAILY;INTERVAL=7;BYDAY=TU",  # from a Monday, every 7 days: never a Tuesday
        "FREQ=HOURLY;BYHOUR=10",
        "FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2",
    ],
)
def test_rules_that_may_go_years_without_a_date_are_refused(rule: str) -> None:
    result = read(
        feed(
            f"""UID:odd
            SUMMARY:Odd
            DTSTART;TZID=America/Los_Angeles:20261026T100000
            DURATION:PT1H
            RRULE:{rule}
            DESCRIPTION:standard: 1"""
        )
    )
    assert result.requests == ()
    assert "may go years without a date" in reasons_of(result)["Odd"]


@pytest.mark.parametrize(
    ("rule", "day"),
    [
        ("FREQ=MONTHLY;BYDAY=-1FR", "Fri 10-30"),
        ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "Fri 10-30"),
        ("FREQ=YEARLY;BYMONTH=10;BYMONTHDAY=30", "Fri 10-30"),
        ("FREQ=YEARLY;BYMONTH=11;BYDAY=1TU", "Tue 11-03"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", "Thu 10-29"),
    ],
)
def test_the_usual_rule_shapes_are_read(rule: str, day: str) -> None:
    result = read(
        feed(
            f"""UID:usual
            SUMMARY:Usual
            DTSTART;TZID=America/Los_Angeles:20251001T100000
            DURATION:PT1H
            RRULE:{rule}
            DESCRIPTION:standard: 1"""
        )
    )
    assert result.skipped == ()
    assert [r.starts.astimezone(LA).strftime("%a %m-%d") for r in result.requests] == [day]


def test_one_busy_event_is_capped_and_cannot_push_out_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feeds, "MAX_SERIES_OCCURRENCES", 5)
    result = read(
        feed(
            """UID:busy
            SUMMARY:Busy
            DTSTART;TZID=America/Los_Angeles:20261026T000000
            DURATION:PT30M
            RRULE:FREQ=HOURLY
            DESCRIPTION:standard: 1""",
            """UID:late
            SUMMARY:Late
            DTSTART;TZID=America/Los_Angeles:20261108T100000
            DURATION:PT1H
            DESCRIPTION:gpu: 2""",
        )
    )
    busy = [r for r in result.requests if r.pool == "standard"]
    assert [r.starts.astimezone(LA).hour for r in busy] == [0, 1, 2, 3, 4]
    assert [(r.pool, r.count) for r in result.requests if r.pool == "gpu"] == [("gpu", 2)]
    (left,) = result.skipped
    assert left.event == "Busy (2026-10-26 05:00)"
    assert left.reason == "331 more occurrence(s) in the window left out: the first 5 are read"
    assert left.count == 331


def test_the_earliest_occurrences_are_kept_when_a_feed_has_too_many(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feeds, "MAX_EVENTS", 3)
    days = [8, 6, 4, 2, 1]  # the latest first in the file
    result = read(
        feed(
            *(
                f"""UID:day{day}
                SUMMARY:Day {day}
                DTSTART;TZID=America/Los_Angeles:202611{day:02}T100000
                DURATION:PT1H
                DESCRIPTION:standard: {day}"""
                for day in days
            )
        )
    )
    assert [r.count for r in result.requests] == [1, 2, 4]
    assert result.skipped[-1].event == "(the rest)"
    assert result.skipped[-1].count == 2


def test_problems_are_listed_once_per_event_and_reason_with_a_count() -> None:
    summary = "Lab " + "x" * 300
    result = read(
        feed(
            f"""UID:lab
            SUMMARY:{summary}
            DTSTART;TZID=America/Los_Angeles:20261026T090000
            DURATION:PT1H
            RRULE:FREQ=DAILY
            DESCRIPTION:standard: 2\\nbad one\\nbad two\\nbad three\\nbad four\\nbad five"""
        )
    )
    assert len(result.requests) == 14
    assert [(s.reason, s.count) for s in result.skipped] == [
        ("'bad one' is not a 'pool: count' line", 14),
        ("'bad two' is not a 'pool: count' line", 14),
        ("'bad three' is not a 'pool: count' line", 14),
        ("...and 2 more problem(s)", 14),
    ]
    label = result.skipped[0].event
    assert label == "Lab " + "x" * 73 + "... (2026-10-26 09:00)"
    assert all(len(r.source) < 120 for r in result.requests)


def test_a_feed_lists_at_most_200_problems() -> None:
    events = [
        f"""UID:bad{number}
        SUMMARY:Bad {number}
        DTSTART;TZID=America/Los_Angeles:20261027T{number % 24:02}0000
        DURATION:PT1H
        DESCRIPTION:five nodes please"""
        for number in range(250)
    ]
    result = read(feed(*events))
    assert len(result.skipped) == 201
    assert result.skipped[-1] == feeds.Skipped(
        "feed.ics", "(the rest)", "50 more problem(s) not listed", 50
    )


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        ("DTSTART:20261028T100000Z\nDURATION:PT1H\nRRULE:FREQ=FOO", "its repeat rule 'FREQ=FOO'"),
        ("DTSTART:notadate\nDURATION:PT1H", "its start 'notadate' is not a date or a time"),
        ("DTSTART:20261028T100000Z\nDURATION:P999999999D", "it is longer than 7 days"),
        ("DTSTART:20261028T100000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY;INTERVAL=0", "INTERVAL"),
        ("DTSTART:20261028T100000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY;BYHOUR=99", "BYHOUR has 99"),
        ("DTSTART:20261028T100000Z\nDURATION:PT1H\nRRULE:FREQ=YEARLY;BYEASTER=0", "BYEASTER"),
        ("DTSTART:20261028T100000Z\nDTSTART:20261029T100000Z\nDURATION:PT1H", "more than one"),
        ("DTSTART;VALUE=DATE:20261028\nDTEND:20261028T100000Z", "mix a date and a time"),
        ("DTSTART:20261028T100000Z\nDURATION:PT1H\nRDATE:tomorrow", "extra dates (RDATE)"),
        ("DTSTART:20261028T100000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY\nEXDATE:x", "(EXDATE)"),
        ("DURATION:PT1H\nRRULE:FREQ=DAILY", "it has no start (DTSTART)"),
    ],
)
def test_a_bad_event_never_spoils_the_feed(lines: str, reason: str) -> None:
    result = read(feed(GOOD, "UID:bad\nSUMMARY:Bad\n" + lines + "\nDESCRIPTION:standard: 1"))
    assert [r.source for r in result.requests] == ["feed.ics: Good (2026-10-27 10:00)"]
    (skipped,) = result.skipped
    assert skipped.event.startswith("Bad")
    assert reason in skipped.reason


@pytest.mark.parametrize(
    ("times", "reason"),
    [
        ("DTSTART:20261028T100000Z\nDTEND:20261027T100000Z", "it ends before it starts"),
        ("DTSTART:20261028T100000Z\nDURATION:-PT1H", "it ends before it starts"),
        ("DTSTART:20261028T100000Z\nDTEND:20261105T100000Z", "it is longer than 7 days"),
        ("DTSTART;VALUE=DATE:20261028\nDTEND;VALUE=DATE:20261107", "it is longer than 7 days"),
    ],
)
def test_an_event_that_ends_before_it_starts_or_lasts_too_long_is_skipped(
    times: str, reason: str
) -> None:
    result = read(feed(f"UID:typo\nSUMMARY:Typo\n{times}\nDESCRIPTION:standard: 40"))
    assert result.requests == ()
    assert reasons_of(result) == {"Typo": reason}


def test_an_all_day_event_may_last_up_to_7_days() -> None:
    result = read(
        feed(
            """UID:week
            SUMMARY:Exam week
            DTSTART;VALUE=DATE:20261102
            DTEND;VALUE=DATE:20261107
            DESCRIPTION:standard: 7"""
        )
    )
    (request,) = result.requests
    assert (request.starts, request.ends) == (
        datetime(2026, 11, 2, tzinfo=LA),
        datetime(2026, 11, 7, tzinfo=LA),
    )


def test_a_broken_moved_occurrence_is_skipped_and_does_not_bring_back_the_original() -> None:
    result = read(
        feed(
            """UID:lab
            SUMMARY:Lab
            DTSTART;TZID=America/Los_Angeles:20261026T130000
            DTEND;TZID=America/Los_Angeles:20261026T150000
            RRULE:FREQ=DAILY;COUNT=4
            DESCRIPTION:gpu: 2""",
            """UID:lab
            RECURRENCE-ID;TZID=America/Los_Angeles:20261027T130000
            SUMMARY:Lab moved
            DTSTART;TZID=America/Los_Angeles:20261027T170000
            DTEND;TZID=America/Los_Angeles:20261027T160000
            DESCRIPTION:gpu: 4""",
        )
    )
    assert [r.starts.astimezone(LA).day for r in result.requests] == [26, 28, 29]
    assert reasons_of(result) == {"Lab moved": "it ends before it starts"}


def test_cancelled_events_and_occurrences_ask_for_nothing_and_are_not_listed() -> None:
    result = read(
        feed(
            """UID:called-off
            SUMMARY:Called off
            STATUS:CANCELLED
            DTSTART;TZID=America/Los_Angeles:20261027T100000
            DURATION:PT1H
            DESCRIPTION:standard: 9""",
            """UID:series-off
            SUMMARY:Series called off
            STATUS:CANCELLED
            DTSTART;TZID=America/Los_Angeles:20261026T080000
            DURATION:PT1H
            RRULE:FREQ=DAILY
            DESCRIPTION:standard: 9""",
            """UID:lab
            SUMMARY:Lab
            DTSTART;TZID=America/Los_Angeles:20261026T130000
            DURATION:PT1H
            RRULE:FREQ=DAILY;COUNT=3
            DESCRIPTION:gpu: 2""",
            """UID:lab
            RECURRENCE-ID;TZID=America/Los_Angeles:20261027T130000
            SUMMARY:Lab
            STATUS:CANCELLED
            DTSTART;TZID=America/Los_Angeles:20261027T130000
            DURATION:PT1H
            DESCRIPTION:gpu: 2""",
        )
    )
    assert result.skipped == ()
    assert [(r.pool, r.starts.astimezone(LA).day) for r in result.requests] == [
        ("gpu", 26),
        ("gpu", 28),
    ]


def test_repeated_descriptions_are_joined_and_the_first_summary_counts() -> None:
    result = read(
        feed(
            """UID:twice
            SUMMARY:First title
            SUMMARY:Second title
            DTSTART;TZID=America/Los_Angeles:20261027T100000
            DURATION:PT1H
            DESCRIPTION:standard: 5
            DESCRIPTION:gpu: 2"""
        )
    )
    assert result.skipped == ()
    assert {(r.pool, r.count) for r in result.requests} == {("standard", 5), ("gpu", 2)}
    assert {r.source for r in result.requests} == {"feed.ics: First title (2026-10-27 10:00)"}


def test_floating_times_are_read_in_a_valid_x_wr_timezone() -> None:
    events = (
        """UID:floating
        SUMMARY:Floating
        DTSTART:20261027T090000
        DTEND:20261027T100000
        DESCRIPTION:standard: 1""",
        """UID:allday
        SUMMARY:Exam day
        DTSTART;VALUE=DATE:20261030
        DESCRIPTION:standard: 7""",
    )
    text = feed(*events).replace("VERSION:2.0", "VERSION:2.0\r\nX-WR-TIMEZONE:America/New_York")
    result = read(text)
    floating, allday = result.requests
    assert floating.starts == datetime(2026, 10, 27, 9, tzinfo=ZoneInfo("America/New_York"))
    assert allday.starts == datetime(2026, 10, 30, tzinfo=LA)  # a campus day
    assert result.skipped == ()

    text = feed(*events).replace("VERSION:2.0", "VERSION:2.0\r\nX-WR-TIMEZONE:Mars/Olympus")
    result = read(text)
    assert result.requests[0].starts == datetime(2026, 10, 27, 9, tzinfo=LA)
    (note,) = result.skipped
    assert note.event == "(the calendar)"
    assert note.reason.startswith("X-WR-TIMEZONE 'Mars/Olympus' is not a time zone")


ZONE = """BEGIN:VTIMEZONE\r
TZID:{tzid}\r
BEGIN:STANDARD\r
DTSTART:19701101T020000\r
RRULE:{standard}\r
TZOFFSETFROM:-0700\r
TZOFFSETTO:-0800\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:19700308T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r
TZOFFSETFROM:-0800\r
TZOFFSETTO:-0700\r
END:DAYLIGHT\r
END:VTIMEZONE\r
"""


def test_a_zone_the_feed_defines_is_used_unless_its_rules_could_run_for_ever() -> None:
    # Zone names are cached by icalendar for the whole process: unique ones here.
    usual = ZONE.format(tzid="Campus Test Time", standard="FREQ=YEARLY;BYMONTH=11;BYDAY=1SU")
    runaway = ZONE.format(tzid="Runaway Test Time", standard="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30")
    text = feed(
        """UID:here
        SUMMARY:Here
        DTSTART;TZID=Campus Test Time:20261027T100000
        DURATION:PT1H
        DESCRIPTION:standard: 1""",
        """UID:there
        SUMMARY:There
        DTSTART;TZID=Runaway Test Time:20261027T100000
        DURATION:PT1H
        DESCRIPTION:standard: 1""",
    ).replace("VERSION:2.0\r\n", "VERSION:2.0\r\n" + usual + runaway)
    started = time.perf_counter()
    result = read(text)
    assert time.perf_counter() - started < 2
    (request,) = result.requests
    assert request.starts == datetime(2026, 10, 27, 17, tzinfo=UTC)  # 10:00 at -0700
    assert "its time zone 'Runaway Test Time'" in reasons_of(result)["There"]


HOSTILE = [
    "BEGIN:VEVENT\r\nUID:n\r\nDTSTART:20261027T100000Z\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\n"
    "DURATION:PT1H\r\nEND:VEVENT\r\n",  # nested
    "BEGIN:VEVENT\r\nUID:m\r\nDTSTART:20261027T100000Z\r\nEND:VTODO\r\n",  # mismatched END
    "BEGIN:VEVENT\r\nUID:g\r\ngarbage\r\n;;;:::\r\nDTSTART:20261027T100000Z\r\nEND:VEVENT\r\n",
    "BEGIN:VEVENT\r\nDTSTART:20261027T100000Z\r\nRRULE:FREQ=DAILY;INTERVAL=999999999\r\n"
    "DURATION:PT1H\r\nEND:VEVENT\r\n",
    "BEGIN:VEVENT\r\nDTSTART:20261027T100000Z\r\nRRULE:FREQ=DAILY;COUNT=-1\r\n"
    "DURATION:PT1H\r\nEND:VEVENT\r\n",
    "BEGIN:VEVENT\r\nUID:r\r\nRECURRENCE-ID:junk\r\nDTSTART:20261027T100000Z\r\nEND:VEVENT\r\n",
    "BEGIN:VEVENT\r\nDTSTART:00010101T000000\r\nDURATION:PT1H\r\nRRULE:FREQ=YEARLY\r\n"
    "END:VEVENT\r\n",
    "BEGIN:VEVENT\r\nDTSTART:99991231T230000Z\r\nDURATION:PT2H\r\nEND:VEVENT\r\n",
    "CALSCALE:CHINESE\r\n",
    "BEGIN:VTIMEZONE\r\nTZID:Broken Test Zone\r\nEND:VTIMEZONE\r\n"
    "BEGIN:VEVENT\r\nDTSTART;TZID=Broken Test Zone:20261027T100000\r\nEND:VEVENT\r\n",
]


@pytest.mark.parametrize("body", HOSTILE)
def test_nothing_but_feed_error_leaves_read_feed(body: str) -> None:
    text = f"BEGIN:VCALENDAR\r\n{body}{GOOD.replace(chr(10), chr(13) + chr(10))}"
    text = text.replace("\r\nUID:good", "\r\nBEGIN:VEVENT\r\nUID:good") + "\r\nEND:VEVENT"
    result = read(text + "\r\nEND:VCALENDAR\r\n")
    assert isinstance(result, feeds.FeedResult)


def test_an_unexpected_error_in_one_event_is_listed_and_anywhere_else_is_a_feed_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_span = feeds._FeedReader._span

    def failing_span(reader: feeds._FeedReader, component: object) -> object:
        if "Bad" in str(component.get("SUMMARY")):  # type: ignore[attr-defined]
            raise RuntimeError("surprise")
        return real_span(reader, component)

    monkeypatch.setattr(feeds._FeedReader, "_span", failing_span)
    result = read(feed(GOOD, "UID:bad\nSUMMARY:Bad\nDTSTART:20261028T100000Z\nDURATION:PT1H"))
    assert len(result.requests) == 1
    assert reasons_of(result) == {"Bad": "it cannot be read: surprise"}

    monkeypatch.setattr(feeds, "_split_calendar", lambda data, source: 1 / 0)
    with pytest.raises(FeedError, match=r"^feed\.ics: cannot be read: division by zero"):
        read(feed(GOOD))


def test_the_work_of_one_feed_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feeds, "MAX_FEED_STEPS", 1_000)
    result = read(
        feed(
            GOOD,
            """UID:old
            SUMMARY:Daily since 2020
            DTSTART;TZID=America/Los_Angeles:20200101T090000
            DURATION:PT1H
            RRULE:FREQ=DAILY
            DESCRIPTION:standard: 1""",
        )
    )
    assert [r.source for r in result.requests] == ["feed.ics: Good (2026-10-27 10:00)"]
    assert result.skipped[-1].event == "(the rest)"
    assert result.skipped[-1].reason.startswith("1 more event(s) not read")

    monkeypatch.setattr(feeds, "MAX_PARSE_BYTES", 250)
    result = read(feed(GOOD, GOOD.replace("UID:good", "UID:twin" + "x" * 100)))
    assert len(result.requests) == 1
    assert result.skipped[-1].reason.startswith("1 more event(s) near the window not read")


def test_hostile_feeds_are_answered_at_once() -> None:
    """The review's cases: expanding them took 270 s and 3.1 GB (SECONDLY from a day back)."""
    started = time.perf_counter()
    for rule, since in [
        ("FREQ=SECONDLY", "20261025T000000"),
        ("FREQ=MINUTELY", "20161026T000000"),
        ("FREQ=HOURLY", "20161026T000000"),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "20261025T000000"),
    ]:
        text = feed(
            f"UID:x\nSUMMARY:X\nDTSTART:{since}\nDURATION:PT1S\nRRULE:{rule}\n"
            "DESCRIPTION:standard: 1"
        )
        now = datetime(2026, 10, 26, 12, tzinfo=LA)
        result = read_feed(
            text, "feed.ics", POOLS, now - timedelta(days=1), now + timedelta(15), LA
        )
        assert result.requests == ()
        assert len(result.skipped) == 1
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize(
    ("description", "counts", "people", "problem"),
    [
        ("standard: +600", {}, {"standard": 600}, None),
        ("standard: + 40 people", {}, {"standard": 40}, None),
        ("standard: 3\nstandard: +50", {"standard": 3}, {"standard": 50}, None),
        ("standard: +50\nstandard: +80", {}, {"standard": 80}, None),
        ("standard: +999999", {}, {}, "standard: +999999 is more than 100000 people"),
        ("standard: +-5", {}, {}, "is not a whole number of 0 or more (or +people"),
        ("standard: +5 nodes", {}, {}, "is not a whole number"),
        ("ghost: +5", {}, {}, "ghost is not a pool of the catalog"),
        ("data8: +600", {}, {"data8": 600}, None),
        ("data8: +600 people\nstandard: 2", {"standard": 2}, {"data8": 600}, None),
        ("data8: 6", {}, {}, "data8 is a course: write 'data8: +people'"),
        ("data8: +lots", {}, {}, "is not a whole number"),
    ],
)
def test_people_more_than_the_plan_are_read_from_plus_lines(
    description: str, counts: dict[str, int], people: dict[str, int], problem: str | None
) -> None:
    got_counts, got_people, problems = feeds.parse_lines(description, POOLS, {"data8"})
    assert (got_counts, got_people) == (counts, people)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0]


def test_a_plus_line_becomes_a_meeting_of_no_course_while_the_event_runs() -> None:
    result = read(
        feed(
            """
            UID:review
            SUMMARY:Surprise review
            DTSTART;TZID=America/Los_Angeles:20261104T180000
            DTEND;TZID=America/Los_Angeles:20261104T200000
            DESCRIPTION:standard: +600
            """
        )
    )
    assert result.requests == ()
    (added,) = result.added
    assert (added.course, added.pool, added.expect, added.exam) == ("", "standard", 600, False)
    assert added.starts == datetime(2026, 11, 4, 18, tzinfo=LA)
    assert added.ends == datetime(2026, 11, 4, 20, tzinfo=LA)
    assert added.source == "feed.ics: Surprise review (2026-11-04 18:00) (+600 people)"


def test_a_course_plus_line_becomes_a_meeting_of_that_course_in_its_pool() -> None:
    text = feed(
        """
        UID:review
        SUMMARY:Surprise review
        DTSTART;TZID=America/Los_Angeles:20261104T180000
        DTEND;TZID=America/Los_Angeles:20261104T200000
        DESCRIPTION:data8: +600
        """
    )
    result = read_feed(text, "feed.ics", POOLS, START, END, LA, {"data8": "gpu"})
    (added,) = result.added
    assert (added.course, added.pool, added.expect) == ("data8", "gpu", 600)
    # Without the course list, the same line names no pool: skipped, with why.
    assert read(text).added == ()
    assert "data8 is not a pool of the catalog" in read(text).skipped[0].reason
