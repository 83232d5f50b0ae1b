"""Campus sign-on against the real hub and the real identity provider process.

Each kind of demo person logs in through oidc-provider-mock (whose id_tokens the
authenticator verifies against the provider's JWKS, with a nonce) and gets exactly the
expected groups and roles; the per-course staff roles reach exactly the right people through
the hub's REST API and the proxy; a changed claim is picked up at the next refresh.
"""

from __future__ import annotations

import pytest
import requests

from campushub.demo import launch
from tests.service_access import opens_server, reached_by

# Refresh logins after 1 s, so a claim change at the provider shows at the next request.
REFRESH_AGE = 1


@pytest.fixture(scope="module")
def personal_servers() -> bool:
    """This module's hub gives personal servers (``defaults.personal_server``)."""
    return True


@pytest.fixture(scope="module")
def hub_options():
    return {"auth_refresh_age": REFRESH_AGE}


EXPECTED = {
    "ada": (["course:data8", "course:data8:students"], ["user"], False),
    "grace": (
        ["course:data8", "course:data8:students", "course:stat20", "course:stat20:students"],
        ["user"],
        False,
    ),
    "alan": (["course:stat20", "course:stat20:students"], ["user"], False),
    "tom": (["course:data8", "course:data8:tas"], ["course-data8-ta", "user"], False),
    "ines": (
        ["course:data8", "course:data8:instructors"],
        ["course-data8-instructor", "course-data8-ta", "user"],
        False,
    ),
    "dana": ([], ["admin", "user"], True),
    # A URN entitlement; an observer enrollment and an unknown course are ignored.
    "uma": (["course:physics77", "course:physics77:students"], ["user"], False),
}


@pytest.mark.parametrize("person", sorted(EXPECTED))
def test_each_kind_of_person_gets_exactly_their_groups_and_roles(hub, person):
    groups, roles, admin = EXPECTED[person]
    hub.login(person)
    model = hub.api("GET", f"/users/{person}").json()
    assert sorted(model["groups"]) == groups
    assert sorted(model["roles"]) == roles
    assert model["admin"] is admin


def refused_page(hub, sub: str) -> tuple[requests.Session, requests.Response]:
    """Sign in as ``sub``, who must be refused: the session and the page it ends on."""
    from campushub.demo.login import LoginError, login

    session = requests.Session()
    with pytest.raises(LoginError, match="HTTP 403") as refused:
        login(session, hub.url, sub)
    page = refused.value.response
    assert page is not None
    return session, page


def test_person_in_no_course_is_refused_with_a_page_that_says_why(hub):
    session, refusal = refused_page(hub, "ned")
    # One page, at an address a reload keeps (not the callback's, which cannot be reloaded).
    assert refusal.url == f"{hub.url}/hub/refused"
    assert refusal.text.count("<h1") == 1
    assert "You are not in a course on this hub" in refusal.text
    assert 'id="campushub-refused-user">ned<' in refusal.text
    assert 'data-reason="no_course"' in refusal.text
    assert "ask your course's instructor to" in refusal.text
    assert "OAuth state" not in refusal.text
    again = session.get(refusal.url, timeout=30)
    assert (again.status_code, again.text) == (403, refusal.text)
    # What to do next: sign out, or sign in as someone else (the provider asks again).
    assert 'href="/hub/logout"' in refusal.text
    switch = session.get(f"{hub.url}/hub/oauth_login?prompt=login", timeout=30)
    assert "/oauth2/authorize" in switch.url and "prompt=login" in switch.url
    # Another browser, or a crafted address, gets no refusal to show.
    stranger = requests.get(f"{hub.url}/hub/refused?reason=ignored_role&user=ada", timeout=30)
    assert stranger.status_code == 200 and "You are not signed in" in stranger.text
    assert "ada" not in stranger.text
    home = session.get(f"{hub.url}/hub/home", allow_redirects=False, timeout=30)
    assert home.status_code == 302  # no session was made
    assert hub.api("GET", "/users/ned").status_code == 404


def test_an_observer_is_told_their_role_has_no_environment(hub, identity_provider):
    identity_provider.set_claims(
        "olga",
        launch.person_claims(
            {"sub": "olga", "groups": ["course::1524699::enrollment_type::observer"]}
        ),
    )
    _, refusal = refused_page(hub, "olga")
    assert 'data-reason="ignored_role"' in refusal.text
    assert "DATA 8: Foundations of Data Science as observer" in refusal.text
    assert "does not list you" not in refusal.text


def test_a_provider_without_the_membership_claim_is_named_as_the_problem(hub, identity_provider):
    claims = launch.person_claims({"sub": "nina", "groups": []})
    del claims["groups"]
    identity_provider.set_claims("nina", claims)
    _, refusal = refused_page(hub, "nina")
    assert 'data-reason="no_claim"' in refusal.text
    assert "has no <code>groups</code> claim" in refusal.text
    assert "tell the hub's operators" in refusal.text


def test_a_refused_person_who_then_signs_in_lands_home(hub):
    session, _ = refused_page(hub, "ned")
    from campushub.demo.login import login

    login(session, hub.url, "ada")
    page = session.get(f"{hub.url}/hub/refused", timeout=30)
    assert page.url == f"{hub.url}/hub/home"


