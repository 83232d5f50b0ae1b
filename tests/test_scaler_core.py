"""The scaler's rounds without a hub or cluster: what it keeps when its sources fail, and that a
round never raises and never plans outside min..max. Its sources are plain async functions;
the tests give it real feed bytes and a real catalog file, and make the sources fail."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campushub.demand import FreeRoom
from campushub.demo import launch
from campushub.services.scaler.core import RunningServer, Scaler, feed_label

NOW = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # Monday 09:00 in Los Angeles


def feed(count: int | str, start: datetime = NOW, hours: int = 2) -> bytes:
    stamp = "%Y%m%dT%H%M%SZ"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:a\r\n"
        f"SUMMARY:Review\r\nDTSTART:{start.strftime(stamp)}\r\n"
        f"DTEND:{(start + timedelta(hours=hours)).strftime(stamp)}\r\n"
        f"DESCRIPTION:standard: {count}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


class Sources:
    """What the scaler reads, as the tests set it; ``fail`` makes a source raise."""

    def __init__(self) -> None:
        self.feed = feed(5)
        self.enrollment = {"data8": 1000}
        self.present: list[RunningServer] = []
        self.fail: set[str] = set()
        self.now = NOW

    async def fetch(self, source: str) -> bytes:
        if "feed" in self.fail:
            raise OSError("connection refused")
        return self.feed

    async def read_enrollment(self) -> dict[str, int]:
        if "enrollment" in self.fail:
            raise TypeError("a bug in the reader")
        return self.enrollment

    async def read_present(self) -> list[RunningServer]:
        if "present" in self.fail:
            raise OSError("hub down")
        return self.present


@pytest.fixture
def sources() -> Sources:
    return Sources()


@pytest.fixture
def scaler(tmp_path: Path, sources: Sources) -> Scaler:
    catalog = tmp_path / "courses.yaml"
    catalog.write_text(launch.DEMO_CATALOG.read_text())
    return Scaler(
        str(catalog),
        ["https://calendar.example/feed.ics"],
        sources.fetch,
        None,
        sources.read_enrollment,
        sources.read_present,
        feed_interval=0,
        enrollment_interval=0,
        cull_timeout=3600,
        clock=lambda: sources.now,
    )


async def test_a_round_plans_every_pool(scaler: Scaler) -> None:
    await scaler.run_round()
    standard = scaler.pools["standard"].target
    assert standard.requested == 5
    assert standard.replicas == 5
    assert scaler.problems == []
    assert scaler.rounds == 1


async def test_a_failing_feed_keeps_its_last_good_events(scaler: Scaler, sources: Sources) -> None:
    await scaler.run_round()
    (state,) = scaler.feed_states.values()
    assert state.source.startswith("calendar.example #")  # the address is never shown
    first_read = state.read_at
    sources.fail.add("feed")
    sources.now = NOW + timedelta(minutes=30)
    await scaler.run_round()
    assert state.read_at == first_read
    assert state.age(sources.now) == 1800
    assert "connection refused" in (state.error or "")
    assert "keeping its last good events" in (state.error or "")
    assert scaler.pools["standard"].target.requested == 5
    # Garbage instead of a calendar: the same.
    sources.fail.clear()
    sources.feed = b"<html>login</html>"
    await scaler.run_round()
    assert "not an iCalendar feed" in (state.error or "")
    assert scaler.pools["standard"].target.requested == 5
    # A good feed again clears the error.
    sources.feed = feed(6, NOW)
    await scaler.run_round()
    assert (state.error, scaler.pools["standard"].target.requested) == (None, 6)


async def test_a_catalog_with_problems_or_gone_keeps_the_last_good(
    scaler: Scaler, tmp_path: Path
) -> None:
    await scaler.run_round()
    good = scaler.catalog
    path = Path(scaler.catalog_path)
    path.write_text(path.read_text().replace("max: 80", "max: -3"))
    os.utime(path, (1, 1))  # a different mtime, whatever the clock's resolution
    await scaler.run_round()
    assert scaler.catalog is good
    assert "pools.standard.max" in (scaler.catalog_error or "")
    path.unlink()
    await scaler.run_round()
    assert scaler.catalog is good
    assert scaler.rounds == 3


async def test_people_on_are_kept_briefly_then_counted_as_nobody(
    scaler: Scaler, sources: Sources
) -> None:
    sources.present = [RunningServer(f"s{i}", "data8", NOW) for i in range(300)]
    await scaler.run_round()
    assert scaler.present == {"data8": 300}
    sources.fail.add("present")
    sources.now = NOW + timedelta(minutes=5)
    await scaler.run_round()
    assert scaler.present == {"data8": 300}
    assert "keeping the last counts" in (scaler.present_error or "")
    sources.now = NOW + timedelta(minutes=11)
    await scaler.run_round()
    assert scaler.present == {}
    assert "counting nobody as on" in (scaler.present_error or "")


async def test_a_bug_in_one_source_does_not_stop_the_round(
    scaler: Scaler, sources: Sources
) -> None:
    await scaler.run_round()
    sources.fail.add("enrollment")
    await scaler.run_round()
    assert scaler.enrollment == {"data8": 1000}  # kept
    assert "a bug in the reader" in (scaler.enrollment_error or "")
    assert scaler.rounds == 2
    assert scaler.pools["standard"].target.requested == 5


@pytest.mark.parametrize("count", [100_000, 0])
async def test_never_outside_min_and_max(scaler: Scaler, sources: Sources, count: int) -> None:
    sources.feed = feed(count)
    await scaler.run_round()
    target = scaler.pools["standard"].target
    pool = scaler.catalog.pools["standard"]
    assert pool.min <= target.replicas <= pool.max
    assert target.replicas == (pool.max if count else max(pool.min, target.need))


async def test_servers_the_culler_is_about_to_stop_are_leaving(
    scaler: Scaler, sources: Sources
) -> None:
    # The demo pool's warm-up is 10m, a round 1m, the culler's timeout 1h, checked every 5m:
    # idle since 55 minutes ago, a server is stopped within the next 11 minutes whenever the
    # check comes (by 65 minutes idle); idle since 53 minutes ago, it may not be.
    assert scaler.cull_every == 300
    sources.present = [
        RunningServer("ada", "data8", NOW - timedelta(minutes=55)),
        RunningServer("grace", "data8", NOW - timedelta(minutes=53)),
        RunningServer("alan", "stat20", None),  # no activity recorded: not leaving
        RunningServer("ghost", "gone101", NOW - timedelta(hours=5)),  # not a course: ignored
    ]
    await scaler.run_round()
    assert scaler.present == {"data8": 1, "stat20": 1}
    assert scaler.leaving == {("ada", "data8")}
    scaler.cull_timeout = 0  # no culler: nobody leaves
    await scaler.run_round()
    assert scaler.present == {"data8": 2, "stat20": 1}
    assert scaler.leaving == frozenset()


def test_feed_labels_never_show_secret_addresses() -> None:
    secret = "https://calendar.google.com/calendar/ical/x/private-0123456789abcdef/basic.ics"
    label, address = feed_label(secret)
    assert address == secret
    assert label.startswith("calendar.google.com #") and "private" not in label
    assert feed_label("exams=" + secret) == ("exams", secret)
    assert feed_label("https://user:pw@host.example/a.ics")[0].startswith("host.example #")
    assert feed_label("/etc/campushub/extra.ics") == (
        "/etc/campushub/extra.ics",
        "/etc/campushub/extra.ics",
    )


@pytest.mark.parametrize(
    "address",
    [
        "HTTPS://calendar.example.edu/private-abc123/basic.ics",
        "Http://calendar.example.edu/private-abc123/basic.ics",
        "webcal://calendar.example.edu/private-abc123/basic.ics",
        "WEBCAL://calendar.example.edu/private-abc123/basic.ics",
    ],
)
def test_feed_labels_hide_addresses_whatever_their_scheme_and_case(address: str) -> None:
    label, kept = feed_label(address)
    assert kept == address
    assert "private-abc123" not in label
    assert label.startswith("calendar.example.edu #")


async def test_a_feed_can_add_people_on_top_of_the_plan(scaler: Scaler, sources: Sources) -> None:
    await scaler.run_round()
    assert scaler.pools["standard"].target.need == 5  # the feed's floor; no meeting near
    sources.feed = feed("+1200")  # 1,200 people more, sized as the catalog's defaults
    await scaler.read_feeds(force=True)
    scaler.plan_now(sources.now)
    after = scaler.pools["standard"].target
    assert after.requested is None  # no floor asked any more
    added = [reason for reason in after.reasons if reason.occurrence.course == ""]
    assert [reason.people for reason in added] == [1200]
    # 1,200 x the defaults' guarantees (0.05 CPU, 512 MiB) on 8-CPU, 64 GiB nodes:
    # CPU 60 / 8 = 8 nodes, memory 600 GiB / 64 GiB = 10 nodes; memory decides.
    assert (after.need, after.replicas) == (10, 10)
    assert "+1200 people" in after.why


async def test_placeholders_stay_while_the_room_that_would_replace_them_is_not_free_yet(
    scaler: Scaler, sources: Sources
) -> None:
    sources.feed = feed("+1200")  # 10 nodes' worth of people coming
    await scaler.read_feeds(force=True)
    # 8 placeholders there, all ready; one warm node's room is held by servers the culler
    # will stop within the warm-up: 8 CPU, 64 GiB (the people of a whole node).
    scaler.readiness["standard"] = (8, 8)
    leaving_node = FreeRoom("n1", 8.0, 64 * 2**30, leaving_cpu=8.0, leaving_memory=64 * 2**30)
    scaler.free = {"standard": [leaving_node]}
    scaler.plan_now(sources.now)
    kept = scaler.pools["standard"].target
    # The plan alone counts that room and wants 9; without it, 10: the 8 there stay, and
    # the leaving room stands in only for the 2 more it would otherwise ask now.
    assert kept.need == 9
    assert kept.replicas == 9
    scaler.readiness["standard"] = (10, 10)
    scaler.plan_now(sources.now)
    assert scaler.pools["standard"].target.replicas == 10
    assert "the culler is about to stop" in scaler.pools["standard"].target.why
    # Room that is free now (no one leaving) counts at once.
    scaler.free = {"standard": [FreeRoom("n1", 8.0, 64 * 2**30)]}
    scaler.plan_now(sources.now)
    assert scaler.pools["standard"].target.replicas == 9


async def test_a_node_on_its_way_to_nobody_gets_a_placeholder_waiting_for_it(
    scaler: Scaler, sources: Sources
) -> None:
    sources.feed = feed("+1200")  # 10 nodes' worth of people coming
    await scaler.read_feeds(force=True)
    scaler.readiness["standard"] = (10, 10)
    scaler.plan_now(sources.now)
    assert scaler.pools["standard"].target.replicas == 10
    # A placeholder waited for a node, then took room a stopped server left: the node booted
    # for it comes to nobody, and a placeholder more waits for it.
    scaler.coming_nodes["standard"] = 1
    scaler.plan_now(sources.now)
    target = scaler.pools["standard"].target
    assert target.replicas == 11
    assert "1 node(s) on their way that no placeholder waits for" in target.why
