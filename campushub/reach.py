"""Course staff reach their course's servers, one server at a time, through their course roles.

The unit of access is the course server, not the person: a TA of data8 opens the data8 server
of each data8 student, and nothing else of theirs (not their stat20 server, not their personal
server). JupyterHub's scopes say "this one server" with ``access:servers!server=<owner>/<name>``;
a grant filtered by user or group (``access:servers!group=course:data8:students``) would open
every server of those people, because every server's default ``oauth_access_scopes`` include
``access:servers!user=<owner>``. So each course's staff roles (``course-<slug>-ta`` and
``course-<slug>-instructor``, see :func:`campushub.memberships.staff_roles`) hold, beside the
course's roster, one such scope for each course server their holders may open
(:func:`campushub.memberships.staff_reach`): the TA role the students' servers, the
instructor role the TAs' servers, and instructors hold both roles, so each server's scope is
stored once (two copies cost the hub memory at every start and a second role rewritten at
every spawn: ``benchmarks/hub_scale.py``); an instructor's server is reached by
administrators only.

The scopes are kept exact:

- when the hub starts (:func:`sync_staff_roles`, from ``load_managed_roles``), from the
  database's course servers and course groups;
- when a course server starts (:func:`set_server_reach`), with its owner's membership then;
- when its owner signs in or their login is refreshed (:func:`sync_owner_reach`): a student
  who became a TA, left the course or was blocked is moved or removed at once.

A staff member's reach follows their role: JupyterHub grants and strips it at each sign-in and
refresh, so a TA who leaves loses every server of the course at their next refresh.

Why roles and not JupyterHub's shares (5.0 and later), which campushub used first: a share is a
row per server and staff member, and JupyterHub's ORM loads every share of a person, with each
share's owner, their groups, roles and shares, whenever it loads that person: each request of a
TA of a 1,500-student course loaded 1,500 shares and people (``benchmarks/hub_scale.py``
measured 2-6 times the stock hub's cost per request and sign-in). A role is one row that all
its holders use, and JupyterHub caches the expansion of its scopes.

Adapter code: it uses JupyterHub's ORM, inside the hub process.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from jupyterhub import orm
from sqlalchemy import Text, literal_column, select

from .memberships import (
    GROUP_PREFIX,
    INSTRUCTOR,
    ROLE_GROUP_SUFFIX,
    STAFF_ROLE_PREFIX,
    TA,
    grader_account,
    memberships_from_groups,
    staff_reach,
    staff_role_course,
    staff_role_name,
    staff_roles,
    stronger_role,
)

log = logging.getLogger("campushub.reach")

_ROLE_OF_GROUP_SUFFIX = {suffix: role for role, suffix in ROLE_GROUP_SUFFIX.items()}


def reach_scope(owner: str, server: str) -> str:
    """The scope that opens exactly one server."""
    return f"access:servers!server={owner}/{server}"


def reach_roles(slug: str, member_role: str | None) -> set[str]:
    """The staff role holding the scope of the ``slug`` server of someone who is
    ``member_role`` in that course (none if they are not in it): of those who may open it
    (:func:`campushub.memberships.staff_reach`), the TA role for a student's server, which
    instructors hold too, and the instructor role for a TA's. One role each, so each
    server's scope is stored once."""
    kinds = {
        _ROLE_OF_GROUP_SUFFIX[group.rpartition(":")[2]]
        for group in staff_reach(slug, member_role or "")
    }
    if not kinds:
        return set()
    return {staff_role_name(slug, TA if TA in kinds else INSTRUCTOR)}


def set_server_reach(
    db: Any,
    owner: str,
    slug: str,
    member_role: str | None,
    roles: Mapping[str, Any] | None = None,
    commit: bool = True,
) -> set[str]:
    """Make the staff roles of ``slug`` hold the scope for ``owner``'s ``slug`` server exactly
    as ``member_role`` says; return the roles that hold it. ``roles``: the staff roles read
    already, by name (else each is read here)."""
    scope = reach_scope(owner, slug)
    wanted = reach_roles(slug, member_role)
    changed = False
    holding = set()
    for name in (staff_role_name(slug, TA), staff_role_name(slug, INSTRUCTOR)):
        role = orm.Role.find(db, name) if roles is None else roles.get(name)
        if role is None:
            continue  # not a catalog course: no staff roles, nobody reaches it
        if name in wanted:
            holding.add(name)
        scopes = list(role.scopes or [])
        if name in wanted and scope not in scopes:
            role.scopes = [*scopes, scope]  # a new list: JSON columns track assignment only
            changed = True
        elif name not in wanted and scope in scopes:
            role.scopes = [s for s in scopes if s != scope]
            changed = True
    if changed and commit:
        db.commit()
    return holding


