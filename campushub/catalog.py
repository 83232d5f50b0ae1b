"""The course catalog: one YAML file that says everything course-specific.

``load_catalog(path)`` reads ``courses.yaml`` into immutable objects, or raises
:class:`CatalogError` listing *every* problem, each with its place and line::

    courses.data8.memory.limit: '1 GB' is not a quantity (try 1Gi) (line 14)

This module is pure: plain data in, plain data out, no JupyterHub, tornado or Kubernetes.
It holds the objects a catalog becomes and the entry points; the checking itself is in
:mod:`campushub.catalog_check`. The schema is documented in ``docs/reference/catalog.md``;
the key sets below are the single source of truth that page is tested against.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from fractions import Fraction
from pathlib import Path as FilePath
from types import MappingProxyType
from typing import Any, Final, Generic, Self, TypeVar
from zoneinfo import ZoneInfo

from .units import format_cpu, format_memory, show
from .yamlsource import YamlSyntaxError, read_yaml

# ---------------------------------------------------------------------------------------------
# The objects a valid catalog becomes
# ---------------------------------------------------------------------------------------------

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MEMBER_ROLES: Final = ("students", "tas", "instructors")
HOME_MODES: Final = ("shared", "per-course")
# How a course may grade: nbgrader, with its grader, exchange and assignment list from campushub.
GRADING_TOOLS: Final = ("nbgrader",)
PLACEHOLDER_KINDS: Final = ("Deployment", "StatefulSet", "Pods")
# The apps an image may have, by the key links and the catalog use, with their names; each is
# where a server opens it (lab/, tree/ for Notebook 7, rstudio/ through jupyter-rsession-proxy).
APPS: Final[Mapping[str, str]] = MappingProxyType(
    {"lab": "JupyterLab", "notebook": "Jupyter Notebook", "rstudio": "RStudio"}
)
APP_PATHS: Final[Mapping[str, str]] = MappingProxyType(
    {"lab": "/lab", "notebook": "/tree", "rstudio": "/rstudio"}
)
PLACEHOLDER_UNITS: Final = ("node", "user")
# How long before a meeting its students are taken to come, when nothing better is known: a
# pool's default ``warmup`` is its ``lead`` less this.
DEFAULT_EARLY: Final = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Term:
    """The academic term: memberships count and schedules run only inside it."""

    name: str
    starts: date
    ends: date
    holidays: tuple[date, ...] = ()

    def is_open(self, day: date) -> bool:
        """True when ``day`` falls within the term (holidays included)."""
        return self.starts <= day <= self.ends


@dataclass(frozen=True, slots=True)
class Image:
    """A language environment: a container image, the URL a server opens at, its language
    and the apps it has (keys of :data:`APPS`)."""

    name: str
    ref: str
    default_url: str
    language: str
    apps: tuple[str, ...] = ("lab",)

    def app_names(self) -> str:
        """The image's apps in words: ``JupyterLab, RStudio``."""
        return ", ".join(APPS[app] for app in self.apps)


Amount = TypeVar("Amount", int, float)


# Not slots=True: on Python 3.11 that breaks a subscripted call such as Allocation[int](1, 2).
@dataclass(frozen=True)
class Allocation(Generic[Amount]):
    """A guarantee and a limit: ``Allocation[float]`` in cores for CPU,
    ``Allocation[int]`` in bytes for memory."""

    guarantee: Amount
    limit: Amount


@dataclass(frozen=True, slots=True)
class Placeholder:
    """The placeholder pods the scaler sizes for a pool: a Deployment's or StatefulSet's
    replicas, or (kind ``Pods``) pods it makes itself from the PodTemplate ``name``."""

    kind: str
    name: str
    namespace: str | None = None


class _ByIdentity:
    """Base of the objects that hold read-only mappings: a ``MappingProxyType`` can be neither
    hashed nor deep-copied, so these compare and hash by identity (``eq=False``) and, like
    any immutable value, are their own copies."""

    __slots__ = ()

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self


