"""The course catalog: a bad one is refused with every problem at its place; a good one becomes
immutable objects that courses, lookups and defaults can rely on.

The corpus in ``tests/bad_catalogs/`` holds one small catalog per kind of problem. Each file
starts with ``# expect: <place: message>`` lines (each optionally followed by ``# line: N``);
loading it must report exactly those problems, no more and no fewer.
"""

from __future__ import annotations

import dataclasses
import time as clock
from datetime import date, time, timedelta
from pathlib import Path

import pytest

import campushub
from campushub.catalog import (
    Allocation,
    Catalog,
    CatalogError,
    OneOffEvent,
    Problem,
    WeeklyMeeting,
    check_slug,
    load_catalog,
    parse_catalog,
)

BAD_CATALOGS = Path(__file__).parent / "bad_catalogs"
DEMO_CATALOG = Path(campushub.__file__).parent / "demo" / "courses.yaml"
GiB = 2**30
MiB = 2**20

# The catalog every corpus file starts from: valid, with nothing optional.
MINIMAL = """\
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
    keys: ["1524699"]
"""


def with_course_lines(*lines: str, base: str = MINIMAL) -> str:
    """MINIMAL with ``lines`` added to course data8's settings."""
    return base + "".join(f"    {line}\n" for line in lines)


# ---------------------------------------------------------------------------------------------
# The corpus of bad catalogs
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Expected:
    text: str
    line: int | None = None


def read_expectations(path: Path) -> list[Expected]:
    """The ``# expect:`` / ``# line:`` comments at the top of a corpus file."""
    expected: list[Expected] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.startswith("#"):
            break
        comment = raw[1:].strip()
        if comment.startswith("expect:"):
            expected.append(Expected(comment.removeprefix("expect:").strip()))
        elif comment.startswith("line:"):
            assert expected, f"{path.name}: '# line:' must follow an '# expect:' line"
            expected[-1].line = int(comment.removeprefix("line:"))
    return expected


def without_line(problem: Problem) -> str:
    return str(dataclasses.replace(problem, line=None))


CORPUS = sorted(BAD_CATALOGS.glob("*.yaml"))


@pytest.mark.parametrize("path", CORPUS, ids=[path.stem for path in CORPUS])
def test_bad_catalog_reports_exactly_its_expected_problems(path: Path) -> None:
    expected = read_expectations(path)
    assert expected, f"{path.name} has no '# expect:' lines"

    with pytest.raises(CatalogError) as raised:
        load_catalog(path)

    reported = [without_line(problem) for problem in raised.value.problems]
    assert sorted(reported) == sorted(e.text for e in expected)
    lines = {without_line(problem): problem.line for problem in raised.value.problems}
    for expectation in expected:
        if expectation.line is not None:
            assert lines[expectation.text] == expectation.line, expectation.text


def test_corpus_covers_every_kind_of_problem_the_issue_names() -> None:
    kinds = {
        "malformed_yaml",
        "unknown_key",
        "wrong_types",
        "bad_quantities",
        "limit_below_guarantee",
        "unknown_timezone",
        "bad_times",
        "bad_durations",
        "slug_too_long",
        "slug_uppercase_underscore",
        "bad_label_values",
        "unknown_image",
        "unknown_pool",
        "same_key_on_two_courses",
        "repo_not_http",
        "many_problems",
    }
    assert kinds <= {path.stem for path in CORPUS}


def test_many_problems_are_all_reported_at_once_in_line_order() -> None:
    with pytest.raises(CatalogError) as raised:
        load_catalog(BAD_CATALOGS / "many_problems.yaml")
    problems = raised.value.problems
    assert len({problem.place for problem in problems}) >= 8
    lines = [problem.line for problem in problems]
    assert None not in lines
    assert lines == sorted(lines)  # type: ignore[type-var]


def test_corpus_files_start_from_the_minimal_valid_catalog() -> None:
    assert isinstance(parse_catalog(MINIMAL), Catalog)


def test_yaml_1_1_traps_are_read_as_written() -> None:
    text = (BAD_CATALOGS / "yaml11_traps.yaml").read_text(encoding="utf-8")
    catalog = parse_catalog(text.replace("exam: yes", "exam: true"))

    course = catalog.courses["data8"]
    assert course.keys == ("1524699", "0123")  # a number is its text, leading zero kept
    weekly, exam = course.schedule
    assert isinstance(weekly, WeeklyMeeting)
    assert weekly.at == time(10, 0)  # not 600, as YAML 1.1 would read 10:00
    assert isinstance(exam, OneOffEvent)  # ``on:`` is a key, not True
    assert (exam.on, exam.at, exam.exam) == (date(2026, 12, 14), time(8, 0), True)