def sync_owner_reach(db: Any, orm_user: Any, memberships: Mapping[str, str]) -> None:
    """Make the reach of each of ``orm_user``'s course servers fit their memberships now
    (their staff roles read in one query, what changed written in one commit)."""
    servers = [name for name in orm_user.orm_spawners if name]
    if not servers:
        return
    names = [staff_role_name(s, kind) for s in servers for kind in (TA, INSTRUCTOR)]
    roles = {role.name: role for role in db.query(orm.Role).filter(orm.Role.name.in_(names))}
    for name in servers:
        set_server_reach(db, orm_user.name, name, memberships.get(name), roles, commit=False)
    if db.dirty:
        db.commit()


def reach_scopes(
    db: Any, courses: Iterable[str], blocked: Iterable[str] = (), only: str | None = None
) -> dict[str, list[str]]:
    """Every staff role's server scopes, from the database: for each course server (a named
    server called after a catalog course), the roles its owner's membership says, each
    role's in order of the servers' owners. Four queries, whatever the number of people;
    ``only`` limits them to one course."""
    slugs = sorted(set(courses) if only is None else set(courses) & {only})
    scopes: dict[str, list[str]] = {}
    if slugs:
        for reach, _ in _reach_by_course(db, slugs, set(blocked), narrow=only is not None):
            scopes.update(reach)
    return scopes


def remove_course_shares(db: Any, courses: Iterable[str]) -> int:
    """Delete the JupyterHub shares of course servers (the previous release's way of giving
    staff their reach; people hold no ``shares`` scope, so every such share was campushub's)."""
    course_servers = db.query(orm.Spawner.id).filter(orm.Spawner.name.in_(sorted(set(courses))))
    removed = (
        db.query(orm.Share)
        .filter(orm.Share.spawner_id.in_(course_servers.scalar_subquery()))
        .delete(synchronize_session=False)
    )
    if removed:
        db.commit()
        db.expire_all()
        log.info("Removed %d share(s) of course servers: course roles reach them now", removed)
    return int(removed or 0)


# Courses worked through at a time when the hub starts: what one pass holds (the courses'
# servers, memberships and scopes) stays small, so the start's high-water mark, which the
# hub's process keeps as resident memory afterwards, is not raised by this pass.
SYNC_COURSES_AT_ONCE: Final = 100


