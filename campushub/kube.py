"""``CourseKubeSpawner``: the catalog's decisions applied to KubeSpawner's pods.

Imported by :mod:`campushub.spawner` on first use (the ``course-kube`` entry point), so that a
hub running local servers never imports KubeSpawner.
"""

from __future__ import annotations

import copy
import dataclasses
import html
from collections.abc import AsyncIterator
from typing import Any

from jupyterhub.utils import maybe_future
from kubespawner import KubeSpawner
from traitlets import Bool, Unicode, default

from .environments import HOME_MOUNT, ServerPlan, Volume
from .pods import (
    FOLDERS_CONTAINER,
    folders_init_container,
    guaranteed_init_containers,
    init_resources,
)
from .spawner import CourseSpawnerMixin, _literals, literal

# Where campushub's course images keep nbgrader's configuration folders (images/python).
IMAGE_GRADING_CONFIG = "/etc/campushub/jupyter-config-grading"

HARDENED_CONTAINER: dict[str, Any] = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
HARDENED_POD: dict[str, Any] = {"seccompProfile": {"type": "RuntimeDefault"}}


def claim_volume(volume: Volume) -> dict[str, Any]:
    """A pod volume backed by the volume's claim."""
    return {
        "name": literal(volume.name),
        "persistentVolumeClaim": {"claimName": literal(volume.claim)},
    }


def volume_mount(volume: Volume) -> dict[str, Any]:
    """The container's mount of ``volume``."""
    mount: dict[str, Any] = {
        "name": literal(volume.name),
        "mountPath": literal(volume.mount_path),
        "readOnly": volume.read_only,
    }
    if volume.sub_path:
        mount["subPath"] = literal(volume.sub_path)
    return mount


