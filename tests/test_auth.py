"""Campus sign-on against the real hub and the real identity provider process.

Each kind of demo person logs in through oidc-provider-mock (whose id_tokens the
authenticator verifies against the provider's JWKS, with a nonce) and gets exactly the
expected groups and roles; the per-course staff roles reach exactly the right people through
the hub's REST API and the proxy; a changed claim is picked up at the next refresh.
"""

from __future__ import annotations

import html
import re
import time

import pytest
import requests

# Refresh logins after 1 s, so a claim change at the provider shows at the next request.
REFRESH_AGE = 1


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
        ["course-data8-instructor", "user"],
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


def test_person_in_no_course_is_refused_with_a_page_that_says_why(hub):
    from campushub.demo.login import LoginError, login

    session = requests.Session()
    with pytest.raises(LoginError, match="HTTP 403") as refused:
        login(session, hub.url, "ned")
    refusal = refused.value.response
    assert "You are signed in as ned, but you are not in any course on this hub" in refusal.text
    assert "ask your course&#39;s instructor to add you" in refusal.text
    home = session.get(f"{hub.url}/hub/home", allow_redirects=False, timeout=30)
    assert home.status_code == 302  # no session was made
    assert hub.api("GET", "/users/ned").status_code == 404


def token_for(hub, name: str) -> str:
    response = hub.api("POST", f"/users/{name}/tokens", json={"note": "test", "expires_in": 600})
    assert response.status_code == 201, response.text
    return response.json()["token"]


@pytest.fixture(scope="module")
def people(hub):
    """Browser sessions of the demo people; ada, alan and tom have running servers."""
    sessions = {name: hub.login(name) for name in ("ada", "alan", "tom", "ines", "dana")}
    for name in ("ada", "alan", "tom"):
        assert hub.api("POST", f"/users/{name}/server").status_code in (201, 202)
    for name in ("ada", "alan", "tom"):
        hub.wait_for_server(name)
    yield sessions
    for name in ("ada", "alan", "tom"):
        hub.api("DELETE", f"/users/{name}/server")


def user_model_status(hub, token: str, owner: str) -> int:
    """The REST API's answer to ``token`` asking for ``owner``'s user model."""
    headers = {"Authorization": f"token {token}"}
    return requests.get(f"{hub.url}/hub/api/users/{owner}", headers=headers, timeout=30).status_code


def server_status(hub, session: requests.Session, owner: str) -> int:
    """Open ``owner``'s server in a browser session: the server sends the visitor through
    the hub's OAuth, which grants access only with access:servers for that server."""
    page = session.get(f"{hub.url}/user/{owner}/lab", timeout=60)
    if page.status_code == 200 and "/hub/api/oauth2/authorize" in page.url:
        # Someone else's server: the hub asks the visitor to authorize it, as in a browser.
        fields = re.findall(
            r'<input type="hidden" name="(_xsrf|scopes)" value="([^"]*)"', page.text
        )
        page = session.post(page.url, data=[(k, html.unescape(v)) for k, v in fields], timeout=60)
    if page.status_code == 200 and page.url != f"{hub.url}/user/{owner}/lab":
        return 0  # ended somewhere else
    return page.status_code


def test_ta_reaches_their_courses_students_and_no_one_else(hub, people):
    tom = token_for(hub, "tom")
    assert user_model_status(hub, tom, "ada") == 200
    assert server_status(hub, people["tom"], "ada") == 200
    # A student of another course: the hub does not even confirm the person exists.
    assert user_model_status(hub, tom, "alan") == 404
    assert server_status(hub, people["tom"], "alan") == 403


def test_ta_may_start_and_stop_their_students_servers_only(hub, people):
    headers = {"Authorization": f"token {token_for(hub, 'tom')}"}
    hub.login("grace")  # a data8 student too
    started = requests.post(f"{hub.url}/hub/api/users/grace/server", headers=headers, timeout=60)
    assert started.status_code in (201, 202)
    hub.wait_for_server("grace")
    stopped = requests.delete(f"{hub.url}/hub/api/users/grace/server", headers=headers, timeout=60)
    assert stopped.status_code in (202, 204)
    alan = requests.delete(f"{hub.url}/hub/api/users/alan/server", headers=headers, timeout=60)
    assert alan.status_code in (403, 404)
    assert hub.api("GET", "/users/alan").json()["servers"][""]["ready"]


def test_student_is_refused_other_peoples_servers(hub, people):
    ada = token_for(hub, "ada")
    assert user_model_status(hub, ada, "alan") == 404
    assert server_status(hub, people["ada"], "alan") == 403
    assert server_status(hub, people["ada"], "tom") == 403  # nor their TA's
    assert server_status(hub, people["ada"], "ada") == 200


def test_instructor_reaches_students_and_tas_of_their_course(hub, people):
    ines = token_for(hub, "ines")
    assert user_model_status(hub, ines, "ada") == 200
    assert user_model_status(hub, ines, "tom") == 200
    assert server_status(hub, people["ines"], "ada") == 200
    assert server_status(hub, people["ines"], "tom") == 200
    assert server_status(hub, people["ines"], "alan") == 403


def test_ta_does_not_reach_the_instructor(hub, people):
    assert user_model_status(hub, token_for(hub, "tom"), "ines") == 404


def test_administrator_reaches_everyone(hub, people):
    dana = token_for(hub, "dana")
    for owner in ("ada", "alan", "tom"):
        assert user_model_status(hub, dana, owner) == 200
        assert server_status(hub, people["dana"], owner) == 200


def test_refresh_after_a_claim_change_removes_a_membership(hub, identity_provider):
    from campushub.demo.launch import demo_people, person_claims

    grace = next(person for person in demo_people() if person["sub"] == "grace")
    session = hub.login("grace")
    assert "course:stat20" in hub.api("GET", "/users/grace").json()["groups"]

    claims = person_claims(grace)
    claims["groups"] = ["course::1524699::enrollment_type::student"]  # dropped stat20
    identity_provider.set_claims("grace", claims)
    try:
        deadline = time.monotonic() + 30
        groups: list[str] = []
        while time.monotonic() < deadline:
            session.get(f"{hub.url}/hub/home", timeout=30)  # a request that refreshes auth
            groups = hub.api("GET", "/users/grace").json()["groups"]
            if "course:stat20" not in groups:
                break
            time.sleep(0.25)  # polling interval
        assert sorted(groups) == ["course:data8", "course:data8:students"]
    finally:
        identity_provider.set_claims("grace", person_claims(grace))
