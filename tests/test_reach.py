"""campushub.reach on JupyterHub's own ORM (an SQLite database in a file, no hub process):
which staff role holds the scope of which course server, as servers start, people change
courses, the hub starts again, and a database of the previous release (with shares) is read."""

from __future__ import annotations

from pathlib import Path

import pytest
from jupyterhub import orm

from campushub.catalog import load_catalog
from campushub.demo import launch
from campushub.memberships import course_groups, staff_roles
from campushub.reach import (
    reach_roles,
    reach_scope,
    reach_scopes,
    remove_course_shares,
    set_server_reach,
    sync_owner_reach,
    sync_staff_roles,
)

PEOPLE = {
    "ada": {"data8": "student", "stat20": "student"},
    "tom": {"data8": "ta"},
    "ines": {"data8": "instructor"},
    "grace": {"stat20": "student"},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path):
    """The hub's database with the demo's people: SQLite in a file, and on a real PostgreSQL
    server (tests/postgres.py), as CAMPUSHUB_DB_URL names one."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").new_database("hub")
    else:
        url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    session = orm.new_session_factory(url)()
    catalog = load_catalog(launch.DEMO_CATALOG)
    for spec in staff_roles(catalog):
        session.add(orm.Role(name=spec["name"], scopes=spec["scopes"], managed_by_auth=True))
    groups: dict[str, orm.Group] = {}
    for name, memberships in PEOPLE.items():
        user = orm.User(name=name)
        session.add(user)
        for group in sorted(course_groups(memberships)):
            user.groups.append(groups.setdefault(group, orm.Group(name=group)))
        for course in memberships:
            session.add(orm.Spawner(user=user, name=course))
        session.add(orm.Spawner(user=user, name=""))
    session.commit()
    yield session
    session.close()


def holders(db, owner: str, server: str) -> set[str]:
    scope = reach_scope(owner, server)
    return {role.name for role in db.query(orm.Role) if scope in (role.scopes or [])}


def test_a_students_server_is_reached_by_the_courses_tas_and_instructors_only(db) -> None:
    # In the TA role, which the course's instructors hold too (memberships.user_roles): one
    # copy of each server's scope.
    assert set_server_reach(db, "ada", "data8", "student") == {"course-data8-ta"}
    assert holders(db, "ada", "data8") == {"course-data8-ta"}
    set_server_reach(db, "tom", "data8", "ta")
    assert holders(db, "tom", "data8") == {"course-data8-instructor"}
    set_server_reach(db, "ines", "data8", "instructor")
    assert holders(db, "ines", "data8") == set()
    # Starting again adds nothing twice; a server that is not a course's has no staff roles.
    set_server_reach(db, "ada", "data8", "student")
    role = orm.Role.find(db, "course-data8-ta")
    assert role.scopes.count(reach_scope("ada", "data8")) == 1
    assert set_server_reach(db, "ada", "notacourse", "student") == set()
    assert holders(db, "ada", "notacourse") == set()


def test_the_roster_scopes_stay_when_reach_changes(db) -> None:
    before = list(orm.Role.find(db, "course-data8-ta").scopes)
    set_server_reach(db, "ada", "data8", "student")
    set_server_reach(db, "ada", "data8", None)
    assert orm.Role.find(db, "course-data8-ta").scopes == before


def test_an_owner_who_changes_or_leaves_courses_is_reached_as_they_are_now(db) -> None:
    ada = orm.User.find(db, "ada")
    sync_owner_reach(db, ada, PEOPLE["ada"])
    assert holders(db, "ada", "data8") == {"course-data8-ta"}
    assert holders(db, "ada", "stat20") == {"course-stat20-ta"}
    assert holders(db, "ada", "") == set()
    sync_owner_reach(db, ada, {"data8": "ta"})  # became a data8 TA, left stat20
    assert holders(db, "ada", "data8") == {"course-data8-instructor"}
    assert holders(db, "ada", "stat20") == set()
    sync_owner_reach(db, ada, {})  # left everything (or blocked)
    assert holders(db, "ada", "data8") == set()


def test_the_start_works_every_roles_reach_out_from_the_database(db) -> None:
    catalog = load_catalog(launch.DEMO_CATALOG)
    scopes = reach_scopes(db, catalog.courses)
    assert scopes == {
        "course-data8-ta": [reach_scope("ada", "data8")],
        "course-data8-instructor": [reach_scope("tom", "data8")],
        "course-stat20-ta": [reach_scope("ada", "stat20"), reach_scope("grace", "stat20")],
    }
    blocked = reach_scopes(db, catalog.courses, blocked=["ada"])
    assert reach_scope("ada", "data8") not in blocked.get("course-data8-ta", [])
    roles = {role["name"]: role for role in staff_roles(catalog, scopes)}
    assert reach_scope("tom", "data8") in roles["course-data8-instructor"]["scopes"]
    assert "read:groups!group=course:data8:tas" in roles["course-data8-instructor"]["scopes"]


def test_the_previous_releases_shares_of_course_servers_are_removed(db) -> None:
    ada, tom = orm.User.find(db, "ada"), orm.User.find(db, "tom")
    for name in ("data8", ""):
        spawner = ada.orm_spawners[name]
        db.add(
            orm.Share(
                owner=ada,
                spawner=spawner,
                user=tom,
                scopes=[f"access:servers!server=ada/{name}"],
                created_at=orm.Share.now(),
            )
        )
    db.commit()
    catalog = load_catalog(launch.DEMO_CATALOG)
    assert remove_course_shares(db, catalog.courses) == 1
    remaining = db.query(orm.Share).all()
    assert [share.spawner.name for share in remaining] == [""]  # not a course server's


def test_reach_roles_follow_staff_reach() -> None:
    assert reach_roles("data8", "student") == {"course-data8-ta"}  # instructors hold it too
    assert reach_roles("data8", "ta") == {"course-data8-instructor"}
    assert reach_roles("data8", "instructor") == set()
    assert reach_roles("data8", None) == set()


def test_a_login_names_existing_staff_roles_without_scopes_so_none_are_written_back(db) -> None:
    """A server that starts while a login is under way adds its scope; the login must not
    write back the scopes it read before (JupyterHub keeps a role's scopes when a login's
    role names none)."""
    from traitlets.config import Configurable

    from campushub.auth import CampusAuthenticator

    hub = Configurable()
    hub.db = db  # what the authenticator uses of the hub here
    authenticator = CampusAuthenticator(
        parent=hub, catalog_path=str(launch.DEMO_CATALOG), verify_id_token=False
    )
    role = authenticator._login_role("course-data8-ta")
    assert "scopes" not in role and role["name"] == "course-data8-ta"
    assert authenticator._login_role("user")["scopes"]  # the user role is named in full
    db.delete(orm.Role.find(db, "course-stat20-ta"))  # JupyterHub: its last holder left
    db.commit()
    remade = authenticator._login_role("course-stat20-ta")["scopes"]  # made again in full,
    assert "read:groups!group=course:stat20:students" in remade
    assert {reach_scope("ada", "stat20"), reach_scope("grace", "stat20")} <= set(remade)
    assert not any("data8" in scope for scope in remade)  # with its own course's reach only

    from jupyterhub.roles import create_role

    set_server_reach(db, "ada", "data8", "student")
    create_role(db, {**authenticator._login_role("course-data8-ta")}, reset_to_defaults=False)
    assert reach_scope("ada", "data8") in orm.Role.find(db, "course-data8-ta").scopes


def test_reach_of_one_course_is_that_courses_part_of_everyones(db) -> None:
    catalog = load_catalog(launch.DEMO_CATALOG)
    everyone = reach_scopes(db, catalog.courses)
    for slug in ("data8", "stat20"):
        mine = {k: v for k, v in everyone.items() if k.startswith(f"course-{slug}-")}
        assert reach_scopes(db, catalog.courses, only=slug) == mine
    assert reach_scopes(db, catalog.courses, only="not-a-course") == {}


def test_the_start_works_the_reach_out_a_few_courses_at_a_time(db, monkeypatch) -> None:
    """The hub's start makes the staff roles' scopes SYNC_COURSES_AT_ONCE courses at a time
    (here one, so each course is a pass of its own): together the passes say exactly what
    reach_scopes says of everyone, blocked people's servers left out, each pass naming only
    its own courses' roles."""
    import campushub.reach as reach

    catalog = load_catalog(launch.DEMO_CATALOG)
    monkeypatch.setattr(reach, "SYNC_COURSES_AT_ONCE", 1)
    seen = {}
    for blocked in (set(), {"ada"}):
        together: dict[str, list[str]] = {}
        for part, chunk in reach._reach_by_course(db, list(catalog.courses), blocked):
            assert len(chunk) == 1
            assert {reach.staff_role_course(name) for name in part} <= set(chunk)
            together.update(part)
        assert together == reach_scopes(db, catalog.courses, blocked)
        seen[frozenset(blocked)] = together
    assert reach_scope("ada", "data8") in seen[frozenset()]["course-data8-ta"]
    assert reach_scope("ada", "data8") not in seen[frozenset({"ada"})].get("course-data8-ta", [])


