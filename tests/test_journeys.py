"""Every persona's journey on the local campus, in Chromium, as its person would take it: the
student of one course and of two, the TA, the instructor making a link and seeing it opened,
the administrator on the scaler page, and the people the hub refuses.

The screenshots they take are the pictures of the students', instructors' and operators'
guides: ``bash scripts/screenshots.sh`` (``make screenshots``) runs these tests with
``CAMPUSHUB_SCREENSHOTS=1``, which writes them into ``docs/``; otherwise they go to the test
hub's state folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.browser
# The journeys take the guides' pictures once, on the newest JupyterHub: every step they check
# is also tested on zero-to-jupyterhub's versions (test_auth's refusals and switching account,
# test_links_service's browser walk-through, test_local_campus's sign-in and home page,
# test_scaler_service's page, test_access_matrix's TA reach), and running them twice would
# cost the test command more than a minute.
NEWEST_VERSIONS_ONLY = True

NOTEBOOK = "lab01.ipynb"


@pytest.fixture
def visit(browser) -> Iterator[Any]:
    """A fresh browser (its own cookies) at 1100 x 800, as one person's laptop."""
    contexts: list[Any] = []

    def open_page(height: int = 800) -> Any:
        context = browser.new_context(viewport={"width": 1100, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(90_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page: Any, hub, person: str, start: str = "/hub/home") -> None:
    """Open ``start`` on the hub and pick ``person`` on the identity provider's page."""
    page.goto(f"{hub.url}{start}")
    page.get_by_role("button", name=person, exact=True).click()


def course_rows(page: Any) -> dict[str, str]:
    """The home page's courses: slug -> the role shown."""
    rows = page.locator("#campushub-courses tr.campushub-course")
    found = {}
    for index in range(rows.count()):
        row = rows.nth(index)
        found[row.get_attribute("data-server-name")] = row.locator("td").nth(1).inner_text()
    return found


def test_a_student_of_one_course_signs_in_and_opens_it(hub, visit, shots):
    page = visit()
    page.goto(f"{hub.url}/hub/home")
    page.get_by_role("button", name="ada", exact=True).wait_for()
    shots(page, "students", "sign-in", full_page=True)
    page.get_by_role("button", name="ada", exact=True).click()
    page.wait_for_url(f"{hub.url}/hub/home")
    assert course_rows(page) == {"data8": "student"}
    assert page.locator("#start").count() == 0  # no personal server on the demo campus
    shots(page, "students", "home")
    page.locator("#start-data8").click()
    page.wait_for_url(f"{hub.url}/user/ada/data8/lab**", timeout=120_000)
    page.locator(".jp-LauncherCard").first.wait_for(timeout=120_000)
    shots(page, "students", "course-server")
    hub.api("DELETE", "/users/ada/servers/data8")


def test_a_student_of_two_courses_sees_both_and_each_has_its_language(hub, visit, shots):
    page = visit()
    sign_in(page, hub, "grace")
    page.wait_for_url(f"{hub.url}/hub/home")
    assert course_rows(page) == {"data8": "student", "stat20": "student"}
    shots(page, "students", "home-two-courses")
    page.locator("#start-stat20").click()
    page.wait_for_url(f"{hub.url}/user/grace/stat20/**", timeout=120_000)
    launcher = page.locator(".jp-LauncherCard").first
    launcher.wait_for(timeout=120_000)
    # The R course's launcher offers R (where this machine has Debian's R; else Python).
    from campushub.local import local_runtime

    if local_runtime("r").kernel:
        page.locator(".jp-LauncherCard[title='R']").first.wait_for(timeout=30_000)
    hub.api("DELETE", "/users/grace/servers/stat20")


def test_a_ta_opens_a_students_server_of_their_course(hub, visit, shots):
    started = hub.api("POST", "/users/ada/servers/data8")
    assert started.status_code in (201, 202, 400), started.text
    hub.wait_for_server("ada", "data8")
    page = visit()
    sign_in(page, hub, "tom")
    page.wait_for_url(f"{hub.url}/hub/home")
    assert course_rows(page) == {"data8": "ta"}
    shots(page, "instructors", "ta-home")
    page.goto(f"{hub.url}/user/ada/data8/lab")
    # The server's own consent step, then its JupyterLab.
    page.wait_for_url(re.compile(r".*/(user/ada/data8/lab|hub/api/oauth2/authorize).*"))
    if "/oauth2/authorize" in page.url:
        page.get_by_role("button", name=re.compile("Authorize", re.I)).click()
    page.wait_for_url(f"{hub.url}/user/ada/data8/lab**", timeout=60_000)
    page.locator(".jp-LauncherCard").first.wait_for(timeout=120_000)
    shots(page, "instructors", "ta-in-students-server")
    # Not a server of another course of hers, nor anyone's personal server.
    grace = hub.api("POST", "/users/grace/servers/stat20")
    assert grace.status_code in (201, 202, 400)
    hub.wait_for_server("grace", "stat20")
    page.goto(f"{hub.url}/user/grace/stat20/lab")
    assert page.locator("text=403").first.is_visible() or "403" in page.content()
    hub.api("DELETE", "/users/grace/servers/stat20")
    hub.api("DELETE", "/users/ada/servers/data8")


def test_an_instructor_makes_a_link_and_sees_it_opened(hub, git_server, visit, shots):
    page = visit(900)
    sign_in(page, hub, "ines", "/services/links/")
    page.wait_for_url(f"{hub.url}/services/links/")
    # The form offers only the apps data8's environment has.
    offered = page.locator("#app option:not([hidden])").all_inner_texts()
    assert offered == ["JupyterLab", "Jupyter Notebook"]
    page.locator("#repo").fill(git_server.demo_repo_url)
    page.locator("#path").fill(NOTEBOOK)
    page.locator("#make").click()
    page.wait_for_url(re.compile(r".*/services/links/manage/\w+\?created=1$"))
    short = page.locator("#short-link").input_value()
    # A student opens it (through the service, as a click does).
    from campushub.demo.login import login

    student = requests.Session()
    login(student, hub.url, "ada")
    student.get(f"{hub.url}/services/links/", timeout=30)  # the service's own sign-in
    opened = student.get(short, allow_redirects=False, timeout=60)
    assert opened.status_code == 302
    assert opened.headers["Location"].startswith("/hub/spawn/ada/data8?next=")
    page.reload()
    counts = page.locator("#counts").inner_text()
    assert counts.startswith("Opened 1 time by 1 "), counts
    shots(page, "instructors", "link-opened", full_page=True)


def test_the_administrator_reads_the_scaler_page(hub, visit, shots):
    page = visit(1000)
    sign_in(page, hub, "dana", "/services/scaler/")
    page.wait_for_url(f"{hub.url}/services/scaler/**")
    page.locator("#chart[data-drawn]").wait_for(timeout=60_000)
    assert "standard" in page.locator("#chart .u-legend").inner_text()
    shots(page, "operators", "scaler-status", full_page=True)


@pytest.mark.parametrize(
    ("person", "heading"),
    [
        ("ned", "You are not in a course on this hub"),
        ("olga", "Your role in your courses has no environment here"),
    ],
)
def test_a_refused_person_is_told_why_and_can_sign_in_as_someone_else(
    hub, visit, shots, person, heading
):
    page = visit(700)
    sign_in(page, hub, person)
    page.wait_for_url(f"{hub.url}/hub/refused")
    assert page.locator("h1").all_inner_texts() == [heading]
    page.reload()  # the same page again
    assert page.locator("h1").all_inner_texts() == [heading]
    shots(page, "students", f"refused-{person}")
    page.locator("#campushub-switch").click()
    page.get_by_role("button", name="ada", exact=True).click()
    page.wait_for_url(f"{hub.url}/hub/home")
    assert course_rows(page) == {"data8": "student"}
