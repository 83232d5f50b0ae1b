"""Sizing pools from the schedule: the lead-time window, people x guarantees against a node's
CPU and memory (limits during exams), one slot per person for ``user`` pools, calendar counts
(the largest wins) and the pool's min..max. No hub, no Kubernetes.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from campushub.catalog import Catalog, parse_catalog
from campushub.demand import (
    FreeRoom,
    PlaceholderGuard,
    PlaceholderPod,
    PoolTarget,
    Request,
    nodes_on_their_way,
    plan_pools,
    plan_span,
)
from campushub.schedule import Occurrence, occurrences

LA = ZoneInfo("America/Los_Angeles")
MONDAY = datetime(2026, 9, 14, tzinfo=LA)  # a teaching Monday

CATALOG_YAML = """\
term:
  name: 2026-27
  starts: 2026-08-19
  ends: 2027-05-14
timezone: America/Los_Angeles
images:
  python: {ref: "ghcr.io/campushub/python:2026.08"}
pools:
  standard:
    node: {cpu: 8, memory: 64Gi}
    min: 1
    max: 50
    lead: 20m
    spare: 0  # the plan alone; the spare is tested on its own below
  slots:
    node: {cpu: 4, memory: 16Gi}
    min: 2
    max: 100
    lead: 30m
    unit: user
  idle:
    node: {cpu: 4, memory: 16Gi}
    min: 3
    max: 5
defaults:
  image: python
  pool: standard
  cpu: {guarantee: 0.05, limit: 2}
  memory: {guarantee: 512Mi, limit: 1Gi}
courses:
  data8:
    title: DATA 8
    memory: {guarantee: 1Gi, limit: 2Gi}
    cpu: {guarantee: 0.05, limit: 0.5}
    schedule:
      - {every: [mon, wed, fri], at: "10:00", for: 50m, expect: 800}
  compute:
    title: Heavy computing
    cpu: {guarantee: 1, limit: 2}
    memory: {guarantee: 512Mi, limit: 1Gi}
    schedule:
      - {every: [tue], at: "10:00", for: 1h, expect: 100}
  stat20:
    title: STAT 20
    memory: {guarantee: 512Mi, limit: 1Gi}
    schedule:
      - {every: [mon], at: "10:10", for: 1h, expect: 128}
  midterm:
    title: Midterm course
    memory: {guarantee: 1Gi, limit: 2Gi}
    cpu: {guarantee: 0.05, limit: 0.5}
    schedule:
      - {on: 2026-09-14, at: "10:15", for: 2h, expect: 256, exam: true}
      - {on: 2026-09-16, at: "14:00", for: 2h, expect: 256}
  lab:
    title: Lab sections
    pool: slots
    schedule:
      - {every: [mon], at: "13:00", for: 2h, expect: 24}
      - {every: [mon], at: "13:20", for: 1h, expect: 30}
      - {every: [wed], at: "13:00", for: 2h, expect: 500}
