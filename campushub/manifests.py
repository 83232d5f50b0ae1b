"""The Kubernetes objects a campushub deployment needs beside zero-to-jupyterhub's, made from
the catalog: plain dicts in, plain dicts out, no Kubernetes client.

``manifests(catalog, namespace=..., catalog_text=...)`` returns, in the order to apply them:

- the PriorityClass ``<release>-campushub-placeholder`` (value -10, never preempting), so any
  course server (priority 0) evicts a placeholder pod when it needs the room;
- the ConfigMap ``campushub-catalog`` holding the catalog as ``courses.yaml``, which the hub
  pod mounts;
- with ``storage``, a PersistentVolumeClaim for each claim the catalog's servers mount: the
  shared home (``home-nfs`` unless named otherwise) and each course's shared data;
- per namespace holding placeholders, the Role ``campushub-scaler`` and its RoleBinding to the
  hub's ServiceAccount: the scaler runs inside the hub pod as a hub-managed service, so it
  acts with the hub's ServiceAccount. It may list Deployments and StatefulSets, and read and
  resize only the catalog's placeholders; for placeholders of kind ``Pods``, read only their
  PodTemplates and list, create and delete pods (Kubernetes cannot narrow these to names the
  API server generates, so such placeholders are best given a namespace of their own); and,
  to count the room already free on a pool's warm
  nodes, the ClusterRole ``<release>-campushub-scaler-room`` (list nodes) and, in the hub's
  namespace where the servers run and in each namespace holding placeholders, the Role
  ``campushub-scaler-room`` (list pods), with their bindings;
- per pool with a ``placeholder``, its Deployment or StatefulSet with ``min`` replicas, or
  (kind ``Pods``) the PodTemplate the scaler makes its pods from: a pause
  pod as large as one node (unit ``node``) or one person's largest guarantee (unit ``user``),
  on the pool's nodes, scheduled by zero-to-jupyterhub's user scheduler, with one init
  container per image the pool's courses use. Each init container runs ``/bin/sh -c "exit 0"``
  (every course image has ``/bin/sh``; not every one has ``true``) and ends at once: what
  matters is that the kubelet pulled its image, so the node already has the course images
  when the students arrive.

Cluster-wide objects carry the release's name, as zero-to-jupyterhub's own do, so two hubs
(production and staging, say) share a cluster when their releases are named differently.

``campushub manifests courses.yaml --namespace NS --release R`` prints them as YAML for
``kubectl apply``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from .catalog import Catalog, Pool
from .units import format_cpu, format_memory

PRIORITY_CLASS: Final = "campushub-placeholder"  # prefixed with the release: cluster-wide
PLACEHOLDER_PRIORITY: Final = -10
SCALER_ROLE: Final = "campushub-scaler"
ROOM_ROLE: Final = "campushub-scaler-room"  # the ClusterRole's name is prefixed with the release
CATALOG_CONFIGMAP: Final = "campushub-catalog"
CATALOG_KEY: Final = "courses.yaml"
# The pause image zero-to-jupyterhub 4.3 uses for its own placeholders.
PAUSE_IMAGE: Final = "registry.k8s.io/pause:3.10.1"
# Present in every course image (python, r, julia); `true` is not in every image's PATH.
PULL_ONLY_COMMAND: Final = ("/bin/sh", "-c", "exit 0")
PLACEHOLDER_APP: Final = "campushub-placeholder"
POOL_LABEL: Final = "campushub/pool"
# On each pod the scaler makes from a ``Pods`` placeholder's PodTemplate: the template's name.
PLACEHOLDER_LABEL: Final = "campushub/placeholder"

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Storage:
    """How ``campushub manifests`` makes the claims the catalog names: the shared home claim
    (``CourseKubeSpawner.home_volume_claim``) and each course's ``shared.volume``."""

    home_claim: str = "home-nfs"
    storage_class: str | None = None  # None: the cluster's default StorageClass
    access_mode: str = "ReadWriteMany"
    home_size: str = "100Gi"
    course_data_size: str = "10Gi"


