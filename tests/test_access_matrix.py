"""The access matrix of docs/security.md, run against a real hub.

The table in docs/security.md is the specification: this module reads it, sets up the people
and servers it names, and does every cell through the browser flow (a session signed in
through the identity provider; API calls with its cookie and XSRF token) and with the person's
own API token, asserting the answer the table gives. A cell the test cannot do, or an action
the table lacks, fails the test, so the table and the test stay the same.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from campushub.demo import launch
from campushub.demo.login import LoginError, login
from tests.service_access import opens_server
from tests.test_grading import SOURCE_NOTEBOOK, tar_of

SECURITY_PAGE = Path(__file__).resolve().parent.parent / "docs" / "security.md"
GRADER = "grader-data8"  # data8 grades with nbgrader in the demo catalog
ASSIGNMENT = "ps1"
HAND_IN = tar_of({f"{ASSIGNMENT}.ipynb": json.dumps(SOURCE_NOTEBOOK).encode()})
SUBMISSIONS: dict[str, str] = {}  # ada's and grace's submission ids
REFRESH_AGE = 2
DATA8 = "course::1524699::enrollment_type::student"
STAT20 = "course::1525001::enrollment_type::student"


@pytest.fixture(scope="module")
def personal_servers() -> bool:
    """This module's hub gives personal servers (``defaults.personal_server``)."""
    return True


def read_matrix() -> tuple[list[str], dict[str, dict[str, str]]]:
    text = SECURITY_PAGE.read_text(encoding="utf-8")
    block = text.split("<!-- access-matrix-start -->", 1)[1].split("<!-- access-matrix-end -->")[0]
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in block.strip().splitlines()
    ]
    header, table = rows[0], rows[2:]
    people = header[1:]
    return people, {row[0]: dict(zip(people, row[1:], strict=True)) for row in table}


PEOPLE, MATRIX = read_matrix()


@pytest.fixture(scope="module")
def hub_options():
    return {"auth_refresh_age": REFRESH_AGE}


@dataclass
class Person:
    """One column of the matrix: a browser session and an API token (None: has none)."""

    name: str
    session: requests.Session = field(default_factory=requests.Session)
    token: str | None = None


def set_claims(identity_provider, sub: str, groups: list[str]) -> None:
    identity_provider.set_claims(
        sub, {**launch.person_claims({"sub": sub, "groups": groups}), "name": sub.title()}
    )


def start(hub, owner: str, server: str, attempts: int = 2) -> None:
    path = f"/users/{owner}/servers/{server}" if server else f"/users/{owner}/server"
    response = hub.api("POST", path)
    if response.status_code == 500 and attempts > 1:
        # A local server can lose its random port to another process before it binds it;
        # JupyterHub 6.1 then answers 500 (not the server's error). Once more.
        time.sleep(1)  # let the hub record the failed spawn
        start(hub, owner, server, attempts - 1)
        return
    assert response.status_code in (201, 202, 400), response.text  # 400: already running
    hub.wait_for_server(owner, server)


@pytest.fixture(scope="module")
def people(hub, identity_provider) -> dict[str, Person]:
    for sub, groups in {"leo": [DATA8, STAT20], "bea": [DATA8]}.items():
        set_claims(identity_provider, sub, groups)
    everyone = {name: Person(name) for name in PEOPLE}
    for name in ("ada", "grace", "tom", "ines", "dana", "leo", "alan", "bea"):
        person = everyone.get(name) or Person(name)
        login(person.session, hub.url, name)
        if name in everyone:
            response = hub.api("POST", f"/users/{name}/tokens", json={"note": "access matrix"})
            assert response.status_code == 201, response.text
            person.token = response.json()["token"]
    with pytest.raises(LoginError, match="HTTP 403"):
        login(everyone["ned"].session, hub.url, "ned")
    # The servers the cells reach (data8's grader among them: data8 grades with nbgrader),
    # asked for at once and then waited for, as a lecture's starts come.
    servers = (
        ("ada", "data8"),
        ("ada", ""),
        ("grace", "data8"),
        ("grace", ""),
        ("alan", "stat20"),
        ("tom", "data8"),
        ("ines", "data8"),
        ("leo", "data8"),
        (GRADER, ""),
    )
    retry = []
    for owner, server in servers:
        path = f"/users/{owner}/servers/{server}" if server else f"/users/{owner}/server"
        if hub.api("POST", path).status_code not in (201, 202, 400):
            retry.append((owner, server))  # see start(): a port lost before it was bound
    for owner, server in servers:
        if (owner, server) in retry:
            time.sleep(1)  # let the hub record the failed spawn
            start(hub, owner, server)
        hub.wait_for_server(owner, server)
    # ps1 is released (by data8's instructor, through the grading service) and ada and grace
    # have each handed it in.
    released = grading(hub, everyone["ines"], "token", "PUT", f"assignments/{ASSIGNMENT}", HAND_IN)
    assert released.status_code == 201, released.text
    for name in ("ada", "grace"):
        handed = grading(hub, everyone[name], "token", "POST", f"submissions/{ASSIGNMENT}", HAND_IN)
        assert handed.status_code == 201, handed.text
        SUBMISSIONS[name] = handed.json()["id"]
    # Staff reach a course server from the moment it starts (its scope is in their course
    # role), signed in before or after. Then leo leaves data8 (stays in stat20): at his
    # next request after the refresh age it takes effect.
    time.sleep(REFRESH_AGE + 0.5)  # the refresh age must pass
    set_claims(identity_provider, "leo", [STAT20])
    leo = everyone["leo"].session
    deadline = time.monotonic() + 10 * REFRESH_AGE
    while "course:data8" in hub.api("GET", "/users/leo").json()["groups"]:
        assert time.monotonic() < deadline, "leo never left data8"
        leo.get(f"{hub.url}/hub/home", timeout=30)
        time.sleep(0.25)  # polling interval
    return everyone


