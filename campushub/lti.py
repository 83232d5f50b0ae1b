"""LTI 1.3 launches from a learning platform (Canvas), beside campus sign-on.

A platform the operator registers (``CampusAuthenticator.lti_platforms``: issuer, client id,
deployment ids, its OpenID Connect authorization endpoint and its keys) starts a launch at
``/hub/lti/login`` (third-party login initiation, LTI 1.3 / OpenID Connect). The hub answers
with the authorization request: a fresh ``state`` kept in a signed cookie of this browser
(ten minutes, one launch) and a ``nonce`` bound to it. The platform posts the signed launch
(``id_token``) to ``/hub/lti/launch``, where it is verified before anything trusts it:

- the state cookie of this browser, used once;
- the signature against the platform's keys (:class:`campushub.idtoken.IdTokenVerifier`:
  refetched when a token names a key id not seen yet), ``iss``, ``aud`` (and ``azp`` when
  there are several audiences), ``exp``, ``iat`` and the ``nonce`` of this launch's state;
- a nonce is accepted once (a replayed launch is refused, :class:`NonceLedger`);
- the deployment is one the operator registered, the LTI version is 1.3.0 and the message a
  resource link launch.

What the verified launch means on the hub (the person, the course through the catalog's keys,
the role) is the authenticator's: :meth:`campushub.auth.CampusAuthenticator.lti_auth_model`.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import url_path_join
from tornado.web import HTTPError

from .idtoken import FetchJson, IdTokenError, IdTokenVerifier, unverified_claims
from .units import show

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = CLAIM + "message_type"
VERSION = CLAIM + "version"
DEPLOYMENT = CLAIM + "deployment_id"
CONTEXT = CLAIM + "context"
ROLES = CLAIM + "roles"
CUSTOM = CLAIM + "custom"
RESOURCE_LINK = CLAIM + "resource_link"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"

STATE_COOKIE = "campushub-lti-"  # + the launch's state
STATE_SECONDS = 600  # from the login initiation to the launch
_STATE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_PLATFORM_KEYS = {"issuer", "client_id", "deployment_ids", "login_url", "jwks_url", "name"}
# A launch whose values are longer than this is not an honest platform's.
MAX_VALUE = 2048


class LaunchError(ValueError):
    """A launch refused; the message says why (for the page and the log)."""


class LaunchRefused(HTTPError):
    """A verified launch the hub will not sign in with: a page with ``title`` and
    ``message`` (for the person) and ``reason`` (a word, for tests and the log)."""

    def __init__(self, reason: str, title: str, message: str) -> None:
        super().__init__(403, "%s", message)
        self.reason = reason
        self.title = title
        self.message = message


@dataclass(frozen=True, slots=True)
class Platform:
    """One learning platform registered with the hub (a Canvas developer key)."""

    issuer: str
    client_id: str
    deployment_ids: frozenset[str]
    login_url: str  # the platform's OpenID Connect authorization endpoint
    jwks_url: str
    name: str = ""

    @property
    def title(self) -> str:
        return self.name or self.issuer


def _url(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where} must be a URL (text), not {show(value)}")
    parsed = urllib.parse.urlsplit(value)
    loopback = parsed.hostname in ("127.0.0.1", "localhost", "::1")
    if parsed.scheme != "https" and not (parsed.scheme == "http" and loopback):
        raise ValueError(
            f"{where} must be an https:// URL (http:// only on loopback), not {show(value)}"
        )
    if not parsed.hostname:
        raise ValueError(f"{where} names no host: {show(value)}")
    return value


def read_platforms(values: Any) -> tuple[Platform, ...]:
    """The platforms of ``CampusAuthenticator.lti_platforms``; ``ValueError`` saying which entry
    and key is wrong."""
    if not isinstance(values, list | tuple):
        raise ValueError(f"lti_platforms must be a list of platforms, not {show(values)}")
    found: list[Platform] = []
    for index, value in enumerate(values):
        where = f"lti_platforms[{index}]"
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be a mapping, not {show(value)}")
        unknown = sorted(set(value) - _PLATFORM_KEYS)
        if unknown:
            raise ValueError(
                f"{where} has unknown key(s) {', '.join(map(repr, unknown))}; known:"
                f" {', '.join(sorted(_PLATFORM_KEYS))}"
            )
        for key in ("issuer", "client_id"):
            if not isinstance(value.get(key), str) or not value[key].strip():
                raise ValueError(
                    f"{where}.{key} must be non-empty text, not {show(value.get(key))}"
                )
        deployments = value.get("deployment_ids")
        if (
            not isinstance(deployments, list | tuple)
            or not deployments
            or not all(isinstance(d, str | int) and not isinstance(d, bool) for d in deployments)
        ):
            raise ValueError(
                f"{where}.deployment_ids must be a non-empty list of the platform's deployment"
                f" ids, not {show(deployments)}"
            )
        name = value.get("name", "")
        if not isinstance(name, str):
            raise ValueError(f"{where}.name must be text, not {show(name)}")
        platform = Platform(
            issuer=value["issuer"].strip(),
            client_id=value["client_id"].strip(),
            deployment_ids=frozenset(str(d) for d in deployments),
            login_url=_url(value.get("login_url"), f"{where}.login_url"),
            jwks_url=_url(value.get("jwks_url"), f"{where}.jwks_url"),
            name=name,
        )
        if any((p.issuer, p.client_id) == (platform.issuer, platform.client_id) for p in found):
            raise ValueError(
                f"{where}: issuer {platform.issuer!r} with client id {platform.client_id!r} is"
                " registered twice"
            )
        found.append(platform)
    return tuple(found)


@dataclass(slots=True)
class NonceLedger:
    """The nonces of accepted launches, each until its token expires (plus the leeway): a
    launch whose nonce was already used is a replay. Bounded: past ``limit`` live entries the
    oldest go first (a flood of launches cannot grow the hub's memory)."""

    leeway: float = 60.0
    limit: int = 100_000
    _seen: dict[str, float] = field(default_factory=dict)  # nonce -> forget after (epoch s)

    def use(self, nonce: str, expires: float, now: float | None = None) -> bool:
        """Record ``nonce``; False if it was used already (and has not expired)."""
        now = time.time() if now is None else now
        if len(self._seen) >= self.limit or len(self._seen) % 1024 == 0:
            self._forget(now)
        if self._seen.get(nonce, -1.0) >= now:
            return False
        self._seen[nonce] = max(expires, now) + self.leeway
        return True

    def _forget(self, now: float) -> None:
        self._seen = {n: t for n, t in self._seen.items() if t >= now}
        while len(self._seen) >= self.limit:  # insertion order: the oldest first
            self._seen.pop(next(iter(self._seen)))


@dataclass(frozen=True, slots=True)
class VerifiedLaunch:
    """A launch whose id_token verified: what the hub may trust of it."""

    platform: Platform
    claims: dict[str, Any]

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])

    @property
    def context(self) -> dict[str, Any]:
        context = self.claims.get(CONTEXT)
        return context if isinstance(context, dict) else {}

    @property
    def context_id(self) -> str | None:
        value = self.context.get("id")
        if isinstance(value, bool) or not isinstance(value, str | int):
            return None
        text = str(value)
        return text if 0 < len(text) <= MAX_VALUE else None

    @property
    def context_title(self) -> str:
        for key in ("title", "label"):
            value = self.context.get(key)
            if isinstance(value, str) and 0 < len(value) <= 200:
                return value
        return f"course {self.context_id}"

    @property
    def roles(self) -> list[Any]:
        roles = self.claims.get(ROLES)
        return roles if isinstance(roles, list) else []

    def custom(self, name: str) -> str | None:
        """A custom parameter (text) of the launch, or None."""
        custom = self.claims.get(CUSTOM)
        value = custom.get(name) if isinstance(custom, dict) else None
        return value if isinstance(value, str) and 0 < len(value) <= MAX_VALUE else None

    def claim(self, spec: str) -> Any:
        """The value the operator's claim spec names: ``custom:<name>`` for a custom parameter,
        else a top-level claim."""
        if spec.startswith("custom:"):
            return self.custom(spec[len("custom:") :])
        return self.claims.get(spec)


