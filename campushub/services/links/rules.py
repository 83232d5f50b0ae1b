"""What a course link may point at, and where opening it goes: plain functions, no I/O.

A link names a course, a repository, a branch, a file and an app. :func:`check_link` accepts
it only if every field is safe and allowed, or raises :class:`LinkRejected` listing each
problem with the field it belongs to (``branch: 'a..b' is not a valid branch name: ...``):

- the course is one the person teaches (TA or instructor), or any course for an administrator;
- the repository is an http(s) URL with no credentials, query or fragment, on a host and path
  the course's catalog ``repos`` allow. An entry ending in ``/`` allows the repositories below
  it, compared by scheme, host, port and whole path segments (so ``https://github.com/data-8/``
  never allows ``https://github.com/data-8-evil/x``); an entry without one is one repository,
  with or without ``.git``;
- the branch is a valid git branch name (``git check-ref-format --branch``);
- the file is a relative path inside the repository: no ``..``, no leading ``/``, no
  backslashes or control characters;
- the app is one of :data:`APPS` that the course's image has (the catalog's ``apps``).

The link then opens through the hub's spawn page, which starts the course's named server if
needed and goes on to nbgitpuller (:func:`spawn_url`); :func:`plain_link` is the ordinary
nbgitpuller link the short link stands for.

No JupyterHub, tornado or git imports here: the service and the tests call these directly.
"""

from __future__ import annotations

import re
import string
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from ...catalog import APPS as CATALOG_APPS
from ...catalog import Catalog, Course
from ...memberships import INSTRUCTOR, TA, memberships_from_groups
from ...units import show

APPS: Final = tuple(CATALOG_APPS)
APP_NAMES: Final = dict(CATALOG_APPS)
FIELDS: Final = ("course", "repo", "branch", "path", "app")
MAX_REPO_LENGTH: Final = 500
MAX_BRANCH_LENGTH: Final = 200
MAX_PATH_LENGTH: Final = 1000
LINK_ID_ALPHABET: Final = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
LINK_ID_LENGTH: Final = 8
_LINK_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_FOLDER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One thing wrong with a link, and the field it belongs to."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class LinkRejected(ValueError):
    """A link that cannot be issued; ``problems`` lists every reason, field by field."""

    def __init__(self, problems: Iterable[FieldProblem]) -> None:
        self.problems: tuple[FieldProblem, ...] = tuple(problems)
        super().__init__("; ".join(str(problem) for problem in self.problems))

    def as_dict(self) -> dict[str, str]:
        """field -> message (the first problem of each field), as the pages show them."""
        shown: dict[str, str] = {}
        for problem in self.problems:
            shown.setdefault(problem.field, problem.message)
        return shown


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """What a link opens: a file of a branch of a repository, in an app of a course's server."""

    course: str
    repo: str
    branch: str
    path: str
    app: str

    @property
    def folder(self) -> str:
        """The folder nbgitpuller pulls into, in the course server: the repository's name."""
        return repo_folder(self.repo)


# -- who may do what -----------------------------------------------------------------------------


def courses_taught(groups: Iterable[str], admin: bool, catalog: Catalog) -> list[str]:
    """Slugs of the catalog courses a person may make links for: every course for an
    administrator, else those where their groups make them a TA or instructor."""
    if admin:
        return sorted(catalog.courses)
    memberships = memberships_from_groups(groups)
    return sorted(
        slug
        for slug, role in memberships.items()
        if role in (TA, INSTRUCTOR) and slug in catalog.courses
    )


def member_role(groups: Iterable[str], slug: str) -> str | None:
    """The person's role in course ``slug`` (student, ta, instructor), or None."""
    return memberships_from_groups(groups).get(slug)


def whom_to_ask(course: Course, instructors: Iterable[str]) -> str:
    """Who can fix a person's enrollment: the course's instructors by name if known."""
    names = sorted(set(instructors))
    if names:
        listed = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return f"its instructors ({listed})"
    return f"the course staff of {course.title}"


