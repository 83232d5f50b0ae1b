"""The grading service (``campushub-grading``): nbgrader's exchange for every grading course.

Course servers of a course whose catalog entry says ``grading: nbgrader`` reach it through
campushub's nbgrader exchange (:mod:`campushub.nbgrader_exchange`) with their server's own
hub token: the hub says who is calling, the hub's groups say in what role, and the service
decides:

- a course's **students** fetch what it released, hand in work (each submission kept, under
  their own name, dated by the service), and read their own submissions' feedback;
- its **TAs and instructors**, and its grader account (``grader-<slug>``, whose server is the
  course's formgrader), also release and withdraw assignments, list and collect everyone's
  submissions, and return feedback;
- anyone else is refused, whatever the request names.

API, under the service's prefix (``/services/grading/``), JSON or a gzipped tar (``tar``)::

    GET    api/courses/<course>/assignments                        released assignments
    GET    api/courses/<course>/assignments/<a>                    its files (tar)
    PUT    api/courses/<course>/assignments/<a>[?replace=1]        release (staff, tar)
    DELETE api/courses/<course>/assignments/<a>                    withdraw (staff)
    GET    api/courses/<course>/submissions[?assignment=&student=] yours; staff: everyone's
    POST   api/courses/<course>/submissions/<a>                    hand in (tar)
    GET    api/courses/<course>/submissions/<a>/<student>/<id>     one submission (tar)
    PUT    api/courses/<course>/feedback/<a>/<student>?timestamp=  return feedback (staff, tar)
    GET    api/courses/<course>/feedback/<a>/<student>/<id>        its feedback (tar)
"""

from __future__ import annotations

import html
import json
import logging
import os
import time
import urllib.parse
from pathlib import Path
from typing import Any

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from tornado import httpclient, web
from traitlets import Float, Integer, Unicode, default
from traitlets.config import Application, catch_config_error

from ...catalog import Catalog, CatalogError
from ...memberships import INSTRUCTOR, TA, grader_course, memberships_from_groups
from ..web import (
    CatalogHolder,
    HubPage,
    PageError,
    cookie_secret,
    log_request,
    route_tornado_logs,
    serve,
)
from .store import ExchangeProblem, ExchangeStore, Limits, check_assignment, pack

STAFF = (TA, INSTRUCTOR)


class APIHandler(HubPage):
    """JSON API: a hub token (``Authorization: token ...``, how course servers call), or the
    service's login cookie with an ``X-XSRFToken`` header for writes (a browser)."""

    refused = "Your hub account may not use the grading service."

    def initialize(self, grading: GradingApp) -> None:
        self.grading = grading
        self.hub_auth = grading.hub_auth

    async def prepare(self) -> None:
        try:
            await super().prepare()
        except PageError as error:
            raise ExchangeProblem(error.message, error.status_code) from None
        except web.HTTPError as error:  # the XSRF check of a cookie-borne write
            raise ExchangeProblem(
                "a write with the login cookie needs the X-XSRFToken header", error.status_code
            ) from None
        if not self.current_user:
            raise ExchangeProblem("sign in: no valid hub token or login with this request", 403)

    def get_login_url(self) -> str:
        raise ExchangeProblem("sign in: no valid hub token or login with this request", 403)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None))[1]
        if isinstance(error, ExchangeProblem):
            message = error.message
        elif isinstance(error, web.HTTPError) and error.log_message:
            message = error.log_message % error.args if error.args else error.log_message
        elif status_code >= 500:
            message = "the grading service failed; nothing was changed. Try again."
        else:
            message = self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "message": message}))

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None))[1]
        if isinstance(error, ExchangeProblem):
            status_code = error.status
        super().send_error(status_code, **kwargs)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, ExchangeProblem):
            logging.getLogger("tornado.general").warning(
                "%d %s: %s", value.status, self._request_summary(), value.message
            )
        else:
            super().log_exception(typ, value, tb)

    # -- who the caller is in the course ---------------------------------------------------

    @property
    def username(self) -> str:
        return str(self.current_user["name"])

    @property
    def store(self) -> ExchangeStore:
        return self.grading.store

    async def role_in(self, course: str) -> str:
        """The caller's role in ``course`` (``student``, ``ta``, ``instructor``, or
        ``grader`` for its grader account); refused if it does not grade here or they are not
        in it."""
        catalog = self.grading.catalog()
        entry = catalog.courses.get(course)
        if entry is None or not entry.grading:
            raise ExchangeProblem(f"{course!r} is not a course that grades on this hub", 404)
        if grader_course(self.username) == course:
            return "grader"
        role = (await self.grading.memberships(self.username)).get(course)
        if role is None:
            raise ExchangeProblem(
                f"{self.username} is not in {entry.title} ({course}), as far as the hub knows", 403
            )
        return role

    async def staff_of(self, course: str) -> str:
        role = await self.role_in(course)
        if role not in (*STAFF, "grader"):
            raise ExchangeProblem(f"only the staff of {course} may do this", 403)
        return role

    async def reader_of(self, course: str, student: str, what: str) -> None:
        """Refused unless the caller may read ``student``'s ``what`` in ``course``: their own,
        or anyone's for the course's staff and grader."""
        if await self.role_in(course) == "student" and student != self.username:
            raise ExchangeProblem(f"students read their own {what} only", 403)

    def send_tar(self, folder: Path, name: str) -> None:
        self.set_header("Content-Type", "application/gzip")
        self.set_header("Content-Disposition", f'attachment; filename="{name}.tar.gz"')
        self.finish(pack(folder))

    def send_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(value))

    def body_or_refuse(self) -> bytes:
        if len(self.request.body) > self.grading.max_upload_bytes:
            raise ExchangeProblem("the upload is larger than this hub accepts", 413)
        return self.request.body


