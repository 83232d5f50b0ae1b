"""The scaler service: capacity warm before lectures and exams, as a hub-managed tornado app.

JupyterHub starts it from the reference configuration (``python -m
campushub.services.scaler.app``) at ``/services/scaler/``. Every minute it plans each pool's
placeholder replicas from the catalog's schedules, the calendar feeds and the hub's enrollment
(:mod:`.core`), and patches the placeholders' scale through the Kubernetes API (:mod:`.kube`);
with ``--dry-run`` it only reports.

Pages (hub login, HubOAuth): the status page for administrators and, read-only, course staff;
``api/plan?hours=N`` (JSON); ``metrics`` (Prometheus). Configuration like the links service:
command-line options (``--help-all``) or ``--config scaler_config.py`` setting
``c.ScalerApp.<name>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import multiprocessing
import os
import resource
import time
import urllib.parse
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from jupyterhub.services.auth import (
    HubOAuth,
    HubOAuthCallbackHandler,
)
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from tornado import httpclient, ioloop, web
from traitlets import Bool, Float, Integer, List, TraitError, Unicode, default, validate
from traitlets.config import Application, catch_config_error

from ...catalog import CatalogError, Pool
from ...demand import DEFAULT_ATTENDANCE, PoolTarget
from ...feeds import FeedError, FeedResult, read_feed
from ...learning import History, Learned, Observation
from ...memberships import GROUP_PREFIX, memberships_from_groups
from ...units import format_cpu, format_duration, format_memory
from ..web import HubPage, PageError, cookie_secret, log_request, route_tornado_logs, serve
from .core import RunningServer, Scaler
from .fetch import FeedFetcher, is_network_address
from .state import StateError, open_state

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
MAX_HOURS = 14 * 24
MAX_FEED_BYTES = 5_000_000
STAFF_ROLES = ("ta", "instructor")
SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


class CallbackHandler(HubOAuthCallbackHandler):
    def initialize(self, app: ScalerApp) -> None:
        self.hub_auth = app.hub_auth


class BaseHandler(HubPage):
    refused = "Your hub account may not use the scaler."

    def initialize(self, app: ScalerApp) -> None:
        self.app = app
        self.hub_auth = app.hub_auth

    @property
    def scaler(self) -> Scaler:
        return self.app.scaler

    def access(self) -> str:
        """``admin``, ``staff`` (read-only) or ``none`` for the logged-in person or service."""
        model = self.current_user if isinstance(self.current_user, dict) else {}
        if model.get("admin"):
            return "admin"
        if model.get("kind") == "service":
            return "staff"  # e.g. Prometheus with a service token: reads, never acts
        groups = [g for g in model.get("groups") or [] if isinstance(g, str)]
        roles = memberships_from_groups(groups).values()
        return "staff" if any(role in STAFF_ROLES for role in roles) else "none"

    def require(self, level: str) -> str:
        access = self.access()
        if access == "none" or (level == "admin" and access != "admin"):
            raise PageError(
                403,
                "The scaler's page is for hub administrators and, to read, course staff."
                if level != "admin"
                else "Only hub administrators can do this.",
                "Not allowed",
            )
        return access

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, PageError):
            title, message = error.title or f"Error {status_code}", error.message
        elif status_code == 404:
            title, message = "Not found", "There is no page here."
        elif status_code == 403:
            title, message = "Not allowed", "You may not do this."
        else:
            title = f"Error {status_code}"
            message = "Something went wrong. Try again, and tell the hub operators if it persists."
        self.render_page("error.html", status_code, title=title, message=message)

    def render_page(self, template: str, status: int = 200, **namespace: Any) -> None:
        user = self.current_user if isinstance(self.current_user, dict) else None
        context = {
            "prefix": self.app.service_prefix,
            "hub_home": self.app.base_url.rstrip("/") + "/hub/home",
            "static": lambda name: self.static_url(name),
            "person": user.get("name") if user else None,
            "xsrf_token": self.xsrf_token.decode("ascii") if user else "",
            **namespace,
        }
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(self.app.templates.get_template(template).render(context))


class StatusHandler(BaseHandler):
    @web.authenticated
    def get(self) -> None:
        access = self.require("staff")
        scaler = self.scaler
        now = scaler.clock()
        zone = scaler.catalog.timezone
        steps = scaler.span(now, 24)
        self.render_page(
            "status.html",
            access=access,
            scaler=scaler,
            now=now,
            when=lambda moment: _local(moment, zone),
            ago=lambda moment: _ago(now, moment),
            duration=format_duration,
            cpu=format_cpu,
            memory=format_memory,
            pools=[
                (scaler.catalog.pools[name], state)
                for name, state in sorted(scaler.pools.items())
                if name in scaler.catalog.pools
            ],
            changes=sorted(
                (moment, pool, target)
                for pool, pool_steps in steps.items()
                for moment, target in pool_steps[1:]
            ),
            skipped=scaler.skipped(),
            learned=_learned_rows(scaler),
            feeds=list(scaler.feed_states.values()),
            problems=list(reversed(scaler.problems))[:10],
            plan_url=f"{self.app.service_prefix}api/plan?hours=168",
        )


class RoundHandler(BaseHandler):
    """Administrators: read the feeds and enrollment again and run a round now."""

    @web.authenticated
    async def post(self) -> None:
        self.require("admin")
        await self.app.run_round(force=True)
        self.redirect(self.app.service_prefix)


class APIHandler(BaseHandler):
    def get_login_url(self) -> str:
        raise web.HTTPError(403, "log in to the hub, or send a token: Authorization: token ...")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = error.message if isinstance(error, PageError) else self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "message": message}))


class PlanAPIHandler(APIHandler):
    """``api/plan?hours=N``: each pool's target now and its steps over the next N hours."""

    @web.authenticated
    def get(self) -> None:
        self.require("staff")
        raw = self.get_query_argument("hours", "24")
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_HOURS):
            raise PageError(400, f"hours must be a whole number from 1 to {MAX_HOURS}")
        hours = int(raw)
        scaler = self.scaler
        now = scaler.clock()
        steps = scaler.span(now, hours)
        pools = {}
        for name, state in sorted(scaler.pools.items()):
            pool = scaler.catalog.pools.get(name)
            if pool is None:
                continue
            applied = state.applied
            pools[name] = {
                "placeholder": (
                    {
                        "kind": pool.placeholder.kind,
                        "name": pool.placeholder.name,
                        "namespace": pool.placeholder.namespace or self.app.namespace,
                    }
                    if pool.placeholder
                    else None
                ),
                "unit": pool.unit,
                "min": pool.min,
                "max": pool.max,
                "lead_seconds": int(pool.lead.total_seconds()),
                "target": _target_model(state.target),
                "current": applied.replicas if applied else None,
                "free_room": [
                    {
                        "node": room.node,
                        "cpu": room.cpu,
                        "memory": room.memory,
                        "warm": room.warm,
                        "leaving_cpu": room.leaving_cpu,
                        "leaving_memory": room.leaving_memory,
                    }
                    for room in scaler.free.get(name, [])
                ],
                "applied": (
                    {
                        "at": _iso(state.applied_at),
                        "patched": applied.patched,
                        "error": applied.error,
                    }
                    if applied
                    else None
                ),
                "steps": [
                    {"at": _iso(moment), "replicas": target.replicas, "why": target.why}
                    for moment, target in steps.get(name, [])
                ],
            }
        self.set_header("Content-Type", "application/json")
        self.finish(
            json.dumps(
                {
                    "now": _iso(now),
                    "hours": hours,
                    "timezone": str(scaler.catalog.timezone),
                    "dry_run": scaler.dry_run,
                    "pools": pools,
                    "feeds": [
                        {
                            "source": state.source,
                            "read_at": _iso(state.read_at),
                            "age_seconds": state.age(now),
                            "requests": len(state.result.requests) if state.result else 0,
                            "error": state.error,
                        }
                        for state in scaler.feed_states.values()
                    ],
                    "skipped": [
                        {"feed": s.feed, "event": s.event, "reason": s.reason, "count": s.count}
                        for s in scaler.skipped()
                    ],
                    "catalog": {
                        "term": scaler.catalog.term.name,
                        "loaded_at": _iso(scaler.catalog_loaded_at),
                        "error": scaler.catalog_error,
                    },
                    "enrollment": {
                        "read_at": _iso(scaler.enrollment_read_at),
                        "error": scaler.enrollment_error,
                        "courses": scaler.enrollment,
                    },
                    "free_room_error": scaler.free_error,
                    "present": {
                        "read_at": _iso(scaler.present_read_at),
                        "error": scaler.present_error,
                        "courses": scaler.present,
                        "leaving": len(scaler.leaving),
                    },
                }
            )
        )


