"""The links service: course-aware nbgitpuller links, as a hub-managed tornado app.

JupyterHub starts it from the reference configuration (``python -m
campushub.services.links.app``) at ``/services/links/``; every page needs a hub login
(HubOAuth). Course staff make short links on the generator page or through the JSON API;
anyone opening ``/services/links/l/<id>`` is sent, if they are in the course, through the hub's
spawn page for their course server to nbgitpuller, which pulls the repository into a folder
named after it and opens the file.

The rules (what a link may point at, where it goes) are :mod:`.rules`; the database is
:mod:`.store`; the remote check is :mod:`.remote`. This module only translates HTTP to them.

Configuration, like jupyterhub-idle-culler's: command-line options (``--help-all``) or a
config file (``--config links_config.py``, setting ``c.LinksApp.<name>``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from jupyterhub.services.auth import (
    HubOAuth,
    HubOAuthCallbackHandler,
)
from sqlalchemy.exc import OperationalError
from tornado import httpclient, web
from traitlets import Bool, Float, Integer, Unicode, default
from traitlets.config import Application, catch_config_error

from ...catalog import Catalog, CatalogError, Course
from ...memberships import GROUP_PREFIX, ROLE_GROUP_SUFFIX
from ..web import (
    CatalogHolder,
    HubPage,
    PageError,
    cookie_secret,
    log_request,
    route_tornado_logs,
    serve,
)
from . import rules
from .remote import check_remote
from .store import Link, LinkStore, database_url

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STAFF_LOOKUP_SECONDS = 120.0


BUSY = (
    "The links service is busy",
    "Its database is busy for a moment (another program is writing to it); nothing was"
    " changed. Try again in a few seconds.",
)


def _busy(error: BaseException | None) -> bool:
    """Whether ``error`` is the database being busy or locked (SQLite's lock held by another
    writer past the timeout), which passes: a 503 that says to retry, not a 500."""
    if not isinstance(error, OperationalError):
        return False
    text = str(error).lower()
    return "locked" in text or "busy" in text


class Rejected(PageError):
    """A link the rules or the remote check refused: 400 with each field's problem."""

    def __init__(self, problems: list[rules.FieldProblem] | tuple[rules.FieldProblem, ...]) -> None:
        self.rejection = rules.LinkRejected(problems)
        super().__init__(400, str(self.rejection), "The link was not made")


class CallbackHandler(HubOAuthCallbackHandler):
    """Finishes the hub login (OAuth), with the service's own HubOAuth client."""

    def initialize(self, links: LinksApp) -> None:
        self.hub_auth = links.hub_auth


# -- handlers ------------------------------------------------------------------------------------


class BaseHandler(HubPage):
    """Shared by every page: the hub login, the person, the catalog, page rendering."""

    refused = "Your hub account may not use the links service."

    def initialize(self, links: LinksApp) -> None:
        self.links = links
        self.hub_auth = links.hub_auth

    @property
    def catalog(self) -> Catalog:
        return self.links.catalog_holder.current()

    @property
    def store(self) -> LinkStore:
        return self.links.store

    @property
    def person(self) -> dict[str, Any]:
        user = self.current_user
        assert isinstance(user, dict)
        return user

    @property
    def username(self) -> str:
        return str(self.person["name"])

    def groups(self) -> list[str]:
        groups = self.person.get("groups") or []
        return [group for group in groups if isinstance(group, str)]

    def taught(self) -> list[str]:
        return rules.courses_taught(self.groups(), bool(self.person.get("admin")), self.catalog)

    def short_link(self, link: Link) -> str:
        return rules.short_link(self.links.origin(self.request), self.links.service_prefix, link.id)

    def plain_link(self, link: Link) -> str:
        return rules.plain_link(self.links.origin(self.request), self.links.base_url, link.target)

    def render_page(self, template: str, status: int = 200, **namespace: Any) -> None:
        user = self.current_user if isinstance(self.current_user, dict) else None
        context = {
            "prefix": self.links.service_prefix,
            "hub_home": rules._base(self.links.base_url) + "hub/home",
            "static": lambda name: self.static_url(name),
            "person": user.get("name") if user else None,
            "apps": rules.APP_NAMES,
            "app_courses": {},
            "catalog": self.catalog,
            "xsrf_token": self.xsrf_token.decode("ascii") if user else "",
            **namespace,
        }
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(self.links.templates.get_template(template).render(context))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if _busy(error):
            status_code = 503
            self.set_header("Retry-After", "5")
            title, message = BUSY
        elif isinstance(error, PageError):
            title, message = error.title, error.message
        elif status_code == 404:
            title, message = "Not found", "There is no page here."
        elif status_code == 403:
            title, message = (
                "Not allowed",
                (getattr(error, "log_message", None) or "You may not do this."),
            )
        else:
            title = f"Error {status_code}"
            message = "Something went wrong. Try again, and tell the hub operators if it persists."
        self.render_page(
            "error.html", status_code, title=title or f"Error {status_code}", message=message
        )

    def link_or_404(self, link_id: str, counts: bool = True) -> Link:
        link = self.store.get(link_id, counts) if rules.check_link_id(link_id) else None
        if link is None:
            raise PageError(404, f"There is no link {link_id!r}.", "No such link")
        return link

    def check_staff(self, link: Link) -> Course:
        course = self.catalog.course(link.course)
        if course is None or link.course not in self.taught():
            raise PageError(
                403,
                f"Only the TAs and instructors of {course.title if course else link.course}"
                " can see and change this link.",
                "Not your course",
            )
        return course


