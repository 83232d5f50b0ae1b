"""The campus on PostgreSQL: the hub, the links service and the scaler each keep their records
in a real PostgreSQL server (Debian's, started by tests/postgres.py) instead of SQLite files,
through the reference configuration's CAMPUSHUB_DB_URL, CAMPUSHUB_LINKS_DB_URL and
CAMPUSHUB_SCALER_DB_URL; and the campus's life on it: sign-ins (the authenticator's groups
and roles), a course server (the spawner, and the reach of its course's staff), a link made
and opened, the scaler's enrollment kept, and the hub restarted on the same databases (the
restart suite's tests but restarting twice, run here against PostgreSQL).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import sqlalchemy

from campushub.reach import reach_scope
from tests import test_restart as restart_suite

# The restart suite's fixtures and tests, run here again on PostgreSQL.
hub_options = restart_suite.hub_options
day_begun = restart_suite.day_begun
restart = restart_suite.restart
test_the_hub_restarts_with_groups_roles_and_servers_intact = (
    restart_suite.test_the_hub_restarts_with_groups_roles_and_servers_intact
)
test_students_opening_a_link_across_a_restart_keep_their_sessions_and_counts = (
    restart_suite.test_students_opening_a_link_across_a_restart_keep_their_sessions_and_counts
)


@pytest.fixture(scope="module")
def databases(postgres) -> dict[str, str]:
    return {
        "CAMPUSHUB_DB_URL": postgres.new_database("hub"),
        "CAMPUSHUB_LINKS_DB_URL": postgres.new_database("links"),
        "CAMPUSHUB_SCALER_DB_URL": postgres.new_database("scaler"),
    }


def rows(url: str, query: str, **params: Any) -> list[tuple]:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sqlalchemy.text(query), params)]
    finally:
        engine.dispose()


def test_everything_is_kept_in_postgresql_not_in_files(hub, day_begun, databases) -> None:
    state = hub.settings.state_dir
    assert not (state / "jupyterhub.sqlite").exists()
    assert not list(state.glob("links/*.sqlite"))
    hub_db = databases["CAMPUSHUB_DB_URL"]
    people = {name for (name,) in rows(hub_db, "SELECT name FROM users")}
    assert {"ada", "tom", "ines", "dana"} <= people
    groups = rows(
        hub_db,
        "SELECT g.name FROM groups g JOIN user_group_map m ON m.group_id = g.id"
        " JOIN users u ON u.id = m.user_id WHERE u.name = :name ORDER BY g.name",
        name="tom",
    )
    assert ("course:data8:tas",) in groups


def test_staff_reach_a_running_course_server_through_roles_kept_in_postgresql(
    hub, day_begun, databases
) -> None:
    (scopes,) = rows(
        databases["CAMPUSHUB_DB_URL"], "SELECT scopes FROM roles WHERE name = 'course-data8-ta'"
    )[0]
    assert reach_scope("ada", "data8") in scopes
    holders = rows(
        databases["CAMPUSHUB_DB_URL"],
        "SELECT u.name FROM users u JOIN user_role_map m ON m.user_id = u.id"
        " JOIN roles r ON r.id = m.role_id WHERE r.name = 'course-data8-ta'",
    )
    # The TA and the instructor: instructors hold the TA role too (it holds students' servers).
    assert sorted(holders) == [("ines",), ("tom",)]


def test_the_scaler_keeps_enrollment_in_postgresql_and_reads_it_after_a_restart(
    hub, day_begun, databases
) -> None:
    url = databases["CAMPUSHUB_SCALER_DB_URL"]
    query = "SELECT body FROM campushub_scaler_state WHERE name = 'enrollment'"
    deadline = time.monotonic() + 90
    found: list[tuple] = []
    while time.monotonic() < deadline:
        try:
            found = rows(url, query)
        except sqlalchemy.exc.ProgrammingError:  # the table is made at the first write
            found = []
        if found:
            break
        time.sleep(0.5)  # polling interval
    assert found, "the scaler kept no enrollment in PostgreSQL"
    saved = json.loads(found[0][0])
    assert isinstance(saved["counts"], dict) and saved["read_at"]
    assert not (hub.settings.state_dir / "scaler" / "enrollment.json").exists()
    restart(hub)
    deadline = time.monotonic() + 60
    while "scaler: enrollment of" not in hub.process.log_tail(400):
        assert time.monotonic() < deadline, hub.process.log_tail(100)
        time.sleep(0.5)  # polling interval
    line = next(
        line for line in hub.process.log_tail(400).splitlines() if "scaler: enrollment of" in line
    )
    assert "postgresql://" in line and "course(s)" in line