def test_a_start_rewrites_no_role_whose_scopes_differ_only_in_order(db) -> None:
    """A server started while the hub ran adds its scope at the end of its role; the next
    start, which makes the scopes in order of their owners, finds the same scopes and writes
    nothing."""
    catalog = load_catalog(launch.DEMO_CATALOG)
    sync_staff_roles(db, catalog)
    role = orm.Role.find(db, "course-data8-ta")
    assert len(role.scopes) > 2
    role.scopes = list(reversed(role.scopes))
    db.commit()
    assert sync_staff_roles(db, catalog) == (0, 0, 0)
    role.scopes = role.scopes[:-1]  # one missing: worked out again
    db.commit()
    assert sync_staff_roles(db, catalog) == (0, 1, 0)


def test_the_start_brings_staff_roles_to_the_catalog_and_database_in_one_pass(db) -> None:
    """What load_managed_roles does at each start of the hub, in place of JupyterHub's
    per-role work: roles made, reach worked out again, roles of courses gone deleted with
    their holders, an operator's own role of the same kind of name left alone."""
    catalog = load_catalog(launch.DEMO_CATALOG)
    tom = orm.User.find(db, "tom")
    gone = orm.Role(name="course-oldcourse-ta", scopes=["self"], managed_by_auth=True)
    tom.roles.append(gone)
    ta = orm.Role.find(db, "course-data8-ta")
    tom.roles.append(ta)
    db.delete(orm.Role.find(db, "course-stat20-instructor"))
    db.add(orm.Role(name="course-review", scopes=["read:users"]))  # an operator's role
    db.commit()
    assert reach_scope("ada", "data8") not in ta.scopes  # nothing worked out yet

    created, changed, deleted = sync_staff_roles(db, catalog)
    assert (created, deleted) == (1, 1) and changed >= 3
    stored = {role.name: role for role in db.query(orm.Role)}
    assert "course-oldcourse-ta" not in stored and "course-review" in stored
    expected = {
        role["name"]: role["scopes"]
        for role in staff_roles(catalog, reach_scopes(db, catalog.courses))
    }
    assert {n: stored[n].scopes for n in expected} == expected
    assert all(stored[n].managed_by_auth for n in expected)
    assert [role.name for role in orm.User.find(db, "tom").roles] == ["course-data8-ta"]
    assert holders(db, "ada", "data8") == {"course-data8-ta"}
    assert sync_staff_roles(db, catalog) == (0, 0, 0)  # a start with nothing changed writes nothing

    blocked = sync_staff_roles(db, catalog, blocked=["ada"])
    assert blocked[1] > 0 and holders(db, "ada", "data8") == set()


