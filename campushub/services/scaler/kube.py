"""Resizing placeholder Deployments and StatefulSets through the Kubernetes API.

The scaler reads and patches only the ``scale`` subresource of each pool's placeholder
(``/apis/apps/v1/namespaces/<ns>/{deployments,statefulsets}/<name>/scale``), so its RBAC
needs no more than ``get`` and ``patch`` on those. To find room already free on a pool's warm
nodes it lists the pool's nodes (``/api/v1/nodes?labelSelector=...``) and the pods on each
(``/api/v1/pods?fieldSelector=spec.nodeName=...``): ``list`` on nodes and pods.

A placeholder of kind ``Pods`` is pods the scaler makes itself: it lists them
(``/api/v1/namespaces/<ns>/pods?labelSelector=campushub/placeholder=<name>``), makes the
missing ones from the PodTemplate ``<name>`` (``GET .../podtemplates/<name>``, ``POST
.../pods``) and deletes the surplus (``DELETE .../pods/<pod>``): the pods not yet on a node
first, then those still pulling, then those on the node holding the most placeholders (so a
node held only for placeholders empties and the autoscaler may remove it). Unlike a
Deployment's replicas, a pod a student's server preempts is not made again at once: the next
round decides, from the free room the server left, whether one is still needed.

A patch is sent only when the number changes. Errors that may pass (timeouts, connection
errors, 409, 429, 5xx) are retried with exponential backoff; others (401, 403, 404, 422) are
reported at once with what to do. Scaling never raises to the caller: every outcome is an
:class:`Applied` record; ``free_room`` raises :class:`KubeError` with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from ...catalog import Placeholder, Pool
from ...demand import AUTOSCALER_SCAN, FreeRoom, PlaceholderPod
from ...manifests import PLACEHOLDER_LABEL
from ...units import parse_cpu, parse_memory

__all__ = ["Applied", "KubeError", "PlaceholderScaler", "connect", "normal_image"]

MERGE_PATCH = "application/merge-patch+json"
RETRY_STATUSES = frozenset({409, 429, 500, 502, 503, 504})
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Applied:
    """What happened to one placeholder this round."""

    kind: str
    name: str
    namespace: str
    target: int
    current: int | None  # the scale's spec.replicas before (None: could not be read)
    patched: bool
    attempts: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def replicas(self) -> int | None:
        """The placeholder's replicas after this round: the target if patched, else as found."""
        return self.target if self.patched else self.current


async def connect(kubeconfig: str | None = None) -> client.ApiClient:
    """An API client: in a pod, its service account; else ``kubeconfig`` (or $KUBECONFIG)."""
    configuration = client.Configuration()
    if kubeconfig is None:
        try:
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        except config.ConfigException:
            pass
    await config.load_kube_config(
        config_file=kubeconfig, client_configuration=configuration, persist_config=False
    )
    return client.ApiClient(configuration)


class KubeError(Exception):
    """What the API would not tell or do, in words (after the retries)."""