# -- the fields ----------------------------------------------------------------------------------


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch)[0] == "C" for ch in text)


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a URL points: scheme, host, port and path segments."""

    scheme: str
    host: str
    port: int
    segments: tuple[str, ...]
    trailing_slash: bool


_PATH_CHARACTERS: Final = frozenset(string.ascii_letters + string.digits + "-._~/")


def _split_url(url: str) -> _Place:
    """The parts of an http(s) URL, or ValueError saying what is wrong (for people)."""
    if not url:
        raise ValueError("is empty: give the repository's http(s) URL")
    if len(url) > MAX_REPO_LENGTH:
        raise ValueError(f"is longer than {MAX_REPO_LENGTH} characters")
    if url.startswith("-"):
        raise ValueError(f"{show(url)} starts with '-': give an http(s) URL")
    if _has_control(url) or any(ch.isspace() for ch in url):
        raise ValueError("contains spaces or control characters")
    if "\\" in url:
        raise ValueError("contains a backslash; use '/'")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"{show(url)} is not a URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not url.lower().startswith(f"{scheme}://"):
        raise ValueError(
            f"{show(url)} is not an http(s) URL: only https:// and http:// repositories can"
            " be linked"
        )
    if "@" in parts.netloc:
        # Say where, not what: the value may hold a password.
        raise ValueError(
            "contains credentials (user@ or user:password@); link the public URL, without them"
        )
    if "?" in url or "#" in url:
        raise ValueError(f"{show(url)} has a query or fragment; give the plain repository URL")
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"{show(url)} names no host")
    if ";" in parts.netloc:
        raise ValueError(f"{show(url)} has a ';' in its host")
    path = parts.path
    if "%" in path:
        raise ValueError(f"{show(url)} has %-escapes in its path; give the plain path")
    odd = sorted(set(path) - _PATH_CHARACTERS)
    if odd:
        # Repository paths need letters, digits and - . _ ~ / only; anything else (" < > ' `
        # and the like) has no business there and could be turned against a page that shows it.
        raise ValueError(
            f"{show(url)} has characters a repository path does not need ("
            + " ".join(odd)
            + "); use letters, digits, '-', '.', '_', '~' and '/'"
        )
    trailing = path.endswith("/")
    segments = tuple(path.strip("/").split("/")) if path.strip("/") else ()
    if any(segment in ("", ".", "..") for segment in segments):
        raise ValueError(f"{show(url)} has an empty, '.' or '..' part in its path")
    return _Place(scheme, host, port or _DEFAULT_PORTS[scheme], segments, trailing)


def _strip_git(name: str) -> str:
    return name[:-4] if name.endswith(".git") else name


def repo_allowed(repo: str, entries: Iterable[str]) -> bool:
    """True when ``repo`` is one of ``entries`` (a catalog's ``repos``) or below one of them.

    An entry ending in ``/`` allows every repository below it: same scheme, host and port,
    and its path segments first (never a plain string prefix). Another entry allows exactly
    that repository, with or without ``.git``.
    """
    try:
        place = _split_url(repo)
    except ValueError:
        return False
    for entry in entries:
        try:
            allowed = _split_url(entry)
        except ValueError:
            continue  # an entry that is not a plain http(s) URL allows nothing
        if (allowed.scheme, allowed.host, allowed.port) != (place.scheme, place.host, place.port):
            continue
        if allowed.trailing_slash or not allowed.segments:
            depth = len(allowed.segments)
            if len(place.segments) > depth and place.segments[:depth] == allowed.segments:
                return True
        elif len(place.segments) == len(allowed.segments) and (
            place.segments[:-1] == allowed.segments[:-1]
            and _strip_git(place.segments[-1]) == _strip_git(allowed.segments[-1])
        ):
            return True
    return False


def check_repo(repo: str, entries: Iterable[str], course_title: str = "") -> str:
    """``repo`` cleaned (one trailing ``/`` dropped) if it may be linked for a course whose
    catalog ``repos`` are ``entries``; else ValueError saying why."""
    place = _split_url(repo)
    cleaned = repo[:-1] if place.trailing_slash else repo
    if not place.segments:
        raise ValueError(f"{show(repo)} names a host, not a repository")
    repo_folder(cleaned)  # raises if the name cannot be a folder
    entries = tuple(entries)
    if not repo_allowed(cleaned, entries):
        where = ", ".join(entries) if entries else "none"
        course = f" of {course_title}" if course_title else ""
        raise ValueError(
            f"{show(cleaned)} is not among the repositories the catalog allows for links"
            f"{course} ({where}); ask the hub operators to add it to the course's `repos`"
        )
    return cleaned


def repo_folder(repo: str) -> str:
    """The repository's name without ``.git``: the folder nbgitpuller pulls into."""
    name = _strip_git(repo.rstrip("/").rsplit("/", 1)[-1])
    if not _FOLDER.match(name) or name.endswith(".") or name.endswith(".lock"):
        raise ValueError(
            f"the repository's name {show(name)} cannot be a folder name: use letters, digits,"
            " '.', '_' or '-', starting with a letter, digit or '_'"
        )
    return name


def check_branch(branch: str) -> str:
    """``branch`` if git accepts it as a branch name (``git check-ref-format --branch``),
    else ValueError saying which rule it breaks."""
    reason = _branch_problem(branch)
    if reason:
        raise ValueError(f"{show(branch)} is not a valid branch name: {reason}")
    return branch


def _branch_problem(branch: str) -> str | None:
    if not branch:
        return "it is empty (most repositories use main or master)"
    if len(branch) > MAX_BRANCH_LENGTH:
        return f"it is longer than {MAX_BRANCH_LENGTH} characters"
    if branch.startswith("-"):
        return "it starts with '-'"
    if branch in ("@", "HEAD"):
        return f"{branch!r} is not a branch"
    if _has_control(branch) or " " in branch:
        return "it contains spaces or control characters"
    bad = sorted({ch for ch in branch if ch in "~^:?*[\\"})
    if bad:
        return "it contains " + " ".join(repr(ch) for ch in bad)
    if ".." in branch:
        return "it contains '..'"
    if "@{" in branch:
        return "it contains '@{'"
    if branch.startswith("/") or branch.endswith("/") or "//" in branch:
        return "it starts or ends with '/' or has '//'"
    if branch.endswith("."):
        return "it ends with '.'"
    for part in branch.split("/"):
        if part.startswith("."):
            return "a part of it starts with '.'"
        if part.endswith(".lock"):
            return "a part of it ends with '.lock'"
    return None


def check_path(path: str) -> str:
    """``path`` if it names a file inside the repository ('' for the repository's folder),
    else ValueError saying why."""
    if path == "":
        return path
    if len(path) > MAX_PATH_LENGTH:
        raise ValueError(f"is longer than {MAX_PATH_LENGTH} characters")
    if _has_control(path):
        raise ValueError("contains control characters")
    if "\\" in path:
        raise ValueError(f"{show(path)} contains a backslash; use '/' between folders")
    if path.startswith("/") or path.startswith("~"):
        raise ValueError(
            f"{show(path)} must be relative to the repository's top, such as lab01.ipynb or"
            " labs/lab01.ipynb (no leading '/')"
        )
    parts = path.split("/")
    if ".." in parts or "." in parts:
        raise ValueError(f"{show(path)} must not contain '.' or '..' parts")
    if "" in parts:
        raise ValueError(f"{show(path)} has an empty part ('//' or a trailing '/')")
    if path.strip() != path:
        raise ValueError(f"{show(path)} starts or ends with a space")
    return path


def check_app(app: str, course: Course | None = None) -> str:
    """``app`` if it is one of :data:`APPS` and, given ``course``, one its image has (the
    catalog's ``apps``), else ValueError."""
    if app not in APPS:
        raise ValueError(f"{show(app)} is not an app links can open; use one of {', '.join(APPS)}")
    if course is not None and app not in course.image.apps:
        image = course.image
        raise ValueError(
            f"{APP_NAMES[app]} is not in {course.title}'s environment ({image.name}): it has"
            f" {image.app_names()}"
        )
    return app


def check_course(slug: str, catalog: Catalog, taught: Iterable[str]) -> Course:
    """The course ``slug`` if it is in the catalog and among ``taught``, else ValueError."""
    course = catalog.course(slug) if isinstance(slug, str) else None
    if course is None:
        raise ValueError(f"{show(slug)} is not a course on this hub")
    if slug not in set(taught):
        raise ValueError(
            f"you do not teach {course.title} ({slug}) this term: links are made by its TAs"
            " and instructors"
        )
    return course


def check_link(
    catalog: Catalog,
    fields: Mapping[str, object],
    taught: Iterable[str],
) -> LinkTarget:
    """A :class:`LinkTarget` from form or JSON ``fields`` (course, repo, branch, path, app),
    or :class:`LinkRejected` with every problem. ``taught`` are the courses the person may
    make links for (:func:`courses_taught`)."""
    problems: list[FieldProblem] = []
    values: dict[str, str] = {}
    for name in FIELDS:
        value = fields.get(name, "" if name == "path" else None)
        if value is None:
            problems.append(FieldProblem(name, "is missing"))
        elif not isinstance(value, str):
            problems.append(FieldProblem(name, "must be text"))
        else:
            values[name] = value
    unknown = sorted(str(key) for key in fields if key not in FIELDS)
    if unknown:
        problems.append(
            FieldProblem(unknown[0], "is not a field of a link; use " + ", ".join(FIELDS))
        )
    course: Course | None = None
    if "course" in values:
        try:
            course = check_course(values["course"], catalog, taught)
        except ValueError as error:
            problems.append(FieldProblem("course", str(error)))
    if "repo" in values:
        entries = course.repos if course else ()
        try:
            if course is None:
                _split_url(values["repo"])  # a course problem is reported; check the URL alone
            else:
                values["repo"] = check_repo(values["repo"], entries, course.title)
        except ValueError as error:
            problems.append(FieldProblem("repo", str(error)))
    checks: tuple[tuple[str, Callable[[str], str]], ...] = (
        ("branch", check_branch),
        ("path", check_path),
        ("app", lambda app: check_app(app, course)),
    )
    for name, check in checks:
        if name in values:
            try:
                check(values[name])
            except ValueError as error:
                problems.append(FieldProblem(name, str(error)))
    if problems:
        raise LinkRejected(problems)
    return LinkTarget(**values)


def check_link_id(text: str) -> bool:
    """True when ``text`` could be a link id (letters and digits, at most 32)."""
    return bool(_LINK_ID.match(text))


# -- where a link goes ---------------------------------------------------------------------------


def urlpath(target: LinkTarget) -> str:
    """Where nbgitpuller sends the browser once it has pulled, relative to the server."""
    folder = urllib.parse.quote(target.folder)
    file = urllib.parse.quote(target.path)  # '#', '?' and '%' in a file name stay in the path
    inside = f"{folder}/{file}" if target.path else folder
    if target.app == "lab":
        return f"lab/tree/{inside}"
    if target.app == "notebook":
        return f"tree/{inside}"
    return "rstudio/"


def pull_query(target: LinkTarget) -> str:
    """nbgitpuller's query: repository, branch, folder (targetpath) and where to go next."""
    return urllib.parse.urlencode(
        {
            "repo": target.repo,
            "branch": target.branch,
            "targetpath": target.folder,
            "urlpath": urlpath(target),
        }
    )


def _base(base_url: str) -> str:
    return "/" + base_url.strip("/") + "/" if base_url.strip("/") else "/"


def spawn_url(base_url: str, username: str, target: LinkTarget) -> str:
    """The path an enrolled person is sent to: the hub's spawn page for their course server,
    which starts it if needed and then goes on (``next``) to nbgitpuller in that server."""
    base = _base(base_url)
    user = urllib.parse.quote(username, safe="")
    course = urllib.parse.quote(target.course, safe="")
    pull = f"{base}user/{user}/{course}/git-pull?{pull_query(target)}"
    return f"{base}hub/spawn/{user}/{course}?" + urllib.parse.urlencode({"next": pull})


def plain_link(public_url: str, base_url: str, target: LinkTarget) -> str:
    """The ordinary nbgitpuller link for the course server (``/hub/user-redirect/<course>/``);
    it opens the course server only once that server has been started."""
    base = _base(base_url)
    course = urllib.parse.quote(target.course, safe="")
    return (
        f"{public_origin(public_url)}{base}hub/user-redirect/{course}/git-pull?{pull_query(target)}"
    )


def short_link(public_url: str, service_prefix: str, link_id: str) -> str:
    """The short, stable link: ``<public origin>/services/links/l/<id>``."""
    return f"{public_origin(public_url)}{_base(service_prefix)}l/{urllib.parse.quote(link_id)}"


def public_origin(public_url: str) -> str:
    """``scheme://host[:port]`` of the hub's public URL ('' when not known)."""
    parts = urllib.parse.urlsplit(public_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