class AssignmentsHandler(APIHandler):
    async def get(self, course: str) -> None:
        await self.role_in(course)
        self.send_json(self.store.released(course))


class AssignmentHandler(APIHandler):
    async def get(self, course: str, assignment: str) -> None:
        await self.role_in(course)
        self.send_tar(self.store.released_folder(course, assignment), assignment)

    async def put(self, course: str, assignment: str) -> None:
        role = await self.staff_of(course)
        replace = self.get_query_argument("replace", "") in ("1", "true", "yes")
        names = self.store.release(course, assignment, self.body_or_refuse(), replace)
        self.grading.log.info(
            "grading: %s (%s of %s) released %s (%d files)",
            self.username, role, course, assignment, len(names),
        )  # fmt: skip
        self.send_json({"course_id": course, "assignment_id": assignment, "files": names}, 201)

    async def delete(self, course: str, assignment: str) -> None:
        await self.staff_of(course)
        self.store.unrelease(course, check_assignment(assignment))
        self.grading.log.info("grading: %s withdrew %s of %s", self.username, assignment, course)
        self.set_status(204)
        self.finish()


class SubmissionsHandler(APIHandler):
    async def get(self, course: str) -> None:
        role = await self.role_in(course)
        assignment = self.get_query_argument("assignment", None)
        if assignment is not None:
            check_assignment(assignment)
        student = self.get_query_argument("student", None)
        if role == "student":
            if student not in (None, self.username):
                raise ExchangeProblem("students see their own submissions only", 403)
            student = self.username
        found = self.store.submissions(course, student, assignment)
        self.send_json([s.model(course) for s in found])

    async def post(self, course: str, assignment: str) -> None:
        role = await self.role_in(course)
        if role == "grader":
            raise ExchangeProblem("the grader account does not hand in work", 403)
        submission = self.store.submit(
            course, self.username, check_assignment(assignment), self.body_or_refuse()
        )
        self.grading.log.info(
            "grading: %s handed in %s of %s (%s)", self.username, assignment, course, submission.id
        )
        self.send_json(submission.model(course), 201)


class SubmissionHandler(APIHandler):
    async def get(self, course: str, assignment: str, student: str, sid: str) -> None:
        await self.reader_of(course, student, "submissions")
        folder = self.store.submission_folder(course, student, assignment, sid)
        self.send_tar(folder, f"{student}-{assignment}-{sid}")


class FeedbackHandler(APIHandler):
    async def put(self, course: str, assignment: str, student: str) -> None:
        await self.staff_of(course)
        timestamp = self.get_query_argument("timestamp", "")
        sid = self.store.find_submission(course, student, check_assignment(assignment), timestamp)
        names = self.store.release_feedback(course, student, assignment, sid, self.body_or_refuse())
        self.grading.log.info(
            "grading: %s returned feedback on %s of %s to %s", self.username, assignment, course,
            student,
        )  # fmt: skip
        self.send_json({"id": sid, "files": names}, 201)


