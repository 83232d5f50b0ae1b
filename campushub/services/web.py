"""What the hub services' tornado apps share: the hub login on every request, security headers,
errors whose message is for the person, the cookie secret, the catalog as its file changes,
request logging and log routing, and serving until the hub stops them."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import time
from pathlib import Path
from typing import Any, ClassVar

from jupyterhub.services.auth import HubOAuthenticated, UserNotAllowed
from tornado import ioloop, web
from tornado.httpserver import HTTPServer
from tornado.log import access_log, app_log, gen_log

from ..catalog import Catalog, CatalogError, load_catalog

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
)


class PageError(web.HTTPError):
    """An error whose message is for the person (shown on the page, escaped)."""

    def __init__(self, status: int, message: str, title: str = "") -> None:
        super().__init__(status, message)
        self.message = message
        self.title = title


class HubPage(HubOAuthenticated, web.RequestHandler):
    """A page of a hub service: identifies the person through the hub (HubOAuth) without
    blocking the loop, and sends strict security headers. ``refused`` says who may not."""

    refused: ClassVar[str] = "Your hub account may not use this service."

    async def prepare(self) -> None:
        # HubAuthenticated's own get_current_user would ask the hub synchronously from a
        # thread; asking here keeps the loop free. Its checks still apply.
        model = await self.hub_auth.get_user(self, sync=False)
        self._hub_auth_user_cache = None
        if model:
            try:
                self._hub_auth_user_cache = self.check_hub_user(model)
            except UserNotAllowed:
                raise PageError(403, self.refused, "Not allowed") from None
        # Only a request a valid token authenticated skips the XSRF check: any other write
        # rides on the login cookie, whatever Authorization header it also sends.
        if self.request.method not in ("GET", "HEAD", "OPTIONS") and not getattr(
            self, "_token_authenticated", False
        ):
            web.RequestHandler.check_xsrf_cookie(self)

    def check_xsrf_cookie(self) -> None:
        # tornado asks before the hub has said how the request is authenticated; prepare()
        # checks instead, once it is known.
        return

    def _request_summary(self) -> str:
        # What tornado's warnings and errors name the request by: never its query, which may
        # hold a token (?token=...) that a 403's warning would otherwise write to the log.
        return f"{self.request.method} {self.request.path} ({self.request.remote_ip})"

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, web.HTTPError):
            if value.log_message:
                message = value.log_message % value.args if value.args else value.log_message
                gen_log.warning("%d %s: %s", value.status_code, self._request_summary(), message)
        else:  # tornado's own would log the whole request, query and headers included
            app_log.error(
                "Uncaught exception %s", self._request_summary(), exc_info=(typ, value, tb)
            )

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.set_header("Cache-Control", "no-store")


def cookie_secret(state_dir: str | Path) -> bytes:
    """A secret kept in the service's folder, so a restart does not log everyone out."""
    path = Path(state_dir) / "cookie_secret"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(32))
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        return secrets.token_bytes(32)


def log_request(handler: web.RequestHandler, quiet: tuple[str, ...] = ()) -> None:
    """One access-log line: status, method, path (never the query: it may hold a token) and
    time; successful requests to paths ending in one of ``quiet`` only at debug level."""
    status = handler.get_status()
    log = access_log.info if status < 400 else access_log.warning
    if status >= 500:
        log = access_log.error
    elif status < 400 and quiet and handler.request.path.endswith(quiet):
        log = access_log.debug
    log(
        "%d %s %s %.1fms",
        status,
        handler.request.method,
        handler.request.path,
        1000.0 * handler.request.request_time(),
    )


def route_tornado_logs(log: logging.Logger, level: Any) -> None:
    """tornado's and HubAuth's log lines go where the service's own go (the hub's log)."""
    tornado_log = logging.getLogger("tornado")
    tornado_log.setLevel(level)
    tornado_log.propagate = False
    for handler in log.handlers:
        tornado_log.addHandler(handler)


class CatalogHolder:
    """The catalog, reloaded when its file changes; a bad new version is refused with a log
    line and the last good one kept."""

    def __init__(self, path: str, log: logging.Logger, check_every: float = 10.0) -> None:
        self.path = path
        self.log = log
        self.check_every = check_every
        self._mtime = self._stat()
        self.catalog: Catalog = load_catalog(path)
        self._checked = time.monotonic()

    def _stat(self) -> float:
        try:
            return os.stat(self.path).st_mtime
        except OSError:
            return 0.0

    def current(self) -> Catalog:
        now = time.monotonic()
        if now - self._checked < self.check_every:
            return self.catalog
        self._checked = now
        mtime = self._stat()
        if mtime and mtime != self._mtime:
            self._mtime = mtime
            try:
                self.catalog = load_catalog(self.path)
                self.log.info(
                    "catalog %s reloaded: %d course(s)", self.path, len(self.catalog.courses)
                )
            except CatalogError as error:
                self.log.warning(
                    "catalog %s changed but has problems; keeping the last good one.\n%s",
                    self.path,
                    error,
                )
        return self.catalog


def serve(
    app: web.Application, ip: str, port: int, log: logging.Logger, name: str, **server: Any
) -> None:
    """Listen on ``ip:port`` and run the loop until SIGINT or SIGTERM (the hub stops its
    services with SIGINT, then SIGTERM: both end the loop at once); then stop listening.
    ``server``: HTTPServer's own settings, such as ``max_body_size``."""
    http = HTTPServer(app, xheaders=True, **server)
    http.listen(port, ip)
    log.info("%s listening on %s:%d", name, ip or "*", port)
    loop = ioloop.IOLoop.current()

    def stop(signum: int, frame: Any) -> None:
        log.info("%s stopping (signal %d)", name, signum)
        loop.add_callback_from_signal(loop.stop)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    loop.start()
    http.stop()
