"""Who reaches campushub's services, asserted by logging in as each kind of person.

Every person signs in through the identity provider and then asks for the links service and
the scaler's page as a browser would (tests/service_access.py: each check names the page it
lands on, not only a status code). This module runs on both version sets (see scripts/test.sh): on
JupyterHub 5.4, which zero-to-jupyterhub 4.3.3 ships, access had once been granted with a
setting only JupyterHub 6 knows, and only administrators got in.
"""

from __future__ import annotations

import jupyterhub
import pytest
import requests

from tests.service_access import MATRIX, check_services


@pytest.mark.parametrize("person", sorted(MATRIX))
def test_each_person_reaches_exactly_the_services_meant_for_them(hub, person):
    check_services(hub.url, hub.login(person), person)


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