# ---------------------------------------------------------------------------------------------
# Text that is not a catalog at all
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n"])
def test_empty_catalog_is_one_problem_without_a_line(text: str) -> None:
    with pytest.raises(CatalogError) as raised:
        parse_catalog(text)
    (problem,) = raised.value.problems
    assert problem.place == ""
    assert problem.message.startswith("the catalog is empty")
    assert problem.line is None


def test_load_catalog_on_a_missing_file_gives_one_clear_problem(tmp_path: Path) -> None:
    missing = tmp_path / "courses.yaml"
    with pytest.raises(CatalogError) as raised:
        load_catalog(missing)
    (problem,) = raised.value.problems
    assert str(problem) == "cannot read the catalog: No such file or directory"
    assert raised.value.source == str(missing)
    assert str(raised.value).startswith(f"{missing}: 1 problem(s)")


def test_load_catalog_on_a_file_that_is_not_utf8_gives_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "courses.yaml"
    path.write_bytes(b"term: \xff\xfe\n")
    with pytest.raises(CatalogError) as raised:
        load_catalog(path)
    (problem,) = raised.value.problems
    assert problem.message.startswith("cannot read the catalog:")


def test_catalog_error_str_lists_every_problem_with_its_source() -> None:
    text = (BAD_CATALOGS / "many_problems.yaml").read_text(encoding="utf-8")
    with pytest.raises(CatalogError) as raised:
        parse_catalog(text, "courses.yaml")
    error = raised.value
    message = str(error)
    header, *listed = message.splitlines()
    assert header == f"courses.yaml: {len(error.problems)} problem(s) in the course catalog:"
    assert listed == [f"  {problem}" for problem in error.problems]
    assert "courses.data8.memory.limit: '1 GB' is not a quantity (try 1Gi) (line 46)" in message


def test_problem_str_names_place_message_and_line() -> None:
    assert str(Problem("courses.data8.image", "'R' is not one", 7)) == (
        "courses.data8.image: 'R' is not one (line 7)"
    )
    assert str(Problem("", "not valid YAML: oops", 3)) == "not valid YAML: oops (line 3)"
    assert str(Problem("timezone", "bad")) == "timezone: bad"


def test_alias_bomb_is_refused_quickly() -> None:
    started = clock.perf_counter()
    with pytest.raises(CatalogError):
        load_catalog(BAD_CATALOGS / "alias_bomb.yaml")
    assert clock.perf_counter() - started < 2


def test_repo_credentials_are_not_repeated_in_the_problem() -> None:
    text = with_course_lines('repos: ["https://alice:ghp_s3cret@github.com/data-8/"]')
    with pytest.raises(CatalogError) as raised:
        parse_catalog(text)
    assert "ghp_s3cret" not in str(raised.value)
    assert "https://github.com/data-8/" in str(raised.value)


def test_python_tags_are_never_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "constructed"
    text = with_course_lines(f'env: !!python/object/apply:os.system ["touch {marker}"]')
    with pytest.raises(CatalogError):
        parse_catalog(text)
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------
# Good catalogs
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> Catalog:
    return load_catalog(DEMO_CATALOG)


def test_demo_catalog_loads_with_its_courses_images_and_pool(demo: Catalog) -> None:
    assert list(demo.courses) == ["data8", "stat20", "physics77"]
    assert demo.source == str(DEMO_CATALOG)
    assert demo.timezone.key == "America/Los_Angeles"
    assert (demo.term.name, demo.term.starts, demo.term.ends) == (
        "2026-27",
        date(2026, 8, 19),
        date(2027, 8, 13),
    )
    assert date(2026, 11, 26) in demo.term.holidays
    assert {name: image.default_url for name, image in demo.images.items()} == {
        "python": "/lab",
        "r": "/rstudio",
        "julia": "/lab",
    }
    pool = demo.pools["standard"]
    assert (pool.node_cpu, pool.node_memory, pool.min, pool.max) == (8, 64 * GiB, 1, 80)
    assert pool.lead == timedelta(minutes=20)
    assert dict(pool.node_selector) == {"hub.jupyter.org/pool-name": "standard"}
    assert pool.placeholder is not None
    assert (pool.placeholder.kind, pool.placeholder.name) == ("Pods", "standard-placeholder")


def test_demo_course_data8_has_its_own_memory_shared_data_and_schedule(demo: Catalog) -> None:
    data8 = demo.courses["data8"]
    assert data8.title == "DATA 8: Foundations of Data Science"
    assert data8.keys == ("1524699",)
    assert data8.memory == Allocation(GiB, GiB)
    assert data8.cpu == Allocation(0.05, 0.5)
    assert data8.image is demo.images["python"]
    assert data8.default_url == "/lab"
    assert data8.shared is not None
    assert (data8.shared.volume, data8.shared.readonly_for) == (
        "data8-shared",
        frozenset({"students"}),
    )
    weekly, exam = data8.schedule
    assert weekly == WeeklyMeeting((0, 2, 4), time(10, 0), timedelta(minutes=50), 800)
    assert exam == OneOffEvent(date(2026, 12, 14), time(8, 0), timedelta(hours=3), 1200, True)