class NotFoundHandler(BaseHandler):
    @web.authenticated
    def get(self, *args: Any) -> None:
        raise PageError(404, "There is no page here.", "Not found")


class GeneratorHandler(BaseHandler):
    """The generator page: make a link, see your courses' links and how often they opened."""

    @web.authenticated
    def get(self) -> None:
        taught = self.taught()
        if not taught:
            raise PageError(
                403,
                "Links to course material are made here by course staff; you teach no course on"
                " this hub this term. To open a link your course gave you, just click it.",
                "For course staff",
            )
        chosen = self.get_query_argument("course", "")
        self.show_form(taught, {"course": chosen if chosen in taught else taught[0]}, {}, 200)

    def show_form(
        self, taught: list[str], values: Mapping[str, str], problems: Mapping[str, str], status: int
    ) -> None:
        courses = [self.catalog.courses[slug] for slug in taught]
        links = self.store.list(taught)
        # Each app once, offered for the courses whose image has it (the page's script
        # hides the others when a course is chosen; the server checks either way).
        offered = {
            app: " ".join(c.slug for c in courses if app in c.image.apps)
            for app in rules.APPS
            if any(app in c.image.apps for c in courses)
        }
        chosen = self.catalog.courses.get(values.get("course", ""))
        first = chosen.image.apps[0] if chosen else next(iter(offered), "lab")
        self.render_page(
            "generator.html",
            status,
            courses=courses,
            apps={app: rules.APP_NAMES[app] for app in offered},
            app_courses=offered,
            values={"branch": "main", "app": first, **values},
            problems=problems,
            links=[(link, self.short_link(link)) for link in links],
        )

    @web.authenticated
    async def post(self) -> None:
        taught = self.taught()
        if not taught:
            raise PageError(403, "Only course staff can make links.", "For course staff")
        fields = {name: self.get_body_argument(name, "").strip() for name in rules.FIELDS}
        try:
            target = rules.check_link(self.catalog, fields, taught)
        except rules.LinkRejected as rejected:
            self.show_form(taught, fields, rejected.as_dict(), 400)
            return
        problems = await self.links.check_remote(target)
        if problems:
            self.show_form(taught, fields, rules.LinkRejected(problems).as_dict(), 400)
            return
        link = self.store.create(target, self.username)
        self.links.log_link("created", link, self.username)
        self.redirect(f"{self.links.service_prefix}manage/{link.id}?created=1")