# -- how each action is done ------------------------------------------------------------------


def other_student(person: Person) -> str:
    return "grace" if person.name == "ada" else "ada"


def api(hub, person: Person, via: str, method: str, path: str, **kwargs) -> requests.Response:
    """Call the hub's REST API as ``person``: with their token, or with their browser session
    (its cookie and the hub's XSRF token, as the hub's own pages do)."""
    url = f"{hub.url}/hub/api{path}"
    if via == "token":
        headers = {"Authorization": f"token {person.token}"} if person.token else {}
        return requests.request(method, url, headers=headers, timeout=60, **kwargs)
    session = person.session
    session.get(f"{hub.url}/hub/home", timeout=30)  # the hub sets its _xsrf cookie
    xsrf = session.cookies.get("_xsrf", path="/hub/") or ""
    return session.request(method, url, headers={"X-XSRFToken": xsrf}, timeout=60, **kwargs)


def allowed_status(response: requests.Response) -> bool:
    if response.status_code in (401, 403, 404, 405):
        return False
    assert response.status_code < 500, (response.status_code, response.text[:300])
    return True


def opens(hub, person: Person, via: str, owner: str, server: str) -> bool:
    base = f"{hub.url}/user/{owner}/{server + '/' if server else ''}"
    if via == "token":
        if not person.token:
            return False
        answer = requests.get(
            f"{base}api/status", headers={"Authorization": f"token {person.token}"}, timeout=60
        )
        return answer.status_code == 200
    return opens_server(hub.url, person.session, owner, server)


def service(hub, person: Person, via: str, path: str, marker: str) -> bool:
    url = f"{hub.url}{path}"
    if via == "token":
        if not person.token:
            return False
        answer = requests.get(url, headers={"Authorization": f"token {person.token}"}, timeout=60)
        return answer.status_code == 200
    page = person.session.get(url, timeout=60)
    return page.status_code == 200 and page.url.startswith(url) and marker in page.text


def scaler_round(hub, person: Person, via: str) -> bool:
    url = f"{hub.url}/services/scaler/round"
    if via == "token":
        if not person.token:
            return False
        headers = {"Authorization": f"token {person.token}"}
        return allowed_status(requests.post(url, headers=headers, timeout=60))
    session = person.session
    session.get(f"{hub.url}/services/scaler/", timeout=60)
    xsrf = session.cookies.get("_xsrf", path="/services/scaler/") or ""
    answer = session.post(url, data={"_xsrf": xsrf}, allow_redirects=False, timeout=60)
    return answer.status_code in (200, 302, 303) and "/hub/" not in answer.headers.get(
        "Location", ""
    )


def restore(hub, owner: str, server: str) -> None:
    """After an allowed stop or delete: the server runs again for the cells after it."""
    deadline = time.monotonic() + 30
    while (
        hub.api("GET", f"/users/{owner}").json()["servers"].get(server, {}).get("stopped") is False
    ):
        assert time.monotonic() < deadline
        time.sleep(0.25)  # polling interval
    start(hub, owner, server)


def stop_student(hub, person: Person, via: str) -> bool:
    owner = other_student(person)
    done = allowed_status(api(hub, person, via, "DELETE", f"/users/{owner}/servers/data8"))
    if done:
        restore(hub, owner, "data8")
    return done


def delete_student(hub, person: Person, via: str) -> bool:
    owner = other_student(person)
    path = f"/users/{owner}/servers/data8"
    done = allowed_status(api(hub, person, via, "DELETE", path, json={"remove": True}))
    if done:
        restore(hub, owner, "data8")
    return done


