"""Which environment a server gets: plain functions of (catalog, server name, person, time).

A person's server is either a **course server**, named by the course's slug
(``/user/alice/data8/``), or their **default server**, where they choose among their own
courses and the catalog's general environment. Everything about it (image, CPU and memory,
node pool, volumes, environment, labels, default URL, exam-time QoS) comes from the catalog
here; the spawners only apply the resulting :class:`ServerPlan`.

No JupyterHub, tornado or Kubernetes imports.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .catalog import Allocation, Catalog, Course, Image, OneOffEvent, Pool
from .memberships import INSTRUCTOR, ROLE_GROUP_SUFFIX, STUDENT, grader_course
from .units import format_cpu, format_memory

GENERAL = "general"  # the default server's choice of the catalog's general environment
LABEL_PREFIX = "campushub.io"
HOME_MOUNT = "/home/jovyan"
GRADER = "grader"  # the member role of a course's grader account in its plan
GRADER_URL = "/formgrader"  # where the grader's server opens: nbgrader's formgrader


class NotAllowed(Exception):
    """A server this person may not have; the message is for them (shown with a 403)."""


@dataclass(frozen=True, slots=True)
class Volume:
    """A volume to mount: a claim (PVC), where, whether read-only, and an optional subPath."""

    name: str
    claim: str
    mount_path: str
    read_only: bool = False
    sub_path: str | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    """One entry of the default server's choice: a course of the person's, or general."""

    slug: str
    display_name: str
    description: str


@dataclass(frozen=True, slots=True, eq=False)
class ServerPlan:
    """Everything campushub decides about one server; the spawner applies it."""

    username: str
    server_name: str
    course: Course | None  # None: the general environment
    member_role: str | None
    image: Image
    pool: Pool
    cpu: Allocation[float]
    memory: Allocation[int]
    gpu: int
    disk: int
    exam: bool
    default_url: str
    env: Mapping[str, str]
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    volumes: tuple[Volume, ...]
    home_per_course: bool
    # A grading course's server: "student" (the assignment list), "grader" (the course's
    # grader account: formgrader); "" where the course does not grade with nbgrader.
    grading: str
    # The folder of the shared home claim that this server mounts as its home: the person's
    # home (``<username>``) for the default server; for a course server the person's folder
    # of the course (``courses/<slug>/<username>``), so whoever opens it sees that course's
    # work only. Not inside ``<username>``: a person could replace a folder of their own home
    # with a symbolic link before the course server mounts it, and the kubelet follows links
    # anywhere inside the volume; ``courses/<slug>`` belongs to root, so its entries cannot be
    # replaced.
    home_folder: str

    @property
    def title(self) -> str:
        return self.course.title if self.course else "the general environment"

    def describe(self) -> str:
        """The log line a person may later ask about."""
        what = self.course.slug if self.course else GENERAL
        return (
            f"{self.username} -> {what}: image {self.image.ref},"
            f" memory {format_memory(self.memory.guarantee)}/{format_memory(self.memory.limit)},"
            f" cpu {format_cpu(self.cpu.guarantee)}/{format_cpu(self.cpu.limit)},"
            f" pool {self.pool.name}{', exam (guaranteed)' if self.exam else ''}"
        )

    def progress_message(self) -> str:
        """What the spawn page says: ``Starting DATA 8 (python 2026.08) on pool standard``."""
        tag = self.image.ref.rpartition(":")[2] if ":" in self.image.ref else "latest"
        return f"Starting {self.title} ({self.image.name} {tag}) on pool {self.pool.name}"


def choices(catalog: Catalog, memberships: Mapping[str, str]) -> list[Choice]:
    """What the default server offers this person: their own courses, then general."""
    offered = []
    for slug in sorted(memberships):
        course = catalog.course(slug)
        if course is not None:
            offered.append(
                Choice(
                    slug,
                    course.title,
                    f"{course.image.name} environment, up to"
                    f" {format_memory(course.memory.limit)} of memory",
                )
            )
    general = catalog.defaults.image
    offered.append(
        Choice(GENERAL, "General environment", f"{general.name}, for work outside a course")
    )
    return offered


def exam_in_progress(course: Course, now: datetime, catalog: Catalog) -> bool:
    """True from the pool's lead time before one of the course's exams until it ends.

    Servers start before an exam; one started during the lead time is already Guaranteed.
    """
    local = now.astimezone(catalog.timezone)
    instant = now.astimezone(UTC)
    for entry in course.schedule:
        if not entry.exam:
            continue
        days = (
            [entry.on]
            if isinstance(entry, OneOffEvent)
            else [local.date() + timedelta(days=offset) for offset in (-1, 0, 1)]
        )
        for day in days:
            if not isinstance(entry, OneOffEvent) and (
                day.weekday() not in entry.weekdays
                or day in entry.skip
                or day in catalog.term.holidays
                or (entry.starts and day < entry.starts)
                or (entry.ends and day > entry.ends)
                or not catalog.term.is_open(day)
            ):
                continue
            # Starts at local wall time; lasts its duration in elapsed time. Compared in UTC:
            # datetimes sharing a time zone add and compare by wall clock, so on a
            # daylight-saving day a 3h exam would last 2h or 4h.
            start = datetime.combine(day, entry.at, tzinfo=catalog.timezone).astimezone(UTC)
            if start - course.pool.lead <= instant < start + entry.duration:
                return True
    return False


def plan_server(
    catalog: Catalog,
    server_name: str,
    username: str,
    memberships: Mapping[str, str],
    now: datetime,
    choice: str | None = None,
) -> ServerPlan:
    """Decide ``username``'s server ``server_name`` ('' for the default server).

    Raises :class:`NotAllowed` for a server name that is not a course, a course the person
    is not in, the default server of a hub without personal servers
    (``defaults.personal_server``), or a default-server choice that is not offered to them.
    """
    graded = grader_course(username)
    if graded is not None:
        course = catalog.course(graded)
        if server_name or course is None or not course.grading:
            raise NotAllowed(
                f"{username} is a grader account: its one server is the grader of"
                f" {graded!r}, a course that grades with nbgrader on this hub."
            )
        return _plan(catalog, course, "", username, GRADER, now)
    if server_name:
        course = catalog.course(server_name)
        if course is None:
            raise NotAllowed(
                f"{server_name!r} is not a course on this hub. Each named server is a course"
                " server named after its course; yours are: "
                + (", ".join(sorted(memberships)) or "none this term")
                + "."
            )
        if server_name not in memberships:
            raise NotAllowed(
                f"You are not in {course.title} ({course.slug}) this term, so you cannot start"
                " its environment. If you should be, ask the course's instructor to check"
                " your enrollment."
            )
        return _plan(catalog, course, server_name, username, memberships[server_name], now)
    if not catalog.defaults.personal_server:
        yours = ", ".join(sorted(memberships))
        raise NotAllowed(
            "This hub has no personal servers: each course has a server of its own."
            + (f" Open one of yours ({yours}) from Your courses" if yours else " Open")
            + (" on the hub's home page." if yours else " the hub's home page to see yours.")
        )
    chosen = choice or GENERAL
    if chosen == GENERAL:
        return _plan(catalog, None, server_name, username, None, now)
    offered = {entry.slug for entry in choices(catalog, memberships)}
    if chosen not in offered:
        raise NotAllowed(
            f"{chosen!r} is not one of your choices: " + ", ".join(sorted(offered)) + "."
        )
    return _plan(catalog, catalog.courses[chosen], server_name, username, memberships[chosen], now)


def _plan(
    catalog: Catalog,
    course: Course | None,
    server_name: str,
    username: str,
    member_role: str | None,
    now: datetime,
) -> ServerPlan:
    defaults = catalog.defaults
    source = course or defaults
    image = course.image if course else defaults.image
    cpu, memory = source.cpu, source.memory
    exam = course is not None and exam_in_progress(course, now, catalog)
    if exam:  # Guaranteed QoS: nothing to take away from anyone mid-exam
        cpu = Allocation(cpu.limit, cpu.limit)
        memory = Allocation(memory.limit, memory.limit)
    env = {
        "CAMPUSHUB_TERM": catalog.term.name,
        "CAMPUSHUB_LANGUAGE": image.language,
        "CAMPUSHUB_COURSE": course.slug if course else "",
        "CAMPUSHUB_ROLE": member_role or "",
    }
    grading = ""
    if course is not None and course.grading:
        grading = "grader" if member_role == GRADER else "student"
        env["CAMPUSHUB_GRADING"] = grading
    labels = {
        f"{LABEL_PREFIX}/course": course.slug if course else GENERAL,
        f"{LABEL_PREFIX}/term": catalog.term.name,
        f"{LABEL_PREFIX}/role": member_role or "none",
        f"{LABEL_PREFIX}/pool": source.pool.name,
        f"{LABEL_PREFIX}/exam": "true" if exam else "false",
    }
    annotations = {f"{LABEL_PREFIX}/title": course.title if course else "General environment"}
    volumes: list[Volume] = []
    home_per_course = source.home == "per-course"
    if course is not None:
        env.update(course.env)
        if course.shared is not None:
            kind = INSTRUCTOR if member_role == GRADER else member_role or STUDENT
            read_only = ROLE_GROUP_SUFFIX[kind] in course.shared.readonly_for
            volumes.append(
                Volume("course-data", course.shared.volume, course.shared.path, read_only)
            )
    return ServerPlan(
        username=username,
        server_name=server_name,
        course=course,
        member_role=member_role,
        image=image,
        pool=source.pool,
        cpu=cpu,
        memory=memory,
        gpu=source.gpu,
        disk=source.disk,
        exam=exam,
        default_url=GRADER_URL
        if member_role == GRADER
        else (course.default_url if course else image.default_url),
        env=types.MappingProxyType(env),
        labels=types.MappingProxyType(labels),
        annotations=types.MappingProxyType(annotations),
        volumes=tuple(volumes),
        home_per_course=home_per_course,
        grading=grading,
        home_folder=f"courses/{server_name}/{username}" if server_name else username,
    )
