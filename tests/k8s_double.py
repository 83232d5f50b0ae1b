"""A small HTTP double of the Kubernetes API endpoints the scaler uses, and nothing more.

The scaler reads and patches the ``scale`` subresource of Deployments and StatefulSets, reads
the object itself (how many replicas are ready), and lists a pool's nodes and the pods on a
node (to find room already free):

    GET   /apis/apps/v1/namespaces/{ns}/{deployments|statefulsets}/{name}
    GET   /apis/apps/v1/namespaces/{ns}/{deployments|statefulsets}/{name}/scale
    PATCH /apis/apps/v1/namespaces/{ns}/{deployments|statefulsets}/{name}/scale
    GET   /api/v1/nodes?labelSelector=k=v,...   (or fieldSelector=metadata.name=N)
    GET   /api/v1/namespaces/{ns}/pods?fieldSelector=spec.nodeName=N,status.phase!=Succeeded,...

and, for placeholders of kind ``Pods``, reads their PodTemplate and makes and deletes pods:

    GET    /api/v1/namespaces/{ns}/podtemplates/{name}
    GET    /api/v1/namespaces/{ns}/pods?labelSelector=campushub/placeholder=NAME
    POST   /api/v1/namespaces/{ns}/pods        (metadata.generateName)
    DELETE /api/v1/namespaces/{ns}/pods/{name}

A pod made through the API is Pending on no node until a test binds it (``bind``), as the
scheduler would; a test preempts one by removing it (``remove_pod``).

Like the real API server it wants a bearer token, answers ``autoscaling/v1`` ``Scale``
objects, a ``Status`` object with the reason on errors (404 NotFound, 401, 415 for a patch
type it does not take, 422 for a bad replica count), and takes JSON merge patches and
strategic merge patches. Tests queue faults (a status such as 500 or 409, or a hang longer
than the client's timeout) for the next requests, and read the request log.

It runs a tornado server on a free loopback port in its own thread, so synchronous tests and
other processes (the hub-managed scaler service) can use it. ``kubeconfig()`` writes a
kubeconfig pointing at it. Only the tests use it; nothing under campushub/ does.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tornado import httpserver, web

PATH = r"/apis/apps/v1/namespaces/([a-z0-9-]+)/(deployments|statefulsets)/([a-z0-9.-]+)(/scale)?"
KINDS = {"deployments": "Deployment", "statefulsets": "StatefulSet"}


@dataclass
class Fault:
    """What to do to the next matching request: answer ``status``, or hang ``hang`` seconds."""

    method: str  # GET, PATCH or * for any
    status: int = 500
    hang: float = 0.0


@dataclass
class Logged:
    method: str
    path: str
    content_type: str
    body: Any
    status: int


@dataclass
class Node:
    name: str
    labels: dict[str, str]
    cpu: str = "8"
    memory: str = "64Gi"
    images: list[str] = field(default_factory=list)
    ready: bool = True
    unschedulable: bool = False
    created: float = field(default_factory=time.time)


@dataclass
class Pod:
    namespace: str
    name: str
    node: str
    cpu: str | None = None
    memory: str | None = None
    phase: str = "Running"
    annotations: dict[str, str] = field(default_factory=dict)
    owner: str | None = None  # the kind of its controller, such as DaemonSet
    labels: dict[str, str] = field(default_factory=dict)
    ready: bool = True  # with phase Running: its Ready condition
    created: float = field(default_factory=time.time)
    spec: dict[str, Any] | None = None  # as made through the API; None: one container
    scheduled: float | None = None  # when bound to its node (None with a node: when made)


@dataclass
class Cluster:
    token: str
    nodes: dict[str, Node] = field(default_factory=dict)
    pods: list[Pod] = field(default_factory=list)
    # (namespace, resource, name) -> replicas
    objects: dict[tuple[str, str, str], int] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    log: list[Logged] = field(default_factory=list)
    versions: dict[tuple[str, str, str], int] = field(default_factory=dict)
    # (namespace, resource, name) -> ready replicas, where not all are
    ready: dict[tuple[str, str, str], int] = field(default_factory=dict)
    # (namespace, name) -> a PodTemplate's template (metadata and spec)
    templates: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    made: int = 0  # pods made through the API, for their generated names
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fault(self, method: str) -> Fault | None:
        with self.lock:
            for index, fault in enumerate(self.faults):
                if fault.method in (method, "*"):
                    return self.faults.pop(index)
        return None


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class ScaleHandler(web.RequestHandler):
    def initialize(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def check_xsrf_cookie(self) -> None:  # an API, not a form
        pass

    def answer(self, code: int, body: dict[str, Any]) -> None:
        parsed: Any = None
        if self.request.body:
            try:
                parsed = json.loads(self.request.body)
            except ValueError:
                parsed = self.request.body.decode("utf-8", "replace")
        with self.cluster.lock:
            self.cluster.log.append(
                Logged(
                    self.request.method or "",
                    self.request.path,
                    self.request.headers.get("Content-Type", ""),
                    parsed,
                    code,
                )
            )
        self.set_status(code)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    async def prepare(self) -> None:
        if self.request.headers.get("Authorization") != f"Bearer {self.cluster.token}":
            self.answer(401, _status(401, "Unauthorized", "Unauthorized"))
            return
        fault = self.cluster.next_fault(self.request.method or "")
        if fault is not None:
            if fault.hang:
                await asyncio.sleep(fault.hang)
            reason = {409: "Conflict", 500: "InternalError", 503: "ServiceUnavailable"}.get(
                fault.status, "Failure"
            )
            self.answer(fault.status, _status(fault.status, reason, f"injected {fault.status}"))

    def scale(self, namespace: str, resource: str, name: str) -> dict[str, Any] | None:
        key = (namespace, resource, name)
        with self.cluster.lock:
            if key not in self.cluster.objects:
                return None
            replicas = self.cluster.objects[key]
            version = self.cluster.versions.get(key, 1)
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "resourceVersion": str(version),
                "uid": f"uid-{namespace}-{resource}-{name}",
            },
            "spec": {"replicas": replicas},
            "status": {"replicas": replicas, "selector": f"app={name}"},
        }

    def not_found(self, resource: str, name: str) -> None:
        message = f'{resource}.apps "{name}" not found'
        self.answer(404, _status(404, "NotFound", message))

    def workload(self, namespace: str, resource: str, name: str) -> dict[str, Any] | None:
        """The Deployment or StatefulSet itself: what the client needs of it, and its count
        of ready replicas."""
        key = (namespace, resource, name)
        with self.cluster.lock:
            if key not in self.cluster.objects:
                return None
            replicas = self.cluster.objects[key]
            ready = min(self.cluster.ready.get(key, replicas), replicas)
        labels = {"app": name}
        return {
            "kind": KINDS[resource],
            "apiVersion": "apps/v1",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "pause", "image": "pause:3.10"}]},
                },
                **({"serviceName": name} if resource == "statefulsets" else {}),
            },
            "status": {"replicas": replicas, **({"readyReplicas": ready} if ready else {})},
        }

    def get(self, namespace: str, resource: str, name: str, subresource: str | None) -> None:
        found = (self.scale if subresource else self.workload)(namespace, resource, name)
        if found is None:
            self.not_found(resource, name)
        else:
            self.answer(200, found)

    def patch(self, namespace: str, resource: str, name: str, subresource: str | None) -> None:
        if not subresource:
            self.answer(405, _status(405, "MethodNotAllowed", "patch the scale"))
            return
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type not in (
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        ):
            self.answer(415, _status(415, "UnsupportedMediaType", f"{content_type} not taken"))
            return
        try:
            body = json.loads(self.request.body)
            replicas = body["spec"]["replicas"]
        except (ValueError, KeyError, TypeError):
            self.answer(400, _status(400, "BadRequest", "the patch is not a scale patch"))
            return
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            message = f'Scale.autoscaling "{name}" is invalid: spec.replicas: {replicas!r}'
            self.answer(422, _status(422, "Invalid", message))
            return
        key = (namespace, resource, name)
        with self.cluster.lock:
            if key not in self.cluster.objects:
                missing = True
            else:
                missing = False
                self.cluster.objects[key] = replicas
                self.cluster.versions[key] = self.cluster.versions.get(key, 1) + 1
        if missing:
            self.not_found(resource, name)
        else:
            self.answer(200, self.scale(namespace, resource, name) or {})


def _selector(text: str) -> list[tuple[str, str, str]]:
    """``a=b,c!=d`` -> [(a, '=', b), (c, '!=', d)]; ValueError for anything else."""
    terms = []
    for term in filter(None, text.split(",")):
        key, op, value = (
            term.partition("!=")
            if "!=" in term
            else term.partition("==")
            if "==" in term
            else term.partition("=")
        )
        if not op or not key:
            raise ValueError(term)
        terms.append((key, "!=" if op == "!=" else "=", value))
    return terms


def _matches(terms: list[tuple[str, str, str]], values: dict[str, str]) -> bool:
    return all((values.get(key) == value) == (op == "=") for key, op, value in terms)


class ListHandler(ScaleHandler):
    """``GET /api/v1/nodes`` and ``GET /api/v1/pods`` with the selectors the scaler sends."""

    def get(self, resource: str, namespace: str | None = None) -> None:
        cluster = self.cluster
        try:
            labels = _selector(self.get_query_argument("labelSelector", ""))
            fields = _selector(self.get_query_argument("fieldSelector", ""))
        except ValueError as error:
            self.answer(400, _status(400, "BadRequest", f"unable to parse selector {error}"))
            return
        with cluster.lock:
            if resource == "nodes":
                items = [
                    _node_object(node)
                    for node in cluster.nodes.values()
                    if _matches(labels, node.labels)
                    and _matches(fields, {"metadata.name": node.name})
                ]
                kind = "NodeList"
            else:
                allowed = {"spec.nodeName", "status.phase", "metadata.namespace"}
                if any(key not in allowed for key, _, _ in fields):
                    self.answer(400, _status(400, "BadRequest", "field label not supported"))
                    return
                items = [
                    _pod_object(pod)
                    for pod in cluster.pods
                    if namespace in (None, pod.namespace)
                    and _matches(labels, pod.labels)
                    and _matches(
                        fields,
                        {
                            "spec.nodeName": pod.node,
                            "status.phase": pod.phase,
                            "metadata.namespace": pod.namespace,
                        },
                    )
                ]
                kind = "PodList"
        self.answer(
            200,
            {
                "kind": kind,
                "apiVersion": "v1",
                "metadata": {"resourceVersion": "1"},
                "items": items,
            },
        )


class NamespacedPods(ListHandler):
    def get(self, resource: str, namespace: str | None = None) -> None:
        namespace = self.request.path.split("/")[4]
        super().get(resource, namespace)

    def post(self, resource: str) -> None:
        namespace = self.request.path.split("/")[4]
        try:
            body = json.loads(self.request.body)
            metadata = body["metadata"]
            spec = body["spec"]
            containers = spec["containers"]
        except (ValueError, KeyError, TypeError):
            self.answer(400, _status(400, "BadRequest", "not a pod"))
            return
        if not isinstance(containers, list) or not containers:
            self.answer(422, _status(422, "Invalid", "spec.containers: Required value"))
            return
        with self.cluster.lock:
            self.cluster.made += 1
            name = (
                metadata.get("name")
                or f"{metadata.get('generateName', 'pod-')}{self.cluster.made:05x}"
            )
            pod = Pod(
                namespace,
                name,
                "",
                phase="Pending",
                ready=False,
                labels=dict(metadata.get("labels") or {}),
                annotations=dict(metadata.get("annotations") or {}),
                spec=spec,
            )
            self.cluster.pods.append(pod)
            answer = _pod_object(pod)
        self.answer(201, answer)


class PodHandler(ScaleHandler):
    """``DELETE /api/v1/namespaces/{ns}/pods/{name}``."""

    def delete(self, namespace: str, name: str) -> None:
        with self.cluster.lock:
            found = [
                pod for pod in self.cluster.pods if (pod.namespace, pod.name) == (namespace, name)
            ]
            for pod in found:
                self.cluster.pods.remove(pod)
        if not found:
            self.answer(404, _status(404, "NotFound", f'pods "{name}" not found'))
        else:
            self.answer(200, _pod_object(found[0]))


class TemplateHandler(ScaleHandler):
    """``GET /api/v1/namespaces/{ns}/podtemplates/{name}``."""

    def get(self, namespace: str, name: str) -> None:
        with self.cluster.lock:
            template = self.cluster.templates.get((namespace, name))
        if template is None:
            self.answer(404, _status(404, "NotFound", f'podtemplates "{name}" not found'))
            return
        self.answer(
            200,
            {
                "kind": "PodTemplate",
                "apiVersion": "v1",
                "metadata": {"name": name, "namespace": namespace},
                "template": template,
            },
        )


def _node_object(node: Node) -> dict[str, Any]:
    return {
        "metadata": {
            "name": node.name,
            "labels": node.labels,
            "creationTimestamp": _timestamp(node.created),
        },
        "spec": {"unschedulable": node.unschedulable} if node.unschedulable else {},
        "status": {
            "allocatable": {"cpu": node.cpu, "memory": node.memory, "pods": "110"},
            "capacity": {"cpu": node.cpu, "memory": node.memory, "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True" if node.ready else "False"}],
            "images": [{"names": [ref], "sizeBytes": 1_000_000} for ref in node.images],
        },
    }


def _pod_object(pod: Pod) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", pod.cpu), ("memory", pod.memory)) if v is not None}
    spec = dict(
        pod.spec
        or {"containers": [{"name": "main", "image": "x", "resources": {"requests": requests}}]}
    )
    if pod.node:
        spec["nodeName"] = pod.node
    created = _timestamp(pod.created)
    ready = "True" if pod.ready and pod.phase == "Running" else "False"
    if pod.node:
        bound = pod.created if pod.scheduled is None else pod.scheduled
        scheduled = {"status": "True", "lastTransitionTime": _timestamp(bound)}
    else:
        scheduled = {"status": "False", "reason": "Unschedulable"}
    return {
        "metadata": {
            "name": pod.name,
            "namespace": pod.namespace,
            "labels": pod.labels,
            "creationTimestamp": created,
            "annotations": pod.annotations,
            **(
                {
                    "ownerReferences": [
                        {"apiVersion": "apps/v1", "kind": pod.owner, "name": "x", "uid": "u"}
                    ]
                }
                if pod.owner
                else {}
            ),
        },
        "spec": spec,
        "status": {
            "phase": pod.phase,
            "conditions": [
                {"type": "PodScheduled", **scheduled},
                {"type": "Ready", "status": ready},
            ],
        },
    }


def _timestamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class KubeDouble:
    """The double, running: ``url``, the ``cluster`` state, fault injection, kubeconfig."""

    def __init__(self, port: int, token: str = "double-token") -> None:
        self.port = port
        self.cluster = Cluster(token)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: httpserver.HTTPServer | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="k8s-double", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        app = web.Application(
            [
                (PATH, ScaleHandler, {"cluster": self.cluster}),
                (r"/api/v1/(nodes|pods)", ListHandler, {"cluster": self.cluster}),
                (
                    r"/api/v1/namespaces/[a-z0-9-]+/(pods)",
                    NamespacedPods,
                    {"cluster": self.cluster},
                ),
                (
                    r"/api/v1/namespaces/([a-z0-9-]+)/pods/([a-z0-9.-]+)",
                    PodHandler,
                    {"cluster": self.cluster},
                ),
                (
                    r"/api/v1/namespaces/([a-z0-9-]+)/podtemplates/([a-z0-9.-]+)",
                    TemplateHandler,
                    {"cluster": self.cluster},
                ),
            ]
        )
        self._server = httpserver.HTTPServer(app)
        self._server.listen(self.port, "127.0.0.1")
        self._ready.set()
        loop.run_forever()
        self._server.stop()
        loop.close()

    def start(self) -> KubeDouble:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the Kubernetes double did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # -- the state ------------------------------------------------------------------------------

    def create(self, kind: str, name: str, namespace: str, replicas: int = 0) -> None:
        resource = {v: k for k, v in KINDS.items()}[kind]
        with self.cluster.lock:
            self.cluster.objects[(namespace, resource, name)] = replicas

    def delete(self, kind: str, name: str, namespace: str) -> None:
        resource = {v: k for k, v in KINDS.items()}[kind]
        with self.cluster.lock:
            self.cluster.objects.pop((namespace, resource, name), None)

    def set_ready(self, kind: str, name: str, namespace: str, ready: int) -> None:
        """How many of its replicas are ready (all, until set)."""
        resource = {v: k for k, v in KINDS.items()}[kind]
        with self.cluster.lock:
            self.cluster.ready[(namespace, resource, name)] = ready

    def replicas(self, kind: str, name: str, namespace: str) -> int | None:
        resource = {v: k for k, v in KINDS.items()}[kind]
        with self.cluster.lock:
            return self.cluster.objects.get((namespace, resource, name))

    def add_node(self, node: Node) -> None:
        with self.cluster.lock:
            self.cluster.nodes[node.name] = node

    def add_pod(self, pod: Pod) -> None:
        with self.cluster.lock:
            self.cluster.pods.append(pod)

    def add_template(self, namespace: str, name: str, template: dict[str, Any]) -> None:
        """A PodTemplate's ``template`` (its pods' metadata and spec)."""
        with self.cluster.lock:
            self.cluster.templates[(namespace, name)] = template

    def pods_labelled(self, namespace: str, **labels: str) -> list[Pod]:
        with self.cluster.lock:
            return [
                pod
                for pod in self.cluster.pods
                if pod.namespace == namespace
                and all(pod.labels.get(k) == v for k, v in labels.items())
            ]

    def bind(self, namespace: str, name: str, node: str, ready: bool = True) -> None:
        """As the scheduler and kubelet would: the pod runs on ``node`` (ready, or pulling),
        bound now."""
        with self.cluster.lock:
            for pod in self.cluster.pods:
                if (pod.namespace, pod.name) == (namespace, name):
                    pod.node, pod.phase, pod.ready = node, "Running", ready
                    pod.scheduled = time.time()

    def remove_pod(self, namespace: str, name: str) -> None:
        """As a preemption would: the pod is gone."""
        with self.cluster.lock:
            self.cluster.pods[:] = [
                pod for pod in self.cluster.pods if (pod.namespace, pod.name) != (namespace, name)
            ]

    def clear_nodes(self) -> None:
        with self.cluster.lock:
            self.cluster.nodes.clear()
            self.cluster.pods.clear()

    def inject(self, *faults: Fault) -> None:
        with self.cluster.lock:
            self.cluster.faults.extend(faults)

    def requests(self) -> list[Logged]:
        with self.cluster.lock:
            return list(self.cluster.log)

    def clear_log(self) -> None:
        with self.cluster.lock:
            self.cluster.log.clear()
            self.cluster.faults.clear()

    def wait_for(self, kind: str, name: str, namespace: str, replicas: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.replicas(kind, name, namespace) == replicas:
                return True
            time.sleep(0.1)  # polling interval
        return False

    def kubeconfig(self, path: Path, namespace: str = "campus") -> Path:
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "double", "cluster": {"server": self.url}}],
                    "users": [{"name": "scaler", "user": {"token": self.cluster.token}}],
                    "contexts": [
                        {
                            "name": "double",
                            "context": {
                                "cluster": "double",
                                "user": "scaler",
                                "namespace": namespace,
                            },
                        }
                    ],
                    "current-context": "double",
                }
            )
        )
        return path
