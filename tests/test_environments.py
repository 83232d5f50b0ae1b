"""Which environment a server gets: plain functions of (catalog, server name, person, time).

Course servers are planned from the catalog for members and refused, with the reason, for
anyone else; the default server offers the person's own courses and the general environment;
exam windows give guarantee = limit, in the catalog's time zone, daylight-saving days included.
No hub, no Kubernetes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from campushub.catalog import Catalog, parse_catalog
from campushub.environments import (
    GENERAL,
    HOME_MOUNT,
    LABEL_PREFIX,
    NotAllowed,
    ServerPlan,
    choices,
    exam_in_progress,
    plan_server,
)
from campushub.units import check_label_key, check_label_value

LA = ZoneInfo("America/Los_Angeles")
GiB = 2**30
MiB = 2**20

CATALOG_YAML = """\
term:
  name: 2026-27
  starts: 2026-08-19
  ends: 2027-05-14
  holidays: [2026-11-10, 2026-11-11, 2026-11-26]
timezone: America/Los_Angeles
images:
  python: {ref: "ghcr.io/campus/python:2026.08"}
  r: {ref: "ghcr.io/campus/r:2026.08", default_url: /rstudio}
  pytorch: {ref: "ghcr.io/campus/pytorch:2026.08", language: python}
pools:
  standard:
    node: {cpu: 8, memory: 64Gi}
    node_selector: {hub.jupyter.org/pool-name: standard}
    max: 20
  gpu:
    node: {cpu: 16, memory: 120Gi}
    node_selector: {hub.jupyter.org/pool-name: gpu}
    tolerations:
      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
    max: 4
defaults:
  personal_server: true
  image: python
  pool: standard
  cpu: {guarantee: 0.05, limit: 2}
  memory: {guarantee: 512Mi, limit: 1Gi}
courses:
  data8:
    title: "DATA 8: Foundations of Data Science"
    memory: {guarantee: 1Gi, limit: 2Gi}
    shared: {volume: data8-shared}
    env: {OMP_NUM_THREADS: 2, DATA8_SETTINGS: '{"theme": "light"}'}
    schedule:
      - {every: [mon, wed, fri], at: "10:00", for: 50m, expect: 800}
      - {on: 2026-12-14, at: "08:00", for: 3h, expect: 1200, exam: true}
  stat20:
    title: "STAT 20: Introduction to Probability and Statistics"
    image: r
    home: per-course
    shared: {volume: stat20-data, path: /srv/stat20, readonly_for: [students, tas]}
    schedule:
      - {every: [tue], at: "14:00", for: 1h20m, expect: 300, exam: true, skip: [2026-10-13]}
  cs189:
    title: "CS 189: Introduction to Machine Learning"
    image: pytorch
    pool: gpu
    gpu: 1
    cpu: {guarantee: 1, limit: 4}
    memory: {guarantee: 8Gi, limit: 16Gi}
  physics77:
    title: "PHYSICS 77: Introduction to Computational Techniques"
    default_url: /lab/tree/welcome.ipynb
    schedule:
      - {on: 2026-11-01, at: "00:30", for: 3h, expect: 120, exam: true}
      - {on: 2027-03-14, at: "01:00", for: 2h, expect: 120, exam: true}
      - {every: [fri], at: "23:00", for: 2h, expect: 120, exam: true,
         from: 2026-09-01, until: 2026-09-30}
"""

IN_TERM = datetime(2026, 9, 15, 12, 0, tzinfo=LA)  # a Tuesday, no exam running
ADA = {"data8": "student", "stat20": "student"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return parse_catalog(CATALOG_YAML)


def plan(
    catalog: Catalog,
    server: str,
    memberships: dict[str, str],
    now: datetime = IN_TERM,
    choice: str | None = None,
    username: str = "ada",
) -> ServerPlan:
    return plan_server(catalog, server, username, memberships, now, choice)


def local(*parts: int, fold: int = 0) -> datetime:
    """A wall-clock time in the catalog's time zone."""
    return datetime(*parts, tzinfo=LA, fold=fold)


# -- course servers: who may have one -------------------------------------------------------


def test_member_gets_the_course_server_from_the_catalog(catalog):
    server = plan(catalog, "data8", ADA)
    assert server.course is catalog.courses["data8"]
    assert server.server_name == "data8"
    assert server.username == "ada"
    assert server.member_role == "student"
    assert server.image.ref == "ghcr.io/campus/python:2026.08"
    assert server.pool.name == "standard"
    assert (server.memory.guarantee, server.memory.limit) == (GiB, 2 * GiB)
    assert (server.cpu.guarantee, server.cpu.limit) == (0.05, 2)
    assert server.default_url == "/lab"
    assert not server.exam