@dataclass(frozen=True, slots=True, eq=False)
class Pool(_ByIdentity):
    """A node pool: the size of one node, how to land on it, and its capacity bounds."""

    name: str
    node_cpu: float
    node_memory: int
    node_selector: Mapping[str, str]
    tolerations: tuple[Mapping[str, str], ...]
    placeholder: Placeholder | None
    min: int
    max: int
    lead: timedelta
    unit: str
    # How long a new node takes to be ready with the pool's images (boot + pull); with a
    # course's arrival history the scaler asks for room this long before its students come.
    warmup: timedelta = timedelta(minutes=5)
    # Room kept beyond the plan while people are still coming (nodes, or user slots): the
    # plan is exact, and students of other courses, or a few more than seen, take room too.
    spare: Fraction = Fraction(1, 2)


@dataclass(frozen=True, slots=True)
class SharedData:
    """A course's shared data volume, read-only for some member roles."""

    volume: str
    path: str
    readonly_for: frozenset[str]


@dataclass(frozen=True, slots=True)
class WeeklyMeeting:
    """A meeting that repeats on some weekdays over the term (minus holidays and skips)."""

    weekdays: tuple[int, ...]  # 0 = Monday, as date.weekday()
    at: time
    duration: timedelta
    expect: int | None  # None: the scaler uses enrollment x attendance
    exam: bool = False
    starts: date | None = None
    ends: date | None = None
    skip: tuple[date, ...] = ()


@dataclass(frozen=True, slots=True)
class OneOffEvent:
    """A single event, such as an exam or a review session."""

    on: date
    at: time
    duration: timedelta
    expect: int | None  # None: the scaler uses enrollment x attendance
    exam: bool = False


ScheduleEntry = WeeklyMeeting | OneOffEvent


@dataclass(frozen=True, slots=True, eq=False)
class Course(_ByIdentity):
    """One course: its environment, resources, material and schedule."""

    slug: str
    title: str
    keys: tuple[str, ...]
    image: Image
    pool: Pool
    cpu: Allocation[float]
    memory: Allocation[int]
    gpu: int
    home: str
    # The limit of the server's own disk outside its home (the image's writable layer, /tmp,
    # logs): Kubernetes' ephemeral-storage, in bytes.
    disk: int
    repos: tuple[str, ...]
    shared: SharedData | None
    schedule: tuple[ScheduleEntry, ...]
    env: Mapping[str, str]
    default_url: str
    # "nbgrader": the course grades with nbgrader (its grader server, exchange, assignment list).
    grading: str | None = None


