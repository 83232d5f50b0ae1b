"""Spawners: course environments on Kubernetes, and the same on local processes.

One policy, two appliers. :mod:`campushub.environments` decides what a server gets from
(catalog, server name, person, time); ``CourseKubeSpawner`` applies that to a pod through
KubeSpawner, ``CourseLocalSpawner`` to a local process for the local campus and the tests.

A named server is a course server, named by the course's slug; the default server offers
the person's own courses and the catalog's general environment. Anything else is refused
with a 403 that says why, through the pages and the REST API alike.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import html
import importlib.util
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jupyterhub.spawner import SimpleLocalProcessSpawner
from jupyterhub.utils import maybe_future
from kubespawner import KubeSpawner
from tornado.web import HTTPError
from traitlets import Bool, Instance, Unicode, default
from traitlets.config import LoggingConfigurable

from .catalog import Catalog, CatalogError, load_catalog
from .environments import HOME_MOUNT, NotAllowed, ServerPlan, Volume, choices, plan_server
from .memberships import memberships_from_groups
from .pods import (
    FOLDERS_CONTAINER,
    folders_init_container,
    guaranteed_init_containers,
    init_resources,
)


class CourseSpawnerMixin(LoggingConfigurable):
    """What both course spawners share: the catalog, the person's memberships, the plan."""

    catalog = Instance(
        Catalog,
        allow_none=True,
        config=True,
        help="""The loaded course catalog (the reference configuration passes it);
        if None, ``catalog_path`` is loaded.""",
    )
    catalog_path = Unicode(
        "", config=True, help="The course catalog file, used when ``catalog`` is not given."
    )

    def course_catalog(self) -> Catalog:
        if self.catalog is None:
            if not self.catalog_path:
                raise ValueError(f"{type(self).__name__} needs `catalog` or `catalog_path`")
            try:
                self.catalog = load_catalog(self.catalog_path)
            except CatalogError as error:
                raise ValueError(str(error)) from None
        return self.catalog

    def memberships(self) -> dict[str, str]:
        """The server owner's courses, as the authenticator recorded them in groups."""
        user = self.user  # type: ignore[attr-defined]
        return memberships_from_groups(group.name for group in user.groups)

    def server_plan(self, now: datetime | None = None) -> ServerPlan:
        """Decide this server from the catalog; raise a 403 with the reason if not allowed."""
        options = self.user_options or {}  # type: ignore[attr-defined]
        choice = options.get("profile")
        try:
            return plan_server(
                self.course_catalog(),
                self.name,  # type: ignore[attr-defined]
                self.user.name,  # type: ignore[attr-defined]
                self.memberships(),
                now or datetime.now(UTC),
                choice if isinstance(choice, str) else None,
            )
        except NotAllowed as error:
            raise refusal(error) from None

    def course_choices(self) -> list[Any]:
        """The default server's choices for this person; a course server offers none."""
        if self.name:  # type: ignore[attr-defined]
            return []
        return choices(self.course_catalog(), self.memberships())

    def _start_plan(self) -> ServerPlan:
        plan = self.server_plan()
        self._plan = plan
        self.log.info(plan.describe())
        self.share_with_staff(plan)
        return plan

    def share_with_staff(self, plan: ServerPlan) -> None:
        """Let exactly the course staff who may open this course server reach it: the scope
        for this one server, in the course's staff roles (see :mod:`campushub.reach`)."""
        if not plan.server_name or not plan.shared_with:
            return
        from .reach import set_server_reach

        user = self.user  # type: ignore[attr-defined]
        role = self.memberships().get(plan.server_name)
        roles = set_server_reach(user.db, user.name, plan.server_name, role)
        if roles:
            self.log.info(
                "%s/%s is open to its course staff (%s)",
                user.name,
                plan.server_name,
                ", ".join(sorted(roles)),
            )

    async def _plan_progress(self) -> AsyncIterator[dict[str, Any]]:
        plan: ServerPlan | None = getattr(self, "_plan", None)
        if plan is not None:
            yield {"progress": 5, "message": plan.progress_message()}


