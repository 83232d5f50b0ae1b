"""The catalog's schedules unrolled into dated occurrences: weekly meetings over the term,
holidays, skip dates, from/until, one-off events, and daylight-saving changes (a meeting keeps
its local wall time and lasts its duration in elapsed time). No hub, no Kubernetes.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from campushub.catalog import Catalog, parse_catalog
from campushub.schedule import Occurrence, occurrences

LA = ZoneInfo("America/Los_Angeles")

HEAD = """\
term:
  name: 2026-27
  starts: 2026-08-19
  ends: 2027-05-14
  holidays: [2026-11-11, 2026-11-26]
timezone: America/Los_Angeles
images:
  python: {ref: "ghcr.io/campushub/python:2026.08"}
pools:
  standard:
    node: {cpu: 8, memory: 64Gi}
    min: 1
    max: 20
    lead: 20m
defaults:
  image: python
  pool: standard
  cpu: {guarantee: 0.05, limit: 2}
  memory: {guarantee: 512Mi, limit: 1Gi}
courses:
"""


def catalog_with(courses: str) -> Catalog:
    return parse_catalog(HEAD + courses)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LA)


def between(catalog: Catalog, first: date, last: date) -> list[Occurrence]:
    """Occurrences from local midnight of ``first`` to local midnight after ``last``."""
    return occurrences(
        catalog,
        local(first.year, first.month, first.day),
        local(last.year, last.month, last.day) + timedelta(days=1),
    )


DATA8 = """\
  data8:
    title: DATA 8
    schedule:
      - {every: [mon, wed, fri], at: "10:00", for: 50m, expect: 800}
"""


def test_weekly_meetings_fall_on_their_weekdays_at_local_time() -> None:
    catalog = catalog_with(DATA8)
    found = between(catalog, date(2026, 9, 14), date(2026, 9, 20))  # Mon..Sun
    assert [o.starts.astimezone(LA) for o in found] == [
        local(2026, 9, 14, 10),
        local(2026, 9, 16, 10),
        local(2026, 9, 18, 10),
    ]
    first = found[0]
    assert first.starts.tzinfo is UTC
    assert first.ends - first.starts == timedelta(minutes=50)
    assert (first.course, first.pool, first.expect, first.exam) == ("data8", "standard", 800, False)
    assert first.source == "data8 weekly mon/wed/fri 10:00"


def test_meeting_keeps_local_time_across_fall_back() -> None:
    catalog = catalog_with(DATA8)
    # 2026-11-01 is a Sunday: Friday 10:00 PDT is 17:00 UTC, Monday 10:00 PST is 18:00 UTC.
    found = between(catalog, date(2026, 10, 30), date(2026, 11, 2))
    assert [o.starts for o in found] == [
        datetime(2026, 10, 30, 17, tzinfo=UTC),
        datetime(2026, 11, 2, 18, tzinfo=UTC),
    ]
    assert all(o.starts.astimezone(LA).hour == 10 for o in found)
    assert all(o.ends - o.starts == timedelta(minutes=50) for o in found)


def test_meeting_keeps_local_time_across_spring_forward() -> None:
    catalog = catalog_with(DATA8)
    # 2027-03-14 is a Sunday: Friday 10:00 PST is 18:00 UTC, Monday 10:00 PDT is 17:00 UTC.
    found = between(catalog, date(2027, 3, 12), date(2027, 3, 15))
    assert [o.starts for o in found] == [
        datetime(2027, 3, 12, 18, tzinfo=UTC),
        datetime(2027, 3, 15, 17, tzinfo=UTC),
    ]


def test_duration_is_elapsed_time_on_the_day_of_the_change() -> None:
    # A Sunday-night 3h session starting 00:30 on the change day: wall-clock arithmetic would
    # make it 2h (spring) or 4h (fall); elapsed time keeps it 3h.
    catalog = catalog_with(
        """\
  night:
    title: Night lab
    schedule:
      - {every: [sun], at: "00:30", for: 3h, expect: 10}
"""
    )
    for day in (date(2026, 11, 1), date(2027, 3, 14)):
        (found,) = between(catalog, day, day)
        assert found.starts.astimezone(LA) == local(day.year, day.month, day.day, 0, 30)
        assert found.ends - found.starts == timedelta(hours=3)
    fall = between(catalog, date(2026, 11, 1), date(2026, 11, 1))[0]
    assert fall.ends.astimezone(LA) == local(2026, 11, 1, 2, 30)  # 01:xx happened twice
    spring = between(catalog, date(2027, 3, 14), date(2027, 3, 14))[0]
    assert spring.ends.astimezone(LA) == local(2027, 3, 14, 4, 30)  # 02:xx never happened


def test_term_holidays_and_skip_dates_are_left_out() -> None:
    catalog = catalog_with(
        """\
  data8:
    title: DATA 8
    schedule:
      - {every: [mon, wed, fri], at: "10:00", for: 50m, expect: 800, skip: [2026-11-13]}
