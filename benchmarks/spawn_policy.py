"""How long campushub's part of a spawn takes on a campus-sized catalog, beside KubeSpawner's.

Generates a catalog of 2,000 courses (``catalog_load.make_catalog_text``, the catalog load
benchmark's generator) and a person in 6 of them, recorded as JupyterHub groups in JupyterHub's
real ORM (in-memory SQLite), as the authenticator would. Then, with real ``CourseKubeSpawner``
objects and no cluster (a dummy kubeconfig), it times per iteration with
``time.perf_counter_ns``:

- **campushub's part**: the default server's profile list (the callable ``profile_list``,
  memberships read from the person's groups) plus, for one of the person's course servers in
  turn, the plan and ``apply_plan`` (setting KubeSpawner's traits). Goal: p95 at most 2 ms.
- **KubeSpawner's part**: its own ``get_pod_manifest()`` for that server, for comparison.

The pure functions (``choices``, ``plan_server``) are also timed alone. Run from the repository
root::

    python benchmarks/spawn_policy.py [--courses 2000] [--iterations 3000] [--seed 2026]

The last line is machine-readable:
``result: campus_p95_ms=<x> kubespawner_p95_ms=<y> courses=<N>``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shlex
import statistics
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from time import perf_counter_ns
from typing import Any
from zoneinfo import ZoneInfo

from catalog_load import make_catalog_text

from campushub.catalog import Catalog, parse_catalog
from campushub.environments import choices, plan_server

CAMPUS_GOAL_MS = 2.0
COURSES_PER_PERSON = 6
# A Wednesday morning in term: weekly meetings are running, exam windows are checked.
NOW = datetime(2026, 10, 14, 10, 30, tzinfo=ZoneInfo("America/Los_Angeles"))

DUMMY_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: nobody, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: nobody}}]
current-context: none
"""


def pick_memberships(catalog: Catalog, rng: random.Random) -> dict[str, str]:
    """Six courses of the catalog, one as a TA: a GPU course and shared data where there are."""
    courses = list(catalog.courses.values())
    gpu = [course.slug for course in courses if course.gpu]
    shared = [course.slug for course in courses if course.shared is not None]
    picked = {rng.choice(gpu)} if gpu else set()
    if shared:
        picked.add(rng.choice(shared))
    while len(picked) < COURSES_PER_PERSON:
        picked.add(rng.choice(courses).slug)
    slugs = sorted(picked)
    return {slug: "ta" if index == 0 else "student" for index, slug in enumerate(slugs)}


def summary(label: str, samples_ns: Sequence[int]) -> tuple[float, float]:
    """Print and return the median and p95 of ``samples_ns``, in milliseconds."""
    median_ms = statistics.median(samples_ns) / 1e6
    p95_ms = statistics.quantiles(samples_ns, n=100)[94] / 1e6
    print(f"  {label:<44} median {median_ms:7.3f} ms   p95 {p95_ms:7.3f} ms")
    return median_ms, p95_ms