def token_for(hub, name: str) -> str:
    response = hub.api("POST", f"/users/{name}/tokens", json={"note": "test", "expires_in": 600})
    assert response.status_code == 201, response.text
    return response.json()["token"]


# The servers running for the access tests: (owner, server name); "" is the personal server.
SERVERS = (
    ("ada", ""),
    ("ada", "data8"),
    ("grace", "stat20"),
    ("alan", "stat20"),
    ("tom", ""),
    ("tom", "data8"),
    ("ines", "data8"),
)


@pytest.fixture(scope="module")
def people(hub):
    """Browser sessions of the demo people, and their running servers (SERVERS)."""
    sessions = {name: hub.login(name) for name in ("ada", "grace", "alan", "tom", "ines", "dana")}
    for owner, server in SERVERS:
        path = f"/users/{owner}/servers/{server}" if server else f"/users/{owner}/server"
        assert hub.api("POST", path).status_code in (201, 202)
    for owner, server in SERVERS:
        hub.wait_for_server(owner, server)
    yield sessions
    for owner, server in SERVERS:
        hub.api(
            "DELETE", f"/users/{owner}/servers/{server}" if server else f"/users/{owner}/server"
        )


def user_model_status(hub, token: str, owner: str) -> int:
    """The REST API's answer to ``token`` asking for ``owner``'s user model."""
    headers = {"Authorization": f"token {token}"}
    return requests.get(f"{hub.url}/hub/api/users/{owner}", headers=headers, timeout=30).status_code


def reachable(hub, session: requests.Session) -> set[tuple[str, str]]:
    """Which of the running SERVERS ``session`` opens."""
    return {server for server in SERVERS if opens_server(hub.url, session, *server)}


def test_ta_opens_their_courses_students_course_servers_and_nothing_else(hub, people):
    # Not ada's personal server, not grace's or alan's stat20 server, not the instructor's.
    assert reachable(hub, people["tom"]) == {("ada", "data8"), ("tom", ""), ("tom", "data8")}


def test_instructor_opens_the_course_servers_of_students_and_tas_only(hub, people):
    assert reachable(hub, people["ines"]) == {
        ("ada", "data8"),
        ("tom", "data8"),  # the TA's data8 server, not the TA's personal one
        ("ines", "data8"),
    }


def test_students_open_only_their_own_servers(hub, people):
    assert reachable(hub, people["ada"]) == {("ada", ""), ("ada", "data8")}
    assert reachable(hub, people["grace"]) == {("grace", "stat20")}


def test_administrator_opens_every_server(hub, people):
    assert reachable(hub, people["dana"]) == set(SERVERS)


def test_staff_read_their_courses_roster_and_nothing_else_of_anyone(hub, people):
    headers = {"Authorization": f"token {token_for(hub, 'tom')}"}

    def get(path: str) -> requests.Response:
        return requests.get(f"{hub.url}/hub/api{path}", headers=headers, timeout=30)

    roster = get("/groups/course:data8:students")
    assert roster.status_code == 200
    assert "ada" in roster.json()["users"]
    assert get("/groups/course:data8").status_code == 200
    # Not another course's roster, not the instructors, not anyone's user model (which would
    # show their other courses), and the list of users shows no one.
    assert get("/groups/course:stat20:students").status_code == 404
    assert get("/groups/course:data8:instructors").status_code == 404
    for owner in ("ada", "grace", "alan", "ines"):
        assert user_model_status(hub, headers["Authorization"].split()[1], owner) == 404
    ines = {"Authorization": f"token {token_for(hub, 'ines')}"}
    tas = requests.get(f"{hub.url}/hub/api/groups/course:data8:tas", headers=ines, timeout=30)
    assert tas.status_code == 200 and "tom" in tas.json()["users"]


def test_staff_cannot_start_stop_change_or_delete_members_servers(hub, people):
    headers = {"Authorization": f"token {token_for(hub, 'tom')}"}
    base = f"{hub.url}/hub/api/users"
    answers = [
        requests.post(f"{base}/grace/servers/data8", headers=headers, timeout=60),
        requests.delete(f"{base}/ada/servers/data8", headers=headers, timeout=60),
        requests.delete(
            f"{base}/ada/servers/data8", headers=headers, json={"remove": True}, timeout=60
        ),
        requests.delete(f"{base}/ada/server", headers=headers, timeout=60),
        requests.delete(f"{base}/alan/servers/stat20", headers=headers, timeout=60),
    ]
    assert [answer.status_code in (403, 404) for answer in answers] == [True] * len(answers)
    model = hub.api("GET", "/users/ada").json()
    assert model["servers"]["data8"]["ready"] and model["servers"][""]["ready"]


def test_a_course_server_is_reached_by_exactly_the_staff_of_its_course(hub, people):
    staff = ("tom", "ines", "ada", "grace", "alan")

    assert reached_by(hub, "ada", "data8", staff) == {"tom", "ines"}
    assert reached_by(hub, "tom", "data8", staff) == {"ines"}
    assert reached_by(hub, "ines", "data8", staff) == set()
    assert reached_by(hub, "ada", "", staff) == set()
    assert reached_by(hub, "grace", "stat20", staff) == set()