"""
    )
    found = between(catalog, date(2026, 11, 9), date(2026, 11, 15))
    # Wed 11-11 is a term holiday, Fri 11-13 a skip date.
    assert [o.starts.astimezone(LA).date() for o in found] == [date(2026, 11, 9)]


def test_from_and_until_bound_a_meeting_and_the_term_bounds_all() -> None:
    catalog = catalog_with(
        """\
  review:
    title: Review
    schedule:
      - {every: [tue], at: "18:00", for: 1h, expect: 40, from: 2026-09-08, until: 2026-09-22}
  data8:
    title: DATA 8
    schedule:
      - {every: [wed], at: "10:00", for: 50m, expect: 800}
"""
    )
    found = between(catalog, date(2026, 8, 1), date(2026, 9, 30))
    review = [o.starts.astimezone(LA).date() for o in found if o.course == "review"]
    assert review == [date(2026, 9, 8), date(2026, 9, 15), date(2026, 9, 22)]
    data8 = [o.starts.astimezone(LA).date() for o in found if o.course == "data8"]
    assert data8[0] == date(2026, 8, 19)  # the term's first day, a Wednesday
    late = between(catalog, date(2027, 5, 10), date(2027, 5, 31))
    assert [o.starts.astimezone(LA).date() for o in late] == [date(2027, 5, 12)]


def test_one_off_events_and_exams() -> None:
    catalog = catalog_with(
        """\
  data8:
    title: DATA 8
    schedule:
      - {on: 2026-12-14, at: "08:00", for: 3h, expect: 1200, exam: true}
      - {on: 2026-12-10, at: "17:00", for: 2h, expect: 200}
"""
    )
    found = between(catalog, date(2026, 12, 7), date(2026, 12, 20))
    assert [(o.source, o.exam, o.expect) for o in found] == [
        ("data8 event 2026-12-10 17:00", False, 200),
        ("data8 exam 2026-12-14 08:00", True, 1200),
    ]
    exam = found[1]
    assert exam.starts == datetime(2026, 12, 14, 16, tzinfo=UTC)
    assert exam.ends == datetime(2026, 12, 14, 19, tzinfo=UTC)


def test_only_occurrences_overlapping_the_window_sorted() -> None:
    catalog = catalog_with(
        """\
  data8:
    title: DATA 8
    schedule:
      - {every: [mon], at: "10:00", for: 50m, expect: 800}
  stat20:
    title: STAT 20
    schedule:
      - {every: [mon], at: "09:30", for: 1h, expect: 300}
"""
    )
    monday = local(2026, 9, 14)
    found = occurrences(
        catalog, monday.replace(hour=10, minute=20), monday.replace(hour=10, minute=50)
    )
    assert [o.course for o in found] == ["stat20", "data8"]  # stat20 runs until 10:30
    # Half-open: a window ending at 10:00 excludes data8; one starting at 10:50 excludes it.
    assert [
        o.course for o in occurrences(catalog, monday.replace(hour=9), monday.replace(hour=10))
    ] == ["stat20"]
    assert occurrences(catalog, monday.replace(hour=10, minute=50), monday.replace(hour=11)) == []
    assert occurrences(catalog, monday.replace(hour=11), monday.replace(hour=10)) == []


def test_planning_a_week_for_300_courses_is_fast() -> None:
    courses = "".join(
        f"""\
  c{number}:
    title: Course {number}
    schedule:
      - {{every: [mon, wed, fri], at: "{8 + number % 9}:00", for: 50m, expect: 40}}
      - {{every: [tue, thu], at: "{8 + number % 9}:30", for: 1h20m, expect: 40}}
      - {{on: 2026-12-1{number % 5}, at: "08:00", for: 3h, expect: 40, exam: true}}
"""
        for number in range(300)
    )
    catalog = catalog_with(courses)
    began = time.perf_counter()
    found = occurrences(catalog, local(2026, 12, 7), local(2026, 12, 14))
    elapsed = time.perf_counter() - began
    assert len(found) == 300 * 5 + 60 * 4  # five meetings each; exams on 12-10..12-13
    assert elapsed < 0.5, f"planning a week took {elapsed:.3f}s"