def test_course_without_settings_inherits_every_default(demo: Catalog) -> None:
    stat20 = demo.courses["stat20"]
    assert stat20.pool is demo.defaults.pool
    assert stat20.cpu == demo.defaults.cpu
    assert stat20.memory == demo.defaults.memory == Allocation(512 * MiB, GiB)
    assert (stat20.gpu, stat20.home) == (0, "shared")
    assert stat20.image is demo.images["r"]
    assert stat20.default_url == "/rstudio"  # the course's image's, not the defaults' image's
    assert stat20.shared is None
    assert dict(stat20.env) == {}


def test_partial_override_merges_with_the_defaults() -> None:
    catalog = parse_catalog(with_course_lines("memory: {guarantee: 768Mi}", "cpu: {limit: 4}"))
    course = catalog.courses["data8"]
    assert course.memory == Allocation(768 * MiB, GiB)  # limit from the defaults
    assert course.cpu == Allocation(0.05, 4)  # guarantee from the defaults
    assert catalog.defaults.memory == Allocation(512 * MiB, GiB)  # defaults untouched


def test_course_settings_override_image_pool_url_and_add_env() -> None:
    text = MINIMAL.replace(
        "pools:\n",
        "pools:\n  gpu: {node: {cpu: 4, memory: 16Gi}, max: 2, unit: user,"
        " tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]}\n",
    ).replace(
        "images:\n",
        'images:\n  r: {ref: "ghcr.io/campus/r:2026.08", default_url: /rstudio, language: R}\n',
    )
    catalog = parse_catalog(
        with_course_lines(
            "image: r",
            "pool: gpu",
            "gpu: 1",
            "home: per-course",
            "default_url: /lab/tree/welcome.ipynb",
            "env: {SEED: 42, MODE: teaching}",
            base=text,
        )
    )
    course = catalog.courses["data8"]
    assert (course.image.name, course.image.language) == ("r", "R")
    assert (course.pool.name, course.pool.unit) == ("gpu", "user")
    assert dict(course.pool.tolerations[0]) == {
        "key": "nvidia.com/gpu",
        "operator": "Exists",
        "effect": "NoSchedule",
    }
    assert (course.gpu, course.home, course.default_url) == (
        1,
        "per-course",
        "/lab/tree/welcome.ipynb",
    )
    assert dict(course.env) == {"SEED": "42", "MODE": "teaching"}


def test_lookup_by_slug_and_by_key_return_the_same_course(demo: Catalog) -> None:
    assert demo.course("data8") is demo.course_for_key("1524699") is demo.courses["data8"]
    assert demo.course_for_key("1525001") is demo.course("stat20")
    assert demo.course("data9") is None
    assert demo.course_for_key("0000000") is None


def test_catalog_objects_are_immutable(demo: Catalog) -> None:
    data8 = demo.courses["data8"]
    for obj, attribute in [
        (demo, "courses"),
        (demo.term, "ends"),
        (demo.defaults, "memory"),
        (data8, "memory"),
        (data8.memory, "limit"),
        (data8.image, "ref"),
        (data8.pool, "max"),
        (data8.shared, "readonly_for"),
        (data8.schedule[0], "expect"),
    ]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, attribute, None)
    for mapping in [
        demo.courses,
        demo.courses_by_key,
        demo.images,
        demo.pools,
        data8.env,
        data8.pool.node_selector,
    ]:
        with pytest.raises(TypeError):
            mapping["new"] = None  # type: ignore[index]
    assert isinstance(data8.keys, tuple)
    assert isinstance(data8.schedule, tuple)
    assert isinstance(demo.term.holidays, tuple)


def test_keys_given_as_yaml_integers_become_text() -> None:
    catalog = parse_catalog(MINIMAL.replace('keys: ["1524699"]', "keys: [1524699, 0042, 7]"))
    assert catalog.courses["data8"].keys == ("1524699", "0042", "7")
    assert catalog.course_for_key("1524699") is catalog.course_for_key("7")
    assert catalog.course_for_key("0042") is catalog.courses["data8"]


def test_a_course_needs_no_keys() -> None:
    catalog = parse_catalog(MINIMAL.replace('    keys: ["1524699"]\n', ""))
    assert catalog.courses["data8"].keys == ()
    assert dict(catalog.courses_by_key) == {}