class LaunchVerifier:
    """Verifies launches of the registered platforms (one id_token verifier per platform)."""

    def __init__(
        self, platforms: tuple[Platform, ...], fetch_json: FetchJson, leeway: float = 60.0
    ) -> None:
        self.platforms = platforms
        self.leeway = leeway
        self.ledger = NonceLedger(leeway=leeway)
        self._verifiers = {
            (p.issuer, p.client_id): IdTokenVerifier(
                issuer=p.issuer,
                audience=p.client_id,
                jwks_uri=p.jwks_url,
                fetch_json=fetch_json,
                leeway=leeway,
            )
            for p in platforms
        }

    def platform(self, issuer: str, client_id: str | None) -> Platform:
        """The registered platform of a login initiation; ``LaunchError`` if none or unclear."""
        found = [
            p for p in self.platforms if p.issuer == issuer and client_id in (None, p.client_id)
        ]
        if not found:
            raise LaunchError(f"the platform {show(issuer)} is not registered with this hub")
        if len(found) > 1:
            raise LaunchError(
                f"the platform {show(issuer)} has several tools registered here and its launch"
                " names no client_id"
            )
        return found[0]

    async def verify(self, token: str, platform: Platform, nonce: str) -> VerifiedLaunch:
        """The launch ``token`` (an id_token) of ``platform`` for the login whose nonce is
        ``nonce``, or ``LaunchError`` saying why not."""
        verifier = self._verifiers[(platform.issuer, platform.client_id)]
        try:
            claims = await verifier.verify(token, nonce)
        except IdTokenError as error:
            raise LaunchError(str(error).replace("id_token", "launch")) from None
        deployment = claims.get(DEPLOYMENT)
        if not isinstance(deployment, str) or deployment not in platform.deployment_ids:
            raise LaunchError(
                f"the launch comes from a deployment ({show(deployment)}) of {platform.title}"
                " that is not registered with this hub"
            )
        if claims.get(VERSION) != "1.3.0":
            raise LaunchError(f"the launch is LTI version {show(claims.get(VERSION))}, not 1.3.0")
        message = claims.get(MESSAGE_TYPE)
        if message != RESOURCE_LINK_REQUEST:
            raise LaunchError(f"the launch's message type {show(message)} is not supported here")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise LaunchError("the launch names nobody (no sub): an anonymous launch")
        expires = claims.get("exp")
        if not self.ledger.use(nonce, float(expires) if isinstance(expires, int | float) else 0):
            raise LaunchError("the launch was already used (a replayed launch)")
        return VerifiedLaunch(platform, claims)


