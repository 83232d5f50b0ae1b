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

import base64
import hashlib
import json
import os
import re
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import url_path_join
from tornado.httpclient import HTTPClientError
from tornado.web import HTTPError

from .idtoken import FetchJson, IdTokenError, IdTokenVerifier, unverified_claims
from .memberships import INSTRUCTOR, TA, lti_member_role
from .units import show

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = CLAIM + "message_type"
VERSION = CLAIM + "version"
DEPLOYMENT = CLAIM + "deployment_id"
CONTEXT = CLAIM + "context"
ROLES = CLAIM + "roles"
CUSTOM = CLAIM + "custom"
RESOURCE_LINK = CLAIM + "resource_link"
LIS = CLAIM + "lis"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"
MESSAGE_TYPES = (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST)
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
DEEP_LINKING_SETTINGS = DL_CLAIM + "deep_linking_settings"
CONTENT_ITEMS = DL_CLAIM + "content_items"
DL_DATA = DL_CLAIM + "data"
# A staff member's choosing of a link (Deep Linking): the hub's signed request, carried by its
# chooser page (in the platform's frame, maybe without the hub's cookie), is good this long.
PICK_NAME = "campushub-lti-pick"
PICK_SECONDS = 1800

STATE_COOKIE = "campushub-lti-"  # + the launch's state
STATE_SECONDS = 600  # from the login initiation to the launch
MAX_PENDING = 8  # launches under way in one browser
_STATE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_PLATFORM_KEYS = {
    "issuer",
    "client_id",
    "deployment_ids",
    "login_url",
    "jwks_url",
    "name",
    "frame_origins",
}
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
    # Origins whose pages frame the tool (Canvas's own address: Link and Assignment Selection
    # open it in a frame); none: the hub's pages are never framed.
    frame_origins: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return self.name or self.issuer


LOOPBACK = frozenset({"localhost", "::1", "[::1]"} | {f"127.0.0.{n}" for n in range(256)})


def _url(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where} must be a URL (text), not {show(value)}")
    parsed = urllib.parse.urlsplit(value)
    loopback = parsed.hostname in LOOPBACK
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
        origins = value.get("frame_origins", [])
        if not isinstance(origins, list | tuple):
            raise ValueError(
                f"{where}.frame_origins must be a list of origins, not {show(origins)}"
            )
        for number, origin in enumerate(origins):
            _url(origin, f"{where}.frame_origins[{number}]")
            if urllib.parse.urlsplit(origin).path not in ("", "/") or "?" in origin:
                raise ValueError(
                    f"{where}.frame_origins[{number}] must be an origin (scheme, host and"
                    f" port, no path), not {show(origin)}"
                )
        platform = Platform(
            issuer=value["issuer"].strip(),
            client_id=value["client_id"].strip(),
            deployment_ids=frozenset(str(d) for d in deployments),
            login_url=_url(value.get("login_url"), f"{where}.login_url"),
            jwks_url=_url(value.get("jwks_url"), f"{where}.jwks_url"),
            name=name,
            frame_origins=tuple(str(o).rstrip("/") for o in origins),
        )
        if any((p.issuer, p.client_id) == (platform.issuer, platform.client_id) for p in found):
            raise ValueError(
                f"{where}: issuer {platform.issuer!r} with client id {platform.client_id!r} is"
                " registered twice"
            )
        found.append(platform)
    return tuple(found)


