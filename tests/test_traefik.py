"""The local campus behind the traefik proxy (CAMPUSHUB_PROXY=traefik: jupyterhub-traefik-proxy's
file provider and PyPI's traefik) instead of configurable-http-proxy: the hub, a course
server, a kernel's websocket and the links service all answer through it, and a stopped
server's route goes. benchmarks/proxy_load.py measures both proxies under a lecture's load."""

from __future__ import annotations

import shutil
import time
import uuid
from typing import Any

import pytest
import requests

from tests.test_course_servers import run_r, start

# The traefik proxy is the local campus's alternative (zero-to-jupyterhub deploys
# configurable-http-proxy, whose hub code every other hub test runs on both version sets).
NEWEST_VERSIONS_ONLY = True

pytestmark = pytest.mark.skipif(
    shutil.which("traefik") is None, reason="traefik is not installed (campushub[traefik])"
)


@pytest.fixture(scope="module")
def hub_options() -> dict[str, Any]:
    return {"extra_env": {"CAMPUSHUB_PROXY": "traefik"}}


def test_the_hub_runs_behind_traefik(hub) -> None:
    assert "traefik" in hub.process.log_tail(400).lower()
    assert not (hub.settings.state_dir / "jupyterhub-proxy.pid").exists()  # no CHP
    rules = (hub.settings.state_dir / "traefik-rules.toml").read_text()
    assert "/services/links/" in rules


def test_a_course_server_and_its_kernel_answer_through_traefik(hub) -> None:
    session = hub.login("ada")
    assert start(hub, "ada", "data8").status_code in (201, 202)
    hub.wait_for_server("ada", "data8")
    lab = session.get(f"{hub.url}/user/ada/data8/", timeout=60)
    assert lab.status_code == 200 and lab.url.startswith(f"{hub.url}/user/ada/data8/lab")
    server = f"{hub.url}/user/ada/data8"
    assert run_r(session, server, "print(6 * 7)", kernel_name="python3").strip() == "42"
    assert hub.api("DELETE", "/users/ada/servers/data8").status_code in (202, 204)
    deadline = time.monotonic() + 30
    while "/user/ada/data8/" in (hub.settings.state_dir / "traefik-rules.toml").read_text():
        assert time.monotonic() < deadline, "the stopped server's route stayed"
        time.sleep(0.25)  # polling interval


def test_the_links_service_answers_through_traefik(hub) -> None:
    session = hub.login("ines")
    page = session.get(f"{hub.url}/services/links/", timeout=60)
    assert page.status_code == 200 and "data8" in page.text
    anonymous = requests.get(
        f"{hub.url}/services/links/l/{uuid.uuid4().hex[:8]}", allow_redirects=False, timeout=30
    )
    assert anonymous.status_code == 302, anonymous.status_code  # to the hub's sign-in
