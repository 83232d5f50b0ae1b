"""Course staff reach their course's servers through JupyterHub's sharing, one server at a time.

The unit of access is the course server, not the person: a TA of data8 opens the data8 server
of each data8 student, and nothing else of theirs (not their stat20 server, not their personal
server). JupyterHub's scopes cannot say that with a role: a grant filtered by user or group
(``access:servers!group=course:data8:students``) opens every server of those people, because
every server's default ``oauth_access_scopes`` include ``access:servers!user=<owner>``.
A *share* (JupyterHub 5.0 and later) grants ``access:servers!server=<owner>/<name>``: exactly
one server. So each course server is shared with each staff member who may reach it
(:func:`campushub.memberships.staff_reach`):

- when the server starts (:func:`share_server_with_staff`), with the staff then in the course;
- when a staff member signs in or their login is refreshed (:func:`share_course_servers_with`),
  with every existing server of the course's members they reach, and their shares of courses
  they no longer teach are revoked.

Shares are made with each staff *user*, not with the staff *group*: JupyterHub 5.4 and 6.1
count a group's shares for a person's browser session but not for their tokens
(``scopes.get_scopes_for`` adds only ``user.shared_with_me`` for a token's owner), and opening
a server goes through an OAuth token, so a group share would let staff see the server listed
and then refuse them with 403.

Adapter code: it uses JupyterHub's ORM, inside the hub process. Only campushub makes shares of
course servers (people get no ``shares`` scope), so every share of one is campushub's to keep
or revoke.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from jupyterhub import orm

from .memberships import GROUP_PREFIX, INSTRUCTOR, ROLE_GROUP_SUFFIX, TA, staff_reach

log = logging.getLogger("campushub.sharing")


def _members(db: Any, group_names: Iterable[str]) -> set[Any]:
    members: set[Any] = set()
    for name in group_names:
        group = orm.Group.find(db, name)
        if group is not None:
            members.update(group.users)
    return members


def _new_share(spawner: Any, user: Any) -> Any:
    return orm.Share(
        created_at=orm.Share.now(),
        owner=spawner.user,
        spawner=spawner,
        user=user,
        scopes=[f"access:servers!server={spawner.user.name}/{spawner.name}"],
    )


def share_server_with_staff(db: Any, spawner: Any, shared_with: Iterable[str]) -> set[str]:
    """Make the user shares of one course server exactly the members of ``shared_with`` (the
    staff groups that reach it); return the names of the people it is shared with."""
    wanted = {user for user in _members(db, shared_with) if user is not spawner.user}
    changed = False
    for share in list(spawner.shares):
        if share.group is not None or share.user not in wanted:
            db.delete(share)
            changed = True
    have = {share.user for share in spawner.shares if share.user is not None}
    for user in wanted - have:
        db.add(_new_share(spawner, user))
        changed = True
    if changed:
        db.commit()
    return {user.name for user in wanted}


def servers_reached(db: Any, memberships: Mapping[str, str]) -> set[Any]:
    """The existing course servers a person with ``memberships`` reaches as staff: one query
    per course and member kind (servers named after the course, of that group's members)."""
    reached: set[Any] = set()
    for slug, role in memberships.items():
        if role not in (TA, INSTRUCTOR):
            continue
        staff_group = f"{GROUP_PREFIX}{slug}:{ROLE_GROUP_SUFFIX[role]}"
        for member_role in ("student", "ta"):
            if staff_group not in staff_reach(slug, member_role):
                continue
            members = f"{GROUP_PREFIX}{slug}:{ROLE_GROUP_SUFFIX[member_role]}"
            reached.update(
                db.query(orm.Spawner)
                .join(orm.User, orm.Spawner.user_id == orm.User.id)
                .filter(orm.Spawner.name == slug)
                .filter(orm.User.groups.any(orm.Group.name == members))
                .all()
            )
    return reached


def share_own_course_servers(db: Any, user: Any, memberships: Mapping[str, str]) -> None:
    """Make the shares of ``user``'s own course servers fit their memberships now: a student
    who became a TA keeps no TA's share of their server, someone who left a course none."""
    for name, spawner in user.orm_spawners.items():
        if not name:
            continue
        role = memberships.get(name)
        reach = staff_reach(name, role) if role else ()
        # The staff groups hold the staff as of their last sign-in; they are who reach it.
        share_server_with_staff(db, spawner, reach)


def revoke_shares_of(db: Any, user: Any) -> None:
    """Take every share away from ``user`` (someone blocked)."""
    if user.shared_with_me:
        for share in list(user.shared_with_me):
            db.delete(share)
        db.commit()


def share_course_servers_with(db: Any, user: Any, memberships: Mapping[str, str]) -> None:
    """Make ``user``'s shares exactly the course servers their memberships reach as staff."""
    wanted = {spawner for spawner in servers_reached(db, memberships) if spawner.user is not user}
    changed = False
    for share in list(user.shared_with_me):
        if share.spawner not in wanted:
            db.delete(share)
            changed = True
    have = {share.spawner for share in user.shared_with_me}
    for spawner in wanted - have:
        db.add(_new_share(spawner, user))
        changed = True
    if changed:
        db.commit()
        log.info("%s reaches %d course server(s) as course staff", user.name, len(wanted))
