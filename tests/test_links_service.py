"""The links service: its database, its remote check against the real git server, and the
service itself, started by the real hub from the reference configuration, with the local
spawner and real nbgitpuller.

A student opens a link and finds the repository's file in their course server's folder; a
second open after an upstream change brings the change; a non-member gets a page naming the
course and whom to ask; an instructor makes a link on the page in a real browser and a
student clicks it into JupyterLab.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import jinja2
import pytest
import requests

from campushub.catalog import load_catalog
from campushub.demo import launch
from campushub.services.links import rules
from campushub.services.links.app import TEMPLATES
from campushub.services.links.demo import demo_link
from campushub.services.links.remote import check_remote
from campushub.services.links.rules import LinkTarget
from campushub.services.links.store import LinkStore, database_url

DOCS_INSTRUCTORS = Path(__file__).resolve().parent.parent / "docs" / "instructors"
NOTEBOOK = "lab01.ipynb"
XSS = '<script>alert("x")</script>'


def target(repo: str, **changes: str) -> rules.LinkTarget:
    fields = {"course": "data8", "repo": repo, "branch": "main", "path": NOTEBOOK, "app": "lab"}
    return rules.LinkTarget(**{**fields, **changes})


# -- the store -----------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new links database: SQLite in a file (the default), and on a real PostgreSQL
    server (tests/postgres.py), as CAMPUSHUB_LINKS_DB_URL names one."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgres").new_database("links")
    (tmp_path / "state").mkdir()
    return database_url(tmp_path / "state")


def test_store_creates_its_schema_and_keeps_links(store_url):
    url = store_url
    store = LinkStore(url)
    made = store.create(target("https://github.com/data-8/a"), "ines")
    assert len(made.id) == rules.LINK_ID_LENGTH and rules.check_link_id(made.id)
    store.close()

    reopened = LinkStore(url)  # the schema exists already: opening again is fine
    link = reopened.get(made.id)
    assert link is not None
    assert (link.course, link.repo, link.created_by, link.removed) == (
        "data8",
        "https://github.com/data-8/a",
        "ines",
        False,
    )
    assert link.created.tzinfo is not None
    assert reopened.get("nope") is None
    reopened.close()


def test_store_counts_opens_and_distinct_people(store_url):
    store = LinkStore(store_url)
    link = store.create(target("https://github.com/data-8/a"), "ines")
    other = store.create(target("https://github.com/data-8/b"), "ines")
    for person in ("ada", "ada", "grace", "ada"):
        store.record_open(link.id, person)
    assert (store.get(link.id).opens, store.get(link.id).people) == (4, 2)
    assert (store.get(other.id).opens, store.get(other.id).people) == (0, 0)
    listed = {item.id: (item.opens, item.people) for item in store.list(["data8"])}
    assert listed == {link.id: (4, 2), other.id: (0, 0)}


def test_store_repoints_removes_and_lists_by_course(store_url):
    store = LinkStore(store_url)
    link = store.create(target("https://github.com/data-8/a"), "ines")
    stat = store.create(target("https://github.com/x/y", course="stat20"), "sam")
    moved = store.update(link.id, "tom", target=target("https://github.com/data-8/b", path=""))
    assert moved is not None and moved.id == link.id
    assert (moved.repo, moved.path, moved.updated_by, moved.created_by) == (
        "https://github.com/data-8/b",
        "",
        "tom",
        "ines",
    )
    with pytest.raises(ValueError, match="stays in its course"):
        store.update(link.id, "tom", target=target("https://github.com/x/y", course="stat20"))
    assert [item.id for item in store.list(["stat20"])] == [stat.id]
    store.update(link.id, "tom", removed=True)
    assert store.list(["data8"]) == []
    assert [item.id for item in store.list(["data8"], include_removed=True)] == [link.id]
    assert store.get(link.id).removed is True
    assert store.update("missing", "tom", removed=True) is None
    assert store.list([]) == []


def test_store_find_reuses_a_link(store_url):
    store = LinkStore(store_url)
    wanted = target("https://github.com/data-8/a")
    assert store.find(wanted, "demo") is None
    made = store.create(wanted, "demo")
    assert store.find(wanted, "demo").id == made.id
    assert store.find(wanted, "someone else") is None


# -- pages are escaped ---------------------------------------------------------------------------


def test_templates_escape_catalog_titles_and_values():
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    catalog = load_catalog(launch.DEMO_CATALOG)
    course = catalog.courses["data8"]

    class Hostile:
        slug = "data8"
        title = XSS

    page = environment.get_template("not_member.html").render(
        course=Hostile(),
        ask=rules.whom_to_ask(course, [XSS]),
        prefix="/services/links/",
        hub_home="/hub/home",
        static=lambda name: name,
        person=XSS,
    )
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


# -- the remote check, against the real git server -----------------------------------------------


def test_remote_check_accepts_what_the_repository_has(git_server):
    problems = asyncio.run(check_remote(target(git_server.demo_repo_url), timeout=30))
    assert problems == []
    assert asyncio.run(check_remote(target(git_server.demo_repo_url, path=""), 30)) == []


def test_remote_check_names_a_missing_branch_or_file(git_server):
    (problem,) = asyncio.run(check_remote(target(git_server.demo_repo_url, branch="fa27"), 30))
    assert problem.field == "branch"
    assert problem.message == "'fa27' is not a branch of the repository (its branches: main)"
    (problem,) = asyncio.run(check_remote(target(git_server.demo_repo_url, path="lab99.ipynb"), 30))
    assert problem.field == "path"
    assert "'lab99.ipynb' is not in branch 'main'" in problem.message


def test_remote_check_reports_an_unreachable_repository(git_server):
    (problem,) = asyncio.run(check_remote(target(git_server.url + "missing.git"), 30))
    assert problem.field == "repo"
    assert problem.message.startswith("cannot be read as a public git repository")


def test_remote_check_gives_up_after_its_timeout():
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        repo = f"http://127.0.0.1:{port}/course.git"
        (problem,) = asyncio.run(check_remote(target(repo), timeout=1.5))
    assert time.monotonic() - started < 10
    assert problem.field == "repo"
    assert "did not answer within 2 s" in problem.message


# -- the service, on the real hub ----------------------------------------------------------------


def form_token(page: requests.Response) -> str:
    match = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    assert match, page.text[:2000]
    return match.group(1)


def field_problems(page: requests.Response) -> dict[str, str]:
    found = re.findall(r'<p class="problem" id="problem-(\w+)" role="alert">([^<]*)</p>', page.text)
    return {name: message for name, message in found}


def service_login(hub, name: str) -> requests.Session:
    """A hub session that has also logged in to the links service (its OAuth cookie)."""
    session = hub.login(name)
    session.get(f"{hub.url}/services/links/", timeout=30)
    return session


def make_link(hub, session: requests.Session, **fields: str) -> requests.Response:
    page = session.get(f"{hub.url}/services/links/", timeout=30)
    assert page.status_code == 200, page.text[:2000]
    data = {"_xsrf": form_token(page), "course": "data8", "branch": "main", "app": "lab"}
    return session.post(f"{hub.url}/services/links/", data={**data, **fields}, timeout=60)


def open_link(hub, session: requests.Session, name: str, link_id: str) -> dict[str, str]:
    """Open a short link as a browser would, up to nbgitpuller's page; then run the pull that
    page's script runs. Returns nbgitpuller's parameters."""
    response = session.get(f"{hub.url}/services/links/l/{link_id}", timeout=120)
    if "/hub/spawn-pending/" in response.url:
        hub.wait_for_server(name, "data8")
        response = session.get(response.url, timeout=60)  # the pending page goes on to next
    assert response.status_code == 200, (response.url, response.text[:2000])
    path, _, query = response.url.partition("?")
    assert path == f"{hub.url}/user/{name}/data8/git-pull", response.url
    params = dict(urllib.parse.parse_qsl(query))
    pull = {key: params[key] for key in ("repo", "branch", "targetpath")}
    stream = session.get(f"{hub.url}/user/{name}/data8/git-pull/api", params=pull, timeout=120)
    assert '"phase": "finished"' in stream.text, stream.text[-2000:]
    return params


@pytest.fixture(scope="module")
def link_id(hub, git_server) -> str:
    """A link to the demo notebook, made by ines on the generator page."""
    session = hub.login("ines")
    made = make_link(hub, session, repo=git_server.demo_repo_url, path=NOTEBOOK)
    assert made.status_code == 200, made.text[:2000]
    match = re.search(r"/services/links/manage/(\w+)\?created=1$", made.url)
    assert match, made.url
    return match.group(1)


def test_service_is_started_by_the_hub_and_needs_a_hub_login(hub):
    assert "/services/links/" in hub.api("GET", "/proxy").json()
    response = requests.get(f"{hub.url}/services/links/", allow_redirects=False, timeout=30)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/hub/api/oauth2/authorize?client_id=")


def service_token(hub) -> str:
    """The links service's own hub API token, read from its process's environment."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            if b"campushub.services.links.app" not in command:
                continue
            if f"--public-url={hub.url}".encode() not in command:
                continue
            raw = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        environment = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
        return environment["JUPYTERHUB_API_TOKEN"]
    raise AssertionError("the links service's process was not found")