# -- the handlers --------------------------------------------------------------------------------


def _state_cookie(state: str) -> str:
    return STATE_COOKIE + state


class LtiHandler(BaseHandler):
    """What both steps share: the verifier and the page that says why a launch failed."""

    @property
    def verifier(self) -> LaunchVerifier:
        verifier = getattr(self.authenticator, "lti_verifier", None)
        if verifier is None:
            raise HTTPError(404)
        return verifier

    def launch_url(self) -> str:
        """Where the platform posts the launch (the redirect_uri registered with it)."""
        configured = getattr(self.authenticator, "lti_launch_url", "")
        if configured:
            return configured
        path = url_path_join(self.hub.base_url, "lti/launch")
        return f"{self.request.protocol}://{self.request.host}{path}"

    def cookie_path(self) -> str:
        return url_path_join(self.hub.base_url, "lti/")

    async def refuse(self, status: int, title: str, message: str, reason: str) -> None:
        self.set_status(status)
        html = await self.render_template(
            "lti.html", title=title, message=message, reason=reason, home=self.hub.base_url
        )
        self.finish(html)


class LtiLoginHandler(LtiHandler):
    """``/hub/lti/login``: the platform's third-party login initiation (GET or POST)."""

    def check_xsrf_cookie(self) -> None:
        # The platform's form post: it carries no hub XSRF token, and changes nothing here.
        return

    async def get(self) -> None:
        await self._initiate()

    async def post(self) -> None:
        await self._initiate()

    async def _initiate(self) -> None:
        issuer = self.get_argument("iss", "")
        login_hint = self.get_argument("login_hint", "")
        client_id = self.get_argument("client_id", "") or None
        message_hint = self.get_argument("lti_message_hint", "")
        deployment = self.get_argument("lti_deployment_id", "")
        if (
            not issuer
            or not login_hint
            or max(map(len, (issuer, login_hint, message_hint))) > MAX_VALUE
        ):
            await self.refuse(
                400,
                "This is not a launch",
                "This address starts launches from your learning platform (LTI 1.3); it was"
                " opened without the platform's login request (iss and login_hint).",
                "not_a_launch",
            )
            return
        try:
            platform = self.verifier.platform(issuer, client_id)
        except LaunchError as error:
            self.log.warning("LTI login initiation refused: %s", error)
            await self.refuse(403, "This platform is not registered", f"{error}.", "platform")
            return
        if deployment and deployment not in platform.deployment_ids:
            self.log.warning(
                "LTI login initiation refused: deployment %r of %s", deployment, issuer
            )
            await self.refuse(
                403,
                "This deployment is not registered",
                f"The launch comes from a deployment of {platform.title} ({show(deployment)})"
                " that is not registered with this hub; ask the hub's operators.",
                "deployment",
            )
            return
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        secure = self.request.protocol == "https"
        self.set_secure_cookie(
            _state_cookie(state),
            json.dumps({"iss": platform.issuer, "client_id": platform.client_id, "nonce": nonce}),
            expires_days=STATE_SECONDS / 86400,
            path=self.cookie_path(),
            httponly=True,
            secure=secure,
            # The launch is a cross-site form post from the platform: only SameSite=None
            # (which needs Secure) sends the cookie with it; loopback tests are same-site.
            samesite="None" if secure else "Lax",
        )
        query = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": platform.client_id,
            "redirect_uri": self.launch_url(),
            "login_hint": login_hint,
            "state": state,
            "nonce": nonce,
        }
        if message_hint:
            query["lti_message_hint"] = message_hint
        separator = "&" if "?" in platform.login_url else "?"
        self.redirect(platform.login_url + separator + urllib.parse.urlencode(query))