def sync_staff_roles(db: Any, catalog: Any, blocked: Iterable[str] = ()) -> tuple[int, int, int]:
    """Make every catalog course's staff roles exist with exactly the scopes they should hold
    (their roster and the reach :func:`reach_scopes` reads from the database), and delete the
    staff roles of courses no longer in the catalog (with their assignments). Returns
    (created, changed, deleted).

    The hub's own start (JupyterHub's ``init_role_creation`` and ``init_role_assignment``)
    would make several queries per role: at 2,000 courses that cost 14 s of every start. Here
    who is what in each course and whose server each is are read once (by id), and the
    courses are worked through :data:`SYNC_COURSES_AT_ONCE` at a time: their roles' scopes
    made, and compared with the stored roles' scopes as the database holds them (JSON text,
    the roles not made into objects); only a role that differs is loaded and written, so a
    start with nothing changed writes nothing. Making every role's scopes at once and
    reading every role as an object raised the start's memory high-water mark by about
    30 MB at 11,000 people (``benchmarks/hub_scale.py``), which the hub's process keeps as
    resident memory afterwards."""
    blocked = set(blocked)
    slugs = list(catalog.courses)
    created = changed = deleted = 0
    wanted_names = {staff_role_name(slug, kind) for slug in slugs for kind in (TA, INSTRUCTOR)}
    managed_names = db.query(orm.Role.name).filter(
        orm.Role.name.like(f"{STAFF_ROLE_PREFIX}%"),
        orm.Role.managed_by_auth == True,  # noqa: E712
    )
    gone = sorted({name for (name,) in managed_names} - wanted_names)
    for start in range(0, len(gone), SYNC_COURSES_AT_ONCE):
        for role in db.query(orm.Role).filter(
            orm.Role.name.in_(gone[start : start + SYNC_COURSES_AT_ONCE])
        ):
            db.delete(role)  # a course gone from the catalog: nobody holds its roles now
            deleted += 1
    # The scopes as stored (JSON text), read without JupyterHub's JSON type.
    raw_scopes = literal_column(f"{orm.Role.__tablename__}.scopes", Text)
    for reach, chunk in _reach_by_course(db, slugs, blocked):
        wanted = {role["name"]: role for role in staff_roles(catalog, reach, chunk)}
        stored = db.query(
            orm.Role.id, orm.Role.name, orm.Role.description, orm.Role.managed_by_auth, raw_scopes
        ).filter(orm.Role.name.in_(sorted(wanted)))
        seen = set()
        for role_id, name, description, managed, scopes_json in stored:
            seen.add(name)
            if not managed:
                continue  # an operator's own role of that name: left alone
            spec = wanted[name]
            if description == spec["description"] and _same_scopes(scopes_json, spec["scopes"]):
                continue
            role = db.get(orm.Role, role_id)
            role.scopes, role.description = spec["scopes"], spec["description"]
            changed += 1
        for name in wanted.keys() - seen:
            db.add(orm.Role(**wanted[name], managed_by_auth=True))
            created += 1
        if db.new or db.dirty or db.deleted:
            db.commit()
    db.commit()
    given = _give_instructors_the_ta_role(db, blocked)
    if created or changed or deleted or given:
        log.info(
            "Course staff roles: %d created, %d changed, %d deleted; %d instructor(s) given"
            " their course's TA role",
            created,
            changed,
            deleted,
            given,
        )
    return created, changed, deleted


def _reach_by_course(
    db: Any, slugs: list[str], blocked: set[str], narrow: bool = False
) -> Iterator[tuple[dict[str, list[str]], list[str]]]:
    """The staff roles' server scopes of the courses ``slugs``, :data:`SYNC_COURSES_AT_ONCE`
    courses at a time: (their roles' scopes, those courses). Four queries in all, read into
    what the scopes are made from (who is what in each course, whose server each is, by
    their ids), so that only one pass's scopes are held at a time. ``narrow``: the queries
    ask for these courses' rows only (a few courses); else they read every course's."""
    course = {slug: slug for slug in slugs}  # one string per course, however many rows name it
    groups = db.query(orm.Group.id, orm.Group.name)
    if narrow:
        groups = groups.filter(
            orm.Group.name.in_(
                [
                    f"{GROUP_PREFIX}{slug}:{kind}"
                    for slug in slugs
                    for kind in ROLE_GROUP_SUFFIX.values()
                ]
            )
        )
    else:
        groups = groups.filter(orm.Group.name.like(f"{GROUP_PREFIX}%"))
    kind_of_group: dict[int, tuple[str, str]] = {}
    for group_id, name in groups:
        for slug, role in memberships_from_groups([name]).items():
            if slug in course:
                kind_of_group[group_id] = (course[slug], role)
    members: dict[str, dict[int, str]] = {}
    user_groups = orm.Base.metadata.tables["user_group_map"]
    pairs = select(user_groups.c.user_id, user_groups.c.group_id)
    if narrow:
        pairs = pairs.where(user_groups.c.group_id.in_(sorted(kind_of_group)))
    for user_id, group_id in db.execute(pairs):
        if (found := kind_of_group.get(group_id)) is not None:
            of_course = members.setdefault(found[0], {})
            of_course[user_id] = stronger_role(of_course.get(user_id), found[1])
    servers = db.query(orm.Spawner.user_id, orm.Spawner.name)
    servers = servers.filter(orm.Spawner.name.in_(slugs) if narrow else orm.Spawner.name != "")
    owners: dict[str, list[int]] = {}
    for user_id, name in servers:
        if (slug := course.get(name)) is not None:
            owners.setdefault(slug, []).append(user_id)
    people = db.query(orm.User.id, orm.User.name)
    if narrow:
        people = people.filter(orm.User.id.in_(sorted({i for ids in owners.values() for i in ids})))
    names = dict(people)
    for start in range(0, len(slugs), SYNC_COURSES_AT_ONCE):
        chunk = slugs[start : start + SYNC_COURSES_AT_ONCE]
        reach: dict[str, list[str]] = {}
        for slug in chunk:
            of_course = members.get(slug, {})
            for owner_id in sorted(owners.get(slug, ()), key=names.__getitem__):
                owner = names[owner_id]
                if owner in blocked:
                    continue
                for role in reach_roles(slug, of_course.get(owner_id)):
                    reach.setdefault(role, []).append(reach_scope(owner, slug))
        yield reach, chunk