def test_service_holds_only_the_scopes_it_needs(hub, link_id):
    headers = {"Authorization": f"token {service_token(hub)}"}
    own = requests.get(f"{hub.url}/hub/api/user", headers=headers, timeout=30).json()
    assert own["kind"] == "service" and own["name"] == "links"
    # Reading the instructors groups of the catalog's courses, and nothing else.
    pattern = r"read:groups(:name)?!group=course:(?P<slug>[a-z0-9-]+):instructors"
    matches = [re.fullmatch(pattern, scope) for scope in own["scopes"]]
    assert all(matches), own["scopes"]
    assert {match["slug"] for match in matches if match} == {"data8", "physics77", "stat20"}
    group = requests.get(
        f"{hub.url}/hub/api/groups/course:data8:instructors", headers=headers, timeout=30
    )
    assert group.status_code == 200 and group.json()["users"] == ["ines"]
    for path in ("/users", "/users/ada", "/groups/course:data8:students"):
        denied = requests.get(f"{hub.url}/hub/api{path}", headers=headers, timeout=30)
        assert denied.status_code in (403, 404), path


def test_instructor_gets_the_short_and_the_plain_link(hub, git_server, link_id):
    session = hub.login("ines")
    page = session.get(f"{hub.url}/services/links/manage/{link_id}", timeout=30)
    assert page.status_code == 200
    short = re.search(r'id="short-link" readonly value="([^"]+)"', page.text).group(1)
    plain = re.search(r'id="plain-link" readonly value="([^"]+)"', page.text).group(1)
    assert short == f"{hub.url}/services/links/l/{link_id}"
    plain = plain.replace("&amp;", "&")
    assert plain.startswith(f"{hub.url}/hub/user-redirect/data8/git-pull?")
    query = dict(urllib.parse.parse_qsl(plain.partition("?")[2]))
    assert query == {
        "repo": git_server.demo_repo_url,
        "branch": "main",
        "targetpath": "course-materials",
        "urlpath": "lab/tree/course-materials/lab01.ipynb",
    }
    assert 'id="copy-short"' in page.text and 'id="copy-plain"' in page.text


