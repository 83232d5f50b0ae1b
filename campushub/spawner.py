"""Spawners: course environments on Kubernetes, and the same on local processes.

One policy, two appliers. :mod:`campushub.environments` decides what a server gets from
(catalog, server name, person, time); ``CourseKubeSpawner`` (in :mod:`campushub.kube`, imported
from here on first use, so a local hub never imports KubeSpawner) applies that to a pod,
``CourseLocalSpawner`` to a local process for the local campus and the tests.

A named server is a course server, named by the course's slug; the default server offers
the person's own courses and the catalog's general environment. Anything else is refused
with a 403 that says why, through the pages and the REST API alike.
"""

from __future__ import annotations

import contextlib
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
from tornado.web import HTTPError
from traitlets import Bool, Instance, Unicode, default
from traitlets.config import LoggingConfigurable

from .catalog import Catalog, CatalogError, load_catalog
from .environments import GRADER, NotAllowed, ServerPlan, choices, plan_server
from .local import local_runtime
from .memberships import grader_course, memberships_from_groups

GRADING_SERVICE = "grading"  # the grading service's name in the hub's services


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
    grading_url = Unicode(
        "",
        config=True,
        help="""Where servers of grading courses reach the grading service (nbgrader's
        exchange), e.g. ``http://hub:10103/services/grading/``; passed to them as
        ``$CAMPUSHUB_GRADING_URL``. The reference configuration sets it.""",
    )

    @default("server_token_scopes")
    def _default_server_token_scopes(self) -> Any:
        def scopes(spawner: CourseSpawnerMixin) -> list[str]:
            # JupyterHub's `server` role, plus the grading service for a grading course's
            # servers (the token gets only what its owner holds: `user_scopes` grant it).
            granted = ["users:activity!user", "access:servers!server"]
            if spawner.grades():
                granted.append(f"access:services!service={GRADING_SERVICE}")
            return granted

        return scopes

    def grades(self) -> bool:
        """Whether this server is a server of a course that grades with nbgrader (a
        member's course server, or the course's grader account's server)."""
        user = self.user  # type: ignore[attr-defined]
        slug = self.name or grader_course(user.name)  # type: ignore[attr-defined]
        course = self.course_catalog().course(slug) if slug else None
        return bool(course and course.grading)

    def grading_environment(self, plan: ServerPlan, root: str) -> dict[str, str]:
        """What a grading course's server needs: the service's address and the server's own
        folder (where assignments are fetched; the grader's course folder)."""
        if not plan.grading:
            return {}
        env = {"CAMPUSHUB_GRADING_URL": self.grading_url, "CAMPUSHUB_SERVER_ROOT": root}
        if plan.grading == GRADER:
            env["CAMPUSHUB_GRADER"] = "1"
        return env

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
        """The default server's choices for this person; a course server offers none, nor
        the default server of a hub without personal servers (its start is refused)."""
        if self.name or not self.course_catalog().defaults.personal_server:  # type: ignore[attr-defined]
            return []
        return choices(self.course_catalog(), self.memberships())

    def _start_plan(self) -> ServerPlan:
        plan = self.server_plan()
        self._plan = plan
        self.log.info(plan.describe())
        self.grant_reach(plan)
        return plan

    def grant_reach(self, plan: ServerPlan) -> None:
        """Let exactly the course staff who may open this course server reach it: the scope
        for this one server, in the course's staff roles (see :mod:`campushub.reach`)."""
        if not plan.server_name or plan.course is None:
            return
        from .reach import set_server_reach

        user = self.user  # type: ignore[attr-defined]
        roles = set_server_reach(user.db, user.name, plan.server_name, plan.member_role)
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


# A Jupyter config folder that enables campushub.pullguard in the servers that read it (and
# keeps nbgrader's extensions off where a course does not grade with it).
PULLGUARD_CONFIG = Path(__file__).parent / "jupyter-config"
# nbgrader's configuration for a grading course's servers: "student" or "grader", first on the
# path (see campushub.nbgrader_exchange).
GRADING_CONFIG = Path(__file__).parent / "jupyter-config-grading"


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
        # campushub.pullguard beside nbgitpuller (a Jupyter config folder of campushub's, first),
        # and before it nbgrader's for a grading course's server.
        config_path = [str(PULLGUARD_CONFIG), os.environ.get("JUPYTER_CONFIG_PATH", "")]
        if plan.grading:
            config_path.insert(0, str(GRADING_CONFIG / plan.grading))
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
        self.environment.update(self.grading_environment(plan, str(work_dir)))

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
        """Add ``--allow-root`` when the hub runs as root, as jupyter-server requires, and
        the course language's kernel as the default where this machine has it (R's IRkernel
        from Debian; see :mod:`campushub.local`)."""
        args: list[str] = super().get_args()
        if os.geteuid() == 0 and "--allow-root" not in args:
            args.append("--allow-root")
        plan: ServerPlan | None = getattr(self, "_plan", None)
        if plan is not None:
            runtime = local_runtime(plan.image.language)
            if runtime.kernel:
                args.append(f"--MultiKernelManager.default_kernel_name={runtime.kernel}")
            elif runtime.note:
                self.log.info("%s: %s", plan.server_name or "default server", runtime.note)
        return args

    async def start(self) -> Any:
        plan = self._start_plan()
        self.apply_plan(plan)
        self._prepare_memory_cgroup(plan)
        return await super().start()

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        async for event in self._plan_progress():
            yield event


_KUBE_NAMES = (
    "CourseKubeSpawner",
    "HARDENED_CONTAINER",
    "HARDENED_POD",
    "claim_volume",
    "volume_mount",
)


def __getattr__(name: str) -> Any:
    """The Kubernetes spawner and its helpers, imported on first use (KubeSpawner and the
    Kubernetes client take a while to import, and a local hub does not need them)."""
    if name in _KUBE_NAMES:
        from . import kube

        return getattr(kube, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
