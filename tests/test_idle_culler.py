"""The idle culler: jupyterhub-idle-culler, run by the reference configuration as a hub service,
stops a course server nobody uses, keeps the person, the server's record and its files, and
holds only the scopes culling needs.

This module's hub culls after a few seconds (CAMPUSHUB_CULL_TIMEOUT, CAMPUSHUB_CULL_EVERY) so
the test does not wait an hour.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import pytest

CULL_TIMEOUT = 4  # seconds without activity
CULL_EVERY = 2  # seconds between the culler's checks
# The idle-culler role in jupyterhub_config.py: list people, read their servers' activity,
# stop servers. Nothing that deletes people or reads their files.
CULLER_SCOPES = {"list:users", "read:users:activity", "read:servers", "delete:servers"}


@pytest.fixture(scope="module")
def hub_options() -> dict[str, Any]:
    return {
        "extra_env": {
            "CAMPUSHUB_CULL_TIMEOUT": str(CULL_TIMEOUT),
            "CAMPUSHUB_CULL_EVERY": str(CULL_EVERY),
        }
    }


def test_idle_course_server_is_culled_and_its_record_and_files_kept(hub):
    hub.login("ada")
    response = hub.api("POST", "/users/ada/servers/data8")
    assert response.status_code in (201, 202), response.text
    hub.wait_for_server("ada", "data8")
    folder = hub.settings.state_dir / "homes" / "ada" / "data8"
    (folder / "notes.txt").write_text("ada's work")

    # Nobody uses the server: within the timeout and a check or two it is stopped.
    deadline = time.monotonic() + CULL_TIMEOUT + 10 * CULL_EVERY + 20
    servers: dict[str, Any] = {}
    while time.monotonic() < deadline:
        servers = hub.api("GET", "/users/ada").json()["servers"]
        if "data8" not in servers:
            break
        time.sleep(0.5)  # polling interval
    assert "data8" not in servers, f"still running: {servers}\n{hub.process.log_tail()}"
    assert "Culling server ada/data8" in hub.process.log_path.read_text(errors="replace")

    # Stopped, not removed: ada, her course server's record and its folder all remain.
    person = hub.api("GET", "/users/ada?include_stopped_servers=1")
    assert person.status_code == 200
    assert person.json()["servers"]["data8"]["stopped"] is True
    assert (folder / "notes.txt").read_text() == "ada's work"


def test_idle_culler_holds_only_the_scopes_culling_needs(hub):
    database = hub.settings.state_dir / "jupyterhub.sqlite"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        roles = connection.execute(
            "SELECT roles.name, roles.scopes FROM roles"
            " JOIN service_role_map ON service_role_map.role_id = roles.id"
            " JOIN services ON services.id = service_role_map.service_id"
            " WHERE services.name = 'idle-culler'"
        ).fetchall()
    assert [name for name, _ in roles] == ["idle-culler"]
    assert set(json.loads(roles[0][1])) == CULLER_SCOPES