def test_student_opens_a_link_and_the_file_is_in_their_course_server(hub, link_id):
    session = hub.login("ada")
    params = open_link(hub, session, "ada", link_id)
    assert params["urlpath"] == "lab/tree/course-materials/lab01.ipynb"
    notebook = hub.settings.state_dir / "homes" / "ada" / "data8" / "course-materials" / NOTEBOOK
    assert "Lab 1: Hello, campus" in notebook.read_text()
    # The file is in the course server's own folder, which its contents API serves.
    contents = session.get(
        f"{hub.url}/user/ada/data8/api/contents/course-materials/{NOTEBOOK}", timeout=30
    )
    assert contents.status_code == 200 and contents.json()["type"] == "notebook"


def push_change(git_server, old: str, new: str) -> None:
    """Commit a change to the demo repository upstream (a clone pushed by file path)."""
    bare = git_server.root / launch.DEMO_REPO_NAME
    with tempfile.TemporaryDirectory() as work:
        clone = Path(work) / "clone"
        git = ["git", "-c", "user.name=ines", "-c", "user.email=ines@campus.example.edu"]
        subprocess.run([*git, "clone", "-q", str(bare), str(clone)], check=True)
        notebook = clone / NOTEBOOK
        notebook.write_text(notebook.read_text().replace(old, new))
        subprocess.run([*git, "commit", "-q", "-am", "Update lab 1"], cwd=clone, check=True)
        subprocess.run([*git, "push", "-q", "origin", "HEAD:main"], cwd=clone, check=True)


