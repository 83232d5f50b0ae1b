"""The hub restarts on its own database after a campus day has begun.

Students, a TA, an instructor and an administrator log in, a course server runs; then the hub
stops and starts again on the same state folder (database, cookie secret, proxy pid), as a hub
pod does after an upgrade or an eviction. It must come back with every group, role and running
server as it was, and people must go on working. JupyterHub 6.1 with ``manage_roles``,
per-course roles and ``reset_managed_roles_on_startup = False`` once died here in
``init_role_assignment`` (``KeyError: 'users'``).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from campushub.demo import launch
from campushub.demo.login import login

PEOPLE = ("ada", "grace", "tom", "ines", "dana")


@pytest.fixture(scope="module")
def hub_options():
    # Servers keep running while the hub restarts, as they do in a cluster.
    return {"extra_env": {"CAMPUSHUB_CLEANUP_SERVERS": "0"}}


def state_of(hub, person: str) -> tuple[list[str], list[str], bool]:
    model = hub.api("GET", f"/users/{person}").json()
    return sorted(model["groups"]), sorted(model["roles"]), model["admin"]


@pytest.fixture(scope="module")
def day_begun(hub):
    """Everyone has logged in; ada's data8 server runs."""
    for person in PEOPLE:
        hub.login(person)
    response = hub.api("POST", "/users/ada/servers/data8")
    assert response.status_code in (201, 202), response.text
    hub.wait_for_server("ada", "data8")
    yield {person: state_of(hub, person) for person in PEOPLE}
    # The hub leaves servers running when it stops (above): stop them first.
    hub.api("DELETE", "/users/ada/servers/data8")
    deadline = time.monotonic() + 30
    while hub.api("GET", "/users/ada").json()["servers"] and time.monotonic() < deadline:
        time.sleep(0.25)  # polling interval


def restart(hub) -> None:
    """Stop the hub (and its proxy) and start it again with the same configuration and state."""
    argv = list(hub.process.popen.args)
    config = Path(argv[argv.index("-f") + 1])
    hub.process.stop(keep_servers=True)
    hub.process = launch.start_hub(hub.settings, hub.process.log_path.parent, config=config)


def test_the_hub_restarts_with_groups_roles_and_servers_intact(hub, day_begun):
    restart(hub)
    assert "KeyError" not in hub.process.log_tail(400)
    for person, before in day_begun.items():
        assert state_of(hub, person) == before, person
    server = hub.wait_for_server("ada", "data8", timeout=30)
    assert server["ready"]
    # And the staff role still reaches what it did: the TA sees data8's students group.
    session = hub.login("tom")
    assert session.get(f"{hub.url}/hub/home", timeout=30).status_code == 200
    # data8 grades with nbgrader: its grader account is there once (with the user role), and
    # the staff roles still start and open its server.
    grader = hub.api("GET", "/users/grader-data8").json()
    assert grader["roles"] == ["user"], grader
    names = [user["name"] for user in hub.api("GET", "/users?limit=200").json()]
    assert names.count("grader-data8") == 1
    token = hub.api("POST", "/users/tom/tokens", json={"note": "restart"}).json()["token"]
    as_tom = {"Authorization": f"token {token}"}
    started = hub.api("POST", "/users/grader-data8/server", headers=as_tom)
    assert started.status_code in (201, 202), started.text
    hub.wait_for_server("grader-data8", "", timeout=120)
    status = requests.get(f"{hub.url}/user/grader-data8/api/status", headers=as_tom, timeout=30)
    assert status.status_code == 200, status.text
    assert hub.api("DELETE", "/users/grader-data8/server", headers=as_tom).status_code in (202, 204)


def test_it_restarts_twice_and_people_keep_working(hub, day_begun):
    restart(hub)
    for person in PEOPLE:
        page = login(requests.Session(), hub.url, person)
        assert page.status_code == 200
    assert state_of(hub, "tom") == day_begun["tom"]
    assert state_of(hub, "dana") == day_begun["dana"]


def test_a_database_written_before_campushub_managed_the_user_role_upgrades(hub, day_begun):
    # Until this release the `user` role was the hub's own (load_roles); in such a database
    # it is not marked as managed. JupyterHub would delete it at start, and everyone's
    # assignment with it, unless the authenticator adopts it first.
    import sqlite3

    argv = list(hub.process.popen.args)
    config = Path(argv[argv.index("-f") + 1])
    hub.process.stop(keep_servers=True)
    database = hub.settings.state_dir / "jupyterhub.sqlite"
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE roles SET managed_by_auth = 0 WHERE name = 'user'")
    hub.process = launch.start_hub(hub.settings, hub.process.log_path.parent, config=config)
    for person, before in day_begun.items():
        assert state_of(hub, person) == before, person
    with sqlite3.connect(database) as connection:
        (managed,) = connection.execute(
            "SELECT managed_by_auth FROM roles WHERE name = 'user'"
        ).fetchone()
    assert managed == 1


def test_students_opening_a_link_across_a_restart_keep_their_sessions_and_counts(
    hub, day_begun, git_server
):
    # ines makes a link; ada, signed in once, clicks it before and after the hub restarts.
    token = hub.api("POST", "/users/ines/tokens", json={}).json()["token"]
    made = requests.post(
        f"{hub.url}/services/links/api/links",
        headers={"Authorization": f"token {token}"},
        json={
            "course": "data8",
            "repo": git_server.url + launch.DEMO_REPO_NAME,
            "branch": "main",
            "path": "lab01.ipynb",
            "app": "lab",
        },
        timeout=60,
    )
    assert made.status_code == 201, made.text
    link = made.json()["id"]
    ada = requests.Session()
    login(ada, hub.url, "ada")

    def click() -> requests.Response:
        # the service's own sign-in redirects through the hub, then its answer (not followed)
        answer = ada.get(f"{hub.url}/services/links/l/{link}", allow_redirects=False, timeout=60)
        for _ in range(10):
            where = answer.headers.get("Location", "")
            if answer.status_code != 302 or where.startswith("/hub/spawn/"):
                break
            answer = ada.get(
                f"{hub.url}{where}" if where.startswith("/") else where,
                allow_redirects=False,
                timeout=60,
            )
        return answer

    assert click().headers["Location"].startswith("/hub/spawn/ada/data8?next=")
    restart(hub)
    # The same browser, no new sign-in: the hub's and the service's cookies still hold.
    after = click()
    assert after.status_code == 302 and after.headers["Location"].startswith(
        "/hub/spawn/ada/data8?next="
    )
    model = requests.get(
        f"{hub.url}/services/links/api/links/{link}",
        headers={"Authorization": f"token {token}"},
        timeout=30,
    ).json()
    assert (model["opens"], model["people"]) == (2, 1)