def refusal(error: NotAllowed) -> HTTPError:
    """A 403 whose message the hub's error page and REST API show as is."""
    http_error = HTTPError(403, str(error))
    http_error.jupyterhub_message = str(error)
    return http_error


def course_server_guard(catalog: Catalog, limit: int) -> Callable[[Any], Awaitable[int]]:
    """``JupyterHub.named_server_limit_per_user`` that also refuses, before the hub records
    anything, a named server that is not one of its owner's courses.

    JupyterHub asks for the limit (with the request's handler) before it creates a named
    server's entry; a refusal later, in the spawner, would leave a stopped entry behind that
    counts against the limit. The spawner still checks, as the policy's last word.
    """

    async def guard(handler: Any) -> int:
        args = [arg for arg in getattr(handler, "path_args", ()) if arg is not None]
        names = [args[1]] if len(args) >= 2 and args[1] else []
        if handler.request.method == "PATCH":  # a rename names the new server in its body
            with contextlib.suppress(ValueError, AttributeError):
                names.append(json.loads(handler.request.body or b"{}").get("name") or "")
        owner = handler.find_user(args[0]) if args else None
        for name in names:
            if owner is None or not isinstance(name, str) or name in owner.orm_spawners:
                continue
            memberships = memberships_from_groups(group.name for group in owner.groups)
            try:
                plan_server(catalog, name, owner.name, memberships, datetime.now(UTC))
            except NotAllowed as error:
                raise refusal(error) from None
        return limit

    return guard


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def literal(text: str) -> str:
    """``text`` escaped for a spawner trait that is expanded with ``str.format``.

    KubeSpawner formats env values, labels, annotations and volumes, and JupyterHub formats
    ``default_url``, with ``{username}`` and the like; catalog text (a title, an env value
    holding JSON) is literal, and an unescaped brace would fail the spawn.
    """
    return text.replace("{", "{{").replace("}", "}}")


def _literals(mapping: Mapping[str, str]) -> dict[str, str]:
    return {key: literal(value) for key, value in mapping.items()}


# A Jupyter config folder that enables campushub.pullguard in the servers that read it.
PULLGUARD_CONFIG = Path(__file__).parent / "jupyter-config"

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