def claims(catalog: Catalog, namespace: str, storage: Storage) -> list[Manifest]:
    """A PersistentVolumeClaim for every claim the catalog's servers mount: the shared home if
    any course (or the general environment) has ``home: shared``, and each course's shared
    data. Per-course homes are made by KubeSpawner when a server first starts."""
    wanted: dict[str, tuple[str, str]] = {}
    sources = [catalog.defaults, *catalog.courses.values()]
    if any(source.home == "shared" for source in sources):
        wanted[storage.home_claim] = (storage.home_size, "every person's home (subPath <username>)")
    for course in catalog.courses.values():
        if course.shared is not None and course.shared.volume not in wanted:
            wanted[course.shared.volume] = (
                storage.course_data_size,
                f"shared data of {course.slug}",
            )
    return [
        claim(name, namespace, size, purpose, storage) for name, (size, purpose) in wanted.items()
    ]


def claim(name: str, namespace: str, size: str, purpose: str, storage: Storage) -> Manifest:
    spec: dict[str, Any] = {
        "accessModes": [storage.access_mode],
        "resources": {"requests": {"storage": size}},
    }
    if storage.storage_class is not None:
        spec["storageClassName"] = storage.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "campushub"},
            "annotations": {"campushub.io/holds": purpose},
        },
        "spec": spec,
    }


def manifests(
    catalog: Catalog,
    *,
    namespace: str,
    catalog_text: str,
    release: str = "jupyterhub",
    service_account: str = "hub",
    storage: Storage | None = None,
) -> list[Manifest]:
    """Every object campushub adds to a zero-to-jupyterhub release, in the order to apply
    them. ``namespace`` is the hub's; ``release`` the Helm release's name (zero-to-jupyterhub
    names its user scheduler ``<release>-user-scheduler``; campushub's cluster-wide objects
    carry it too, so two hubs share a cluster); ``service_account`` the hub's ServiceAccount
    (``hub`` in zero-to-jupyterhub); ``storage`` how the catalog's claims are made (None: no
    claims, for storage made some other way)."""
    objects = [priority_class(release), catalog_config_map(catalog_text, namespace)]
    if storage is not None:
        objects.extend(claims(catalog, namespace, storage))
    pools = [pool for pool in catalog.pools.values() if pool.placeholder is not None]
    by_namespace: dict[str, list[Pool]] = {}
    for pool in pools:
        by_namespace.setdefault(placeholder_namespace(pool, namespace), []).append(pool)
    for placeholder_ns, its_pools in sorted(by_namespace.items()):
        workloads = sorted(
            {pool.placeholder.name for pool in its_pools if pool.placeholder.kind != "Pods"}
        )
        templates = sorted(
            {pool.placeholder.name for pool in its_pools if pool.placeholder.kind == "Pods"}
        )
        objects.append(scaler_role(placeholder_ns, workloads, templates))
        objects.append(scaler_role_binding(placeholder_ns, namespace, service_account))
    if pools:
        objects.append(room_cluster_role(release))
        objects.append(room_binding("ClusterRole", namespace, service_account, release))
        # Room is counted from the pods of the hub's namespace (the servers) and of every
        # namespace holding placeholders.
        for pods_ns in sorted({namespace, *by_namespace}):
            objects.append(pods_role(pods_ns))
            objects.append(room_binding("Role", namespace, service_account, release, pods_ns))
    objects.extend(placeholder(catalog, pool, namespace, release) for pool in pools)
    return objects


def cluster_name(release: str, name: str) -> str:
    """The name of a cluster-wide object of ``release``'s hub: ``<release>-<name>``, as
    zero-to-jupyterhub names its own (``<release>-user-scheduler``)."""
    return f"{release}-{name}"


def room_cluster_role(release: str) -> Manifest:
    """Read-only: list nodes (allocatable, images, readiness). Cluster-wide, as nodes are."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": cluster_name(release, ROOM_ROLE),
            "labels": {"app.kubernetes.io/part-of": "campushub"},
        },
        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}],
    }


def pods_role(pods_namespace: str) -> Manifest:
    """Read-only: list the pods of one namespace where servers or placeholders run, never
    those of other namespaces (their specs may hold other people's secrets)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {
            "name": ROOM_ROLE,
            "namespace": pods_namespace,
            "labels": {"app.kubernetes.io/part-of": "campushub"},
        },
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
    }


