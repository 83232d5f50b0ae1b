"""The scaler simulation benchmark's pure parts, on a tiny campus: the generated catalog is
valid for the real checker and planner, a seed gives the same week, and the cluster model
behaves as its docstring says (cold start = boot + pull, a warm placeholder = no wait, a
preempted placeholder brings a node of its own, the oracle never costs more).
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

from campushub.catalog import parse_catalog
from campushub.demand import plan_span
from campushub.schedule import occurrences

MINUTE = 60.0


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
    arrival = sim.Arrival(3600.0, 7200.0, 50, 1024, "python")
    outcome = sim.simulate([arrival], [(0.0, 0)], CLUSTER)
    (wait,) = outcome.waits
    assert 7 * MINUTE <= wait < 7 * MINUTE + CLUSTER.step
    assert outcome.nodes_started == 1
    # The node lives from its request until 10 idle minutes after the student leaves.
    assert outcome.node_hours == pytest.approx((7200 + 10 * MINUTE - 3600) / 3600, abs=0.01)


def test_a_warm_placeholder_means_no_wait_and_is_replaced_after_preemption() -> None:
    arrival = sim.Arrival(3600.0, 7200.0, 50, 1024, "python")
    warm = sim.simulate([arrival], [(0.0, 1)], CLUSTER, ("python", "r", "julia"))
    assert warm.waits == [0.0]
    assert warm.nodes_started == 2  # the preempted placeholder asked for a node of its own
    plain = sim.simulate([arrival], [(0.0, 1)], CLUSTER)
    assert plain.waits == [pytest.approx(2 * MINUTE)]  # a pause pod warms no image


def test_the_plan_beats_reactive_and_the_oracle_is_the_floor() -> None:
    _, catalog, week, arrivals = tiny_week()
    end = sim.WEEK_START + sim.WEEK
    targets = sim.plan_steps(plan_span(catalog, week, [], sim.WEEK_START, end))
    reactive = sim.simulate(arrivals, [(0.0, 0)], CLUSTER)
    campus = sim.simulate(arrivals, targets, CLUSTER, tuple(catalog.images))
    oracle_hours, _ = sim.oracle(arrivals, CLUSTER)
    assert len(reactive.waits) == len(campus.waits) == len(arrivals)
    assert sim.percentile(campus.waits, 0.95) < sim.percentile(reactive.waits, 0.95)
    assert oracle_hours <= reactive.node_hours
    assert oracle_hours <= campus.node_hours
    accounted = campus.booting_hours + campus.serving_hours
    accounted += campus.placeholder_hours + campus.empty_hours
    assert accounted == pytest.approx(campus.node_hours, rel=0.02)