async def measure(catalog: Catalog, memberships: dict[str, str], iterations: int) -> None:
    # Imported here: kubernetes_asyncio reads KUBECONFIG when first imported.
    from jupyterhub import orm
    from jupyterhub.objects import Hub
    from jupyterhub.user import User

    from campushub.spawner import CourseKubeSpawner

    db = orm.new_session_factory("sqlite://")()
    person = orm.User(name="ada")
    db.add(person)
    for slug, role in memberships.items():
        group = orm.Group(name=f"course:{slug}:{'tas' if role == 'ta' else 'students'}")
        group.users.append(person)
        db.add(group)
    db.commit()
    user = User(person, settings={"db": db})

    def spawner_for(server: str) -> Any:
        orm_spawner = orm.Spawner(name=server, user=person)
        db.add(orm_spawner)
        db.commit()
        return CourseKubeSpawner(
            user=user, orm_spawner=orm_spawner, catalog=catalog, hub=Hub(), _mock=True
        )

    default_server = spawner_for("")
    course_servers = [spawner_for(slug) for slug in sorted(memberships)]
    offered = default_server.profile_list(default_server)
    assert [profile["slug"] for profile in offered] == [*sorted(memberships), "general"]

    profile_ns: list[int] = []
    plan_ns: list[int] = []
    campus_ns: list[int] = []
    kube_ns: list[int] = []
    warmup = min(200, iterations // 10)
    for index in range(warmup + iterations):
        spawner = course_servers[index % len(course_servers)]
        started = perf_counter_ns()
        default_server.profile_list(default_server)
        listed = perf_counter_ns()
        spawner.apply_plan(spawner.server_plan(NOW))
        planned = perf_counter_ns()
        await spawner.get_pod_manifest()
        built = perf_counter_ns()
        if index >= warmup:
            profile_ns.append(listed - started)
            plan_ns.append(planned - listed)
            campus_ns.append(planned - started)
            kube_ns.append(built - planned)

    pure_choices_ns: list[int] = []
    pure_plan_ns: list[int] = []
    slugs = sorted(memberships)
    for index in range(iterations):
        started = perf_counter_ns()
        choices(catalog, memberships)
        chosen = perf_counter_ns()
        plan_server(catalog, slugs[index % len(slugs)], "ada", memberships, NOW)
        pure_plan_ns.append(perf_counter_ns() - chosen)
        pure_choices_ns.append(chosen - started)

    print(f"timings   {iterations} iterations after {warmup} warm-up, per iteration:")
    summary("profile list (default server, from groups)", profile_ns)
    summary("plan + apply_plan (a course server)", plan_ns)
    _, campus_p95 = summary("campushub's part (both)", campus_ns)
    _, kube_p95 = summary("KubeSpawner get_pod_manifest()", kube_ns)
    print("pure      the plain functions alone:")
    summary("choices(catalog, memberships)", pure_choices_ns)
    summary("plan_server(...) for a course server", pure_plan_ns)
    verdict = "pass" if campus_p95 <= CAMPUS_GOAL_MS else "FAIL"
    print(f"goal      campushub's part p95 at most {CAMPUS_GOAL_MS:g} ms: {verdict}")
    print(f"python    {sys.version.split()[0]} ({sys.executable})")
    command = ["python", "benchmarks/spawn_policy.py", *sys.argv[1:]]
    print(f"reproduce {shlex.join(command)}  (from the repository root)")
    print(
        f"result: campus_p95_ms={campus_p95:.3f} kubespawner_p95_ms={kube_p95:.3f}"
        f" courses={len(catalog.courses)}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--courses", type=int, default=2000, help="courses in the catalog")
    parser.add_argument("--iterations", type=int, default=3000, help="timed iterations")
    parser.add_argument("--seed", type=int, default=2026, help="random seed for the catalog")
    options = parser.parse_args(argv)

    rng = random.Random(options.seed)
    text, _, _ = make_catalog_text(options.courses, rng)
    # With personal servers, whose options list the person's courses: the most a spawn builds.
    text = text.replace("\ndefaults:\n", "\ndefaults:\n  personal_server: true\n", 1)
    catalog = parse_catalog(text, "<generated>")
    memberships = pick_memberships(catalog, rng)
    print(f"catalog   {len(catalog.courses)} courses (seed {options.seed})")
    described = []
    for slug, role in sorted(memberships.items()):
        course = catalog.courses[slug]
        extras = [
            role,
            *(["gpu"] if course.gpu else []),
            *(["shared data"] if course.shared else []),
        ]
        described.append(f"{slug} ({', '.join(extras)})")
    print("person    in " + ", ".join(described))
    with tempfile.TemporaryDirectory(prefix="campushub-bench-") as directory:
        kubeconfig = Path(directory) / "kubeconfig"
        kubeconfig.write_text(DUMMY_KUBECONFIG, encoding="utf-8")
        os.environ["KUBECONFIG"] = str(kubeconfig)  # no cluster is contacted
        asyncio.run(measure(catalog, memberships, options.iterations))
    return 0


if __name__ == "__main__":
    sys.exit(main())
