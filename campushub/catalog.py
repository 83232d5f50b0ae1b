"""The course catalog: one YAML file that says everything course-specific.

``load_catalog(path)`` reads ``courses.yaml`` into immutable objects, or raises
:class:`CatalogError` listing *every* problem, each with its place and line::

    courses.data8.memory.limit: '1 GB' is not a quantity (try 1Gi) (line 14)

This module is pure: plain data in, plain data out, no JupyterHub, tornado or Kubernetes.
The schema is documented in ``docs/reference/catalog.md``; the key sets below are the
single source of truth that page is tested against.
"""

from __future__ import annotations

import difflib
import re
import types
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path as FilePath
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .units import (
    check_dns_name,
    check_label_key,
    check_label_value,
    format_cpu,
    format_memory,
    parse_clock,
    parse_cpu,
    parse_duration,
    parse_memory,
    show,
)
from .yamlsource import Path, YamlDocument, YamlSyntaxError, read_yaml

# ---------------------------------------------------------------------------------------------
# The objects a valid catalog becomes
# ---------------------------------------------------------------------------------------------

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MEMBER_ROLES: Final = ("students", "tas", "instructors")
HOME_MODES: Final = ("shared", "per-course")
PLACEHOLDER_KINDS: Final = ("Deployment", "StatefulSet")
PLACEHOLDER_UNITS: Final = ("node", "user")


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
    """A language environment: a container image and the URL a server opens at."""

    name: str
    ref: str
    default_url: str
    language: str


@dataclass(frozen=True, slots=True)
class Allocation:
    """A guarantee and a limit: cores for CPU, bytes for memory."""

    guarantee: float
    limit: float


@dataclass(frozen=True, slots=True)
class Placeholder:
    """The Deployment or StatefulSet of placeholder pods the scaler resizes for a pool."""

    kind: str
    name: str
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class Pool:
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
    expect: int
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
    expect: int
    exam: bool = False


ScheduleEntry = WeeklyMeeting | OneOffEvent


@dataclass(frozen=True, slots=True)
class Course:
    """One course: its environment, resources, material and schedule."""

    slug: str
    title: str
    keys: tuple[str, ...]
    image: Image
    pool: Pool
    cpu: Allocation
    memory: Allocation
    gpu: int
    home: str
    repos: tuple[str, ...]
    shared: SharedData | None
    schedule: tuple[ScheduleEntry, ...]
    env: Mapping[str, str]
    default_url: str


@dataclass(frozen=True, slots=True)
class Defaults:
    """What a course gets unless it says otherwise; also the general environment."""

    image: Image
    pool: Pool
    cpu: Allocation
    memory: Allocation
    gpu: int
    home: str


@dataclass(frozen=True, slots=True)
class Catalog:
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
                f" mem {format_memory(int(course.memory.guarantee))}"
                f"/{format_memory(int(course.memory.limit))}"
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
    "image": (frozenset({"ref"}), frozenset({"default_url", "language"})),
    "pool": (
        frozenset({"node", "max"}),
        frozenset({"node_selector", "tolerations", "placeholder", "min", "lead", "unit"}),
    ),
    "node": (frozenset({"cpu", "memory"}), frozenset()),
    "placeholder": (frozenset({"name"}), frozenset({"kind", "namespace"})),
    "toleration": (frozenset({"key"}), frozenset({"operator", "value", "effect"})),
    "defaults": (
        frozenset({"image", "pool", "cpu", "memory"}),
        frozenset({"gpu", "home"}),
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
                "repos",
                "shared",
                "schedule",
                "env",
                "default_url",
            }
        ),
    ),
    "shared": (frozenset({"volume"}), frozenset({"path", "readonly_for"})),
    "weekly": (
        frozenset({"every", "at", "for", "expect"}),
        frozenset({"exam", "from", "until", "skip"}),
    ),
    "oneoff": (frozenset({"on", "at", "for", "expect"}), frozenset({"exam"})),
}

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,28}[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IMAGE_REF = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._/-][a-z0-9]+)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
_TOLERATION_OPERATORS = ("Equal", "Exists")
_TOLERATION_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


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
    try:
        document = read_yaml(text)
    except YamlSyntaxError as error:
        raise CatalogError([Problem("", str(error), error.line)], source) from None
    checker = _Checker(document)
    catalog = checker.catalog(document.data, source)
    if checker.problems or catalog is None:
        problems = sorted(checker.problems, key=lambda p: (p.line or 0, p.place))
        raise CatalogError(problems, source)
    return catalog


