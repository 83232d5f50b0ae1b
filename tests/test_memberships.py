"""Who is in which course, in what role: claim values and Canvas records in, memberships, groups
and staff roles out. Pure functions, no server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest

from campushub.catalog import Catalog, parse_catalog
from campushub.memberships import (
    MAX_CLAIM_VALUES,
    MAX_VALUE_LENGTH,
    ClaimPatternError,
    MembershipRules,
    claim_values,
    course_groups,
    lti_member_role,
    memberships_from_canvas,
    memberships_from_claims,
    memberships_from_lti,
    staff_reach,
    staff_role_name,
    staff_roles,
    user_roles,
)

BERKELEY = r"course::(?P<course>[^:]+)::enrollment_type::(?P<role>[^:]+)"
ENTITLEMENT = r"urn:mace:campus\.example\.edu:course:(?P<course>[^:]+):(?P<role>[^:]+)"
# JupyterHub's own rule for role names (jupyterhub/roles.py, _role_name_pattern).
JUPYTERHUB_ROLE_NAME = re.compile(r"^[a-z][a-z0-9\-_~\.]{1,253}[a-z0-9]$")

IN_TERM = date(2026, 9, 1)
BEFORE_TERM = date(2026, 8, 18)
AFTER_TERM = date(2026, 12, 19)

CATALOG_YAML = """\
term: {name: 2026-fall, starts: 2026-08-19, ends: 2026-12-18}
timezone: America/Los_Angeles
images:
  python: {ref: "ghcr.io/campus/python:2026.08"}
pools:
  standard: {node: {cpu: 8, memory: 64Gi}, max: 20}
defaults:
  image: python
  pool: standard
  cpu: {guarantee: 0.05, limit: 2}
  memory: {guarantee: 512Mi, limit: 1Gi}
courses:
  data8:
    title: "DATA 8"
    keys: ["1524699", "DATA-C8-2026-FALL"]
  cs61a:
    title: "CS 61A"
    keys: [1525001]
  stat20:
    title: "STAT 20"