def test_the_start_gives_instructors_of_an_earlier_release_the_ta_role(db) -> None:
    """An earlier campushub gave instructors their course's instructor role alone, which
    held the students' servers too; those are in the TA role now, which the start gives
    every instructor who holds the instructor role (not a blocked one, and not twice)."""
    catalog = load_catalog(launch.DEMO_CATALOG)
    set_server_reach(db, "ada", "data8", "student")
    ines = orm.User.find(db, "ines")
    ines.roles.append(orm.Role.find(db, "course-data8-instructor"))
    tom = orm.User.find(db, "tom")
    tom.roles.append(orm.Role.find(db, "course-data8-ta"))
    grace = orm.User.find(db, "grace")
    grace.roles.append(orm.Role.find(db, "course-stat20-instructor"))  # blocked below
    db.commit()
    assert sorted(role.name for role in ines.roles) == ["course-data8-instructor"]  # loaded

    sync_staff_roles(db, catalog, blocked=["grace"])
    assert sorted(role.name for role in ines.roles) == [
        "course-data8-instructor",
        "course-data8-ta",
    ]
    assert reach_scope("ada", "data8") in orm.Role.find(db, "course-data8-ta").scopes
    assert [role.name for role in tom.roles] == ["course-data8-ta"]
    assert [role.name for role in grace.roles] == ["course-stat20-instructor"]
    sync_staff_roles(db, catalog, blocked=["grace"])  # given once
    assert [role.name for role in ines.roles].count("course-data8-ta") == 1


def test_the_authenticator_keeps_the_roles_itself_at_the_hubs_start(db) -> None:
    """JupyterHub gets no roles to work through (load_managed_roles returns none) and the
    `user` role has user_scopes again after JupyterHub reset it to its default."""
    import asyncio

    from traitlets.config import Configurable

    from campushub.auth import CampusAuthenticator

    hub = Configurable()
    hub.db = db
    db.add(orm.Role(name="user", scopes=["self"]))
    db.commit()
    authenticator = CampusAuthenticator(
        parent=hub,
        catalog_path=str(launch.DEMO_CATALOG),
        verify_id_token=False,
        user_scopes=["self", "access:services!service=links"],
    )
    assert authenticator.reset_managed_roles_on_startup is False
    assert asyncio.run(authenticator.load_managed_roles()) == []
    user = orm.Role.find(db, "user")
    assert user.managed_by_auth and user.scopes == ["self", "access:services!service=links"]
    assert reach_scope("ada", "data8") in orm.Role.find(db, "course-data8-ta").scopes
    user.scopes = ["self"]  # what JupyterHub's init_role_creation does between the calls
    db.commit()
    assert asyncio.run(authenticator.load_managed_roles()) == []
    assert orm.Role.find(db, "user").scopes == ["self", "access:services!service=links"]


def test_resetting_managed_roles_at_start_is_refused() -> None:
    from campushub.auth import CampusAuthenticator

    with pytest.raises(ValueError, match="reset_managed_roles_on_startup must stay False"):
        CampusAuthenticator(
            catalog_path=str(launch.DEMO_CATALOG),
            verify_id_token=False,
            reset_managed_roles_on_startup=True,
        )
