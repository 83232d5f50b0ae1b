"""The scaler simulation benchmark's pure parts, on a tiny campus: the generated catalog is
valid for the real checker and planner, a seed gives the same week, and the cluster model
behaves as its docstring says (cold start = boot + pull, a warm placeholder = no wait, a
preempted placeholder brings a node of its own); a server outlives its student until the idle
culler stops it, and a student who comes back while it runs reuses it; the free room a round
reads is only on ready nodes holding every image asked for, less what runs there (a
placeholder takes the node), and servers the culler will stop within the lead are leaving:
their room reads as free and they are not on, which lowers campushub's plan; campushub's
rounds give what ``plan_pools`` gives over the whole week, free room lowers their target, and
their placeholders fall as students arrive; the operator's lead follows boot, pull and
arrivals; the oracle never makes anyone wait and ideal packing is below it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import random
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pytest

from campushub.catalog import parse_catalog
from campushub.demand import FreeRoom, nodes_on_their_way, plan_pools, plan_span
from campushub.schedule import occurrences

MINUTE = 60.0
GIB = 2**30
ALL_IMAGES = ("julia", "python", "r")


def _load_benchmark() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "scaler_sim.py"
    spec = importlib.util.spec_from_file_location("scaler_sim", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


sim = _load_benchmark()

CLUSTER = sim.Cluster(
    node_cpu=8000,
    node_memory=64 * 1024,
    boot=5 * MINUTE,
    pull=2 * MINUTE,
    idle=10 * MINUTE,
    step=10.0,
    span=sim.WEEK.total_seconds(),
)


MONDAY = dataclasses.replace(CLUSTER, span=24 * 3600.0)  # a day is enough, and quick
NOTHING = sim.Steps([(0.0, 0)])


def no_free_room(images: object) -> list[FreeRoom]:
    return []


@dataclasses.dataclass
class FreeRoomRecorder:
    """A fixed placeholder count that records, each step, the free room the cluster reports
    for ``images`` and who is on, servers the culler stops within ``lead`` leaving."""

    count: int
    images: tuple[str, ...]
    lead: float = 0.0
    round_s: float = 0.0
    seen: dict[float, list[FreeRoom]] = dataclasses.field(default_factory=dict)
    on: dict[float, dict[str, int]] = dataclasses.field(default_factory=dict)

    def __call__(
        self,
        now: float,
        present: sim.Present,
        read_free: sim.ReadFreeRoom,
        scale: tuple[int, int] | None = None,
        pods: Sequence[object] = (),
    ) -> int:
        self.seen[now] = read_free(self.images)
        self.on[now] = {course: n for course, n in present.items() if n}
        return self.count


@dataclasses.dataclass
class WithoutFreeRoom:
    """campushub's rounds told that no warm node has room (as before free room was counted)."""

    rounds: sim.ScalerRounds
    round_s: float = 60.0

    @property
    def lead(self) -> float:
        return self.rounds.lead

    def __call__(
        self,
        now: float,
        present: sim.Present,
        read_free: sim.ReadFreeRoom,
        scale: tuple[int, int] | None = None,
        pods: Sequence[object] = (),
    ) -> int:
        return self.rounds(now, present, no_free_room, scale, pods)  # type: ignore[arg-type]


def rooms(seen: list[FreeRoom]) -> list[tuple[float, int]]:
    return sorted((room.cpu, room.memory) for room in seen)


def data8(at: float, leaves: float, student: int = 0) -> object:
    """A data8 student's visit: 0.05 CPU and 1Gi guaranteed."""
    return sim.Arrival(at, leaves, 50, 1024, "python", "data8", student)


def tiny_week(seed: int = 7, lead_min: int = 20):
    rng = random.Random(seed)
    specs = sim.make_courses(8, 400, rng)
    text = sim.catalog_text(
        specs, lead_min=lead_min, pool_min=0, pool_max=50, node_cpu=8, node_memory_gi=64
    )
    catalog = parse_catalog(text, "<tiny>")
    week = occurrences(catalog, sim.WEEK_START, sim.WEEK_START + sim.WEEK)
    enrollment = {spec.slug: spec.enrollment for spec in specs}
    arrivals = sim.make_arrivals(catalog, enrollment, week, rng)
    return specs, catalog, week, arrivals