def test_a_second_open_after_an_upstream_change_brings_the_change(hub, git_server, link_id):
    session = hub.login("ada")
    open_link(hub, session, "ada", link_id)  # the server may be running already
    push_change(git_server, "Lab 1: Hello, campus", "Lab 1: Hello again, campus")
    open_link(hub, session, "ada", link_id)
    notebook = hub.settings.state_dir / "homes" / "ada" / "data8" / "course-materials" / NOTEBOOK
    assert "Lab 1: Hello again, campus" in notebook.read_text()

    staff = hub.login("ines")
    staff.get(f"{hub.url}/services/links/", timeout=30)
    (link,) = [
        item
        for item in staff.get(f"{hub.url}/services/links/api/links", timeout=30).json()["links"]
        if item["id"] == link_id
    ]
    assert link["people"] == 1 and link["opens"] >= 3


def test_non_member_gets_a_page_naming_the_course_and_whom_to_ask(hub, link_id):
    session = hub.login("alan")  # stat20 only
    page = session.get(f"{hub.url}/services/links/l/{link_id}", timeout=60)
    assert page.status_code == 403
    assert "You are not in DATA 8: Foundations of Data Science" in page.text
    assert "ask its instructors (ines) to check your enrollment" in " ".join(page.text.split())
    assert "data8" not in hub.api("GET", "/users/alan").json()["servers"]


def test_removed_and_unknown_links_get_a_404_page(hub, git_server):
    staff = hub.login("tom")  # a TA of data8
    made = make_link(hub, staff, repo=git_server.demo_repo_url, path="README.md")
    removed_id = made.url.split("/manage/")[1].split("?")[0]
    page = staff.get(made.url, timeout=30)
    removed = staff.post(
        f"{hub.url}/services/links/manage/{removed_id}",
        data={"_xsrf": form_token(page), "action": "remove"},
        timeout=30,
    )
    assert removed.status_code == 200 and 'id="removed"' in removed.text

    student = hub.login("ada")
    gone = student.get(f"{hub.url}/services/links/l/{removed_id}", timeout=30)
    assert gone.status_code == 404
    assert "This link no longer works" in gone.text
    unknown = student.get(f"{hub.url}/services/links/l/Nope1234", timeout=30)
    assert unknown.status_code == 404
    assert "There is no link &#39;Nope1234&#39;." in unknown.text


