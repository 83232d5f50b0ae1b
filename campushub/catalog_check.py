"""Checking a course catalog: plain YAML data in, :class:`~campushub.catalog.Catalog` out.

:func:`check_catalog` walks the data read from ``courses.yaml`` section by section, collects
*every* problem with its place and line, and builds the immutable objects of
:mod:`campushub.catalog` where it can. A value that already produced a problem becomes
``BAD``, so nothing that depends on it reports the same mistake again.

Pure, like :mod:`campushub.catalog`: no JupyterHub, tornado or Kubernetes.
"""

from __future__ import annotations

import difflib
import re
import types
import urllib.parse
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import Any, Final, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .catalog import (
    APP_PATHS,
    APPS,
    DEFAULT_EARLY,
    GRADING_TOOLS,
    HOME_MODES,
    MEMBER_ROLES,
    PLACEHOLDER_KINDS,
    PLACEHOLDER_UNITS,
    SCHEMA,
    WEEKDAYS,
    Allocation,
    Amount,
    Catalog,
    CatalogError,
    Course,
    Defaults,
    Image,
    OneOffEvent,
    Placeholder,
    Pool,
    Problem,
    ScheduleEntry,
    SharedData,
    Term,
    WeeklyMeeting,
    check_slug,
)
from .units import (
    check_dns_name,
    check_label_key,
    check_label_value,
    format_cpu,
    format_duration,
    format_memory,
    parse_clock,
    parse_cpu,
    parse_duration,
    parse_memory,
    show,
)
from .yamlsource import Path, YamlDocument

T = TypeVar("T")


def check_catalog(document: YamlDocument, source: str = "<string>") -> Catalog:
    """Build the catalog ``document`` describes; raise :class:`CatalogError` listing every
    problem, in line order."""
    checker = _Checker(document)
    catalog = checker.catalog(document.data, source)
    if checker.problems or catalog is None:
        problems = sorted(checker.problems, key=lambda p: (p.line or 0, p.place))
        raise CatalogError(problems, source)
    return catalog


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f]")  # control characters other than tab
_WHITESPACE = re.compile(r"\s")


class _Bad:
    """Marks a value that already produced a problem, so nothing downstream repeats it."""


BAD: Final = _Bad()


DEFAULT_DISK: Final = 10 * 2**30  # a server's own disk unless the catalog says otherwise
MIN_DISK: Final = 2**30
MAX_SPARE: Final = 10  # a pool's spare: nodes, or user slots


@dataclass(frozen=True, slots=True)
class _BrokenDefaults:
    """Stands in for defaults that had problems of their own, so courses are still checked:
    each inherited setting is BAD (reported at the defaults), gpu and home as the schema's."""

    image: _Bad = BAD
    pool: _Bad = BAD
    cpu: _Bad = BAD
    memory: _Bad = BAD
    gpu: int = 0
    home: str = "shared"
    disk: int = DEFAULT_DISK


# Not slots=True: see Allocation in campushub.catalog.
@dataclass(frozen=True)
class _Resource(Generic[Amount]):
    """How one kind of allocation is read, shown and written in an example."""

    parse: Callable[[object], Amount]
    format: Callable[[Amount], str]
    example: str


_CPU: Final = _Resource(parse_cpu, format_cpu, "{guarantee: 0.5, limit: 2}")
_MEMORY: Final = _Resource(parse_memory, format_memory, "{guarantee: 512Mi, limit: 1Gi}")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IMAGE_REF = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._/-][a-z0-9]+)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
_TOLERATION_OPERATORS = ("Equal", "Exists")
_TOLERATION_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NUMBERS = {
    name: number for names in (WEEKDAYS, _FULL_DAYS) for number, name in enumerate(names)
}
_PLAIN_KEY = re.compile(r"^[\w.:/@+-]{1,80}$")


