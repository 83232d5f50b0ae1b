"""Leaving a course takes effect at the next refresh of the login.

The identity provider stops listing a membership; within the refresh age (here 2 s) of that,
at the person's next request: their server of that course is stopped (its files stay), the
course's servers and links refuse them, their staff role (and with it the course's servers)
is gone, and someone left in no course is signed out and meets the refusal page when they sign
in again. Each test measures the window during which the old access still worked and asserts
it is no longer than the refresh age (plus one polling step).
"""

from __future__ import annotations

import time

import pytest
import requests

from campushub.demo import launch
from campushub.demo.login import LoginError, login
from tests.service_access import opens_server, reached_by

REFRESH_AGE = 2.0
POLL = 0.25  # seconds between checks
NOTEBOOK = "lab01.ipynb"


@pytest.fixture(scope="module")
def hub_options():
    return {"auth_refresh_age": int(REFRESH_AGE)}


def claims_of(person: str) -> dict:
    """What the identity provider says of a demo person (as the local campus starts it)."""
    for entry in launch.demo_people():
        if entry["sub"] == person:
            return launch.person_claims(entry)
    raise KeyError(person)


def start(hub, owner: str, server: str) -> None:
    assert hub.api("POST", f"/users/{owner}/servers/{server}").status_code in (201, 202)
    hub.wait_for_server(owner, server)


def stale_window(check) -> float:
    """Seconds until ``check()`` is true, polling; fails after 5 refresh ages."""
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < 5 * REFRESH_AGE, "access was never revoked"
        time.sleep(POLL)
    return time.monotonic() - began


def test_a_student_who_leaves_a_course_loses_its_server_and_links(
    hub, identity_provider, git_server
):
    hub.login("tom")  # the hub knows tom (and his groups) before he has a token
    tom = requests.Session()
    tom.headers["Authorization"] = f"token {token(hub, 'tom')}"
    link = tom.post(
        f"{hub.url}/services/links/api/links",
        json={
            "course": "data8",
            "repo": git_server.demo_repo_url,
            "branch": "main",
            "path": NOTEBOOK,
            "app": "lab",
        },
        timeout=60,
    )
    assert link.status_code == 201, link.text
    short = link.json()["short_url"]

    grace = hub.login("grace")  # data8 and stat20
    start(hub, "grace", "data8")
    home = hub.settings.state_dir / "homes" / "grace" / "data8"
    (home / "kept.txt").write_text("my work")
    opened = grace.get(short, timeout=60, allow_redirects=False)
    assert opened.status_code in (302, 303)  # the link sends her to her data8 server

    claims = claims_of("grace")
    claims["groups"] = ["course::1525001::enrollment_type::student"]  # stat20 only
    identity_provider.set_claims("grace", claims)
    changed = time.monotonic()

    def revoked() -> bool:
        page = grace.get(f"{hub.url}/hub/home", timeout=30)
        assert page.status_code == 200  # still signed in: she has stat20
        return "course:data8" not in hub.api("GET", "/users/grace").json()["groups"]

    stale_window(revoked)
    assert time.monotonic() - changed <= REFRESH_AGE + 2 * POLL + 1.0
    # Her data8 server stops; her files stay.
    assert stale_window(lambda: "data8" not in hub.api("GET", "/users/grace").json()["servers"])
    assert (home / "kept.txt").read_text() == "my work"
    # The link now says she is not in the course; the server cannot be started again.
    not_member = grace.get(short, timeout=60)
    assert not_member.status_code == 403
    assert "You are not in" in not_member.text
    assert sorted(hub.api("GET", "/users/grace").json()["groups"]) == [
        "course:stat20",
        "course:stat20:students",
    ]
    identity_provider.set_claims("grace", claims_of("grace"))


def test_a_ta_who_leaves_loses_the_role_and_the_students_servers(hub, identity_provider):
    tom = hub.login("tom")
    hub.login("ada")
    start(hub, "ada", "data8")
    assert opens_server(hub.url, tom, "ada", "data8")

    claims = claims_of("tom")
    claims["groups"] = ["course::1525001::enrollment_type::student"]  # now a stat20 student
    identity_provider.set_claims("tom", claims)

    def role_gone() -> bool:
        tom.get(f"{hub.url}/hub/home", timeout=30)
        return hub.api("GET", "/users/tom").json()["roles"] == ["user"]

    stale_window(role_gone)
    assert reached_by(hub, "ada", "data8", ("tom",)) == set()
    fresh = requests.Session()
    login(fresh, hub.url, "tom")
    assert not opens_server(hub.url, fresh, "ada", "data8")
    identity_provider.set_claims("tom", claims_of("tom"))
    hub.api("DELETE", "/users/ada/servers/data8")


def test_someone_left_in_no_course_is_signed_out_and_refused(hub, identity_provider):
    alan = hub.login("alan")  # stat20 only
    start(hub, "alan", "stat20")
    claims = claims_of("alan")
    claims["groups"] = []
    identity_provider.set_claims("alan", claims)

    def signed_out() -> bool:
        page = alan.get(f"{hub.url}/hub/home", timeout=30, allow_redirects=False)
        return page.status_code in (302, 303)

    stale_window(signed_out)
    model = hub.api("GET", "/users/alan").json()
    assert model["groups"] == [] and model["roles"] == ["user"]
    assert stale_window(lambda: "stat20" not in hub.api("GET", "/users/alan").json()["servers"])
    with pytest.raises(LoginError, match="HTTP 403") as refused:
        login(requests.Session(), hub.url, "alan")
    page = refused.value.response
    assert page.url.endswith("/hub/refused")
    assert "You are not in a course on this hub" in page.text
    assert 'data-reason="no_course"' in page.text
    identity_provider.set_claims("alan", claims_of("alan"))


def token(hub, name: str) -> str:
    response = hub.api("POST", f"/users/{name}/tokens", json={"note": "revocation test"})
    assert response.status_code == 201, response.text
    return response.json()["token"]


def test_a_student_who_becomes_a_ta_is_no_longer_reached_by_tas(hub, identity_provider):
    hub.login("tom")
    hub.login("ines")
    grace = hub.login("grace")
    start(hub, "grace", "data8")

    def shared_with() -> set[str]:
        return reached_by(hub, "grace", "data8", ("tom", "ines"))

    assert shared_with() == {"tom", "ines"}
    claims = claims_of("grace")
    claims["groups"] = ["course::1524699::enrollment_type::ta"]
    identity_provider.set_claims("grace", claims)

    def reshared() -> bool:
        grace.get(f"{hub.url}/hub/home", timeout=30)
        return shared_with() == {"ines"}  # a TA's server: instructors only

    stale_window(reshared)
    identity_provider.set_claims("grace", claims_of("grace"))
    hub.api("DELETE", "/users/grace/servers/data8")