def test_staff_re_point_a_link_and_the_short_link_keeps_working(hub, git_server):
    staff = hub.login("ines")
    made = make_link(hub, staff, repo=git_server.demo_repo_url, path=NOTEBOOK)
    link = made.url.split("/manage/")[1].split("?")[0]
    page = staff.get(made.url, timeout=30)
    bad = staff.post(
        f"{hub.url}/services/links/manage/{link}",
        data={
            "_xsrf": form_token(page),
            "repo": git_server.demo_repo_url,
            "branch": "fa27",
            "path": NOTEBOOK,
            "app": "lab",
        },
        timeout=60,
    )
    assert bad.status_code == 400
    assert field_problems(bad)["branch"].startswith("&#39;fa27&#39; is not a branch")
    moved = staff.post(
        f"{hub.url}/services/links/manage/{link}",
        data={
            "_xsrf": form_token(page),
            "action": "update",
            "repo": git_server.demo_repo_url,
            "branch": "main",
            "path": "README.md",
            "app": "notebook",
        },
        timeout=60,
    )
    assert moved.status_code == 200 and moved.url.endswith(f"/manage/{link}?updated=1")

    student = service_login(hub, "grace")
    opened = student.get(f"{hub.url}/services/links/l/{link}", allow_redirects=False, timeout=30)
    assert opened.status_code == 302
    location = opened.headers["Location"]
    assert location.startswith("/hub/spawn/grace/data8?next=")
    next_url = urllib.parse.parse_qs(location.partition("?")[2])["next"][0]
    assert dict(urllib.parse.parse_qsl(next_url.partition("?")[2]))["urlpath"] == (
        "tree/course-materials/README.md"
    )


def test_staff_form_checks_every_field_and_escapes_what_it_shows(hub, git_server):
    session = hub.login("ines")
    made = make_link(
        hub,
        session,
        repo=f"https://evil.example/{XSS}",
        branch=f"main{XSS}",
        path=f"../{XSS}",
        app=XSS,
        course="data8",
    )
    assert made.status_code == 400
    assert "<script>" not in made.text
    # The branch is valid for git (which allows <, > and quotes); it is escaped like the rest.
    assert set(field_problems(made)) == {"repo", "path", "app"}
    assert 'value="main&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"' in made.text
    other = make_link(hub, session, repo=git_server.demo_repo_url, course="stat20")
    assert other.status_code == 400
    assert field_problems(other)["course"].startswith("you do not teach STAT 20")
    missing = make_link(hub, session, repo=git_server.demo_repo_url, path="lab99.ipynb")
    assert missing.status_code == 400
    assert "is not in branch &#39;main&#39;" in field_problems(missing)["path"]


def test_query_parameters_and_link_ids_are_escaped_and_never_redirect_elsewhere(hub, link_id):
    session = hub.login("ines")
    page = session.get(
        f"{hub.url}/services/links/", params={"course": XSS, "next": XSS}, timeout=30
    )
    assert page.status_code == 200 and "<script>alert" not in page.text
    for path in (f"l/{urllib.parse.quote(XSS)}", f"manage/{urllib.parse.quote(XSS)}"):
        response = session.get(f"{hub.url}/services/links/{path}", timeout=30)
        assert response.status_code == 404
        assert "<script>alert" not in response.text
    student = service_login(hub, "ada")
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        opened = student.get(
            f"{hub.url}/services/links/l/{link_id}",
            params={"next": evil, "url": evil},
            allow_redirects=False,
            timeout=30,
        )
        assert opened.status_code == 302
        assert opened.headers["Location"].startswith("/hub/spawn/ada/data8?next=%2Fuser%2Fada%2F")
    for path in ("//evil.example/", "/%2F%2Fevil.example", "static/..%2F..%2Fevil"):
        response = student.get(
            f"{hub.url}/services/links/{path}", allow_redirects=False, timeout=30
        )
        assert response.status_code in (403, 404), path
        assert "evil.example" not in response.headers.get("Location", "")


