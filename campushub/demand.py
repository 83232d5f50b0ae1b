"""How many placeholders each pool needs at a moment: plain data in, plain data out.

``plan_pools(catalog, occurrences, at)`` counts, for each pool, the occurrences running at
``at`` or starting within the pool's lead time after it, and sizes the pool from them:

- unit ``node``: the people expected times the course's CPU and memory guarantees (its limits
  during an exam, which runs with Guaranteed QoS), divided by one node's allocatable CPU and
  memory; whichever resource needs more nodes decides;
- unit ``user``: one placeholder per person expected.

A calendar event may ask for at least a count (``extra_counts``; the largest wins, as in
Berkeley's scaler). The result is always clamped to the pool's ``min``..``max``, and each
:class:`PoolTarget` says why in words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction

from .catalog import Allocation, Catalog, Pool
from .schedule import Occurrence
from .units import format_cpu, format_duration, format_memory

__all__ = ["PoolTarget", "Reason", "plan_pools"]


@dataclass(frozen=True, slots=True)
class Reason:
    """One occurrence counted for a pool and its share of the need.

    ``share`` is in the pool's unit: nodes (a fraction) for ``node`` pools, people for
    ``user`` pools. ``cpu`` (cores) and ``memory`` (bytes) are per person.
    """

    occurrence: Occurrence
    people: int
    cpu: float
    memory: int
    share: float


@dataclass(frozen=True, slots=True)
class PoolTarget:
    """A pool's placeholder count at one moment, with the events behind it and why."""

    pool: str
    replicas: int
    need: int  # before clamping: the larger of the events' need and any requested count
    reasons: tuple[Reason, ...]
    clamped: bool
    why: str
    requested: int | None = None  # the largest count calendar events asked for, if any


def plan_pools(
    catalog: Catalog,
    occurrences: Iterable[Occurrence],
    at: datetime,
    extra_counts: Mapping[str, int] | None = None,
) -> dict[str, PoolTarget]:
    """The target of every pool in ``catalog`` at ``at`` (time-zone aware).

    ``occurrences`` usually come from :func:`campushub.schedule.occurrences`; those of pools
    the catalog does not have are ignored, as are ``extra_counts`` for such pools (the feed
    reader lists them as skipped events).
    """
    if at.tzinfo is None:
        raise ValueError("plan_pools() needs a time-zone aware datetime")
    instant = at.astimezone(UTC)
    counted: dict[str, list[Occurrence]] = {name: [] for name in catalog.pools}
    for occurrence in occurrences:
        pool = catalog.pools.get(occurrence.pool)
        if pool is not None and occurrence.running_or_starting(instant, pool.lead):
            counted[pool.name].append(occurrence)
    extra = extra_counts or {}
    return {
        name: _plan_pool(catalog, pool, counted[name], extra.get(name))
        for name, pool in catalog.pools.items()
    }


def _plan_pool(
    catalog: Catalog, pool: Pool, counted: list[Occurrence], requested: int | None
) -> PoolTarget:
    lead = format_duration(pool.lead)
    if pool.unit == "user":
        reasons = tuple(
            Reason(o, o.expect, *_per_person(catalog, o), float(o.expect)) for o in counted
        )
        from_events = sum(o.expect for o in counted)
        sizing = f"{from_events} people expected, one placeholder each"
    else:
        reasons, from_events, sizing = _size_in_nodes(catalog, pool, counted)
    if counted:
        listed = "; ".join(
            f"{r.occurrence.source} ({r.people} people, {r.share:.2f})"
            if pool.unit == "node"
            else f"{r.occurrence.source} ({r.people} people)"
            for r in reasons
        )
        events = f"{len(counted)} event(s) running or starting within {lead}: {listed}; {sizing}"
    else:
        events = f"no events running or starting within {lead}"
    need = from_events
    parts = [events]
    if requested is not None:
        if requested > from_events:
            parts.append(f"a calendar event asks for at least {requested}")
            need = requested
        else:
            parts.append(f"a calendar event asks for {requested}, no more than the events need")
    replicas = min(max(need, pool.min), pool.max)
    clamped = replicas != need
    if need < pool.min:
        parts.append(f"raised to the pool's min {pool.min}")
    elif need > pool.max:
        parts.append(f"capped at the pool's max {pool.max}")
    unit = "node(s)" if pool.unit == "node" else "user slot(s)"
    parts.append(f"target {replicas} {unit}")
    return PoolTarget(pool.name, replicas, need, reasons, clamped, "; ".join(parts), requested)


def _per_person(catalog: Catalog, occurrence: Occurrence) -> tuple[float, int]:
    """CPU (cores) and memory (bytes) one person of ``occurrence`` is guaranteed."""
    course = catalog.course(occurrence.course)
    cpu: Allocation[float] = course.cpu if course else catalog.defaults.cpu
    memory: Allocation[int] = course.memory if course else catalog.defaults.memory
    # Exams run with Guaranteed QoS: guarantee = limit.
    if occurrence.exam:
        return cpu.limit, memory.limit
    return cpu.guarantee, memory.guarantee


def _size_in_nodes(
    catalog: Catalog, pool: Pool, counted: list[Occurrence]
) -> tuple[tuple[Reason, ...], int, str]:
    # Exact fractions: 800 x 0.05 cores / 8 cores is 5 nodes, not 5.000000000000001 -> 6.
    node_cpu = Fraction(str(pool.node_cpu))
    node_memory = Fraction(pool.node_memory)
    total_cpu = Fraction(0)
    total_memory = Fraction(0)
    reasons = []
    for occurrence in counted:
        cpu, memory = _per_person(catalog, occurrence)
        cpu_need = occurrence.expect * Fraction(str(cpu))
        memory_need = occurrence.expect * Fraction(memory)
        total_cpu += cpu_need
        total_memory += memory_need
        share = max(cpu_need / node_cpu, memory_need / node_memory)
        reasons.append(Reason(occurrence, occurrence.expect, cpu, memory, float(share)))
    nodes_for_cpu = _ceil(total_cpu / node_cpu)
    nodes_for_memory = _ceil(total_memory / node_memory)
    need = max(nodes_for_cpu, nodes_for_memory)
    decides = "memory" if nodes_for_memory >= nodes_for_cpu else "CPU"
    sizing = (
        f"CPU {format_cpu(float(total_cpu))} / {format_cpu(pool.node_cpu)} per node"
        f" = {nodes_for_cpu} node(s), memory {format_memory(int(total_memory))}"
        f" / {format_memory(pool.node_memory)} per node = {nodes_for_memory} node(s);"
        f" {decides} decides: {need} node(s)"
    )
    return tuple(reasons), need, sizing


def _ceil(value: Fraction) -> int:
    return -(-value.numerator // value.denominator)