def test_non_member_is_refused_with_the_course_named(catalog):
    with pytest.raises(NotAllowed) as refusal:
        plan(catalog, "cs189", ADA)
    message = str(refusal.value)
    assert "You are not in CS 189: Introduction to Machine Learning (cs189)" in message
    assert "ask the course's instructor" in message


def test_server_name_that_is_not_a_course_is_refused_listing_the_persons_courses(catalog):
    with pytest.raises(NotAllowed) as refusal:
        plan(catalog, "myproject", ADA)
    message = str(refusal.value)
    assert message.startswith("'myproject' is not a course on this hub.")
    assert "yours are: data8, stat20." in message


def test_person_in_no_course_is_told_so(catalog):
    with pytest.raises(NotAllowed, match="yours are: none this term"):
        plan(catalog, "myproject", {})


def test_membership_of_a_course_missing_from_the_catalog_gives_no_server(catalog):
    with pytest.raises(NotAllowed, match="'retired101' is not a course on this hub"):
        plan(catalog, "retired101", {"retired101": "student"})


# -- the default server -------------------------------------------------------------------


def test_default_server_offers_own_courses_then_general(catalog):
    offered = choices(catalog, {"stat20": "ta", "data8": "student", "retired101": "student"})
    assert [choice.slug for choice in offered] == ["data8", "stat20", GENERAL]
    data8, stat20, general = offered
    assert data8.display_name == "DATA 8: Foundations of Data Science"
    assert data8.description == "python environment, up to 2Gi of memory"
    assert stat20.description == "r environment, up to 1Gi of memory"
    assert general.display_name == "General environment"
    assert general.description == "python, for work outside a course"


def test_person_in_no_course_is_offered_general_only(catalog):
    assert [choice.slug for choice in choices(catalog, {})] == [GENERAL]


def test_default_server_without_a_choice_is_the_general_environment(catalog):
    server = plan(catalog, "", ADA)
    assert server.course is None
    assert server.member_role is None
    assert server.title == "the general environment"
    assert server.image is catalog.defaults.image
    assert server.pool is catalog.defaults.pool
    assert server.cpu == catalog.defaults.cpu
    assert server.memory == catalog.defaults.memory
    assert server.gpu == 0
    assert server.default_url == "/lab"
    assert server.volumes == ()
    assert server.labels[f"{LABEL_PREFIX}/course"] == GENERAL
    assert server.labels[f"{LABEL_PREFIX}/role"] == "none"
    assert server.env["CAMPUSHUB_COURSE"] == ""
    assert server.env["CAMPUSHUB_ROLE"] == ""
    assert plan(catalog, "", ADA, choice=GENERAL).course is None


def test_default_server_choice_of_an_own_course_gets_that_course(catalog):
    server = plan(catalog, "", ADA, choice="stat20")
    assert server.server_name == ""
    assert server.course is catalog.courses["stat20"]
    assert server.member_role == "student"
    assert server.image.name == "r"
    assert server.default_url == "/rstudio"
    assert server.env["CAMPUSHUB_COURSE"] == "stat20"


@pytest.mark.parametrize("choice", ["cs189", "myproject"])
def test_default_server_choice_not_offered_is_refused(catalog, choice):
    with pytest.raises(NotAllowed) as refusal:
        plan(catalog, "", ADA, choice=choice)
    assert str(refusal.value) == (f"'{choice}' is not one of your choices: data8, general, stat20.")


# -- what a course inherits -----------------------------------------------------------------


def test_course_inherits_what_it_does_not_say(catalog):
    server = plan(catalog, "physics77", {"physics77": "student"})
    assert server.image is catalog.images["python"]
    assert server.pool is catalog.pools["standard"]
    assert (server.cpu.guarantee, server.cpu.limit) == (0.05, 2)
    assert (server.memory.guarantee, server.memory.limit) == (512 * MiB, GiB)
    assert server.gpu == 0
    assert not server.home_per_course
    assert server.default_url == "/lab/tree/welcome.ipynb"  # the course's own


def test_course_keeps_the_defaults_it_does_not_override():
    # data8 sets only the memory limit: its guarantee is the default's.
    text = CATALOG_YAML.replace("{guarantee: 1Gi, limit: 2Gi}", "{limit: 2Gi}")
    server = plan(parse_catalog(text), "data8", ADA)
    assert (server.memory.guarantee, server.memory.limit) == (512 * MiB, 2 * GiB)