class MetricsHandler(APIHandler):
    """Prometheus metrics; with ``authenticate_prometheus`` (the default) they need a hub
    token of an administrator or a service (``Authorization: token ...``)."""

    async def get(self) -> None:
        if self.app.authenticate_prometheus:
            if not self.current_user:
                raise PageError(403, "send a hub token: Authorization: token ...")
            self.require("staff")
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.finish(generate_latest(self.app.registry))


class NotFoundHandler(BaseHandler):
    def get(self, *args: Any) -> None:
        raise PageError(404, "There is no page here.", "Not found")


class ScalerCollector:
    """Reads the scaler's state at each scrape."""

    def __init__(self, app: ScalerApp) -> None:
        self.app = app

    def collect(self) -> Any:
        scaler = self.app.scaler
        now = scaler.clock()
        target = GaugeMetricFamily(
            "campushub_scaler_target_replicas", "Placeholder replicas planned", labels=["pool"]
        )
        need = GaugeMetricFamily(
            "campushub_scaler_need_replicas", "Replicas needed before min/max", labels=["pool"]
        )
        current = GaugeMetricFamily(
            "campushub_scaler_current_replicas",
            "Placeholder replicas after the last apply",
            labels=["pool"],
        )
        patches = CounterMetricFamily(
            "campushub_scaler_patches", "Scale patches sent", labels=["pool"]
        )
        errors = CounterMetricFamily(
            "campushub_scaler_apply_errors", "Rounds whose apply failed", labels=["pool"]
        )
        ready = GaugeMetricFamily(
            "campushub_scaler_ready_replicas",
            "Placeholder replicas ready (on a node, images pulled) as last read",
            labels=["pool"],
        )
        cold = GaugeMetricFamily(
            "campushub_scaler_cold_nodes",
            "Ready nodes still pulling the pool's images that run nothing",
            labels=["pool"],
        )
        coming = GaugeMetricFamily(
            "campushub_scaler_nodes_on_their_way",
            "Nodes the cluster autoscaler is booting that no placeholder waits for, as last read",
            labels=["pool"],
        )
        for name, state in scaler.pools.items():
            target.add_metric([name], state.target.replicas)
            need.add_metric([name], state.target.need)
            if state.applied and state.applied.replicas is not None:
                current.add_metric([name], state.applied.replicas)
            patches.add_metric([name], state.patches)
            errors.add_metric([name], state.errors)
            if name in scaler.readiness:
                ready.add_metric([name], scaler.readiness[name][1])
            cold.add_metric([name], sum(not room.warm for room in scaler.free.get(name, ())))
            if name in scaler.coming_nodes:
                coming.add_metric([name], scaler.coming_nodes[name])
        yield from (target, need, current, patches, errors, ready, cold, coming)
        yield GaugeMetricFamily(
            "campushub_scaler_meetings_learned",
            "Meetings with observations in the scaler's history",
            value=sum(1 for meeting in scaler.history.meetings.values() if meeting.seen),
        )
        age = GaugeMetricFamily(
            "campushub_scaler_feed_age_seconds",
            "Seconds since the feed was last read successfully",
            labels=["feed"],
        )
        failing = GaugeMetricFamily(
            "campushub_scaler_feed_failing", "1 if the last reading failed", labels=["feed"]
        )
        skipped = GaugeMetricFamily(
            "campushub_scaler_feed_skipped_events", "Events or lines skipped", labels=["feed"]
        )
        for source, state in scaler.feed_states.items():
            seconds = state.age(now)
            if seconds is not None:
                age.add_metric([source], seconds)
            failing.add_metric([source], 1 if state.error else 0)
            skipped.add_metric([source], len(state.result.skipped) if state.result else 0)
        yield from (age, failing, skipped)
        yield GaugeMetricFamily(
            "campushub_scaler_catalog_failing",
            "1 if the catalog file changed but was refused (the last good one is in use)",
            value=1 if scaler.catalog_error else 0,
        )
        yield CounterMetricFamily(
            "campushub_scaler_rounds", "Planning rounds run", value=scaler.rounds
        )
        yield GaugeMetricFamily(
            "campushub_scaler_dry_run", "1 if the scaler only reports", value=int(scaler.dry_run)
        )