class ManageHandler(BaseHandler):
    """One link for its course's staff: short and plain link, counts, re-point, remove."""

    @web.authenticated
    def get(self, link_id: str) -> None:
        link = self.link_or_404(link_id)
        course = self.check_staff(link)
        notice = ""
        if self.get_query_argument("created", ""):
            notice = "Your link is ready. Share the short link with your students."
        elif self.get_query_argument("updated", ""):
            notice = "The link now points at the new place; the short link is unchanged."
        self.show(link, course, {}, {}, notice, 200)

    def show(
        self,
        link: Link,
        course: Course,
        values: Mapping[str, str],
        problems: Mapping[str, str],
        notice: str,
        status: int,
    ) -> None:
        shown = {
            "repo": link.repo,
            "branch": link.branch,
            "path": link.path,
            "app": link.app,
            **values,
        }
        if link.app not in course.image.apps and not notice:
            notice = (
                f"This link opens {rules.APP_NAMES.get(link.app, link.app)}, which"
                f" {course.title}'s environment ({course.image.name}) no longer has: students"
                " who click it are told so and offered"
                f" {rules.APP_NAMES[course.image.apps[0]]}. Choose an app below and save."
            )
        self.render_page(
            "link.html",
            status,
            link=link,
            course=course,
            apps={app: rules.APP_NAMES[app] for app in course.image.apps},
            short=self.short_link(link),
            plain=self.plain_link(link),
            values=shown,
            problems=problems,
            notice=notice,
        )

    @web.authenticated
    async def post(self, link_id: str) -> None:
        link = self.link_or_404(link_id)
        course = self.check_staff(link)
        action = self.get_body_argument("action", "update")
        if action in ("remove", "restore"):
            updated = self.store.update(link.id, self.username, removed=action == "remove")
            assert updated is not None
            self.links.log_link(
                f"{action}d" if action == "remove" else "restored", updated, self.username
            )
            self.redirect(f"{self.links.service_prefix}manage/{link.id}")
            return
        if action != "update":
            raise PageError(400, "Unknown action.", "Bad request")
        fields = {name: self.get_body_argument(name, "").strip() for name in rules.FIELDS[1:]}
        try:
            target = rules.check_link(
                self.catalog, {"course": link.course, **fields}, self.taught()
            )
        except rules.LinkRejected as rejected:
            self.show(link, course, fields, rejected.as_dict(), "", 400)
            return
        problems = await self.links.check_remote(target)
        if problems:
            self.show(link, course, fields, rules.LinkRejected(problems).as_dict(), "", 400)
            return
        updated = self.store.update(link.id, self.username, target=target)
        assert updated is not None
        self.links.log_link("re-pointed", updated, self.username)
        self.redirect(f"{self.links.service_prefix}manage/{link.id}?updated=1")


class OpenHandler(BaseHandler):
    """``/l/<id>``: into the course server through the hub's spawn page, or a page saying why
    not."""

    @web.authenticated
    async def get(self, link_id: str) -> None:
        link = self.link_or_404(link_id, counts=False)
        course = self.catalog.course(link.course)
        if link.removed or course is None:
            raise PageError(
                404,
                "This link was removed by the course staff, or its course is no longer on this"
                " hub. Ask your course staff for the current link.",
                "This link no longer works",
            )
        if rules.member_role(self.groups(), course.slug) is None:
            instructors = await self.links.instructors(course.slug)
            self.links.log.info(
                "%s opened link %s of %s: refused, not in the course",
                self.username,
                link.id,
                course.slug,
            )
            self.render_page(
                "not_member.html",
                403,
                course=course,
                ask=rules.whom_to_ask(course, instructors),
            )
            return
        target = link.target
        if target.app not in course.image.apps:
            # The image lost the app the link was made for: say so, and offer its first.
            instead = dataclasses.replace(target, app=course.image.apps[0])
            if self.get_query_argument("instead", "") != instead.app:
                self.links.log.info(
                    "%s opened link %s of %s: its app %s is gone",
                    self.username,
                    link.id,
                    course.slug,
                    target.app,
                )
                self.render_page(
                    "app_gone.html",
                    409,
                    course=course,
                    gone=rules.APP_NAMES.get(target.app, target.app),
                    instead=rules.APP_NAMES[instead.app],
                    instead_url=f"{self.links.service_prefix}l/{link.id}?instead={instead.app}",
                )
                return
            target = instead
        if not self.store.record_open(link.id, self.username):
            self.links.log.warning(
                "the links database is busy: %d open(s) kept to count later",
                self.store.unrecorded,
            )
        self.links.log.info("%s opened link %s -> %s", self.username, link.id, course.slug)
        self.redirect(rules.spawn_url(self.links.base_url, self.username, target))


# -- the JSON API --------------------------------------------------------------------------------