class CourseKubeSpawner(CourseSpawnerMixin, KubeSpawner):
    """KubeSpawner for campushub: each course server a pod built from the catalog."""

    home_volume_claim = Unicode(
        "home-nfs",
        config=True,
        help="""The ReadWriteMany claim (NFS, Filestore) holding every person's home, mounted
        at /home/jovyan with subPath <username> in all of a person's servers, for courses
        whose catalog ``home`` is ``shared``. Courses with ``home: per-course`` get a claim of
        their own per person (``home-{user_server}``), which KubeSpawner creates.""",
    )

    home_storage_capacity = Unicode(
        "10Gi",
        config=True,
        help="""Size of each per-course home claim (``home: per-course``), unless
        ``storage_capacity`` is set.""",
    )

    prepare_folders = Bool(
        True,
        config=True,
        help="""Before each server starts, create the person's folders on the shared storage
        (their folder of the home claim, and the course's shared data when they may write
        it) and give them to the server's user (``uid``, 1000 unless set, and ``fs_gid``,
        100 unless set), in an init container named ``campushub-folders`` that runs the
        server's image as root with only the chown capabilities and small resources (requests
        equal to limits, never above the server's guarantees). Without it the kubelet creates
        a new ``subPath`` folder owned by root and the person cannot write to their home.
        Turn off only where the storage already gives each person their folder.""",
    )

    harden_pods = Bool(
        True,
        config=True,
        help="""Run each server's container hardened: ``runAsNonRoot``, no privilege
        escalation, every capability dropped, and the runtime's default seccomp profile
        (``seccompProfile: RuntimeDefault``, for the pod). Settings of
        ``container_security_context`` and ``pod_security_context`` in the configuration win,
        key by key. Only the ``campushub-folders`` init step runs as root, with the chown
        capabilities alone.""",
    )

    @default("delete_pvc")
    def _default_delete_pvc(self) -> bool:
        # Removing a course server must not delete a student's work with it.
        return False

    # The traits apply_plan merges into, as configured (e.g. by zero-to-jupyterhub), kept
    # from the first plan so a reused spawner does not carry one course's settings to another.
    _configured: dict[str, Any] | None = None
    _MERGED = (
        "node_selector",
        "tolerations",
        "environment",
        "extra_labels",
        "extra_annotations",
        "extra_resource_limits",
        "extra_resource_guarantees",
        "volumes",
        "volume_mounts",
        "init_containers",
        "container_security_context",
        "pod_security_context",
    )

    @default("profile_list")
    def _default_profile_list(self) -> Any:
        def profiles(spawner: CourseKubeSpawner) -> list[dict[str, Any]]:
            offered = spawner.course_choices()
            # KubeSpawner's form template does not escape: catalog text is escaped here.
            return [
                {
                    "display_name": html.escape(choice.display_name),
                    "slug": choice.slug,
                    "description": html.escape(choice.description),
                    "default": index == 0,
                }
                for index, choice in enumerate(offered)
            ]

        return profiles

    @default("options_form")
    def _default_options_form(self) -> Any:
        # KubeSpawner renders its form even for an empty profile list, and JupyterHub shows
        # any non-empty form: a course server, with nothing to choose, would get a blank one.
        async def form(spawner: CourseKubeSpawner) -> str:
            offered = spawner.profile_list
            if callable(offered):
                offered = await maybe_future(offered(spawner))
            offered = spawner._sorted_dict_values(offered)
            return spawner._render_options_form(offered) if offered else ""

        return form

    def apply_plan(self, plan: ServerPlan) -> None:
        """Set KubeSpawner's traits from the plan, before the pod manifest is built.

        Settings configured elsewhere (zero-to-jupyterhub's user-node tolerations, extra
        volumes, labels) are kept; the plan's are added, and win where both set a key.
        """
        if self._configured is None:
            self._configured = {name: copy.deepcopy(getattr(self, name)) for name in self._MERGED}
        base = self._configured
        self.image = plan.image.ref
        self.cpu_guarantee, self.cpu_limit = plan.cpu.guarantee, plan.cpu.limit
        self.mem_guarantee, self.mem_limit = plan.memory.guarantee, plan.memory.limit
        self.node_selector = {**base["node_selector"], **plan.pool.node_selector}
        pool_tolerations = [dict(toleration) for toleration in plan.pool.tolerations]
        self.tolerations = [
            *(t for t in base["tolerations"] if t not in pool_tolerations),
            *pool_tolerations,
        ]
        self.environment = {**base["environment"], **_literals(plan.env)}
        if plan.grading:  # nbgrader's configuration, which the course image holds
            self.environment.update(_literals(self.grading_environment(plan, HOME_MOUNT)))
            self.environment["JUPYTER_CONFIG_PATH"] = f"{IMAGE_GRADING_CONFIG}/{plan.grading}"
        self.default_url = literal(plan.default_url)
        self.extra_labels = {**base["extra_labels"], **_literals(plan.labels)}
        self.extra_annotations = {**base["extra_annotations"], **_literals(plan.annotations)}
        gpu = {"nvidia.com/gpu": str(plan.gpu)} if plan.gpu else {}
        disk = {"ephemeral-storage": str(plan.disk)}
        self.extra_resource_limits = {**base["extra_resource_limits"], **gpu, **disk}
        self.extra_resource_guarantees = {**base["extra_resource_guarantees"], **gpu}
        if plan.exam and "ephemeral-storage" in self.extra_resource_guarantees:
            # Guaranteed QoS needs equal requests and limits for every resource asked for.
            self.extra_resource_guarantees["ephemeral-storage"] = str(plan.disk)
        # Hardened: no root, no capabilities, the runtime's default seccomp profile; what
        # the configuration sets wins, key by key (harden_pods turns this off).
        if self.harden_pods:
            self.container_security_context = {
                **HARDENED_CONTAINER,
                **base["container_security_context"],
            }
            self.pod_security_context = {**HARDENED_POD, **base["pod_security_context"]}
        # The home: one claim shared by all of a person's servers (subPath = username), or
        # one claim per person and course that KubeSpawner creates.
        self.storage_pvc_ensure = plan.home_per_course
        if plan.home_per_course:
            self.pvc_name_template = "home-{user_server}"
            self.pvc_name = self._expand_user_properties(self.pvc_name_template)
            self.storage_capacity = self.storage_capacity or self.home_storage_capacity
        home = (
            Volume("home", self.pvc_name, HOME_MOUNT)
            if plan.home_per_course
            else Volume("home", self.home_volume_claim, HOME_MOUNT, sub_path=plan.home_folder)
        )
        ours = (home, *plan.volumes)
        # Configured mounts at the same paths (a chart's own home volume) give way to ours.
        taken = {volume.mount_path for volume in ours}
        kept_mounts = [m for m in base["volume_mounts"] if m.get("mountPath") not in taken]
        dropped = {m.get("name") for m in base["volume_mounts"]} - {
            m.get("name") for m in kept_mounts
        }
        kept_volumes = [v for v in base["volumes"] if v.get("name") not in dropped]
        self.volumes = [*kept_volumes, *(claim_volume(volume) for volume in ours)]
        self.volume_mounts = [*kept_mounts, *(volume_mount(volume) for volume in ours)]
        self.init_containers = self._init_containers(plan, base["init_containers"], ours)

    def _owner(self) -> tuple[int, int]:
        """The server's user and group, as KubeSpawner runs it (1000:100 unless set)."""
        uid = self.uid if isinstance(self.uid, int) else 1000
        gid = next((g for g in (self.fs_gid, self.gid) if isinstance(g, int)), 100)
        return uid, gid

    def _init_containers(
        self, plan: ServerPlan, configured: Any, ours: tuple[Volume, ...]
    ) -> list[Any]:
        """The configured init containers (zero-to-jupyterhub's ``block-cloud-metadata``,
        ``singleuser.initContainers``), then campushub's folders step; in an exam window every
        one of them with requests equal to limits, so the pod's QoS class is Guaranteed."""
        containers = [
            container
            for container in self._sorted_dict_values(configured)
            if (container.get("name") if isinstance(container, dict) else container.name)
            != FOLDERS_CONTAINER
        ]
        resources = init_resources(plan.cpu.guarantee, plan.memory.guarantee)
        # First, so a configured init container that writes to the home finds it owned.
        if self.prepare_folders:
            uid, gid = self._owner()
            literal_volumes = [
                dataclasses.replace(
                    volume,
                    name=literal(volume.name),
                    sub_path=literal(volume.sub_path) if volume.sub_path else None,
                )
                for volume in ours
            ]
            folders = folders_init_container(
                literal_volumes, literal(plan.image.ref), uid, gid, resources
            )
            if folders is not None:
                containers.insert(0, folders)
        if plan.exam:
            containers, changed = guaranteed_init_containers(containers, resources)
            if changed:
                self.log.info(
                    "%s: exam window: init containers %s get requests equal to limits, so"
                    " the pod is Guaranteed",
                    self._log_name,
                    ", ".join(changed),
                )
        return containers

    async def start(self) -> Any:
        self.apply_plan(self._start_plan())
        return await super().start()

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        async for event in self._plan_progress():
            yield event
        async for event in super().progress():
            yield event
