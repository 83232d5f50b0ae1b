"""Faults on the local campus, as people meet them: the identity provider down, and hung,
while someone signs in. Nothing crashes, nothing of theirs changes, and the page they see
says what happened and offers to try again, which works once the provider is back.

The provider is the real oidc-provider-mock process: stopped (connections refused) and
restarted on the same port, or paused with SIGSTOP (connections accepted, never answered)
and resumed.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from campushub.demo import launch
from campushub.demo.login import login
from tests.conftest import IdentityProvider

TIMEOUT_S = 2  # the hub's wait for the provider here (CAMPUSHUB_OIDC_TIMEOUT)


@pytest.fixture(scope="module")
def hub_options() -> dict[str, Any]:
    return {"extra_env": {"CAMPUSHUB_OIDC_TIMEOUT": str(TIMEOUT_S)}}


def until_the_callback(hub, sub: str) -> tuple[requests.Session, str]:
    """Sign in as ``sub`` up to the provider's redirect back to the hub: the session and the
    callback address (with the code), not yet followed."""
    session = requests.Session()
    form = session.get(f"{hub.url}/hub/oauth_login", timeout=30)
    assert "/oauth2/authorize" in form.url
    answer = session.post(form.url, data={"sub": sub}, allow_redirects=False, timeout=30)
    assert answer.status_code in (302, 303), answer.text[:500]
    callback = answer.headers["Location"]
    assert urllib.parse.urlsplit(callback).path == "/hub/oauth_callback"
    return session, callback


def restart(provider: IdentityProvider) -> None:
    """Start the provider again on its port (its people as at the start)."""
    port = urllib.parse.urlsplit(provider.url).port
    assert port is not None
    log_dir = provider.process.log_path.parent
    deadline = time.monotonic() + 30
    while True:
        try:
            provider.process = launch.start_identity_provider(port, launch.demo_people(), log_dir)
            return
        except launch.StartError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)  # the old process's port, still closing


@pytest.fixture
def provider_down(identity_provider: IdentityProvider) -> Iterator[None]:
    identity_provider.process.stop()
    yield
    restart(identity_provider)


@pytest.fixture
def provider_hung(identity_provider: IdentityProvider) -> Iterator[None]:
    group = os.getpgid(identity_provider.process.popen.pid)
    os.killpg(group, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(group, signal.SIGCONT)


def test_a_provider_that_is_down_at_sign_in_gets_a_page_to_try_again(
    hub, identity_provider, request
):
    session, callback = until_the_callback(hub, "ada")
    request.getfixturevalue("provider_down")
    page = session.get(callback, timeout=30)
    assert page.status_code == 503
    assert "The campus sign-in is not answering" in page.text
    assert "could not be reached or failed" in page.text
    assert 'href="/hub/oauth_login">Try again<' in page.text
    assert hub.process.running  # the hub carries on
    assert hub.api("GET", "/users/ada").status_code == 404  # nothing was made


def test_trying_again_once_the_provider_is_back_signs_in(hub, identity_provider):
    # After the test above, the provider was restarted on its port.
    session = requests.Session()
    page = login(session, hub.url, "ada")
    assert page.url == f"{hub.url}/hub/home"
    assert "Your courses" in page.text


def test_a_hung_provider_is_given_up_on_in_time_with_a_page(hub, identity_provider, request):
    session, callback = until_the_callback(hub, "grace")
    request.getfixturevalue("provider_hung")
    started = time.monotonic()
    page = session.get(callback, timeout=60)
    waited = time.monotonic() - started
    assert page.status_code == 503
    assert "did not answer in time" in page.text
    assert waited < TIMEOUT_S + 10, waited
    # Meanwhile the hub serves everyone else.
    assert requests.get(f"{hub.url}/hub/api/", timeout=10).status_code == 200
