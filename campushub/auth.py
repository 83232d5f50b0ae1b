"""``CampusAuthenticator``: campus single sign-on, course memberships, groups and staff roles.

A subclass of oauthenticator's ``GenericOAuthenticator`` that overrides its hooks and leaves
the OAuth flow to it:

- given only an ``issuer``, the provider's discovery document supplies the endpoints;
- id_tokens are verified (signature against the provider's JWKS, issuer, audience, expiry,
  issued-at, and a nonce bound to the login's OAuth state), which upstream does not do;
- memberships come from a claim (patterns with named parts ``course`` and ``role``) or from
  Canvas's REST API; they become the groups ``course:<slug>``, ``course:<slug>:students`` /
  ``:tas`` / ``:instructors`` and the per-course staff roles (``manage_groups`` and
  ``manage_roles``), synced at every login and refresh;
- administrators come from configured admin claim values only;
- a person in no catalog course is refused with a page that says why, unless allowed.

The decisions are the pure functions of :mod:`campushub.memberships`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from jupyterhub.handlers import BaseHandler
from jupyterhub.roles import get_default_roles
from jupyterhub.utils import url_path_join
from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthCallbackHandler, OAuthLoginHandler, _deserialize_state
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.log import app_log
from tornado.web import HTTPError
from traitlets import Bool, Dict, Float, Instance, Integer, List, Set, Unicode, default, validate

from .catalog import Catalog, CatalogError, load_catalog
from .idtoken import IdTokenError, IdTokenVerifier, nonce_for, unverified_claims
from .lti import (
    SIGN_IN_ACCOUNT,
    LaunchRefused,
    LaunchVerifier,
    LtiDeepLinkHandler,
    LtiJwksHandler,
    LtiLaunchHandler,
    LtiLoginHandler,
    SignInAccount,
    ToolKey,
    VerifiedLaunch,
    read_platforms,
)
from .memberships import (
    ROLE_GROUP_SUFFIX,
    ClaimPatternError,
    MembershipRules,
    claim_present,
    claim_values,
    course_groups,
    grader_course,
    ignored_from_canvas,
    ignored_from_claims,
    memberships_from_canvas,
    memberships_from_claims,
    memberships_from_lti,
    staff_role_course,
    staff_roles,
    user_roles,
)

# Berkeley's Canvas-derived claim values: course::<canvas id>::enrollment_type::<type>
BERKELEY_PATTERN = r"course::(?P<course>[^:]+)::enrollment_type::(?P<role>[^:]+)"
AUTH_STATE_KEY = "campushub"
# The key of a verified LTI launch in the data LtiLaunchHandler gives login_user (form data,
# text only, can never hold a VerifiedLaunch).
LAUNCH_KEY = "campushub_lti_launch"
# The last refusal's reason, for the page at /hub/refused (signed; a day).
REFUSED_COOKIE = "campushub-refused"
# What the sign-in page's "as someone else" may ask the provider (OpenID Connect Core 3.1.2.1).
PROMPTS = frozenset({"login", "select_account"})
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,127}$")


class DiscoveryError(RuntimeError):
    """The identity provider's discovery document could not be read or is incomplete."""