class LtiLaunchHandler(LtiHandler):
    """``/hub/lti/launch``: the platform posts the signed launch; the person is signed in as
    their campus account and sent on to the course (and the link the launch names)."""

    def check_xsrf_cookie(self) -> None:
        # A cross-site form post by design: the launch is bound to this browser by the state
        # cookie and to this login by the nonce, both checked below.
        return

    async def get(self) -> None:
        await self.refuse(
            405,
            "This is not a launch",
            "Launches are posted here by your learning platform; open the course's campushub"
            " link there again.",
            "not_a_launch",
        )

    async def post(self) -> None:
        state = self.get_body_argument("state", "")
        token = self.get_body_argument("id_token", "")
        if not _STATE.fullmatch(state):
            await self.refuse(
                400, "This is not a launch", "The launch has no valid state.", "state"
            )
            return
        raw = self.get_secure_cookie(
            _state_cookie(state), max_age_days=STATE_SECONDS / 86400, min_version=2
        )
        self.clear_cookie(_state_cookie(state), path=self.cookie_path())
        pending = None
        try:
            pending = json.loads(raw) if raw else None
        except ValueError:
            pending = None
        if not isinstance(pending, dict):
            self.log.warning("LTI launch refused: no state cookie for it (expired or replayed)")
            await self.refuse(
                403,
                "This launch has expired",
                "The launch did not arrive within ten minutes of its start in this browser,"
                " or was used already. Go back to your course in the learning platform and"
                " open the link again.",
                "state",
            )
            return
        try:
            platform = self.verifier.platform(str(pending.get("iss")), pending.get("client_id"))
            launch = await self.verifier.verify(token, platform, str(pending.get("nonce")))
        except LaunchError as error:
            claimed = unverified_claims(token).get("sub") if token else None
            self.log.warning("LTI launch refused (claimed sub %r): %s", claimed, error)
            await self.refuse(
                403, "This launch was refused", f"The hub refused it: {error}.", "invalid"
            )
            return
        from .auth import LAUNCH_KEY, Refused  # the authenticator's module imports this one

        try:
            user = await self.login_user({LAUNCH_KEY: launch})
        except LaunchRefused as refused:
            self.log.warning("LTI launch refused: %s", refused.message)
            await self.refuse(403, refused.title, refused.message, refused.reason)
            return
        except Refused as refused:  # the hub's own rule (in no course of the term, blocked)
            self.log.warning("LTI launch refused: %s", refused.jupyterhub_message)
            await self.refuse(
                403,
                "You are not in a course on this hub",
                refused.jupyterhub_message,
                refused.reason,
            )
            return
        if user is None:
            await self.refuse(
                403,
                "This launch was refused",
                "The hub did not sign you in; ask the hub's operators.",
                "refused",
            )
            return
        self.redirect(self.authenticator.lti_landing(user, launch, self.hub.base_url))
