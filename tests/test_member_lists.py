"""campushub.auth.forget_member_lists on JupyterHub's own ORM (SQLite in a file and a real
PostgreSQL server, no hub process): a sign-in's group and role changes do not go through a
course's whole member list, lose nothing, and leave unwritten changes alone."""

from __future__ import annotations

from jupyterhub import orm
from sqlalchemy import event, inspect

from campushub.auth import forget_member_lists
from campushub.memberships import course_groups, user_roles
from tests.test_reach import db  # noqa: F401  (the fixture: the demo's people in a hub database)


def loaded(item: object) -> bool:
    return "users" in inspect(item).dict


def sign_in(db, name: str, memberships: dict[str, str]) -> orm.User:  # noqa: F811
    """What a sign-in does to the database: campushub's step, then JupyterHub's own
    ``sync_groups`` and ``sync_roles`` (the same assignments, without a hub)."""
    user = orm.User.find(db, name) or orm.User(name=name)
    db.add(user)
    groups, roles = course_groups(memberships), user_roles(memberships)
    forget_member_lists(db, user if user.id else None, groups, roles)
    user.groups = db.query(orm.Group).filter(orm.Group.name.in_(groups)).all()
    user.roles = db.query(orm.Role).filter(orm.Role.name.in_(roles)).all()
    db.commit()
    return user


def test_a_sign_in_does_not_load_or_keep_a_courses_member_list(db) -> None:  # noqa: F811
    db.add(orm.Role(name="user"))
    db.commit()
    group = orm.Group.find(db, "course:data8")
    ta_role = orm.Role.find(db, "course-data8-ta")
    # As the hub's /groups API leaves them: every member list read and kept in the session.
    assert {u.name for u in group.users} == {"ada", "tom", "ines"}
    assert ta_role.users == []
    reads: list[str] = []
    event.listen(db.get_bind(), "before_cursor_execute", lambda *a: reads.append(a[2]))

    sign_in(db, "grace", {"data8": "student", "stat20": "student"})  # joins data8
    sign_in(db, "tom", {"data8": "ta"})  # unchanged
    sign_in(db, "lin", {"data8": "ta"})  # a new person, a new TA
    # Nothing read a member list again: the changes were rows written, and the lists the
    # session held were let go rather than walked at each flush.
    assert not loaded(group) and not loaded(ta_role)
    lists = ("FROM users, user_group_map", "FROM users, user_role_map")
    assert not [sql for sql in reads if any(x in " ".join(sql.split()) for x in lists)]
    # Nothing is lost: read again, the lists hold everyone.
    assert {u.name for u in group.users} == {"ada", "tom", "ines", "grace", "lin"}
    assert {u.name for u in ta_role.users} == {"tom", "lin"}
    # Leaving a course is written too.
    other = orm.Group.find(db, "course:stat20")
    assert {u.name for u in other.users} == {"ada", "grace"}
    sign_in(db, "ada", {"stat20": "student"})
    assert loaded(other) is False
    assert {u.name for u in group.users} == {"tom", "ines", "grace", "lin"}
    assert {u.name for u in other.users} == {"ada", "grace"}


def test_a_member_list_with_changes_not_yet_written_is_kept(db) -> None:  # noqa: F811
    group = orm.Group.find(db, "course:data8")
    newcomer = orm.User(name="newcomer")
    db.add(newcomer)
    tom = orm.User.find(db, "tom")
    with db.no_autoflush:
        group.users.append(newcomer)  # in the session, not flushed
        forget_member_lists(db, tom, course_groups({"data8": "ta"}), [])
        assert loaded(group)
    db.commit()
    db.expire_all()
    assert "newcomer" in {u.name for u in orm.Group.find(db, "course:data8").users}


def test_the_handler_looks_up_the_account_the_sign_in_loaded_once(db) -> None:  # noqa: F811
    """JupyterHub's sign-in handler looks the person up after the authenticator has (each
    load reads their groups, roles and shares again); campushub's handlers take the account
    the authenticator left them, once, for that person only, and only while it is still in
    the hub's session; anyone else is looked up as JupyterHub does."""
    from types import SimpleNamespace

    from campushub.lti import SIGN_IN_ACCOUNT, SignInAccount

    class JupyterHubs:
        def __init__(self) -> None:
            self.db, self.looked_up = db, []

        def find_user(self, name: str) -> object:
            self.looked_up.append(name)
            return orm.User.find(self.db, name)

    class Handler(SignInAccount, JupyterHubs):
        pass

    ada = SimpleNamespace(name="ada", orm_user=orm.User.find(db, "ada"))
    handler = Handler()
    handler.__dict__[SIGN_IN_ACCOUNT] = ada
    assert handler.find_user("ada") is ada and handler.looked_up == []
    assert handler.find_user("ada").name == "ada" and handler.looked_up == ["ada"]  # once only

    handler.__dict__[SIGN_IN_ACCOUNT] = ada
    assert handler.find_user("tom").name == "tom" and handler.looked_up[-1] == "tom"
    assert SIGN_IN_ACCOUNT not in handler.__dict__  # not kept for a later lookup

    handler.__dict__[SIGN_IN_ACCOUNT] = ada
    db.delete(ada.orm_user)
    db.commit()
    assert handler.find_user("ada") is None and handler.looked_up[-1] == "ada"  # gone: asked
