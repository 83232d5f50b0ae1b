"""What the scaler learns of each meeting (campushub.learning), and how the plan uses it: the
meetings of the demo catalog followed round by round with servers as the hub reports them,
the history saved and read back (and refused, piece by piece, when it is not what was saved),
and the targets that come from it at the moments they change."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campushub.catalog import CatalogError, load_catalog, parse_catalog
from campushub.demand import FreeRoom, plan_pools, plan_span
from campushub.demo import launch
from campushub.learning import (
    ATTENDANCE_MARGIN,
    ROUND,
    History,
    HistoryError,
    MeetingWatch,
    learned_occurrences,
    observe,
)
from campushub.schedule import occurrences
from campushub.services.scaler.core import RunningServer, Scaler

# Monday 30 November 2026, 10:00 in Los Angeles: data8's lecture (MWF 10:00, 50m, expect 800).
LECTURE = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(launch.DEMO_CATALOG)


def lecture(catalog, on: datetime = LECTURE):
    return next(
        o
        for o in occurrences(catalog, on - timedelta(hours=1), on + timedelta(hours=1))
        if o.course == "data8" and o.starts == on
    )


def follow(watch: MeetingWatch, catalog, starts: datetime, arrivals: list[tuple[str, float]]):
    """Rounds every minute from an hour before ``starts`` to an hour after, the hub reporting
    the servers started by then (``(user, minutes from the start)``)."""
    ended = []
    week = occurrences(catalog, starts - timedelta(hours=2), starts + timedelta(hours=2))
    for minute in range(-60, 61):
        now = starts + timedelta(minutes=minute)
        servers = [
            RunningServer(user, "data8", now, starts + timedelta(minutes=offset))
            for user, offset in arrivals
            if starts + timedelta(minutes=offset) <= now
        ]
        ended += watch.see(now, week, servers, {"data8": 1000})
    return ended


def test_a_meeting_is_followed_from_the_servers_the_hub_reports(catalog) -> None:
    arrivals = [(f"s{n}", -12 + n * 0.02) for n in range(900)]  # -12 to +6 minutes
    arrivals.append(("early-bird", -45.0))  # before the watch opens: came, no offset
    ended = follow(MeetingWatch(), catalog, LECTURE, arrivals)
    assert [occurrence.source for occurrence, _ in ended] == [lecture(catalog).source]
    seen = ended[0][1]
    assert (seen.enrolled, seen.came, seen.arrivals) == (1000, 901, 900)
    assert seen.offsets[0] == pytest.approx(-12 * 60)
    assert seen.offsets[-1] == pytest.approx(900 * 0.02 * 60 - 12 * 60 - 1.2, abs=2)
    assert seen.offset(0.5) == pytest.approx(-3 * 60, abs=3)


@pytest.mark.parametrize(
    ("ratios", "planned"),
    [
        # Week to week variation: the highest of all kept.
        ([0.8, 0.9, 0.75, 0.95, 0.78, 0.77, 0.76], 0.95),
        # A clear fall (students dropped; the groups keep them): the meetings since.
        ([0.85, 0.9, 0.6, 0.62, 0.58, 0.61], 0.62),
        ([0.9, 0.85, 0.88, 0.6, 0.62, 0.58], 0.62),
        # Only two meetings since: not yet believed.
        ([0.85, 0.9, 0.88, 0.6, 0.62], 0.9),
        # A fall no larger than the margin: not believed.
        ([0.85, 0.9, 0.84, 0.81, 0.8], 0.9),
        # Going up counts at once.
        ([0.6, 0.62, 0.58, 0.9], 0.9),
    ],
)
def test_attendance_is_the_highest_seen_or_since_a_clear_fall(catalog, ratios, planned) -> None:
    history = History()
    occurrence = lecture(catalog)
    pool = catalog.pools[occurrence.pool]
    offsets = [-300.0 + n for n in range(40)]
    for number, ratio in enumerate(ratios):
        starts = LECTURE - timedelta(weeks=len(ratios) - number)
        history.record(occurrence, observe(starts, 1000, round(ratio * 1000), offsets))
    learned = history.learned(occurrence, pool.warmup)
    assert learned is not None
    assert learned.attendance == pytest.approx(min(planned + ATTENDANCE_MARGIN, 1.0))


def test_a_meeting_counts_from_the_earliest_student_of_its_pool(catalog) -> None:
    # data8's students have come as early as 20 minutes before; stat20's (same pool) only 5.
    history = History()
    data8 = lecture(catalog)
    early = [-20 * 60 + 28 * 60 * n / 99 for n in range(100)]
    history.record(data8, observe(LECTURE - timedelta(weeks=1), 1000, 100, early))
    tuesday = LECTURE + timedelta(days=1, hours=4)  # Tuesday 14:00 in Los Angeles
    stat20 = next(
        o
        for o in occurrences(catalog, tuesday - timedelta(hours=1), tuesday + timedelta(hours=1))
        if o.course == "stat20"
    )
    assert stat20.starts == tuesday
    late = [-5 * 60 + 10 * 60 * n / 39 for n in range(40)]
    history.record(stat20, observe(tuesday - timedelta(weeks=1), 300, 40, late))
    pool = catalog.pools[stat20.pool]
    own = history.learned(stat20, pool.warmup)
    assert own is not None and own.lead == pool.warmup + timedelta(minutes=5 + 1)
    assert history.pool_lead(catalog, pool.name) == pool.warmup + timedelta(minutes=20 + 1)
    # Counted from the pool's lead, with room for its first student until it starts.
    at = tuesday - pool.warmup - timedelta(minutes=15)
    (planned,) = learned_occurrences(catalog, [stat20], history, {"stat20": 300}, at)
    assert planned.lead == pool.warmup + timedelta(minutes=21)
    assert planned.expect == 1  # its own arrivals say nobody by then
    assert plan_pools(catalog, [planned], at)[pool.name].need == 1  # no room: a node
    # Room for them (and the pool's spare) on a warm node: none asked for.
    free = {pool.name: [FreeRoom("node-1", cpu=6.0, memory=48 * 2**30)]}
    assert plan_pools(catalog, [planned], at, free=free)[pool.name].need == 0
    # Not before the pool's lead; and from the start, its own arrivals alone.
    before = tuesday - planned.lead - timedelta(seconds=1)
    (planned,) = learned_occurrences(catalog, [stat20], history, {"stat20": 300}, before)
    assert plan_pools(catalog, [planned], before)[pool.name].need == 0
    (started,) = learned_occurrences(catalog, [stat20], history, {"stat20": 300}, tuesday)
    assert started.expect == math.ceil(300 * own.share_by((pool.warmup + 2 * ROUND).seconds))
    # Without history for the pool, no pool lead.
    assert History().pool_lead(catalog, pool.name) is None
    assert history.pool_lead(catalog, "no-such-pool") is None


def test_the_plan_asks_early_enough_and_lets_go_when_arrivals_end(catalog) -> None:
    history = History()
    occurrence = lecture(catalog)
    pool = catalog.pools[occurrence.pool]
    # Three lectures: the earliest 1% came 20 minutes before, the last 8 minutes after.
    for week in range(3):
        offsets = [-20 * 60 + 28 * 60 * n / 699 for n in range(700)]
        history.record(
            occurrence, observe(LECTURE - timedelta(weeks=3 - week), 1000, 700 + 50 * week, offsets)
        )
    learned = history.learned(occurrence, pool.warmup)
    assert learned is not None and learned.timing_from == "this meeting"
    # The earliest student of the meetings kept came 20 minutes before the start.
    assert learned.lead == pool.warmup + timedelta(minutes=20 + 1)
    assert learned.lead > pool.lead  # students come earlier than the catalog's default
    assert learned.until == timedelta(minutes=9)
    assert learned.attendance == pytest.approx(0.8 + ATTENDANCE_MARGIN)
    assert learned.share_by(-20 * 60 - 1) == 0.0 and learned.share_by(9 * 60) == 1.0
    assert learned.share_by(-6 * 60) == pytest.approx(0.5, abs=0.01)

    # The catalog's entry has expect: 800, which stays; an entry without expect learns it.
    planned = learned_occurrences(catalog, [occurrence], history, {"data8": 1000})[0]
    assert (planned.lead, planned.ends, planned.expect) == (
        learned.lead,
        LECTURE + timedelta(minutes=9),
        800,
    )
    text = launch.DEMO_CATALOG.read_text().replace(
        'at: "10:00", for: 50m, expect: 800', 'at: "10:00", for: 50m'
    )
    bare = parse_catalog(text, "courses.yaml")
    unplanned = lecture(bare)
    assert unplanned.expect is None
    planned = learned_occurrences(bare, [unplanned], history, {"data8": 1000})[0]
    assert planned.expect == 850

    # Planning a moment: room for those who will have come when room asked now is warm.
    def need(at: datetime) -> int:
        moment = learned_occurrences(bare, [unplanned], history, {"data8": 1000}, at)
        return plan_pools(bare, moment, at, enrollment={"data8": 1000})[pool.name].need

    # Room asked at a moment is warm a warm-up later; it must last until the next round's is
    # (a round), and a round more lets a round that notices a miss act on it.
    ready = pool.warmup + timedelta(minutes=2)
    mid = LECTURE - ready - timedelta(minutes=6)  # people expected by 6 minutes before
    moment = learned_occurrences(bare, [unplanned], history, {"data8": 1000}, mid)[0]
    assert moment.expect == math.ceil(850 * learned.share_by(-6 * 60))
    assert need(LECTURE - learned.lead - timedelta(seconds=1)) == 0  # not counted yet
    ramp = [need(LECTURE - ready + timedelta(minutes=minute)) for minute in (-19, -12, -6, 0, 8)]
    assert ramp == sorted(ramp) and ramp[0] < ramp[2] < ramp[-1], ramp
    full = plan_pools(bare, [planned], LECTURE, enrollment={"data8": 1000})[pool.name].need
    assert ramp[-1] == full  # everyone who comes has come by +8 minutes
    assert need(LECTURE + timedelta(minutes=8)) == full  # nobody on yet in this plan
    # Arrivals have ended: the no-shows' room is let go; until the meeting's own end, room for
    # one late student is kept, unless the free room has it already.
    late = LECTURE + timedelta(minutes=9)
    assert need(late) == 1
    assert planned.meets_until == unplanned.ends > late
    moment = learned_occurrences(bare, [unplanned], history, {"data8": 1000}, late)

    def need_with(room: FreeRoom) -> int:
        free = {pool.name: [room]}
        return plan_pools(bare, moment, late, enrollment={"data8": 1000}, free=free)[pool.name].need

    assert need_with(FreeRoom("node-1", cpu=2.0, memory=8 * 2**30)) == 0
    assert need_with(FreeRoom("node-1", cpu=0.01, memory=2**20)) == 1

    def need_split(*rooms: FreeRoom) -> int:
        free = {pool.name: list(rooms)}
        return plan_pools(bare, moment, late, enrollment={"data8": 1000}, free=free)[pool.name].need

    # The CPU free on one node and the memory on another hold nobody.
    assert need_split(FreeRoom("a", cpu=2.0, memory=0), FreeRoom("b", cpu=0.0, memory=2**33)) == 1
    assert need(unplanned.ends) == 0
    # A plan of a span (the chart) shows the most it may ask for, from the learned lead.
    steps = plan_span(
        bare,
        [planned],
        [],
        LECTURE - timedelta(hours=1),
        LECTURE + timedelta(hours=1),
        enrollment={"data8": 1000},
    )[pool.name]
    assert [(moment - LECTURE, target.need) for moment, target in steps[1:]] == [
        (-learned.lead, full),
        (timedelta(minutes=9), 1),  # and the pool's min from its end: no step
    ]
    assert pool.min == 1


def test_few_arrivals_borrow_the_courses_timing_and_none_keep_the_defaults(catalog) -> None:
    occurrence = lecture(catalog)
    pool = catalog.pools[occurrence.pool]
    history = History()
    assert history.learned(occurrence, pool.warmup) is None
    assert learned_occurrences(catalog, [occurrence], history, {"data8": 1000}) == [occurrence]
    # Ten arrivals of this meeting: too few for timing, enough for attendance.
    history.record(occurrence, observe(LECTURE - timedelta(weeks=1), 1000, 10, [0.0] * 10))
    learned = history.learned(occurrence, pool.warmup)
    assert learned is not None and learned.lead is None and learned.until is None
    assert learned.attendance == pytest.approx(0.01 + ATTENDANCE_MARGIN)
    # Another meeting of the course with many: its timing is borrowed.
    other = dataclasses.replace(occurrence, source="data8 lab tue 14:00")
    history.record(other, observe(LECTURE, 1000, 100, [-300.0 + n for n in range(100)]))
    learned = history.learned(occurrence, pool.warmup)
    assert learned is not None and learned.timing_from == "the course's meetings"
    assert learned.lead == pool.warmup + timedelta(seconds=300) + timedelta(minutes=1)
    # An exam learns only how early the course's students come, never later than the lead.
    exam = next(o for o in occurrences(catalog, LECTURE, LECTURE + timedelta(days=30)) if o.exam)
    learned = history.learned(exam, pool.warmup)
    assert learned is not None
    assert (learned.until, learned.attendance, learned.arrivals) == (None, None, ())
    assert learned.lead == pool.warmup + timedelta(seconds=300) + timedelta(minutes=1)
    (planned,) = learned_occurrences(catalog, [exam], history, {"data8": 1000}, exam.starts)
    assert planned.lead == max(learned.lead, pool.lead)
    assert (planned.ends, planned.expect) == (exam.ends, exam.expect)  # all, to its end
    assert History().learned(exam, pool.warmup) is None  # no history: the catalog's lead


def test_the_history_is_saved_and_read_back(catalog) -> None:
    history = History()
    occurrence = lecture(catalog)
    for week in range(10):  # more than are kept
        history.record(
            occurrence,
            observe(LECTURE - timedelta(weeks=week), 1000, 800, [-600.0 + n for n in range(800)]),
        )
    saved = json.loads(json.dumps(history.to_json()))
    again, problems = History.from_json(saved)
    assert problems == []
    assert again.meetings.keys() == history.meetings.keys()
    kept = history.meetings[occurrence.source].seen
    assert len(kept) == 8 and kept == sorted(kept, key=lambda seen: seen.starts)
    pool = catalog.pools[occurrence.pool]
    assert again.learned(occurrence, pool.warmup) == history.learned(occurrence, pool.warmup)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda m: m.update(seen="lots"), "'seen' must be a list"),
        (lambda m: m["seen"][0].update(starts="yesterday"), "'starts' must be an ISO"),
        (lambda m: m["seen"][0].update(starts="2026-11-30T10:00:00"), "needs a time zone"),
        (lambda m: m["seen"][0].update(came=-1), "whole numbers"),
        (lambda m: m["seen"][0].update(came=True), "whole numbers"),
        (lambda m: m["seen"][0].update(offsets=[1.0] * 12), "ordered seconds"),
        (lambda m: m["seen"][0].update(offsets=[float("nan")] * 13), "ordered seconds"),
        (lambda m: m["seen"][0]["offsets"].reverse(), "ordered seconds"),
        (lambda m: m["seen"][0].update(offsets=[1e9] * 13), "ordered seconds"),
        (lambda m: m.pop("course"), "with a 'course'"),
    ],
)
def test_a_history_with_bad_meetings_leaves_out_only_those(catalog, change, says) -> None:
    history = History()
    occurrence = lecture(catalog)
    history.record(occurrence, observe(LECTURE, 1000, 800, [float(n) for n in range(800)]))
    other = dataclasses.replace(occurrence, source="other")
    history.record(other, observe(LECTURE, 10, 5, [1.0] * 5))
    saved = json.loads(json.dumps(history.to_json()))
    change(saved["meetings"][occurrence.source])
    again, problems = History.from_json(saved, "history.json")
    assert list(again.meetings) == ["other"]
    assert len(problems) == 1
    assert problems[0].startswith(f"history.json: meetings[{occurrence.source!r}]: ")
    assert says in problems[0] and problems[0].endswith("left out")


@pytest.mark.parametrize("data", [[], {"version": 2, "meetings": {}}, {"version": 1}, "x", None])
def test_a_file_that_is_no_history_is_refused_with_where(data) -> None:
    with pytest.raises(HistoryError, match=r"^saved\.json: "):
        History.from_json(data, "saved.json")


def test_the_warmup_defaults_to_the_lead_less_ten_minutes_and_may_not_exceed_it() -> None:
    text = launch.DEMO_CATALOG.read_text()
    catalog = parse_catalog(text, "courses.yaml")
    for pool in catalog.pools.values():
        assert pool.warmup == max(pool.lead - timedelta(minutes=10), timedelta(0))
    assert "lead: 20m" in text
    catalog = parse_catalog(text.replace("lead: 20m", "lead: 20m\n    warmup: 7m"), "c.yaml")
    assert catalog.pools["standard"].warmup == timedelta(minutes=7)
    with pytest.raises(CatalogError, match=r"pools\.standard\.warmup.*longer than the pool's lead"):
        parse_catalog(text.replace("lead: 20m", "lead: 20m\n    warmup: 25m"), "c.yaml")
    with pytest.raises(CatalogError, match=r"pools\.standard\.warmup"):
        parse_catalog(text.replace("lead: 20m", "lead: 20m\n    warmup: soon"), "c.yaml")


async def test_the_scaler_learns_saves_and_a_new_scaler_plans_with_it(tmp_path: Path) -> None:
    catalog_file = tmp_path / "courses.yaml"
    catalog_file.write_text(launch.DEMO_CATALOG.read_text())
    saved = tmp_path / "history.json"
    clock = {"now": LECTURE - timedelta(hours=1)}
    servers: list[RunningServer] = []

    async def present() -> list[RunningServer]:
        return servers

    async def enrollment() -> dict[str, int]:
        return {"data8": 1000}

    async def fetch(address: str) -> bytes:
        raise OSError("no feeds here")

    def make() -> Scaler:
        return Scaler(
            str(catalog_file),
            [],
            fetch,
            None,
            enrollment,
            present,
            clock=lambda: clock["now"],
            enrollment_interval=0,
            save_history=lambda h: saved.write_text(json.dumps(h.to_json())),
        )

    scaler = make()
    for minute in range(-60, 61):
        clock["now"] = LECTURE + timedelta(minutes=minute)
        if -25 <= minute <= 5:
            servers = [
                RunningServer(
                    f"s{n}", "data8", clock["now"], LECTURE + timedelta(minutes=-25 + n * 0.05)
                )
                for n in range(int((minute + 25) / 0.05) + 1)
                if n < 600
            ]
        await scaler.run_round()
    assert saved.exists() and scaler.learned_at is not None
    source = lecture(scaler.catalog).source
    assert scaler.history.meetings[source].seen[-1].came == 600

    # A new scaler (a restart) reads the file and plans next Monday's lecture with it.
    fresh = make()
    fresh.history, problems = History.from_json(json.loads(saved.read_text()))
    assert problems == []
    next_monday = LECTURE + timedelta(weeks=1)
    pool = fresh.catalog.pools["standard"]
    learned = fresh.history.learned(lecture(fresh.catalog, next_monday), pool.warmup)
    assert learned is not None and learned.lead > pool.lead
    before = next_monday - learned.lead + timedelta(seconds=30)
    assert fresh.targets(before)["standard"].need > 0
    assert make().targets(before)["standard"].need == 0  # without history: not yet
