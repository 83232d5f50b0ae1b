"""The hub's pages: "your courses" on the home page, through JupyterHub's template hooks.

``TEMPLATES`` goes into ``JupyterHub.template_paths``; :func:`course_rows` is a per-person
``JupyterHub.template_vars`` entry. The template extends the hub's own ``home.html`` and
reuses its rows and buttons, so the hub's own script starts and stops course servers.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from .catalog import Catalog
from .local import local_runtime
from .memberships import INSTRUCTOR, TA, grader_account, memberships_from_groups

TEMPLATES = str(Path(__file__).parent / "templates")


def course_rows(catalog: Catalog, user: Any, local: bool = False) -> list[dict[str, Any]]:
    """One row per course of ``user``: title, role, environment, and the server's state;
    ``local``: on the local campus, what the course's language runs as on this machine when
    that is not the language (``here``)."""
    if user is None:
        return []
    memberships = memberships_from_groups(group.name for group in user.groups)
    rows = []
    for slug, role in sorted(memberships.items()):
        course = catalog.course(slug)
        if course is None:
            continue
        spawner = user.spawners[slug] if slug in user.orm_spawners else None
        rows.append(
            {
                "slug": slug,
                "title": course.title,
                "role": role,
                "environment": f"{course.image.name} ({course.image.ref.rpartition(':')[2]})",
                "here": local_runtime(course.image.language).note if local else "",
                "active": bool(spawner and spawner.active),
                "ready": bool(spawner and spawner.ready),
                "url": user.server_url(slug),
                # staff of a course that grades with nbgrader: its grader (formgrader)
                "grader": grader_account(slug)
                if course.grading and role in (TA, INSTRUCTOR)
                else "",
            }
        )
    return rows


def other_servers(catalog: Catalog, user: Any) -> list[dict[str, Any]]:
    """The person's named servers that are not one of their courses now (a course they left,
    a past term's): listed so they can be stopped and deleted, freeing the per-person limit."""
    if user is None:
        return []
    memberships = memberships_from_groups(group.name for group in user.groups)
    rows = []
    for name in sorted(user.orm_spawners):
        if not name or name in memberships:
            continue
        spawner = user.spawners[name]
        course = catalog.course(name)
        rows.append(
            {
                "name": name,
                "title": course.title if course else "not a course this term",
                "active": bool(spawner.active),
            }
        )
    return rows


def personal_server(catalog: Catalog, user: Any) -> bool:
    """Whether the hub gives people a personal server beside their course servers."""
    return catalog.defaults.personal_server


def template_vars(catalog: Catalog, local: bool = False) -> dict[str, Callable[[Any], Any]]:
    """The ``JupyterHub.template_vars`` campushub's home page needs (``local``: the local
    campus, whose rows say what a language runs as here)."""
    return {
        "campushub_courses": partial(course_rows, catalog, local=local),
        "campushub_other_servers": partial(other_servers, catalog),
        "campushub_personal_server": partial(personal_server, catalog),
    }