class _Checker:
    """Checks one document. Value checkers (``text``, ``integer``, ``allocation``...) return
    the checked value or BAD after recording a problem; section checkers build objects."""

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
        # Set by catalog() section by section: later sections refer to earlier ones.
        self.term: Term | _Bad = BAD
        self.images: dict[str, Image] = {}
        self.pools: dict[str, Pool] = {}
        # The names listed under images and pools, including entries that had problems.
        self.names: dict[str, set[str]] = {"image": set(), "pool": set()}
        self.defaults: Defaults | _BrokenDefaults = _BrokenDefaults()

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
                self.problem((*path, key), f"unknown key {show(key)} ({hint})")
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
            if _CONTROL.search(value):
                return self.problem(path, f"{show(value)} contains control characters")
            return value
        if value is None or isinstance(value, str):
            return self.problem(path, "is empty; it needs a value")
        # YAML read true, 5 or 1.5 as a non-text value; quoting makes it text.
        quote = " (put it in quotes)" if isinstance(value, bool | int | float) else ""
        return self.problem(path, f"must be text, not {_what(value)}{quote}")

    def checked_text(
        self, value: Any, path: Path, check: Callable[[str], T], allow_empty: bool = False
    ) -> T | _Bad:
        """Text that ``check`` then accepts (returning the value to use) or refuses with a
        ``ValueError`` whose message is the problem."""
        text = self.text(value, path, allow_empty)
        return text if isinstance(text, _Bad) else self.parsed(text, path, check)

    def integer(
        self, value: Any, path: Path, minimum: int = 0, maximum: int = 1_000_000
    ) -> int | _Bad:
        if isinstance(value, bool) or not isinstance(value, int):
            return self.problem(path, f"{show(value)} is not a whole number")
        if value < minimum:
            return self.problem(path, f"{show(value)} is below the minimum of {minimum}")
        if value > maximum:
            return self.problem(path, f"{show(value)} is above the maximum of {maximum:,}")
        return value

    def boolean(self, value: Any, path: Path) -> bool | _Bad:
        if isinstance(value, bool):
            return value
        return self.problem(path, f"{show(value)} is not true or false")

    def day(self, value: Any, path: Path) -> date | _Bad:
        if isinstance(value, str):
            with suppress(ValueError):
                return date.fromisoformat(value)
        # A YAML number or true/false is no date either, and gets the same message.
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

    def choice(self, value: Any, path: Path, options: tuple[str, ...]) -> str | _Bad:
        if isinstance(value, str) and value in options:
            return value
        return self.problem(path, f"{show(value)} is not one of: " + ", ".join(options))

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
        self.term = self.check_term(root.get("term"), ("term",))
        timezone = self.checked_text(root.get("timezone"), ("timezone",), _time_zone)
        raw_images = self.named(root.get("images"), ("images",), "images")
        self.names["image"] = set(raw_images)
        self.images = {
            name: image
            for name, value in raw_images.items()
            if not isinstance(image := self.check_image(name, value, ("images", name)), _Bad)
        }
        raw_pools = self.named(root.get("pools"), ("pools",), "pools")
        self.names["pool"] = set(raw_pools)
        self.pools = {
            name: pool
            for name, value in raw_pools.items()
            if not isinstance(pool := self.check_pool(name, value, ("pools", name)), _Bad)
        }
        defaults = self.check_defaults(root.get("defaults"), ("defaults",))
        if isinstance(defaults, Defaults):
            self.defaults = defaults
        courses: dict[str, Course] = {}
        by_key: dict[str, Course] = {}
        key_owner: dict[str, str] = {}
        for slug, value in self.named(root.get("courses"), ("courses",), "courses").items():
            path: Path = ("courses", slug)
            # Checked once, here: each key's problems are reported once, at its own place.
            raw_keys = value.get("keys") if isinstance(value, dict) else None
            key_items = self.course_keys(raw_keys, (*path, "keys"))
            course = self.check_course(slug, value, path, tuple(key for _, key in key_items))
            for key_path, key in key_items:
                if key in key_owner:
                    owner = _shown_key(key_owner[key])
                    self.problem(key_path, f"{show(key)} already belongs to course {owner}")
                else:
                    key_owner[key] = slug
                    if not isinstance(course, _Bad):
                        by_key[key] = course
            if not isinstance(course, _Bad):
                courses[slug] = course
        # A key that is another course's slug would let one claim value name two courses
        # (where slugs are matched too): refused, wherever the two appear.
        slugs = set(self.named(root.get("courses"), ("courses",), "courses"))
        for key, owner in key_owner.items():
            if key in slugs and key != owner:
                self.problem(
                    ("courses", owner, "keys"),
                    f"{show(key)} is the slug of course {_shown_key(key)}: a key must name this"
                    " course only",
                )
        if self.problems or isinstance(self.term, _Bad) or isinstance(timezone, _Bad):
            return None
        assert isinstance(defaults, Defaults)  # otherwise there were problems
        return Catalog(
            term=self.term,
            timezone=timezone,
            images=_frozen(self.images),
            pools=_frozen(self.pools),
            defaults=defaults,
            courses=_frozen(courses),
            courses_by_key=_frozen(by_key),
            source=source,
        )

    def check_term(self, value: Any, path: Path) -> Term | _Bad:
        section = self.mapping(value, path, "term")
        if section is None:
            return BAD
        name = self.checked_text(section.get("name"), (*path, "name"), check_label_value)
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

    def check_image(self, name: str, value: Any, path: Path) -> Image | _Bad:
        bad_name = self.parsed(name, path, check_label_value)
        section = self.mapping(value, path, "image")
        if section is None:
            return BAD
        ref = self.checked_text(section.get("ref"), (*path, "ref"), _image_ref)
        default_url = self.checked_text(
            section.get("default_url", "/lab"), (*path, "default_url"), _server_path
        )
        language = self.text(section.get("language", name), (*path, "language"))
        if "language" not in section and isinstance(bad_name, _Bad):
            language = BAD  # defaults to the name, whose problem is already reported
        elif isinstance(language, str):
            language = self.parsed(language, (*path, "language"), check_label_value)
        apps = self.image_apps(section, default_url, path)
        if _any_bad(bad_name, ref, default_url, language, apps):
            return BAD
        assert isinstance(apps, tuple)
        return Image(name, ref, default_url, language, apps)

    def image_apps(
        self, section: dict[str, Any], default_url: str | _Bad, path: Path
    ) -> tuple[str, ...] | _Bad:
        """The image's apps: as listed (known, once each), else JupyterLab and the app its
        ``default_url`` opens; a ``default_url`` into an app the list leaves out is a problem."""
        opened = None
        if isinstance(default_url, str):
            for app, where in APP_PATHS.items():
                if default_url == where or default_url.startswith(where + "/"):
                    opened = app
        if "apps" not in section:
            return tuple(dict.fromkeys(["lab", *([opened] if opened else [])]))
        value = section["apps"]
        where = (*path, "apps")
        if not isinstance(value, list) or not value:
            return self.problem(
                where, f"must be a list of apps ({', '.join(APPS)}), not {show(value)}"
            )
        apps: list[str] = []
        bad = False
        for index, item in enumerate(value):
            if item not in APPS:
                close = difflib.get_close_matches(str(item), APPS, n=1)
                hint = f"did you mean {close[0]!r}?" if close else "apps: " + ", ".join(APPS)
                self.problem(
                    (*where, index), f"{show(item)} is not an app campushub knows ({hint})"
                )
                bad = True
            elif item in apps:
                self.problem((*where, index), f"{item!r} is listed twice")
                bad = True
            else:
                apps.append(item)
        if bad:
            return BAD
        if opened and opened not in apps:
            return self.problem(
                (*path, "default_url"),
                f"{default_url!r} opens {APPS[opened]}, which apps does not list"
                f" ({', '.join(apps)})",
            )
        return tuple(apps)

    def check_pool(self, name: str, value: Any, path: Path) -> Pool | _Bad:
        bad_name = self.parsed(name, path, check_label_value)
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
        if isinstance(lead, timedelta) and lead > timedelta(hours=24):
            lead = self.problem((*path, "lead"), "must be at most 24h")
        if "warmup" in section:
            warmup = self.parsed(section["warmup"], (*path, "warmup"), parse_duration)
        elif isinstance(lead, timedelta):  # the lead less how early students are taken to come
            warmup = max(lead - DEFAULT_EARLY, timedelta(0))
        else:
            warmup = lead  # its problem is already reported
        if isinstance(warmup, timedelta) and isinstance(lead, timedelta) and warmup > lead:
            warmup = self.problem(
                (*path, "warmup"),
                f"{format_duration(warmup)} is longer than the pool's lead"
                f" ({format_duration(lead)}), which covers the warm-up and how early"
                " students come",
            )
        unit = self.choice(section.get("unit", "node"), (*path, "unit"), PLACEHOLDER_UNITS)
        spare = self.spare(section, (*path, "spare"), unit)
        parts = (bad_name, node_cpu, node_memory, selector, tolerations, placeholder, low, high)
        if _any_bad(*parts, lead, warmup, unit, spare):
            return BAD
        return Pool(
            name,
            node_cpu,
            node_memory,
            selector,
            tolerations,
            placeholder,
            low,
            high,
            lead,
            unit,
            warmup,
            spare,
        )

    def spare(self, section: Mapping[str, Any], path: Path, unit: str | _Bad) -> Fraction | _Bad:
        """A pool's ``spare``: 0 to 10 nodes (halves and such allowed), or whole user slots;
        by default half a node, no user slot."""
        if "spare" not in section:
            return Fraction(1, 2) if unit == "node" else Fraction(0)
        value = section["spare"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            return self.problem(path, f"{show(value)} is not a number")
        if not 0 <= value <= MAX_SPARE:
            return self.problem(path, f"{show(value)} is not between 0 and {MAX_SPARE}")
        if unit == "user" and value != int(value):
            return self.problem(path, f"{show(value)} is not a whole number of user slots")
        return Fraction(str(value)).limit_denominator(1000)

    def labels(self, value: Any, path: Path) -> Mapping[str, str] | _Bad:
        if value is None:
            return _frozen({})
        if not isinstance(value, dict):
            return self.problem(path, "must map Kubernetes label keys to values")
        result: dict[str, str] = {}
        for key, label in value.items():
            key_ok = self.parsed(key, (*path, key), check_label_key)
            if isinstance(label, int | float) and not isinstance(label, bool):
                label = str(label)  # a number is its text; true/false or empty is a mistake
            text = self.checked_text(label, (*path, key), check_label_value, allow_empty=True)
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
        name = self.checked_text(section.get("name"), (*path, "name"), check_dns_name)
        namespace = section.get("namespace")
        if namespace is not None:
            namespace = self.checked_text(namespace, (*path, "namespace"), check_dns_name)
        if _any_bad(kind, name, namespace):
            return BAD
        return Placeholder(kind, name, namespace)

    def check_defaults(self, value: Any, path: Path) -> Defaults | _Bad:
        section = self.mapping(value, path, "defaults")
        if section is None:
            return BAD
        image = self.reference(section.get("image"), (*path, "image"), self.images)
        pool = self.reference(section.get("pool"), (*path, "pool"), self.pools)
        cpu = self.allocation(section.get("cpu"), (*path, "cpu"), None, _CPU)
        memory = self.allocation(section.get("memory"), (*path, "memory"), None, _MEMORY)
        gpu = self.integer(section.get("gpu", 0), (*path, "gpu"))
        home = self.choice(section.get("home", "shared"), (*path, "home"), HOME_MODES)
        disk = self.disk(section.get("disk", DEFAULT_DISK), (*path, "disk"))
        personal = self.boolean(section.get("personal_server", False), (*path, "personal_server"))
        if isinstance(pool, Pool):
            self.fits(pool, cpu, memory, path)
        if _any_bad(image, pool, cpu, memory, gpu, home, disk, personal):
            return BAD
        assert isinstance(personal, bool)
        return Defaults(image, pool, cpu, memory, gpu, home, disk, personal)

    def disk(self, value: Any, path: Path) -> int | _Bad:
        amount = self.parsed(value, path, parse_memory)
        if isinstance(amount, int) and amount < MIN_DISK:
            return self.problem(
                path,
                f"{format_memory(amount)} is too little for a server's own disk (at least 1Gi)",
            )
        return amount

    def reference(self, value: Any, path: Path, valid: Mapping[str, T]) -> T | _Bad:
        """A name that must refer to an entry of ``images`` or ``pools``: ``valid``, the
        entries without problems, under the section ``path`` ends in (image or pool)."""
        section = str(path[-1])
        known = self.names[section]
        if not known:  # the section is missing, empty or not a mapping: reported there
            return BAD
        listing = ", ".join(_shown_key(name) for name in sorted(known))
        if not isinstance(value, str):
            return self.problem(
                path, f"must name one of the catalog's {section}s ({listing}), not {_what(value)}"
            )
        if value in valid:
            return valid[value]
        if value in known:  # exists but is itself broken: already reported there
            return BAD
        return self.problem(path, f"{show(value)} is not one of the {section}s ({listing})")

    def allocation(
        self,
        value: Any,
        path: Path,
        inherited: Allocation[Amount] | _Bad | None,
        resource: _Resource[Amount],
    ) -> Allocation[Amount] | _Bad:
        """A guarantee/limit pair; missing halves come from ``inherited`` (the defaults).

        ``inherited`` is BAD when the defaults are broken: missing halves are then unknown
        but not a new problem.
        """
        if value is None and inherited is not None:
            return inherited
        if value is not None and not isinstance(value, dict):  # e.g. ``memory: 1Gi``
            return self.problem(
                path,
                f"must be a guarantee and a limit such as {resource.example}, not {_what(value)}",
            )
        section = self.mapping(value, path, "allocation")
        if section is None:
            return BAD
        halves: dict[str, Any] = {}
        for half in ("guarantee", "limit"):
            if half in section:
                halves[half] = self.parsed(section[half], (*path, half), resource.parse)
            elif isinstance(inherited, _Bad):
                halves[half] = BAD  # the defaults' own problem, reported there
            elif inherited is not None:
                halves[half] = getattr(inherited, half)
            else:
                halves[half] = self.problem(path, f"missing required key {half!r}")
        if _any_bad(*halves.values()):
            return BAD
        guarantee, limit = halves["guarantee"], halves["limit"]
        amount = resource.format
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

    def fits(
        self,
        pool: Pool,
        cpu: Allocation[float] | _Bad,
        memory: Allocation[int] | _Bad,
        path: Path,
    ) -> None:
        """Guarantees and limits fit one node of the pool: a limit larger than a node is never
        reachable, and in an exam window (guarantee = limit) the pod could not be placed."""
        checks: list[tuple[str, Allocation[Any] | _Bad, Any, Callable[[Any], str], str]] = [
            ("memory", memory, pool.node_memory, format_memory, ""),
            ("cpu", cpu, pool.node_cpu, format_cpu, " CPU"),
        ]
        for resource, allocation, node, shown, unit in checks:
            if not isinstance(allocation, Allocation):
                continue
            if allocation.guarantee > node:
                self.problem(
                    (*path, resource, "guarantee"),
                    f"{shown(allocation.guarantee)} does not fit on a node of pool"
                    f" {pool.name} ({shown(node)}{unit})",
                )
            elif allocation.limit > node:
                self.problem(
                    (*path, resource, "limit"),
                    f"{shown(allocation.limit)} does not fit on a node of pool {pool.name}"
                    f" ({shown(node)}{unit}): a server never gets it, and in an exam window"
                    " (guarantee = limit) its pod could not be placed; lower the limit or use"
                    " a pool with larger nodes",
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
                    self.problem(item_path, f"{show(key)} is listed twice")
                    continue
                seen.add(key)
                keys.append((item_path, key))
        return keys

    def check_course(
        self, slug: str, value: Any, path: Path, keys: tuple[str, ...]
    ) -> Course | _Bad:
        bad_slug = self.parsed(slug, path, check_slug)
        section = self.mapping(value, path, "course")
        if section is None:
            return BAD
        # Broken defaults stand in as BAD settings, so the course's own are still checked.
        defaults = self.defaults
        title = self.text(section.get("title"), (*path, "title"))
        image = defaults.image
        if "image" in section:
            image = self.reference(section["image"], (*path, "image"), self.images)
        pool = defaults.pool
        if "pool" in section:
            pool = self.reference(section["pool"], (*path, "pool"), self.pools)
        cpu = self.allocation(section.get("cpu"), (*path, "cpu"), defaults.cpu, _CPU)
        memory = self.allocation(section.get("memory"), (*path, "memory"), defaults.memory, _MEMORY)
        if isinstance(pool, Pool) and section.keys() & {"pool", "cpu", "memory"}:
            self.fits(pool, cpu, memory, path)
        gpu = self.integer(section.get("gpu", defaults.gpu), (*path, "gpu"))
        home = self.choice(section.get("home", defaults.home), (*path, "home"), HOME_MODES)
        disk = self.disk(section["disk"], (*path, "disk")) if "disk" in section else defaults.disk
        repos = tuple(
            self.checked_text(item, item_path, _http_url)
            for item_path, item in self.items(section.get("repos"), (*path, "repos"), "URLs")
        )
        shared = self.shared(section.get("shared"), (*path, "shared"))
        schedule = tuple(
            self.schedule_entry(item, item_path)
            for item_path, item in self.items(
                section.get("schedule"), (*path, "schedule"), "meetings and events"
            )
        )
        env = self.env(section.get("env"), (*path, "env"))
        default_url: str | _Bad = image.default_url if isinstance(image, Image) else BAD
        if "default_url" in section:
            default_url = self.checked_text(
                section["default_url"], (*path, "default_url"), _server_path
            )
        grading = None
        if section.get("grading") is not None:
            grading = self.choice(section["grading"], (*path, "grading"), GRADING_TOOLS)
        parts = (
            bad_slug,
            title,
            grading,
            image,
            pool,
            cpu,
            memory,
            gpu,
            home,
            disk,
            shared,
            env,
            default_url,
        )
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
            disk=disk,
            repos=repos,
            shared=shared,
            schedule=schedule,
            env=env,
            default_url=default_url,
            grading=grading,
        )

    def shared(self, value: Any, path: Path) -> SharedData | _Bad | None:
        if value is None:
            return None
        section = self.mapping(value, path, "shared")
        if section is None:
            return BAD
        volume = self.checked_text(section.get("volume"), (*path, "volume"), check_dns_name)
        mount = self.checked_text(
            section.get("path", "/home/jovyan/shared"), (*path, "path"), _absolute_path
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

    def schedule_entry(self, value: Any, path: Path) -> ScheduleEntry | _Bad:
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
        # No `expect`: the scaler counts the course's enrollment times its attendance ratio.
        expect = self.integer(section["expect"], (*path, "expect")) if "expect" in section else None
        exam = self.boolean(section.get("exam", False), (*path, "exam"))
        if not weekly:
            on = self.in_term(section.get("on"), (*path, "on"))
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
            starts = self.in_term(section["from"], (*path, "from"))
        if "until" in section:
            ends = self.in_term(section["until"], (*path, "until"))
        skip = [
            self.in_term(item, item_path)
            for item_path, item in self.items(section.get("skip"), (*path, "skip"), "dates")
        ]
        if isinstance(starts, date) and isinstance(ends, date) and ends < starts:
            ends = self.problem((*path, "until"), f"{ends} is before 'from' ({starts})")
        if _any_bad(at, duration, expect, exam, starts, ends, *weekdays, *skip):
            return BAD
        return WeeklyMeeting(
            tuple(sorted(set(weekdays))), at, duration, expect, exam, starts, ends, tuple(skip)
        )

    def in_term(self, value: Any, path: Path) -> date | _Bad:
        day = self.day(value, path)
        term = self.term
        if isinstance(day, date) and isinstance(term, Term) and not term.is_open(day):
            return self.problem(
                path, f"{day} is outside the term {term.name} ({term.starts} to {term.ends})"
            )
        return day


# -- checks of single text values: each returns the value or raises ValueError for people ------


def _time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a directory
        raise ValueError(
            f"{show(name)} is not a known time zone (try an IANA name like America/Chicago)"
        ) from None


def _image_ref(ref: str) -> str:
    if not _IMAGE_REF.match(ref):
        raise ValueError(
            f"{show(ref)} is not a container image reference"
            " (try registry/name:tag, such as ghcr.io/campus/python:2026.08)"
        )
    return ref


def _server_path(url: str) -> str:
    """A URL path on the single-user server, such as a ``default_url``."""
    # Browsers treat %2e%2e as .. and %5c as \, so check the decoded path too.
    decoded = urllib.parse.unquote(url.split("?")[0])
    if (
        not url.startswith("/")
        or decoded.startswith("//")
        or ".." in decoded.split("/")
        or any(ch.isspace() or ch == "\\" for ch in url + decoded)
    ):
        raise ValueError(f"{show(url)} must be a path on the server, such as /lab or /rstudio")
    return url


def _http_url(url: str) -> str:
    """A repository (or organisation) URL that nbgitpuller links may name."""
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
        or _WHITESPACE.search(url)
    ):
        raise ValueError(
            f"{show(url)} is not an http(s) URL (try https://github.com/org/ or a repository)"
        )
    if parts.username or parts.password:
        # Say where, not what: the message goes to logs and must not repeat a secret.
        without = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        raise ValueError(
            f"contains credentials; list {show(without)} instead (no secrets in the catalog)"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{show(url)} has a query or fragment; list the plain URL")
    return url


def _absolute_path(mount: str) -> str:
    if not mount.startswith("/") or ".." in mount.split("/"):
        raise ValueError(f"{show(mount)} must be an absolute path, such as /srv/shared")
    return mount


# -- helpers ----------------------------------------------------------------------------------


def _place(path: Path) -> str:
    """``courses.data8.schedule[0].at``: a path as problems name it."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            key = _shown_key(part)
            text += f".{key}" if text else key
    return text


def _shown_key(key: str) -> str:
    # A key with spaces, control characters or great length is shown quoted and cut,
    # so a hostile key cannot forge or flood lines of `campushub check` output.
    return key if _PLAIN_KEY.match(key) else show(key, 40)


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return types.MappingProxyType(dict(mapping))


def _all_dates(*values: Any) -> bool:
    return all(isinstance(value, date) for value in values)


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
