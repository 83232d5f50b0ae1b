"""End to end: the local campus's real parts working together.

A demo person logs in through the real identity provider; their server starts with the
local spawner and answers through configurable-http-proxy; nbgitpuller pulls the demo
course material from the real git server; a catalog with problems stops the hub.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
import time
import urllib.parse

import pytest
import requests

from campushub.demo import launch
from campushub.demo.login import login


def test_student_logs_in_through_the_identity_provider(hub):
    session = hub.login("ada")
    assert session.cookies.get("jupyterhub-hub-login")
    home = session.get(f"{hub.url}/hub/home", timeout=30)
    assert home.status_code == 200
    assert home.url == f"{hub.url}/hub/home"

    user = hub.api("GET", "/users/ada").json()
    assert user["name"] == "ada"
    assert user["admin"] is False
    assert sorted(user["groups"]) == ["course:data8", "course:data8:students"]


def test_member_of_the_admin_group_is_an_administrator(hub):
    hub.login("dana")
    assert hub.api("GET", "/users/dana").json()["admin"] is True


def test_the_local_campus_runs_the_scaler_in_dry_run(hub):
    session = hub.login("dana", "/services/scaler/")
    page = session.get(f"{hub.url}/services/scaler/", timeout=30)
    assert page.status_code == 200
    assert "Dry run:" in page.text
    plan = session.get(f"{hub.url}/services/scaler/api/plan?hours=24", timeout=30).json()
    assert plan["dry_run"] is True
    standard = plan["pools"]["standard"]
    assert standard["applied"] is None and standard["current"] is None  # nothing touched
    assert 1 <= standard["target"]["replicas"] <= 80


def test_logged_out_visitor_is_sent_straight_to_campus_sign_on(hub, identity_provider):
    response = requests.get(f"{hub.url}/hub/home", timeout=30)
    assert response.url.startswith(f"{identity_provider.url}/oauth2/authorize?")
    assert response.status_code == 200


def test_started_server_answers_through_the_proxy(hub):
    session = hub.login("grace")
    started = hub.api("POST", "/users/grace/servers/data8")
    assert started.status_code in (201, 202), started.text
    hub.wait_for_server("grace", "data8")

    lab = session.get(f"{hub.url}/user/grace/data8/lab", timeout=60)
    assert lab.status_code == 200
    assert lab.url == f"{hub.url}/user/grace/data8/lab"
    assert "JupyterLab" in lab.text
    status = session.get(f"{hub.url}/user/grace/data8/api/status", timeout=30)
    assert status.status_code == 200
    assert "last_activity" in status.json()

    routes = hub.api("GET", "/proxy").json()
    assert "/user/grace/data8/" in routes

    assert hub.api("DELETE", "/users/grace/servers/data8").status_code in (202, 204)


def test_the_campus_gives_course_servers_and_no_personal_one(hub):
    # The demo catalog leaves defaults.personal_server off: each course has its own server.
    session = hub.login("grace")
    refused = hub.api("POST", "/users/grace/server", json={"profile": "general"})
    assert refused.status_code == 403
    message = refused.json()["message"]
    assert "This hub has no personal servers" in message and "(data8, stat20)" in message
    page = session.get(f"{hub.url}/hub/spawn", timeout=60)
    assert page.status_code == 403 and "This hub has no personal servers" in page.text
    home = session.get(f"{hub.url}/hub/home", timeout=60)
    assert "campushub-courses" in home.text
    assert "Your own server" not in home.text and 'id="start"' not in home.text


def test_nbgitpuller_pulls_the_demo_course_from_the_git_server(hub, git_server):
    session = hub.login("ada")
    hub.api("POST", "/users/ada/servers/data8")
    hub.wait_for_server("ada", "data8")
    session.get(f"{hub.url}/user/ada/data8/lab", timeout=60)  # server-side OAuth: its cookie

    query = urllib.parse.urlencode(
        {"repo": git_server.demo_repo_url, "branch": "main", "targetpath": "course-materials"}
    )  # nbgitpuller's API, which the page behind a pull link calls
    stream = session.get(f"{hub.url}/user/ada/data8/git-pull/api?{query}", timeout=120)
    assert stream.status_code == 200
    assert '"phase": "finished"' in stream.text, stream.text[-2000:]

    # The course server works in the course's folder of ada's home.
    home = hub.settings.state_dir / "homes" / "ada"
    notebook = next(home.rglob("course-materials/lab01.ipynb"))
    assert "Lab 1: Hello, campus" in notebook.read_text()
    where = notebook.parent.relative_to(home).as_posix()
    contents = session.get(
        f"{hub.url}/user/ada/data8/api/contents/course-materials/lab01.ipynb", timeout=30
    )
    assert where in ("course-materials", "data8/course-materials")
    assert contents.status_code == 200
    assert contents.json()["type"] == "notebook"


def refused_start(tmp_path, catalog, **environment: str) -> subprocess.CompletedProcess[str]:
    """Start a hub on the reference configuration that must refuse to start (exit 1) before
    it contacts anything (its identity provider's address answers nothing)."""
    settings = launch.HubSettings(
        state_dir=tmp_path / "state",
        catalog=catalog,
        issuer="http://127.0.0.1:9",
        public_port=launch.free_port(),
        hub_port=launch.free_port(),
        proxy_api_port=launch.free_port(),
    )
    result = subprocess.run(
        [sys.executable, "-m", "jupyterhub", "-f", str(launch.reference_config())],
        env={**settings.environment(), **environment},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    return result


def test_a_catalog_with_problems_stops_the_hub_before_it_starts(tmp_path):
    bad = tmp_path / "courses.yaml"
    text = launch.DEMO_CATALOG.read_text()
    bad.write_text(text.replace("memory: {guarantee: 1Gi, limit: 1Gi}", "memory: {limit: 1 GB}"))
    result = refused_start(tmp_path, bad)  # the catalog is read first
    assert "the hub will not start" in result.stderr
    assert "courses.data8.memory.limit: '1 GB' is not a quantity (try 1Gi)" in result.stderr


@pytest.mark.browser
def test_student_signs_in_with_a_browser_and_opens_the_pulled_notebook(hub, git_server, browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.goto(f"{hub.url}/hub/home")
    # The hub sends the browser to the identity provider, where the person is chosen.
    page.get_by_role("button", name="alan", exact=True).click()
    # Back on "Your courses": alan's one course, and nothing else to start.
    page.wait_for_url(f"{hub.url}/hub/home")
    assert page.locator("#start").count() == 0
    page.locator("#start-stat20").click()
    page.wait_for_url(f"{hub.url}/user/alan/stat20/**", timeout=120_000)
    # nbgitpuller in alan's course server pulls the material and opens the notebook.
    folder = git_server.demo_repo_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    query = urllib.parse.urlencode(
        {
            "repo": git_server.demo_repo_url,
            "branch": "main",
            "targetpath": folder,
            "urlpath": f"lab/tree/{folder}/lab01.ipynb",
        }
    )
    page.goto(f"{hub.url}/user/alan/stat20/git-pull?{query}")
    page.wait_for_url(f"{hub.url}/user/alan/stat20/lab/**", timeout=120_000)
    tab = page.locator(".lm-TabBar-tabLabel", has_text="lab01.ipynb").first
    tab.wait_for(timeout=120_000)
    heading = page.locator(".jp-NotebookPanel .jp-RenderedMarkdown h1").first
    heading.wait_for(timeout=60_000)
    page.screenshot(path=str(hub.settings.state_dir / "pulled-notebook.png"))
    assert "Lab 1: Hello, campus" in heading.inner_text()
    context.close()


def test_local_mode_serves_only_this_machine_and_says_so(tmp_path):
    # Every local server runs as the hub's own user: local mode refuses to serve others.
    result = refused_start(
        tmp_path, launch.DEMO_CATALOG, CAMPUSHUB_PUBLIC_URL="http://0.0.0.0:8000"
    )
    assert "local mode serves only this machine (127.0.0.1), not '0.0.0.0'" in result.stderr


def test_local_mode_says_at_start_whom_it_is_for(hub):
    log = hub.process.log_path.read_text(errors="replace")
    assert "LOCAL MODE, for one machine and its trusted users" in log


@pytest.mark.browser
def test_a_crafted_pull_link_runs_no_script_in_a_course_server(hub, git_server, browser):
    # nbgitpuller 1.3 writes `repo` and `path` into its page unescaped; campushub.pullguard,
    # loaded beside it in every local course server, refuses such a pull and escapes the page.
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(90_000)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{hub.url}/hub/oauth_login?next=%2Fhub%2Fhome")
    page.get_by_role("button", name="ada", exact=True).click()
    page.wait_for_url(f"{hub.url}/hub/home")
    assert hub.api("POST", "/users/ada/servers/data8").status_code in (201, 202, 400)
    hub.wait_for_server("ada", "data8")
    base = f"{hub.url}/user/ada/data8/git-pull"
    repo = urllib.parse.quote(git_server.demo_repo_url, safe="")
    crafted = [
        f"{base}?repo=%22%3E%3Csvg%2Fonload%3Dalert(1)%3E",
        f"{base}?repo={repo}&urlpath=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(2)%3E",
        f"{base}?repo={repo}&branch=main&targetpath=..%2F..%2Fescaped",
        f"{base}?repo=javascript%3Aalert(3)%2F%2F",
    ]
    for url in crafted:
        response = page.goto(url)
        page.wait_for_load_state("networkidle")
        assert response is not None and response.status == 400, url
        assert "This pull link is not valid" in page.content()
    assert dialogs == []
    assert not (hub.settings.state_dir / "homes" / "escaped").exists()
    # A plain pull still works through the guard.
    response = page.goto(f"{base}?repo={repo}&branch=main&urlpath=lab")
    assert response is not None and response.status == 200
    context.close()
    hub.api("DELETE", "/users/ada/servers/data8")


def test_the_pull_guard_names_each_bad_parameter_without_echoing_it() -> None:
    from campushub.pullguard import pull_problems

    good = {
        "repo": "https://github.com/data-8/materials-fa26",
        "branch": "main",
        "urlpath": "lab/tree/materials-fa26/lab01.ipynb",
        "targetpath": "materials-fa26",
        "backup": "false",
        "depth": "1",
    }
    assert pull_problems(good) == []
    assert pull_problems({**good, "urlpath": "lab/tree/Übung 1.ipynb?reset"}) == []
    bad = {
        "repo": '"><svg/onload=alert(1)>',
        "branch": "main;rm -rf",
        "targetpath": "/etc",
        "subpath": "a/../../b",
        "urlpath": "javascript:alert(1)",
        "backup": "maybe",
        "depth": "-1",
    }
    problems = pull_problems(bad)
    assert [p.split(" ", 1)[0] for p in problems] == [
        "repo",
        "branch",
        "targetpath",
        "subpath",
        "urlpath",
        "backup",
        "depth",
    ]
    assert not [p for p in problems if "svg" in p or "/etc" in p or "javascript" in p]


def test_the_identity_providers_page_says_who_each_demo_person_is(hub):
    session = requests.Session()
    page = session.get(f"{hub.url}/hub/oauth_login", timeout=30)
    assert page.status_code == 200 and "/oauth2/authorize" in page.url
    for person in launch.demo_people():
        row = re.search(rf'<tr data-person="{person["sub"]}">(.*?)</tr>', page.text, re.S)
        assert row, person["sub"]
        assert html.escape(person["role"]) in row.group(1)
    # The page posts the provider's own form: choosing a person still signs them in.
    signed_in = session.post(page.url, data={"sub": "ada"}, timeout=60)
    assert signed_in.url.startswith(hub.url) and signed_in.status_code == 200


def test_everyone_lands_on_their_courses_after_signing_in(hub):
    # No next address, as when someone opens the hub's address and signs in: "Your courses",
    # not a personal server's options.
    for person in ("ada", "tom", "dana"):
        session = requests.Session()
        page = login(session, hub.url, person, "")
        assert page.url == f"{hub.url}/hub/home", page.url
        assert "Your courses" in page.text and "Server Options" not in page.text


def test_a_course_whose_language_cannot_run_here_says_so_on_its_row(hub):
    # physics77 is a Julia course: no Julia on this machine (Debian has none), so it runs
    # Python and its row says so; stat20's R runs R where Debian's R is installed.
    from campushub.local import local_runtime

    julia = hub.login("uma").get(f"{hub.url}/hub/home", timeout=60)
    row = re.search(r'data-server-name="physics77">(.*?)</tr>', julia.text, re.S)
    assert row and "no julia on this machine" in row.group(1)
    assert "runs Python here" in row.group(1)
    r_row = hub.login("alan").get(f"{hub.url}/hub/home", timeout=60)
    row = re.search(r'data-server-name="stat20">(.*?)</tr>', r_row.text, re.S)
    assert row is not None
    assert ("campushub-here" in row.group(1)) == (local_runtime("r").kernel is None)


def test_a_pull_link_before_the_servers_own_sign_in_redirects_cleanly(hub, git_server):
    # The first request to a course server has no cookie of the server's yet: nbgitpuller's
    # handler (behind the pull guard) answers with the server's sign-in, no error logged.
    session = hub.login("ada")
    started = hub.api("POST", "/users/ada/servers/data8")
    assert started.status_code in (201, 202, 400)
    hub.wait_for_server("ada", "data8")
    query = urllib.parse.urlencode({"repo": git_server.demo_repo_url, "branch": "main"})
    first = session.get(
        f"{hub.url}/user/ada/data8/git-pull?{query}", allow_redirects=False, timeout=60
    )
    assert first.status_code == 302
    assert "/hub/api/oauth2/authorize" in first.headers["Location"]
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # the server's log reaches the file a moment later
        log = hub.process.log_tail(400)
        assert "can't be used in 'await' expression" not in log
        time.sleep(0.5)
    assert hub.api("DELETE", "/users/ada/servers/data8").status_code in (202, 204)
