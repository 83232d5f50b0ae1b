"""The grading cycle in Chromium, as its people do it: the instructor opens the course's grader
from the home page, adds an assignment and releases it in nbgrader's formgrader; a student
fetches it from JupyterLab's assignment list, answers and submits; the TA collects and
autogrades it and returns feedback; the student fetches the feedback. The screenshots are the
instructors' and students' guides' pictures (``bash scripts/screenshots.sh``).

Writing the notebook's graded cells is nbgrader's own "Create Assignment" tool in JupyterLab;
here the instructor's notebook is put into the course folder through Jupyter's contents API
with their token (the same file the tool writes), and everything after is done on the pages.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.test_grading import ASSIGNMENT, GRADER, SOURCE_NOTEBOOK, server_call

pytestmark = pytest.mark.browser
# Every step is also tested over nbgrader's APIs on both version sets (test_grading); the
# pictures are taken once, on the newest JupyterHub.
NEWEST_VERSIONS_ONLY = True


@pytest.fixture(scope="module")
def people(browser, hub) -> Iterator[dict[str, Any]]:
    """A signed-in browser page for each of ines (instructor), tom (TA), ada (student)."""
    contexts = []
    pages = {}
    for person in ("ines", "tom", "ada"):
        context = browser.new_context(viewport={"width": 1200, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto(f"{hub.url}/hub/home")
        page.get_by_role("button", name=person, exact=True).click()
        page.wait_for_url(f"{hub.url}/hub/home")
        pages[person] = page
    yield pages
    for context in contexts:
        context.close()


def open_grader(page: Any, hub, shots: Any = None) -> None:
    """Click "grade" on the home page: the grader starts (if it is not running), and the hub
    asks once to authorize this person's access to the grader account's server, as for any
    server not one's own."""
    page.locator("#grade-data8").click()
    page.wait_for_url(
        lambda url: "/oauth2/authorize" in url or "/formgrader" in url, timeout=180_000
    )
    if "/oauth2/authorize" in page.url:
        if shots:
            shots(page, "instructors", "grading-authorize")
        page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{hub.url}/user/{GRADER}/formgrader/**", timeout=180_000)


def mark_graded_cells(page: Any, hub, shots: Any) -> None:
    """In the grader's JupyterLab: open the draft, open Create Assignment (the right
    sidebar), make the second cell an autograded answer and the third autograded tests worth
    2 points, and save."""
    page.goto(f"{hub.url}/user/{GRADER}/lab/tree/source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
    page.locator(".jp-Notebook .jp-Cell").nth(2).wait_for()
    page.locator('.jp-SideBar.jp-mod-right [title="Nbgrader Create Assignment"]').click()
    widgets = page.locator(".nbgrader-CellWidget")
    widgets.nth(2).wait_for()
    widgets.nth(1).locator(".nbgrader-CellType select").select_option("solution")
    tests = widgets.nth(2)
    tests.locator(".nbgrader-CellType select").select_option("tests")
    tests.locator(".nbgrader-CellId input").fill("test_double")
    tests.locator(".nbgrader-CellPoints input").fill("2")
    tests.locator(".nbgrader-CellPoints input").press("Tab")
    shots(page, "instructors", "grading-create-assignment")
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Control+s")


def formgrader_row(page: Any) -> Any:
    return page.locator("#main-table tr", has_text=ASSIGNMENT).first


def click_and_wait(page: Any, cell: str) -> None:
    """Click the formgrader's button in the assignment row's ``cell``, and wait for the row
    to be drawn again (it says "Please wait..." meanwhile)."""
    formgrader_row(page).locator(f"td.{cell} a").click()
    page.locator("#main-table", has_text="Please wait").wait_for(state="detached")
    close_dialog(page)


def close_dialog(page: Any) -> None:
    """Steps that run nbgrader end with a dialog (its log): an error one fails the test, a
    success one is closed."""
    dialog = page.locator(".modal.in")
    dialog.wait_for()
    assert dialog.get_attribute("id") == "success-modal", dialog.inner_text()
    dialog.get_by_role("button", name="OK").click()
    page.locator(".modal-backdrop").wait_for(state="detached")


def test_the_grading_cycle_in_the_browser(hub, people, shots) -> None:
    ines, tom, ada = people["ines"], people["tom"], people["ada"]
    # The instructor sees "grade" beside data8 on the home page and opens the grader.
    grade = ines.locator("#grade-data8")
    grade.wait_for()
    shots(ines, "instructors", "grading-home")
    open_grader(ines, hub, shots)
    ines.get_by_role("link", name="Add new assignment...").wait_for()
    # The assignment: its name in the formgrader, its notebook in the course folder.
    ines.get_by_role("link", name="Add new assignment...").click()
    ines.locator(".modal input.name").fill(ASSIGNMENT)
    ines.locator(".modal button", has_text="Save").click()
    formgrader_row(ines).wait_for()
    # Her draft (plain cells: the question, her solution between nbgrader's markers, the
    # tests) goes into the course folder; she marks the graded cells with nbgrader's Create
    # Assignment tool in the grader's JupyterLab.
    token = hub.api("POST", "/users/ines/tokens", json={"note": "grading browser"}).json()["token"]
    notebook_path = f"api/contents/source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    draft = json.loads(json.dumps(SOURCE_NOTEBOOK))
    for cell in draft["cells"]:
        cell["metadata"] = {}
    response = server_call(
        hub, token, GRADER, "", "PUT", notebook_path,
        json={"type": "notebook", "format": "json", "content": draft},
    )  # fmt: skip
    assert response.status_code in (200, 201), response.text
    mark_graded_cells(ines, hub, shots)
    deadline = time.monotonic() + 30
    while True:  # until JupyterLab has saved it
        saved = server_call(hub, token, GRADER, "", "GET", notebook_path).json()["content"]
        marks = [cell["metadata"].get("nbgrader", {}) for cell in saved["cells"]]
        got = (marks[1].get("solution"), marks[2].get("grade"), marks[2].get("points"))
        if got == (True, True, 2.0) or time.monotonic() > deadline:
            break
        time.sleep(0.5)  # polling interval
    assert got == (True, True, 2.0), marks
    ines.goto(f"{hub.url}/user/{GRADER}/formgrader/manage_assignments")
    click_and_wait(ines, "assign")
    click_and_wait(ines, "release")
    formgrader_row(ines).locator(".status", has_text="released").wait_for()
    shots(ines, "instructors", "grading-released")

    # The student: data8's server, the assignment list, fetch, answer, submit.
    ada.locator("#start-data8").click()
    ada.wait_for_url(f"{hub.url}/user/ada/data8/lab**", timeout=180_000)
    ada.locator(".jp-LauncherCard").first.wait_for(timeout=120_000)
    ada.get_by_text("Nbgrader", exact=True).click()
    ada.get_by_text("Assignment List", exact=True).click()
    released = ada.locator("#released_assignments_list")
    released.get_by_text(ASSIGNMENT).first.wait_for()
    shots(ada, "students", "assignments-released")
    released.get_by_role("button", name="Fetch").click()
    fetched = ada.locator("#fetched_assignments_list")
    fetched.get_by_text(ASSIGNMENT).first.wait_for()
    # She opens the notebook from the list, writes her answer in its answer cell, saves, and
    # goes back to the list.
    fetched.get_by_role("button", name=ASSIGNMENT).click()
    fetched.get_by_role("link", name=ASSIGNMENT, exact=True).click()
    cells = ada.locator(".jp-NotebookPanel:visible .jp-Notebook .jp-Cell")
    cells.nth(2).wait_for()
    editor = cells.nth(1).locator(".cm-content")
    editor.click()
    ada.keyboard.press("Control+a")
    ada.keyboard.insert_text("def double(x):\n    return 2 * x")
    ada.keyboard.press("Control+s")
    student_token = hub.api("POST", "/users/ada/tokens", json={"note": "grading browser"})
    student_token = student_token.json()["token"]
    path = f"api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    deadline = time.monotonic() + 30
    answer = ""
    while True:  # until JupyterLab has saved it (a read while it writes may not answer 200)
        response = server_call(hub, student_token, "ada", "data8", "GET", path)
        if response.status_code == 200:
            notebook = response.json()["content"]
            cell = next(c for c in notebook["cells"] if c.get("id") == "answer")
            answer = "".join(cell["source"])
        else:
            answer = f"{response.status_code}: {response.text[:300]}"
        if "return 2 * x" in answer or time.monotonic() > deadline:
            break
        time.sleep(0.5)  # polling interval
    assert answer == "def double(x):\n    return 2 * x", answer
    ada.get_by_role("tab", name="Assignments").click()
    fetched.get_by_role("button", name="Submit").click()
    submitted = ada.locator("#submitted_assignments_list")
    submitted.get_by_text(ASSIGNMENT).first.wait_for()
    shots(ada, "students", "assignments-submitted")

    # The TA: the grader from their home page, collect, autograde, feedback.
    open_grader(tom, hub)
    formgrader_row(tom).wait_for()
    click_and_wait(tom, "collect")
    formgrader_row(tom).locator("td.num-submissions", has_text="1").wait_for()
    tom.goto(f"{hub.url}/user/{GRADER}/formgrader/manage_submissions/{ASSIGNMENT}")
    row = tom.locator("#main-table tr", has_text="ada").first
    row.locator("td.autograde a").click()
    close_dialog(tom)
    row = tom.locator("#main-table tr", has_text="ada").first
    row.locator("td.score", has_text="2").wait_for()
    shots(tom, "instructors", "grading-autograded")
    tom.goto(f"{hub.url}/user/{GRADER}/formgrader/manage_assignments")
    click_and_wait(tom, "generate-feedback")
    click_and_wait(tom, "release-feedback")

    # The student fetches the feedback.
    ada.locator("#refresh_assignments_list").click()
    feedback = ada.locator("#submitted_assignments_list").get_by_role(
        "button", name="Fetch Feedback"
    )
    feedback.click()
    ada.locator("#submitted_assignments_list").get_by_text("view feedback").wait_for()
    shots(ada, "students", "assignments-feedback")
    response = requests.get(
        f"{hub.url}/user/ada/data8/api/contents/{ASSIGNMENT}/feedback",
        headers={"Authorization": f"token {student_token}"},
        timeout=30,
    )
    assert len(response.json()["content"]) == 1