def fetch_discovery(issuer: str, timeout: float = 10.0) -> dict[str, Any]:
    """Read ``<issuer>/.well-known/openid-configuration`` and check what it names.

    Runs once, when the hub starts, before its event loop serves anyone.
    """
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            document = json.load(response)
    except (OSError, urllib.error.URLError, ValueError) as error:
        raise DiscoveryError(
            f"cannot read the identity provider's discovery document at {url}: {error}."
            " Check CAMPUSHUB_OIDC_ISSUER and that the provider is reachable from the hub."
        ) from error
    if not isinstance(document, dict):
        raise DiscoveryError(f"the discovery document at {url} is not a JSON object")
    missing = [
        key
        for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")
        if not isinstance(document.get(key), str)
    ]
    if missing:
        raise DiscoveryError(f"the discovery document at {url} lacks {', '.join(missing)}")
    if str(document.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        raise DiscoveryError(
            f"the discovery document at {url} names the issuer {document.get('issuer')!r},"
            f" not {issuer!r} (OpenID Connect Discovery 1.0, section 4.3)"
        )
    return document


class Refused(HTTPError):
    """A sign-in refused for a reason the person can act on. ``reason`` is one of
    ``no_course``, ``ignored_role``, ``not_open``, ``term_over``, ``no_claim``; ``details``
    what the page says about it. The callback shows it at ``/hub/refused``; elsewhere (the
    REST API, a refresh) it is a 403 with ``message``."""

    def __init__(self, reason: str, username: str, message: str, **details: Any) -> None:
        super().__init__(403, "%s", message)
        self.reason = reason
        self.username = username
        self.details = details
        self.jupyterhub_message = message

    def page(self) -> dict[str, Any]:
        return {"reason": self.reason, "user": self.username, **self.details}


class CampusLoginHandler(OAuthLoginHandler):
    """The upstream login handler, plus a nonce derived from the login's OAuth state, and
    ``?prompt=login`` (or ``select_account``) passed on, for signing in as someone else."""

    def authorize_redirect(self, *args: Any, **kwargs: Any) -> None:
        extra_params = kwargs.get("extra_params") or {}
        authenticator: CampusAuthenticator = self.authenticator
        state_id = _deserialize_state(extra_params.get("state", "")).get("state_id")
        if authenticator.verify_id_token and state_id:
            extra_params["nonce"] = nonce_for(self.settings["cookie_secret"], state_id)
        prompt = self.get_argument("prompt", "")
        if prompt in PROMPTS:
            extra_params["prompt"] = prompt
        kwargs["extra_params"] = extra_params
        super().authorize_redirect(*args, **kwargs)


class CampusCallbackHandler(SignInAccount, OAuthCallbackHandler):
    """The upstream callback, but a refused sign-in goes to ``/hub/refused``: one page, at an
    address a reload keeps (the callback's own cannot be loaded twice), that says why."""

    async def get(self) -> None:
        # An earlier refusal in this browser is over once a sign-in is made (headers are
        # sent with the redirect, so clear it first; a new refusal sets it again).
        self.clear_cookie(REFUSED_COOKIE, path=self.hub.base_url)
        try:
            await super().get()
        except (HTTPClientError, OSError, TimeoutError) as error:
            # The provider (its token or userinfo endpoint) is down, erring or too slow:
            # nothing was changed; say so, with a way to try again.
            code = getattr(error, "code", None)
            self.log.warning("Sign-in: the identity provider failed (%s)", error)
            trouble = {"timeout": code == 599 or isinstance(error, TimeoutError)}
            await _refused_page(self, 503, trouble=trouble)
            return
        except Refused as refused:
            self._set_cookie(
                REFUSED_COOKIE,
                json.dumps(refused.page()),
                encrypted=True,
                path=self.hub.base_url,
                expires_days=1,
            )
            self.redirect(url_path_join(self.hub.base_url, "refused"))


class RefusedHandler(BaseHandler):
    """``/hub/refused``: why the last sign-in in this browser was refused, with signing out
    and signing in as someone else. Read from a signed cookie, so nobody can make it say
    something else with a crafted address."""

    async def get(self) -> None:
        raw = self.get_secure_cookie(REFUSED_COOKIE, max_age_days=1)
        try:
            refusal = json.loads(raw) if raw else None
        except ValueError:
            refusal = None
        if not isinstance(refusal, dict) or refusal.get("reason") not in REFUSAL_REASONS:
            refusal = None
        user = self.current_user
        if refusal is None and user is not None:
            self.redirect(url_path_join(self.hub.base_url, "home"))
            return
        await _refused_page(self, 403 if refusal else 200, refusal=refusal)


async def _refused_page(
    handler: BaseHandler, status: int, refusal: dict[str, Any] | None = None, trouble: Any = None
) -> None:
    """refused.html: why a sign-in did not happen (``refusal``) or could not (``trouble``:
    the provider failing), with signing in again and signing out."""
    handler.set_status(status)
    base = handler.hub.base_url
    html = await handler.render_template(
        "refused.html",
        refusal=refusal,
        trouble=trouble,
        login_url=url_path_join(base, "oauth_login"),
        logout_url=url_path_join(base, "logout"),
    )
    handler.finish(html)


REFUSAL_REASONS = frozenset({"no_course", "ignored_role", "not_open", "term_over", "no_claim"})


class CampusAuthenticator(GenericOAuthenticator):
    """Log people in through the campus identity provider and learn their courses."""

    login_handler = CampusLoginHandler
    callback_handler = CampusCallbackHandler

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        handlers = [*super().get_handlers(app), (r"/refused", RefusedHandler)]
        if self.lti_verifier is not None:
            handlers += [
                (r"/lti/login", LtiLoginHandler),
                (r"/lti/launch", LtiLaunchHandler),
                (r"/lti/jwks", LtiJwksHandler),
                (r"/lti/deep-link", LtiDeepLinkHandler),
            ]
        return handlers

    # -- the provider -------------------------------------------------------------------------
    issuer = Unicode(
        "",
        config=True,
        help="""The identity provider's issuer URL, for example
        ``https://login.example.edu/realms/campus``. Its discovery document
        (``/.well-known/openid-configuration``) supplies the authorize, token, userinfo and
        JWKS URLs unless those are configured explicitly; it must name this same issuer.""",
    )
    discovery_timeout = Float(
        10.0, config=True, help="Seconds to wait for the issuer's discovery document."
    )
    provider_timeout = Float(
        10.0,
        config=True,
        help="""Seconds a sign-in waits for the provider's token and userinfo endpoints (to
        connect, and for the whole answer) before telling the person the campus sign-in is not
        answering. Sets ``http_request_kwargs`` unless that is configured.""",
    )

    @default("http_request_kwargs")
    def _default_http_request_kwargs(self) -> dict[str, Any]:
        return {"connect_timeout": self.provider_timeout, "request_timeout": self.provider_timeout}

    jwks_url = Unicode(
        "",
        config=True,
        help="The provider's JSON Web Key Set URL; from the discovery document if empty.",
    )
    verify_id_token = Bool(
        True,
        config=True,
        help="""Verify the id_token of every login: signature against the provider's JWKS
        (fetched again when an unknown key id appears), issuer, audience, expiry and issued-at
        (with ``id_token_leeway``), and a nonce bound to the login. Turn off only for a plain
        OAuth 2 provider with no id_tokens, such as Canvas.""",
    )
    id_token_leeway = Float(
        60.0, config=True, help="Seconds of clock skew allowed when checking id_token times."
    )

    # -- the catalog and memberships -------------------------------------------------------------
    catalog_path = Unicode(
        "",
        config=True,
        help="""The course catalog (``courses.yaml``). Its course ``keys`` map the identity
        provider's course identifiers to course slugs; its term says when memberships count.
        Not read when ``catalog`` is given.""",
    )
    catalog = Instance(
        Catalog,
        allow_none=True,
        config=True,
        help="""The loaded catalog; the reference configuration loads it once and passes it
        to the authenticator and spawner. If None, ``catalog_path`` is loaded.""",
    )
    memberships_source = Unicode(
        "claims",
        config=True,
        help="""Where course memberships come from: ``claims`` (a claim of the identity
        provider, read with ``membership_claim`` and ``membership_patterns``) or ``canvas``
        (the Canvas REST API at ``canvas_url``, with the person's own token).""",
    )

    @validate("memberships_source")
    def _check_source(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] not in ("claims", "canvas"):
            raise ValueError("memberships_source must be 'claims' or 'canvas'")
        return str(proposal["value"])

    membership_claim = Unicode(
        "groups",
        config=True,
        help="""The claim (a name, or a dotted path such as ``ext.memberships``) whose values
        carry course memberships, e.g. ``groups`` or ``eduperson_entitlement``.""",
    )
    membership_patterns = List(
        Unicode(),
        default_value=[BERKELEY_PATTERN],
        config=True,
        help=r"""Regular expressions, each naming the parts ``course`` and ``role``, matched
        against the whole of each claim value. The default reads Berkeley's Canvas-derived
        ``course::1524699::enrollment_type::ta``; for eduPersonEntitlement URNs use e.g.
        ``urn:mace:campus\.edu:course:(?P<course>[^:]+):(?P<role>[^:]+)``. The ``course``
        part is looked up among the catalog's course keys, then its slugs.""",
    )
    role_map = Dict(
        config=True,
        help="""Maps the provider's role names (case, spaces, ``-`` and ``_`` ignored) to
        ``student``, ``ta`` or ``instructor``; a name mapped to None is ignored. The default
        knows Canvas's types (teacher, ta, student, observer, designer, and their
        ``...Enrollment`` forms).""",
    )

    @default("role_map")
    def _default_role_map(self) -> dict[str, str | None]:
        from .memberships import DEFAULT_ROLE_MAP

        return dict(DEFAULT_ROLE_MAP)

    admin_claim = Unicode(
        "groups",
        config=True,
        help="The claim (name or dotted path) whose values can make someone an administrator.",
    )
    admin_values = Set(
        Unicode(),
        config=True,
        help="""Values of ``admin_claim`` that make their holder a hub administrator.
        Administrators come from these only, never from course membership.""",
    )
    match_course_slugs = Bool(
        False,
        config=True,
        help="""Let a membership value's ``course`` part name a course by its slug too, not
        only by one of its catalog ``keys``. Off by default: Canvas-derived values carry
        numeric course ids, and a slug there is not what the provider means. Turn it on for
        claims that name courses by the campus's own short names (as eduPersonEntitlement
        URNs often do); the catalog checker refuses a key that is another course's slug.""",
    )
    allow_unenrolled = Bool(
        False,
        config=True,
        help="""Let people in no catalog course log in (to the general environment).
        Otherwise they get a page saying they are in no course on this hub this term.
        Who may log in is decided here and by ``allowed_users``/``blocked_users``;
        upstream's ``allow_all``, ``allowed_groups``, ``allowed_scopes`` and
        ``allow_existing_users`` are refused at start, with what to use instead.""",
    )

    # -- Canvas -------------------------------------------------------------------------------
    canvas_url = Unicode(
        "",
        config=True,
        help="Canvas's base URL (e.g. ``https://bcourses.berkeley.edu``) for ``canvas``.",
    )
    canvas_timeout = Float(10.0, config=True, help="Seconds for each Canvas API request.")
    canvas_max_pages = Integer(
        20, config=True, help="At most this many pages of 100 courses are read from Canvas."
    )

    user_scopes = List(
        Unicode(),
        default_value=["self"],
        config=True,
        help="""The scopes of JupyterHub's ``user`` role, which everyone signed in holds; the
        reference configuration adds access to the links and scaler services. campushub
        manages this role with the staff roles (every login names it, and a restart keeps
        everyone's), so give its scopes here, not in ``JupyterHub.load_roles`` or
        ``JupyterHub.extra_user_scopes`` (either is refused at start). Keep ``self``.""",
    )

    # -- LTI 1.3 launches (campushub.lti) -----------------------------------------------------
    lti_platforms = List(
        config=True,
        help="""Learning platforms (a Canvas developer key each) whose LTI 1.3 launches sign
        people in beside campus sign-on: a list of mappings with ``issuer`` (for Canvas
        ``https://canvas.instructure.com``), ``client_id`` (the developer key's id),
        ``deployment_ids`` (the ids of the tool's deployments in the platform's accounts or
        courses), ``login_url`` (the platform's OpenID Connect authorization endpoint, for
        Canvas ``https://sso.canvaslms.com/api/lti/authorize_redirect``), ``jwks_url`` (its
        keys, ``https://sso.canvaslms.com/api/lti/security/jwks``) and an optional ``name``.
        Empty: no launches (``/hub/lti/*`` answers 404). The tool's login initiation address
        is ``<hub>/hub/lti/login``, its redirect (launch) address ``<hub>/hub/lti/launch``.""",
    )
    lti_username_claim = Unicode(
        "email",
        config=True,
        help="""The claim of a launch that names the person's campus account (the same hub
        account as their campus sign-in, never a second one): a claim the platform sets, such
        as ``email`` or ``lis:person_sourcedid`` (a key of the LIS claim). Never a custom
        parameter: a course item's own custom parameters override the tool's, so an
        instructor could name anyone. Read, trimmed and lowercased; a launch without it is
        refused with a page that says so.""",
    )
    lti_username_domain = Unicode(
        "",
        config=True,
        help="""With the claim an email address: the campus's domain (``berkeley.edu``),
        which is taken off to give the account name (``ada@berkeley.edu`` -> ``ada``); an
        address of another domain is refused. Empty: the whole value is the account name.""",
    )

    @validate("lti_username_claim")
    def _check_lti_claim(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"])
        if value.startswith("custom:") or not value.strip():
            raise ValueError(
                f"CampusAuthenticator.lti_username_claim {value!r}: use a claim the platform"
                " sets (email, lis:person_sourcedid); a course item's custom parameters"
                " override the tool's, so an instructor could name anyone"
            )
        return value

    lti_link_parameter = Unicode(
        "link",
        config=True,
        help="""The custom parameter of a launch that names a campushub link (its id, as in
        ``/services/links/l/<id>``): the launch opens it, as clicking the short link does.
        A launch without one opens the course's server.""",
    )
    lti_launch_url = Unicode(
        "",
        config=True,
        help="""The launch (redirect) address registered with the platforms; default: the
        hub's ``/hub/lti/launch`` at the address the login initiation came to.""",
    )
    lti_key_file = Unicode(
        "campushub-lti-key.pem",
        config=True,
        help="""The tool's RSA private key (PEM), with which the hub signs what it sends a
        platform (the link an instructor chose, LTI Deep Linking); platforms read its public
        half at ``<hub>/hub/lti/jwks`` (the developer key's "Public JWK URL"). Made (mode 0600)
        at the first start with ``lti_platforms`` if missing; relative to the hub's folder,
        which zero-to-jupyterhub keeps on its volume, so a restart keeps the key.""",
    )
    lti_session_hours = Float(
        12.0,
        config=True,
        help="""How long a sign-in made by a launch alone (no campus sign-in behind it to
        refresh) keeps its course; after that the next request asks for a sign-in (a launch
        from the course does it again without a password).""",
    )

    # -- upstream settings campushub relies on --------------------------------------------------
    @default("scope")
    def _default_scope(self) -> list[str]:
        return ["openid", "profile", "email"]

    @default("username_claim")
    def _default_username_claim(self) -> str:
        # The one claim OpenID Connect promises is stable and unique at its provider.
        return "sub"

    @default("login_service")
    def _default_login_service(self) -> str:
        return "campus single sign-on"

    @default("manage_groups")
    def _default_manage_groups(self) -> bool:
        return True

    @default("manage_roles")
    def _default_manage_roles(self) -> bool:
        return True

    @default("reset_managed_roles_on_startup")
    def _default_reset_managed_roles(self) -> bool:
        # campushub keeps its roles itself when the hub starts (load_managed_roles returns
        # none: see there); JupyterHub, resetting, would delete them all with their holders.
        return False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.catalog is None:
            self.catalog = self._load_catalog()
        try:
            self.rules = MembershipRules.build(
                self.membership_patterns, self.role_map, self.match_course_slugs
            )
        except ClaimPatternError as error:
            raise ValueError(f"CampusAuthenticator: {error}") from None
        self.id_token_verifier: IdTokenVerifier | None = None
        if self.issuer:
            document = fetch_discovery(self.issuer, self.discovery_timeout)
            for trait, key in (
                ("authorize_url", "authorization_endpoint"),
                ("token_url", "token_endpoint"),
                ("userdata_url", "userinfo_endpoint"),
                ("jwks_url", "jwks_uri"),
            ):
                if not getattr(self, trait):  # explicit configuration wins over discovery
                    setattr(self, trait, document[key])
            self.log.info(
                "Campus identity provider %s: authorize %s, token %s, keys %s",
                self.issuer,
                self.authorize_url,
                self.token_url,
                self.jwks_url,
            )
        if self.verify_id_token:
            if not (self.issuer and self.jwks_url):
                raise ValueError(
                    "CampusAuthenticator: verifying id_tokens needs `issuer` (and its JWKS);"
                    " set `verify_id_token = False` only for a provider without id_tokens"
                )
            self.id_token_verifier = IdTokenVerifier(
                issuer=self.issuer,
                audience=self.client_id,
                jwks_uri=self.jwks_url,
                fetch_json=self._fetch_json,
                leeway=self.id_token_leeway,
            )
        try:
            platforms = read_platforms(self.lti_platforms)
        except ValueError as error:
            raise ValueError(f"CampusAuthenticator: {error}") from None
        self.lti_verifier: LaunchVerifier | None = None
        self.lti_key: ToolKey | None = None
        if platforms:
            if not self.enable_auth_state:
                raise ValueError(
                    "CampusAuthenticator: lti_platforms needs enable_auth_state (set"
                    " JUPYTERHUB_CRYPT_KEY): a launch's binding to its platform user and the"
                    " expiry of what launches gave are kept there"
                )
            self.lti_verifier = LaunchVerifier(platforms, self._fetch_json, self.id_token_leeway)
            try:
                self.lti_key = ToolKey.load_or_create(self.lti_key_file)
            except ValueError as error:
                raise ValueError(f"CampusAuthenticator: {error}") from None
        if self.memberships_source == "canvas" and not self.canvas_url:
            raise ValueError("CampusAuthenticator: memberships_source 'canvas' needs canvas_url")
        self._check_allow_settings()
        if self.admin_groups:
            raise ValueError(
                "CampusAuthenticator: administrators come from admin_claim/admin_values, not"
                " from groups (which are course groups here); unset admin_groups"
            )
        # Full definitions of every role a login can name, so syncing them never meets an
        # undefined one (JupyterHub would warn that it has no scopes).
        self._role_definitions = {role["name"]: role for role in get_default_roles()}
        # Each login names the `user` role with its scopes, and JupyterHub stores what a login
        # names; campushub defines it (user_scopes) and manages it.
        self._check_hub_roles()
        self._role_definitions["user"] = self.user_role()
        self._role_definitions.update((role["name"], role) for role in staff_roles(self.catalog))
        self._stopping: set[asyncio.Future[Any]] = set()  # servers of courses left, stopping
        self._staff_roles_synced = False  # once per start of the hub (load_managed_roles)
        # A login names the staff roles without scopes (see _login_role), on which JupyterHub
        # warns that the role "will have no scopes"; it keeps them, so the warning is untrue.
        _STAFF_SCOPES_KEPT.names.update(
            n for n in self._role_definitions if staff_role_course(n) is not None
        )
        app_log.addFilter(_STAFF_SCOPES_KEPT)  # once: the same filter object

    @default("any_allow_config")
    def _default_any_allow_config(self) -> bool:
        # Who may sign in is decided (course membership, allow_unenrolled, allowed_users):
        # JupyterHub's "No allow config found" warning does not apply.
        return True

    def _check_allow_settings(self) -> None:
        """Refuse upstream allow settings that campushub's rule would silently override."""
        instead = {
            "allow_all": "allow_unenrolled = True (everyone the provider signs in)",
            "allowed_groups": "course membership (the catalog) or allowed_users",
            "allowed_scopes": "course membership (the catalog) or allowed_users",
            "allow_existing_users": "course membership; accounts of people who left a course"
            " are refused at their next sign-in",
        }
        configured = [name for name in instead if getattr(self, name)]
        if configured:
            raise ValueError(
                "CampusAuthenticator: who may sign in is decided by course membership;"
                + "".join(f" {name} is not used here (use {instead[name]});" for name in configured)
                + " remove it from the configuration"
            )

    def _load_catalog(self) -> Catalog:
        if not self.catalog_path:
            raise ValueError("CampusAuthenticator.catalog_path must name the course catalog")
        try:
            catalog = load_catalog(self.catalog_path)
        except CatalogError as error:
            raise ValueError(str(error)) from None
        self.log.info(
            "Catalog %s: term %s, %d course(s)",
            self.catalog_path,
            catalog.term.name,
            len(catalog.courses),
        )
        return catalog

    async def _fetch_json(self, url: str) -> Any:
        try:
            return await self.httpfetch(url, "fetching the provider's keys", method="GET")
        except Exception as error:  # any failure to read the keys refuses the login
            raise IdTokenError(f"the provider's keys at {url} cannot be read: {error}") from None

    def today(self) -> date:
        """The date in the catalog's time zone, which decides whether the term is open."""
        return datetime.now(self.catalog.timezone).date()

    # -- roles the authenticator manages -----------------------------------------------------------
    def user_role(self) -> dict[str, Any]:
        """JupyterHub's ``user`` role as campushub manages it: ``user_scopes``."""
        role = {r["name"]: r for r in get_default_roles()}["user"]
        return {**role, "scopes": list(self.user_scopes)}

    def _check_hub_roles(self) -> None:
        """Refuse hub settings that would fight the roles campushub manages, saying why."""
        if not self.manage_roles:
            return
        if self.reset_managed_roles_on_startup:
            raise ValueError(
                "CampusAuthenticator: reset_managed_roles_on_startup must stay False: campushub"
                " keeps the `user` role and the course staff roles itself when the hub starts,"
                " and JupyterHub, resetting, would delete every staff role with its holders"
            )
        hub = self.parent
        if any(spec.get("name") == "user" for spec in getattr(hub, "load_roles", None) or ()):
            raise ValueError(
                "CampusAuthenticator: campushub manages the `user` role; give its scopes with"
                " c.CampusAuthenticator.user_scopes, not a `user` entry of"
                " c.JupyterHub.load_roles"
            )
        if getattr(hub, "extra_user_scopes", None):
            raise ValueError(
                "CampusAuthenticator: campushub manages the `user` role; give its scopes with"
                " c.CampusAuthenticator.user_scopes, not c.JupyterHub.extra_user_scopes"
            )

    async def load_managed_roles(self) -> list[dict[str, Any]]:
        """None: campushub keeps the roles a login assigns itself, at a fraction of the cost.

        JupyterHub calls this twice as it starts (``init_role_creation``, then
        ``init_role_assignment``) and makes several queries for each role returned: with two
        staff roles per course that was 14 s of every start at 2,000 courses
        (``benchmarks/hub_scale.py``). So at the first call campushub brings the staff roles
        to what the catalog and the database say in one pass (:func:`campushub.reach.
        sync_staff_roles`: every catalog course's ``course-<slug>-ta`` and
        ``-instructor`` with its roster and the course servers its holders reach, blocked
        people's servers reached by no one; roles of courses gone from the catalog deleted),
        and at each call gives the ``user`` role ``user_scopes`` (JupyterHub has just reset
        it to its default between the two). The assignments logins made are kept:
        ``reset_managed_roles_on_startup`` is False. ``admin`` is JupyterHub's: restored at
        start from each person's admin flag, which logins set."""
        db = getattr(self.parent, "db", None)
        if db is None:
            return []
        self._adopt_user_role()
        from .reach import sync_grader_accounts

        sync_grader_accounts(db, self.catalog)
        if not self._staff_roles_synced:
            from .reach import remove_course_shares, sync_staff_roles

            remove_course_shares(db, self.catalog.courses)
            sync_staff_roles(db, self.catalog, self.blocked_users)
            self._staff_roles_synced = True
        return []

    def _login_role(self, name: str) -> dict[str, Any]:
        """A role as a login names it. A course's staff role that exists is named without
        its scopes: JupyterHub then keeps the stored ones, which campushub keeps exact (a
        server starting while a login is under way adds one; a login naming the scopes it
        read earlier would write that back without it). One that does not (JupyterHub
        deletes a staff role when its last holder loses it) is named with the reach its
        course's servers have now, read from the database."""
        role = dict(self._role_definitions[name])
        db = getattr(self.parent, "db", None)
        slug = staff_role_course(name)
        if db is not None and slug is not None:
            from jupyterhub import orm

            if orm.Role.find(db, name) is not None:
                role.pop("scopes", None)
            else:
                from .reach import reach_scopes

                reach = reach_scopes(db, self.catalog.courses, self.blocked_users, only=slug)
                role["scopes"] = [*role["scopes"], *reach.get(name, ())]
        return role

    def _adopt_user_role(self) -> None:
        """Mark an existing ``user`` role as managed, with ``user_scopes``. A database
        written before campushub managed it holds it as a configured role, which JupyterHub
        would delete at start (with everyone's assignment to it) because the configuration
        no longer names it; and JupyterHub gives it its default scopes at every start."""
        db = getattr(self.parent, "db", None)
        if db is None:
            return
        from jupyterhub import orm

        role = orm.Role.find(db, "user")
        if role is None:
            return  # a new database: JupyterHub makes it, the next call gives it its scopes
        if not role.managed_by_auth:
            role.managed_by_auth = True
            self.log.info("The `user` role is now managed by campushub's authenticator")
        if list(role.scopes or []) != list(self.user_scopes):
            role.scopes = list(self.user_scopes)
        db.commit()

    # -- hooks of the upstream flow ------------------------------------------------------------
    async def get_token_info(self, handler: Any, params: dict[str, Any]) -> dict[str, Any]:
        """Exchange the code (upstream), then verify the id_token before anything trusts it."""
        token_info: dict[str, Any] = await super().get_token_info(handler, params)
        # A login exchanges a code; a refresh (even one run while a callback is handled)
        # exchanges a refresh token, whose id_token carries no nonce.
        login = isinstance(handler, OAuthCallbackHandler) and (
            params.get("grant_type") == "authorization_code"
        )
        # A refresh-token exchange may return no id_token (OpenID Connect Core 12.2).
        if self.id_token_verifier is not None and (login or token_info.get("id_token")):
            nonce = None
            if login:
                state = _deserialize_state(handler.get_argument("state", ""))
                nonce = nonce_for(handler.settings["cookie_secret"], str(state.get("state_id")))
            try:
                claims = await self.id_token_verifier.verify(token_info.get("id_token"), nonce)
            except IdTokenError as error:
                token = token_info.get("id_token") or ""
                claimed = unverified_claims(token).get("sub") if isinstance(token, str) else None
                self.log.warning("Refused a login (claimed sub %r): %s", claimed, error)
                raise HTTPError(403, f"Sign-in refused: {error}.") from None
            token_info[f"{AUTH_STATE_KEY}_id_token_sub"] = claims["sub"]
        return token_info

    def user_info_to_username(self, user_info: dict[str, Any]) -> str:
        """The configured claim, trimmed and lowercased; refused if it is not a safe name."""
        raw = super().user_info_to_username(user_info)
        username = str(raw).strip().lower()
        if not _USERNAME.match(username):
            raise HTTPError(
                403,
                "Sign-in refused: the identity provider's"
                f" {self.username_claim!r} claim is not a usable username.",
            )
        if grader_course(username) is not None:
            # grader-<course> is the hub account of a course's grader server, never a person's.
            raise HTTPError(
                403,
                f"Sign-in refused: {username!r} is reserved on this hub for a course's grader;"
                " ask the hub's operators.",
            )
        return username

    async def update_auth_model(self, auth_model: dict[str, Any]) -> dict[str, Any]:
        """Memberships, groups, roles and admin status, from the claims or from Canvas."""
        auth_state = auth_model["auth_state"]
        user_info = auth_state.get(self.user_auth_state_key) or {}
        expected_sub = auth_state.get("token_response", {}).get(f"{AUTH_STATE_KEY}_id_token_sub")
        if expected_sub is not None and user_info.get("sub") not in (None, expected_sub):
            # OpenID Connect Core 5.3.2: userinfo must describe the id_token's subject.
            raise HTTPError(403, "Sign-in refused: userinfo and id_token name different people.")
        today = self.today()
        ignored: dict[str, str]
        if self.memberships_source == "canvas":
            courses = await self._canvas_courses(auth_state["access_token"], auth_model["name"])
            memberships = memberships_from_canvas(courses, self.rules, self.catalog, today)
            ignored = {} if memberships else ignored_from_canvas(courses, self.rules, self.catalog)
        else:
            values = claim_values(user_info, self.membership_claim)
            memberships = memberships_from_claims(values, self.rules, self.catalog, today)
            ignored = {} if memberships else ignored_from_claims(values, self.rules, self.catalog)
        subject = expected_sub if expected_sub is not None else user_info.get("sub")
        if subject is None and self.memberships_source == "canvas":
            subject = user_info.get("id")  # Canvas's own, stable user id
        subject = None if subject is None else str(subject)
        account = self._account(auth_model["name"])  # None for a first sign-in
        previous = await self._check_account_subject(account, auth_model["name"], subject)
        campus = memberships
        if memberships and self.lti_verifier is not None:
            # What launches gave within lti_session_hours stays beside the campus's courses
            # (a course launched from the platform, its server kept running).
            launched = self._lti_memberships(previous, datetime.now().timestamp())
            memberships = {**launched, **campus}
        auth_state[AUTH_STATE_KEY] = {"memberships": memberships, "sub": subject, "campus": campus}
        for kept in ("lti_subjects", "lti_memberships"):  # the account's launches stay
            if previous.get(kept):
                auth_state[AUTH_STATE_KEY][kept] = previous[kept]
        if not memberships:
            auth_state[AUTH_STATE_KEY]["refusal"] = self._why_no_course(user_info, ignored, today)
        self._sync_reach(account, memberships)
        if not auth_model.get("admin"):
            admin_claims = set(claim_values(user_info, self.admin_claim))
            auth_model["admin"] = bool(admin_claims & self.admin_values)
        # manage_roles replaces every role a login does not name, `user` and `admin` included.
        roles = user_roles(memberships) + (["admin"] if auth_model["admin"] else [])
        auth_model["roles"] = [self._login_role(name) for name in roles]
        self._forget_member_lists(account, course_groups(memberships), roles)
        shown = ", ".join(f"{slug} ({role})" for slug, role in sorted(memberships.items()))
        self.log.info(
            "%s -> %s%s",
            auth_model["name"],
            shown or "no course",
            " [administrator]" if auth_model["admin"] else "",
        )
        if account is not None:
            auth_model[SIGN_IN_ACCOUNT] = account  # taken out again by authenticate()
        return auth_model

    # -- LTI launches ----------------------------------------------------------------------------
    async def authenticate(self, handler: Any, data: Any = None) -> Any:
        """A verified LTI launch (from :class:`campushub.lti.LtiLaunchHandler`), else the
        campus sign-in's OAuth flow (upstream)."""
        if isinstance(data, dict) and isinstance(data.get(LAUNCH_KEY), VerifiedLaunch):
            model = await self.lti_auth_model(data[LAUNCH_KEY])
        else:
            model = await super().authenticate(handler, data)
        if isinstance(model, dict):
            # The account loaded here is the one JupyterHub looks up next (SignInAccount).
            account = model.pop(SIGN_IN_ACCOUNT, None)
            if account is not None and handler is not None:
                handler.__dict__[SIGN_IN_ACCOUNT] = account
        return model

    def _lti_username(self, launch: VerifiedLaunch) -> str:
        raw = launch.claim(self.lti_username_claim)
        where = self.lti_username_claim
        if not isinstance(raw, str) or not raw.strip():
            raise LaunchRefused(
                "username",
                "Your campus account could not be read",
                f"{launch.platform.title} did not say who you are on campus ({where}). The"
                " hub's operators set this up with the learning platform: tell them, and"
                " mention this page.",
            )
        username = raw.strip().lower()
        domain = self.lti_username_domain.lower()
        if domain:
            local, at, given = username.rpartition("@")
            if not at or given != domain:
                raise LaunchRefused(
                    "username",
                    "Your campus account could not be read",
                    f"{launch.platform.title} names you {raw[:64]!r} ({where}), which is not an"
                    f" account of {domain}; ask the hub's operators.",
                )
            username = local
        if _USERNAME.match(username) and grader_course(username) is None:
            return username
        raise LaunchRefused(
            "username",
            "Your campus account could not be read",
            f"{launch.platform.title} names you {raw[:64]!r} ({where}), which is not a usable"
            " campus account on this hub; ask the hub's operators.",
        )

    def _lti_memberships(self, ours: dict[str, Any], now: float) -> dict[str, str]:
        """The memberships launches gave that still hold: within ``lti_session_hours`` of
        their launch, of a course still in the catalog, in the term."""
        found: dict[str, str] = {}
        if not self.catalog.term.is_open(self.today()):
            return found
        launched = ours.get("lti_memberships")
        for slug, entry in (launched if isinstance(launched, dict) else {}).items():
            if not isinstance(entry, dict) or slug not in self.catalog.courses:
                continue
            at, role = entry.get("at"), entry.get("role")
            fresh = isinstance(at, int | float) and now - at < self.lti_session_hours * 3600
            if fresh and role in ROLE_GROUP_SUFFIX:
                found[slug] = role
        return found

    def _campus_memberships(self, ours: dict[str, Any]) -> dict[str, str]:
        """The memberships the person's last campus sign-in (or its refresh) found, of courses
        still in the catalog."""
        campus = ours.get("campus")
        return {
            slug: role
            for slug, role in (campus if isinstance(campus, dict) else {}).items()
            if slug in self.catalog.courses and role in ROLE_GROUP_SUFFIX
        }

    async def lti_auth_model(self, launch: VerifiedLaunch) -> dict[str, Any]:
        """The hub's sign-in for a verified launch: the person's campus account (by
        ``lti_username_claim``, a claim the platform sets, never a custom parameter that a
        course item may override), with the launch's course in the role its LTI roles give,
        beside what their campus sign-in found and what other launches gave within
        ``lti_session_hours``. Refused, with a page, for a course not in the catalog, a role
        with no server, an administrator's account (administrators sign in on campus), or
        an account bound to another user of that platform."""
        username = self._lti_username(launch)
        key = launch.context_id
        course = self.catalog.course_for_key(key) if key is not None else None
        if course is None:
            raise LaunchRefused(
                "course",
                "This course has no environment on this hub",
                f"{launch.context_title} (course {key} in {launch.platform.title}) is not in"
                f" the hub's catalog for the term {self.catalog.term.name}. If it should be,"
                " its instructor asks the hub's operators to add it.",
            )
        today = self.today()
        launched = memberships_from_lti(key, launch.roles, self.catalog, today)
        if not launched:
            if not self.catalog.term.is_open(today):
                message = (
                    f"The hub has no courses outside the term {self.catalog.term.name}"
                    f" ({self.catalog.term.starts} to {self.catalog.term.ends})."
                )
            else:
                message = (
                    f"{launch.platform.title} lists you in {course.title} in a role that has no"
                    " environment here: this hub gives them to a course's students, TAs and"
                    " instructors. If you take or teach the course, ask its instructor to"
                    " check your role."
                )
            raise LaunchRefused("role", "Your role in this course has no environment here", message)
        account = self._account(username)
        if account is not None and account.admin:
            raise LaunchRefused(
                "admin",
                "Administrators sign in on campus",
                f"The account {username} is one of the hub's administrators, which a launch"
                " from a learning platform does not sign in. Use the hub's own sign-in.",
            )
        state: dict[str, Any] = {}
        if account is not None:
            state = await account.get_auth_state() or {}
        ours = dict(state.get(AUTH_STATE_KEY) or {})
        bound = dict(ours.get("lti_subjects") or {})
        platform_key = f"{launch.platform.issuer} {launch.platform.client_id}"
        if bound.get(platform_key, launch.subject) != launch.subject:
            self.log.warning(
                "Refused a launch as %s: the account belongs to %r of %s, this is %r",
                username,
                bound[platform_key],
                launch.platform.issuer,
                launch.subject,
            )
            raise LaunchRefused(
                "subject",
                "This account belongs to someone else",
                f"The account {username} on this hub belongs to another person of"
                f" {launch.platform.title}. Ask the hub's operators to look into it.",
            )
        bound[platform_key] = launch.subject
        now = datetime.now().timestamp()
        kept = {
            slug: {"role": role, "at": ours["lti_memberships"][slug]["at"]}
            for slug, role in self._lti_memberships(ours, now).items()
        }
        kept.update({slug: {"role": role, "at": now} for slug, role in launched.items()})
        ours["lti_memberships"] = kept
        memberships = {
            **{slug: entry["role"] for slug, entry in kept.items()},
            **self._campus_memberships(ours),
            **launched,
        }
        ours.update(
            memberships=memberships,
            lti_subjects=bound,
            lti={
                "platform": platform_key,
                "course": course.slug,
                "link": launch.custom(self.lti_link_parameter),
                "at": now,
            },
        )
        ours.pop("refusal", None)
        ours.setdefault("sub", None)
        state[AUTH_STATE_KEY] = ours
        self._sync_reach(account, memberships)
        roles = user_roles(memberships)
        self._forget_member_lists(account, course_groups(memberships), roles)
        shown = ", ".join(f"{slug} ({role})" for slug, role in sorted(launched.items()))
        self.log.info("%s -> %s [LTI launch from %s]", username, shown, launch.platform.issuer)
        model = {
            "name": username,
            "admin": False,
            "auth_state": state,
            "groups": sorted(course_groups(memberships)),
            "roles": [self._login_role(name) for name in roles],
        }
        if account is not None:
            model[SIGN_IN_ACCOUNT] = account  # taken out again by authenticate()
        return model

    def lti_landing(self, user: Any, launch: VerifiedLaunch, base_url: str) -> str:
        """Where a launch goes once signed in (``base_url``: JupyterHub's): the link it names
        (the links service opens it as it opens the short link, starting the course server),
        else the course server."""
        from .services.links.rules import check_link_id

        link = launch.custom(self.lti_link_parameter)
        if link is not None and check_link_id(link):
            return url_path_join(base_url, "services/links/l", link)
        key = launch.context_id
        course = self.catalog.course_for_key(key) if key is not None else None
        if course is None:
            return url_path_join(base_url, "hub/home")
        return url_path_join(base_url, "hub/spawn", user.name, course.slug)

    def _account(self, username: str) -> Any:
        """The hub's user of that name (loaded once per sign-in: JupyterHub's own lookup
        after the sign-in finds it loaded), or None for a new account. Found as JupyterHub's
        ``find_user`` finds it, with one query: ``users[name]`` queries by name, then again
        by id when the person is not loaded yet (every sign-in of a lecture), each with the
        person's groups and roles (``benchmarks/hub_scale.py``: 4 ms of a 48 ms sign-in)."""
        users = getattr(self.parent, "users", None)
        db = getattr(self.parent, "db", None)
        if users is None or db is None:
            return None
        from jupyterhub import orm

        found = orm.User.find(db, username)
        return None if found is None else users[found]

    async def _check_account_subject(
        self, user: Any, username: str, subject: str | None
    ) -> dict[str, Any]:
        """An account belongs to the provider's subject that first signed in to it: a later
        sign-in under the same username by another subject (a reused or edited username
        claim) is refused. Needs the login's state kept (``enable_auth_state``). Returns
        campushub's part of the account's state (empty for a new account)."""
        if user is None or not self.enable_auth_state:
            return {}
        state = await user.get_auth_state() or {}
        ours = state.get(AUTH_STATE_KEY) or {}
        if subject is None:
            return ours
        bound = ours.get("sub")
        if bound is not None and bound != subject:
            self.log.warning(
                "Refused a sign-in as %s: the account belongs to subject %r, this is %r",
                username,
                bound,
                subject,
            )
            raise HTTPError(
                403,
                f"Sign-in refused: the account {username} on this hub belongs to another person"
                " at the campus identity provider. If your username was given to you recently,"
                " ask the hub's operators to look into it.",
            )
        return ours

    def _sync_reach(self, user: Any, memberships: dict[str, str]) -> None:
        """The course staff who may open each of this person's course servers, kept to their
        memberships now (see :mod:`campushub.reach`): a student who became a TA, left a
        course or was blocked is no longer reached as a student. Their own reach as staff
        comes with their roles, which JupyterHub syncs from the login."""
        db = getattr(self.parent, "db", None)
        if db is None or user is None:
            return  # no hub, or a first sign-in: no servers yet
        from .reach import sync_owner_reach

        blocked = user.name in self.blocked_users
        sync_owner_reach(db, user.orm_user, {} if blocked else memberships)

    def _forget_member_lists(self, user: Any, groups: Iterable[str], roles: Iterable[str]) -> None:
        db = getattr(self.parent, "db", None)
        if db is not None:
            forget_member_lists(db, None if user is None else user.orm_user, groups, roles)

    async def refresh_user(self, user: Any, handler: Any = None, **kwargs: Any) -> Any:
        """Refresh memberships (upstream flow). If the identity provider or Canvas is down,
        keep the person's current groups and roles rather than fail their requests; if the
        refresh is refused (e.g. a bad id_token), ask for a new login. A course's grader
        account never signs in: nothing to refresh (its server is started by the staff)."""
        if grader_course(user.name) is not None:
            return True
        if self.enable_auth_state and self.lti_verifier is not None:
            state = await user.get_auth_state() or {}
            launched = (state.get(AUTH_STATE_KEY) or {}).get("lti")
            if not state.get("token_response") and isinstance(launched, dict):
                # Signed in by launches alone: nothing to refresh from; the courses they gave
                # hold for lti_session_hours, then a new sign-in (or launch) is asked for.
                ours = state.get(AUTH_STATE_KEY) or {}
                held = set((ours.get("memberships") or {}).keys())
                fresh = self._lti_memberships(ours, datetime.now().timestamp())
                return bool(fresh) and held <= set(fresh)
        try:
            refreshed = await super().refresh_user(user, handler, **kwargs)
            if isinstance(refreshed, dict):
                refreshed.pop(SIGN_IN_ACCOUNT, None)  # a refresh has the account already
                return await self._revoke_what_was_left(user, refreshed, handler)
            return refreshed
        except HTTPError as error:
            if error.status_code != 503:
                self.log.warning("Refreshing %s refused (%s); new login needed", user.name, error)
                return False
            reason: Exception = error
        except (HTTPClientError, OSError) as error:  # the provider is down or erring
            reason = error
        self.log.warning("Refreshing %s failed (%s); keeping memberships", user.name, reason)
        return True

    async def _revoke_what_was_left(
        self, user: Any, auth_model: dict[str, Any], handler: Any
    ) -> dict[str, Any] | bool:
        """At a refresh, what someone no longer may have goes at once: the servers of courses
        they left are stopped (their files stay), and someone the allow check now refuses
        (in no course) loses their course groups and staff roles and must sign in again,
        which shows them the refusal page. The hub syncs groups and roles from the returned
        model otherwise."""
        memberships = (auth_model["auth_state"].get(AUTH_STATE_KEY) or {}).get("memberships", {})
        try:
            allowed = await self.check_allowed(user.name, auth_model)
        except HTTPError:
            allowed = False
        self._stop_servers_left(user, memberships if allowed else {}, handler)
        if allowed:
            return auth_model
        self.log.warning(
            "%s is no longer in any course on this hub: signed out, course access removed",
            user.name,
        )
        # A False refresh makes JupyterHub ask for a new sign-in but syncs nothing, and the
        # person's tokens would keep their course groups: take them away here.
        user.sync_groups(set())
        user.sync_roles([dict(self._role_definitions["user"])])
        return False

    def _stop_servers_left(self, user: Any, memberships: dict[str, str], handler: Any) -> None:
        """Stop (in the background) the person's running servers of courses they are not in:
        course servers named after them, and a default server started with one chosen."""
        stop = getattr(handler, "stop_single_user", None)
        for name, spawner in list(user.spawners.items()):
            if not spawner.active or spawner.pending:
                continue
            choice = (spawner.user_options or {}).get("profile") if not name else None
            course = name or (choice if isinstance(choice, str) else "")
            if not course or course in memberships or course not in self.catalog.courses:
                continue
            self.log.info("%s left %s: stopping their server %r", user.name, course, name)
            stopping = stop(user, name) if stop else user.stop(name)
            task = asyncio.ensure_future(stopping)
            task.add_done_callback(self._log_stop_failure)
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    def _log_stop_failure(self, task: asyncio.Future[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("Stopping a server of a course left failed: %s", task.exception())

    async def get_user_groups(self, auth_state: dict[str, Any]) -> set[str]:
        """The course groups of the memberships found by :meth:`update_auth_model`."""
        memberships = (auth_state.get(AUTH_STATE_KEY) or {}).get("memberships", {})
        return course_groups(memberships)

    async def check_allowed(self, username: str, auth_model: dict[str, Any] | None) -> bool:
        """Members of a catalog course and administrators; others only if allowed."""
        if auth_model is None:
            return True
        memberships = (auth_model["auth_state"].get(AUTH_STATE_KEY) or {}).get("memberships")
        if memberships or auth_model.get("admin") or username in self.allowed_users:
            return True
        if self.allow_unenrolled:
            return True
        raise self._refusal(username, (auth_model["auth_state"].get(AUTH_STATE_KEY) or {}))

    def _why_no_course(
        self, user_info: dict[str, Any], ignored: dict[str, str], today: date
    ) -> dict[str, Any]:
        """Why a sign-in found no course, most telling first: outside the term; a provider
        that sends no membership claim at all; roles in catalog courses the hub ignores (an
        observer); else simply no course."""
        term = self.catalog.term
        if today < term.starts:
            return {"reason": "not_open"}
        if today > term.ends:
            return {"reason": "term_over"}
        if self.memberships_source != "canvas" and not claim_present(
            user_info, self.membership_claim
        ):
            return {"reason": "no_claim"}
        if ignored:
            return {"reason": "ignored_role", "roles": sorted(ignored.items())[:20]}
        return {"reason": "no_course"}

    def _refusal(self, username: str, state: dict[str, Any]) -> Refused:
        term = self.catalog.term
        when = {"term": term.name, "starts": term.starts.isoformat(), "ends": term.ends.isoformat()}
        facts = state.get("refusal") if isinstance(state.get("refusal"), dict) else {}
        reason = facts.get("reason", "no_course")
        if reason == "not_open":
            message = (
                f"You are signed in as {username}. The hub opens for the term {term.name} on"
                f" {term.starts}; your courses will be here from then."
            )
            return Refused(reason, username, message, **when)
        if reason == "term_over":
            message = (
                f"You are signed in as {username}. The term {term.name} ended on {term.ends};"
                " the hub has no courses until the next term's catalog is in place."
            )
            return Refused(reason, username, message, **when)
        if reason == "no_claim":
            message = (
                f"You are signed in as {username}, but the campus identity provider's answer"
                f" has no {self.membership_claim!r} claim, which is where this hub reads your"
                " courses from. This is a setting between the hub and the identity provider,"
                " not something you did: tell the hub's operators."
            )
            return Refused(reason, username, message, claim=self.membership_claim, **when)
        if reason == "ignored_role":
            roles = [
                (self.catalog.courses[slug].title, str(role))
                for slug, role in facts.get("roles", [])
                if isinstance(slug, str) and slug in self.catalog.courses
            ]
            if roles:
                listed = ", ".join(f"{title} as {role}" for title, role in roles)
                message = (
                    f"You are signed in as {username}. The campus lists you in {listed}; this"
                    " hub gives course environments only to a course's students, TAs and"
                    " instructors. If you take or teach the course, ask its instructor to"
                    " check your role."
                )
                return Refused(reason, username, message, roles=roles, **when)
        message = (
            f"You are signed in as {username}, but you are not in any course on this hub"
            f" for the term {term.name} ({term.starts} to {term.ends}). If you have just"
            " enrolled, your campus systems may take a few hours to catch up; otherwise ask"
            " your course's instructor to add you."
        )
        return Refused("no_course", username, message, **when)

    # -- Canvas ------------------------------------------------------------------------------------
    async def _canvas_courses(self, access_token: str, username: str) -> list[Any]:
        """The person's active Canvas courses with their enrollments, all pages.

        On any failure the login stops with a page that says so; the person's groups and
        roles in the hub stay as they were.
        """
        base = urllib.parse.urlsplit(self.canvas_url)
        url: str | None = f"{self.canvas_url.rstrip('/')}/api/v1/courses?" + urllib.parse.urlencode(
            {"enrollment_state": "active", "per_page": "100"}
        )
        courses: list[Any] = []
        pages = 0
        while url and pages < self.canvas_max_pages:
            request = HTTPRequest(
                url,
                method="GET",
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
                request_timeout=self.canvas_timeout,
                connect_timeout=self.canvas_timeout,
            )
            try:
                response = await self.http_client.fetch(request)
                page = json.loads(response.body)
            except (HTTPClientError, OSError, ValueError) as error:
                self.log.error("Canvas courses of %s: %s", username, error)
                raise HTTPError(
                    503,
                    "Canvas did not answer with your courses, so sign-in stopped here; your"
                    " courses on this hub are unchanged. Please try again in a minute.",
                ) from None
            if not isinstance(page, list):
                self.log.error("Canvas courses of %s: not a list from %s", username, url)
                raise HTTPError(
                    503,
                    "Canvas answered with something other than a course list, so sign-in"
                    " stopped here; your courses on this hub are unchanged.",
                )
            courses.extend(page)
            pages += 1
            link = response.headers.get("Link", "")
            url = next_link(link, base)
            if url is None and 'rel="next"' in link:
                self.log.error("Canvas courses of %s: refused next page in %r", username, link)
                raise HTTPError(
                    503,
                    "Canvas pointed elsewhere for the rest of your courses, so sign-in stopped"
                    " here; your courses on this hub are unchanged.",
                )
        if url:
            self.log.warning(
                "Canvas courses of %s: stopped after %d pages (canvas_max_pages)", username, pages
            )
        return courses


class _StaffRoleScopesKept(logging.Filter):
    """Drops JupyterHub's "Role X will have no scopes" for campushub's staff roles."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.msg == "Role %s will have no scopes"
            and bool(record.args)
            and str(record.args[0] if isinstance(record.args, tuple) else "") in self.names
        )


_STAFF_SCOPES_KEPT = _StaffRoleScopesKept(set())


def next_link(header: str, base: urllib.parse.SplitResult) -> str | None:
    """The ``rel="next"`` URL of a Link header, only if it stays on Canvas's own host."""
    for part in header.split(","):
        if 'rel="next"' not in part:
            continue
        match = re.search(r"<([^>]+)>", part)
        if not match:
            return None
        target = urllib.parse.urlsplit(match.group(1))
        if (target.scheme, target.netloc) == (base.scheme, base.netloc):
            return match.group(1)
        return None
    return None


def forget_member_lists(db: Any, user: Any, groups: Iterable[str], roles: Iterable[str]) -> None:
    """Let the hub's database session forget the member lists of the groups and roles a
    sign-in is about to change (``user``: the person's ``orm.User``, None for a first sign-in;
    ``groups``, ``roles``: the names the sign-in gives them), so that changing them costs the
    same in a course of 30 as in a course of 3,000.

    JupyterHub keeps loaded what its session has read (it does not expire on commit), and its
    ``/groups`` API loads every member list (the scaler reads enrollment there each round). A
    loaded list is kept up to date by each sign-in's ``sync_groups`` and ``sync_roles`` and
    gone through whole at each flush (SQLAlchemy's collection history): a cost that grows with
    the people signed in. Unloaded, a membership is one row written, and the list is read again
    only by whoever next asks for it. A list with changes not yet written is left alone."""
    from jupyterhub import orm
    from sqlalchemy import inspect
    from sqlalchemy.orm.util import identity_key

    group_names, role_names = set(groups), set(roles)
    held: list[Any] = []
    if user is not None:
        held += [g for g in user.groups if g.name not in group_names]
        held += [r for r in user.roles if r.name not in role_names]
    # Only what the session holds can have a list loaded: the ids, then the session's own
    # objects (loading the groups and roles would read each role's scopes, up to 1,500).
    for kind, names in ((orm.Group, group_names), (orm.Role, role_names)):
        if names:
            for (ident,) in db.query(kind.id).filter(kind.name.in_(names)):
                loaded = db.identity_map.get(identity_key(kind, ident))
                if loaded is not None:
                    held.append(loaded)
    for item in held:
        state = inspect(item)
        if "users" in state.dict and "users" not in state.committed_state:
            db.expire(item, ["users"])
