"""Course servers on the real hub with the local spawner: one named server per course.

A student starts /user/<name>/<course>/ and gets that course's environment and default
URL; a non-member and a server name that is not a course get a 403 that says why, through
the REST API and the pages; the default server offers only the person's own courses; the
home page lists the person's courses (in a real browser).
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from pathlib import Path

import pytest
import requests

from campushub.local import local_runtime
from campushub.spawner import memory_cgroup_parent


@pytest.fixture(scope="module")
def personal_servers() -> bool:
    """This module's hub gives personal servers (``defaults.personal_server``)."""
    return True


def start(hub, name: str, server: str = "", **options) -> requests.Response:
    path = f"/users/{name}/servers/{server}" if server else f"/users/{name}/server"
    return hub.api("POST", path, json=options or None)


def test_student_starts_a_course_server_with_its_environment(hub):
    session = hub.login("grace")
    response = start(hub, "grace", "stat20")
    assert response.status_code in (201, 202), response.text
    hub.wait_for_server("grace", "stat20")

    home = hub.settings.state_dir / "homes" / "grace"
    assert (home / "stat20").is_dir()  # a working folder per person and course
    # stat20 is an R course whose image opens RStudio; with no RStudio on this machine the
    # local spawner opens JupyterLab instead, in the course's folder.
    lab = session.get(f"{hub.url}/user/grace/stat20/", timeout=60)
    assert lab.url.startswith(f"{hub.url}/user/grace/stat20/lab"), lab.url
    environment = server_environment(hub, "grace", "stat20")
    assert environment["CAMPUSHUB_COURSE"] == "stat20"
    assert environment["CAMPUSHUB_LANGUAGE"] == "r"
    assert environment["CAMPUSHUB_ROLE"] == "student"
    assert environment["CAMPUSHUB_TERM"] == "2026-27"
    assert environment["MEM_LIMIT"] == str(1024**3)  # stat20 inherits the 1Gi limit
    # An R course runs R where this machine has Debian's R and IRkernel (the set-up installs
    # them as root): its notebooks start the R kernel, and an R cell runs R.
    specs = session.get(f"{hub.url}/user/grace/stat20/api/kernelspecs", timeout=30).json()
    if local_runtime("r").kernel:
        assert specs["default"] == "ir" and "ir" in specs["kernelspecs"]
        assert run_r(session, f"{hub.url}/user/grace/stat20", "cat(R.version$language)") == "R"
    else:
        assert specs["default"].startswith("python")
    assert hub.api("DELETE", "/users/grace/servers/stat20").status_code in (202, 204)