def test_course_default_url_is_its_images():
    server = plan(parse_catalog(CATALOG_YAML), "stat20", ADA)
    assert server.default_url == "/rstudio"


def test_per_course_home_in_the_defaults_is_inherited_by_courses_and_general():
    text = CATALOG_YAML.replace(
        "  memory: {guarantee: 512Mi, limit: 1Gi}\n",
        "  memory: {guarantee: 512Mi, limit: 1Gi}\n  home: per-course\n",
        1,
    )
    catalog = parse_catalog(text)
    assert plan(catalog, "data8", ADA).home_per_course
    assert plan(catalog, "", ADA).home_per_course


def test_home_shared_or_per_course_as_the_course_says(catalog):
    assert not plan(catalog, "data8", ADA).home_per_course
    assert plan(catalog, "stat20", ADA).home_per_course
    assert HOME_MOUNT == "/home/jovyan"


def test_gpu_course_gets_its_gpu_pool_and_resources(catalog):
    server = plan(catalog, "cs189", {"cs189": "student"})
    assert server.gpu == 1
    assert server.pool.name == "gpu"
    assert dict(server.pool.tolerations[0]) == {
        "key": "nvidia.com/gpu",
        "operator": "Exists",
        "effect": "NoSchedule",
    }
    assert (server.cpu.guarantee, server.cpu.limit) == (1, 4)
    assert (server.memory.guarantee, server.memory.limit) == (8 * GiB, 16 * GiB)
    assert server.image.language == "python"


# -- exam windows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "exam"),
    [
        (local(2026, 12, 14, 7, 44, 59), False),  # before the pool's lead time (15m)
        (local(2026, 12, 14, 7, 45), True),  # servers started in the lead time count
        (local(2026, 12, 14, 8, 0), True),  # starts
        (local(2026, 12, 14, 10, 59, 59), True),
        (local(2026, 12, 14, 11, 0), False),  # 3h later: over
        (local(2026, 12, 15, 9, 0), False),  # the next day
    ],
)
def test_one_off_exam_window(catalog, now, exam):
    assert exam_in_progress(catalog.courses["data8"], now, catalog) is exam
    assert plan(catalog, "data8", ADA, now).exam is exam


def test_exam_gives_guarantee_equal_to_limit_for_cpu_and_memory(catalog):
    server = plan(catalog, "data8", ADA, local(2026, 12, 14, 9, 30))
    assert server.exam
    assert server.cpu.guarantee == server.cpu.limit == 2
    assert server.memory.guarantee == server.memory.limit == 2 * GiB
    assert server.labels[f"{LABEL_PREFIX}/exam"] == "true"


def test_outside_an_exam_guarantees_stay_as_the_catalog_says(catalog):
    server = plan(catalog, "data8", ADA, local(2026, 12, 14, 11, 0))
    assert not server.exam
    assert (server.cpu.guarantee, server.memory.guarantee) == (0.05, GiB)
    assert server.labels[f"{LABEL_PREFIX}/exam"] == "false"


def test_exam_time_is_read_in_the_catalogs_time_zone(catalog):
    # 08:30 in Berkeley is 16:30 UTC in December; 08:30 UTC is the night before.
    data8 = catalog.courses["data8"]
    assert exam_in_progress(data8, datetime(2026, 12, 14, 16, 30, tzinfo=UTC), catalog)
    assert not exam_in_progress(data8, datetime(2026, 12, 14, 8, 30, tzinfo=UTC), catalog)


def test_a_meeting_that_is_not_an_exam_keeps_normal_guarantees(catalog):
    lecture = local(2026, 9, 16, 10, 15)  # data8's Wednesday lecture
    assert not plan(catalog, "data8", ADA, lecture).exam


@pytest.mark.parametrize(
    ("now", "exam"),
    [
        (local(2026, 9, 15, 14, 0), True),  # a Tuesday in term
        (local(2026, 9, 15, 15, 19), True),
        (local(2026, 9, 15, 15, 20), False),  # 1h20m later
        (local(2026, 9, 15, 13, 44), False),  # before the lead time
        (local(2026, 9, 15, 13, 50), True),  # in the lead time
        (local(2026, 9, 16, 14, 30), False),  # a Wednesday
        (local(2026, 10, 13, 14, 30), False),  # a skipped Tuesday
        (local(2026, 11, 10, 14, 30), False),  # a holiday Tuesday
        (local(2026, 8, 18, 14, 30), False),  # the Tuesday before term
        (local(2027, 5, 18, 14, 30), False),  # the Tuesday after term
    ],
)
def test_weekly_exam(catalog, now, exam):
    stat20 = catalog.courses["stat20"]
    assert exam_in_progress(stat20, now, catalog) is exam