def test_forms_need_the_xsrf_token(hub):
    session = hub.login("ines")
    session.get(f"{hub.url}/services/links/", timeout=30)
    response = session.post(
        f"{hub.url}/services/links/",
        data={"course": "data8", "repo": "x", "branch": "main", "app": "lab"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 403
    api = session.post(f"{hub.url}/services/links/api/links", json={}, timeout=30)
    assert api.status_code == 403
    # Any Authorization header that is not a valid token leaves the write cookie-borne:
    # it still needs the XSRF token.
    for header in ("token not-a-token", "Bearer x", "x"):
        bogus = session.post(
            f"{hub.url}/services/links/api/links",
            json={},
            headers={"Authorization": header},
            timeout=30,
        )
        assert bogus.status_code == 403, header
        assert "XSRF" in bogus.text or "xsrf" in bogus.text


def test_json_nested_deep_is_a_400_and_the_service_keeps_going(hub):
    hub.login("tom")
    api = requests.Session()
    api.headers["Authorization"] = f"token {user_token(hub, 'tom')}"
    deep = "[" * 100_000 + "]" * 100_000
    response = api.post(
        f"{hub.url}/services/links/api/links",
        data=deep,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 400
    assert response.json()["message"] == "the body must be a JSON object"
    assert api.get(f"{hub.url}/services/links/api/links", timeout=30).status_code == 200


def test_a_token_in_the_query_is_never_written_to_the_log(hub):
    hub.login("ada")
    token = user_token(hub, "ada")  # a student: refused by the API with a 403
    for path in ("/services/links/api/links", "/services/scaler/api/plan"):
        response = requests.get(f"{hub.url}{path}?token={token}", timeout=30)
        assert response.status_code == 403
    assert token not in hub.process.log_path.read_text(errors="replace")


def test_students_cannot_make_links_and_administrators_can_for_every_course(hub):
    student = hub.login("ada")
    page = student.get(f"{hub.url}/services/links/", timeout=30)
    assert page.status_code == 403 and "you teach no course" in page.text
    admin = hub.login("dana")
    page = admin.get(f"{hub.url}/services/links/", timeout=30)
    assert page.status_code == 200
    offered = re.findall(r'<option value="([a-z0-9-]+)"(?: selected)?>[^<]*\(', page.text)
    assert offered == ["data8", "physics77", "stat20"]


def user_token(hub, name: str) -> str:
    response = hub.api("POST", f"/users/{name}/tokens", json={"note": "links API test"})
    assert response.status_code == 201, response.text
    return response.json()["token"]


def test_json_api_creates_lists_and_updates_links_under_the_same_rules(hub, git_server):
    hub.login("tom")  # the hub knows tom and his groups
    api = requests.Session()
    api.headers["Authorization"] = f"token {user_token(hub, 'tom')}"
    base = f"{hub.url}/services/links/api/links"
    body = {"course": "data8", "repo": git_server.demo_repo_url, "branch": "main", "app": "lab"}
    created = api.post(base, json={**body, "path": NOTEBOOK}, timeout=60)
    assert created.status_code == 201, created.text
    link = created.json()
    assert link["short_url"] == f"{hub.url}/services/links/l/{link['id']}"
    assert link["plain_url"].startswith(f"{hub.url}/hub/user-redirect/data8/git-pull?")
    assert (link["created_by"], link["opens"], link["people"]) == ("tom", 0, 0)

    listed = api.get(base, params={"course": "data8"}, timeout=30).json()["links"]
    assert link["id"] in [item["id"] for item in listed]
    assert api.get(base, params={"course": "stat20"}, timeout=30).status_code == 403

    refused = api.post(
        base, json={**body, "repo": "https://user:pw@evil.example/x", "branch": "a..b"}, timeout=30
    )
    assert refused.status_code == 400
    fields = {problem["field"] for problem in refused.json()["problems"]}
    assert fields == {"repo", "branch"}
    assert "user:pw" not in refused.text  # credentials are not echoed
    other_course = api.post(base, json={**body, "course": "stat20"}, timeout=30)
    assert other_course.status_code == 400
    assert other_course.json()["problems"][0]["field"] == "course"
    not_json = api.post(base, data="{not json", timeout=30)
    assert not_json.status_code == 400

    one = f"{base}/{link['id']}"
    moved = api.patch(one, json={"path": "README.md", "app": "notebook"}, timeout=60)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["id"], moved.json()["path"], moved.json()["updated_by"]) == (
        link["id"],
        "README.md",
        "tom",
    )
    assert api.patch(one, json={"course": "stat20"}, timeout=30).status_code == 400
    assert api.patch(one, json={"branch": "fa27"}, timeout=60).json()["problems"] == [
        {
            "field": "branch",
            "message": "'fa27' is not a branch of the repository (its branches: main)",
        }
    ]
    assert api.patch(one, json={"removed": True}, timeout=30).json()["removed"] is True
    assert api.get(one, timeout=30).json()["removed"] is True
    assert api.get(f"{base}/nope", timeout=30).status_code == 404

    hub.login("ada")
    student = requests.Session()
    student.headers["Authorization"] = f"token {user_token(hub, 'ada')}"
    assert student.get(base, timeout=30).json() == {"links": []}
    assert student.post(base, json=body, timeout=30).status_code == 400
    assert student.get(one, timeout=30).status_code == 403
    assert requests.get(base, timeout=30).status_code == 403  # no token, no cookie


def test_demo_link_is_made_once_and_opens_like_any_other(hub, git_server):
    links_dir = hub.settings.state_dir / "links"
    first = demo_link(links_dir, hub.settings.catalog, git_server.demo_repo_url)
    assert demo_link(links_dir, hub.settings.catalog, git_server.demo_repo_url) == first
    student = service_login(hub, "ada")
    opened = student.get(f"{hub.url}/services/links/l/{first}", allow_redirects=False, timeout=30)
    assert opened.status_code == 302
    assert opened.headers["Location"].startswith("/hub/spawn/ada/data8?next=")


@pytest.mark.browser
def test_instructor_makes_a_link_in_a_browser_and_a_student_clicks_it(hub, git_server, browser):
    shots = (
        DOCS_INSTRUCTORS
        if os.environ.get("CAMPUSHUB_SCREENSHOTS")
        else hub.settings.state_dir / "screenshots"
    )
    shots.mkdir(parents=True, exist_ok=True)

    staff = browser.new_context(viewport={"width": 1100, "height": 900})
    page = staff.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{hub.url}/services/links/")
    page.get_by_role("button", name="ines", exact=True).click()
    page.wait_for_url(f"{hub.url}/services/links/")
    page.locator("#course").select_option("data8")
    page.locator("#repo").fill(git_server.demo_repo_url)
    page.locator("#branch").fill("main")
    page.locator("#path").fill(NOTEBOOK)
    page.locator("#app").select_option("lab")
    page.screenshot(path=str(shots / "links-generator.png"), full_page=True)
    page.locator("#make").click()
    page.wait_for_url(re.compile(r".*/services/links/manage/\w+\?created=1$"))
    short = page.locator("#short-link").input_value()
    assert short.startswith(f"{hub.url}/services/links/l/")
    page.locator("#copy-short").click()
    page.get_by_role("button", name="Copied").wait_for()
    page.screenshot(path=str(shots / "links-made.png"), full_page=True)
    staff.close()

    student = browser.new_context(viewport={"width": 1100, "height": 800})
    page = student.new_page()
    page.set_default_timeout(120_000)
    page.goto(short)
    page.get_by_role("button", name="ada", exact=True).click()
    page.wait_for_url(f"{hub.url}/user/ada/data8/lab/**", timeout=120_000)
    tab = page.locator(".lm-TabBar-tabLabel", has_text=NOTEBOOK).first
    tab.wait_for(timeout=120_000)
    heading = page.locator(".jp-NotebookPanel .jp-RenderedMarkdown h1").first
    heading.wait_for(timeout=60_000)
    assert "Lab 1: Hello" in heading.inner_text()
    page.screenshot(path=str(shots / "links-student-lab.png"))
    student.close()

    outsider = browser.new_context(viewport={"width": 1100, "height": 600})
    page = outsider.new_page()
    page.set_default_timeout(60_000)
    page.goto(short)
    page.get_by_role("button", name="alan", exact=True).click()
    page.locator("#not-member-title").wait_for()
    page.screenshot(path=str(shots / "links-not-in-course.png"))
    outsider.close()


def test_opens_are_counted_per_link(hub, link_id):
    session = hub.login("ines")
    page = session.get(f"{hub.url}/services/links/manage/{link_id}", timeout=30)
    counts = re.search(r'<p id="counts">(.*?)</p>', page.text, re.S).group(1)
    assert re.sub(r"\s+", " ", re.sub("<[^>]+>", "", counts)).startswith("Opened ")
    listing = session.get(f"{hub.url}/services/links/", timeout=30)
    assert f'id="link-{link_id}"' in listing.text
    row = listing.text.split(f'id="link-{link_id}"', 1)[1].split("</tr>", 1)[0]
    assert re.search(r'class="opens"[^>]*>\d+ by 1<', row)


def test_catalog_text_and_settings_reach_the_service(hub):
    # The service reads the hub's catalog (its environment names it) and shows its titles.
    session = hub.login("ines")
    page = session.get(f"{hub.url}/services/links/", timeout=30)
    assert "DATA 8: Foundations of Data Science (data8)" in page.text
    assert "http://127.0.0.1:" in page.text  # the course's allowed repositories


def test_the_form_offers_and_the_service_accepts_only_the_courses_apps(hub, git_server):
    # data8's image (python) has JupyterLab and Jupyter Notebook, not RStudio.
    session = hub.login("ines")
    page = session.get(f"{hub.url}/services/links/", timeout=30)
    options = dict(re.findall(r'<option value="(\w+)" data-courses="([\w ]*)"', page.text))
    assert options == {"lab": "data8", "notebook": "data8"}
    refused = make_link(hub, session, repo=git_server.demo_repo_url, path=NOTEBOOK, app="rstudio")
    assert refused.status_code == 400
    assert field_problems(refused)["app"] == (
        "RStudio is not in DATA 8: Foundations of Data Science&#39;s environment (python):"
        " it has JupyterLab, Jupyter Notebook"
    )


def test_a_link_to_an_app_the_image_no_longer_has_explains_itself(hub, git_server):
    # A link made when data8's image had RStudio (written as the service would have).
    store = LinkStore(database_url(hub.settings.state_dir / "links"))
    try:
        old = store.create(
            LinkTarget("data8", git_server.demo_repo_url, "main", NOTEBOOK, "rstudio"), "ines"
        )
    finally:
        store.close()
    session = hub.login("ada")
    page = session.get(f"{hub.url}/services/links/l/{old.id}", timeout=60)
    assert page.status_code == 409
    assert "This link opens RStudio, which DATA 8: Foundations of Data Science no longer has" in (
        page.text
    )
    assert "now has JupyterLab, Jupyter Notebook" in page.text
    instead = re.search(r'id="app-gone-instead" class="button" href="([^"]+)"', page.text)
    assert instead and instead.group(1) == f"/services/links/l/{old.id}?instead=lab"
    opened = session.get(f"{hub.url}{instead.group(1)}", allow_redirects=False, timeout=60)
    assert opened.status_code == 302
    assert "urlpath=lab%2Ftree" in urllib.parse.unquote(opened.headers["Location"])
    # Its staff see why on the link's page.
    staff = hub.login("ines")
    manage = staff.get(f"{hub.url}/services/links/manage/{old.id}", timeout=30)
    assert "which DATA 8: Foundations of Data Science&#39;s environment (python) no longer has" in (
        manage.text
    )