def _same_scopes(stored: str | None, wanted: list[str]) -> bool:
    """Whether a role's scopes as the database holds them (JupyterHub's JSON text) are
    ``wanted``, in any order: the text compared first (JupyterHub writes ``json.dumps`` of the
    list), the parsed list only when the texts differ (a scope a spawn added at the end, or
    another writer's spacing)."""
    if stored is None:
        return not wanted
    if stored == json.dumps(wanted):
        return True
    try:
        scopes = json.loads(stored)
    except ValueError:
        return False
    return isinstance(scopes, list) and sorted(map(str, scopes)) == sorted(wanted)


def _give_instructors_the_ta_role(db: Any, blocked: set[str]) -> int:
    """Instructors hold their course's TA role too (it holds the students' servers); one
    whose assignment was made before (by a sign-in of an earlier campushub) is given it here
    rather than at their next sign-in. One read of the staff assignments; nothing written
    when all hold it. Returns how many assignments were made."""
    rows = (
        db.query(orm.User.id, orm.User.name, orm.Role.name)
        .join(orm.User.roles)
        .filter(orm.Role.name.like(f"{STAFF_ROLE_PREFIX}%"), orm.Role.managed_by_auth == True)  # noqa: E712
    )
    holding: dict[int, set[str]] = {}
    for user_id, user_name, role_name in rows:
        if user_name not in blocked:
            holding.setdefault(user_id, set()).add(role_name)
    wanted = {
        (user_id, staff_role_name(slug, TA))
        for user_id, names in holding.items()
        for name in names
        if (slug := staff_role_course(name))
        and name == staff_role_name(slug, INSTRUCTOR)
        and staff_role_name(slug, TA) not in names
    }
    if not wanted:
        return 0
    role_ids = dict(
        db.query(orm.Role.name, orm.Role.id).filter(
            orm.Role.name.in_({name for _, name in wanted}),
            orm.Role.managed_by_auth == True,  # noqa: E712
        )
    )
    rows_to_add = [
        {"user_id": user_id, "role_id": role_ids[name]}
        for user_id, name in sorted(wanted)
        if name in role_ids
    ]
    if rows_to_add:
        db.execute(orm.Base.metadata.tables["user_role_map"].insert(), rows_to_add)
        db.commit()
        for item in list(db.identity_map.values()):  # what the session holds is now stale
            if isinstance(item, orm.User):
                db.expire(item, ["roles"])
            elif isinstance(item, orm.Role):
                db.expire(item, ["users"])
    return len(rows_to_add)


def sync_grader_accounts(db: Any, catalog: Any) -> int:
    """Make the hub account of each grading course's grader (``grader-<slug>``) exist, with
    the ``user`` role (whose scopes include the grading service). Accounts of courses that no
    longer grade are kept (their course folder holds the gradebook); their server is refused.
    Returns how many were made."""
    user_role = orm.Role.find(db, "user")
    if user_role is None:
        return 0  # a new database: JupyterHub makes the role, the next call the accounts
    made = 0
    for slug, course in catalog.courses.items():
        if not course.grading:
            continue
        name = grader_account(slug)
        account = orm.User.find(db, name)
        if account is None:
            account = orm.User(name=name)
            db.add(account)
            made += 1
        if user_role not in account.roles:
            account.roles.append(user_role)
    db.commit()
    if made:
        log.info("Grader accounts: %d made", made)
    return made
