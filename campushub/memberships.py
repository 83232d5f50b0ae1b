"""Who is in which course, in what role: from identity-provider claims or Canvas enrollments.

Pure functions: claim values, Canvas course records and the catalog in; memberships, group
names and role definitions out. No JupyterHub, tornado or HTTP here.

A membership is (course slug, member role), the member role one of ``student``, ``ta``,
``instructor``. A person's memberships are a mapping slug -> role; someone listed twice in a
course (a TA who is also enrolled as a student) keeps the strongest role.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from itertools import islice
from typing import Any, Final

from .catalog import Catalog, Course

STUDENT: Final = "student"
TA: Final = "ta"
INSTRUCTOR: Final = "instructor"
MEMBER_ROLES: Final = (STUDENT, TA, INSTRUCTOR)  # weakest first
_STRENGTH = {role: rank for rank, role in enumerate(MEMBER_ROLES)}

# Berkeley's Canvas-derived values, and Canvas's own enrollment types.
DEFAULT_ROLE_MAP: Final[Mapping[str, str | None]] = {
    "student": STUDENT,
    "studentenrollment": STUDENT,
    "learner": STUDENT,
    "ta": TA,
    "taenrollment": TA,
    "teachingassistant": TA,
    "teacher": INSTRUCTOR,
    "teacherenrollment": INSTRUCTOR,
    "instructor": INSTRUCTOR,
    "faculty": INSTRUCTOR,
    "observer": None,
    "observerenrollment": None,
    "designer": None,
    "designerenrollment": None,
}

GROUP_PREFIX: Final = "course:"
# Group suffix for each member role: course:<slug>:students, :tas, :instructors.
ROLE_GROUP_SUFFIX: Final = {STUDENT: "students", TA: "tas", INSTRUCTOR: "instructors"}
# Claim values can be long lists; anything beyond this many is ignored (and logged by callers).
MAX_CLAIM_VALUES: Final = 2000
MAX_VALUE_LENGTH: Final = 512


class ClaimPatternError(ValueError):
    """A membership pattern that cannot work: not a regular expression, or missing a part."""


@dataclass(frozen=True, slots=True)
class MembershipRules:
    """How claim values become memberships: patterns with named parts, and a role map."""

    patterns: tuple[re.Pattern[str], ...]
    role_map: Mapping[str, str | None]
    # Whether a value's ``course`` part may name a course by its slug, not only by its keys.
    match_slugs: bool = False

    @classmethod
    def build(
        cls,
        patterns: Iterable[str],
        role_map: Mapping[str, str | None] | None = None,
        match_slugs: bool = False,
    ) -> MembershipRules:
        """Compile ``patterns``; each must name the parts ``course`` and ``role``."""
        compiled = []
        for pattern in patterns:
            try:
                regex = re.compile(pattern)
            except re.error as error:
                raise ClaimPatternError(
                    f"membership pattern {pattern!r} is not a regular expression: {error}"
                ) from None
            missing = {"course", "role"} - set(regex.groupindex)
            if missing:
                raise ClaimPatternError(
                    f"membership pattern {pattern!r} must name the parts 'course' and 'role'"
                    " with (?P<course>...) and (?P<role>...); missing: "
                    + ", ".join(sorted(missing))
                )
            compiled.append(regex)
        mapping = dict(DEFAULT_ROLE_MAP if role_map is None else role_map)
        for name, role in mapping.items():
            if not isinstance(name, str):
                raise ClaimPatternError(f"role map: {name!r} -> {role!r}; a role name must be text")
            if role is not None and role not in MEMBER_ROLES:
                raise ClaimPatternError(
                    f"role map: {name!r} -> {role!r}; a role must be one of"
                    f" {', '.join(MEMBER_ROLES)} or null (ignored)"
                )
        return cls(tuple(compiled), {_role_key(k): v for k, v in mapping.items()}, match_slugs)

    def member_role(self, raw_role: str) -> str | None:
        """The member role an identity provider's role name stands for, or None (ignored)."""
        return self.role_map.get(_role_key(raw_role))


def _role_key(name: str) -> str:
    # Spaces, "_" and "-" only: a control character inside a role name (tea\x1fcher) is no
    # role at all, not "teacher".
    return re.sub(r"[ _-]", "", name).lower()


def _has_control_character(value: str) -> bool:
    return any(ord(char) < 32 or 127 <= ord(char) < 160 for char in value)