class PlaceholderScaler:
    """Reads and sets the replicas of placeholders, retrying what may pass; finds free room."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        *,
        timeout: float = 10.0,
        attempts: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        log: logging.Logger | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.api = api
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)
        self.namespace = namespace
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.log = log or logging.getLogger("campushub.scaler")
        self._sleep = sleep

    async def close(self) -> None:
        await self.api.close()

    async def scale(self, placeholder: Placeholder, target: int) -> Applied:
        """Make ``placeholder`` run ``target`` replicas: read its scale, patch if different
        (kind ``Pods``: make or delete pods)."""
        if placeholder.kind == "Pods":
            return await self._scale_pods(placeholder, target)
        namespace = placeholder.namespace or self.namespace
        kind, name = placeholder.kind, placeholder.name
        if kind == "Deployment":
            read, patch = (
                self.apps.read_namespaced_deployment_scale,
                self.apps.patch_namespaced_deployment_scale,
            )
        else:
            read, patch = (
                self.apps.read_namespaced_stateful_set_scale,
                self.apps.patch_namespaced_stateful_set_scale,
            )
        where = f"{kind} {namespace}/{name}"
        attempts = 0
        current: int | None = None

        async def call(function: Callable[..., Awaitable[_T]], *args: Any, **kw: Any) -> _T:
            nonlocal attempts
            attempts += 1
            return await function(*args, _request_timeout=self.timeout, **kw)

        try:
            scale = await self._retrying(where, lambda: call(read, name, namespace))
            found = getattr(getattr(scale, "spec", None), "replicas", 0) or 0
            if isinstance(found, bool) or not isinstance(found, int) or not 0 <= found <= 10**6:
                raise _Failed(f"{where}: the API's answer is not a scale ({found!r} replicas)")
            current = found
            if current == target:
                return Applied(kind, name, namespace, target, current, False, attempts)
            body = {"spec": {"replicas": target}}
            answer = await self._retrying(
                where,
                lambda: call(patch, name, namespace, body, _content_type=MERGE_PATCH),
            )
            if getattr(getattr(answer, "spec", None), "replicas", None) != target:
                raise _Failed(f"{where}: the patch was not confirmed (the answer is not a scale)")
        except _Failed as failed:
            return Applied(kind, name, namespace, target, current, False, attempts, str(failed))
        except Exception as error:  # whatever else the client raises: an error, not a crash
            problem = f"{where}: {type(error).__name__}: {error}"[:300]
            return Applied(kind, name, namespace, target, current, False, attempts, problem)
        self.log.info("scaled %s from %s to %d replicas", where, current, target)
        return Applied(kind, name, namespace, target, current, True, attempts)

    async def _placeholder_pods(self, placeholder: Placeholder) -> tuple[list[Any], list[Any]]:
        """The pods made for a ``Pods`` placeholder: ``(alive, ended)``; pods being deleted
        are in neither."""
        namespace = placeholder.namespace or self.namespace
        selector = f"{PLACEHOLDER_LABEL}={placeholder.name}"
        listed = await self._retrying(
            f"placeholder pods {namespace}/{placeholder.name}",
            lambda: self.core.list_namespaced_pod(
                namespace, label_selector=selector, _request_timeout=self.timeout
            ),
        )
        return _alive_and_ended(listed.items)

    async def _scale_pods(self, placeholder: Placeholder, target: int) -> Applied:
        namespace = placeholder.namespace or self.namespace
        kind, name = placeholder.kind, placeholder.name
        where = f"placeholder pods {namespace}/{name}"
        current: int | None = None
        calls = 0
        made = removed = 0
        try:
            alive, ended = await self._placeholder_pods(placeholder)
            calls += 1
            current = len(alive)
            # Pods that ended (evicted by their node, say) are never counted; cleared away.
            surplus = _surplus(alive, current - target) if current > target else []
            body: dict[str, Any] = {}
            if target > current:
                body = await self._pod_body(placeholder)
                calls += 1
            limit = asyncio.Semaphore(8)

            async def make() -> None:
                nonlocal made, calls
                async with limit:
                    calls += 1
                    await self._retrying(
                        where,
                        lambda: self.core.create_namespaced_pod(
                            namespace, body, _request_timeout=self.timeout
                        ),
                    )
                made += 1

            async def delete(pod: Any, counted: bool) -> None:
                nonlocal removed, calls
                async with limit:
                    calls += 1
                    with contextlib.suppress(_Gone):  # preempted meanwhile: as good
                        await self._retrying(
                            where,
                            lambda: self.core.delete_namespaced_pod(
                                pod.metadata.name,
                                namespace,
                                grace_period_seconds=0,
                                _request_timeout=self.timeout,
                            ),
                        )
                removed += counted

            outcomes = await asyncio.gather(
                *(make() for _ in range(max(target - current, 0))),
                *(delete(pod, False) for pod in ended),
                *(delete(pod, True) for pod in surplus),
                return_exceptions=True,
            )
            failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
            if failed:
                first = failed[0]
                reason = str(first) if isinstance(first, _Failed) else _describe(first)
                raise _Failed(
                    f"{reason} ({len(failed)} of {len(outcomes)} pod changes failed; now"
                    f" {current + made - removed} pods)"
                )
        except _Failed as failed:
            return Applied(kind, name, namespace, target, current, False, calls, str(failed))
        except Exception as error:  # whatever else the client raises: an error, not a crash
            problem = f"{where}: {type(error).__name__}: {error}"[:300]
            return Applied(kind, name, namespace, target, current, False, calls, problem)
        if current == target:
            return Applied(kind, name, namespace, target, current, False, calls)
        self.log.info("placeholder pods %s/%s: %d to %d", namespace, name, current, target)
        return Applied(kind, name, namespace, target, current, True, calls)

    async def _pod_body(self, placeholder: Placeholder) -> dict[str, Any]:
        """A placeholder pod as its PodTemplate says, labelled as the placeholder's."""
        namespace = placeholder.namespace or self.namespace
        name = placeholder.name
        where = f"PodTemplate {namespace}/{name}"
        found = await self._retrying(
            where,
            lambda: self.core.read_namespaced_pod_template(
                name, namespace, _request_timeout=self.timeout
            ),
        )
        template = self.api.sanitize_for_serialization(getattr(found, "template", None)) or {}
        spec = template.get("spec") if isinstance(template, dict) else None
        if not isinstance(spec, dict) or not spec.get("containers"):
            raise _Failed(f"{where} has no pod spec (make it with `campushub manifests`)")
        if not spec.get("priorityClassName"):
            raise _Failed(
                f"{where} names no priorityClassName: its pods would not give way to"
                " students' servers (`campushub manifests` makes the template and the class)"
            )
        metadata = template.get("metadata") or {}
        labels = {**(metadata.get("labels") or {}), PLACEHOLDER_LABEL: name}
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": f"{name}-",
                "labels": labels,
                **({"annotations": metadata["annotations"]} if metadata.get("annotations") else {}),
            },
            "spec": spec,
        }

    async def readiness(self, placeholder: Placeholder) -> tuple[int, int]:
        """``(replicas, ready)`` of a placeholder's Deployment or StatefulSet (or pods): how
        many it runs and how many of those are ready (on a node, their init containers, which
        pull the pool's images, done). Raises :class:`KubeError` when the API will not say."""
        if placeholder.kind == "Pods":
            try:
                alive, _ = await self._placeholder_pods(placeholder)
            except _Failed as failed:
                raise KubeError(str(failed)) from None
            except Exception as error:  # an answer that is not what the API documents
                where = f"placeholder pods {placeholder.name}"
                raise KubeError(f"{where}: {type(error).__name__}: {error}"[:300]) from None
            return len(alive), sum(_pod_ready(pod) for pod in alive)
        namespace = placeholder.namespace or self.namespace
        kind, name = placeholder.kind, placeholder.name
        read = (
            self.apps.read_namespaced_deployment
            if kind == "Deployment"
            else self.apps.read_namespaced_stateful_set
        )
        where = f"{kind} {namespace}/{name}"
        try:
            found = await self._retrying(
                where, lambda: read(name, namespace, _request_timeout=self.timeout)
            )
            replicas = getattr(getattr(found, "spec", None), "replicas", None)
            ready = getattr(getattr(found, "status", None), "ready_replicas", None) or 0
            for value in (replicas, ready):
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**6:
                    raise _Failed(f"{where}: the API's answer is not a {kind} ({value!r} replicas)")
        except _Failed as failed:
            raise KubeError(str(failed)) from None
        except Exception as error:  # an answer that is not what the API documents
            raise KubeError(f"{where}: {type(error).__name__}: {error}"[:300]) from None
        return replicas, min(ready, replicas)

    async def placeholder_pods(self, pool: Pool, since: datetime) -> list[PlaceholderPod]:
        """The pool's placeholder pods made since ``since``: when each was made, when it was
        bound to a node and when that node was made (for
        :func:`campushub.demand.nodes_on_their_way`). A Deployment's or StatefulSet's pods are
        found by its selector. The pool's nodes are listed (once) only if a pod waited for a
        node (bound a scan of the cluster autoscaler or more after it was made). Raises
        :class:`KubeError` when the API will not say."""
        placeholder = pool.placeholder
        if placeholder is None:
            return []
        namespace = placeholder.namespace or self.namespace
        where = f"placeholder pods of {placeholder.kind} {namespace}/{placeholder.name}"
        try:
            if placeholder.kind == "Pods":
                alive, _ = await self._placeholder_pods(placeholder)
            else:
                read = (
                    self.apps.read_namespaced_deployment
                    if placeholder.kind == "Deployment"
                    else self.apps.read_namespaced_stateful_set
                )
                found = await self._retrying(
                    where,
                    lambda: read(placeholder.name, namespace, _request_timeout=self.timeout),
                )
                selector = getattr(getattr(found.spec, "selector", None), "match_labels", None)
                if not selector:
                    raise _Failed(f"{where}: its selector has no matchLabels to find its pods by")
                listed = await self._retrying(
                    where,
                    lambda: self.core.list_namespaced_pod(
                        namespace,
                        label_selector=_label_selector(selector),
                        _request_timeout=self.timeout,
                    ),
                )
                alive, _ = _alive_and_ended(listed.items)
            pods: list[tuple[datetime, datetime | None, str | None]] = []
            for pod in alive:
                created = pod.metadata.creation_timestamp
                if created is None or created < since:
                    continue
                bound = _scheduled_at(pod)
                node = pod.spec.node_name if pod.spec else None
                waited = bound is not None and node and bound - created >= AUTOSCALER_SCAN
                pods.append((created, bound, node if waited else None))
            made: dict[str, datetime | None] = {}
            if any(node for _, _, node in pods):
                nodes = await self._retrying(
                    f"nodes of pool {pool.name}",
                    lambda: self.core.list_node(
                        label_selector=_label_selector(pool.node_selector) or None,
                        _request_timeout=self.timeout,
                    ),
                )
                made = {
                    node.metadata.name: node.metadata.creation_timestamp
                    for node in nodes.items or []
                    if node.metadata is not None
                }
        except _Failed as failed:
            raise KubeError(str(failed)) from None
        except Exception as error:  # an answer that is not what the API documents
            raise KubeError(f"{where}: {type(error).__name__}: {error}"[:300]) from None
        return [
            PlaceholderPod(created, bound, made.get(node) if node else None)
            for created, bound, node in pods
        ]

    async def free_room(
        self, pool: Pool, images: list[str], leaving: Collection[tuple[str, str]] = ()
    ) -> list[FreeRoom]:
        """Room free now on each ready, schedulable node of ``pool`` that already has every
        one of ``images`` and runs a server (an empty node may be removed by the autoscaler):
        allocatable CPU and memory less the requests of every pod on it (placeholders
        included), except the servers in ``leaving`` (``(user, server)`` pairs, matched by
        KubeSpawner's ``hub.jupyter.org/username`` and ``/servername`` annotations), whose room
        will be free by the time it is needed. A ready, schedulable node still missing an
        image that runs no pod (daemon sets' aside) is listed as not ``warm``, with no room. A
        pool without a ``node_selector`` has no nodes of its own: none. Raises
        :class:`KubeError` when the API will not say."""
        if not pool.node_selector:
            return []
        selector = _label_selector(pool.node_selector)
        wanted = {normal_image(ref) for ref in images}
        try:
            nodes = await self._retrying(
                f"nodes of pool {pool.name}",
                lambda: self.core.list_node(label_selector=selector, _request_timeout=self.timeout),
            )
            warm, cold = [], []  # ready and schedulable: with every image, or not yet
            for node in nodes.items or []:
                if _usable(node, set()):
                    (warm if _usable(node, wanted) else cold).append(node)
            limit = asyncio.Semaphore(8)

            # The servers run in the hub's namespace; the pool's placeholder may run in one
            # of its own: the pods of both take room on the pool's nodes.
            namespaces = sorted(
                {
                    self.namespace,
                    (pool.placeholder and pool.placeholder.namespace) or self.namespace,
                }
            )

            async def pods_on(name: str, namespace: str) -> list[Any]:
                async with limit:
                    pods = await self._retrying(
                        f"pods on node {name} in {namespace}",
                        lambda: self.core.list_namespaced_pod(
                            namespace,
                            field_selector=(
                                f"spec.nodeName={name},status.phase!=Succeeded,status.phase!=Failed"
                            ),
                            _request_timeout=self.timeout,
                        ),
                    )
                return list(pods.items or [])

            async def pods_of(node: Any) -> list[Any]:
                name = node.metadata.name
                found = await asyncio.gather(*(pods_on(name, ns) for ns in namespaces))
                return [pod for listed in found for pod in listed]

            async def room_on(node: Any) -> FreeRoom | None:
                pods = await pods_of(node)
                if not any(_server(pod) for pod in pods):
                    return None  # empty: the autoscaler may remove it
                staying = [pod for pod in pods if _server(pod) not in leaving]
                room = _room(node, staying, pool)
                if room is None or len(staying) == len(pods):
                    return room
                firm = _room(node, pods, pool)  # what the leaving servers hold until stopped
                if firm is None:
                    return None
                return dataclasses.replace(
                    room,
                    leaving_cpu=room.cpu - firm.cpu,
                    leaving_memory=room.memory - firm.memory,
                )

            async def cold_on(node: Any) -> FreeRoom | None:
                pods = await pods_of(node)
                if any(not _daemon(pod) for pod in pods):
                    return None
                return FreeRoom(node.metadata.name, 0.0, 0, warm=False)

            rooms = await asyncio.gather(
                *(room_on(node) for node in warm), *(cold_on(node) for node in cold)
            )
        except _Failed as failed:
            raise KubeError(str(failed)) from None
        except Exception as error:  # an answer that is not what the API documents
            raise KubeError(f"pool {pool.name}: {type(error).__name__}: {error}"[:300]) from None
        return [room for room in rooms if room is not None]

    async def _retrying(self, where: str, attempt: Callable[[], Awaitable[_T]]) -> _T:
        for number in range(1, self.attempts + 1):
            try:
                return await attempt()
            except ApiException as error:
                problem = _api_problem(where, error)
                if error.status == 404 and where.startswith("placeholder pods"):
                    raise _Gone(problem) from None
                if error.status not in RETRY_STATUSES:
                    raise _Failed(problem) from None
            except (TimeoutError, aiohttp.ClientError, OSError) as error:
                problem = f"{where}: the Kubernetes API did not answer ({_describe(error)})"
            if number == self.attempts:
                raise _Failed(f"{problem}; gave up after {number} attempts")
            delay = min(self.max_backoff, self.backoff * 2 ** (number - 1))
            delay *= random.uniform(0.8, 1.2)  # jitter, so several scalers do not beat together
            self.log.warning("%s; retrying in %.1f s", problem, delay)
            await self._sleep(delay)
        raise AssertionError("unreachable")


