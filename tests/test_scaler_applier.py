"""The scaler's Kubernetes applier: it reads each placeholder's scale and patches it only when
the number changes; it retries 500s, 409s and timeouts with backoff and reports what it could
not do.

By default these run against tests/k8s_double.py (the only stand-in in the tests). With
``KUBECONFIG`` naming a real cluster and ``CAMPUSHUB_TEST_CLUSTER=1`` the same tests run
against it (in ``CAMPUSHUB_TEST_NAMESPACE``, default ``default``), creating and deleting their
own placeholder objects; the fault-injection tests need the double and are skipped there.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from campushub.catalog import Placeholder, Pool
from campushub.demand import nodes_on_their_way
from campushub.demo.launch import free_port
from campushub.manifests import PLACEHOLDER_LABEL
from campushub.services.scaler.kube import KubeError, PlaceholderScaler, connect, normal_image
from tests.k8s_double import Fault, KubeDouble, Node, Pod

ADA = {"hub.jupyter.org/username": "ada", "hub.jupyter.org/servername": "data8"}
REAL_CLUSTER = (
    bool(os.environ.get("KUBECONFIG")) and os.environ.get("CAMPUSHUB_TEST_CLUSTER") == "1"
)
NAMESPACE = os.environ.get("CAMPUSHUB_TEST_NAMESPACE", "default") if REAL_CLUSTER else "campus"
needs_double = pytest.mark.skipif(REAL_CLUSTER, reason="fault injection needs the test double")


@dataclass
class Target:
    """Where the placeholders live: the double, or a real cluster."""

    kubeconfig: str
    double: KubeDouble | None
    apps: Any = None  # kubernetes_asyncio AppsV1Api on a real cluster
    core: Any = None  # kubernetes_asyncio CoreV1Api on a real cluster

    async def create_template(self, name: str, template: dict[str, Any]) -> None:
        if self.double is not None:
            self.double.add_template(NAMESPACE, name, template)
            return
        body = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": name}}
        await self.core.create_namespaced_pod_template(NAMESPACE, {**body, "template": template})

    async def pod_names(self, name: str) -> list[str]:
        """The living pods made for the ``Pods`` placeholder ``name``."""
        if self.double is not None:
            return sorted(
                pod.name
                for pod in self.double.pods_labelled(NAMESPACE, **{PLACEHOLDER_LABEL: name})
            )
        listed = await self.core.list_namespaced_pod(
            NAMESPACE, label_selector=f"{PLACEHOLDER_LABEL}={name}"
        )
        return sorted(
            pod.metadata.name for pod in listed.items if pod.metadata.deletion_timestamp is None
        )

    async def delete_template(self, name: str) -> None:
        if self.double is not None:
            self.double.cluster.templates.pop((NAMESPACE, name), None)
            for pod in self.double.pods_labelled(NAMESPACE, **{PLACEHOLDER_LABEL: name}):
                self.double.remove_pod(NAMESPACE, pod.name)
            return
        await self.core.delete_collection_namespaced_pod(
            NAMESPACE, label_selector=f"{PLACEHOLDER_LABEL}={name}", grace_period_seconds=0
        )
        await self.core.delete_namespaced_pod_template(name, NAMESPACE)

    async def create(self, kind: str, name: str, replicas: int) -> None:
        if self.double is not None:
            self.double.create(kind, name, NAMESPACE, replicas)
            return
        body = _placeholder_object(kind, name, replicas)
        if kind == "Deployment":
            await self.apps.create_namespaced_deployment(NAMESPACE, body)
        else:
            await self.apps.create_namespaced_stateful_set(NAMESPACE, body)

    async def replicas(self, kind: str, name: str) -> int | None:
        if self.double is not None:
            return self.double.replicas(kind, name, NAMESPACE)
        if kind == "Deployment":
            scale = await self.apps.read_namespaced_deployment_scale(name, NAMESPACE)
        else:
            scale = await self.apps.read_namespaced_stateful_set_scale(name, NAMESPACE)
        return scale.spec.replicas

    async def delete(self, kind: str, name: str) -> None:
        if self.double is not None:
            self.double.delete(kind, name, NAMESPACE)
        elif kind == "Deployment":
            await self.apps.delete_namespaced_deployment(name, NAMESPACE)
        else:
            await self.apps.delete_namespaced_stateful_set(name, NAMESPACE)


def _placeholder_object(kind: str, name: str, replicas: int) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": "campushub-test-placeholder", "test": name}
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "terminationGracePeriodSeconds": 0,
                "containers": [
                    {
                        "name": "pause",
                        "image": "registry.k8s.io/pause:3.10",
                        "resources": {"requests": {"cpu": "1m", "memory": "8Mi"}},
                    }
                ],
            },
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
    }


@pytest.fixture(scope="module")
def double() -> Iterator[KubeDouble | None]:
    if REAL_CLUSTER:
        yield None
        return
    running = KubeDouble(free_port()).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
async def target(
    double: KubeDouble | None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Target]:
    if double is None:
        from kubernetes_asyncio import client

        api = await connect(os.environ["KUBECONFIG"])
        yield Target(os.environ["KUBECONFIG"], None, client.AppsV1Api(api), client.CoreV1Api(api))
        await api.close()
        return
    path = double.kubeconfig(tmp_path_factory.mktemp("kube") / "config", NAMESPACE)
    yield Target(str(path), double)


@pytest.fixture
async def scaler(target: Target) -> AsyncIterator[tuple[PlaceholderScaler, list[float]]]:
    delays: list[float] = []

    async def no_wait(seconds: float) -> None:
        delays.append(seconds)

    api = await connect(target.kubeconfig)
    applier = PlaceholderScaler(api, NAMESPACE, timeout=1.0, attempts=4, backoff=1.0, sleep=no_wait)
    yield applier, delays
    await applier.close()


@pytest.fixture
def name() -> str:
    return f"test-placeholder-{secrets.token_hex(3)}"


@pytest.mark.cluster
@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet"])
async def test_patches_the_scale_only_when_the_number_changes(
    target: Target, scaler: tuple[PlaceholderScaler, list[float]], name: str, kind: str
) -> None:
    applier, _ = scaler
    await target.create(kind, name, 1)
    try:
        if target.double:
            target.double.clear_log()
        applied = await applier.scale(Placeholder(kind, name), 3)
        assert (applied.ok, applied.current, applied.patched) == (True, 1, True)
        assert await target.replicas(kind, name) == 3
        again = await applier.scale(Placeholder(kind, name), 3)
        assert (again.ok, again.current, again.patched, again.attempts) == (True, 3, False, 1)
        if target.double:
            log = [(r.method, r.body) for r in target.double.requests()]
            assert log == [
                ("GET", None),
                ("PATCH", {"spec": {"replicas": 3}}),
                ("GET", None),  # unchanged: read, no patch
            ]
            patch = target.double.requests()[1]
            assert patch.content_type == "application/merge-patch+json"
        down = await applier.scale(Placeholder(kind, name), 0)
        assert (down.ok, down.current, down.patched) == (True, 3, True)
        assert await target.replicas(kind, name) == 0
    finally:
        await target.delete(kind, name)


@pytest.mark.cluster
async def test_a_missing_placeholder_is_reported_without_retrying(
    scaler: tuple[PlaceholderScaler, list[float]], name: str
) -> None:
    applier, delays = scaler
    applied = await applier.scale(Placeholder("Deployment", name), 2)
    assert not applied.ok
    assert applied.attempts == 1
    assert delays == []
    assert f"Deployment {NAMESPACE}/{name} does not exist" in (applied.error or "")


@needs_double
@pytest.mark.parametrize(
    ("fault", "attempts"),
    [
        (Fault("GET", 500), 3),  # GET 500, GET, PATCH
        (Fault("GET", 503), 3),
        (Fault("PATCH", 409), 3),  # GET, PATCH 409, PATCH
        (Fault("PATCH", 500), 3),
        (Fault("GET", hang=3.0), 3),  # longer than the 1 s timeout
    ],
)
async def test_passing_errors_and_timeouts_are_retried_with_backoff(
    target: Target,
    scaler: tuple[PlaceholderScaler, list[float]],
    name: str,
    fault: Fault,
    attempts: int,
) -> None:
    assert target.double is not None
    applier, delays = scaler
    target.double.create("Deployment", name, NAMESPACE, 1)
    target.double.inject(fault)
    applied = await applier.scale(Placeholder("Deployment", name), 5)
    assert applied.ok, applied.error
    assert (applied.patched, applied.attempts) == (True, attempts)
    assert target.double.replicas("Deployment", name, NAMESPACE) == 5
    assert len(delays) == 1
    assert 0.8 <= delays[0] <= 1.2  # the first backoff, with jitter


@needs_double
async def test_it_gives_up_after_its_attempts_with_growing_backoff(
    target: Target, scaler: tuple[PlaceholderScaler, list[float]], name: str
) -> None:
    assert target.double is not None
    applier, delays = scaler
    target.double.create("Deployment", name, NAMESPACE, 2)
    target.double.inject(*[Fault("*", 500)] * 4)
    applied = await applier.scale(Placeholder("Deployment", name), 6)
    assert not applied.ok
    assert applied.current is None
    assert applied.attempts == 4
    assert "answered 500" in (applied.error or "")
    assert "gave up after 4 attempts" in (applied.error or "")
    assert target.double.replicas("Deployment", name, NAMESPACE) == 2  # untouched
    assert len(delays) == 3
    assert delays[0] < delays[1] < delays[2]
    # The next round works again.
    assert (await applier.scale(Placeholder("Deployment", name), 6)).patched


@needs_double
async def test_refused_credentials_say_what_rbac_needs(
    target: Target, name: str, tmp_path: Path
) -> None:
    assert target.double is not None
    target.double.create("Deployment", name, NAMESPACE, 1)
    wrong = tmp_path / "config"
    wrong.write_text(Path(target.kubeconfig).read_text().replace("double-token", "wrong"))
    api = await connect(str(wrong))
    applier = PlaceholderScaler(api, NAMESPACE, timeout=1.0)
    try:
        applied = await applier.scale(Placeholder("Deployment", name), 4)
    finally:
        await applier.close()
    assert not applied.ok
    assert applied.attempts == 1
    assert "401" in (applied.error or "")
    assert "get and patch on deployments/scale" in (applied.error or "")
    assert target.double.replicas("Deployment", name, NAMESPACE) == 1


@needs_double
async def test_an_api_that_is_not_there_is_reported(tmp_path: Path) -> None:
    port = free_port()  # nothing listens
    double = KubeDouble(port)
    path = double.kubeconfig(tmp_path / "config")
    delays: list[float] = []

    async def no_wait(seconds: float) -> None:
        delays.append(seconds)

    api = await connect(str(path))
    applier = PlaceholderScaler(api, NAMESPACE, timeout=1.0, attempts=2, sleep=no_wait)
    try:
        applied = await applier.scale(Placeholder("Deployment", "standard-placeholder"), 4)
    finally:
        await applier.close()
    assert not applied.ok
    assert "did not answer" in (applied.error or "")
    assert "gave up after 2 attempts" in (applied.error or "")
    assert len(delays) == 1


@needs_double
async def test_the_placeholder_namespace_from_the_catalog_wins(
    target: Target, scaler: tuple[PlaceholderScaler, list[float]], name: str
) -> None:
    assert target.double is not None
    applier, _ = scaler
    target.double.create("Deployment", name, "gpu-pool", 0)
    applied = await applier.scale(Placeholder("Deployment", name, "gpu-pool"), 2)
    assert applied.ok and applied.namespace == "gpu-pool"
    assert target.double.replicas("Deployment", name, "gpu-pool") == 2


# -- free room on a pool's warm nodes -------------------------------------------------------------

PYTHON = "ghcr.io/campushub/python:2026.08"
R_IMAGE = "ghcr.io/campushub/r:2026.08"


def pool(selector: dict[str, str]) -> Pool:
    return Pool(
        name="standard",
        node_cpu=8,
        node_memory=64 * 2**30,
        node_selector=selector,
        tolerations=(),
        placeholder=None,
        min=0,
        max=10,
        lead=timedelta(minutes=20),
        unit="node",
    )


@needs_double
async def test_free_room_counts_ready_warm_nodes_of_the_pool_only(
    target: Target, scaler: tuple[PlaceholderScaler, list[float]]
) -> None:
    assert target.double is not None
    double = target.double
    double.clear_nodes()
    labels = {"hub.jupyter.org/pool-name": "standard"}
    double.add_node(Node("warm", labels, "7910m", "62Gi", [PYTHON, R_IMAGE, "other:1"]))
    double.add_node(Node("cold", labels, "8", "64Gi", [PYTHON]))  # lacks the R image
    double.add_node(Node("notready", labels, "8", "64Gi", [PYTHON, R_IMAGE], ready=False))
    double.add_node(Node("cordoned", labels, "8", "64Gi", [PYTHON, R_IMAGE], unschedulable=True))
    double.add_node(
        Node("gpu", {"hub.jupyter.org/pool-name": "gpu"}, "8", "64Gi", [PYTHON, R_IMAGE])
    )
    # On "warm": two servers, a placeholder, a pod without requests and a finished pod.
    double.add_pod(Pod("campus", "jupyter-ada--data8", "warm", "50m", "1Gi", annotations=ADA))
    double.add_pod(Pod("campus", "jupyter-alan--stat20", "warm", "0.5", "512Mi"))
    double.add_pod(Pod("campus", "standard-placeholder-x", "warm", "2", "20Gi"))
    double.add_pod(Pod("kube-system", "besteffort", "warm"))
    double.add_pod(Pod("campus", "done", "warm", "4", "30Gi", phase="Succeeded"))
    applier, _ = scaler
    rooms = await applier.free_room(pool(labels), [PYTHON, R_IMAGE])
    # "cold" is ready but still lacks an image and runs nothing: listed, not warm, no room.
    assert [(room.node, room.warm) for room in rooms] == [("warm", True), ("cold", False)]
    assert (rooms[1].cpu, rooms[1].memory) == (0.0, 0)
    room = rooms[0]
    assert room.cpu == pytest.approx(7.91 - 0.05 - 0.5 - 2)
    assert room.memory == (62 - 1 - 20) * 2**30 - 512 * 2**20
    # Docker Hub names as the kubelet reports them.
    double.add_node(Node("hub", labels, "8", "64Gi", ["docker.io/library/python:3.12"]))
    double.add_pod(Pod("campus", "jupyter-ada--hub", "hub", "50m", "1Gi", annotations=ADA))
    rooms = await applier.free_room(pool(labels), ["python:3.12"])
    assert [room.node for room in rooms if room.warm] == ["hub"]
    # A pool without a node selector has no nodes of its own.
    assert await applier.free_room(pool({}), [PYTHON]) == []


@needs_double
async def test_free_room_counts_placeholders_in_their_own_namespace(
    target: Target, scaler: tuple[PlaceholderScaler, list[float]]
) -> None:
    assert target.double is not None
    double = target.double
    double.clear_nodes()
    labels = {"hub.jupyter.org/pool-name": "standard"}
    double.add_node(Node("warm", labels, "8", "64Gi", [PYTHON]))
    double.add_pod(Pod("campus", "jupyter-ada--data8", "warm", "1", "4Gi", annotations=ADA))
    double.add_pod(Pod("placeholders", "standard-placeholder-x", "warm", "2", "20Gi"))
    double.add_pod(Pod("elsewhere", "not-ours", "warm", "3", "30Gi"))  # not counted
    applier, _ = scaler
    own = dataclasses.replace(
        pool(labels), placeholder=Placeholder("Deployment", "standard-placeholder", "placeholders")
    )
    (room,) = await applier.free_room(own, [PYTHON])
    assert room.cpu == pytest.approx(8 - 1 - 2)
    assert room.memory == (64 - 4 - 20) * 2**30
    (room,) = await applier.free_room(pool(labels), [PYTHON])  # placeholders in the hub's
    assert room.cpu == pytest.approx(8 - 1)


@needs_double
async def test_servers_leaving_do_not_hold_room(
    target: Target, scaler: tuple[PlaceholderScaler, list[float]]
) -> None:
    assert target.double is not None
    double = target.double
    double.clear_nodes()
    labels = {"hub.jupyter.org/pool-name": "standard"}
    double.add_node(Node("warm", labels, "8", "64Gi", [PYTHON]))

    def server(user: str, course: str) -> dict[str, str]:
        return {"hub.jupyter.org/username": user, "hub.jupyter.org/servername": course}

    double.add_pod(
        Pod("campus", "jupyter-ada--data8", "warm", "1", "8Gi", annotations=server("ada", "data8"))
    )
    double.add_pod(
        Pod(
            "campus",
            "jupyter-grace--data8",
            "warm",
            "1",
            "8Gi",
            annotations=server("grace", "data8"),
        )
    )
    double.add_pod(Pod("campus", "standard-placeholder-x", "warm", "1", "8Gi"))
    applier, _ = scaler
    (room,) = await applier.free_room(pool(labels), [PYTHON], {("ada", "data8")})
    assert (room.cpu, room.memory) == (6.0, 48 * 2**30)  # ada's room counts as free
    assert (room.leaving_cpu, room.leaving_memory) == (1.0, 8 * 2**30)  # once she is culled
    assert (room.firm().cpu, room.firm().memory) == (5.0, 40 * 2**30)
    (room,) = await applier.free_room(pool(labels), [PYTHON])
    assert (room.cpu, room.memory) == (5.0, 40 * 2**30)
    assert (room.leaving_cpu, room.leaving_memory) == (0.0, 0)


@needs_double
async def test_free_room_that_cannot_be_read_is_an_error_not_a_guess(
    target: Target, scaler: tuple[PlaceholderScaler, list[float]]
) -> None:
    assert target.double is not None
    double = target.double
    double.clear_nodes()
    labels = {"hub.jupyter.org/pool-name": "standard"}
    double.add_node(Node("warm", labels, "8", "64Gi", [PYTHON]))
    double.add_pod(Pod("campus", "odd", "warm", "lots", "1Gi", annotations=ADA))  # unreadable
    applier, _ = scaler
    assert await applier.free_room(pool(labels), [PYTHON]) == []  # its room is not counted
    double.inject(*[Fault("GET", 500)] * 4)
    with pytest.raises(KubeError, match="nodes of pool standard: the API answered 500"):
        await applier.free_room(pool(labels), [PYTHON])


@needs_double
async def test_empty_nodes_hold_no_room_and_cold_ones_are_listed(
    target: Target, scaler: tuple[PlaceholderScaler, list[float]]
) -> None:
    assert target.double is not None
    double = target.double
    double.clear_nodes()
    labels = {"hub.jupyter.org/pool-name": "standard"}
    double.add_node(Node("empty", labels, "8", "64Gi", [PYTHON]))  # warm, nothing on it
    double.add_node(Node("placeheld", labels, "8", "64Gi", [PYTHON]))
    double.add_pod(Pod("campus", "standard-placeholder-y", "placeheld", "8", "64Gi"))
    double.add_node(Node("pulling", labels, "8", "64Gi", []))  # cold, only the pre-puller
    double.add_pod(Pod("campus", "continuous-image-puller-a", "pulling", owner="DaemonSet"))
    double.add_node(Node("taken", labels, "8", "64Gi", []))  # cold, a placeholder landed
    double.add_pod(Pod("campus", "standard-placeholder-z", "taken", "8", "64Gi"))
    applier, _ = scaler
    rooms = await applier.free_room(pool(labels), [PYTHON])
    assert [(room.node, room.warm) for room in rooms] == [("pulling", False)]


@pytest.mark.cluster
@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet"])
async def test_readiness_says_how_many_placeholders_are_ready(
    target: Target, scaler: tuple[PlaceholderScaler, list[float]], kind: str, name: str
) -> None:
    await target.create(kind, name, 3)
    try:
        applier, _ = scaler
        replicas, ready = await applier.readiness(Placeholder(kind, name, None))
        assert replicas == 3
        if target.double is not None:
            assert ready == 3
            target.double.set_ready(kind, name, NAMESPACE, 1)
            assert await applier.readiness(Placeholder(kind, name, None)) == (3, 1)
        else:  # a real cluster: some may still be starting
            assert 0 <= ready <= 3
        with pytest.raises(KubeError, match="-gone does not exist"):
            await applier.readiness(Placeholder(kind, f"{name}-gone", None))
    finally:
        await target.delete(kind, name)


def pod_template(priority_class: str | None = "system-node-critical") -> dict[str, Any]:
    """A small placeholder template (on a real cluster, priority class
    ``CAMPUSHUB_TEST_PRIORITY_CLASS`` names a low one)."""
    spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": 0,
        "containers": [
            {
                "name": "pause",
                "image": "registry.k8s.io/pause:3.10",
                "resources": {"requests": {"cpu": "1m", "memory": "8Mi"}},
            }
        ],
    }
    if priority_class:
        spec["priorityClassName"] = os.environ.get("CAMPUSHUB_TEST_PRIORITY_CLASS", priority_class)
    return {"metadata": {"labels": {"app.kubernetes.io/name": "campushub-test"}}, "spec": spec}


@pytest.mark.cluster
async def test_pods_placeholders_are_made_from_their_template_and_deleted(
    target: Target, scaler: tuple[PlaceholderScaler, list[float]], name: str
) -> None:
    applier, _ = scaler
    await target.create_template(name, pod_template())
    placeholder = Placeholder("Pods", name)
    try:
        made = await applier.scale(placeholder, 3)
        assert (made.ok, made.current, made.patched, made.replicas) == (True, 0, True, 3)
        pods = await target.pod_names(name)
        assert len(pods) == 3 and all(pod.startswith(f"{name}-") for pod in pods)
        if target.double is not None:
            [pod, *_] = target.double.pods_labelled(NAMESPACE, **{PLACEHOLDER_LABEL: name})
            assert pod.labels == {
                "app.kubernetes.io/name": "campushub-test",
                PLACEHOLDER_LABEL: name,
            }
            assert pod.spec is not None and pod.spec["priorityClassName"] == "system-node-critical"
            target.double.clear_log()
        again = await applier.scale(placeholder, 3)
        assert (again.ok, again.current, again.patched) == (True, 3, False)
        if target.double is not None:  # one list, nothing made or deleted
            assert [r.method for r in target.double.requests()] == ["GET"]
        fewer = await applier.scale(placeholder, 1)
        assert (fewer.ok, fewer.current, fewer.patched) == (True, 3, True)
        assert len(await target.pod_names(name)) == 1
        assert (await applier.readiness(placeholder))[0] == 1
    finally:
        await target.delete_template(name)


@pytest.mark.cluster
@needs_double
async def test_surplus_pods_go_unscheduled_first_then_pulling_then_from_the_fullest_node(
    double: KubeDouble, scaler: tuple[PlaceholderScaler, list[float]], name: str
) -> None:
    applier, _ = scaler
    double.add_template(NAMESPACE, name, pod_template())
    placeholder = Placeholder("Pods", name)
    try:
        assert (await applier.scale(placeholder, 6)).ok
        pods = [
            pod.name
            for pod in sorted(
                double.pods_labelled(NAMESPACE, **{PLACEHOLDER_LABEL: name}),
                key=lambda pod: pod.name,
            )
        ]
        for index, pod in enumerate(pods):
            pods_created = double.pods_labelled(NAMESPACE, **{PLACEHOLDER_LABEL: name})
            next(p for p in pods_created if p.name == pod).created = 1_000_000 + index
        # full: three on it; busy: one ready and one still pulling; the last one on no node
        for pod in pods[:3]:
            double.bind(NAMESPACE, pod, "full")
        double.bind(NAMESPACE, pods[3], "busy")
        double.bind(NAMESPACE, pods[4], "busy", ready=False)
        assert await applier.readiness(placeholder) == (6, 4)
        assert (await applier.scale(placeholder, 2)).ok
        # gone: the pending one, the pulling one, then the newest two on the fullest node
        assert await _left(double, name) == [pods[0], pods[3]]
        # a preempted pod is not made again by itself; the next round's target decides
        double.remove_pod(NAMESPACE, pods[3])
        assert await applier.readiness(placeholder) == (1, 1)
        assert (await applier.scale(placeholder, 2)).current == 1
        assert len(await _left(double, name)) == 2
    finally:
        for pod in double.pods_labelled(NAMESPACE, **{PLACEHOLDER_LABEL: name}):
            double.remove_pod(NAMESPACE, pod.name)


@pytest.mark.cluster
@needs_double
@pytest.mark.parametrize("kind", ["Pods", "Deployment"])
async def test_nodes_on_their_way_are_read_from_the_placeholders_pods(
    double: KubeDouble, scaler: tuple[PlaceholderScaler, list[float]], name: str, kind: str
) -> None:
    applier, _ = scaler
    now = time.time()
    old, new = f"{name}-old", f"{name}-new"
    double.add_node(Node(old, {"pool": name}, created=now - 3600))
    double.add_node(Node(new, {"pool": name}, created=now - 30))
    if kind == "Deployment":
        double.create(kind, name, NAMESPACE, 5)
    labels = {PLACEHOLDER_LABEL: name} if kind == "Pods" else {"app": name}

    def pod(suffix: str, node: str, made: float, bound: float | None) -> Pod:
        phase = "Running" if node else "Pending"
        return Pod(
            NAMESPACE, f"{name}-{suffix}", node, phase=phase, labels=labels, created=made,
            scheduled=bound,
        )  # fmt: skip

    double.clear_log()
    for each in (
        pod("waited", old, now - 120, now - 10),  # pending 110 s, then on a node already there
        pod("came", new, now - 120, now - 30),  # pending until the node booted for it came
        pod("quick", old, now - 120, now - 118),  # bound before the autoscaler looked
        pod("pending", "", now - 120, None),
        pod("long-ago", old, now - 3 * 3600, now - 3 * 3600 + 300),
    ):
        double.add_pod(each)
    with_placeholder = dataclasses.replace(
        pool({"pool": name}), placeholder=Placeholder(kind, name, None)
    )
    try:
        at = datetime.fromtimestamp(now, UTC)
        warmup = timedelta(minutes=15)
        pods = await applier.placeholder_pods(with_placeholder, at - warmup)
        assert len(pods) == 4  # the one made before `since` is not read
        # The pending one was made with the others, before the node was left to nobody.
        assert nodes_on_their_way(pods, at, warmup) == 1
        node_reads = [r for r in double.requests() if r.path == "/api/v1/nodes"]
        assert len(node_reads) == 1  # the pool's nodes, once
        # A placeholder made since then, pending: it takes the node that comes.
        double.add_pod(pod("since", "", now - 5, None))
        pods = await applier.placeholder_pods(with_placeholder, at - warmup)
        assert nodes_on_their_way(pods, at, warmup) == 0
        assert nodes_on_their_way(pods, at + warmup, warmup) == 0
        # Unreadable: an error, not a guess.
        double.inject(*[Fault("*", 500)] * 4)
        with pytest.raises(KubeError, match="gave up after 4 attempts"):
            await applier.placeholder_pods(with_placeholder, at - warmup)
    finally:
        for each in double.pods_labelled(NAMESPACE, **labels):
            double.remove_pod(NAMESPACE, each.name)
        with double.cluster.lock:
            double.cluster.nodes.pop(old), double.cluster.nodes.pop(new)
        if kind == "Deployment":
            double.delete(kind, name, NAMESPACE)


async def _left(double: KubeDouble, name: str) -> list[str]:
    return sorted(pod.name for pod in double.pods_labelled(NAMESPACE, **{PLACEHOLDER_LABEL: name}))


@pytest.mark.cluster
@needs_double
async def test_ended_placeholder_pods_are_not_counted_and_are_cleared(
    double: KubeDouble, scaler: tuple[PlaceholderScaler, list[float]], name: str
) -> None:
    applier, _ = scaler
    double.add_template(NAMESPACE, name, pod_template())
    evicted = Pod(
        NAMESPACE, f"{name}-evicted", "a", phase="Failed", labels={PLACEHOLDER_LABEL: name}
    )
    double.add_pod(evicted)
    placeholder = Placeholder("Pods", name)
    assert await applier.readiness(placeholder) == (0, 0)
    applied = await applier.scale(placeholder, 1)
    assert (applied.ok, applied.current, applied.patched) == (True, 0, True)
    left = await _left(double, name)
    assert len(left) == 1 and evicted.name not in left
    double.remove_pod(NAMESPACE, left[0])


@pytest.mark.cluster
@needs_double
async def test_a_template_that_would_not_give_way_to_students_is_refused(
    double: KubeDouble, scaler: tuple[PlaceholderScaler, list[float]], name: str
) -> None:
    applier, _ = scaler
    double.add_template(NAMESPACE, name, pod_template(priority_class=None))
    applied = await applier.scale(Placeholder("Pods", name), 2)
    assert not applied.ok and "names no priorityClassName" in (applied.error or "")
    assert await _left(double, name) == []
    missing = await applier.scale(Placeholder("Pods", f"{name}-gone"), 2)
    assert f"PodTemplate {NAMESPACE}/{name}-gone does not exist" in (missing.error or "")


@pytest.mark.cluster
@needs_double
async def test_pod_changes_that_fail_are_retried_then_reported(
    double: KubeDouble, scaler: tuple[PlaceholderScaler, list[float]], name: str
) -> None:
    applier, delays = scaler
    double.add_template(NAMESPACE, name, pod_template())
    placeholder = Placeholder("Pods", name)
    delays.clear()
    double.inject(Fault("POST", 503))
    applied = await applier.scale(placeholder, 2)
    assert applied.ok and len(await _left(double, name)) == 2 and len(delays) == 1
    double.inject(Fault("DELETE", 403), Fault("DELETE", 403))
    refused = await applier.scale(placeholder, 0)
    assert not refused.ok
    assert "2 of 2 pod changes failed; now 2 pods" in (refused.error or "")
    assert "list, create and delete on pods" in (refused.error or "")
    assert len(await _left(double, name)) == 2
    assert (await applier.scale(placeholder, 0)).ok and await _left(double, name) == []


@pytest.mark.cluster
@pytest.mark.skipif(not REAL_CLUSTER, reason="the double's version is tested above")
async def test_free_room_on_a_real_cluster(scaler: tuple[PlaceholderScaler, list[float]]) -> None:
    applier, _ = scaler
    rooms = await applier.free_room(pool({"kubernetes.io/os": "linux"}), [])
    assert rooms, "a ready linux node"
    assert all(room.cpu >= 0 and room.memory >= 0 for room in rooms)


def test_image_names_are_compared_as_the_kubelet_reports_them() -> None:
    assert normal_image("python:3.12") == "docker.io/library/python:3.12"
    assert normal_image("jupyter/base") == "docker.io/jupyter/base:latest"
    assert normal_image(PYTHON) == PYTHON
    assert normal_image("localhost:5000/x:1") == "localhost:5000/x:1"
    assert normal_image("quay.io/a/b@sha256:abc") == "quay.io/a/b@sha256:abc"