def start_student(hub, person: Person, via: str) -> bool:
    done = allowed_status(api(hub, person, via, "POST", "/users/bea/servers/data8"))
    if done:
        hub.wait_for_server("bea", "data8")
        hub.api("DELETE", "/users/bea/servers/data8")
        time.sleep(1)  # let the stop settle before another cell starts it
    return done


def start_not_in(hub, person: Person, via: str) -> bool:
    owner = person.name if person.token else "ada"
    done = allowed_status(api(hub, person, via, "POST", f"/users/{owner}/servers/physics77"))
    if done:
        hub.api("DELETE", f"/users/{owner}/servers/physics77", json={"remove": True})
    return done


def grading(
    hub, person: Person, via: str, method: str, path: str, body: bytes | None = None
) -> requests.Response:
    """A request to data8's exchange (the grading service): with the person's token, or with
    their browser's login to the service (signing in to it first; its XSRF token on writes)."""
    url = f"{hub.url}/services/grading/api/courses/data8/{path}"
    if via == "token":
        headers = {"Authorization": f"token {person.token}"} if person.token else {}
        return requests.request(method, url, headers=headers, data=body, timeout=60)
    session = person.session
    session.get(f"{hub.url}/services/grading/", timeout=60)  # the service's login, if any
    xsrf = session.cookies.get("_xsrf", path="/services/grading/") or ""
    return session.request(
        method, url, headers={"X-XSRFToken": xsrf}, data=body, allow_redirects=False, timeout=60
    )


def read_submission(hub, person: Person, via: str) -> bool:
    owner = "grace" if person.name == "ada" else "ada"
    path = f"submissions/{ASSIGNMENT}/{owner}/{SUBMISSIONS[owner]}"
    answer = grading(hub, person, via, "GET", path)
    return answer.status_code == 200 and answer.headers["Content-Type"] == "application/gzip"


def lists_assignments(hub, person: Person, via: str) -> bool:
    answer = grading(hub, person, via, "GET", "assignments")
    return answer.status_code == 200 and ASSIGNMENT in answer.text


ACTIONS: dict[str, Callable[..., bool]] = {
    "list users": lambda hub, p, via: allowed_status(api(hub, p, via, "GET", "/users")),
    "read another person": lambda hub, p, via: allowed_status(
        api(hub, p, via, "GET", f"/users/{other_student(p)}")
    ),
    "read A's roster": lambda hub, p, via: allowed_status(
        api(hub, p, via, "GET", "/groups/course:data8:students")
    ),
    "open a student's A server": lambda hub, p, via: opens(hub, p, via, other_student(p), "data8"),
    "open a B server": lambda hub, p, via: opens(hub, p, via, "alan", "stat20"),
    "open a personal server": lambda hub, p, via: opens(hub, p, via, other_student(p), ""),
    "open a TA's A server": lambda hub, p, via: opens(hub, p, via, "tom", "data8"),
    "open own A server": lambda hub, p, via: opens(hub, p, via, p.name, "data8"),
    "start a student's A server": start_student,
    "stop a student's A server": stop_student,
    "delete a student's A server": delete_student,
    "start a course not in": start_not_in,
    "links generator": lambda hub, p, via: service(
        hub, p, via, "/services/links/", "Make a link to course material"
    ),
    "links API for A": lambda hub, p, via: service(
        hub, p, via, "/services/links/api/links?course=data8", ""
    ),
    "scaler page": lambda hub, p, via: service(
        hub, p, via, "/services/scaler/", 'data-pool="standard"'
    ),
    "scaler API": lambda hub, p, via: service(hub, p, via, "/services/scaler/api/plan", ""),
    "scaler round": scaler_round,
    "open A's grader": lambda hub, p, via: opens(hub, p, via, GRADER, ""),
    "list A's assignments": lists_assignments,
    "read another student's A submission": read_submission,
    "hand in to A's exchange": lambda hub, p, via: (
        grading(hub, p, via, "POST", f"submissions/{ASSIGNMENT}", HAND_IN).status_code == 201
    ),
}


def test_the_table_and_the_test_name_the_same_actions_and_people() -> None:
    assert set(MATRIX) == set(ACTIONS)
    assert PEOPLE == ["ada", "grace", "tom", "ines", "dana", "ned", "anonymous", "leo"]
    for action, row in MATRIX.items():
        assert set(row.values()) <= {"yes", "no", "-"}, action


@pytest.mark.parametrize("via", ["browser", "token"])
@pytest.mark.parametrize("action", list(MATRIX))
def test_each_cell_of_the_access_matrix(hub, people, action, via) -> None:
    wrong = {}
    for name, wanted in MATRIX[action].items():
        if wanted == "-":
            continue
        got = ACTIONS[action](hub, people[name], via)
        if got != (wanted == "yes"):
            wrong[name] = f"wanted {wanted}, got {'yes' if got else 'no'}"
    assert not wrong, f"{action} ({via}): {wrong}"