def room_binding(
    kind: str,
    hub_namespace: str,
    service_account: str,
    release: str,
    pods_namespace: str | None = None,
) -> Manifest:
    """The ClusterRole, or the Role in ``pods_namespace`` (default: the hub's), above for the
    hub's ServiceAccount."""
    name = cluster_name(release, ROOM_ROLE) if kind == "ClusterRole" else ROOM_ROLE
    metadata: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/part-of": "campushub"}}
    if kind == "Role":
        metadata["namespace"] = pods_namespace or hub_namespace
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": f"{kind}Binding",
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
        "subjects": [
            {"kind": "ServiceAccount", "name": service_account, "namespace": hub_namespace}
        ],
    }


def placeholder_namespace(pool: Pool, namespace: str) -> str:
    """Where ``pool``'s placeholder lives: its own ``namespace``, else the hub's."""
    assert pool.placeholder is not None
    return pool.placeholder.namespace or namespace


def priority_class(release: str) -> Manifest:
    """Placeholders' priority: below every course server's (0), and never preempting."""
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {
            "name": cluster_name(release, PRIORITY_CLASS),
            "labels": {"app.kubernetes.io/part-of": "campushub"},
        },
        "value": PLACEHOLDER_PRIORITY,
        "globalDefault": False,
        "preemptionPolicy": "Never",
        "description": "campushub placeholder pods: any course server evicts them",
    }


def catalog_config_map(catalog_text: str, namespace: str) -> Manifest:
    """The catalog as the hub pod mounts it (``/etc/campushub/courses.yaml``)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": CATALOG_CONFIGMAP,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "campushub"},
        },
        "data": {CATALOG_KEY: catalog_text},
    }


def scaler_role(
    namespace: str, placeholder_names: list[str], template_names: Sequence[str] = ()
) -> Manifest:
    """What the scaler may do in ``namespace``: list, and read and resize the placeholders
    (``placeholder_names``: Deployments and StatefulSets); for ``template_names`` (kind
    ``Pods``), read those PodTemplates and list, create and delete pods."""
    workloads = ["deployments", "statefulsets"]
    rules: list[dict[str, Any]] = []
    if placeholder_names:
        rules += [
            # list cannot be narrowed to names; it reads, never writes.
            {"apiGroups": ["apps"], "resources": workloads, "verbs": ["list"]},
            {
                "apiGroups": ["apps"],
                "resources": workloads,
                "resourceNames": list(placeholder_names),
                "verbs": ["get"],
            },
            {
                "apiGroups": ["apps"],
                "resources": ["deployments/scale", "statefulsets/scale"],
                "resourceNames": list(placeholder_names),
                "verbs": ["get", "patch", "update"],
            },
        ]
    if template_names:
        rules += [
            {
                "apiGroups": [""],
                "resources": ["podtemplates"],
                "resourceNames": list(template_names),
                "verbs": ["get"],
            },
            # The pods' names are generated: create and delete cannot be narrowed to them.
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "create", "delete"]},
        ]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {
            "name": SCALER_ROLE,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "campushub"},
        },
        "rules": rules,
    }


def scaler_role_binding(namespace: str, hub_namespace: str, service_account: str) -> Manifest:
    """The Role above for the hub's ServiceAccount, whose pod runs the scaler."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {
            "name": SCALER_ROLE,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "campushub"},
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SCALER_ROLE},
        "subjects": [
            {"kind": "ServiceAccount", "name": service_account, "namespace": hub_namespace}
        ],
    }


def pool_images(catalog: Catalog, pool: Pool) -> list[str]:
    """The image references servers in ``pool`` use, once each: the defaults' (the general
    environment) if ``pool`` is the default pool, then the courses' in catalog order."""
    refs = [catalog.defaults.image.ref] if catalog.defaults.pool is pool else []
    refs += [course.image.ref for course in catalog.courses.values() if course.pool is pool]
    return list(dict.fromkeys(refs))