def test_generated_catalog_is_valid_and_has_an_exam_that_replaces_a_meeting() -> None:
    specs, catalog, week, arrivals = tiny_week()
    assert len(catalog.courses) == 8
    assert 400 <= sum(spec.enrollment for spec in specs) <= 3 * 400
    exams = [o for o in week if o.exam]
    assert len(exams) == 1
    same_day = [
        o for o in week if o.course == exams[0].course and o.starts.date() == exams[0].starts.date()
    ]
    assert same_day == exams  # the weekly meeting is skipped that day
    assert arrivals == sorted(arrivals, key=lambda arrival: arrival.at)
    exam_cpu = catalog.courses[exams[0].course].cpu.limit * 1000
    assert any(arrival.cpu == exam_cpu for arrival in arrivals)


def test_a_seed_gives_the_same_week() -> None:
    assert tiny_week(seed=3)[3] == tiny_week(seed=3)[3]
    assert tiny_week(seed=3)[3] != tiny_week(seed=4)[3]


def test_a_cold_cluster_makes_the_first_student_wait_boot_and_pull() -> None:
    outcome = sim.simulate([data8(3600.0, 7200.0)], NOTHING, CLUSTER)
    (wait,) = outcome.waits
    assert 7 * MINUTE <= wait < 7 * MINUTE + CLUSTER.step
    assert outcome.nodes_started == 1
    # The node lives from its request until 10 idle minutes after the culler stops the server,
    # an hour after the student leaves.
    assert outcome.node_hours == pytest.approx((10800 + 10 * MINUTE - 3600) / 3600, abs=0.01)


def test_a_server_outlives_its_student_until_the_culler_stops_it() -> None:
    # The culler checks every 5 minutes and stops servers idle for at least the hour.
    assert sim.culled_at(7200.0, MONDAY) == 10800.0
    assert sim.culled_at(7201.0, MONDAY) == 11100.0
    assert sim.culled_at(7200.0, dataclasses.replace(MONDAY, cull=0.0)) == float("inf")
    (server,) = sim.make_servers([data8(3600.0, 7201.0)], MONDAY)
    assert (server.starts, server.stops) == (3600.0, 11100.0)
    watched = FreeRoomRecorder(0, ("python",))  # no lead: leaving once idle for the timeout
    outcome = sim.simulate([data8(3600.0, 7201.0)], watched, MONDAY)
    held = [(pytest.approx(7.95), 63 * GIB)]
    assert rooms(watched.seen[7210.0]) == rooms(watched.seen[10800.0]) == held  # gone, still held
    assert watched.on[10800.0] == {"data8": 1}
    assert rooms(watched.seen[10810.0]) == [(8.0, 64 * GIB)] and watched.on[10810.0] == {}
    # Stopped at the culler's check at 11100: the empty node's room is no longer counted
    # (the autoscaler may remove it, and does 10 minutes later).
    assert watched.seen[11090.0] != [] == watched.seen[11110.0]
    assert outcome.node_hours == pytest.approx((11100 + 10 * MINUTE - 3600) / 3600, abs=0.01)
    assert outcome.culling_hours == pytest.approx((11100 - 7210) / 3600, abs=0.01)
    # The ideal bound holds the server until it is stopped, too.
    ideal_hours, _ = sim.ideal_packing([data8(3600.0, 7201.0)], MONDAY)
    assert ideal_hours == pytest.approx((11100 - 3600) / 3600)