@dataclass(frozen=True, slots=True)
class Defaults:
    """What a course gets unless it says otherwise; also the general environment."""

    image: Image
    pool: Pool
    cpu: Allocation[float]
    memory: Allocation[int]
    gpu: int
    home: str
    disk: int
    # Whether people have a personal (default, non-course) server beside their course
    # servers; off: each course has its own server and nothing else is started.
    personal_server: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class Catalog(_ByIdentity):
    """A validated catalog. Build it with :func:`load_catalog` or :func:`parse_catalog`."""

    term: Term
    timezone: ZoneInfo
    images: Mapping[str, Image]
    pools: Mapping[str, Pool]
    defaults: Defaults
    courses: Mapping[str, Course]
    courses_by_key: Mapping[str, Course]
    source: str = "<string>"

    def course(self, slug: str) -> Course | None:
        """The course named ``slug``, or None."""
        return self.courses.get(slug)

    def course_for_key(self, key: str) -> Course | None:
        """The course an identity provider or LMS calls ``key`` (catalog ``keys``), or None."""
        return self.courses_by_key.get(key)

    def summary(self) -> str:
        """A one-screen description: term, time zone, images, pools and courses."""
        term = self.term
        lines = [
            f"term      {term.name}: {term.starts} to {term.ends} ({self.timezone.key}),"
            f" {len(term.holidays)} holiday(s)",
            f"images    {len(self.images)}: "
            + ", ".join(f"{i.name} ({i.ref}, {i.default_url})" for i in self.images.values()),
            f"pools     {len(self.pools)}: "
            + ", ".join(
                f"{p.name} ({format_cpu(p.node_cpu)} CPU/{format_memory(p.node_memory)} nodes,"
                f" {p.min}-{p.max})"
                for p in self.pools.values()
            ),
            f"courses   {len(self.courses)}, {len(self.courses_by_key)} key(s),"
            f" {sum(len(c.schedule) for c in self.courses.values())} schedule entries",
        ]
        shown = list(self.courses.values())[:12]
        for course in shown:
            lines.append(
                f"  {course.slug:<16} {course.image.name:<8} {course.pool.name:<10}"
                f" mem {format_memory(course.memory.guarantee)}"
                f"/{format_memory(course.memory.limit)}"
                f"  cpu {format_cpu(course.cpu.guarantee)}/{format_cpu(course.cpu.limit)}"
                f"  {course.title}"
            )
        if len(self.courses) > len(shown):
            lines.append(f"  ... and {len(self.courses) - len(shown)} more")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a catalog, at a dotted place such as ``courses.data8.image``."""

    place: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.place}: {self.message}{where}" if self.place else self.message + where


class CatalogError(ValueError):
    """A catalog that cannot be used; ``problems`` lists everything wrong with it."""

    def __init__(self, problems: Iterable[Problem], source: str = "<string>") -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.source = source
        count = len(self.problems)
        listing = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"{source}: {count} problem(s) in the course catalog:\n{listing}")


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

# The schema's keys, each section's (required, optional). docs/reference/catalog.md is tested
# to describe every one of them.
SCHEMA: Final[dict[str, tuple[frozenset[str], frozenset[str]]]] = {
    "catalog": (
        frozenset({"term", "timezone", "images", "pools", "defaults", "courses"}),
        frozenset(),
    ),
    "term": (frozenset({"name", "starts", "ends"}), frozenset({"holidays"})),
    "image": (frozenset({"ref"}), frozenset({"default_url", "language", "apps"})),
    "pool": (
        frozenset({"node", "max"}),
        frozenset(
            {
                "node_selector",
                "tolerations",
                "placeholder",
                "min",
                "lead",
                "warmup",
                "unit",
                "spare",
            }
        ),
    ),
    "node": (frozenset({"cpu", "memory"}), frozenset()),
    "placeholder": (frozenset({"name"}), frozenset({"kind", "namespace"})),
    "toleration": (frozenset({"key"}), frozenset({"operator", "value", "effect"})),
    "defaults": (
        frozenset({"image", "pool", "cpu", "memory"}),
        frozenset({"gpu", "home", "disk", "personal_server"}),
    ),
    "allocation": (frozenset(), frozenset({"guarantee", "limit"})),
    "course": (
        frozenset({"title"}),
        frozenset(
            {
                "keys",
                "image",
                "pool",
                "cpu",
                "memory",
                "gpu",
                "home",
                "disk",
                "repos",
                "shared",
                "schedule",
                "env",
                "default_url",
                "grading",
            }
        ),
    ),
    "shared": (frozenset({"volume"}), frozenset({"path", "readonly_for"})),
    "weekly": (
        frozenset({"every", "at", "for"}),
        frozenset({"expect", "exam", "from", "until", "skip"}),
    ),
    "oneoff": (frozenset({"on", "at", "for"}), frozenset({"expect", "exam"})),
}

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,28}[a-z0-9])?$")


def load_catalog(path: str | FilePath) -> Catalog:
    """Read and validate the catalog at ``path``; raise :class:`CatalogError` if unusable."""
    source = str(path)
    try:
        text = FilePath(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise CatalogError([Problem("", f"cannot read the catalog: {reason}")], source) from None
    return parse_catalog(text, source)


def parse_catalog(text: str, source: str = "<string>") -> Catalog:
    """Validate catalog YAML ``text``; raise :class:`CatalogError` listing every problem."""
    # catalog_check builds this module's objects, so it imports this module: import it here.
    from .catalog_check import check_catalog

    try:
        document = read_yaml(text)
    except YamlSyntaxError as error:
        raise CatalogError([Problem("", str(error), error.line)], source) from None
    return check_catalog(document, source)


def check_slug(slug: str) -> str:
    """Return ``slug`` if it can name a course everywhere campushub uses it, else raise
    ``ValueError``."""
    if not _SLUG.match(slug):
        raise ValueError(
            f"{show(slug)} is not a valid course slug: use 1-30 lowercase letters, digits or"
            " '-', starting and ending with a letter or digit (it names the JupyterHub server,"
            " groups, roles and Kubernetes labels)"
        )
    return slug