def run_r(session: requests.Session, server: str, code: str, kernel_name: str = "ir") -> str:
    """Run ``code`` in a new R kernel (or ``kernel_name``'s) of ``server`` over its
    websocket; its stdout."""
    import asyncio

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    path = urllib.parse.urlsplit(server).path.rstrip("/") + "/"
    session.get(f"{server}/lab", timeout=60)  # the server's pages set its _xsrf cookie
    xsrf = next(
        (c.value for c in session.cookies if c.name == "_xsrf" and path.startswith(c.path)), ""
    )
    headers = {"X-XSRFToken": xsrf}
    kernel = session.post(
        f"{server}/api/kernels", json={"name": kernel_name}, headers=headers, timeout=60
    )
    assert kernel.status_code == 201, kernel.text
    kernel_id = kernel.json()["id"]
    cookies = "; ".join(f"{c.name}={c.value}" for c in session.cookies)

    async def execute() -> str:
        url = f"{server.replace('http', 'ws', 1)}/api/kernels/{kernel_id}/channels"
        connection = await websocket_connect(
            HTTPRequest(url, headers={"Cookie": cookies, "X-XSRFToken": xsrf})
        )
        message_id = uuid.uuid4().hex
        await connection.write_message(
            json.dumps(
                {
                    "header": {
                        "msg_id": message_id,
                        "msg_type": "execute_request",
                        "username": "test",
                        "session": uuid.uuid4().hex,
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {"code": code, "silent": False},
                    "channel": "shell",
                }
            )
        )
        out = []
        while True:
            raw = await asyncio.wait_for(connection.read_message(), 60)
            assert raw is not None, "the kernel's websocket closed"
            message = json.loads(raw)
            if message.get("parent_header", {}).get("msg_id") != message_id:
                continue
            if message["msg_type"] == "stream":
                out.append(message["content"]["text"])
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                connection.close()
                return "".join(out)

    try:
        return asyncio.run(execute())
    finally:
        session.delete(f"{server}/api/kernels/{kernel_id}", headers=headers, timeout=30)


def server_environment(hub, name: str, server: str) -> dict[str, str]:
    """The environment of the running server process, read from /proc by its pid."""
    state = hub.api("GET", f"/users/{name}")
    pid = state.json()["servers"][server]["state"]["pid"]
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_python_course_server_opens_jupyterlab_with_its_limits(hub):
    session = hub.login("ada")
    assert start(hub, "ada", "data8").status_code in (201, 202)
    hub.wait_for_server("ada", "data8")
    lab = session.get(f"{hub.url}/user/ada/data8/", timeout=60)
    assert lab.url.startswith(f"{hub.url}/user/ada/data8/lab")
    environment = server_environment(hub, "ada", "data8")
    assert environment["CAMPUSHUB_COURSE"] == "data8"
    assert environment["MEM_LIMIT"] == str(1024**3)
    assert environment["CPU_LIMIT"] == "0.5"
    parent = memory_cgroup_parent()
    if parent is None:
        pytest.skip("no memory cgroup on this machine: the limit is reported, not enforced")
    else:  # where the machine allows it, the limit is enforced
        pid = hub.api("GET", "/users/ada").json()["servers"]["data8"]["state"]["pid"]
        assert "campushub:ada:data8" in Path(f"/proc/{pid}/cgroup").read_text()
        cgroup = parent[0] / "campushub:ada:data8"
        assert int((cgroup / parent[1]).read_text()) == 1024**3
    assert hub.api("DELETE", "/users/ada/servers/data8").status_code in (202, 204)


def test_non_member_is_refused_with_the_reason_through_the_api(hub):
    hub.login("alan")  # stat20 only
    response = start(hub, "alan", "data8")
    assert response.status_code == 403
    assert "You are not in DATA 8" in response.json()["message"]
    assert "data8" not in hub.api("GET", "/users/alan").json()["servers"]
    # Refused before the hub recorded anything: no stopped entry uses up alan's limit.
    everything = hub.api("GET", "/users/alan?include_stopped_servers=1").json()["servers"]
    assert "data8" not in everything


def test_server_name_that_is_not_a_course_is_refused(hub):
    hub.login("alan")
    response = start(hub, "alan", "myproject")
    assert response.status_code == 403
    assert "'myproject' is not a course on this hub" in response.json()["message"]


def test_non_member_is_refused_with_the_reason_through_the_pages(hub):
    session = hub.login("alan")
    page = session.get(f"{hub.url}/hub/spawn/alan/data8", timeout=60)
    assert page.status_code == 403
    assert "You are not in DATA 8" in page.text


def test_default_server_offers_only_the_persons_courses(hub):
    session = hub.login("grace")
    form = session.get(f"{hub.url}/hub/spawn", timeout=60)
    assert form.status_code == 200
    assert 'value="data8"' in form.text and 'value="stat20"' in form.text
    assert 'value="general"' in form.text
    assert 'value="physics77"' not in form.text


def test_default_server_refuses_a_choice_the_form_would_not_offer(hub):
    hub.login("grace")
    response = start(hub, "grace", profile="physics77")
    assert response.status_code == 403
    assert "'physics77' is not one of your choices" in response.json()["message"]


@pytest.mark.browser
def test_home_page_lists_the_persons_courses_with_start(hub, browser):
    hub.login("tom")
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{hub.url}/hub/home")
    page.get_by_role("button", name="tom", exact=True).click()
    page.wait_for_url(f"{hub.url}/hub/home")
    rows = page.locator("#campushub-courses tr.campushub-course")
    assert rows.count() == 1
    assert "DATA 8: Foundations of Data Science" in rows.first.inner_text()
    assert rows.first.locator("td").nth(1).inner_text().strip() == "ta"
    page.locator("#start-data8").click()
    page.wait_for_url(f"{hub.url}/user/tom/data8/**", timeout=120_000)
    page.goto(f"{hub.url}/hub/home")
    page.locator("#open-data8").wait_for()
    page.locator("#stop-data8").click()
    page.locator("#start-data8").wait_for(timeout=60_000)
    context.close()


def test_home_page_offers_to_delete_servers_of_courses_left(hub, identity_provider):
    from campushub.demo.launch import demo_people, person_claims

    grace = next(person for person in demo_people() if person["sub"] == "grace")
    hub.login("grace")
    assert start(hub, "grace", "stat20").status_code in (201, 202)
    hub.wait_for_server("grace", "stat20")
    assert hub.api("DELETE", "/users/grace/servers/stat20").status_code in (202, 204)

    claims = person_claims(grace)
    claims["groups"] = ["course::1524699::enrollment_type::student"]  # left stat20
    identity_provider.set_claims("grace", claims)
    try:
        session = hub.login("grace")
        home = session.get(f"{hub.url}/hub/home", timeout=30).text
        courses, _, others = home.partition('id="campushub-other-servers"')
        assert 'data-server-name="data8"' in courses
        assert 'data-server-name="stat20"' in others
        assert 'id="delete-stat20"' in others
    finally:
        identity_provider.set_claims("grace", person_claims(grace))