def test_a_returning_student_reuses_their_running_server() -> None:
    back = [data8(3600.0, 7200.0), data8(9000.0, 12000.0)]  # back before the culler's 10800
    (server,) = sim.make_servers(back, MONDAY)
    assert server.visits == ((3600.0, 7200.0), (9000.0, 12000.0))
    assert server.stops == 15600.0  # an hour after the second visit
    outcome = sim.simulate(back, NOTHING, MONDAY)
    assert len(outcome.waits) == 1  # no second start, no wait
    assert outcome.nodes_started == 1
    assert outcome.node_hours == pytest.approx((15600 + 10 * MINUTE - 3600) / 3600, abs=0.01)
    # Someone else, or the same student once the culler has stopped it, starts a new server.
    other = [data8(3600.0, 7200.0), data8(9000.0, 12000.0, student=1)]
    assert len(sim.make_servers(other, MONDAY)) == 2
    late = [data8(3600.0, 7200.0), data8(10800.0, 12000.0)]
    assert [s.stops for s in sim.make_servers(late, MONDAY)] == [10800.0, 15600.0]


def test_servers_the_culler_stops_within_the_lead_are_leaving() -> None:
    # 128 students fill two nodes' memory and leave at 7200: culled at 10800, so with a lead of
    # 20 minutes they are leaving from 9600. Their room reads as free and they are not on,
    # though they hold it until the culler stops them.
    students = [data8(3600.0, 7200.0, student) for student in range(128)]
    watched = FreeRoomRecorder(0, ("python",), lead=20 * MINUTE)
    newcomer = data8(9700.0, 12000.0, student=128)
    outcome = sim.simulate([*students, newcomer], watched, MONDAY)
    full = [(pytest.approx(4.8), 0)] * 2
    assert rooms(watched.seen[9590.0]) == full
    assert watched.on[9590.0] == {"data8": 128}
    empty = [(8.0, 64 * GIB)] * 2
    assert rooms(watched.seen[9600.0]) == empty
    assert watched.on[9600.0] == {}
    # ... but a server started before the culler runs finds no room on them and waits for a
    # node of its own.
    assert max(outcome.waits) >= MONDAY.boot + MONDAY.pull
    assert outcome.nodes_started == 3
    # A student who is on is never leaving, however short the culler's timeout.
    quick = dataclasses.replace(MONDAY, cull=10 * MINUTE)
    watched = FreeRoomRecorder(0, ("python",), lead=20 * MINUTE)
    sim.simulate([data8(3600.0, 7200.0)], watched, quick)
    assert watched.on[7190.0] == {"data8": 1} and watched.on[7200.0] == {}
    # A student back after their server started leaving makes it stay: on, its room held.
    watched = FreeRoomRecorder(0, ("python",), lead=20 * MINUTE)
    sim.simulate([data8(3600.0, 7200.0), data8(10000.0, 12000.0)], watched, MONDAY)
    assert watched.on[9600.0] == {} and rooms(watched.seen[9600.0]) == [(8.0, 64 * GIB)]
    assert watched.on[10000.0] == {"data8": 1}
    assert rooms(watched.seen[10000.0]) == [(pytest.approx(7.95), 63 * GIB)]


def test_leaving_servers_free_room_for_campushubs_plan() -> None:
    _, catalog, week, _ = tiny_week()
    (exam,) = [o for o in week if o.exam]  # Monday 15:30: 99 people at 2 CPU, ~25 nodes
    starts = (exam.starts - sim.WEEK_START).total_seconds()
    lead = catalog.pools[sim.POOL].lead.total_seconds()
    # An earlier class filled two nodes; its students left 70 minutes before the exam, so the
    # culler stops their servers 10 minutes before it: within the lead of a round before.
    left = starts - 70 * MINUTE
    earlier = [
        sim.Arrival(left - 2 * 3600, left, 50, 1024, "python", "earlier", student)
        for student in range(128)
    ]
    now = starts - lead + MINUTE
    seen = {}
    for name, count_leaving in (("counted", lead), ("blind", 0.0)):
        watched = FreeRoomRecorder(0, ("python",), lead=count_leaving)
        sim.simulate(earlier, watched, MONDAY)
        seen[name] = watched.seen[now]
    assert rooms(seen["blind"]) == [(pytest.approx(4.8), 0)] * 2
    assert rooms(seen["counted"]) == [(8.0, 64 * GIB)] * 2
    counted = sim.ScalerRounds(catalog, week).target(now, {}, seen["counted"])
    blind = sim.ScalerRounds(catalog, week).target(now, {}, seen["blind"])
    assert counted.replicas == blind.replicas - 2