"""


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return parse_catalog(CATALOG_YAML)


def plan_at(
    catalog: Catalog, at: datetime, extra_counts: dict[str, int] | None = None
) -> dict[str, PoolTarget]:
    day = occurrences(catalog, at - timedelta(days=1), at + timedelta(days=1))
    requests = [
        Request(pool, count, at - timedelta(hours=1), at + timedelta(hours=1), f"feed {pool}")
        for pool, count in (extra_counts or {}).items()
    ]
    return plan_pools(catalog, day, at, requests)


def only(catalog: Catalog, source: str, at: datetime) -> list[Occurrence]:
    day = occurrences(catalog, at - timedelta(days=1), at + timedelta(days=1))
    return [o for o in day if o.source == source]


def test_lead_time_counts_an_event_19_minutes_ahead_not_21(catalog: Catalog) -> None:
    lecture = only(catalog, "data8 weekly mon/wed/fri 10:00", MONDAY.replace(hour=10))
    assert len(lecture) == 1
    ahead_19 = plan_pools(catalog, lecture, MONDAY.replace(hour=9, minute=41))["standard"]
    ahead_21 = plan_pools(catalog, lecture, MONDAY.replace(hour=9, minute=39))["standard"]
    assert [r.occurrence for r in ahead_19.reasons] == lecture
    assert ahead_19.replicas == 13  # 800 x 1Gi / 64Gi = 12.5
    assert ahead_21.reasons == ()
    assert ahead_21.replicas == 1
    # Running until its end, not after.
    running = plan_pools(catalog, lecture, MONDAY.replace(hour=10, minute=49))["standard"]
    over = plan_pools(catalog, lecture, MONDAY.replace(hour=10, minute=50))["standard"]
    assert (len(running.reasons), len(over.reasons)) == (1, 0)


def test_memory_decides_when_it_needs_more_nodes(catalog: Catalog) -> None:
    lecture = only(catalog, "data8 weekly mon/wed/fri 10:00", MONDAY.replace(hour=10))
    target = plan_pools(catalog, lecture, MONDAY.replace(hour=10))["standard"]
    # CPU 800 x 0.05 = 40 cores / 8 = 5 nodes; memory 800Gi / 64Gi = 12.5 -> 13 nodes.
    assert (target.replicas, target.need, target.clamped) == (13, 13, False)
    assert "= 5 node(s)" in target.why
    assert "= 13 node(s)" in target.why
    assert "memory decides" in target.why
    assert target.reasons[0].share == pytest.approx(12.5)


def test_cpu_decides_when_it_needs_more_nodes(catalog: Catalog) -> None:
    tuesday = MONDAY + timedelta(days=1, hours=10)
    target = plan_at(catalog, tuesday)["standard"]
    # CPU 100 x 1 = 100 cores / 8 = 12.5 -> 13 nodes; memory 50Gi / 64Gi -> 1 node.
    assert target.replicas == 13
    assert "CPU decides" in target.why
    assert [r.occurrence.course for r in target.reasons] == ["compute"]


def test_an_exam_is_sized_by_limits(catalog: Catalog) -> None:
    exam = only(catalog, "midterm exam 2026-09-14 10:15", MONDAY.replace(hour=10))
    review = only(catalog, "midterm event 2026-09-16 14:00", MONDAY + timedelta(days=2))
    at_exam = plan_pools(catalog, exam, exam[0].starts)["standard"]
    at_review = plan_pools(catalog, review, review[0].starts)["standard"]
    # Exam: 256 x 0.5 = 128 cores / 8 = 16 nodes; 256 x 2Gi = 512Gi / 64Gi = 8 nodes.
    assert at_exam.replicas == 16
    assert (at_exam.reasons[0].cpu, at_exam.reasons[0].memory) == (0.5, 2 * 2**30)
    # Not an exam: 256 x 0.05 = 12.8 cores -> 2 nodes; 256Gi / 64Gi = 4 nodes.
    assert at_review.replicas == 4


def test_overlapping_courses_and_an_exam_in_one_pool_add_up(catalog: Catalog) -> None:
    target = plan_at(catalog, MONDAY.replace(hour=10))["standard"]
    # At 10:00: data8 (running), stat20 at 10:10 and the exam at 10:15 (within the lead).
    assert [r.occurrence.course for r in target.reasons] == ["data8", "stat20", "midterm"]
    # CPU: 40 + 6.4 + 128 = 174.4 cores / 8 = 21.8 -> 22 nodes.
    # Memory: 800Gi + 64Gi + 512Gi = 1376Gi / 64Gi = 21.5 -> 22 nodes.
    assert target.replicas == 22
    assert sum(r.share for r in target.reasons) == pytest.approx(12.5 + 1 + 16)
    # Later the lecture has ended; stat20 and the exam remain.
    later = plan_at(catalog, MONDAY.replace(hour=11))["standard"]
    assert [r.occurrence.course for r in later.reasons] == ["stat20", "midterm"]
    assert later.replicas == 17  # CPU 134.4 / 8 = 16.8 -> 17


def test_a_user_pool_holds_one_slot_per_person(catalog: Catalog) -> None:
    target = plan_at(catalog, MONDAY.replace(hour=13))["slots"]
    # Both lab meetings: one running, one starting in 20 minutes (lead 30m).
    assert (target.replicas, target.need, target.clamped) == (54, 54, False)
    assert "54 people to hold room for" in target.why
    assert [r.share for r in target.reasons] == [24.0, 30.0]
    wednesday = plan_at(catalog, MONDAY + timedelta(days=2, hours=13))["slots"]
    assert (wednesday.replicas, wednesday.need, wednesday.clamped) == (100, 500, True)
    assert "max 100" in wednesday.why


def test_a_pool_with_no_events_sits_at_its_min(catalog: Catalog) -> None:
    targets = plan_at(catalog, MONDAY.replace(hour=3))
    assert set(targets) == {"standard", "slots", "idle"}
    for name, low in (("standard", 1), ("slots", 2), ("idle", 3)):
        target = targets[name]
        assert (target.replicas, target.need, target.reasons) == (low, 0, ())
        assert target.clamped
        assert "no events" in target.why
        assert f"min {low}" in target.why


def test_clamped_to_max(catalog: Catalog) -> None:
    big = Occurrence(
        "data8",
        "standard",
        datetime(2026, 9, 14, 17, tzinfo=UTC),
        datetime(2026, 9, 14, 18, tzinfo=UTC),
        5000,
        False,
        "test",
    )
    target = plan_pools(catalog, [big], big.starts)["standard"]
    assert (target.replicas, target.need, target.clamped) == (50, 79, True)  # 5000Gi / 64Gi


def test_calendar_counts_raise_the_need_and_the_largest_wins(catalog: Catalog) -> None:
    at = MONDAY.replace(hour=3)
    targets = plan_at(catalog, at, {"idle": 4, "standard": 60, "slots": 1, "nowhere": 9})
    assert (targets["idle"].replicas, targets["idle"].need, targets["idle"].clamped) == (
        4,
        4,
        False,
    )
    assert targets["idle"].requested == 4
    assert "at least 4" in targets["idle"].why
    # Above the max: still clamped.
    assert (targets["standard"].replicas, targets["standard"].clamped) == (50, True)
    # Below the min: the min.
    assert targets["slots"].replicas == 2
    # When the events need more than the calendar asks, the events win.
    lecture = plan_at(catalog, MONDAY.replace(hour=10), {"standard": 5})["standard"]
    assert (lecture.replicas, lecture.requested) == (22, 5)
    assert "no more than the events need" in lecture.why


def test_occurrences_of_unknown_pools_are_ignored_and_time_must_be_aware(
    catalog: Catalog,
) -> None:
    stray = Occurrence(
        "ghost",
        "nowhere",
        datetime(2026, 9, 14, 17, tzinfo=UTC),
        datetime(2026, 9, 14, 18, tzinfo=UTC),
        10,
        False,
        "feed",
    )
    targets = plan_pools(catalog, [stray], stray.starts)
    assert set(targets) == {"standard", "slots", "idle"}
    assert all(t.reasons == () for t in targets.values())
    with pytest.raises(ValueError, match="aware"):
        plan_pools(catalog, [], datetime(2026, 9, 14, 10))


def test_feed_requests_count_from_the_lead_time_before_they_start(catalog: Catalog) -> None:
    starts = MONDAY.replace(hour=3).astimezone(UTC)
    request = Request("idle", 5, starts, starts + timedelta(hours=1), "feed: office hours")
    # The idle pool has the default lead time (15m): the request counts 14 minutes ahead.
    before = plan_pools(catalog, [], starts - timedelta(minutes=16), [request])["idle"]
    assert before.replicas == 3
    assert plan_pools(catalog, [], starts - timedelta(minutes=14), [request])["idle"].replicas == 5
    assert plan_pools(catalog, [], starts, [request])["idle"].replicas == 5
    # The slots pool's lead is 30m: a request there counts 29 minutes ahead, not 31.
    slots = Request("slots", 40, starts, starts + timedelta(hours=1), "feed: lab")
    assert plan_pools(catalog, [], starts - timedelta(minutes=29), [slots])["slots"].replicas == 40
    assert plan_pools(catalog, [], starts - timedelta(minutes=31), [slots])["slots"].replicas == 2
    assert plan_pools(catalog, [], starts + timedelta(hours=1), [slots])["slots"].replicas == 2


def test_entries_without_expect_count_enrollment_times_attendance() -> None:
    yaml = CATALOG_YAML.replace(
        '- {every: [mon, wed, fri], at: "10:00", for: 50m, expect: 800}',
        '- {every: [mon, wed, fri], at: "10:00", for: 50m}',
    )
    assert yaml != CATALOG_YAML
    unknown = parse_catalog(yaml)
    lecture = [
        o for o in occurrences(unknown, MONDAY, MONDAY + timedelta(days=1)) if o.course == "data8"
    ]
    assert [o.expect for o in lecture] == [None]
    at = lecture[0].starts
    # 1000 enrolled x 0.8 = 800 people x 1Gi = 800Gi / 64Gi = 12.5 -> 13 nodes.
    target = plan_pools(unknown, lecture, at, enrollment={"data8": 1000}, attendance=0.8)
    assert target["standard"].replicas == 13
    assert target["standard"].reasons[0].people == 800
    # 100 x 0.9 is 90 people (not 91 from floating point): 90Gi / 64Gi -> 2 nodes.
    small = plan_pools(unknown, lecture, at, enrollment={"data8": 100}, attendance=0.9)
    assert small["standard"].reasons[0].people == 90
    # Nobody enrolled (or the hub's groups unknown): no one expected, the pool's min.
    assert plan_pools(unknown, lecture, at)["standard"].replicas == 1


@pytest.mark.parametrize("learned", [False, True], ids=["catalog", "arrivals-learned"])
def test_plan_span_matches_planning_every_minute(catalog: Catalog, learned: bool) -> None:
    """The sweep gives what planning each moment gives; also when the scaler has learned
    that arrivals end 20 minutes in (the meetings run on, with room for one late student)."""
    start = MONDAY.astimezone(UTC)
    end = start + timedelta(days=3)
    found = occurrences(catalog, start - timedelta(days=1), end + timedelta(days=1))
    if learned:
        found = [
            dataclasses.replace(o, ends=o.starts + timedelta(minutes=20), meets_until=o.ends)
            for o in found
            if o.duration > timedelta(minutes=20)
        ]
        assert found
    requests = [
        Request("idle", 4, start + timedelta(hours=5), start + timedelta(hours=6), "feed a"),
        Request("standard", 30, start + timedelta(hours=34), start + timedelta(hours=35), "b"),
        Request("nowhere", 9, start + timedelta(hours=2), start + timedelta(hours=3), "c"),
    ]
    steps = plan_span(catalog, found, requests, start, end)
    assert set(steps) == {"standard", "slots", "idle"}
    for pool, pool_steps in steps.items():
        assert pool_steps[0][0] == start
        moments = [moment for moment, _ in pool_steps]
        assert moments == sorted(moments)
        changes = 0
        minute = start
        previous = None
        while minute < end:
            expected = plan_pools(catalog, found, minute, requests)[pool].replicas
            # The step in force at this minute: the last one at or before it.
            current = [t for m, t in pool_steps if m <= minute][-1]
            assert current.replicas == expected, (pool, minute)
            changes += previous is not None and expected != previous
            previous = expected
            minute += timedelta(minutes=5)
        assert changes >= 1, pool  # each pool's target moves at least once in three days


def test_people_already_on_hold_their_own_room(catalog: Catalog) -> None:
    lecture = only(catalog, "data8 weekly mon/wed/fri 10:00", MONDAY.replace(hour=10))
    at = lecture[0].starts
    # 800 expected; 320 already run a server: room for 480 more = 480Gi / 64Gi = 7.5 -> 8.
    target = plan_pools(catalog, lecture, at, present={"data8": 320})["standard"]
    assert target.replicas == 8
    reason = target.reasons[0]
    assert (reason.expected, reason.present, reason.people) == (800, 320, 480)
    assert "800 people, 320 already on, 480 to hold room for" in target.why
    # Everyone is on: nothing to hold but the pool's min; more than expected is not negative.
    assert plan_pools(catalog, lecture, at, present={"data8": 800})["standard"].replicas == 1
    assert plan_pools(catalog, lecture, at, present={"data8": 5000})["standard"].need == 0
    # Other courses' people do not count against data8.
    assert plan_pools(catalog, lecture, at, present={"stat20": 800})["standard"].replicas == 13
    # A user pool: two overlapping lab sessions of one course, the earlier served first.
    labs = [
        o
        for o in occurrences(catalog, MONDAY, MONDAY + timedelta(days=1))
        if o.course == "lab" and o.starts.astimezone(LA).hour == 13
    ]
    at = MONDAY.replace(hour=13, minute=30)
    slots = plan_pools(catalog, labs, at, present={"lab": 30})["slots"]
    assert [(r.expected, r.present, r.people) for r in slots.reasons] == [(24, 24, 0), (30, 6, 24)]
    assert slots.replicas == 24


def test_free_room_on_warm_nodes_takes_people_first(catalog: Catalog) -> None:
    lecture = only(catalog, "data8 weekly mon/wed/fri 10:00", MONDAY.replace(hour=10))
    at = lecture[0].starts
    # 800 people x 1Gi (0.05 CPU): two warm nodes with 100Gi and 40Gi free take 140 of them;
    # 660Gi / 64Gi = 10.3 -> 11 nodes of placeholders instead of 13.
    free = {
        "standard": [
            FreeRoom("node-a", 8.0, 100 * 2**30),
            FreeRoom("node-b", 8.0, 40 * 2**30 + 2**29),  # 40.5Gi: 40 people, not 41
        ]
    }
    target = plan_pools(catalog, lecture, at, free=free)["standard"]
    reason = target.reasons[0]
    assert (reason.expected, reason.free, reason.people) == (800, 140, 660)
    assert target.replicas == 11
    assert "800 people, 140 in free room, 660 to hold room for" in target.why
    # CPU can be what is short: 1 free core holds 20 people of 0.05 CPU, whatever the memory.
    tight = {"standard": [FreeRoom("node-c", 1.0, 500 * 2**30)]}
    assert plan_pools(catalog, lecture, at, free=tight)["standard"].reasons[0].free == 20
    # More room than people: nobody needs a placeholder; the pool's min still holds.
    roomy = {"standard": [FreeRoom(f"n{i}", 8.0, 64 * 2**30) for i in range(20)]}
    everyone = plan_pools(catalog, lecture, at, free=roomy)["standard"]
    assert (everyone.need, everyone.replicas) == (0, 1)
    # Negative or zero room from a confused API counts as none.
    broken = {"standard": [FreeRoom("n", -4.0, -(2**30)), FreeRoom("m", 0.0, 0)]}
    assert plan_pools(catalog, lecture, at, free=broken)["standard"].replicas == 13
    # Free room of another pool does not count here.
    assert (
        plan_pools(catalog, lecture, at, free={"slots": roomy["standard"]})["standard"].replicas
        == 13
    )


def test_the_spare_is_kept_beyond_the_plan_while_people_come() -> None:
    # The pool's default spare, half a node, beyond the exact plan while anyone is to come.
    catalog = parse_catalog(CATALOG_YAML.replace("    spare: 0  # the plan alone", "    #"))
    assert catalog.pools["standard"].spare == Fraction(1, 2)
    lecture = only(catalog, "data8 weekly mon/wed/fri 10:00", MONDAY.replace(hour=10))
    at = lecture[0].starts
    # 768 x 1Gi is exactly 12 nodes: none to spare, so one more.
    exact = plan_pools(catalog, lecture, at, present={"data8": 32})["standard"]
    assert (exact.replicas, exact.need) == (13, 13)
    assert "1 more to keep the pool's spare (0.5 node(s)) while people are coming" in exact.why
    # 800 x 1Gi is 12.5 nodes: the 13th holds the half node to spare already.
    assert plan_pools(catalog, lecture, at)["standard"].replicas == 13

    # Free room counts: 100 people to come in 140Gi of free room leave 40Gi, over half a node.
    def need(present: int, free_gib: int) -> int:
        free = {"standard": [FreeRoom("a", 20.0, free_gib * 2**30)]}
        return plan_pools(catalog, lecture, at, present={"data8": present}, free=free)[
            "standard"
        ].need

    assert need(700, 140) == 0
    assert need(700, 110) == 1  # 10Gi left: under half a node
    assert need(700, 100) == 1  # none left
    # 120 to come in 100Gi: a placeholder for the other 20 holds 44Gi more, enough to spare.
    assert need(680, 100) == 1
    # 150 to come: 50 beyond the free room; their node spares 14Gi, under half: one more.
    assert need(650, 100) == 2
    # Nobody to come: no spare; the pool's min only.
    assert plan_pools(catalog, lecture, at, present={"data8": 800})["standard"].replicas == 1
    # A spare of 2 nodes, and of 0.
    two = parse_catalog(CATALOG_YAML.replace("    spare: 0  # the plan alone", "    spare: 2 #"))
    lecture = only(two, "data8 weekly mon/wed/fri 10:00", MONDAY.replace(hour=10))
    assert plan_pools(two, lecture, at, present={"data8": 32})["standard"].replicas == 14
    none = parse_catalog(CATALOG_YAML)
    lecture = only(none, "data8 weekly mon/wed/fri 10:00", MONDAY.replace(hour=10))
    assert plan_pools(none, lecture, at, present={"data8": 32})["standard"].replicas == 12


def test_free_room_spares_only_what_one_node_can_hold() -> None:
    # Free room counts node by node: CPU free on a node full by memory and memory free on one
    # full by CPU add up to more than a node, but hold nobody: the spare is still asked for.
    catalog = parse_catalog(CATALOG_YAML.replace("    spare: 0  # the plan alone", "    #"))
    lecture = only(catalog, "data8 weekly mon/wed/fri 10:00", MONDAY.replace(hour=10))
    at = lecture[0].starts
    stranded = [
        FreeRoom("fits-one", 0.05, 2**30),
        FreeRoom("by-memory", 7.5, 0),
        FreeRoom("by-cpu", 0.0, 60 * 2**30),
    ]
    target = plan_pools(catalog, lecture, at, present={"data8": 799}, free={"standard": stranded})[
        "standard"
    ]
    assert (target.need, target.reasons[0].free) == (1, 1)
    assert "1 more to keep the pool's spare (0.5 node(s))" in target.why
    # The same room on one node spares far more than half a node.
    together = [FreeRoom("fits-one", 0.05, 2**30), FreeRoom("both", 7.5, 60 * 2**30)]
    target = plan_pools(catalog, lecture, at, present={"data8": 799}, free={"standard": together})[
        "standard"
    ]
    assert (target.need, target.reasons[0].free) == (0, 1)


def test_a_user_pool_spares_whole_slots() -> None:
    catalog = parse_catalog(
        CATALOG_YAML.replace("    unit: user\n", "    unit: user\n    spare: 3\n")
    )
    labs = [
        o
        for o in occurrences(catalog, MONDAY, MONDAY + timedelta(days=1))
        if o.course == "lab" and o.starts.astimezone(LA).hour == 13
    ]
    at = MONDAY.replace(hour=13, minute=30)
    # 24 to come, one slot each, and 3 more to spare.
    assert plan_pools(catalog, labs, at, present={"lab": 30})["slots"].replicas == 27
    # Free room for the 24 (512Mi each) and 2 more: one slot more (raised to the pool's min).
    free = {"slots": [FreeRoom("a", 4.0, 26 * 2**29)]}
    spared = plan_pools(catalog, labs, at, present={"lab": 30}, free=free)["slots"]
    assert (spared.need, spared.replicas) == (1, 2)
    # The same CPU and memory split over two nodes, each short of the other, hold nobody.
    split = {"slots": [FreeRoom("a", 4.0, 0), FreeRoom("b", 0.0, 26 * 2**29)]}
    assert plan_pools(catalog, labs, at, present={"lab": 30}, free=split)["slots"].need == 27


def _target(replicas: int, need: int | None = None) -> PoolTarget:
    need = replicas if need is None else need
    return PoolTarget("standard", replicas, need, (), False, f"target {replicas}")


def test_the_guard_lets_a_target_fall_only_once_its_placeholders_are_ready() -> None:
    guard = PlaceholderGuard(timedelta(minutes=14))
    at = datetime(2026, 11, 30, 18, tzinfo=UTC)
    # Rises and steady targets pass; so does a fall with every placeholder ready.
    assert guard(_target(9), at, 5, 3).replicas == 9
    assert guard(_target(4), at, 6, 6).replicas == 4
    # A fall while 2 of 6 are not ready is held, and says why ...
    held = guard(_target(4), at, 6, 4)
    assert held.replicas == 6 and "while 2 placeholder(s) are not ready" in held.why
    assert guard(_target(4), at + timedelta(minutes=13), 6, 4).replicas == 6
    # ... for at most the limit: placeholders that never become ready do not pin the pool.
    assert guard(_target(4), at + timedelta(minutes=14), 6, 4).replicas == 4
    # Readiness not known (dry-run, an API error): the plan as it is.
    assert guard(_target(4), at, None, None).replicas == 4
    # The plan needs nothing only because it counts the room of servers the culler is about
    # to stop; without it, it needs 6: people are still coming, so the fall waits as well
    # (deleting a pending placeholder leaves its booting node empty for a student to wait on).
    fresh = PlaceholderGuard(timedelta(minutes=14))
    held = fresh(_target(0, need=0), at, 7, 3, firm=_target(6))
    assert held.replicas == 7 and "while 4 placeholder(s) are not ready" in held.why
    # Nobody coming either way: it falls (to the placeholders leaving room cannot replace).
    assert fresh(_target(0, need=0), at, 7, 3, firm=_target(0, need=0)).replicas == 0


def test_the_guard_sends_a_placeholder_to_each_cold_node_while_people_come() -> None:
    guard = PlaceholderGuard(timedelta(minutes=14))
    at = datetime(2026, 11, 30, 18, tzinfo=UTC)
    # 4 placeholders, all ready; the plan wants 3, and 2 ready nodes still pull the images.
    taken = guard(_target(3), at, 4, 4, cold=2, maximum=20)
    assert taken.replicas == 6 and "for 2 ready node(s) still pulling" in taken.why
    assert guard(_target(3), at, 4, 4, cold=2, maximum=5).replicas == 5  # never above max
    # Nobody coming: a cold node is left for the autoscaler to remove.
    assert guard(_target(0, need=0), at, 4, 4, cold=2).replicas == 0


def test_a_node_booted_for_a_placeholder_that_landed_elsewhere_is_on_its_way() -> None:
    at = datetime(2026, 11, 30, 18, tzinfo=UTC)
    warmup = timedelta(minutes=15)

    def pod(made: int, bound: int | None, node: int | None) -> PlaceholderPod:
        def minutes(value: int | None) -> datetime | None:
            return None if value is None else at + timedelta(minutes=value)

        return PlaceholderPod(minutes(made), minutes(bound), minutes(node))  # type: ignore[arg-type]

    pods = [
        pod(0, 3, -60),  # pending 3 min, then bound to a node an hour old: its node comes
        pod(0, 0, -60),  # bound at once: the autoscaler never saw it
        pod(0, 11, 11),  # bound to the node booted for it
        pod(0, None, None),  # still pending: it will take its node
        pod(-30, -27, -90),  # long ago: its node came by now
    ]
    assert nodes_on_their_way(pods, at + timedelta(minutes=5), warmup) == 1
    assert nodes_on_their_way(pods, at + timedelta(minutes=14), warmup) == 1
    assert nodes_on_their_way(pods, at + timedelta(minutes=15), warmup) == 0
    # Seconds: bound after 9 s (before the autoscaler's scan) is not counted; after 10 s is.
    quick = PlaceholderPod(at, at + timedelta(seconds=9), at - timedelta(hours=1))
    slow = PlaceholderPod(at, at + timedelta(seconds=10), at - timedelta(hours=1))
    assert nodes_on_their_way([quick, slow], at + timedelta(minutes=1), warmup) == 1


def test_a_placeholder_pending_since_then_is_waiting_for_the_node_on_its_way() -> None:
    at = datetime(2026, 11, 30, 18, tzinfo=UTC)
    warmup = timedelta(minutes=15)
    minute = timedelta(minutes=1)
    old = at - timedelta(hours=1)
    orphan = PlaceholderPod(at, at + 3 * minute, old)
    earlier = PlaceholderPod(at - minute)  # pending before: its own node is on its way
    later = PlaceholderPod(at + 4 * minute)  # pending since: it takes the node that comes
    assert nodes_on_their_way([orphan, earlier], at + 5 * minute, warmup) == 1
    assert nodes_on_their_way([orphan, earlier, later], at + 5 * minute, warmup) == 0
    two = PlaceholderPod(at + minute, at + 4 * minute, old)
    assert nodes_on_their_way([orphan, two, later], at + 5 * minute, warmup) == 1
    same_second = PlaceholderPod(at + 3 * minute)  # as the orphan was bound: not counted
    assert nodes_on_their_way([orphan, same_second], at + 5 * minute, warmup) == 1


def test_the_guard_asks_once_for_a_node_on_its_way_round_after_round() -> None:
    guard = PlaceholderGuard(timedelta(minutes=30))
    at = datetime(2026, 11, 30, 18, tzinfo=UTC)
    warmup = timedelta(minutes=15)
    orphan = PlaceholderPod(at - timedelta(minutes=3), at, at - timedelta(hours=1))
    pods, replicas = [orphan], 4
    targets = []
    for round_ in range(1, 11):  # the plan wants 4, all there and ready but the ones made
        now = at + timedelta(minutes=round_)
        coming = nodes_on_their_way(pods, now, warmup)
        target = guard(_target(4), now, replicas, 4, maximum=20, coming_nodes=coming)
        targets.append(target.replicas)
        pods += [PlaceholderPod(now)] * (target.replicas - replicas)  # made, pending
        replicas = target.replicas
    assert targets == [5] * 10  # one placeholder more, asked once and kept while it waits


def test_the_guard_sends_a_pending_placeholder_for_each_node_on_its_way() -> None:
    guard = PlaceholderGuard(timedelta(minutes=30))
    at = datetime(2026, 11, 30, 18, tzinfo=UTC)
    taken = guard(_target(3), at, 4, 4, cold=1, maximum=20, coming_nodes=2)
    assert taken.replicas == 7
    assert "for 1 ready node(s) still pulling" in taken.why
    assert "2 node(s) on their way that no placeholder waits for" in taken.why
    alone = guard(_target(3), at, 4, 4, maximum=20, coming_nodes=1)
    assert alone.replicas == 5 and "still pulling" not in alone.why
    # Nobody coming: the node is left for the autoscaler to remove once it is up.
    assert guard(_target(0, need=0), at, 4, 4, coming_nodes=2).replicas == 0


def test_the_guard_keeps_placeholders_that_leaving_room_cannot_replace_yet() -> None:
    guard = PlaceholderGuard(timedelta(minutes=14))
    at = datetime(2026, 11, 30, 18, tzinfo=UTC)
    # With the room of servers the culler stops within the warm-up the plan wants 2; without
    # it, 6. The 5 placeholders there stay: a student coming now finds those servers running.
    kept = guard(_target(2), at, 5, 5, firm=_target(6))
    assert kept.replicas == 5 and "the culler is about to stop" in kept.why
    # It saves asking for more: no more than the firm target, nor than are there.
    assert guard(_target(2), at, 8, 8, firm=_target(6)).replicas == 6
    assert guard(_target(2), at, 1, 1, firm=_target(6)).replicas == 2
    assert guard(_target(7), at, 5, 5, firm=_target(9)).replicas == 7
    assert guard(_target(2), at, 5, 5).replicas == 2  # nothing leaving: the plan


def test_free_room_without_the_leaving_servers_is_firm_room() -> None:
    room = FreeRoom("n", 6.0, 48 * 2**30, leaving_cpu=1.0, leaving_memory=8 * 2**30)
    assert room.firm() == FreeRoom("n", 5.0, 40 * 2**30)
    assert FreeRoom("m", 1.0, 0, leaving_cpu=3.0).firm().cpu == 0.0  # never below none