@pytest.mark.parametrize(
    ("now", "exam"),
    [
        (local(2026, 9, 4, 23, 30), True),  # Friday 23:00 for 2h
        (local(2026, 9, 5, 0, 30), True),  # past midnight: still Friday's exam
        (local(2026, 9, 5, 1, 0), False),
        (local(2026, 8, 28, 23, 30), False),  # before its `from`
        (local(2026, 10, 2, 23, 30), False),  # after its `until`
    ],
)
def test_weekly_exam_running_past_midnight_and_its_date_range(catalog, now, exam):
    assert exam_in_progress(catalog.courses["physics77"], now, catalog) is exam


@pytest.mark.parametrize(
    ("now", "exam"),
    [
        # 2026-11-01: clocks go back at 02:00 PDT. The 3h exam starts at 00:30 PDT
        # (07:30 UTC) and ends 3 elapsed hours later, at 02:30 PST (10:30 UTC).
        (datetime(2026, 11, 1, 7, 14, tzinfo=UTC), False),  # before the 15m lead time
        (datetime(2026, 11, 1, 7, 15, tzinfo=UTC), True),
        (local(2026, 11, 1, 1, 30, fold=0), True),  # 01:30 PDT
        (local(2026, 11, 1, 1, 30, fold=1), True),  # 01:30 PST, an hour later
        (local(2026, 11, 1, 2, 15), True),
        (local(2026, 11, 1, 2, 30), False),  # 3 elapsed hours
        (local(2026, 11, 1, 3, 15), False),  # on the wall clock 02:45 after 00:30, but over
        # 2027-03-14: clocks go forward at 02:00 PST. The 2h exam starts at 01:00 PST
        # (09:00 UTC) and ends at 04:00 PDT (11:00 UTC), not at 03:00.
        (local(2027, 3, 14, 1, 0), True),
        (local(2027, 3, 14, 3, 30), True),
        (local(2027, 3, 14, 4, 0), False),
    ],
)
def test_exam_on_a_daylight_saving_day_lasts_its_elapsed_duration(catalog, now, exam):
    assert exam_in_progress(catalog.courses["physics77"], now, catalog) is exam


def test_exam_of_another_course_does_not_change_this_one(catalog):
    data8_exam = local(2026, 12, 14, 9, 0)
    assert not plan(catalog, "stat20", ADA, data8_exam).exam
    assert not plan(catalog, "", ADA, data8_exam).exam  # the general environment


def test_default_server_choosing_a_course_in_its_exam_is_guaranteed(catalog):
    server = plan(catalog, "", ADA, local(2026, 12, 14, 9, 0), choice="data8")
    assert server.exam
    assert server.memory.guarantee == server.memory.limit


# -- shared course data -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("course", "role", "read_only"),
    [
        ("data8", "student", True),
        ("data8", "ta", False),
        ("data8", "instructor", False),
        ("stat20", "student", True),
        ("stat20", "ta", True),  # readonly_for: [students, tas]
        ("stat20", "instructor", False),
    ],
)
def test_shared_data_read_only_as_the_catalog_says(catalog, course, role, read_only):
    (volume,) = plan(catalog, course, {course: role}).volumes
    assert volume.read_only is read_only
    assert volume.sub_path is None


def test_shared_data_volume_and_path(catalog):
    (data8,) = plan(catalog, "data8", ADA).volumes
    assert (data8.name, data8.claim, data8.mount_path) == (
        "course-data",
        "data8-shared",
        "/home/jovyan/shared",  # the default path
    )
    (stat20,) = plan(catalog, "stat20", ADA).volumes
    assert (stat20.claim, stat20.mount_path) == ("stat20-data", "/srv/stat20")


def test_course_without_shared_data_mounts_none(catalog):
    assert plan(catalog, "cs189", {"cs189": "instructor"}).volumes == ()


# -- environment, labels, annotations -----------------------------------------------------