def test_a_warm_placeholder_means_no_wait_and_is_replaced_after_preemption() -> None:
    arrival = sim.Arrival(3600.0, 7200.0, 50, 1024, "python", "data8")
    warm = sim.simulate([arrival], sim.Steps([(0.0, 1)]), CLUSTER, ("python", "r", "julia"))
    assert warm.waits == [0.0]
    assert warm.preemptions == 1
    assert warm.nodes_started == 2  # the preempted placeholder asked for a node of its own
    plain = sim.simulate([arrival], sim.Steps([(0.0, 1)]), CLUSTER)
    assert plain.waits == [pytest.approx(2 * MINUTE)]  # a pause pod warms no image
    # The what-if of bare placeholder pods: preempted, gone until a round asks for another.
    bare = dataclasses.replace(CLUSTER, recreate=False)
    rounds = sim.Steps([(0.0, 1), (3700.0, 0)], round_s=3600.0)  # rounds at 0, 3600, 7200
    gone = sim.simulate([arrival], rounds, bare, ("python", "r", "julia"))
    assert (gone.waits, gone.preemptions, gone.nodes_started) == ([0.0], 1, 1)
    again = sim.simulate([arrival], rounds, CLUSTER, ("python", "r", "julia"))
    assert again.nodes_started == 2  # recreated at once, its node boots before the round


@dataclasses.dataclass
class PodsRecorder:
    """Placeholder counts that follow ``steps`` (every step), recording what the scaler would
    read of its placeholder pods."""

    steps: sim.Steps
    round_s: float = 0.0
    lead: float = 0.0
    seen: dict[float, list] = dataclasses.field(default_factory=dict)

    def __call__(self, now, present, read_free, scale=None, pods=()) -> int:
        self.seen[now] = list(pods)
        return self.steps(now, present, read_free)


def test_a_placeholder_that_lands_on_an_emptied_node_leaves_its_node_on_its_way() -> None:
    # A student's server runs on the only node until the culler stops it at 10800. A
    # placeholder asked for a minute before finds no empty node: the autoscaler boots one
    # (ready at 11040). At 10800 the placeholder takes the emptied node instead, and the
    # booted node comes to nobody. The scaler reads it off the pod: made 10740, bound 10800
    # to a node made long before.
    watched = PodsRecorder(sim.Steps([(0.0, 0), (10740.0, 1)]))
    outcome = sim.simulate([data8(3600.0, 7200.0)], watched, MONDAY, ALL_IMAGES)
    assert outcome.nodes_started == 2
    (pod,) = watched.seen[10810.0]
    at = sim.WEEK_START_UTC

    def seconds(moment: object) -> float:
        return (moment - at).total_seconds()  # type: ignore[operator]

    assert (seconds(pod.created), seconds(pod.scheduled)) == (10740.0, 10800.0)
    assert seconds(pod.node_created) < 10740.0
    warmup = timedelta(seconds=MONDAY.boot + MONDAY.pull)
    assert nodes_on_their_way([pod], at + timedelta(seconds=10810), warmup) == 1
    assert nodes_on_their_way([pod], at + timedelta(seconds=10740) + warmup, warmup) == 0
    # A placeholder that waits for the node booted for it is bound to it as it comes.
    watched = PodsRecorder(sim.Steps([(0.0, 0), (3000.0, 1)]))
    sim.simulate([data8(3600.0, 7200.0)], watched, MONDAY, ALL_IMAGES)
    (pod,) = watched.seen[3310.0]
    assert seconds(pod.scheduled) == seconds(pod.node_created) == 3300.0
    assert nodes_on_their_way([pod], at + timedelta(seconds=3310), warmup) == 0