"""


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return parse_catalog(CATALOG_YAML)


@pytest.fixture(scope="module")
def berkeley() -> MembershipRules:
    return MembershipRules.build([BERKELEY])


@pytest.fixture(scope="module")
def entitlements() -> MembershipRules:
    # Entitlement URNs often name a course by the campus's own short name: slugs allowed.
    return MembershipRules.build([ENTITLEMENT], match_slugs=True)


# -- MembershipRules.build -------------------------------------------------------------------------


def test_a_pattern_that_is_not_a_regular_expression_is_refused_saying_so() -> None:
    with pytest.raises(ClaimPatternError) as refused:
        MembershipRules.build([r"course::(?P<course>[^:+::(?P<role>.+)"])
    message = str(refused.value)
    assert "membership pattern 'course::(?P<course>[^:+::(?P<role>.+)'" in message
    assert "is not a regular expression" in message


@pytest.mark.parametrize(
    ("pattern", "missing"),
    [
        (r"course::(?P<course>[^:]+)::enrollment_type::([^:]+)", "role"),
        (r"course::([^:]+)::enrollment_type::(?P<role>[^:]+)", "course"),
        (r"course::([^:]+)::enrollment_type::([^:]+)", "course, role"),
        (r"(?P<id>[^:]+):(?P<kind>[^:]+)", "course, role"),
    ],
)
def test_a_pattern_without_both_named_parts_is_refused_naming_what_is_missing(
    pattern: str, missing: str
) -> None:
    with pytest.raises(ClaimPatternError) as refused:
        MembershipRules.build([BERKELEY, pattern])
    message = str(refused.value)
    assert repr(pattern) in message
    assert "(?P<course>...) and (?P<role>...)" in message
    assert message.endswith(f"missing: {missing}")


def test_a_role_map_target_that_is_not_a_member_role_is_refused() -> None:
    with pytest.raises(ClaimPatternError) as refused:
        MembershipRules.build([BERKELEY], {"teacher": "professor", "ta": "ta"})
    assert str(refused.value) == (
        "role map: 'teacher' -> 'professor'; a role must be one of student, ta, instructor"
        " or null (ignored)"
    )


def test_a_role_map_name_that_is_not_text_is_refused() -> None:
    with pytest.raises(ClaimPatternError, match=r"role map: 7 .* must be text"):
        MembershipRules.build([BERKELEY], {7: "ta"})  # type: ignore[dict-item]


def test_role_names_ignore_case_spaces_dashes_and_underscores() -> None:
    rules = MembershipRules.build([BERKELEY], {"Teaching Assistant": "ta", "Observer": None})
    assert rules.member_role("teaching_assistant") == "ta"
    assert rules.member_role("TEACHING-ASSISTANT") == "ta"
    assert rules.member_role("observer") is None
    assert rules.member_role("student") is None  # a role map of one's own replaces the default


def test_the_default_role_map_knows_canvas_enrollment_types(berkeley: MembershipRules) -> None:
    assert berkeley.member_role("StudentEnrollment") == "student"
    assert berkeley.member_role("TaEnrollment") == "ta"
    assert berkeley.member_role("TeacherEnrollment") == "instructor"
    assert berkeley.member_role("teacher") == "instructor"
    assert berkeley.member_role("ObserverEnrollment") is None
    assert berkeley.member_role("designer") is None
    assert berkeley.member_role("janitor") is None


# -- memberships_from_claims -----------------------------------------------------------------------


def test_berkeley_values_become_memberships_through_catalog_keys(
    catalog: Catalog, berkeley: MembershipRules
) -> None:
    values = [
        "course::1524699::enrollment_type::student",
        "course::1525001::enrollment_type::teacher",
    ]
    assert memberships_from_claims(values, berkeley, catalog, IN_TERM) == {
        "data8": "student",
        "cs61a": "instructor",
    }


def test_a_slug_names_a_course_only_where_the_operator_allows_it(catalog: Catalog) -> None:
    # Canvas sends numeric ids; a slug where an id belongs is not a membership by default.
    keys_only = MembershipRules.build([BERKELEY])
    values = ["course::stat20::enrollment_type::teacher", "course::1524699::enrollment_type::ta"]
    assert memberships_from_claims(values, keys_only, catalog, IN_TERM) == {"data8": "ta"}
    with_slugs = MembershipRules.build([BERKELEY], match_slugs=True)
    assert memberships_from_claims(values, with_slugs, catalog, IN_TERM) == {
        "data8": "ta",
        "stat20": "instructor",
    }


@pytest.mark.parametrize(
    "value",
    [
        "course::1524699::enrollment_type::tea\x1fcher",
        "course::1524699::enrollment_type::teacher\x00",
        "course::1524699\n::enrollment_type::teacher",
        "course::1524699::enrollment_type::tea\x85cher",
    ],
)
def test_a_value_with_a_control_character_is_no_membership(
    catalog: Catalog, berkeley: MembershipRules, value: str
) -> None:
    assert memberships_from_claims([value], berkeley, catalog, IN_TERM) == {}


def test_entitlement_urns_become_memberships_through_slugs_and_keys(
    catalog: Catalog, entitlements: MembershipRules
) -> None:
    values = [
        "urn:mace:campus.example.edu:course:stat20:ta",
        "urn:mace:campus.example.edu:course:DATA-C8-2026-FALL:student",
        "urn:mace:campus.example.edu:course:cs61a:Instructor",
    ]
    assert memberships_from_claims(values, entitlements, catalog, IN_TERM) == {
        "stat20": "ta",
        "data8": "student",
        "cs61a": "instructor",
    }


def test_both_forms_work_side_by_side(catalog: Catalog) -> None:
    rules = MembershipRules.build([BERKELEY, ENTITLEMENT], match_slugs=True)
    values = [
        "course::1524699::enrollment_type::ta",
        "urn:mace:campus.example.edu:course:stat20:student",
    ]
    assert memberships_from_claims(values, rules, catalog, IN_TERM) == {
        "data8": "ta",
        "stat20": "student",
    }


def test_unknown_courses_unknown_roles_and_observers_are_ignored(
    catalog: Catalog, berkeley: MembershipRules
) -> None:
    values = [
        "course::9999999::enrollment_type::student",  # not in the catalog
        "course::1524699::enrollment_type::observer",  # ignored role
        "course::1525001::enrollment_type::janitor",  # unknown role
        "course::data9::enrollment_type::student",  # a slug that is not a course
        "staff-everywhere",
        "",
    ]
    assert memberships_from_claims(values, berkeley, catalog, IN_TERM) == {}


@pytest.mark.parametrize(
    "roles",
    [["student", "ta"], ["ta", "student"], ["student", "teacher", "ta"], ["ta", "ta"]],
)
def test_the_strongest_role_wins_whatever_the_order(
    catalog: Catalog, berkeley: MembershipRules, roles: list[str]
) -> None:
    values = [f"course::1524699::enrollment_type::{role}" for role in roles]
    expected = "instructor" if "teacher" in roles else "ta"
    assert memberships_from_claims(values, berkeley, catalog, IN_TERM) == {"data8": expected}


def test_an_observer_listing_does_not_weaken_a_real_role(
    catalog: Catalog, berkeley: MembershipRules
) -> None:
    values = [
        "course::1524699::enrollment_type::ta",
        "course::1524699::enrollment_type::observer",
    ]
    assert memberships_from_claims(values, berkeley, catalog, IN_TERM) == {"data8": "ta"}


@pytest.mark.parametrize("day", [BEFORE_TERM, AFTER_TERM])
def test_outside_the_term_nobody_is_a_member(
    catalog: Catalog, berkeley: MembershipRules, day: date
) -> None:
    values = ["course::1524699::enrollment_type::student"]
    assert memberships_from_claims(values, berkeley, catalog, day) == {}


@pytest.mark.parametrize("day", [date(2026, 8, 19), date(2026, 12, 18)])
def test_the_first_and_last_day_of_term_count(
    catalog: Catalog, berkeley: MembershipRules, day: date
) -> None:
    values = ["course::1524699::enrollment_type::student"]
    assert memberships_from_claims(values, berkeley, catalog, day) == {"data8": "student"}


@pytest.mark.parametrize(
    "value",
    [
        "xcourse::1524699::enrollment_type::ta",
        "course::1524699::enrollment_type::ta::extra",
        "prefix urn:mace:campus.example.edu:course:data8:ta",
        "urn:mace:campus.example.edu:course:data8:ta:suffix",
        "urn:mace:campusXexample.edu:course:data8:ta",
    ],
)
def test_a_pattern_must_match_the_whole_value(catalog: Catalog, value: str) -> None:
    rules = MembershipRules.build([BERKELEY, ENTITLEMENT])
    assert memberships_from_claims([value], rules, catalog, IN_TERM) == {}


def test_very_long_values_are_skipped(catalog: Catalog, berkeley: MembershipRules) -> None:
    padded = "course::1524699::enrollment_type::" + "ta" + " " * MAX_VALUE_LENGTH
    long_key = "course::" + "1" * MAX_VALUE_LENGTH + "::enrollment_type::ta"
    values = [padded, long_key, "course::1525001::enrollment_type::student"]
    assert memberships_from_claims(values, berkeley, catalog, IN_TERM) == {"cs61a": "student"}


def test_values_that_are_not_text_are_skipped_even_when_passed_directly(
    catalog: Catalog, berkeley: MembershipRules
) -> None:
    values = [None, 7, ["course::1524699::enrollment_type::ta"], {"a": 1}, b"course::x"]
    values.append("course::1525001::enrollment_type::ta")
    assert memberships_from_claims(values, berkeley, catalog, IN_TERM) == {"cs61a": "ta"}  # type: ignore[arg-type]


def test_an_optional_named_part_that_did_not_take_part_is_no_membership(
    catalog: Catalog,
) -> None:
    rules = MembershipRules.build(
        [r"course:(?P<course>[a-z0-9]+)(?::(?P<role>[a-z]+))?"], match_slugs=True
    )
    values = ["course:data8", "course:stat20:ta"]
    assert memberships_from_claims(values, rules, catalog, IN_TERM) == {"stat20": "ta"}


# -- claim_values: hostile and odd claims ----------------------------------------------------------


def test_claim_values_reads_lists_and_single_text() -> None:
    assert claim_values({"groups": ["a", "b"]}, "groups") == ["a", "b"]
    assert claim_values({"groups": ("a",)}, "groups") == ["a"]
    assert claim_values({"groups": "a"}, "groups") == ["a"]


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"groups": None},
        {"groups": 7},
        {"groups": True},
        {"groups": {"course::1524699::enrollment_type::ta": True}},
        {"groups": b"course::1524699::enrollment_type::ta"},
        {"other": ["course::1524699::enrollment_type::ta"]},
    ],
)
def test_a_missing_or_odd_claim_yields_no_values(claims: dict) -> None:
    assert claim_values(claims, "groups") == []


def test_claim_values_skips_items_that_are_not_text() -> None:
    claims = {"groups": ["a", None, 3, 2.5, True, ["b"], {"c": "d"}, b"e", "f"]}
    assert claim_values(claims, "groups") == ["a", "f"]


def test_claims_that_are_not_a_mapping_yield_no_values() -> None:
    assert claim_values(None, "groups") == []  # type: ignore[arg-type]
    assert claim_values(["groups"], "groups") == []  # type: ignore[arg-type]


def test_dotted_claim_paths_reach_nested_values() -> None:
    claims = {"ext": {"campus": {"memberships": ["x", "y"]}}, "groups": ["z"]}
    assert claim_values(claims, "ext.campus.memberships") == ["x", "y"]
    assert claim_values(claims, "ext.campus") == []  # a mapping is not a list of values
    assert claim_values(claims, "ext.nothing.memberships") == []
    assert claim_values(claims, "groups.0") == []  # no indexing into lists
    assert claim_values({"ext": "text"}, "ext.campus") == []


def test_a_claim_whose_name_contains_dots_is_read_by_its_whole_name() -> None:
    # Auth0 and others require namespaced (URL) names for custom claims.
    claims = {"https://campus.example.edu/groups": ["course::1524699::enrollment_type::ta"]}
    assert claim_values(claims, "https://campus.example.edu/groups") == [
        "course::1524699::enrollment_type::ta"
    ]


def test_a_huge_claim_is_cut_to_the_first_values(
    catalog: Catalog, berkeley: MembershipRules
) -> None:
    noise = [f"course::{n}::enrollment_type::student" for n in range(MAX_CLAIM_VALUES)]
    late = "course::1524699::enrollment_type::ta"
    claims = {"groups": ["course::1525001::enrollment_type::student", *noise, late]}
    values = claim_values(claims, "groups")
    assert len(values) == MAX_CLAIM_VALUES
    assert late not in values
    assert memberships_from_claims(values, berkeley, catalog, IN_TERM) == {"cs61a": "student"}


def test_values_beyond_the_limit_passed_directly_are_not_read(
    catalog: Catalog, berkeley: MembershipRules
) -> None:
    consumed = 0

    def many() -> Iterator[str]:
        nonlocal consumed
        for _ in range(MAX_CLAIM_VALUES * 2):
            consumed += 1
            yield "course::9::enrollment_type::student"
        yield "course::1524699::enrollment_type::ta"

    assert memberships_from_claims(many(), berkeley, catalog, IN_TERM) == {}
    assert consumed <= MAX_CLAIM_VALUES + 1


def test_a_million_values_from_a_claim_take_no_time_to_refuse(
    catalog: Catalog, berkeley: MembershipRules
) -> None:
    claims = {"groups": ["course::1524699::enrollment_type::" + "x" * 40] * 1_000_000}
    values = claim_values(claims, "groups")
    assert memberships_from_claims(values, berkeley, catalog, IN_TERM) == {}


# -- memberships_from_canvas -----------------------------------------------------------------------


def canvas_course(course_id: object, *enrollments: dict, sis: object = None) -> dict:
    return {"id": course_id, "sis_course_id": sis, "name": "x", "enrollments": list(enrollments)}


def enrolled(kind: str, state: str = "active") -> dict:
    return {"type": kind, "role": f"{kind.capitalize()}Enrollment", "enrollment_state": state}


def test_canvas_courses_match_by_id_as_number_or_text(
    catalog: Catalog, berkeley: MembershipRules
) -> None:
    courses = [
        canvas_course(1524699, enrolled("student")),
        canvas_course("1525001", enrolled("ta")),
    ]
    assert memberships_from_canvas(courses, berkeley, catalog, IN_TERM) == {
        "data8": "student",
        "cs61a": "ta",
    }


def test_canvas_courses_match_by_sis_course_id_when_the_id_is_unknown(
    catalog: Catalog, berkeley: MembershipRules
) -> None:
    courses = [canvas_course(42, enrolled("teacher"), sis="DATA-C8-2026-FALL")]
    assert memberships_from_canvas(courses, berkeley, catalog, IN_TERM) == {"data8": "instructor"}


def test_canvas_courses_are_not_matched_by_slug_or_name(
    catalog: Catalog, berkeley: MembershipRules
) -> None:
    courses = [
        canvas_course("data8", enrolled("student")),
        {"id": 7, "name": "stat20", "course_code": "stat20", "enrollments": [enrolled("ta")]},
    ]
    assert memberships_from_canvas(courses, berkeley, catalog, IN_TERM) == {}


def test_canvas_inactive_enrollments_do_not_count(
    catalog: Catalog, berkeley: MembershipRules
) -> None:
    courses = [
        canvas_course(1524699, enrolled("teacher", "completed"), enrolled("student")),
        canvas_course(1525001, enrolled("ta", "invited"), enrolled("student", "deleted")),
    ]
    assert memberships_from_canvas(courses, berkeley, catalog, IN_TERM) == {"data8": "student"}


def test_canvas_strongest_enrollment_wins_across_records(
    catalog: Catalog, berkeley: MembershipRules
) -> None:
    courses = [
        canvas_course(1524699, enrolled("student")),
        canvas_course(1524699, enrolled("ta"), enrolled("observer")),
    ]
    assert memberships_from_canvas(courses, berkeley, catalog, IN_TERM) == {"data8": "ta"}


def test_canvas_custom_role_falls_back_from_type_to_role(
    catalog: Catalog, berkeley: MembershipRules
) -> None:
    courses = [canvas_course(1524699, {"type": "Lab Helper", "role": "TaEnrollment"})]
    assert memberships_from_canvas(courses, berkeley, catalog, IN_TERM) == {"data8": "ta"}


def test_canvas_observers_are_ignored(catalog: Catalog, berkeley: MembershipRules) -> None:
    courses = [canvas_course(1524699, enrolled("observer"))]
    assert memberships_from_canvas(courses, berkeley, catalog, IN_TERM) == {}


def test_canvas_memberships_need_the_term_open(catalog: Catalog, berkeley: MembershipRules) -> None:
    courses = [canvas_course(1524699, enrolled("student"))]
    assert memberships_from_canvas(courses, berkeley, catalog, AFTER_TERM) == {}


def test_malformed_canvas_records_are_skipped(catalog: Catalog, berkeley: MembershipRules) -> None:
    courses = [
        None,
        "1524699",
        1524699,
        ["id", 1524699],
        {},
        {"id": None, "enrollments": [enrolled("student")]},
        {"id": True, "enrollments": [enrolled("student")]},
        {"id": 1524699.0, "enrollments": [enrolled("student")]},
        {"id": {"nested": 1524699}, "enrollments": [enrolled("student")]},
        {"id": 1524699},  # no enrollments
        {"id": 1524699, "enrollments": None},
        {"id": 1524699, "enrollments": "student"},
        {"id": 1524699, "enrollments": {"type": "student"}},
        {"id": 1524699, "enrollments": [None, "ta", 3, {"type": None}, {"type": ["ta"]}]},
        {"id": 1524699, "enrollments": [{"type": "student", "enrollment_state": None}]},
        canvas_course(1525001, {"type": "ta"}),  # no enrollment_state: active
    ]
    assert memberships_from_canvas(courses, berkeley, catalog, IN_TERM) == {"cs61a": "ta"}


# -- groups and roles ------------------------------------------------------------------------------


def test_course_groups_name_the_course_and_the_role() -> None:
    memberships = {"data8": "student", "cs61a": "ta", "stat20": "instructor"}
    assert course_groups(memberships) == {
        "course:data8",
        "course:data8:students",
        "course:cs61a",
        "course:cs61a:tas",
        "course:stat20",
        "course:stat20:instructors",
    }
    assert course_groups({}) == set()


def test_user_roles_always_include_user_and_add_staff_roles_only() -> None:
    assert user_roles({}) == ["user"]
    assert user_roles({"data8": "student"}) == ["user"]
    # An instructor holds the course's TA role too: the students' servers are in it.
    assert user_roles({"data8": "ta", "cs61a": "instructor", "stat20": "student"}) == [
        "user",
        "course-cs61a-instructor",
        "course-cs61a-ta",
        "course-data8-ta",
    ]


def test_staff_roles_hold_their_courses_roster_and_no_server_access(catalog: Catalog) -> None:
    roles = {role["name"]: role for role in staff_roles(catalog)}
    assert len(roles) == 2 * len(catalog.courses)
    for slug in catalog.courses:
        course, students, tas = f"course:{slug}", f"course:{slug}:students", f"course:{slug}:tas"
        assert sorted(roles[staff_role_name(slug, "ta")]["scopes"]) == sorted(
            [f"read:groups!group={course}", f"read:groups!group={students}"]
        )
        assert sorted(roles[staff_role_name(slug, "instructor")]["scopes"]) == sorted(
            [
                f"read:groups!group={course}",
                f"read:groups!group={students}",
                f"read:groups!group={tas}",
            ]
        )
        # Without reach, no server at all; with it, one server at a time (campushub.reach): a grant
        # filtered by user or group would open every server of those people.
        for role in (staff_role_name(slug, "ta"), staff_role_name(slug, "instructor")):
            assert not [s for s in roles[role]["scopes"] if "servers" in s or "users" in s]


def test_staff_reach_students_and_tas_course_servers_only() -> None:
    assert staff_reach("data8", "student") == ("course:data8:tas", "course:data8:instructors")
    assert staff_reach("data8", "ta") == ("course:data8:instructors",)
    assert staff_reach("data8", "instructor") == ()
    assert staff_reach("data8", "") == ()


def test_staff_role_names_are_valid_jupyterhub_role_names(catalog: Catalog) -> None:
    names = [role["name"] for role in staff_roles(catalog)]
    assert names == [
        "course-data8-ta",
        "course-data8-instructor",
        "course-cs61a-ta",
        "course-cs61a-instructor",
        "course-stat20-ta",
        "course-stat20-instructor",
    ]
    for name in names:
        assert JUPYTERHUB_ROLE_NAME.match(name), name


@pytest.mark.parametrize("slug", ["a", "9", "8data", "x" * 30, "a-b-c"])
def test_role_names_are_valid_for_every_kind_of_slug(slug: str) -> None:
    text = CATALOG_YAML.split("courses:")[0] + f'courses:\n  "{slug}": {{title: "T"}}\n'
    for role in staff_roles(parse_catalog(text)):
        assert JUPYTERHUB_ROLE_NAME.match(role["name"]), role["name"]


def test_no_staff_scope_reaches_beyond_its_own_course_groups(catalog: Catalog) -> None:
    for role in staff_roles(catalog):
        slug = role["name"].removeprefix("course-").rsplit("-", 1)[0]
        for scope in role["scopes"]:
            base, _, scope_filter = scope.partition("!")
            assert base == "read:groups", scope
            assert scope_filter in {
                f"group=course:{slug}",
                f"group=course:{slug}:students",
                f"group=course:{slug}:tas",
            }, scope
        assert role["description"]


LIS = "http://purl.imsglobal.org/vocab/lis/v2"


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ([f"{LIS}/membership#Learner"], "student"),
        ([f"{LIS}/membership#Instructor"], "instructor"),
        # Canvas sends a TA the parent role and the sub-role: the sub-role is more exact.
        ([f"{LIS}/membership#Instructor", f"{LIS}/membership/Instructor#TeachingAssistant"], "ta"),
        (["TeachingAssistant"], "ta"),
        (["Learner", "Instructor"], "instructor"),
        # Institution and system roles say nothing about the course.
        ([f"{LIS}/institution/person#Faculty", f"{LIS}/system/person#Administrator"], None),
        ([f"{LIS}/membership#Mentor", f"{LIS}/membership#ContentDeveloper"], None),
        ([f"{LIS}/membership#Learner" + "x" * 600, 7, None, f"{LIS}/membership#Nonsense"], None),
        ([], None),
    ],
)
def test_lti_roles_become_a_member_role(roles: list, expected: str | None) -> None:
    assert lti_member_role(roles) == expected


def test_an_lti_launch_gives_the_membership_of_its_catalog_course(catalog: Catalog) -> None:
    learner = [f"{LIS}/membership#Learner"]
    assert memberships_from_lti("1524699", learner, catalog, IN_TERM) == {"data8": "student"}
    assert memberships_from_lti(1525001, learner, catalog, IN_TERM) == {"cs61a": "student"}
    for key in ("9999999", "data8", True, None, ["1524699"]):
        assert memberships_from_lti(key, learner, catalog, IN_TERM) == {}, key
    assert memberships_from_lti("1524699", [f"{LIS}/membership#Mentor"], catalog, IN_TERM) == {}
    assert memberships_from_lti("1524699", learner, catalog, AFTER_TERM) == {}
