"""Faults on the local campus, as people meet them: the identity provider down, and hung,
while someone signs in; the git server down while a link is made and while it is pulled.
Nothing crashes, nothing of theirs changes, and the page they see says what happened and
offers to try again, which works once the part is back.

The provider is the real oidc-provider-mock process: stopped (connections refused) and
restarted on the same port, or paused with SIGSTOP (connections accepted, never answered)
and resumed; the git server is the real one, stopped and started again on its port.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
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


def start_again(start: Callable[[], launch.Process]) -> launch.Process:
    """``start()``, retried while the stopped process's port is still closing."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return start()
        except launch.StartError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)  # polling interval


def restart(provider: IdentityProvider) -> None:
    """Start the provider again on its port (its people as at the start)."""
    port = urllib.parse.urlsplit(provider.url).port
    assert port is not None
    log_dir = provider.process.log_path.parent
    provider.process = start_again(
        lambda: launch.start_identity_provider(port, launch.demo_people(), log_dir)
    )


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


def restart_git(git_server) -> None:
    port = urllib.parse.urlsplit(git_server.url).port
    log_dir = git_server.process.log_path.parent
    git_server.process = start_again(
        lambda: launch.start_git_server(port, git_server.root, log_dir)
    )


def staff_with_a_link(hub, git_server) -> tuple[requests.Session, str]:
    """ines signed in, and the id of a link she made on the form to the demo notebook."""
    staff = requests.Session()
    login(staff, hub.url, "ines")
    made = make_link_form(hub, staff, git_server.url + launch.DEMO_REPO_NAME)
    assert made.status_code == 200 and "/services/links/manage/" in made.url, made.url
    return staff, made.url.rsplit("/", 1)[-1].split("?")[0]


def make_link_form(hub, session: requests.Session, repo: str) -> requests.Response:
    import re

    page = session.get(f"{hub.url}/services/links/", timeout=30)
    token = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    fields = {"_xsrf": token.group(1), "course": "data8", "repo": repo, "branch": "main"}
    fields |= {"path": "lab01.ipynb", "app": "lab"}
    return session.post(f"{hub.url}/services/links/", data=fields, timeout=60)


def test_the_git_server_down_while_a_link_is_made_and_while_it_is_pulled(hub, git_server):
    repo = git_server.url + launch.DEMO_REPO_NAME
    staff = requests.Session()
    login(staff, hub.url, "ines")
    made = make_link_form(hub, staff, repo)  # while the git server is up: made
    assert made.status_code == 200 and "/services/links/manage/" in made.url
    link_id = made.url.rsplit("/", 1)[-1].split("?")[0]
    student = requests.Session()
    login(student, hub.url, "ada")
    started = hub.api("POST", "/users/ada/servers/data8")
    assert started.status_code in (201, 202, 400)
    hub.wait_for_server("ada", "data8")
    git_server.process.stop()
    try:
        # Making a link: the form says the repository cannot be read, keeps what was typed.
        refused = make_link_form(hub, staff, repo)
        assert refused.status_code == 400
        assert "cannot be read as a public git repository" in refused.text
        assert f'value="{repo}"' in refused.text
        # Pulling: the link still opens (the service does not need the git server), and
        # nbgitpuller in the course server reports the failed pull instead of hanging.
        opened = student.get(f"{hub.url}/services/links/l/{link_id}", timeout=120)
        assert opened.status_code == 200, opened.url
        assert urllib.parse.urlsplit(opened.url).path == "/user/ada/data8/git-pull"
        params = dict(urllib.parse.parse_qsl(opened.url.partition("?")[2]))
        pull = {key: params[key] for key in ("repo", "branch", "targetpath")}
        stream = student.get(f"{hub.url}/user/ada/data8/git-pull/api", params=pull, timeout=120)
        assert '"phase": "error"' in stream.text, stream.text[-1000:]
    finally:
        restart_git(git_server)
    # Back: the same click pulls.
    stream = student.get(f"{hub.url}/user/ada/data8/git-pull/api", params=pull, timeout=120)
    assert '"phase": "finished"' in stream.text, stream.text[-1000:]
    hub.api("DELETE", "/users/ada/servers/data8")


def test_a_busy_links_database_holds_up_no_student_and_loses_no_open(hub, git_server):
    import sqlite3
    import threading

    from campushub.services.links.store import LinkStore, database_url

    staff, link_id = staff_with_a_link(hub, git_server)
    student = requests.Session()
    login(student, hub.url, "grace")
    student.get(f"{hub.url}/services/links/", timeout=30)  # the service's own sign-in
    database = hub.settings.state_dir / "links" / "links.sqlite"
    assert database.exists(), sorted(p.name for p in database.parent.iterdir())
    # Another program holds the database's write lock for longer than SQLite waits (5 s).
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(database, timeout=30, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(30)
        connection.execute("COMMIT")
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        # A click still goes on to the course server; its open is kept to count later.
        opened = student.get(
            f"{hub.url}/services/links/l/{link_id}", allow_redirects=False, timeout=60
        )
        assert opened.status_code == 302
        assert opened.headers["Location"].startswith("/hub/spawn/grace/data8?next=")
        # Making a link: a page that says the service is busy and to retry; nothing made.
        busy = make_link_form(hub, staff, git_server.url + launch.DEMO_REPO_NAME)
        assert busy.status_code == 503
        assert "The links service is busy" in busy.text and "Try again" in busy.text
    finally:
        release.set()
        holder.join(30)
    again = student.get(f"{hub.url}/services/links/l/{link_id}", allow_redirects=False, timeout=60)
    assert again.status_code == 302
    store = LinkStore(database_url(database.parent))
    try:
        link = store.get(link_id)
        assert link is not None and (link.opens, link.people) == (2, 1)
    finally:
        store.close()


def service_pid(port: int) -> int:
    """The pid of the hub-managed links service listening on ``port`` (from /proc)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"campushub.services.links" in command and f"127.0.0.1:{port}".encode() in environ:
            return int(proc.name)
    raise AssertionError(f"no links service on port {port}")


def test_the_links_service_killed_mid_request_comes_back_and_loses_nothing(hub, git_server):
    staff, link_id = staff_with_a_link(hub, git_server)
    student = requests.Session()
    login(student, hub.url, "alan")  # not in data8: his click is answered with a page
    student.get(f"{hub.url}/services/links/", timeout=30)
    old = service_pid(hub.settings.links_port)
    os.kill(old, signal.SIGKILL)  # as an out-of-memory kill would, mid-whatever
    during = student.get(f"{hub.url}/services/links/l/{link_id}", timeout=30)
    assert during.status_code in (403, 502, 503), during.status_code  # the proxy's, or back
    deadline = time.monotonic() + 60
    while True:  # the hub starts its service again
        page = student.get(f"{hub.url}/services/links/l/{link_id}", timeout=30)
        if page.status_code == 403 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert page.status_code == 403 and "You are not in DATA 8" in page.text
    assert service_pid(hub.settings.links_port) != old
    # Its database is as it was: the link is there, and staff see it.
    manage = staff.get(f"{hub.url}/services/links/manage/{link_id}", timeout=30)
    assert manage.status_code == 200
