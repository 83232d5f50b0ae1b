"""Who an account belongs to: the provider's subject, bound at the first sign-in.

This hub takes usernames from ``preferred_username`` (CAMPUSHUB_USERNAME_CLAIM), a claim the
OpenID Connect specification calls neither stable nor unique. Once ada has signed in, someone
else whose provider record says ``preferred_username: ada`` (a reused or self-edited name) is
refused with a page that says why, and ada's account, groups and roles are untouched.
"""

from __future__ import annotations

import pytest
import requests

from campushub.demo import launch
from campushub.demo.login import LoginError, login


@pytest.fixture(scope="module")
def hub_options():
    return {"extra_env": {"CAMPUSHUB_USERNAME_CLAIM": "preferred_username"}}


def test_another_subject_under_the_same_username_is_refused(hub, identity_provider):
    hub.login("ada")
    before = hub.api("GET", "/users/ada").json()
    ada = next(person for person in launch.demo_people() if person["sub"] == "ada")
    imposter = {**launch.person_claims(ada), "sub": "mallory", "name": "Mallory"}
    identity_provider.set_claims("mallory", imposter)
    with pytest.raises(LoginError, match="HTTP 403") as refused:
        login(requests.Session(), hub.url, "mallory")
    assert "belongs to another person at the campus identity provider" in (
        refused.value.response.text
    )
    after = hub.api("GET", "/users/ada").json()
    assert (after["groups"], after["roles"]) == (before["groups"], before["roles"])
    # ada herself still signs in.
    assert login(requests.Session(), hub.url, "ada").status_code == 200


def test_the_default_username_claim_is_the_stable_sub() -> None:
    from campushub.auth import CampusAuthenticator

    authenticator = CampusAuthenticator(
        catalog_path=str(launch.DEMO_CATALOG), verify_id_token=False
    )
    assert authenticator.username_claim == "sub"


@pytest.mark.parametrize(
    ("setting", "value", "instead"),
    [
        ("allow_all", True, "allow_unenrolled = True"),
        ("allowed_groups", {"staff"}, "course membership"),
        ("allowed_scopes", ["openid"], "course membership"),
        ("allow_existing_users", True, "refused at their next sign-in"),
    ],
)
def test_upstream_allow_settings_are_refused_at_start_saying_what_to_use(
    setting, value, instead
) -> None:
    from campushub.auth import CampusAuthenticator

    with pytest.raises(ValueError) as refused:
        CampusAuthenticator(
            catalog_path=str(launch.DEMO_CATALOG), verify_id_token=False, **{setting: value}
        )
    assert f"{setting} is not used here" in str(refused.value)
    assert instead in str(refused.value)


def test_the_hub_starts_without_an_allow_config_warning(hub) -> None:
    log = hub.process.log_path.read_text(errors="replace")
    assert "campushub: catalog" in log
    assert "No allow config found" not in log