class _Failed(Exception):
    pass


class _Gone(_Failed):
    """A placeholder pod that is not there (any more)."""


def _pod_ready(pod: Any) -> bool:
    status = pod.status
    if status is None or status.phase != "Running":
        return False
    return any(c.type == "Ready" and c.status == "True" for c in status.conditions or [])


def _label_selector(labels: Mapping[str, str]) -> str:
    """A label selector that matches every one of ``labels``."""
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def _alive_and_ended(pods: list[Any] | None) -> tuple[list[Any], list[Any]]:
    """Listed pods as ``(alive, ended)``; pods being deleted are in neither."""
    alive, ended = [], []
    for pod in pods or []:
        if pod.metadata is None or pod.metadata.deletion_timestamp is not None:
            continue
        phase = pod.status.phase if pod.status else None
        (ended if phase in ("Succeeded", "Failed") else alive).append(pod)
    return alive, ended


def _scheduled_at(pod: Any) -> datetime | None:
    """When the pod was bound to a node: its ``PodScheduled`` condition's last change, if
    true."""
    conditions = (pod.status.conditions if pod.status else None) or []
    for condition in conditions:
        if condition.type == "PodScheduled" and condition.status == "True":
            return condition.last_transition_time
    return None


def _surplus(alive: list[Any], count: int) -> list[Any]:
    """Which ``count`` of a placeholder's pods to delete: those not on a node yet first (a
    node asked for and no longer needed), then those not ready (still pulling), then those on
    the node holding the most of them (a node held only for placeholders empties, and the
    autoscaler may remove it); the newest first."""
    on_node: dict[str, int] = {}
    for pod in alive:
        node = pod.spec.node_name if pod.spec else None
        if node:
            on_node[node] = on_node.get(node, 0) + 1

    def order(pod: Any) -> tuple[int, int, int, float]:
        node = pod.spec.node_name if pod.spec else None
        created = pod.metadata.creation_timestamp
        return (
            bool(node),
            _pod_ready(pod),
            -on_node.get(node or "", 0),
            -(created.timestamp() if created is not None else 0.0),
        )

    return sorted(alive, key=order)[: max(count, 0)]


