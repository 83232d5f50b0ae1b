"""Grading with nbgrader, as the catalog's ``grading: nbgrader`` sets it up, on a real hub.

The demo catalog's data8 grades with nbgrader. Through the real hub, proxy, identity provider,
course servers (with nbgrader's own server extensions) and the grading service:

- the grader account's server (``grader-data8``: formgrader and the course folder) starts for
  the course's instructor and TA and is refused to students and other courses' people;
- the whole cycle over nbgrader's own HTTP APIs: the instructor writes an assignment with a
  graded cell, generates and releases it; a data8 student fetches, answers and submits; a
  stat20 student cannot see or submit it; the TA collects, autogrades (the score read back),
  generates and returns feedback; the student fetches it;
- bad input: a submission too large, a notebook that is not JSON, a name that leaves the
  exchange, two submissions at the same moment.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import threading
import time
import urllib.parse

import pytest
import requests

from campushub.demo.login import login

GRADER = "grader-data8"
ASSIGNMENT = "ps1"
SOURCE_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "markdown",
            "id": "intro",
            "metadata": {},
            "source": "Write `double`, which returns twice its argument.",
        },
        {
            "cell_type": "code",
            "id": "answer",
            "execution_count": None,
            "metadata": {
                "nbgrader": {
                    "grade": False,
                    "grade_id": "answer",
                    "locked": False,
                    "schema_version": 3,
                    "solution": True,
                    "task": False,
                }
            },
            "outputs": [],
            "source": "def double(x):\n"
            "    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
        },
        {
            "cell_type": "code",
            "id": "tests",
            "execution_count": None,
            "metadata": {
                "nbgrader": {
                    "grade": True,
                    "grade_id": "test_double",
                    "locked": True,
                    "points": 2,
                    "schema_version": 3,
                    "solution": False,
                    "task": False,
                }
            },
            "outputs": [],
            "source": "assert double(2) == 4\nassert double(-3) == -6",
        },
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


def start(hub, person_token: str, owner: str, server: str = "") -> requests.Response:
    path = f"/users/{owner}/servers/{server}" if server else f"/users/{owner}/server"
    return hub.api("POST", path, headers={"Authorization": f"token {person_token}"})


def server_call(
    hub, token: str, owner: str, server: str, method: str, path: str, **kwargs
) -> requests.Response:
    """A request to ``owner``'s server (``server`` '' for the default) through the proxy."""
    prefix = f"/user/{owner}/{server + '/' if server else ''}"
    return requests.request(
        method,
        f"{hub.url}{prefix}{path}",
        headers={"Authorization": f"token {token}"},
        timeout=180,
        **kwargs,
    )