class ScalerApp(Application):
    """The scaler service (``campushub-scaler``): placeholder replicas from the calendar."""

    name = "campushub-scaler"
    description = __doc__

    aliases = {
        "catalog": "ScalerApp.catalog_path",
        "feed": "ScalerApp.feeds",
        "interval": "ScalerApp.interval",
        "namespace": "ScalerApp.namespace",
        "kubeconfig": "ScalerApp.kubeconfig",
        "attendance": "ScalerApp.attendance",
        "authenticate-prometheus": "ScalerApp.authenticate_prometheus",
        "cull-timeout": "ScalerApp.cull_timeout",
        "cull-every": "ScalerApp.cull_every",
        "state-dir": "ScalerApp.state_dir",
        "db-url": "ScalerApp.db_url",
        "ip": "ScalerApp.ip",
        "port": "ScalerApp.port",
        "config": "ScalerApp.config_file",
        "log-level": "Application.log_level",
    }
    flags = {
        "dry-run": ({"ScalerApp": {"dry_run": True}}, "Plan and report; never patch anything."),
    }

    @default("log_level")
    def _default_log_level(self) -> int:
        return logging.INFO

    config_file = Unicode("", config=True, help="A Python config file setting c.ScalerApp.<name>.")
    catalog_path = Unicode(config=True, help="The course catalog; default $CAMPUSHUB_CATALOG.")

    @default("catalog_path")
    def _default_catalog(self) -> str:
        return os.environ.get("CAMPUSHUB_CATALOG", "")

    feeds = List(
        Unicode(),
        config=True,
        help="""iCalendar feeds (https:// URLs or file paths) whose events ask for placeholders
        with 'pool: count' lines. Default: $CAMPUSHUB_SCALER_FEEDS, space-separated.""",
    )

    @default("feeds")
    def _default_feeds(self) -> list[str]:
        return os.environ.get("CAMPUSHUB_SCALER_FEEDS", "").split()

    dry_run = Bool(
        config=True,
        help="Only plan and report; never patch. Default: $CAMPUSHUB_SCALER_DRY_RUN is 1.",
    )

    @default("dry_run")
    def _default_dry_run(self) -> bool:
        value = os.environ.get("CAMPUSHUB_SCALER_DRY_RUN", "0").strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off", ""):
            return False
        raise SystemExit(
            f"campushub-scaler: CAMPUSHUB_SCALER_DRY_RUN={value!r}: use 1 (report only) or 0"
        )

    interval = Float(
        config=True, help="Seconds between rounds. Default $CAMPUSHUB_SCALER_INTERVAL, else 60."
    )

    @default("interval")
    def _default_interval(self) -> float:
        return _number("CAMPUSHUB_SCALER_INTERVAL", "60")

    feed_interval = Float(300.0, config=True, help="Seconds between readings of each feed.")
    feed_timeout = Float(20.0, config=True, help="Seconds a feed download may take.")
    feed_parse_timeout = Float(
        60.0, config=True, help="Seconds reading one feed may take (in its worker process)."
    )
    feed_memory_limit = Integer(
        1024, config=True, help="MiB of memory the feed-reading worker process may use."
    )
    enrollment_interval = Float(
        6 * 3600.0,
        config=True,
        help="""Seconds between readings of enrollment from the hub's groups. Enrollment
        changes slowly (add/drop), and listing every course group costs the hub about 4 ms of
        CPU per group with its members at campus size (8,000 groups: half a minute), so it is
        read rarely, in small pages with pauses, and kept in the state folder across
        restarts.""",
    )
    enrollment_page = Integer(
        50, config=True, help="Groups asked of the hub per request when reading enrollment."
    )
    enrollment_pause = Float(
        0.5,
        config=True,
        help="""Seconds between two pages of groups, so that the hub serves everyone else in
        between (each page keeps the hub busy for a moment).""",
    )
    attendance = Float(
        config=True,
        help="""The share of a course's members expected at a meeting without 'expect'.
        Default $CAMPUSHUB_SCALER_ATTENDANCE, else 0.9.""",
    )

    @default("attendance")
    def _default_attendance(self) -> float:
        return _number("CAMPUSHUB_SCALER_ATTENDANCE", str(DEFAULT_ATTENDANCE))

    @validate("attendance")
    def _check_attendance(self, proposal: Any) -> float:
        value = proposal["value"]
        if not (math.isfinite(value) and 0 < value <= 2):
            raise TraitError(
                f"attendance {value!r} must be a share above 0 (0.9 is 90%), at most 2"
            )
        return value

    cull_timeout = Float(
        config=True,
        help="""The idle culler's timeout (seconds): a course server idle so long that the culler
        will have stopped it by the time room asked now is warm (its pool's warmup and a round,
        whenever the culler's check comes) is counted as leaving (its room as free). 0: no
        culler. Default $CAMPUSHUB_CULL_TIMEOUT, else 0.""",
    )

    @default("cull_timeout")
    def _default_cull_timeout(self) -> float:
        return _number("CAMPUSHUB_CULL_TIMEOUT", "0")

    cull_every = Float(
        config=True,
        help="""Seconds between the idle culler's checks (a server idle past the timeout is
        stopped at the next one). Default $CAMPUSHUB_CULL_EVERY, else 300.""",
    )

    @default("cull_every")
    def _default_cull_every(self) -> float:
        return _number("CAMPUSHUB_CULL_EVERY", "300")

    @validate("cull_timeout", "cull_every", "interval")
    def _check_seconds(self, proposal: Any) -> float:
        value = proposal["value"]
        if not (math.isfinite(value) and 0 <= value <= 7 * 86400):
            name = proposal["trait"].name
            raise TraitError(f"{name} {value!r} must be a number of seconds from 0 to 604800")
        return value

    namespace = Unicode(
        config=True,
        help="""Namespace of placeholders whose catalog entry names none. Default
        $CAMPUSHUB_SCALER_NAMESPACE, else the pod's own namespace, else 'default'.""",
    )

    @default("namespace")
    def _default_namespace(self) -> str:
        if os.environ.get("CAMPUSHUB_SCALER_NAMESPACE"):
            return os.environ["CAMPUSHUB_SCALER_NAMESPACE"]
        try:
            return Path(SERVICE_ACCOUNT_NAMESPACE).read_text().strip()
        except OSError:
            return os.environ.get("POD_NAMESPACE", "default")

    kubeconfig = Unicode(
        "",
        config=True,
        help="A kubeconfig file; default: the pod's service account, else $KUBECONFIG.",
    )
    api_timeout = Float(10.0, config=True, help="Seconds one Kubernetes API call may take.")
    api_attempts = Integer(4, config=True, help="Attempts per API call before giving up.")
    authenticate_prometheus = Bool(
        True,
        config=True,
        help="Require a hub token (an administrator's or a service's) to read /metrics.",
    )
    state_dir = Unicode(
        config=True, help="Folder for the cookie secret. Default $CAMPUSHUB_SCALER_STATE_DIR."
    )

    @default("state_dir")
    def _default_state_dir(self) -> str:
        return os.environ.get("CAMPUSHUB_SCALER_STATE_DIR") or "scaler-state"

    db_url = Unicode(
        config=True,
        help="""SQLAlchemy URL of a database for the meetings' history and the enrollment last
        read (table ``campushub_scaler_state``, made if missing), e.g.
        ``postgresql://scaler@db/campushub``. Default $CAMPUSHUB_SCALER_DB_URL, else files in
        ``state_dir``.""",
    )

    @default("db_url")
    def _default_db_url(self) -> str:
        return os.environ.get("CAMPUSHUB_SCALER_DB_URL", "")

    ip = Unicode(config=True, help="Address to listen on; default from $JUPYTERHUB_SERVICE_URL.")

    @default("ip")
    def _default_ip(self) -> str:
        host = urllib.parse.urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", "")).hostname
        return host if host in ("127.0.0.1", "localhost", "::1") else ""

    port = Integer(config=True, help="Port to listen on; default from $JUPYTERHUB_SERVICE_URL.")

    @default("port")
    def _default_port(self) -> int:
        return urllib.parse.urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", "")).port or 10102

    service_prefix = Unicode(config=True, help="URL prefix; default $JUPYTERHUB_SERVICE_PREFIX.")

    @default("service_prefix")
    def _default_prefix(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/scaler/")

    base_url = Unicode(config=True, help="The hub's base URL. Default $JUPYTERHUB_BASE_URL.")

    @default("base_url")
    def _default_base_url(self) -> str:
        return os.environ.get("JUPYTERHUB_BASE_URL", "/")

    @catch_config_error
    def initialize(self, argv: list[str] | None = None) -> None:
        super().initialize(argv)
        if self.config_file:
            self.load_config_file(self.config_file)
            self.update_config(self.cli_config)
        route_tornado_logs(self.log, self.log_level)

    async def init(self) -> None:
        if not self.catalog_path:
            raise SystemExit("campushub-scaler: give the catalog (--catalog or $CAMPUSHUB_CATALOG)")
        applier = None
        if not self.dry_run:
            # Imported here: the Kubernetes client takes seconds to import, and the hub waits
            # for this service to answer before it serves anyone.
            from .kube import PlaceholderScaler, connect

            try:
                api = await connect(self.kubeconfig or None)
            except Exception as error:
                raise SystemExit(
                    f"campushub-scaler: no Kubernetes API to talk to ({error}); run in a pod with"
                    " a service account, give --kubeconfig, or use --dry-run"
                ) from None
            applier = PlaceholderScaler(
                api,
                self.namespace,
                timeout=self.api_timeout,
                attempts=self.api_attempts,
                log=self.log,
            )
        # No cache of the hub's answers: a person who leaves a course loses its links (and a
        # staff member the scaler page) at the hub's next refresh of their login, not minutes
        # later. Each page asks the hub once; link opens are a few per person per lecture.
        self.hub_auth = HubOAuth(parent=self, cache_max_age=0)
        self._feed_worker: ProcessPoolExecutor | None = None
        self._fetcher: FeedFetcher | None = None
        try:
            self.scaler = Scaler(
                self.catalog_path,
                self.feeds,
                self.fetch,
                applier,
                self.read_enrollment if self.hub_auth.api_token else None,
                self.read_present if self.hub_auth.api_token else None,
                attendance=self.attendance,
                feed_interval=self.feed_interval,
                enrollment_interval=self.enrollment_interval,
                cull_timeout=self.cull_timeout,
                cull_every=self.cull_every,
                parse=self.parse_feed,
                log=self.log,
                save_history=self._save_history,
            )
        except CatalogError as error:
            raise SystemExit(f"campushub-scaler will not start:\n{error}") from None
        self.state = open_state(self.state_dir, self.db_url)
        self._load_history()
        if self.hub_auth.api_token:
            self._load_enrollment()
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ScalerCollector(self))
        self._round_lock = asyncio.Lock()
        prefix = self.service_prefix
        handlers: list[Any] = [
            (prefix, StatusHandler),
            (prefix + "oauth_callback", CallbackHandler),
            (prefix + "round", RoundHandler),
            (prefix + "api/plan", PlanAPIHandler),
            (prefix + "metrics", MetricsHandler),
        ]
        self.web = web.Application(
            [(path, handler, {"app": self}) for path, handler in handlers],
            default_handler_class=NotFoundHandler,
            default_handler_args={"app": self},
            cookie_secret=cookie_secret(self.state_dir),
            xsrf_cookies=True,
            xsrf_cookie_kwargs={"path": prefix},
            static_path=str(STATIC),
            static_url_prefix=prefix + "static/",
            log_function=lambda handler: log_request(handler, quiet=("/metrics",)),
        )
        self.log.info(
            "scaler: catalog %s, %d pool(s), %d feed(s), %s, every %.0f s",
            self.catalog_path,
            len(self.scaler.catalog.pools),
            len(self.feeds),
            "dry-run (reporting only)" if self.dry_run else f"applying in {self.namespace}",
            self.interval,
        )

    async def run_round(self, force: bool = False) -> None:
        async with self._round_lock:
            if force:
                await self.scaler.read_feeds(force=True)
                await self.scaler.read_enrollment(force=True)
            await self.scaler.run_round()

    async def fetch(self, source: str) -> bytes:
        """A feed's bytes: an https, http or webcal address (bounded in size and time, asked
        conditionally; see :mod:`.fetch`) or a file."""
        if is_network_address(source):
            if self._fetcher is None:
                self._fetcher = FeedFetcher(max_bytes=MAX_FEED_BYTES, timeout=self.feed_timeout)
            return await self._fetcher.fetch(source)
        scheme = urllib.parse.urlsplit(source).scheme
        if scheme and len(scheme) > 1:  # not a Windows drive letter
            raise ValueError(
                f"{scheme}: is not a feed address this scaler reads (https, http, webcal)"
            )
        with open(source, "rb") as file:
            data = file.read(MAX_FEED_BYTES + 1)
        return data

    async def parse_feed(self, *args: Any) -> FeedResult:
        """Read a feed in a worker process with a time and a memory limit, so that no feed
        can stall or exhaust the service; the worker is replaced when a feed breaks it."""
        if self._feed_worker is None:
            self._feed_worker = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_limit_memory,
                initargs=(self.feed_memory_limit * 2**20,),
            )
        label = args[1]
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._feed_worker, read_feed, *args), self.feed_parse_timeout
            )
        except TimeoutError:
            self._stop_feed_worker()
            raise FeedError(
                f"{label}: reading it took more than {self.feed_parse_timeout:.0f} s"
            ) from None
        except (BrokenProcessPool, MemoryError):
            self._stop_feed_worker()
            raise FeedError(
                f"{label}: reading it needed more than {self.feed_memory_limit} MiB"
            ) from None

    def _stop_feed_worker(self) -> None:
        worker, self._feed_worker = self._feed_worker, None
        if worker is not None:
            for process in list(getattr(worker, "_processes", {}).values()):
                process.kill()
            worker.shutdown(wait=False, cancel_futures=True)

    async def read_enrollment(self) -> dict[str, int]:
        """Members of each ``course:<slug>`` group, from the hub's REST API (in small pages
        with pauses), saved in the state folder for the next start."""
        counts: dict[str, int] = {}
        groups = await self._hub_pages(
            "/groups", limit=self.enrollment_page, pause=self.enrollment_pause
        )
        for group in groups:
            name = group.get("name", "") if isinstance(group, dict) else ""
            slug = name[len(GROUP_PREFIX) :] if name.startswith(GROUP_PREFIX) else ""
            if slug and ":" not in slug:
                counts[slug] = len(group.get("users") or [])
        self._save_enrollment(counts)
        return counts

    def _save_enrollment(self, counts: dict[str, int]) -> None:
        try:
            self.state.write(
                "enrollment",
                json.dumps({"read_at": datetime.now(UTC).isoformat(), "counts": counts}),
            )
        except StateError as error:
            self.log.warning("scaler: cannot keep enrollment: %s", error)

    def _save_history(self, history: History) -> None:
        try:
            self.state.write("history", json.dumps(history.to_json(), separators=(",", ":")))
        except StateError as error:
            self.scaler.problem(f"cannot keep the meetings' history: {error}")
            self.log.warning("scaler: cannot keep the history: %s", error)

    def _load_history(self) -> None:
        """Start from the history the last run saved. One that cannot be read is set aside
        (``history.json.unreadable``, or a row ``history.unreadable.<time>`` in the database)
        and the scaler starts afresh; meetings in it that cannot be read are left out, each named on
        the status page."""
        where = f"the history in {self.state.where}"
        try:
            text = self.state.read("history")
        except StateError as error:
            self.scaler.problem(f"cannot read the meetings' history: {error}")
            return
        if text is None:
            return
        try:
            history, problems = History.from_json(json.loads(text), where)
        except (ValueError, RecursionError) as error:  # HistoryError is a ValueError
            aside = self.state.set_aside("history")
            self.scaler.problem(
                f"the meetings' history cannot be read ({str(error)[:200]}); it was moved to"
                f" {aside} and the scaler learns afresh"
            )
            self.log.warning("scaler: unreadable %s set aside as %s: %s", where, aside, error)
            return
        for problem in problems[:20]:
            self.scaler.problem(problem)
        self.scaler.history = history
        self.log.info("scaler: history of %d meeting(s) from %s", len(history.meetings), where)

    def _load_enrollment(self) -> None:
        """Start from the enrollment saved by the last run (if any, and well formed): the
        hub is then not asked for every group while it starts."""
        where = self.state.where
        try:
            text = self.state.read("enrollment")
            if text is None:
                return
            saved = json.loads(text)
            read_at = datetime.fromisoformat(saved["read_at"])
            counts = {
                str(slug): int(count)
                for slug, count in saved["counts"].items()
                if isinstance(count, int) and count >= 0
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            self.log.warning("scaler: ignoring saved enrollment in %s: %s", where, error)
            return
        if read_at.tzinfo is None:
            return
        age = max(0.0, (datetime.now(UTC) - read_at).total_seconds())
        self.scaler.enrollment = counts
        self.scaler.enrollment_read_at = read_at
        self.scaler._enrollment_due = time.monotonic() + max(0.0, self.enrollment_interval - age)
        self.log.info(
            "scaler: enrollment of %d course(s) from %s (%.0f min old)",
            len(counts),
            where,
            age / 60,
        )

    async def read_present(self) -> list[RunningServer]:
        """Course servers running or starting now, with their last activity, from the hub."""
        courses = self.scaler.catalog.courses
        found = []
        for user in await self._hub_pages("/users?state=active"):
            servers = user.get("servers") if isinstance(user, dict) else None
            if not isinstance(servers, dict) or not isinstance(user.get("name"), str):
                continue
            for name, server in servers.items():
                # Only ready servers are on: a spawning one's pod may not be on a node yet, so
                # its room is not taken from the free room either (counting it as on would
                # count that room twice).
                if name in courses and isinstance(server, dict) and server.get("ready") is True:
                    last = _parse_time(server.get("last_activity"))
                    started = _parse_time(server.get("started"))
                    found.append(RunningServer(user["name"], name, last, started))
        return found

    async def _hub_pages(self, path: str, limit: int = 200, pause: float = 0.0) -> list[Any]:
        """Every item of a paged hub API list (``limit`` per request, ``pause`` seconds
        between requests)."""
        found: list[Any] = []
        offset = 0
        client = httpclient.AsyncHTTPClient()
        joiner = "&" if "?" in path else "?"
        for _ in range(1000):  # at most 1000 pages
            response = await client.fetch(
                f"{self.hub_auth.api_url}{path}{joiner}offset={offset}&limit={limit}",
                headers={
                    "Authorization": f"token {self.hub_auth.api_token}",
                    "Accept": "application/jupyterhub-pagination+json",
                },
                request_timeout=20,
            )
            body = json.loads(response.body)
            items = body.get("items", []) if isinstance(body, dict) else body
            found.extend(items if isinstance(items, list) else [])
            paging = body.get("_pagination") if isinstance(body, dict) else None
            following = paging.get("next") if isinstance(paging, dict) else None
            if not following or not items:
                break
            offset = int(following.get("offset", offset + len(items)))
            if pause:
                await asyncio.sleep(pause)
        return found

    async def rounds(self) -> None:
        """Run a round every ``interval`` seconds, forever; nothing in a round stops this."""
        while True:
            started = time.monotonic()
            try:
                await self.run_round()
            except Exception:  # run_round catches its own; this is the last guard
                self.log.exception("scaler: a round failed")
            await asyncio.sleep(max(1.0, self.interval - (time.monotonic() - started)))

    def start(self) -> None:
        loop = ioloop.IOLoop.current()
        loop.run_sync(self.init)
        task = loop.asyncio_loop.create_task(self.rounds())
        serve(self.web, self.ip, self.port, self.log, "scaler service")
        task.cancel()
        if self.scaler.applier is not None:
            loop.run_sync(self.scaler.applier.close)
        self._stop_feed_worker()
        if self._fetcher is not None:
            self._fetcher.close()
        self.log.info("scaler service stopped")


def _target_model(target: PoolTarget) -> dict[str, Any]:
    return {
        "replicas": target.replicas,
        "need": target.need,
        "clamped": target.clamped,
        "requested": target.requested,
        "why": target.why,
        "events": [
            {
                "source": reason.occurrence.source,
                "course": reason.occurrence.course,
                "expected": reason.expected,
                "present": reason.present,
                "free": reason.free,
                "starts": _iso(reason.occurrence.starts),
                "ends": _iso(reason.occurrence.ends),
                "people": reason.people,
                "exam": reason.occurrence.exam,
                "share": round(reason.share, 3),
            }
            for reason in target.reasons
        ],
    }


@dataclass(frozen=True)
class LearnedRow:
    """A meeting of the history as the status page shows it."""

    source: str
    course: str
    pool: Pool | None  # None: the course is no longer in the catalog
    learned: Learned | None
    last: Observation
    seen: int
    # Counted from this long before when the pool's earliest student came earlier than this
    # meeting's (a meeting with timing only); None otherwise.
    pool_lead: timedelta | None = None


def _learned_rows(scaler: Scaler, limit: int = 200) -> list[LearnedRow]:
    """The meetings of the history, the latest seen first (the first ``limit``), with what
    the scaler plans them with."""
    meetings = sorted(
        ((key, meeting) for key, meeting in scaler.history.meetings.items() if meeting.seen),
        key=lambda item: item[1].seen[-1].starts,
        reverse=True,
    )[:limit]
    rows = []
    for key, meeting in meetings:
        course = scaler.catalog.courses.get(meeting.course)
        pool = course.pool if course else None
        learned = scaler.history.learned_meeting(key, meeting.course, pool.warmup) if pool else None
        earlier = None
        if pool is not None and learned is not None and learned.lead is not None:
            earliest = scaler.history.pool_lead(scaler.catalog, pool.name)
            earlier = earliest if earliest is not None and earliest > learned.lead else None
        rows.append(
            LearnedRow(
                key, meeting.course, pool, learned, meeting.seen[-1], len(meeting.seen), earlier
            )
        )
    return rows


def _number(variable: str, fallback: str) -> float:
    value = os.environ.get(variable, fallback)
    try:
        return float(value)
    except ValueError:
        raise SystemExit(f"campushub-scaler: {variable}={value!r} is not a number") from None


def _limit_memory(limit: int) -> None:
    """In the feed worker: a hostile feed runs out of memory there, not in the hub pod."""
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from the hub's API (``2026-11-28T10:00:00.123Z``), or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    # A time in the future is not a last activity anyone had: unknown.
    return moment if moment <= datetime.now(UTC) + timedelta(minutes=5) else None


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _local(moment: datetime | None, zone: Any) -> str:
    return moment.astimezone(zone).strftime("%a %d %b %H:%M") if moment else "never"


def _ago(now: datetime, moment: datetime | None) -> str:
    if moment is None:
        return "never"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 90:
        return f"{seconds} s ago"
    return f"{format_duration(timedelta(minutes=seconds // 60))} ago"


def main(argv: list[str] | None = None) -> None:
    """Run the scaler service (``campushub-scaler``)."""
    app = ScalerApp.instance()
    app.initialize(argv)
    app.start()


if __name__ == "__main__":
    main()