class ToolKey:
    """The tool's own RSA key: it signs what campushub sends a platform (the Deep Linking
    response); the platform reads the public half at ``/hub/lti/jwks``. Kept in a file the
    hub makes (mode 0600) on its first start with launches, so a restart keeps it."""

    def __init__(self, private_key: Any) -> None:
        from jwt.algorithms import RSAAlgorithm

        self._private = private_key
        public = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
        # RFC 7638 thumbprint: the key id stays the same for the same key
        members = json.dumps({k: public[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
        digest = hashlib.sha256(members.encode()).digest()
        self.kid = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        self.public_jwk = {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}

    @classmethod
    def load_or_create(cls, path: str | Path) -> ToolKey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        path = Path(path)
        try:
            if path.exists():
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
                if not isinstance(key, rsa.RSAPrivateKey):
                    raise ValueError("it is not an RSA private key")
                return cls(key)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(pem)
            return cls(key)
        except (OSError, ValueError, TypeError) as error:
            raise ValueError(f"the LTI tool key {path} cannot be used: {error}") from None

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    def sign(self, claims: dict[str, Any]) -> str:
        import jwt

        return jwt.encode(claims, self._private, algorithm="RS256", headers={"kid": self.kid})


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

    @property
    def deep_linking(self) -> dict[str, Any] | None:
        """The deep linking settings of a Deep Linking request (checked), else None."""
        if self.claims.get(MESSAGE_TYPE) != DEEP_LINKING_REQUEST:
            return None
        return self.claims[DEEP_LINKING_SETTINGS]

    def custom(self, name: str) -> str | None:
        """A custom parameter (text) of the launch, or None."""
        custom = self.claims.get(CUSTOM)
        value = custom.get(name) if isinstance(custom, dict) else None
        return value if isinstance(value, str) and 0 < len(value) <= MAX_VALUE else None

    def claim(self, spec: str) -> Any:
        """The value the operator's claim spec names: ``lis:<key>`` for a key of the LIS
        claim (``lis:person_sourcedid``), else a top-level claim (``email``)."""
        if spec.startswith("lis:"):
            lis = self.claims.get(LIS)
            return lis.get(spec[len("lis:") :]) if isinstance(lis, dict) else None
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
        if message not in MESSAGE_TYPES:
            raise LaunchError(f"the launch's message type {show(message)} is not supported here")
        if message == DEEP_LINKING_REQUEST:
            settings = claims.get(DEEP_LINKING_SETTINGS)
            if not isinstance(settings, dict):
                raise LaunchError("the deep linking request has no deep_linking_settings")
            try:
                _url(settings.get("deep_link_return_url"), "its deep_link_return_url")
            except ValueError as error:
                raise LaunchError(f"the deep linking request's {error}") from None
            accepted = settings.get("accept_types")
            if not isinstance(accepted, list) or "ltiResourceLink" not in accepted:
                raise LaunchError(
                    "the deep linking request accepts no LTI resource link (accept_types"
                    f" {show(accepted)}), which is what campushub offers"
                )
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise LaunchError("the launch names nobody (no sub): an anonymous launch")
        expires = claims.get("exp")
        if not self.ledger.use(nonce, float(expires) if isinstance(expires, int | float) else 0):
            raise LaunchError("the launch was already used (a replayed launch)")
        return VerifiedLaunch(platform, claims)


# -- the handlers --------------------------------------------------------------------------------


def _state_cookie(state: str) -> str:
    return STATE_COOKIE + state


# Where a sign-in's authenticator leaves the account it loaded, for the handler's lookup.
SIGN_IN_ACCOUNT: Final = "_campushub_sign_in_account"


class SignInAccount:
    """A sign-in handler whose lookup of the person just authenticated reuses the account
    the authenticator loaded (it needs it to check the subject and keep the reach): each
    load of a person reads their groups, roles (a course's TA role with a scope per
    student) and shares again, a second load per sign-in that cost the hub 2-4 ms of CPU
    (``benchmarks/hub_scale.py``). Anyone else, or an account no longer in the session
    (deleted meanwhile), is looked up as JupyterHub does."""

    def find_user(self, name: str) -> Any:
        account = self.__dict__.pop(SIGN_IN_ACCOUNT, None)
        if account is not None and account.name == name and account.orm_user in self.db:
            return account
        return super().find_user(name)  # type: ignore[misc]


class LtiHandler(BaseHandler):
    """What the steps share: the verifier, the page that says why a launch failed, and a
    Content-Security-Policy that lets the registered platforms' pages frame these (and only
    these) hub pages."""

    @property
    def content_security_policy(self) -> str:
        verifier = getattr(self.authenticator, "lti_verifier", None)
        origins = sorted({o for p in getattr(verifier, "platforms", ()) for o in p.frame_origins})
        ancestors = " ".join(["'self'", *origins]) if origins else "'none'"
        return f"frame-ancestors {ancestors}; report-uri {self.csp_report_uri}"

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

    def secure_cookies(self) -> bool:
        """Over https, and on loopback, which browsers treat alike (the local campus and the
        tests' cross-site launches keep the cookie as it is over https)."""
        return self.request.protocol == "https" or self.request.host_name in LOOPBACK

    def state_cookie(self, name: str, value: str, seconds: int, secure: bool) -> None:
        """Set (or with ``seconds`` 0 delete) a launch's state cookie: HttpOnly, for the LTI
        paths only. Over https (and loopback, which browsers treat alike) ``SameSite=None;
        Secure; Partitioned``: the launch is a cross-site form post from the platform, which
        only SameSite=None lets the cookie come with (tests/test_lti.py: with Lax, a launch
        from another site fails); and inside the platform's frame (Canvas opens Link
        Selection in one) only a partitioned cookie (CHIPS) is kept where browsers block
        third-party cookies. Set by hand: Python's cookie module knows no Partitioned."""
        parts = [f"{name}={value}", f"Path={self.cookie_path()}", f"Max-Age={seconds}", "HttpOnly"]
        parts += ["SameSite=None", "Secure", "Partitioned"] if secure else ["SameSite=Lax"]
        self.add_header("Set-Cookie", "; ".join(parts))

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
        secure = self.secure_cookies()
        # Launches under way in this browser: a few at once (tabs); a flood of initiations
        # (any page can send the browser here) must not push the hub's login cookie out.
        pending = [name for name in self.request.cookies if name.startswith(STATE_COOKIE)]
        if len(pending) >= MAX_PENDING:
            for name in pending:
                self.state_cookie(name, "", 0, secure)
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        value = self.create_signed_value(
            _state_cookie(state),
            json.dumps({"iss": platform.issuer, "client_id": platform.client_id, "nonce": nonce}),
        ).decode()
        self.state_cookie(_state_cookie(state), value, STATE_SECONDS, secure)
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


class LtiLaunchHandler(SignInAccount, LtiHandler):
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
        self.state_cookie(_state_cookie(state), "", 0, self.secure_cookies())
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
        settings = launch.deep_linking
        if settings is not None:
            await self._pick(user, launch, settings)
            return
        self.redirect(self.authenticator.lti_landing(user, launch, self.base_url))

    async def _pick(self, user: Any, launch: VerifiedLaunch, settings: dict[str, Any]) -> None:
        """A Deep Linking request: a course's TA or instructor chooses one of its links on a
        hub page the platform may frame (Canvas opens Link Selection in a frame, where the
        hub's login cookie may not come), so the page needs no cookie: the choice goes back to
        ``/hub/lti/deep-link`` with this signed request, which says who and for what."""
        course = self.authenticator.catalog.course_for_key(launch.context_id or "")
        if course is None or lti_member_role(launch.roles) not in (TA, INSTRUCTOR):
            await self.refuse(
                403,
                "Only the course's staff choose links",
                "Adding campushub to a course item in the learning platform is for the"
                " course's TAs and instructors.",
                "not_staff",
            )
            return
        try:
            links = await self._course_links(user, course.slug)
        except (OSError, ValueError, LookupError, HTTPClientError) as error:
            self.log.warning(
                "Deep Linking: the links of %s could not be read: %s", course.slug, error
            )
            await self.refuse(
                503,
                "The course's links cannot be read now",
                "The hub's links service did not answer; try adding the item again in a minute.",
                "links",
            )
            return
        request = {
            "user": user.name,
            "course": course.slug,
            "iss": launch.platform.issuer,
            "client_id": launch.platform.client_id,
            "deployment_id": launch.claims[DEPLOYMENT],
            "return_url": settings["deep_link_return_url"],
            "data": settings.get("data") if isinstance(settings.get("data"), str) else None,
            "links": [link["id"] for link in links],
        }
        signed = self.create_signed_value(PICK_NAME, json.dumps(request)).decode()
        html = await self.render_template(
            "lti_pick.html",
            course=course,
            links=links,
            request_value=signed,
            action=url_path_join(self.hub.base_url, "lti/deep-link"),
            make_url=url_path_join(self.base_url, "services/links/") + f"?course={course.slug}",
        )
        self.finish(html)

    async def _course_links(self, user: Any, slug: str) -> list[dict[str, Any]]:
        """The course's links, from the links service's API, asked with a token of the
        person's own made for this one question (two minutes, then deleted)."""
        from jupyterhub import orm
        from tornado.httpclient import AsyncHTTPClient

        service = self.services.get("links")
        if service is None or not service.url:
            raise LookupError("no links service on this hub")
        token = user.orm_user.new_api_token(
            scopes=[
                "access:services!service=links",
                "read:users:name!user",
                "read:users:groups!user",
            ],
            expires_in=120,
            note="campushub: the course's links for an LTI Deep Linking request",
        )
        try:
            query = urllib.parse.urlencode({"course": slug})
            url = f"{service.url.rstrip('/')}{service.prefix}api/links?{query}"
            answer = await AsyncHTTPClient().fetch(
                url, headers={"Authorization": f"token {token}"}, request_timeout=10
            )
            body = json.loads(answer.body)
        finally:
            found = orm.APIToken.find(self.db, token)
            if found is not None:
                self.db.delete(found)
                self.db.commit()
        links = body.get("links") if isinstance(body, dict) else None
        if not isinstance(links, list):
            raise ValueError("the links service answered without a list of links")
        return [
            link
            for link in links
            if isinstance(link, dict)
            and isinstance(link.get("id"), str)
            and not link.get("removed")
        ]


class LtiJwksHandler(LtiHandler):
    """``/hub/lti/jwks``: the tool's public key, with which platforms verify what it signs."""

    async def get(self) -> None:
        key = getattr(self.authenticator, "lti_key", None)
        if key is None:
            raise HTTPError(404)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(key.jwks()))


class LtiDeepLinkHandler(LtiHandler):
    """``/hub/lti/deep-link``: the link a staff member chose on the hub's chooser page, sent
    back to the platform as a signed Deep Linking response (auto-submitted)."""

    def check_xsrf_cookie(self) -> None:
        # Posted from the chooser in the platform's frame, where the hub's XSRF cookie may
        # not be kept: the hub's own signed request (the person, the course, the links
        # offered; half an hour) is checked instead.
        return

    async def post(self) -> None:
        from .services.links.rules import check_link_id

        user = self.current_user
        raw = self.get_secure_cookie(
            PICK_NAME,
            value=self.get_body_argument("request", ""),
            max_age_days=PICK_SECONDS / 86400,
            min_version=2,
        )
        try:
            request = json.loads(raw) if raw else None
        except ValueError:
            request = None
        if not isinstance(request, dict) or (user is not None and request.get("user") != user.name):
            # Who chose is in the signed request (the page may be in the platform's frame,
            # without the hub's cookie); a browser signed in as someone else may not use it.
            self.log.warning(
                "LTI deep link refused: %s",
                "no signed request" if not isinstance(request, dict) else "another person's",
            )
            await self.refuse(
                403,
                "This choice has expired",
                "Choosing a link must end within half an hour of its start in the learning"
                " platform, by the person who started it. Add the item again there.",
                "pick",
            )
            return
        link = self.get_body_argument("link", "")
        if not check_link_id(link) or link not in (request.get("links") or []):
            await self.refuse(400, "No link chosen", "Choose one of the course's links.", "link")
            return
        title = " ".join(self.get_body_argument("title", "").split())[:200] or f"campushub {link}"
        try:
            platform = self.verifier.platform(str(request["iss"]), str(request["client_id"]))
        except LaunchError as error:  # unregistered since: a changed configuration
            await self.refuse(403, "This platform is not registered", f"{error}.", "platform")
            return
        now = int(time.time())
        claims = {
            "iss": platform.client_id,
            "aud": platform.issuer,
            "iat": now,
            "exp": now + 300,
            "nonce": secrets.token_urlsafe(16),
            DEPLOYMENT: request["deployment_id"],
            MESSAGE_TYPE: DEEP_LINKING_RESPONSE,
            VERSION: "1.3.0",
            CONTENT_ITEMS: [
                {
                    "type": "ltiResourceLink",
                    "title": title,
                    "url": self.launch_url(),
                    "custom": {self.authenticator.lti_link_parameter: link},
                }
            ],
        }
        if request.get("data"):
            claims[DL_DATA] = request["data"]
        token = self.authenticator.lti_key.sign(claims)
        self.log.info(
            "%s chose link %s for %s in %s",
            request["user"],
            link,
            request["course"],
            platform.issuer,
        )
        html = await self.render_template(
            "lti_return.html", return_url=request["return_url"], token=token, title=title
        )
        self.finish(html)