@pytest.mark.parametrize(
    ("written", "weekdays"),
    [
        ("[mon, tue, wed, thu, fri, sat, sun]", (0, 1, 2, 3, 4, 5, 6)),
        ("[monday, tuesday, wednesday, thursday, friday, saturday, sunday]", (0, 1, 2, 3, 4, 5, 6)),
        ("[Fri, MONDAY, wed]", (0, 2, 4)),
        ("[tue, tuesday, thu]", (1, 3)),
    ],
)
def test_weekday_names_may_be_full_or_short_in_any_case(written: str, weekdays: tuple) -> None:
    catalog = parse_catalog(
        with_course_lines("schedule:", f'  - {{every: {written}, at: "10:00", for: 1h, expect: 5}}')
    )
    (meeting,) = catalog.courses["data8"].schedule
    assert isinstance(meeting, WeeklyMeeting)
    assert meeting.weekdays == weekdays


def test_weekly_meeting_keeps_its_own_dates_and_skips() -> None:
    catalog = parse_catalog(
        with_course_lines(
            "schedule:",
            '  - {every: [tue], at: "14:00", for: 1h20m, expect: 30, from: 2026-09-01,'
            " until: 2026-11-30, skip: [2026-10-13]}",
        )
    )
    (meeting,) = catalog.courses["data8"].schedule
    assert isinstance(meeting, WeeklyMeeting)
    assert (meeting.starts, meeting.ends, meeting.skip) == (
        date(2026, 9, 1),
        date(2026, 11, 30),
        (date(2026, 10, 13),),
    )
    assert meeting.duration == timedelta(hours=1, minutes=20)


def test_term_holidays_are_sorted_and_open_days_include_both_ends() -> None:
    catalog = parse_catalog(
        MINIMAL.replace(
            "ends: 2026-12-18}", "ends: 2026-12-18, holidays: [2026-11-27, 2026-09-07]}"
        )
    )
    term = catalog.term
    assert term.holidays == (date(2026, 9, 7), date(2026, 11, 27))
    assert term.is_open(date(2026, 8, 19)) and term.is_open(date(2026, 12, 18))
    assert not term.is_open(date(2026, 8, 18)) and not term.is_open(date(2026, 12, 19))


def test_thirty_character_slug_is_accepted() -> None:
    slug = "a" * 29 + "9"
    catalog = parse_catalog(MINIMAL.replace("  data8:", f"  {slug}:"))
    assert catalog.course(slug) is not None


@pytest.mark.parametrize("slug", ["a", "data8", "cs-61a", "2026", "a" * 30])
def test_check_slug_accepts_short_lowercase_names(slug: str) -> None:
    check_slug(slug)


@pytest.mark.parametrize("slug", ["", "a" * 31, "Data8", "data_8", "-data8", "data8-", "da ta"])
def test_check_slug_refuses_names_unusable_as_server_group_or_label(slug: str) -> None:
    with pytest.raises(ValueError, match="is not a valid course slug"):
        check_slug(slug)


def test_yaml_anchors_and_aliases_may_share_settings() -> None:
    text = MINIMAL.replace(
        '    keys: ["1524699"]\n',
        '    keys: ["1524699"]\n'
        "    schedule: &mwf\n"
        '      - {every: [mon, wed, fri], at: "10:00", for: 50m, expect: 100}\n'
        "  stat20:\n"
        '    title: "STAT 20"\n'
        "    schedule: *mwf\n",
    )
    catalog = parse_catalog(text)
    assert catalog.courses["stat20"].schedule == catalog.courses["data8"].schedule


def test_a_catalog_of_a_thousand_courses_loads_quickly() -> None:
    courses = "".join(
        f"  course{number}:\n"
        f'    title: "Course {number}"\n'
        f"    keys: [{1_000_000 + number}]\n"
        "    memory: {guarantee: 1Gi}\n"
        '    schedule: [{every: [mon, wed], at: "09:00", for: 50m, expect: 40}]\n'
        for number in range(1000)
    )
    started = clock.perf_counter()
    catalog = parse_catalog(MINIMAL + courses)
    assert clock.perf_counter() - started < 2
    assert len(catalog.courses) == 1001
    assert catalog.course_for_key("1000999") is catalog.course("course999")


def test_summary_names_the_term_and_every_course(demo: Catalog) -> None:
    summary = demo.summary()
    assert "2026-27" in summary
    for slug in demo.courses:
        assert slug in summary


def test_a_course_may_grade_with_nbgrader_and_nothing_else() -> None:
    catalog = parse_catalog(with_course_lines("grading: nbgrader"))
    assert catalog.courses["data8"].grading == "nbgrader"
    assert parse_catalog(with_course_lines()).courses["data8"].grading is None
    for value, shown in (("gradescope", "'gradescope'"), ("true", "true"), ("[nbgrader]", "[")):
        with pytest.raises(CatalogError) as caught:
            parse_catalog(with_course_lines(f"grading: {value}"))
        (problem,) = caught.value.problems
        assert problem.place == "courses.data8.grading" and problem.line, problem
        assert "is not one of: nbgrader" in problem.message and shown in problem.message