def test_the_scaler_reads_free_room_only_on_ready_nodes_with_every_image_pulled() -> None:
    arrival = sim.Arrival(3600.0, 7200.0, 50, 1024, "python", "data8")
    python = FreeRoomRecorder(0, ("python",))
    sim.simulate([arrival], python, CLUSTER)
    # The node is asked for at 3600, ready at 3900 and has python pulled at 4020.
    assert python.seen[3890.0] == python.seen[4010.0] == []
    (cold,) = python.seen[3900.0]  # ready, still pulling, nothing on it yet: cold
    assert (cold.warm, cold.cpu, cold.memory) == (False, 0.0, 0)
    (room,) = python.seen[4020.0]
    assert (room.cpu, room.memory) == (pytest.approx(7.95), 63 * GIB)  # less the guarantee
    (room,) = python.seen[10790.0]  # the student left at 7200; the server still runs
    assert (room.cpu, room.memory) == (pytest.approx(7.95), 63 * GIB)
    assert python.seen[10800.0] == []  # the culler stops it now: an empty node is not counted
    every = FreeRoomRecorder(0, ALL_IMAGES)
    sim.simulate([arrival], every, CLUSTER)
    # The node never pulled r or julia: never warm; cold whenever it runs nothing (ready and
    # empty at 3900, and from the culler's stop at 10800 until it is removed after 11400).
    assert not any(room.warm for seen in every.seen.values() for room in seen)
    cold = sorted(moment for moment, seen in every.seen.items() if seen)
    assert cold == [3900.0, *(10800.0 + 10 * step for step in range(61))]


def test_a_placeholder_takes_its_whole_node_and_warms_it_with_every_image() -> None:
    arrival = sim.Arrival(3600.0, 7200.0, 50, 1024, "python", "data8")
    held = FreeRoomRecorder(1, ALL_IMAGES)
    sim.simulate([arrival], held, CLUSTER, ALL_IMAGES)
    assert held.seen[10.0] == []  # a node holding only a placeholder has no room
    # The student preempts it: their node has room; the recreated placeholder's node is asked
    # for at 3600, and the placeholder, pending since, takes it the moment it is ready (3900):
    # it is never seen empty and cold, and holds all its room.
    assert [(room.cpu, room.memory) for room in held.seen[3610.0]] == [
        (pytest.approx(7.95), 63 * GIB)
    ]
    for moment in (3900.0, 4010.0, 4020.0):
        assert [(room.cpu, room.memory, room.warm) for room in held.seen[moment]] == [
            (pytest.approx(7.95), 63 * GIB, True)
        ]


def test_the_rounds_plan_what_plan_pools_plans_with_every_occurrence() -> None:
    _, catalog, week, _ = tiny_week()
    rounds = sim.ScalerRounds(catalog, week)
    rng = random.Random(1)
    courses = sorted({occurrence.course for occurrence in week})
    for now in range(0, int(sim.WEEK.total_seconds()), 600):
        present = {course: rng.choice((0, 0, 5, 40, 500)) for course in courses}
        free = [
            FreeRoom(f"node-{index}", rng.choice((0.0, 1.5, 8.0)), rng.choice((0, 4, 64)) * GIB)
            for index in range(rng.choice((0, 1, 3)))
        ]
        at = sim.WEEK_START_UTC + timedelta(seconds=now)
        planned = plan_pools(catalog, week, at, present=present, free={sim.POOL: free})
        assert rounds.target(now, present, free) == planned[sim.POOL]
    with pytest.raises(ValueError, match="forward"):
        rounds.target(0.0, {})


def test_free_warm_room_lowers_campushubs_target_and_its_node_hours() -> None:
    specs, catalog, week, arrivals = tiny_week()
    (exam,) = [o for o in week if o.exam]  # Monday 15:30: 99 people at 2 CPU, ~25 nodes
    before = (exam.starts - sim.WEEK_START).total_seconds() - 5 * MINUTE
    asked: list[object] = []

    def three_warm_nodes(images: object) -> list[FreeRoom]:
        asked.append(images)
        return [FreeRoom(f"warm-{index}", 8.0, 64 * GIB) for index in range(3)]

    cold = sim.ScalerRounds(catalog, week).target(before, {})
    warm = sim.ScalerRounds(catalog, week)
    assert warm(before, {}, three_warm_nodes) == cold.replicas - 3 >= 17
    images = {spec.shape.image for spec in specs}
    assert asked == [tuple(sorted(images))]  # the images the pool's courses use
    # Over a day of rounds, counting the room free on warm nodes asks for fewer placeholders.
    counted = sim.simulate(arrivals, sim.ScalerRounds(catalog, week), MONDAY, ALL_IMAGES)
    blind = sim.simulate(
        arrivals, WithoutFreeRoom(sim.ScalerRounds(catalog, week)), MONDAY, ALL_IMAGES
    )
    day = MONDAY.span
    assert sim.mean_target(counted.targets, day) < sim.mean_target(blind.targets, day)
    assert max(counted.waits) <= MONDAY.pull  # some wait for an image, nobody for a node