def tar_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def grading_api(hub, token: str, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(
        method,
        f"{hub.url}/services/grading/api/courses/{path}",
        headers={"Authorization": f"token {token}"},
        timeout=60,
        **kwargs,
    )


@pytest.fixture(scope="module")
def tokens(hub) -> dict[str, str]:
    """Each person signed in once (their groups), with an API token of their own."""
    found = {}
    for name in ("ada", "grace", "alan", "tom", "ines"):
        login(requests.Session(), hub.url, name)
        response = hub.api("POST", f"/users/{name}/tokens", json={"note": "grading test"})
        assert response.status_code == 201, response.text
        found[name] = response.json()["token"]
    return found


@pytest.fixture(scope="module")
def grader(hub, tokens) -> str:
    """The grader server, started by the course's instructor."""
    response = start(hub, tokens["ines"], GRADER)
    assert response.status_code in (201, 202), response.text
    hub.wait_for_server(GRADER, "", timeout=120)
    return tokens["ines"]


def test_a_grading_course_has_a_grader_account_and_a_service(hub) -> None:
    model = hub.api("GET", f"/users/{GRADER}").json()
    assert model["name"] == GRADER
    # The grading service answers, and only with a hub token.
    response = requests.get(f"{hub.url}/services/grading/api/courses/data8/assignments", timeout=30)
    assert response.status_code == 403 and "hub token" in response.json()["message"]


def test_only_the_course_staff_start_and_open_the_grader(hub, tokens, grader) -> None:
    for name in ("ada", "alan"):
        assert start(hub, tokens[name], GRADER).status_code in (403, 404)
        response = server_call(hub, tokens[name], GRADER, "", "GET", "formgrader/api/status")
        assert response.status_code in (403, 404, 302), (name, response.status_code)
    for name in ("ines", "tom"):
        response = server_call(hub, tokens[name], GRADER, "", "GET", "formgrader/api/status")
        assert response.status_code == 200, (name, response.text)


def test_no_one_signs_in_as_a_grader_account(hub, identity_provider) -> None:
    identity_provider.set_claims(GRADER, {"sub": GRADER, "groups": []})
    from campushub.demo.login import LoginError

    with pytest.raises(LoginError, match="403"):
        login(requests.Session(), hub.url, GRADER)


def test_the_whole_cycle(hub, tokens, grader) -> None:
    ines, tom, ada, alan = tokens["ines"], tokens["tom"], tokens["ada"], tokens["alan"]
    # The instructor writes the assignment in the course folder, generates and releases it.
    path = f"api/contents/source/{ASSIGNMENT}"
    for folder in ("source", f"source/{ASSIGNMENT}"):
        server_call(
            hub, ines, GRADER, "", "PUT", f"api/contents/{folder}", json={"type": "directory"}
        )
    response = server_call(
        hub, ines, GRADER, "", "PUT", f"{path}/{ASSIGNMENT}.ipynb",
        json={"type": "notebook", "format": "json", "content": SOURCE_NOTEBOOK},
    )  # fmt: skip
    assert response.status_code in (200, 201), response.text
    for step in ("assign", "release"):
        response = server_call(
            hub, ines, GRADER, "", "POST", f"formgrader/api/assignment/{ASSIGNMENT}/{step}"
        )
        assert response.status_code == 200, response.text
        assert response.json()["success"], response.json()
    # A data8 student sees it in their course server's assignment list and fetches it.
    response = start(hub, ada, "ada", "data8")
    assert response.status_code in (201, 202), response.text
    hub.wait_for_server("ada", "data8", timeout=120)
    listed = server_call(hub, ada, "ada", "data8", "GET", "assignments?course_id=data8").json()
    assert listed["success"], listed
    assert [(a["assignment_id"], a["status"]) for a in listed["value"]] == [
        (ASSIGNMENT, "released")
    ]
    fetched = server_call(
        hub, ada, "ada", "data8", "POST", "assignments/fetch",
        data={"course_id": "data8", "assignment_id": ASSIGNMENT},
    ).json()  # fmt: skip
    assert fetched["success"], fetched
    # The released copy has the solution taken out; ada answers and submits.
    notebook_path = f"api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    notebook = server_call(hub, ada, "ada", "data8", "GET", notebook_path).json()["content"]
    answer = next(c for c in notebook["cells"] if c.get("id") == "answer")
    assert "return 2 * x" not in "".join(answer["source"])
    answer["source"] = "def double(x):\n    return x + x"
    response = server_call(
        hub, ada, "ada", "data8", "PUT", notebook_path,
        json={"type": "notebook", "format": "json", "content": notebook},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    submitted = server_call(
        hub, ada, "ada", "data8", "POST", "assignments/submit",
        data={"course_id": "data8", "assignment_id": ASSIGNMENT},
    ).json()  # fmt: skip
    assert submitted["success"], submitted
    # A student of another course neither sees nor submits it.
    assert grading_api(hub, alan, "GET", "data8/assignments").status_code == 403
    refused = grading_api(
        hub, alan, "POST", f"data8/submissions/{ASSIGNMENT}",
        data=tar_of({f"{ASSIGNMENT}.ipynb": json.dumps(notebook).encode()}),
    )  # fmt: skip
    assert refused.status_code == 403 and "not in" in refused.json()["message"]
    # Another data8 student sees only their own submissions.
    mine = grading_api(hub, tokens["grace"], "GET", "data8/submissions").json()
    assert mine == []
    assert (
        grading_api(hub, tokens["grace"], "GET", "data8/submissions?student=ada").status_code == 403
    )
    # The TA collects and autogrades; the score is read back.
    for step in (f"assignment/{ASSIGNMENT}/collect", f"submission/{ASSIGNMENT}/ada/autograde"):
        response = server_call(hub, tom, GRADER, "", "POST", f"formgrader/api/{step}")
        assert response.status_code == 200 and response.json()["success"], response.text
    scores = server_call(
        hub, tom, GRADER, "", "GET", f"formgrader/api/submissions/{ASSIGNMENT}"
    ).json()
    ada_score = next(s for s in scores if s["student"] == "ada")
    assert (ada_score["score"], ada_score["max_score"]) == (2.0, 2.0), ada_score
    # Feedback generated and returned; ada fetches it into her assignment folder.
    for step in ("generate_feedback", "release_feedback"):
        response = server_call(
            hub, tom, GRADER, "", "POST", f"formgrader/api/assignment/{ASSIGNMENT}/{step}"
        )
        assert response.status_code == 200 and response.json()["success"], response.text
    fetched = server_call(
        hub, ada, "ada", "data8", "POST", "assignments/fetch_feedback",
        data={"course_id": "data8", "assignment_id": ASSIGNMENT},
    ).json()  # fmt: skip
    assert fetched["success"], fetched
    listing = server_call(
        hub, ada, "ada", "data8", "GET", f"api/contents/{ASSIGNMENT}/feedback"
    ).json()
    (timestamp,) = [entry["name"] for entry in listing["content"]]
    html = server_call(
        hub, ada, "ada", "data8", "GET",
        f"api/contents/{ASSIGNMENT}/feedback/{urllib.parse.quote(timestamp)}/{ASSIGNMENT}.html",
    ).json()  # fmt: skip
    text = " ".join(re.sub(r"<[^>]+>", " ", html["content"]).split())
    assert "ps1 (Score: 2.0 / 2.0)" in text and "Grade cell: test_double Score: 2.0 / 2.0" in text


def test_bad_submissions_are_refused_and_nothing_is_lost(hub, tokens, grader) -> None:
    ada = tokens["ada"]
    before = grading_api(hub, ada, "GET", "data8/submissions").json()
    cases = {
        "not JSON": tar_of({f"{ASSIGNMENT}.ipynb": b"{not a notebook"}),
        "leaves the exchange": tar_of({f"../../{ASSIGNMENT}.ipynb": b"{}"}),
        "too large": tar_of({"data.bin": bytes(21 * 2**20)}),
        "not a tar": b"hello",
    }
    expected = {
        "not JSON": "is not a notebook",
        "leaves the exchange": "leaves the assignment's folder",
        "too large": "over this hub's limit",
        "not a tar": "not a gzipped tar",
    }
    for case, body in cases.items():
        response = grading_api(hub, ada, "POST", f"data8/submissions/{ASSIGNMENT}", data=body)
        assert response.status_code in (400, 413), (case, response.status_code, response.text)
        if response.headers.get("Content-Type", "").startswith("application/json"):
            assert expected[case] in response.json()["message"], (case, response.json())
    # Two submissions at the same moment: both kept, with different ids.
    good = tar_of({f"{ASSIGNMENT}.ipynb": json.dumps(SOURCE_NOTEBOOK).encode()})
    answers: list[requests.Response] = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(
                grading_api(hub, ada, "POST", f"data8/submissions/{ASSIGNMENT}", data=good)
            )
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["id"] != answers[1].json()["id"]
    after = grading_api(hub, ada, "GET", "data8/submissions").json()
    assert len(after) == len(before) + 2
    assert {s["id"] for s in before} <= {s["id"] for s in after}
    # The service still answers.
    assert grading_api(hub, ada, "GET", "data8/assignments").status_code == 200
    time.sleep(0)


def test_nbgrader_is_only_where_a_course_grades_and_the_formgrader_only_in_the_grader(
    hub, tokens, grader
) -> None:
    # stat20 does not grade: its servers have none of nbgrader's extensions.
    response = start(hub, tokens["alan"], "alan", "stat20")
    assert response.status_code in (201, 202), response.text
    hub.wait_for_server("alan", "stat20", timeout=120)
    for path in ("assignments", "formgrader", "courses"):
        answer = server_call(hub, tokens["alan"], "alan", "stat20", "GET", path)
        assert answer.status_code == 404, (path, answer.status_code)
    # A data8 student's server lists assignments but has no formgrader.
    if not hub.api("GET", "/users/ada").json()["servers"].get("data8", {}).get("ready"):
        start(hub, tokens["ada"], "ada", "data8")
        hub.wait_for_server("ada", "data8", timeout=120)
    assert server_call(hub, tokens["ada"], "ada", "data8", "GET", "formgrader").status_code == 404
    listed = server_call(hub, tokens["ada"], "ada", "data8", "GET", "assignments?course_id=data8")
    assert listed.status_code == 200 and listed.json()["success"]
    # The grader has the formgrader, and no student's assignment list.
    answer = server_call(hub, grader, GRADER, "", "GET", "assignments")
    assert answer.status_code == 404
    hub.api("DELETE", "/users/alan/servers/stat20")