class FeedbackFileHandler(APIHandler):
    async def get(self, course: str, assignment: str, student: str, sid: str) -> None:
        await self.reader_of(course, student, "feedback")
        folder = self.store.feedback_folder(course, student, assignment, sid)
        self.send_tar(folder, f"feedback-{student}-{assignment}-{sid}")


class HomeHandler(HubPage):
    """``/services/grading/``: the person's grading courses (and the service's login)."""

    def initialize(self, grading: GradingApp) -> None:
        self.grading = grading
        self.hub_auth = grading.hub_auth

    @web.authenticated
    async def get(self) -> None:
        user = self.current_user
        assert isinstance(user, dict)
        name = str(user["name"])
        self.xsrf_token  # noqa: B018 (sets the _xsrf cookie a browser's writes send back)
        catalog = self.grading.catalog()
        mine = await self.grading.memberships(name)
        rows = [
            f"<li>{html.escape(course.title)} ({html.escape(slug)}): {html.escape(mine[slug])}</li>"
            for slug, course in sorted(catalog.courses.items())
            if course.grading and slug in mine
        ]
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            "<!doctype html><title>Grading</title><h1>Grading on this hub</h1>"
            + (
                "<p>Your courses that grade with nbgrader:</p><ul>" + "".join(rows) + "</ul>"
                if rows
                else "<p>None of your courses grades with nbgrader on this hub.</p>"
            )
            + "<p>Assignments are in JupyterLab's Nbgrader menu in your course server.</p>"
        )


class CallbackHandler(HubOAuthCallbackHandler):
    """Finishes the hub login (OAuth), with the service's own HubOAuth client."""

    def initialize(self, grading: GradingApp) -> None:
        self.hub_auth = grading.hub_auth


class NotFoundHandler(APIHandler):
    async def prepare(self) -> None:
        raise ExchangeProblem(f"no such grading API: {self.request.path}", 404)