def check_slug(slug: str) -> None:
    """Raise ``ValueError`` unless ``slug`` can name a course everywhere campushub uses it."""
    if not _SLUG.match(slug):
        raise ValueError(
            f"{slug!r} is not a valid course slug: use 1-30 lowercase letters, digits or '-',"
            " starting and ending with a letter or digit (it names the JupyterHub server,"
            " groups, roles and Kubernetes labels)"
        )


# ---------------------------------------------------------------------------------------------
# The checker: walks the plain data, collects every problem, builds objects when it can
# ---------------------------------------------------------------------------------------------

T = TypeVar("T")


class _Bad:
    """Marks a value that already produced a problem, so nothing downstream repeats it."""


BAD: Final = _Bad()


_PLAIN_KEY = re.compile(r"^[\w.:/@+-]{1,80}$")


def _place(path: Path) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        # A key with spaces, control characters or great length is shown quoted and cut,
        # so a hostile key cannot forge or flood lines of `campushub check` output.
        key = part if _PLAIN_KEY.match(part) else show(part, 40)
        text += f".{key}" if text else key
    return text


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return types.MappingProxyType(dict(mapping))


class _Checker:
    def __init__(self, document: YamlDocument) -> None:
        self.document = document
        self.problems: list[Problem] = []
        # Paths already reported (a missing required key, a value YAML reading refused):
        # checking their absent values would only repeat the problem, so anything at or
        # below these paths is not reported again.
        self.quiet: set[Path] = set(document.dropped)
        for path, message, line in document.problems:
            message = message if path else f"the catalog {message}"  # the top level
            self.problems.append(Problem(_place(path), message, line))

    def problem(self, path: Path, message: str) -> _Bad:
        if not any(path[:length] in self.quiet for length in range(1, len(path) + 1)):
            self.problems.append(Problem(_place(path), message, self.document.line_of(path)))
        return BAD

    # -- shapes -----------------------------------------------------------------------------

    def mapping(self, value: Any, path: Path, section: str) -> dict[str, Any] | None:
        """Check that ``value`` is a mapping with the keys ``section`` allows."""
        if not isinstance(value, dict):
            what = "is empty" if value is None else f"is {_what(value)}"
            self.problem(path, f"must be a mapping of settings, but {what}")
            return None
        required, optional = SCHEMA[section]
        allowed = required | optional
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else None
                if key == "<<":  # YAML 1.1's merge key is not part of the YAML the catalog reads
                    hint = "YAML merge keys are not supported; write the settings out"
                hint = hint or "expected " + ", ".join(sorted(allowed))
                self.problem((*path, key), f"unknown key {key!r} ({hint})")
        for key in sorted(required - value.keys()):
            # The top level has no place to name, so its message says whose key it is.
            missing = "missing" if path else "the catalog is missing"
            self.problem(path, f"{missing} required key {key!r}")
            self.quiet.add((*path, key))
        return value

    def named(self, value: Any, path: Path, what: str) -> dict[str, Any]:
        """A mapping from names to entries (images, pools, courses)."""
        if not isinstance(value, dict) or not value:
            found = "" if isinstance(value, dict) else f", not {_what(value)}"
            self.problem(path, f"must map names to {what}, with at least one entry{found}")
            return {}
        return value

    def text(self, value: Any, path: Path, allow_empty: bool = False) -> str | _Bad:
        if isinstance(value, str) and (value.strip() or allow_empty):
            if any(ord(ch) < 32 and ch not in "\t" for ch in value):
                return self.problem(path, f"{show(value)} contains control characters")
            return value
        if value is None or isinstance(value, str):
            return self.problem(path, "is empty; it needs a value")
        # YAML read true, 5 or 1.5 as a non-text value; quoting makes it text.
        quote = " (put it in quotes)" if isinstance(value, bool | int | float) else ""
        return self.problem(path, f"must be text, not {_what(value)}{quote}")

    def integer(
        self, value: Any, path: Path, minimum: int = 0, maximum: int = 1_000_000
    ) -> int | _Bad:
        if isinstance(value, bool) or not isinstance(value, int):
            return self.problem(path, f"{show(value)} is not a whole number")
        if value < minimum:
            return self.problem(path, f"{value} is below the minimum of {minimum}")
        if value > maximum:
            return self.problem(path, f"{show(value)} is above the maximum of {maximum:,}")
        return value

    def boolean(self, value: Any, path: Path) -> bool | _Bad:
        if isinstance(value, bool):
            return value
        return self.problem(path, f"{show(value)} is not true or false")

    def day(self, value: Any, path: Path) -> date | _Bad:
        try:
            return date.fromisoformat(value) if isinstance(value, str) else _raise_bad_date(value)
        except ValueError:
            return self.problem(path, f"{show(value)} is not a date (write YYYY-MM-DD)")

    def parsed(self, value: Any, path: Path, parse: Callable[[Any], T]) -> T | _Bad:
        try:
            return parse(value)
        except ValueError as error:
            return self.problem(path, str(error))

    def items(self, value: Any, path: Path, what: str) -> list[tuple[Path, Any]]:
        """The entries of a list (a single value is not silently treated as a list)."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(path, f"must be a list of {what}, not {_what(value)}")
            return []
        return [((*path, index), item) for index, item in enumerate(value)]

    # -- sections ---------------------------------------------------------------------------

    def catalog(self, data: Any, source: str) -> Catalog | None:
        sections = "term, timezone, images, pools, defaults and courses"
        if data is None:
            self.problem((), f"the catalog is empty; it needs {sections}")
            return None
        if not isinstance(data, dict):
            self.problem((), f"the catalog must be a mapping of {sections}, not {_kind(data)}")
            return None
        root = self.mapping(data, (), "catalog")
        if root is None:
            return None
        # A missing section was reported by mapping(); problem() keeps its checks quiet.
        term = self.term(root.get("term"), ("term",))
        timezone = self.timezone(root.get("timezone"), ("timezone",))
        images = {
            name: image
            for name, value in self.named(root.get("images"), ("images",), "images").items()
            if not isinstance(image := self.image(name, value, ("images", name)), _Bad)
        }
        pools = {
            name: pool
            for name, value in self.named(root.get("pools"), ("pools",), "pools").items()
            if not isinstance(pool := self.pool(name, value, ("pools", name)), _Bad)
        }
        known_images = set(self.named_keys(root.get("images")))
        known_pools = set(self.named_keys(root.get("pools")))
        defaults = self.defaults(root.get("defaults"), images, pools, known_images, known_pools)
        courses: dict[str, Course] = {}
        by_key: dict[str, Course] = {}
        key_owner: dict[str, str] = {}
        raw_courses = self.named(root.get("courses"), ("courses",), "courses")
        for slug, value in raw_courses.items():
            path: Path = ("courses", slug)
            # Checked once, here: each key's problems are reported once, at its own place.
            raw_keys = value.get("keys") if isinstance(value, dict) else None
            key_items = self.course_keys(raw_keys, (*path, "keys"))
            keys = tuple(key for _, key in key_items)
            course = self.course(
                slug, value, path, keys, defaults, images, pools, known_images, known_pools, term
            )
            for key_path, key in key_items:
                if key in key_owner:
                    self.problem(key_path, f"{key!r} already belongs to course {key_owner[key]}")
                else:
                    key_owner[key] = slug
                    if not isinstance(course, _Bad):
                        by_key[key] = course
            if not isinstance(course, _Bad):
                courses[slug] = course
        if self.problems or isinstance(term, _Bad) or isinstance(timezone, _Bad):
            return None
        assert not isinstance(defaults, _Bad)
        return Catalog(
            term=term,
            timezone=timezone,
            images=_frozen(images),
            pools=_frozen(pools),
            defaults=defaults,
            courses=_frozen(courses),
            courses_by_key=_frozen(by_key),
            source=source,
        )

    @staticmethod
    def named_keys(value: Any) -> Iterable[str]:
        return value.keys() if isinstance(value, dict) else ()

    def term(self, value: Any, path: Path) -> Term | _Bad:
        section = self.mapping(value, path, "term")
        if section is None:
            return BAD
        name = self.text(section.get("name"), (*path, "name"))
        if not isinstance(name, _Bad):
            name = self.parsed(name, (*path, "name"), _label_value)
        starts = self.day(section.get("starts"), (*path, "starts"))
        ends = self.day(section.get("ends"), (*path, "ends"))
        if isinstance(starts, date) and isinstance(ends, date) and ends < starts:
            ends = self.problem((*path, "ends"), f"{ends} is before the start, {starts}")
        holidays = []
        for item_path, item in self.items(section.get("holidays"), (*path, "holidays"), "dates"):
            holiday = self.day(item, item_path)
            if _all_dates(holiday, starts, ends) and not starts <= holiday <= ends:
                holiday = self.problem(
                    item_path, f"{holiday} is outside the term ({starts} to {ends})"
                )
            holidays.append(holiday)
        if _any_bad(name, starts, ends, *holidays):
            return BAD
        return Term(name, starts, ends, tuple(sorted(set(holidays))))

    def timezone(self, value: Any, path: Path) -> ZoneInfo | _Bad:
        name = self.text(value, path)
        if isinstance(name, _Bad):
            return name
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a directory
            return self.problem(
                path, f"{name!r} is not a known time zone (try an IANA name like America/Chicago)"
            )

    def image(self, name: str, value: Any, path: Path) -> Image | _Bad:
        bad_name = self.parsed(name, path, _label_value)
        section = self.mapping(value, path, "image")
        if section is None:
            return BAD
        ref = self.text(section.get("ref"), (*path, "ref"))
        if isinstance(ref, str) and not _IMAGE_REF.match(ref):
            ref = self.problem(
                (*path, "ref"),
                f"{show(ref)} is not a container image reference"
                " (try registry/name:tag, such as ghcr.io/campus/python:2026.08)",
            )
        default_url = self.url_path(section.get("default_url", "/lab"), (*path, "default_url"))
        language = self.text(section.get("language", name), (*path, "language"))
        if "language" not in section and isinstance(bad_name, _Bad):
            language = BAD  # defaults to the name, whose problem is already reported
        elif isinstance(language, str):
            language = self.parsed(language, (*path, "language"), _label_value)
        if _any_bad(bad_name, ref, default_url, language):
            return BAD
        return Image(name, ref, default_url, language)

    def url_path(self, value: Any, path: Path) -> str | _Bad:
        url = self.text(value, path)
        if isinstance(url, _Bad):
            return url
        # Browsers treat %2e%2e as .. and %5c as \, so check the decoded path too.
        decoded = urllib.parse.unquote(url.split("?")[0])
        if (
            not url.startswith("/")
            or decoded.startswith("//")
            or ".." in decoded.split("/")
            or any(ch.isspace() or ch == "\\" for ch in url + decoded)
        ):
            return self.problem(
                path, f"{url!r} must be a path on the server, such as /lab or /rstudio"
            )
        return url

    def pool(self, name: str, value: Any, path: Path) -> Pool | _Bad:
        bad_name = self.parsed(name, path, _label_value)
        section = self.mapping(value, path, "pool")
        if section is None:
            return BAD
        node = self.mapping(section.get("node"), (*path, "node"), "node")
        node_cpu: float | _Bad = BAD  # a node that is not a mapping is reported once, above
        node_memory: int | _Bad = BAD
        if node is not None:
            node_cpu = self.parsed(node.get("cpu"), (*path, "node", "cpu"), parse_cpu)
            node_memory = self.parsed(node.get("memory"), (*path, "node", "memory"), parse_memory)
        if node_cpu == 0:
            node_cpu = self.problem((*path, "node", "cpu"), "a node needs more than 0 CPU")
        if node_memory == 0:
            node_memory = self.problem((*path, "node", "memory"), "a node needs memory")
        selector = self.labels(section.get("node_selector"), (*path, "node_selector"))
        tolerations = self.tolerations(section.get("tolerations"), (*path, "tolerations"))
        placeholder = self.placeholder(section.get("placeholder"), (*path, "placeholder"))
        low = self.integer(section.get("min", 0), (*path, "min"))
        high = self.integer(section.get("max"), (*path, "max"))
        if isinstance(low, int) and isinstance(high, int) and high < low:
            high = self.problem((*path, "max"), f"{high} is below min ({low})")
        lead = self.parsed(section.get("lead", "15m"), (*path, "lead"), parse_duration)
        unit = self.choice(section.get("unit", "node"), (*path, "unit"), PLACEHOLDER_UNITS)
        parts = (bad_name, node_cpu, node_memory, selector, tolerations, placeholder, low, high)
        if _any_bad(*parts, lead, unit):
            return BAD
        return Pool(
            name, node_cpu, node_memory, selector, tolerations, placeholder, low, high, lead, unit
        )

    def labels(self, value: Any, path: Path) -> Mapping[str, str] | _Bad:
        if value is None:
            return _frozen({})
        if not isinstance(value, dict):
            return self.problem(path, "must map Kubernetes label keys to values")
        result: dict[str, str] = {}
        for key, label in value.items():
            key_ok = self.parsed(key, (*path, key), _label_key)
            if isinstance(label, int | float) and not isinstance(label, bool):
                label = str(label)  # a number is its text; true/false or empty is a mistake
            text = self.text(label, (*path, key), True)
            if isinstance(text, str):
                text = self.parsed(text, (*path, key), _label_value)
            if not _any_bad(key_ok, text):
                result[key] = text
        return _frozen(result) if len(result) == len(value) else BAD

    def tolerations(self, value: Any, path: Path) -> tuple[Mapping[str, str], ...] | _Bad:
        result = []
        for item_path, item in self.items(value, path, "tolerations"):
            section = self.mapping(item, item_path, "toleration")
            if section is None:
                continue
            operator = self.choice(
                section.get("operator", "Equal"), (*item_path, "operator"), _TOLERATION_OPERATORS
            )
            checked = {
                "key": self.text(section.get("key"), (*item_path, "key")),
                "operator": operator,
            }
            if "value" in section:
                checked["value"] = self.text(section["value"], (*item_path, "value"), True)
            if "effect" in section:
                checked["effect"] = self.choice(
                    section["effect"], (*item_path, "effect"), _TOLERATION_EFFECTS
                )
            if not _any_bad(*checked.values()):
                result.append(_frozen(checked))
        count = len(value) if isinstance(value, list) else 0
        return tuple(result) if len(result) == count else BAD

    def placeholder(self, value: Any, path: Path) -> Placeholder | _Bad | None:
        if value is None:
            return None
        section = self.mapping(value, path, "placeholder")
        if section is None:
            return BAD
        kind = self.choice(section.get("kind", "Deployment"), (*path, "kind"), PLACEHOLDER_KINDS)
        name = self.text(section.get("name"), (*path, "name"))
        if isinstance(name, str):
            name = self.parsed(name, (*path, "name"), _dns_name)
        namespace = section.get("namespace")
        if namespace is not None:
            namespace = self.text(namespace, (*path, "namespace"))
            if isinstance(namespace, str):
                namespace = self.parsed(namespace, (*path, "namespace"), _dns_name)
        if _any_bad(kind, name, namespace):
            return BAD
        return Placeholder(kind, name, namespace)

    def choice(self, value: Any, path: Path, options: tuple[str, ...]) -> str | _Bad:
        if isinstance(value, str) and value in options:
            return value
        return self.problem(path, f"{show(value)} is not one of: " + ", ".join(options))

    def allocation(
        self,
        value: Any,
        path: Path,
        inherited: Allocation | _Bad | None,
        parse: Callable[[Any], float],
    ) -> Allocation | _Bad:
        """A guarantee/limit pair; missing halves come from ``inherited`` (the defaults).

        ``inherited`` is BAD when the defaults are broken: missing halves are then unknown
        but not a new problem.
        """
        if value is None and inherited is not None:
            return inherited
        amount = format_memory if parse is parse_memory else format_cpu
        if value is not None and not isinstance(value, dict):  # e.g. ``memory: 1Gi``
            example = (
                "{guarantee: 512Mi, limit: 1Gi}"
                if parse is parse_memory
                else "{guarantee: 0.5, limit: 2}"
            )
            return self.problem(
                path,
                f"must be a guarantee and a limit such as {example}, not {_what(value)}",
            )
        section = self.mapping(value, path, "allocation")
        if section is None:
            return BAD
        halves: dict[str, Any] = {}
        for half in ("guarantee", "limit"):
            if half in section:
                halves[half] = self.parsed(section[half], (*path, half), parse)
            elif isinstance(inherited, _Bad):
                halves[half] = BAD  # the defaults' own problem, reported there
            elif inherited is not None:
                halves[half] = getattr(inherited, half)
            else:
                halves[half] = self.problem(path, f"missing required key {half!r}")
        if _any_bad(*halves.values()):
            return BAD
        guarantee, limit = halves["guarantee"], halves["limit"]
        if limit < guarantee and "limit" not in section:
            return self.problem(
                (*path, "guarantee"),
                f"{amount(guarantee)} is above the limit {amount(limit)} from the defaults;"
                " set a limit here too",
            )
        if limit < guarantee:
            return self.problem(
                (*path, "limit"),
                f"limit {amount(limit)} is below the guarantee {amount(guarantee)}",
            )
        return Allocation(guarantee, limit)

    def defaults(
        self,
        value: Any,
        images: Mapping[str, Image],
        pools: Mapping[str, Pool],
        known_images: set[str],
        known_pools: set[str],
    ) -> Defaults | _Bad:
        path: Path = ("defaults",)
        section = self.mapping(value, path, "defaults")
        if section is None:
            return BAD
        image = self.reference(section.get("image"), (*path, "image"), images, known_images)
        pool = self.reference(section.get("pool"), (*path, "pool"), pools, known_pools)
        cpu = self.allocation(section.get("cpu"), (*path, "cpu"), None, parse_cpu)
        memory = self.allocation(section.get("memory"), (*path, "memory"), None, parse_memory)
        gpu = self.integer(section.get("gpu", 0), (*path, "gpu"))
        home = self.choice(section.get("home", "shared"), (*path, "home"), HOME_MODES)
        if isinstance(pool, Pool):
            self.fits(pool, cpu, memory, path)
        if _any_bad(image, pool, cpu, memory, gpu, home):
            return BAD
        return Defaults(image, pool, cpu, memory, gpu, home)

    def reference(
        self, value: Any, path: Path, valid: Mapping[str, T], known: set[str]
    ) -> T | _Bad:
        """A name that must refer to an entry of ``images`` or ``pools``."""
        section = path[-1]
        if not known:  # the section is missing, empty or not a mapping: reported there
            return BAD
        listing = ", ".join(sorted(known))
        if not isinstance(value, str):
            return self.problem(
                path, f"must name one of the catalog's {section}s ({listing}), not {_what(value)}"
            )
        if value in valid:
            return valid[value]
        if value in known:  # exists but is itself broken: already reported there
            return BAD
        return self.problem(path, f"{value!r} is not one of the {section}s ({listing})")

    def fits(self, pool: Pool, cpu: Any, memory: Any, path: Path) -> None:
        if isinstance(memory, Allocation) and memory.guarantee > pool.node_memory:
            self.problem(
                (*path, "memory", "guarantee"),
                f"{format_memory(int(memory.guarantee))} does not fit on a node of pool"
                f" {pool.name} ({format_memory(pool.node_memory)})",
            )
        if isinstance(cpu, Allocation) and cpu.guarantee > pool.node_cpu:
            self.problem(
                (*path, "cpu", "guarantee"),
                f"{format_cpu(cpu.guarantee)} does not fit on a node of pool"
                f" {pool.name} ({format_cpu(pool.node_cpu)} CPU)",
            )

    def course_keys(self, value: Any, path: Path) -> list[tuple[Path, str]]:
        keys = []
        seen: set[str] = set()
        for item_path, item in self.items(value, path, "course identifiers"):
            if isinstance(item, int) and not isinstance(item, bool):
                item = str(item)
            key = self.text(item, item_path)
            if isinstance(key, str):
                if key in seen:
                    self.problem(item_path, f"{key!r} is listed twice")
                    continue
                seen.add(key)
                keys.append((item_path, key))
        return keys

    def course(
        self,
        slug: str,
        value: Any,
        path: Path,
        keys: tuple[str, ...],
        defaults: Defaults | _Bad,
        images: Mapping[str, Image],
        pools: Mapping[str, Pool],
        known_images: set[str],
        known_pools: set[str],
        term: Term | _Bad,
    ) -> Course | _Bad:
        bad_slug = self.parsed(slug, path, check_slug)
        section = self.mapping(value, path, "course")
        if section is None:
            return BAD
        if isinstance(defaults, _Bad):
            # Check the course's own settings anyway, so every problem is reported at once.
            defaults = _BROKEN_DEFAULTS
        title = self.text(section.get("title"), (*path, "title"))
        image = defaults.image
        if "image" in section:
            image = self.reference(section["image"], (*path, "image"), images, known_images)
        pool = defaults.pool
        if "pool" in section:
            pool = self.reference(section["pool"], (*path, "pool"), pools, known_pools)
        cpu = self.allocation(section.get("cpu"), (*path, "cpu"), defaults.cpu, parse_cpu)
        memory = self.allocation(
            section.get("memory"), (*path, "memory"), defaults.memory, parse_memory
        )
        if isinstance(pool, Pool) and section.keys() & {"pool", "cpu", "memory"}:
            self.fits(pool, cpu, memory, path)
        gpu = self.integer(section.get("gpu", defaults.gpu), (*path, "gpu"))
        home = self.choice(section.get("home", defaults.home), (*path, "home"), HOME_MODES)
        repos = tuple(
            self.repo(item, item_path)
            for item_path, item in self.items(section.get("repos"), (*path, "repos"), "URLs")
        )
        shared = self.shared(section.get("shared"), (*path, "shared"))
        schedule = tuple(
            self.schedule_entry(item, item_path, term)
            for item_path, item in self.items(
                section.get("schedule"), (*path, "schedule"), "meetings and events"
            )
        )
        env = self.env(section.get("env"), (*path, "env"))
        default_url: str | _Bad = image.default_url if isinstance(image, Image) else BAD
        if "default_url" in section:
            default_url = self.url_path(section["default_url"], (*path, "default_url"))
        parts = (bad_slug, title, image, pool, cpu, memory, gpu, home, shared, env, default_url)
        if _any_bad(*parts, *repos, *schedule):
            return BAD
        return Course(
            slug=slug,
            title=title,
            keys=keys,
            image=image,
            pool=pool,
            cpu=cpu,
            memory=memory,
            gpu=gpu,
            home=home,
            repos=repos,
            shared=shared,
            schedule=schedule,
            env=env,
            default_url=default_url,
        )

    def repo(self, value: Any, path: Path) -> str | _Bad:
        url = self.text(value, path)
        if isinstance(url, _Bad):
            return url
        try:
            parts = urllib.parse.urlsplit(url)
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            parts, port_ok = None, False
        if (
            parts is None
            or not port_ok
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or any(ch.isspace() for ch in url)
        ):
            return self.problem(
                path, f"{url!r} is not an http(s) URL (try https://github.com/org/ or a repository)"
            )
        if parts.username or parts.password:
            # Say where, not what: the message goes to logs and must not repeat a secret.
            without = urllib.parse.urlunsplit(
                parts._replace(netloc=parts.netloc.rpartition("@")[2])
            )
            return self.problem(
                path, f"contains credentials; list {without!r} instead (no secrets in the catalog)"
            )
        if parts.query or parts.fragment:
            return self.problem(path, f"{url!r} has a query or fragment; list the plain URL")
        return url

    def shared(self, value: Any, path: Path) -> SharedData | _Bad | None:
        if value is None:
            return None
        section = self.mapping(value, path, "shared")
        if section is None:
            return BAD
        volume = self.text(section.get("volume"), (*path, "volume"))
        if isinstance(volume, str):
            volume = self.parsed(volume, (*path, "volume"), _dns_name)
        mount = self.text(section.get("path", "/home/jovyan/shared"), (*path, "path"))
        if isinstance(mount, str) and (not mount.startswith("/") or ".." in mount.split("/")):
            mount = self.problem(
                (*path, "path"), f"{show(mount)} must be an absolute path, such as /srv/shared"
            )
        roles = []
        for item_path, item in self.items(
            section.get("readonly_for", ["students"]), (*path, "readonly_for"), "member roles"
        ):
            roles.append(self.choice(item, item_path, MEMBER_ROLES))
        if _any_bad(volume, mount, *roles):
            return BAD
        return SharedData(volume, mount, frozenset(roles))

    def env(self, value: Any, path: Path) -> Mapping[str, str] | _Bad:
        if value is None:
            return _frozen({})
        if not isinstance(value, dict):
            return self.problem(path, "must map environment variable names to values")
        result: dict[str, str] = {}
        for name, raw in value.items():
            if not _ENV_NAME.match(name):
                self.problem(
                    (*path, name),
                    f"{show(name)} is not an environment variable name"
                    " (use letters, digits and '_', not starting with a digit)",
                )
            elif isinstance(raw, bool) or not isinstance(raw, str | int | float):
                self.problem((*path, name), f"must be text or a number, not {_what(raw)}")
            else:
                result[name] = str(raw)
        return _frozen(result) if len(result) == len(value) else BAD

    def schedule_entry(self, value: Any, path: Path, term: Term | _Bad) -> ScheduleEntry | _Bad:
        if isinstance(value, dict) and ("every" in value) == ("on" in value):
            kinds = "'every' (a weekly meeting) {} 'on' (a one-off date)"
            if "every" in value:
                return self.problem(path, "has both " + kinds.format("and") + "; use one")
            return self.problem(path, "needs " + kinds.format("or"))
        weekly = isinstance(value, dict) and "every" in value
        section = self.mapping(value, path, "weekly" if weekly else "oneoff")
        if section is None:
            return BAD
        at = self.parsed(section.get("at"), (*path, "at"), parse_clock)
        duration = self.parsed(section.get("for"), (*path, "for"), parse_duration)
        if isinstance(duration, timedelta) and not timedelta(0) < duration <= timedelta(hours=24):
            duration = self.problem((*path, "for"), "must be more than 0 and at most 24h")
        expect = self.integer(section.get("expect"), (*path, "expect"))
        exam = self.boolean(section.get("exam", False), (*path, "exam"))
        if not weekly:
            on = self.in_term(section.get("on"), (*path, "on"), term)
            if _any_bad(at, duration, expect, exam, on):
                return BAD
            return OneOffEvent(on, at, duration, expect, exam)
        weekdays = []
        for item_path, item in self.items(section.get("every"), (*path, "every"), "weekdays"):
            day = _DAY_NUMBERS.get(item.lower()) if isinstance(item, str) else None
            weekdays.append(day if day is not None else self.choice(item, item_path, WEEKDAYS))
        if not weekdays and isinstance(section.get("every"), list):
            weekdays.append(self.problem((*path, "every"), "lists no weekdays"))
        starts = ends = None
        if "from" in section:
            starts = self.in_term(section["from"], (*path, "from"), term)
        if "until" in section:
            ends = self.in_term(section["until"], (*path, "until"), term)
        skip = [
            self.in_term(item, item_path, term)
            for item_path, item in self.items(section.get("skip"), (*path, "skip"), "dates")
        ]
        if isinstance(starts, date) and isinstance(ends, date) and ends < starts:
            ends = self.problem((*path, "until"), f"{ends} is before 'from' ({starts})")
        if _any_bad(at, duration, expect, exam, starts, ends, *weekdays, *skip):
            return BAD
        return WeeklyMeeting(
            tuple(sorted(set(weekdays))), at, duration, expect, exam, starts, ends, tuple(skip)
        )

    def in_term(self, value: Any, path: Path, term: Term | _Bad) -> date | _Bad:
        day = self.day(value, path)
        if isinstance(day, date) and isinstance(term, Term) and not term.is_open(day):
            return self.problem(
                path, f"{day} is outside the term {term.name} ({term.starts} to {term.ends})"
            )
        return day


_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NUMBERS = {
    name: number for names in (WEEKDAYS, _FULL_DAYS) for number, name in enumerate(names)
}


# Stands in for defaults that had problems of their own: each inherited value is BAD.
_BROKEN_DEFAULTS: Any = types.SimpleNamespace(
    image=BAD, pool=BAD, cpu=BAD, memory=BAD, gpu=0, home="shared"
)


def _all_dates(*values: Any) -> bool:
    return all(isinstance(value, date) for value in values)


def _label_value(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} must be text")
    check_label_value(value)
    return value


def _dns_name(value: str) -> str:
    check_dns_name(value)  # returns None: hand back the name itself, not the check's result
    return value


def _label_key(value: Any) -> Any:
    check_label_key(value)
    return value


def _raise_bad_date(value: Any) -> date:
    # YAML numbers and booleans are not dates; say so with the same message as bad text.
    raise ValueError(value)


def _any_bad(*values: Any) -> bool:
    return any(isinstance(value, _Bad) for value in values)


def _what(value: Any) -> str:
    """``a list ['x']``: the kind of a value and the value, for messages."""
    return (
        show(value) if value is None or isinstance(value, bool) else f"{_kind(value)} {show(value)}"
    )


def _kind(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "text",
        bool: "true/false",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)