def memory_cgroup_parent() -> tuple[Path, str] | None:
    """The hub's own memory cgroup, if this machine has one the hub may create children in:
    (folder, name of the limit file) for cgroup v2 or v1, else None."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        v2 = Path("/sys/fs/cgroup") / path.lstrip("/")
        if controllers == "" and "memory" in _read(v2 / "cgroup.subtree_control"):
            return v2, "memory.max"
        if "memory" in controllers.split(","):
            v1 = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            if (v1 / "memory.limit_in_bytes").exists():
                return v1, "memory.limit_in_bytes"
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


class CourseLocalSpawner(CourseSpawnerMixin, SimpleLocalProcessSpawner):
    """The same decisions applied to local processes; for the local campus and the tests.

    Each person gets a home folder under ``home_dir_template`` and a working folder per
    course inside it; the course's environment variables and default URL apply; the memory
    limit is enforced with a memory cgroup of the server's own where the machine allows the
    hub to create one (``memory_cgroup``), and passed to the server as ``MEM_LIMIT``/
    ``CPU_LIMIT`` as JupyterHub's local spawners do. The image is not used: local servers
    run the hub's own Python.
    """

    memory_cgroup = Bool(
        True,
        config=True,
        help="""Cap each server's memory (kernels included) at the plan's limit with a memory
        cgroup of its own, created under the hub's cgroup (v2 ``memory.max`` or v1
        ``memory.limit_in_bytes``) where the operating system lets the hub do so; otherwise
        the limit is only reported to the server.""",
    )

    @default("cmd")
    def _default_cmd(self) -> list[str]:
        return [sys.executable, "-m", "jupyterhub.singleuser"]

    @default("default_url")
    def _default_default_url(self) -> str:
        return "/lab"

    @default("options_form")
    def _default_options_form(self) -> Any:
        def form(spawner: CourseLocalSpawner) -> str:
            offered = spawner.course_choices()
            if not offered:
                return ""
            options = "\n".join(
                f'<option value="{html.escape(c.slug)}"{" selected" if i == 0 else ""}>'
                f"{html.escape(c.display_name)}: {html.escape(c.description)}</option>"
                for i, c in enumerate(offered)
            )
            return (
                '<label for="campushub-profile">Environment</label>\n'
                f'<select class="form-control" id="campushub-profile" name="profile">\n'
                f"{options}\n</select>"
            )

        return form

    def options_from_form(self, formdata: dict[str, list[str]]) -> dict[str, Any]:
        return {"profile": formdata.get("profile", [""])[0]}

    _configured: dict[str, Any] | None = None

    def apply_plan(self, plan: ServerPlan) -> None:
        """Environment, default URL, limits, and a working folder per course."""
        if self._configured is None:  # as configured, so one choice never leaks into the next
            self._configured = {
                "environment": dict(self.environment),
                "notebook_dir": self.notebook_dir,
            }
        self.environment = {**self._configured["environment"], **plan.env}
        # campushub.pullguard beside nbgitpuller (a Jupyter config folder of campushub's, first).
        config_path = [str(PULLGUARD_CONFIG), os.environ.get("JUPYTER_CONFIG_PATH", "")]
        self.environment["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, config_path))
        self.notebook_dir = self._configured["notebook_dir"]  # not formatted here
        self.default_url = literal(plan.default_url)
        if plan.default_url.startswith("/rstudio") and not _importable("jupyter_rsession_proxy"):
            # The course image would serve RStudio; this machine's Python cannot.
            self.log.info("%s: no RStudio here, opening /lab instead", plan.server_name)
            self.default_url = "/lab"
        self.mem_guarantee, self.mem_limit = plan.memory.guarantee, plan.memory.limit
        self.cpu_guarantee, self.cpu_limit = plan.cpu.guarantee, plan.cpu.limit
        # The course's folder of the home for a course server; the whole home for the
        # default one (as the shared home's subPath in a cluster).
        work_dir = (
            Path(self.home_dir, plan.server_name) if plan.server_name else Path(self.home_dir)
        )
        work_dir.mkdir(parents=True, exist_ok=True)
        self.notebook_dir = str(work_dir)

    def _prepare_memory_cgroup(self, plan: ServerPlan) -> None:
        """Create the server's memory cgroup with its limit; the process joins it at start."""
        self._cgroup: Path | None = None
        parent = memory_cgroup_parent() if self.memory_cgroup else None
        if parent is None:
            if self.memory_cgroup:
                self.log.info("%s: no memory cgroup available; limit not enforced", self._log_name)
            return
        folder, limit_file = parent
        # ':' appears in neither usernames nor course slugs, so names cannot collide.
        cgroup = folder / f"campushub:{self.user.name}:{self.name}"
        try:
            cgroup.mkdir(exist_ok=True)
            (cgroup / limit_file).write_text(str(plan.memory.limit))
        except OSError as error:
            self.log.info("%s: cannot cap memory with %s: %s", self._log_name, cgroup, error)
            return
        self._cgroup = cgroup

    def make_preexec_fn(self, name: str) -> Any:
        """Upstream's preparation, then join the server's memory cgroup before exec."""
        prepare = super().make_preexec_fn(name)
        cgroup = getattr(self, "_cgroup", None)
        procs = str(cgroup / "cgroup.procs") if cgroup else None

        def preexec() -> None:
            prepare()
            if procs:
                with contextlib.suppress(OSError), open(procs, "w") as handle:
                    handle.write(str(os.getpid()))

        return preexec

    async def stop(self, now: bool = False) -> None:
        await super().stop(now=now)
        cgroup = getattr(self, "_cgroup", None)
        if cgroup is not None:
            with contextlib.suppress(OSError):
                cgroup.rmdir()  # only succeeds once every process in it has ended

    def get_args(self) -> list[str]:
        """Add ``--allow-root`` when the hub runs as root, as jupyter-server requires."""
        args: list[str] = super().get_args()
        if os.geteuid() == 0 and "--allow-root" not in args:
            args.append("--allow-root")
        return args

    async def start(self) -> Any:
        plan = self._start_plan()
        self.apply_plan(plan)
        self._prepare_memory_cgroup(plan)
        return await super().start()

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        async for event in self._plan_progress():
            yield event
