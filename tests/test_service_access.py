"""Who reaches campushub's services, asserted by logging in as each kind of person.

Every person signs in through the identity provider and then asks for the links service and
the scaler's page as a browser would, following the hub's OAuth redirects to the end. A status
code alone proves nothing here (a redirect to the hub's authorize step is a 302 for everyone,
and the step itself answers 403 to people the hub's roles do not admit), so each check names
the page it lands on. This module runs on both version sets (see scripts/test.sh): on
JupyterHub 5.4, which zero-to-jupyterhub 4.3.3 ships, access had once been granted with a
setting only JupyterHub 6 knows, and only administrators got in.
"""

from __future__ import annotations

import jupyterhub
import pytest
import requests

LINKS_STAFF = "Make a link to course material"  # the generator page, for course staff
# What the service itself tells a student at its front page (they open links, not make them).
LINKS_STUDENT = "you teach no course on this hub this term"
SCALER_PAGE = 'data-pool="standard"'  # the status page's pool table
SCALER_REFUSAL = "for hub administrators and, to read, course staff"

# person -> (links page marker, scaler: True = the status page, False = the service's refusal)
MATRIX = {
    "ada": ("student", False),  # student of data8
    "grace": ("student", False),  # student of data8 and stat20
    "tom": ("staff", True),  # TA of data8
    "ines": ("staff", True),  # instructor of data8
    "dana": ("staff", True),  # administrator, in no course
}


def service_page(hub, session, path: str):
    response = session.get(f"{hub.url}{path}", timeout=60)
    # The OAuth dance ended at the service, not at the hub's authorize step.
    assert response.url.startswith(f"{hub.url}{path}"), (response.url, response.status_code)
    return response


@pytest.mark.parametrize("person", sorted(MATRIX))
def test_each_person_reaches_exactly_the_services_meant_for_them(hub, person):
    links_kind, sees_scaler = MATRIX[person]
    session = hub.login(person)

    links = service_page(hub, session, "/services/links/")
    if links_kind == "staff":
        assert links.status_code == 200, links.text[:500]
        assert LINKS_STAFF in links.text
    else:
        assert links.status_code == 403
        assert LINKS_STUDENT in links.text
        assert LINKS_STAFF not in links.text

    scaler = service_page(hub, session, "/services/scaler/")
    if sees_scaler:
        assert scaler.status_code == 200, scaler.text[:500]
        assert SCALER_PAGE in scaler.text
    else:
        assert scaler.status_code == 403
        assert SCALER_REFUSAL in scaler.text
        assert SCALER_PAGE not in scaler.text
        api = session.get(f"{hub.url}/services/scaler/api/plan", timeout=60)
        assert api.status_code == 403


def test_the_user_role_keeps_the_service_scopes_after_logins(hub):
    # Each login names the `user` role with its scopes, and JupyterHub stores what a login
    # names: the role a student holds after logins must still open both services.
    hub.login("ada")
    hub.login("tom")
    token = hub.api("POST", "/users/ada/tokens", json={"note": "scopes check"}).json()["token"]
    own = requests.get(
        f"{hub.url}/hub/api/user", headers={"Authorization": f"token {token}"}, timeout=30
    ).json()
    assert {"access:services!service=links", "access:services!service=scaler"} <= set(own["scopes"])
    assert own["roles"] == ["user"]


def test_this_run_uses_the_jupyterhub_it_says(hub):
    # The hub process runs the same JupyterHub as the test's own environment.
    assert hub.api("GET", "/").json()["version"] == jupyterhub.__version__