def normal_image(ref: str) -> str:
    """An image reference as the kubelet reports it: ``python:3.11`` is
    ``docker.io/library/python:3.11``, ``jupyter/base`` is ``docker.io/jupyter/base:latest``."""
    name, at, digest = ref.partition("@")
    first, slash, _ = name.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        name = f"docker.io/{name}" if slash else f"docker.io/library/{name}"
    if not at and ":" not in name.rpartition("/")[2]:
        name += ":latest"
    return f"{name}{at}{digest}"


def _server(pod: Any) -> tuple[str, str] | None:
    annotations = (pod.metadata.annotations if pod.metadata else None) or {}
    user = annotations.get("hub.jupyter.org/username")
    return (user, annotations.get("hub.jupyter.org/servername", "")) if user else None


def _daemon(pod: Any) -> bool:
    """Whether a pod belongs to a DaemonSet (the image pre-puller, say): on every node."""
    owners = (pod.metadata.owner_references if pod.metadata else None) or []
    return any(getattr(owner, "kind", None) == "DaemonSet" for owner in owners)


def _ready(node: Any) -> bool:
    conditions = (node.status.conditions if node.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def _usable(node: Any, wanted: set[str]) -> bool:
    """Ready, schedulable, and holding every wanted image."""
    status = getattr(node, "status", None)
    if status is None or not _ready(node) or (node.spec and node.spec.unschedulable):
        return False
    held = {normal_image(found) for image in (status.images or []) for found in (image.names or [])}
    return wanted <= held


def _room(node: Any, pods: list[Any], pool: Pool) -> FreeRoom | None:
    """What servers may still use on ``node``: its allocatable, but no more than the catalog
    says a node of ``pool`` offers servers (the rest is for daemon sets and the system), less
    the requests of the pods on it in the servers' and the placeholder's namespaces. None if
    a quantity cannot be read (then the node's room is not counted: more placeholders, never
    fewer)."""
    try:
        allocatable = node.status.allocatable or {}
        cpu = min(parse_cpu(allocatable.get("cpu", "0")), pool.node_cpu)
        memory = min(parse_memory(allocatable.get("memory", "0")), pool.node_memory)
        for pod in pods:
            pod_cpu, pod_memory = _requests(pod)
            cpu -= pod_cpu
            memory -= pod_memory
    except (ValueError, AttributeError, TypeError):
        return None
    return FreeRoom(node.metadata.name, max(cpu, 0.0), max(memory, 0))


def _requests(pod: Any) -> tuple[float, int]:
    """A pod's CPU and memory request as the scheduler counts it: the larger of its
    containers' sum and its largest init container, plus its overhead."""

    def of(containers: Any) -> list[tuple[float, int]]:
        found = []
        for container in containers or []:
            requests = (container.resources.requests if container.resources else None) or {}
            found.append(
                (parse_cpu(requests.get("cpu", "0")), parse_memory(requests.get("memory", "0")))
            )
        return found

    spec = pod.spec
    main = of(spec.containers if spec else None)
    init = of(spec.init_containers if spec else None)
    overhead = (spec.overhead if spec else None) or {}
    cpu = max(sum(c for c, _ in main), max((c for c, _ in init), default=0.0))
    memory = max(sum(m for _, m in main), max((m for _, m in init), default=0))
    return (
        cpu + parse_cpu(overhead.get("cpu", "0")),
        memory + parse_memory(overhead.get("memory", "0")),
    )


def _api_problem(where: str, error: ApiException) -> str:
    status = error.status
    if status == 404:
        return f"{where} does not exist (create the placeholders: docs, deployment guide)"
    if status in (401, 403):
        return (
            f"{where}: the API refused the scaler ({status} {error.reason}); its service account"
            " needs get and patch on deployments/scale and statefulsets/scale (kind Pods: get"
            " on its PodTemplate; list, create and delete on pods), and the Role"
            " from `campushub manifests` names only the catalog's placeholders (a placeholder"
            " missing from it is refused, not reported missing)"
        )
    if status == 409:
        return f"{where}: conflict (409), it changed meanwhile"
    return f"{where}: the API answered {status} {error.reason or ''}".rstrip()


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error}"[:200]