class APIHandler(BaseHandler):
    """``/api/links``: JSON in and out; a hub API token (``Authorization: token ...``) or the
    service's login cookie with an ``X-XSRFToken`` header."""

    def get_login_url(self) -> str:
        raise web.HTTPError(403, "log in to the hub, or send a token: Authorization: token ...")

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Content-Type", "application/json")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if _busy(error):
            self.set_status(503)
            self.set_header("Retry-After", "5")
            self.finish({"status": 503, "message": BUSY[1]})
            return
        body: dict[str, Any] = {"status": status_code}
        if isinstance(error, Rejected):
            body["message"] = error.message
            body["problems"] = [
                {"field": problem.field, "message": problem.message}
                for problem in error.rejection.problems
            ]
        elif isinstance(error, PageError):
            body["message"] = error.message
        elif isinstance(error, web.HTTPError) and error.log_message and status_code < 500:
            body["message"] = error.log_message % error.args if error.args else error.log_message
        else:
            body["message"] = self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"{}")
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested deep
            raise PageError(400, "the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise PageError(400, "the body must be a JSON object")
        return body

    def model(self, link: Link) -> dict[str, Any]:
        return {
            "id": link.id,
            "course": link.course,
            "repo": link.repo,
            "branch": link.branch,
            "path": link.path,
            "app": link.app,
            "short_url": self.short_link(link),
            "plain_url": self.plain_link(link),
            "created_by": link.created_by,
            "created": _iso(link.created),
            "updated_by": link.updated_by,
            "updated": _iso(link.updated),
            "removed": link.removed,
            "opens": link.opens,
            "people": link.people,
        }

    async def checked(self, fields: Mapping[str, Any], taught: list[str]) -> rules.LinkTarget:
        try:
            target = rules.check_link(self.catalog, fields, taught)
        except rules.LinkRejected as rejected:
            raise Rejected(rejected.problems) from None
        problems = await self.links.check_remote(target)
        if problems:
            raise Rejected(problems)
        return target


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class LinkListAPIHandler(APIHandler):
    @web.authenticated
    def get(self) -> None:
        taught = self.taught()
        course = self.get_query_argument("course", "")
        if course:
            if course not in taught:
                raise PageError(
                    403,
                    f"you do not teach {course!r}; you teach: {', '.join(taught) or 'no course'}",
                )
            taught = [course]
        removed = self.get_query_argument("removed", "") in ("1", "true", "yes")
        self.finish(
            json.dumps({"links": [self.model(link) for link in self.store.list(taught, removed)]})
        )

    @web.authenticated
    async def post(self) -> None:
        target = await self.checked(self.body(), self.taught())
        link = self.store.create(target, self.username)
        self.links.log_link("created", link, self.username)
        self.set_status(201)
        self.set_header("Location", f"{self.links.service_prefix}api/links/{link.id}")
        self.finish(json.dumps(self.model(link)))


class LinkAPIHandler(APIHandler):
    @web.authenticated
    def get(self, link_id: str) -> None:
        link = self.link_or_404(link_id)
        self.check_staff(link)
        self.finish(json.dumps(self.model(link)))

    @web.authenticated
    async def patch(self, link_id: str) -> None:
        link = self.link_or_404(link_id)
        self.check_staff(link)
        body = self.body()
        removed = body.pop("removed", None)
        if removed is not None and not isinstance(removed, bool):
            raise Rejected([rules.FieldProblem("removed", "must be true or false")])
        if body.get("course", link.course) != link.course:
            raise Rejected(
                [rules.FieldProblem("course", "a link stays in its course; make a new link")]
            )
        target = None
        if body:
            current = {"repo": link.repo, "branch": link.branch, "path": link.path, "app": link.app}
            target = await self.checked({**current, **body, "course": link.course}, self.taught())
        updated = self.store.update(link.id, self.username, target=target, removed=removed)
        assert updated is not None
        what = "re-pointed" if target else ("removed" if removed else "restored")
        self.links.log_link(what, updated, self.username)
        self.finish(json.dumps(self.model(updated)))


class APINotFoundHandler(APIHandler):
    def get(self, *args: Any) -> None:
        raise PageError(404, "no such API endpoint: use api/links or api/links/<id>")

    post = patch = delete = put = get


# -- the application -----------------------------------------------------------------------------


class LinksApp(Application):
    """The links service (``campushub-links``): short course links to nbgitpuller pulls."""

    name = "campushub-links"
    description = __doc__

    aliases = {
        "catalog": "LinksApp.catalog_path",
        "state-dir": "LinksApp.state_dir",
        "db-url": "LinksApp.db_url",
        "public-url": "LinksApp.public_url",
        "ip": "LinksApp.ip",
        "port": "LinksApp.port",
        "check-timeout": "LinksApp.remote_check_timeout",
        "config": "LinksApp.config_file",
        "log-level": "Application.log_level",
    }
    flags = {
        "no-remote-check": (
            {"LinksApp": {"remote_check": False}},
            "Issue links without checking branch and file against the repository.",
        )
    }

    @default("log_level")
    def _default_log_level(self) -> int:
        return logging.INFO

    config_file = Unicode(
        "", config=True, help="A Python config file setting c.LinksApp.<name> (like --name=...)."
    )
    catalog_path = Unicode(
        config=True, help="The course catalog (courses.yaml); default $CAMPUSHUB_CATALOG."
    )

    @default("catalog_path")
    def _default_catalog(self) -> str:
        return os.environ.get("CAMPUSHUB_CATALOG", "")

    state_dir = Unicode(
        config=True,
        help="""The service's own folder: the SQLite database (unless db_url says otherwise)
        and its cookie secret. Default $CAMPUSHUB_LINKS_STATE_DIR, else ./links-state.""",
    )

    @default("state_dir")
    def _default_state_dir(self) -> str:
        return os.environ.get("CAMPUSHUB_LINKS_STATE_DIR") or "links-state"

    db_url = Unicode(
        config=True,
        help="""SQLAlchemy URL of the links database, e.g. postgresql://user@host/links
        (SQLAlchemy's default PostgreSQL driver, psycopg2, which zero-to-jupyterhub's hub
        image installs). Default $CAMPUSHUB_LINKS_DB_URL, else SQLite in state_dir.""",
    )

    @default("db_url")
    def _default_db_url(self) -> str:
        return os.environ.get("CAMPUSHUB_LINKS_DB_URL") or database_url(self.state_dir)

    public_url = Unicode(
        config=True,
        help="""The hub's public URL (https://hub.campus.edu), for the links shown to staff.
        Default $JUPYTERHUB_PUBLIC_URL; if empty, the address the request came to.""",
    )

    @default("public_url")
    def _default_public_url(self) -> str:
        return os.environ.get("JUPYTERHUB_PUBLIC_URL", "")

    ip = Unicode(
        config=True,
        help="""Address to listen on. Default: the host of $JUPYTERHUB_SERVICE_URL if it is an
        address of this machine's loopback, else all interfaces.""",
    )

    @default("ip")
    def _default_ip(self) -> str:
        host = urllib.parse.urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", "")).hostname
        return host if host in ("127.0.0.1", "localhost", "::1") else ""

    port = Integer(
        config=True, help="Port to listen on. Default: the port of $JUPYTERHUB_SERVICE_URL."
    )

    @default("port")
    def _default_port(self) -> int:
        return urllib.parse.urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", "")).port or 10101

    remote_check = Bool(
        True,
        config=True,
        help="Check each link's branch and file against the repository before issuing it.",
    )
    remote_check_timeout = Float(
        20.0,
        config=True,
        help="Seconds the remote check of a link may take, all git commands together.",
    )

    service_prefix = Unicode(
        config=True, help="URL prefix of the service. Default $JUPYTERHUB_SERVICE_PREFIX."
    )

    @default("service_prefix")
    def _default_prefix(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/links/")

    base_url = Unicode(config=True, help="The hub's base URL. Default $JUPYTERHUB_BASE_URL.")

    @default("base_url")
    def _default_base_url(self) -> str:
        return os.environ.get("JUPYTERHUB_BASE_URL", "/")

    def origin(self, request: Any) -> str:
        """``scheme://host`` links are shown with: public_url, else the request's own."""
        return rules.public_origin(self.public_url) or f"{request.protocol}://{request.host}"

    @catch_config_error
    def initialize(self, argv: list[str] | None = None) -> None:
        super().initialize(argv)
        if self.config_file:
            self.load_config_file(self.config_file)
            self.update_config(self.cli_config)  # the command line wins over the file
        route_tornado_logs(self.log, self.log_level)

    def init(self) -> None:
        """Open the catalog and the database, make the HubOAuth client and the web app."""
        if not self.catalog_path:
            raise SystemExit("campushub-links: give the catalog (--catalog or $CAMPUSHUB_CATALOG)")
        try:
            self.catalog_holder = CatalogHolder(self.catalog_path, self.log)
        except CatalogError as error:
            raise SystemExit(f"campushub-links will not start:\n{error}") from None
        Path(self.state_dir).mkdir(parents=True, exist_ok=True)
        self.store = LinkStore(self.db_url)
        # No cache of the hub's answers: a person who leaves a course loses its links (and a
        # staff member the scaler page) at the hub's next refresh of their login, not minutes
        # later. Each page asks the hub once; link opens are a few per person per lecture.
        self.hub_auth = HubOAuth(parent=self, cache_max_age=0)
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self._staff_cache: dict[str, tuple[float, list[str]]] = {}
        prefix = self.service_prefix
        handlers: list[Any] = [
            (prefix, GeneratorHandler),
            (prefix + "oauth_callback", CallbackHandler),
            (prefix + r"l/([^/]+)", OpenHandler),
            (prefix + r"manage/([^/]+)", ManageHandler),
            (prefix + r"api/links", LinkListAPIHandler),
            (prefix + r"api/links/([^/]+)", LinkAPIHandler),
            (prefix + r"api/(.*)", APINotFoundHandler),
        ]
        handlers = [(path, handler, {"links": self}) for path, handler in handlers]
        self.web = web.Application(
            handlers,
            default_handler_class=NotFoundHandler,
            default_handler_args={"links": self},
            cookie_secret=cookie_secret(self.state_dir),
            xsrf_cookies=True,
            static_path=str(STATIC),
            static_url_prefix=prefix + "static/",
            log_function=log_request,
        )
        self.log.info(
            "links: catalog %s (%d courses), database %s, at %s",
            self.catalog_path,
            len(self.catalog_holder.catalog.courses),
            self.store.engine.url.render_as_string(hide_password=True),
            prefix,
        )

    def log_link(self, what: str, link: Link, who: str) -> None:
        self.log.info(
            "%s %s link %s of %s: %s branch %s, %s in %s",
            who,
            what,
            link.id,
            link.course,
            link.repo,
            link.branch,
            link.path or "(the folder)",
            link.app,
        )

    async def check_remote(self, target: rules.LinkTarget) -> list[rules.FieldProblem]:
        if not self.remote_check:
            return []
        started = time.monotonic()
        problems = await check_remote(target, self.remote_check_timeout)
        self.log.info(
            "remote check of %s branch %s %s: %s (%.1f s)",
            target.repo,
            target.branch,
            target.path or "(no file)",
            "; ".join(map(str, problems)) or "ok",
            time.monotonic() - started,
        )
        return problems

    async def instructors(self, slug: str) -> list[str]:
        """The course's instructors, from its hub group (cached briefly); [] if unknown."""
        cached = self._staff_cache.get(slug)
        if cached and time.monotonic() - cached[0] < STAFF_LOOKUP_SECONDS:
            return cached[1]
        group = f"{GROUP_PREFIX}{slug}:{ROLE_GROUP_SUFFIX['instructor']}"
        url = f"{self.hub_auth.api_url}/groups/{urllib.parse.quote(group, safe='')}"
        names: list[str] = []
        try:
            response = await httpclient.AsyncHTTPClient().fetch(
                url,
                headers={"Authorization": f"token {self.hub_auth.api_token}"},
                request_timeout=5,
            )
            users = json.loads(response.body).get("users", [])
            names = [name for name in users if isinstance(name, str)]
        except httpclient.HTTPClientError as error:
            if error.code != 404:  # 404: nobody in that group has logged in yet
                self.log.warning("cannot read group %s from the hub: %s", group, error)
        except (OSError, ValueError) as error:
            self.log.warning("cannot read group %s from the hub: %s", group, error)
        self._staff_cache[slug] = (time.monotonic(), names)
        return names

    def start(self) -> None:
        self.init()
        serve(self.web, self.ip, self.port, self.log, "links service")
        self.store.close()
        self.log.info("links service stopped")


def main(argv: list[str] | None = None) -> None:
    """Run the links service (``campushub-links``)."""
    app = LinksApp.instance()
    app.initialize(argv)
    app.start()


if __name__ == "__main__":
    main()