class GradingApp(Application):
    """The grading service: nbgrader's exchange, kept per course, decided by hub identity."""

    name = "campushub-grading"
    description = __doc__

    aliases = {
        "catalog": "GradingApp.catalog_path",
        "exchange-dir": "GradingApp.exchange_dir",
        "ip": "GradingApp.ip",
        "port": "GradingApp.port",
        "log-level": "Application.log_level",
    }

    @default("log_level")
    def _default_log_level(self) -> int:
        return logging.INFO

    catalog_path = Unicode(
        config=True, help="The course catalog (courses.yaml); default $CAMPUSHUB_CATALOG."
    )

    @default("catalog_path")
    def _default_catalog(self) -> str:
        return os.environ.get("CAMPUSHUB_CATALOG", "")

    exchange_dir = Unicode(
        config=True,
        help="""The folder holding every grading course's exchange (released assignments,
        submissions, feedback). Only this service reads or writes it; in a cluster, a
        persistent volume mounted into the hub pod. Default $CAMPUSHUB_GRADING_EXCHANGE_DIR,
        else ./grading-exchange.""",
    )

    @default("exchange_dir")
    def _default_exchange_dir(self) -> str:
        return os.environ.get("CAMPUSHUB_GRADING_EXCHANGE_DIR") or "grading-exchange"

    max_upload_bytes = Integer(
        20 * 2**20,
        config=True,
        help="""The largest release, submission or feedback accepted, in bytes (compressed,
        and again unpacked). Default 20 MiB, or $CAMPUSHUB_GRADING_MAX_UPLOAD.""",
    )

    @default("max_upload_bytes")
    def _default_max_upload(self) -> int:
        return int(os.environ.get("CAMPUSHUB_GRADING_MAX_UPLOAD") or 20 * 2**20)

    max_files = Integer(500, config=True, help="The most files one upload may hold.")

    membership_cache_seconds = Float(
        5.0,
        config=True,
        help="""How long a person's course memberships, read from the hub, are reused. A
        membership taken away at sign-in ends here within this time.""",
    )

    ip = Unicode(
        config=True, help="Address to listen on. Default: that of $JUPYTERHUB_SERVICE_URL."
    )

    @default("ip")
    def _default_ip(self) -> str:
        host = urllib.parse.urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", "")).hostname
        return host if host in ("127.0.0.1", "localhost", "::1") else ""

    port = Integer(config=True, help="Port to listen on. Default: that of $JUPYTERHUB_SERVICE_URL.")

    @default("port")
    def _default_port(self) -> int:
        return urllib.parse.urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", "")).port or 10103

    service_prefix = Unicode(config=True, help="URL prefix. Default $JUPYTERHUB_SERVICE_PREFIX.")

    @default("service_prefix")
    def _default_prefix(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/grading/")

    @catch_config_error
    def initialize(self, argv: list[str] | None = None) -> None:
        super().initialize(argv)
        route_tornado_logs(self.log, self.log_level)

    def catalog(self) -> Catalog:
        """The catalog, read again when its file changes (a bad new one is refused, logged,
        and the last good one kept)."""
        return self.catalog_holder.current()

    async def memberships(self, username: str) -> dict[str, str]:
        """``username``'s courses and roles, from their hub groups (read with the service's
        own token, which may read the groups of grading courses' members)."""
        cached = self._memberships.get(username)
        if cached and time.monotonic() - cached[0] < self.membership_cache_seconds:
            return cached[1]
        url = f"{self.hub_auth.api_url}/users/{urllib.parse.quote(username, safe='')}"
        groups: list[str] = []
        try:
            response = await httpclient.AsyncHTTPClient().fetch(
                url,
                headers={"Authorization": f"token {self.hub_auth.api_token}"},
                request_timeout=10,
            )
            groups = [
                g for g in json.loads(response.body).get("groups") or [] if isinstance(g, str)
            ]
        except httpclient.HTTPClientError as error:
            if error.code not in (403, 404):  # 403/404: in no grading course
                self.log.warning(
                    "grading: cannot read %s's groups from the hub: %s", username, error
                )
                raise ExchangeProblem("the hub did not answer; try again", 503) from None
        except (OSError, ValueError) as error:
            self.log.warning("grading: cannot read %s's groups from the hub: %s", username, error)
            raise ExchangeProblem("the hub did not answer; try again", 503) from None
        memberships = memberships_from_groups(groups)
        self._memberships[username] = (time.monotonic(), memberships)
        return memberships

    def init(self) -> None:
        if not self.catalog_path:
            raise SystemExit(
                "campushub-grading: give the catalog (--catalog or $CAMPUSHUB_CATALOG)"
            )
        try:
            self.catalog_holder = CatalogHolder(self.catalog_path, self.log)
        except CatalogError as error:
            raise SystemExit(f"campushub-grading will not start:\n{error}") from None
        self.store = ExchangeStore(
            Path(self.exchange_dir).resolve(), Limits(self.max_upload_bytes, self.max_files)
        )
        self.hub_auth = HubOAuth(parent=self, cache_max_age=0)
        self._memberships: dict[str, tuple[float, dict[str, str]]] = {}
        prefix = self.service_prefix
        course = r"api/courses/([a-z0-9-]{1,30})"
        part = r"([^/]+)"
        handlers: list[Any] = [
            (prefix, HomeHandler),
            (prefix + "oauth_callback", CallbackHandler),
            (prefix + course + "/assignments", AssignmentsHandler),
            (prefix + course + f"/assignments/{part}", AssignmentHandler),
            (prefix + course + "/submissions", SubmissionsHandler),
            (prefix + course + f"/submissions/{part}", SubmissionsHandler),
            (prefix + course + f"/submissions/{part}/{part}/{part}", SubmissionHandler),
            (prefix + course + f"/feedback/{part}/{part}", FeedbackHandler),
            (prefix + course + f"/feedback/{part}/{part}/{part}", FeedbackFileHandler),
        ]
        self.web = web.Application(
            [(path, handler, {"grading": self}) for path, handler in handlers],
            default_handler_class=NotFoundHandler,
            default_handler_args={"grading": self},
            cookie_secret=cookie_secret(self.store.root / ".service"),
            xsrf_cookies=True,
            log_function=log_request,
        )
        catalog = self.catalog()
        grading = sorted(slug for slug, c in catalog.courses.items() if c.grading)
        self.log.info(
            "grading: exchange %s for %d course(s)%s, at %s",
            self.store.root,
            len(grading),
            f" ({', '.join(grading[:10])}{', ...' if len(grading) > 10 else ''})"
            if grading
            else "",
            prefix,
        )

    def start(self) -> None:
        self.init()
        max_body = self.max_upload_bytes + 2**16
        serve(self.web, self.ip, self.port, self.log, "grading service", max_body_size=max_body)
        self.log.info("grading service stopped")


def main(argv: list[str] | None = None) -> None:
    """Run the grading service (``campushub-grading``)."""
    app = GradingApp.instance()
    app.initialize(argv)
    app.start()


if __name__ == "__main__":
    main()