def claim_values(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The text values of ``claim`` in ``claims``: the claim of that whole name if there is
    one, else a dotted path (``ext.memberships``) into nested claims.

    A single text value counts as a list of one; anything that is not text is skipped, so
    a hostile or broken claim yields fewer memberships, never an error.
    """
    value: Any = claims
    if isinstance(claims, Mapping) and claim in claims:
        # A whole name first: namespaced claims such as https://campus.edu/groups hold dots.
        value = claims[claim]
    else:
        for part in claim.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return []
    return [item for item in value[:MAX_CLAIM_VALUES] if isinstance(item, str)]


def claim_present(claims: Mapping[str, Any], claim: str) -> bool:
    """Whether ``claims`` hold ``claim`` at all (a whole name or a dotted path), even empty:
    a provider that sends none is set up differently from one that lists no course."""
    if not isinstance(claims, Mapping):
        return False
    if claim in claims:
        return True
    value: Any = claims
    for part in claim.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False
        value = value[part]
    return True


def ignored_from_claims(
    values: Iterable[str], rules: MembershipRules, catalog: Catalog
) -> dict[str, str]:
    """The catalog courses ``values`` name with a role the rules ignore (an observer, a
    designer): slug -> that role as the provider wrote it (at most 64 characters)."""
    ignored: dict[str, str] = {}
    for course, raw in _claimed(values, rules, catalog):
        if rules.member_role(raw) is None:
            ignored.setdefault(course.slug, raw[:64])
    return ignored


def ignored_from_canvas(
    courses: Iterable[Any], rules: MembershipRules, catalog: Catalog
) -> dict[str, str]:
    """As :func:`ignored_from_claims`, from Canvas course records: the active enrollments
    whose type the rules ignore (an ``ObserverEnrollment``, say)."""
    ignored: dict[str, str] = {}
    for course, enrollment in _enrolled(courses, catalog):
        raw = enrollment.get("type")
        if isinstance(raw, str) and rules.member_role(raw) is None:
            ignored.setdefault(course.slug, raw[:64])
    return ignored


def _claimed(
    values: Iterable[str], rules: MembershipRules, catalog: Catalog
) -> Iterator[tuple[Course, str]]:
    """Each catalog course a claim value names, with the role part as written: values too
    long, holding a control character or matching no pattern are skipped."""
    for value in islice(values, MAX_CLAIM_VALUES):
        if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
            continue
        if _has_control_character(value):
            continue
        for pattern in rules.patterns:
            match = pattern.fullmatch(value)
            if match is None:
                continue
            if match["course"] is None or match["role"] is None:  # an optional part, absent
                break
            course = catalog.course_for_key(match["course"])
            if course is None and rules.match_slugs:
                course = catalog.course(match["course"])
            if course is not None:
                yield course, match["role"]
            break


def _enrolled(courses: Iterable[Any], catalog: Catalog) -> Iterator[tuple[Course, Mapping]]:
    """Each active enrollment of a Canvas course record the catalog has (by its ``id``, then
    its ``sis_course_id``); malformed records and enrollments are skipped."""
    for record in courses:
        if not isinstance(record, Mapping):
            continue
        course = None
        for key in (record.get("id"), record.get("sis_course_id")):
            if isinstance(key, int | str) and not isinstance(key, bool):
                course = catalog.course_for_key(str(key))
                if course is not None:
                    break
        enrollments = record.get("enrollments")
        if course is None or not isinstance(enrollments, list):
            continue
        for enrollment in enrollments:
            if isinstance(enrollment, Mapping) and (
                enrollment.get("enrollment_state", "active") == "active"
            ):
                yield course, enrollment


def stronger_role(current: str | None, candidate: str) -> str:
    """Of a person's two roles in one course, the one that gives more (instructor, TA,
    student)."""
    if current is None or _STRENGTH[candidate] > _STRENGTH[current]:
        return candidate
    return current


def memberships_from_claims(
    values: Iterable[str], rules: MembershipRules, catalog: Catalog, today: date
) -> dict[str, str]:
    """Memberships (slug -> member role) from claim values such as
    ``course::1524699::enrollment_type::ta`` or ``urn:mace:campus.edu:course:data8:student``.

    The ``course`` part is looked up among the catalog's course keys (and its slugs when the
    rules say so); values that name no catalog course, use an ignored role, hold a control
    character or match no pattern are skipped.
    Outside the term nobody is a member of anything.
    """
    if not catalog.term.is_open(today):
        return {}
    memberships: dict[str, str] = {}
    for course, raw in _claimed(values, rules, catalog):
        role = rules.member_role(raw)
        if role is not None:
            memberships[course.slug] = stronger_role(memberships.get(course.slug), role)
    return memberships


def memberships_from_canvas(
    courses: Iterable[Any], rules: MembershipRules, catalog: Catalog, today: date
) -> dict[str, str]:
    """Memberships from Canvas course records (``GET /api/v1/courses``) with enrollments.

    A course is matched by its Canvas ``id``, then its ``sis_course_id``, against the
    catalog's keys; each active enrollment's ``type`` (or ``role``) goes through the role map.
    Malformed records are skipped.
    """
    if not catalog.term.is_open(today):
        return {}
    memberships: dict[str, str] = {}
    for course, enrollment in _enrolled(courses, catalog):
        for field in ("type", "role"):
            raw = enrollment.get(field)
            role = rules.member_role(raw) if isinstance(raw, str) else None
            if role is not None:
                memberships[course.slug] = stronger_role(memberships.get(course.slug), role)
                break
    return memberships


# LTI 1.3 context roles (the launch's roles claim): LIS vocabulary URIs, or the short names
# LTI 1.1 used. Only context ("membership") roles say what someone is in the course; institution
# and system roles (http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty) do not.
LTI_MEMBERSHIP_ROLE: Final = "http://purl.imsglobal.org/vocab/lis/v2/membership"
LTI_ROLES: Final[Mapping[str, str | None]] = {
    "Learner": STUDENT,
    "Instructor": INSTRUCTOR,
    "Instructor#TeachingAssistant": TA,
    "TeachingAssistant": TA,
    "ContentDeveloper": None,
    "Mentor": None,
    "Administrator": None,
    "Manager": None,
    "Member": None,
    "Officer": None,
}


def lti_member_role(roles: Iterable[Any]) -> str | None:
    """The member role an LTI launch's ``roles`` give in its course (its context), or None.

    A context role is ``...lis/v2/membership#Learner``, a sub-role
    ``...lis/v2/membership/Instructor#TeachingAssistant``, or a short name (``Learner``). A
    sub-role is more exact than its parent, so a launch naming both Instructor and
    Instructor#TeachingAssistant (as Canvas does for TAs) is a TA's; otherwise the strongest
    role wins. Unknown, institution and system roles give nothing."""
    found: set[str] = set()
    for value in roles:
        if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
            continue
        if value.startswith(LTI_MEMBERSHIP_ROLE):
            name = value[len(LTI_MEMBERSHIP_ROLE) :].lstrip("#/")
        elif "/" in value or ":" in value:
            continue  # another vocabulary (institution, system): not a course role
        else:
            name = value
        role = LTI_ROLES.get(name)
        if role is not None:
            found.add(name if "#" in name else role)
    if "Instructor#TeachingAssistant" in found:
        return TA
    best: str | None = None
    for role in found:
        best = stronger_role(best, role)
    return best


def memberships_from_lti(
    context_key: Any, roles: Iterable[Any], catalog: Catalog, today: date
) -> dict[str, str]:
    """The membership an LTI launch gives: the catalog course whose ``keys`` hold
    ``context_key`` (the launch's course, as the operator configures which claim names it),
    in the role :func:`lti_member_role` reads; empty outside the term, for a course not in the
    catalog, or for a role with no server."""
    if not catalog.term.is_open(today) or not isinstance(context_key, str | int):
        return {}
    if isinstance(context_key, bool):
        return {}
    course = catalog.course_for_key(str(context_key))
    role = lti_member_role(roles)
    if course is None or role is None:
        return {}
    return {course.slug: role}


def course_groups(memberships: Mapping[str, str]) -> set[str]:
    """JupyterHub groups for memberships: ``course:<slug>`` and ``course:<slug>:<role>s``."""
    groups = set()
    for slug, role in memberships.items():
        groups.add(f"{GROUP_PREFIX}{slug}")
        groups.add(f"{GROUP_PREFIX}{slug}:{ROLE_GROUP_SUFFIX[role]}")
    return groups


STAFF_ROLE_PREFIX: Final = "course-"


def staff_role_name(slug: str, role: str) -> str:
    """The JupyterHub role held by a course's TAs or instructors, e.g. ``course-data8-ta``."""
    return f"{STAFF_ROLE_PREFIX}{slug}-{role}"


def staff_role_course(name: str) -> str | None:
    """The course slug of a staff role's name (``course-data8-ta`` -> ``data8``), or None."""
    if not name.startswith(STAFF_ROLE_PREFIX):
        return None
    return name[len(STAFF_ROLE_PREFIX) :].rpartition("-")[0] or None


# The hub account whose server is a grading course's grader (nbgrader's formgrader and course
# folder): ``grader-<slug>``. No campus sign-in may take such a name (the authenticator refuses).
GRADER_PREFIX: Final = "grader-"


def grader_account(slug: str) -> str:
    """The hub account of the course's grader server, e.g. ``grader-data8``."""
    return f"{GRADER_PREFIX}{slug}"


def grader_course(username: str) -> str | None:
    """The course whose grader account ``username`` is (``grader-data8`` -> ``data8``), or
    None for anyone else."""
    if not username.startswith(GRADER_PREFIX):
        return None
    return username[len(GRADER_PREFIX) :] or None


def grader_scopes(slug: str) -> list[str]:
    """What a course's staff may do with its grader server: start and stop it, and open it
    (that one server only: ``server=`` filters, never the account's every server)."""
    server = f"{grader_account(slug)}/"
    return [f"servers!server={server}", f"access:servers!server={server}"]


def staff_reach(slug: str, member_role: str) -> tuple[str, ...]:
    """The groups whose members may open a course server of ``slug`` held by a person with
    ``member_role`` in it: a student's by the course's TAs and instructors, a TA's by its
    instructors, an instructor's by no one (but administrators)."""
    tas, instructors = f"{GROUP_PREFIX}{slug}:tas", f"{GROUP_PREFIX}{slug}:instructors"
    return {STUDENT: (tas, instructors), TA: (instructors,)}.get(member_role, ())


def staff_roles(
    catalog: Catalog,
    reach: Mapping[str, list[str]] | None = None,
    courses: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """One role per course and staff kind (kept by :func:`campushub.reach.sync_staff_roles`).

    A role holds the course's roster: TAs read the course's group and its students' group
    (each member's name, nothing else of theirs), instructors its TAs' group too. It also
    holds ``reach[name]``: the scopes of the course servers its holders may open, one server
    each (``access:servers!server=<owner>/<course>``; see :mod:`campushub.reach`), so staff
    reach that one server of each member and nothing else of theirs (a grant filtered by
    user or group would open every server of those people). Each server's scope is in one
    role: the students' in the TA role, the TAs' in the instructor role; instructors hold
    the TA role as well (:func:`user_roles`). ``courses``: only these catalog courses' roles.
    """
    roles = []
    for slug in catalog.courses if courses is None else courses:
        course, students, tas = (
            f"{GROUP_PREFIX}{slug}{part}" for part in ("", ":students", ":tas")
        )
        rosters = {TA: [course, students], INSTRUCTOR: [course, students, tas]}
        grading = grader_scopes(slug) if catalog.courses[slug].grading else []
        for role, groups in rosters.items():
            name = staff_role_name(slug, role)
            opens = "its students' servers" if role == TA else "its TAs' servers"
            roles.append(
                {
                    "name": name,
                    "description": f"{ROLE_GROUP_SUFFIX[role]} of {slug}: read its roster"
                    f" ({', '.join(groups)}) and open {opens} ({slug} only)",
                    "scopes": [f"read:groups!group={group}" for group in groups]
                    + grading
                    + list((reach or {}).get(name, ())),
                }
            )
    return roles


def user_roles(memberships: Mapping[str, str]) -> list[str]:
    """The roles a person holds: ``user`` always, plus the staff roles of their courses (an
    instructor's course both: its TA role holds the students' servers)."""
    roles = ["user"]
    for slug, role in sorted(memberships.items()):
        if role == TA:
            roles.append(staff_role_name(slug, TA))
        elif role == INSTRUCTOR:
            roles += [staff_role_name(slug, INSTRUCTOR), staff_role_name(slug, TA)]
    return roles


def memberships_from_groups(group_names: Iterable[str]) -> dict[str, str]:
    """Memberships read back from JupyterHub groups (``course:<slug>:<role>s``).

    The authenticator writes the groups at every login; the spawner reads them, so both
    agree on who is in what without sharing code paths.
    """
    by_suffix = {suffix: role for role, suffix in ROLE_GROUP_SUFFIX.items()}
    memberships: dict[str, str] = {}
    for name in group_names:
        prefix, _, rest = name.partition(GROUP_PREFIX)
        slug, _, suffix = rest.rpartition(":")
        role = by_suffix.get(suffix)
        if prefix or not slug or role is None:
            continue
        memberships[slug] = stronger_role(memberships.get(slug), role)
    return memberships