def test_the_operators_lead_is_boot_and_pull_and_how_early_students_come() -> None:
    lead, early = sim.operator_lead(5, 2)
    assert early == pytest.approx(8.58, abs=0.01)  # 2 min early on average, sd 4: 5% by -8.6
    assert lead == 16
    assert sim.operator_lead(10, 2)[0] == 21
    assert sim.early_share(lead, 5, 2) == pytest.approx(0.04, abs=0.001)  # warm at start-9m
    assert sim.early_share(30, 5, 2) == 0.0  # nobody comes 15 minutes before


def test_campushub_placeholders_fall_as_students_arrive_while_the_chart_holds() -> None:
    _, catalog, week, arrivals = tiny_week()
    (exam,) = [o for o in week if o.exam]  # Monday 15:30: 99 people at 2 CPU, ~25 nodes
    starts = (exam.starts - sim.WEEK_START).total_seconds()
    lead = catalog.pools[sim.POOL].lead.total_seconds()
    outcome = sim.simulate(arrivals, sim.ScalerRounds(catalog, week), MONDAY, tuple(catalog.images))
    placeholders = sim.Steps(outcome.targets)
    chart = sim.Steps(
        sim.plan_steps(plan_span(catalog, week, [], sim.WEEK_START, sim.WEEK_START + sim.WEEK))
    )
    before, after = starts - lead + MINUTE, starts + 10 * MINUTE
    # nobody on yet: the full need
    assert placeholders(before, {}, no_free_room) == chart(before, {}, no_free_room) >= 20
    # nearly everyone came and holds their own room (the last placeholders asked for are let
    # go once ready: the target falls once the exam's arrivals have ended)
    assert placeholders(after + 10 * MINUTE, {}, no_free_room) <= 2
    # plan_span plans the future: it counts nobody as on
    assert chart(after, {}, no_free_room) >= 20
    monday = [arrival for arrival in arrivals if arrival.at < MONDAY.span]
    assert len(outcome.waits) == len(monday)
    # Nobody waits for a node. Some wait for an image: a displaced placeholder's node boots
    # after the falling target has dropped the placeholder, so it comes up empty and cold,
    # and students land on it when the warm nodes are full.
    assert max(outcome.waits) <= MONDAY.pull


def test_the_oracle_never_waits_and_ideal_packing_is_below_it() -> None:
    arrivals = tiny_week()[3]
    perfect = sim.oracle(arrivals, MONDAY)
    monday = [arrival for arrival in arrivals if arrival.at < MONDAY.span]
    assert len(perfect.waits) == len(monday)
    assert set(perfect.waits) == {0.0}
    assert perfect.booting_hours == perfect.placeholder_hours == 0.0
    ideal_hours, _ = sim.ideal_packing(monday, MONDAY)
    assert ideal_hours <= perfect.node_hours
    # The zero-wait floor: foresight plus a warm-up for each node it starts.
    warmup_hours = (MONDAY.boot + MONDAY.pull) / 3600
    assert perfect.nodes_started > 0
    assert sim.zero_wait_floor(arrivals, MONDAY) == pytest.approx(
        perfect.node_hours + perfect.nodes_started * warmup_hours
    )