def placeholder_requests(catalog: Catalog, pool: Pool) -> dict[str, str]:
    """What one placeholder pod reserves: a node (unit ``node``), or the largest guarantee of
    a server in the pool (unit ``user``), GPUs included."""
    if pool.unit == "node":
        return {"cpu": format_cpu(pool.node_cpu), "memory": format_memory(pool.node_memory)}
    servers = [
        (course.cpu, course.memory, course.gpu)
        for course in catalog.courses.values()
        if course.pool is pool
    ]
    if catalog.defaults.pool is pool:
        defaults = catalog.defaults
        servers.append((defaults.cpu, defaults.memory, defaults.gpu))
    requests = {
        "cpu": format_cpu(max((cpu.guarantee for cpu, _, _ in servers), default=0.001)),
        "memory": format_memory(max((memory.guarantee for _, memory, _ in servers), default=1)),
    }
    gpus = max((gpu for _, _, gpu in servers), default=0)
    if gpus:
        requests["nvidia.com/gpu"] = str(gpus)
    return requests


def placeholder(catalog: Catalog, pool: Pool, namespace: str, release: str) -> Manifest:
    """``pool``'s placeholder: a Deployment or StatefulSet with ``min`` replicas, or (kind
    ``Pods``) the PodTemplate the scaler makes each placeholder pod from."""
    assert pool.placeholder is not None
    labels = {"app.kubernetes.io/name": PLACEHOLDER_APP, POOL_LABEL: pool.name}
    requests = placeholder_requests(catalog, pool)
    # Extended resources such as GPUs must be limited to what is requested.
    limits = {key: value for key, value in requests.items() if "/" in key}
    pod_spec: dict[str, Any] = {
        "priorityClassName": cluster_name(release, PRIORITY_CLASS),
        "schedulerName": f"{release}-user-scheduler",
        "terminationGracePeriodSeconds": 0,
        "automountServiceAccountToken": False,
        "initContainers": [
            {
                "name": name,
                "image": ref,
                "imagePullPolicy": "IfNotPresent",
                "command": list(PULL_ONLY_COMMAND),
            }
            for name, ref in _init_container_names(pool_images(catalog, pool))
        ],
        "containers": [
            {
                "name": "pause",
                "image": PAUSE_IMAGE,
                "resources": {"requests": requests, **({"limits": limits} if limits else {})},
            }
        ],
    }
    if pool.node_selector:
        pod_spec["nodeSelector"] = dict(pool.node_selector)
    if pool.tolerations:
        pod_spec["tolerations"] = [dict(toleration) for toleration in pool.tolerations]
    metadata = {
        "name": pool.placeholder.name,
        "namespace": placeholder_namespace(pool, namespace),
        "labels": {**labels, "app.kubernetes.io/part-of": "campushub"},
    }
    if pool.placeholder.kind == "Pods":
        return {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": metadata,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        }
    spec: dict[str, Any] = {
        "replicas": pool.min,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": pod_spec},
    }
    if pool.placeholder.kind == "StatefulSet":
        # In parallel: one Pending pod (a node on its way) must not hold back the others.
        spec["podManagementPolicy"] = "Parallel"
        # Required by Kubernetes before 1.32; no Service of that name needs to exist.
        spec["serviceName"] = pool.placeholder.name
    return {
        "apiVersion": "apps/v1",
        "kind": pool.placeholder.kind,
        "metadata": metadata,
        "spec": spec,
    }


def _init_container_names(refs: list[str]) -> list[tuple[str, str]]:
    """A container name for each image: ``pull-`` and the image's repository name."""
    named: list[tuple[str, str]] = []
    taken: set[str] = set()
    for index, ref in enumerate(refs, start=1):
        repository = ref.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
        base = "pull-" + (re.sub(r"[^a-z0-9-]+", "-", repository.lower()).strip("-") or "image")
        name = base[:50].rstrip("-")
        if name in taken:
            name = f"{name}-{index}"
        taken.add(name)
        named.append((name, ref))
    return named