def test_environment_names_course_term_language_role_and_adds_the_courses(catalog):
    server = plan(catalog, "data8", {"data8": "ta"})
    assert dict(server.env) == {
        "CAMPUSHUB_COURSE": "data8",
        "CAMPUSHUB_TERM": "2026-27",
        "CAMPUSHUB_LANGUAGE": "python",
        "CAMPUSHUB_ROLE": "ta",
        "OMP_NUM_THREADS": "2",
        "DATA8_SETTINGS": '{"theme": "light"}',
    }
    assert plan(catalog, "stat20", ADA).env["CAMPUSHUB_LANGUAGE"] == "r"


def test_labels_name_course_term_role_pool_and_exam(catalog):
    server = plan(catalog, "cs189", {"cs189": "instructor"})
    assert dict(server.labels) == {
        "campushub.io/course": "cs189",
        "campushub.io/term": "2026-27",
        "campushub.io/role": "instructor",
        "campushub.io/pool": "gpu",
        "campushub.io/exam": "false",
    }


@pytest.mark.parametrize(
    ("server", "memberships", "choice"),
    [
        ("data8", ADA, None),
        ("stat20", {"stat20": "ta"}, None),
        ("cs189", {"cs189": "instructor"}, None),
        ("", ADA, None),
        ("", ADA, "data8"),
    ],
)
def test_labels_are_valid_kubernetes_labels(catalog, server, memberships, choice):
    for key, value in plan(catalog, server, memberships, choice=choice).labels.items():
        assert check_label_key(key) == key
        assert check_label_value(value) == value


def test_annotation_carries_the_title(catalog):
    assert dict(plan(catalog, "data8", ADA).annotations) == {
        "campushub.io/title": "DATA 8: Foundations of Data Science"
    }
    assert plan(catalog, "", ADA).annotations["campushub.io/title"] == "General environment"


def test_plan_cannot_be_changed_by_its_appliers(catalog):
    server = plan(catalog, "data8", ADA)
    with pytest.raises(TypeError):
        server.env["CAMPUSHUB_ROLE"] = "instructor"  # type: ignore[index]
    with pytest.raises(TypeError):
        server.labels["campushub.io/course"] = "cs189"  # type: ignore[index]


# -- what people read -----------------------------------------------------------------------


def test_progress_message_says_course_image_and_pool(catalog):
    assert plan(catalog, "data8", ADA).progress_message() == (
        "Starting DATA 8: Foundations of Data Science (python 2026.08) on pool standard"
    )
    assert plan(catalog, "cs189", {"cs189": "student"}).progress_message() == (
        "Starting CS 189: Introduction to Machine Learning (pytorch 2026.08) on pool gpu"
    )
    assert plan(catalog, "", ADA).progress_message() == (
        "Starting the general environment (python 2026.08) on pool standard"
    )


def test_progress_message_of_an_untagged_image_says_latest():
    text = CATALOG_YAML.replace('"ghcr.io/campus/r:2026.08"', '"ghcr.io/campus/r"')
    server = plan(parse_catalog(text), "stat20", ADA)
    assert server.progress_message().startswith("Starting STAT 20: Introduction to Probability")
    assert "(r latest) on pool standard" in server.progress_message()


def test_describe_is_the_decision_in_words(catalog):
    assert plan(catalog, "data8", ADA).describe() == (
        "ada -> data8: image ghcr.io/campus/python:2026.08, memory 1Gi/2Gi, cpu 50m/2,"
        " pool standard"
    )
    assert plan(catalog, "data8", ADA, local(2026, 12, 14, 9, 0)).describe() == (
        "ada -> data8: image ghcr.io/campus/python:2026.08, memory 2Gi/2Gi, cpu 2/2,"
        " pool standard, exam (guaranteed)"
    )
    assert plan(catalog, "", ADA).describe() == (
        "ada -> general: image ghcr.io/campus/python:2026.08, memory 512Mi/1Gi, cpu 50m/2,"
        " pool standard"
    )


def test_without_personal_servers_the_default_server_is_refused_with_what_to_open() -> None:
    catalog = parse_catalog(CATALOG_YAML.replace("  personal_server: true\n", ""))
    assert catalog.defaults.personal_server is False  # the catalog's default
    for choice in (None, GENERAL, "data8"):
        with pytest.raises(NotAllowed, match="no personal servers") as refused:
            plan_server(catalog, "", "ada", {"data8": "student"}, IN_TERM, choice)
        assert "Open one of yours (data8) from Your courses" in str(refused.value)
    with pytest.raises(NotAllowed, match="the hub's home page to see yours"):
        plan_server(catalog, "", "ned", {}, IN_TERM)
    # Course servers are what they were.
    assert plan_server(catalog, "data8", "ada", {"data8": "student"}, IN_TERM).course is not None