def test_the_plan_beats_reactive_and_the_node_hours_add_up() -> None:
    _, catalog, week, arrivals = tiny_week()
    reactive = sim.simulate(arrivals, NOTHING, MONDAY)
    campus = sim.simulate(arrivals, sim.ScalerRounds(catalog, week), MONDAY, tuple(catalog.images))
    perfect = sim.oracle(arrivals, MONDAY)
    assert len(reactive.waits) == len(campus.waits)
    assert sim.percentile(campus.waits, 0.95) < sim.percentile(reactive.waits, 0.95)
    assert perfect.node_hours <= campus.node_hours
    for outcome in (reactive, campus, perfect):
        accounted = outcome.booting_hours + outcome.serving_hours + outcome.culling_hours
        accounted += outcome.placeholder_hours + outcome.empty_hours
        assert accounted == pytest.approx(outcome.node_hours, rel=0.02)


def test_berkeleys_calendar_takes_the_largest_running_event_and_its_day_default() -> None:
    day = 8 * 3600.0  # Monday 08:00
    events = [(day, day + 3600, 3), (day + 1800, day + 7200, 5), (day + 9000, day + 9600, 2)]
    steps = sim.calendar_steps(events, 1, 86400.0)
    count = sim.Steps(steps)
    assert count(6 * 3600.0, {}, no_free_room) == 0  # night: the cool-down event
    assert count(7 * 3600.0, {}, no_free_room) == 1  # day, no event: the pool's default
    assert count(day, {}, no_free_room) == 3
    assert count(day + 1800, {}, no_free_room) == 5  # the largest, not the sum
    assert count(day + 3600, {}, no_free_room) == 5
    assert count(day + 7200, {}, no_free_room) == 1
    assert count(day + 9000, {}, no_free_room) == 2
    assert count(21 * 3600.0, {}, no_free_room) == 0
    fair = sim.Steps(sim.calendar_steps(events, 0, 86400.0))
    assert fair(7 * 3600.0, {}, no_free_room) == 0


def test_the_operators_events_are_sized_for_enrolled_times_attendance_from_their_lead() -> None:
    specs, catalog, week, _ = tiny_week()
    groups = {spec.slug: spec.enrollment for spec in specs}
    events = sim.berkeley_events(catalog, week, groups, 16)
    assert len(events) == sum(1 for o in week if sim.nodes_for(catalog, o, 1) > 0)
    first = week[0]
    begins, ends, count = events[0]
    assert begins == (first.starts - sim.WEEK_START).total_seconds() - 16 * 60
    assert ends == (first.ends - sim.WEEK_START).total_seconds()
    people = first.expect or math.ceil(groups[first.course] * sim.PLANNED_ATTENDANCE)
    assert count == sim.nodes_for(catalog, first, people) >= 1
    # The operator's arithmetic is the nodes the people need, without campushub's spare room
    # (its own): people filling whole nodes exactly need that many nodes, not one more.
    pool, course = catalog.pools[sim.POOL], catalog.course(first.course)
    assert pool.spare > 0 and not first.exam
    per_node = pool.node_memory // course.memory.guarantee  # memory decides for these courses
    assert per_node * course.cpu.guarantee <= pool.node_cpu
    assert sim.nodes_for(catalog, first, 3 * per_node) == 3


def test_campushub_learns_only_from_weeks_before_the_one_measured() -> None:
    options = sim.Options(students=400, courses=8)
    condition = sim.CONDITIONS[0]
    rng = random.Random(3)
    specs = sim.make_courses(options.courses, options.students, rng)
    groups = {spec.slug: spec.enrollment for spec in specs}
    catalog = sim.week_catalog(specs, condition, options)
    history = sim.build_history(catalog, groups, condition, 3)
    seen = [obs for meeting in history.meetings.values() for obs in meeting.seen]
    assert seen and all(obs.starts < sim.WEEK_START for obs in seen)
    weeks = {(sim.WEEK_START - obs.starts).days // 7 for obs in seen}
    assert weeks == {0, 1, 2}  # the three weeks before (days before, rounded down)
    # The measured week's arrivals are drawn afresh: the history does not contain them.
    run = sim.run_one((condition, 3, options))
    assert set(run.results) == set(sim.STRATEGIES)
    assert run.bound_hours <= min(result.node_hours for result in run.results.values())
    assert run.bound_hours < run.floor_hours
