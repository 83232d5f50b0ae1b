"""CampusAuthenticator refuses bad id_tokens in its own login flow, not only in the verifier.

A loopback OpenID provider made here, for tests only (like test_idtoken's JWKS server: a
ThreadingHTTPServer in a thread), serves discovery, its keys, a token endpoint that answers with
whatever id_token the test sets, and a userinfo endpoint with the claims the test sets. The
authenticator is built from its issuer alone (discovery at construction), and the tests drive
its real hooks: oauthenticator's ``OAuthCallbackHandler`` on a real tornado request builds the
token request (``build_access_tokens_request_params``), ``get_token_info`` exchanges the code and
verifies the id_token, ``_token_to_auth_model`` runs userinfo -> username -> ``update_auth_model``
-> managed groups, and ``CampusLoginHandler.get`` sends the authorize redirect with its nonce.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
import time
import types
import urllib.parse
import warnings
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jupyterhub import orm
from jupyterhub.objects import Hub
from jwt.algorithms import RSAAlgorithm
from oauthenticator.oauth2 import (
    STATE_COOKIE_NAME,
    OAuthCallbackHandler,
    _deserialize_state,
    _serialize_state,
)
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
from tornado.web import Application, HTTPError, create_signed_value, decode_signed_value

import campushub.idtoken
from campushub.auth import CampusAuthenticator, CampusLoginHandler
from campushub.idtoken import nonce_for

CLIENT_ID = "campushub-test"
CLIENT_SECRET = "s"
CATALOG = "campushub/demo/courses.yaml"
CALLBACK_URL = "http://127.0.0.1:1/hub/oauth_callback"
COOKIE_SECRET = b"campushub-test-cookie-secret-32b"
STATE_ID = "abc"
NONCE = nonce_for(COOKIE_SECRET, STATE_ID)
CODE_VERIFIER = "a-code-verifier-of-this-login-that-is-long-enough-for-pkce"
ACCESS_TOKEN = "access-token-of-this-login"
STUDENT = "course::1524699::enrollment_type::student"  # data8, in the demo catalog

ABSENT = object()  # an id_token the token endpoint leaves out, or a claim a token leaves out


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


KEY_A = new_key()
KEY_B = new_key()
KEY_OTHER = new_key()
JWK_A = public_jwk(KEY_A, "key-a")
JWK_B = public_jwk(KEY_B, "key-b")


class Provider:
    """An OpenID provider on loopback, for tests only. The test sets what it answers."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = [JWK_A]
        self.id_token: Any = ABSENT
        self.userinfo: dict[str, Any] = {}
        self.token_requests: list[dict[str, str]] = []
        self.userinfo_requests: list[str] = []  # their Authorization headers
        self.jwks_requests = 0
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def reply(self, status: int, document: Any) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = urllib.parse.urlsplit(self.path).path
                with provider._lock:
                    if path == "/.well-known/openid-configuration":
                        self.reply(200, provider.discovery())
                    elif path == "/jwks":
                        provider.jwks_requests += 1
                        self.reply(200, {"keys": list(provider.keys)})
                    elif path == "/userinfo":
                        provider.userinfo_requests.append(self.headers.get("Authorization", ""))
                        self.reply(200, provider.userinfo)
                    else:
                        self.reply(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                with provider._lock:
                    if urllib.parse.urlsplit(self.path).path != "/token":
                        self.reply(404, {"error": "not_found"})
                        return
                    provider.token_requests.append({k: v[0] for k, v in form.items()})
                    answer = {"access_token": ACCESS_TOKEN, "token_type": "Bearer"}
                    if provider.id_token is not ABSENT:
                        answer["id_token"] = provider.id_token
                    self.reply(200, answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output quiet

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # port 0: a free port
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def reset(self) -> None:
        with self._lock:
            self.keys = [JWK_A]
            self.id_token = ABSENT
            self.userinfo = {}
            self.token_requests = []
            self.userinfo_requests = []
            self.jwks_requests = 0


@pytest.fixture(scope="module")
def provider_server() -> Iterator[Provider]:
    server = Provider()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
    server.thread.join(timeout=10)


@pytest.fixture
def provider(provider_server: Provider) -> Provider:
    """The provider, publishing key A only, with nothing recorded yet."""
    provider_server.reset()
    return provider_server


def make_authenticator(provider: Provider, **config: Any) -> CampusAuthenticator:
    authenticator = CampusAuthenticator(
        issuer=provider.url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        catalog_path=CATALOG,
        oauth_callback_url=CALLBACK_URL,
        **config,
    )
    # Memberships count only while the term is open: pin a day inside it.
    term = authenticator.catalog.term
    authenticator.today = lambda: term.starts + timedelta(days=1)  # type: ignore[method-assign]
    return authenticator


@pytest.fixture
def auth(provider: Provider) -> CampusAuthenticator:
    """A new authenticator (no keys fetched yet), configured from the provider's discovery."""
    authenticator = make_authenticator(provider)
    assert provider.jwks_requests == 0  # discovery only; keys are fetched at the first login
    return authenticator


@pytest.fixture(scope="module")
def db() -> Iterator[Any]:
    session = orm.new_session_factory("sqlite:///:memory:")()
    yield session
    session.close()


# -- tornado plumbing: a real Application and real handlers on a recording connection -------------


class Connection:
    """What a tornado handler needs of its HTTP connection; it records the response."""

    def __init__(self) -> None:
        self.start_line: Any = None
        self.headers = HTTPHeaders()
        self.body = b""
        self.finished = False

    @staticmethod
    def _done() -> asyncio.Future[None]:
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        pass

    def write_headers(
        self, start_line: Any, headers: HTTPHeaders, chunk: bytes | None = None
    ) -> asyncio.Future[None]:
        self.start_line = start_line
        self.headers = headers
        self.body += chunk or b""
        return self._done()

    def write(self, chunk: bytes) -> asyncio.Future[None]:
        self.body += chunk
        return self._done()

    def finish(self) -> None:
        self.finished = True


def application(authenticator: CampusAuthenticator, db: Any) -> Application:
    """A tornado Application with the settings of JupyterHub's that these handlers read."""
    return Application(
        [],
        authenticator=authenticator,
        cookie_secret=COOKIE_SECRET,
        db=db,
        hub=Hub(base_url="/hub/"),
        base_url="/",
        login_url="/hub/login",
        logout_url="/hub/logout",
    )


def request(uri: str, connection: Connection, cookie: str | None = None) -> HTTPServerRequest:
    headers = HTTPHeaders({"Host": "127.0.0.1:8000"})
    if cookie is not None:
        headers["Cookie"] = cookie
    start_line = RequestStartLine("GET", uri, "HTTP/1.1")
    return HTTPServerRequest(start_line=start_line, headers=headers, connection=connection)


def callback_handler(
    authenticator: CampusAuthenticator,
    db: Any,
    state: dict[str, Any] | None = None,
) -> OAuthCallbackHandler:
    """The provider's redirect back to the hub: ``code=x`` and this login's state, with the
    state cookie the login handler would have set (signed with the cookie secret)."""
    if state is None:
        state = {"state_id": STATE_ID}
    url_state = _serialize_state(state)
    cookie_state = _serialize_state({**state, "next_url": None, "code_verifier": CODE_VERIFIER})
    signed = create_signed_value(COOKIE_SECRET, STATE_COOKIE_NAME, cookie_state).decode()
    query = urllib.parse.urlencode({"code": "x", "state": url_state})
    http_request = request(
        f"/hub/oauth_callback?{query}", Connection(), cookie=f"{STATE_COOKIE_NAME}={signed}"
    )
    return OAuthCallbackHandler(application(authenticator, db), http_request)


async def exchange(authenticator: CampusAuthenticator, handler: OAuthCallbackHandler) -> dict:
    """What ``authenticate`` does before userinfo: check the redirect, build the token
    request (upstream), then ``get_token_info`` (code exchange and id_token verification)."""
    handler.check_arguments()
    params = authenticator.build_access_tokens_request_params(handler)
    return await authenticator.get_token_info(handler, params)


async def login(
    authenticator: CampusAuthenticator, provider: Provider, db: Any, id_token: Any
) -> dict[str, Any]:
    provider.id_token = id_token
    return await exchange(authenticator, callback_handler(authenticator, db))


async def refused(
    authenticator: CampusAuthenticator, provider: Provider, db: Any, id_token: Any
) -> str:
    """Log in with ``id_token``; it must be refused with 403. Returns the reason given."""
    with pytest.raises(HTTPError) as error:
        await login(authenticator, provider, db, id_token)
    assert error.value.status_code == 403, error.value
    assert len(provider.token_requests) == 1  # refused after the code exchange...
    assert provider.userinfo_requests == []  # ...and before anything trusts the token
    return str(error.value.log_message)


# -- tokens ----------------------------------------------------------------------------------------


def id_claims(issuer: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": issuer,
        "aud": CLIENT_ID,
        "sub": "ada",
        "iat": now,
        "exp": now + 300,
        "nonce": NONCE,
    }
    payload.update(changes)
    return {name: value for name, value in payload.items() if value is not ABSENT}


def sign(
    issuer: str, key: rsa.RSAPrivateKey = KEY_A, kid: str | None = "key-a", **changes: Any
) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(id_claims(issuer, **changes), key, algorithm="RS256", headers=headers)


def hmac_with_client_secret(issuer: str) -> str:
    with warnings.catch_warnings():  # PyJWT warns that a 1-byte HMAC key is short
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(
            id_claims(issuer), CLIENT_SECRET, algorithm="HS256", headers={"kid": "key-a"}
        )


def expired(issuer: str) -> str:
    now = int(time.time())
    return sign(issuer, iat=now - 3600, exp=now - 120)  # beyond the 60 s leeway


BAD_TOKENS: dict[str, tuple[Callable[[str], Any], str]] = {
    "bad signature (another key, same kid)": (
        lambda iss: sign(iss, key=KEY_OTHER, kid="key-a"),
        "the id_token's signature does not verify",
    ),
    "wrong audience": (
        lambda iss: sign(iss, aud="another-client"),
        "the id_token was issued to another client (audience)",
    ),
    "wrong issuer": (
        lambda iss: sign(iss, iss="https://evil.example.com/realms/campus"),
        "the id_token was issued by another provider (issuer)",
    ),
    "wrong issuer (trailing slash)": (
        lambda iss: sign(iss, iss=iss + "/"),
        "the id_token was issued by another provider (issuer)",
    ),
    "expired": (expired, "the id_token has expired"),
    "missing nonce": (
        lambda iss: sign(iss, nonce=ABSENT),
        "the id_token lacks the nonce of this login",
    ),
    "wrong nonce (another login's)": (
        lambda iss: sign(iss, nonce=nonce_for(COOKIE_SECRET, "abd")),
        "the id_token carries the wrong nonce of this login",
    ),
    "nonce under another cookie secret": (
        lambda iss: sign(iss, nonce=nonce_for(b"another-hub-secret", STATE_ID)),
        "the id_token carries the wrong nonce of this login",
    ),
    "unknown kid": (
        lambda iss: sign(iss, key=KEY_B, kid="key-b"),
        "the id_token is signed with an unknown key (kid 'key-b')",
    ),
    "no id_token at all": (lambda iss: ABSENT, "the provider returned no usable id_token"),
    "empty id_token": (lambda iss: "", "the provider returned no usable id_token"),
    "alg none": (
        lambda iss: jwt.encode(id_claims(iss), None, algorithm="none"),
        "the id_token uses the algorithm 'none', which is refused",
    ),
    "HS256 keyed with the client secret": (
        hmac_with_client_secret,
        "the id_token uses the algorithm 'HS256', which is refused",
    ),
}


# -- the code exchange: get_token_info -------------------------------------------------------------


async def test_discovery_configures_the_authenticator(
    auth: CampusAuthenticator, provider: Provider
) -> None:
    assert auth.authorize_url == f"{provider.url}/authorize"
    assert auth.token_url == f"{provider.url}/token"
    assert auth.userdata_url == f"{provider.url}/userinfo"
    assert auth.jwks_url == f"{provider.url}/jwks"
    assert auth.id_token_verifier is not None
    assert auth.id_token_verifier.issuer == provider.url
    assert auth.id_token_verifier.audience == CLIENT_ID


async def test_a_good_id_token_passes_and_carries_the_verified_sub(
    auth: CampusAuthenticator, provider: Provider, db: Any
) -> None:
    token = sign(provider.url)
    token_info = await login(auth, provider, db, token)
    assert token_info["campushub_id_token_sub"] == "ada"
    assert token_info["id_token"] == token
    assert token_info["access_token"] == ACCESS_TOKEN
    assert provider.jwks_requests == 1
    # The code exchange is upstream's, with what the callback request carried.
    (exchange_form,) = provider.token_requests
    assert exchange_form["code"] == "x"
    assert exchange_form["grant_type"] == "authorization_code"
    assert exchange_form["redirect_uri"] == CALLBACK_URL
    assert exchange_form["client_id"] == CLIENT_ID
    assert exchange_form["client_secret"] == CLIENT_SECRET
    assert exchange_form["code_verifier"] == CODE_VERIFIER  # PKCE, from the state cookie

    await login(auth, provider, db, sign(provider.url))
    assert provider.jwks_requests == 1  # known keys are not fetched again


async def test_a_good_id_token_without_kid_passes_when_the_provider_has_one_key(
    auth: CampusAuthenticator, provider: Provider, db: Any
) -> None:
    token_info = await login(auth, provider, db, sign(provider.url, kid=None))
    assert token_info["campushub_id_token_sub"] == "ada"


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_a_bad_id_token_is_refused_with_403_naming_the_reason(
    auth: CampusAuthenticator, provider: Provider, db: Any, case: str
) -> None:
    make_token, reason = BAD_TOKENS[case]
    assert await refused(auth, provider, db, make_token(provider.url)) == (
        f"Sign-in refused: {reason}."
    )


async def test_an_unknown_kid_is_looked_up_at_the_provider_before_it_is_refused(
    auth: CampusAuthenticator, provider: Provider, db: Any
) -> None:
    token = sign(provider.url, key=KEY_B, kid="key-b")
    assert "unknown key (kid 'key-b')" in await refused(auth, provider, db, token)
    assert provider.jwks_requests == 1


async def test_a_rotated_key_passes_once_the_provider_publishes_it(
    auth: CampusAuthenticator, provider: Provider, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = types.SimpleNamespace(now=1000.0)
    # Only the verifier's module sees the fake clock; the event loop keeps the real one.
    fake_time = types.SimpleNamespace(monotonic=lambda: clock.now)
    monkeypatch.setattr(campushub.idtoken, "time", fake_time)
    await login(auth, provider, db, sign(provider.url))
    assert provider.jwks_requests == 1

    provider.keys = [JWK_A, JWK_B]  # the provider rotates to key B
    clock.now += 31  # past the verifier's refetch interval
    token_info = await login(auth, provider, db, sign(provider.url, key=KEY_B, kid="key-b"))
    assert token_info["campushub_id_token_sub"] == "ada"
    assert provider.jwks_requests == 2


async def test_a_callback_whose_state_has_no_state_id_is_refused(
    auth: CampusAuthenticator, provider: Provider, db: Any
) -> None:
    # The login handler sends no nonce for a state without state_id, so no token can match.
    provider.id_token = sign(provider.url, nonce=ABSENT)
    handler = callback_handler(auth, db, state={})
    with pytest.raises(HTTPError) as error:
        await exchange(auth, handler)
    assert error.value.status_code == 403
    assert error.value.log_message == "Sign-in refused: the id_token lacks the nonce of this login."


# -- userinfo, username and memberships: _token_to_auth_model --------------------------------------


@pytest.mark.parametrize(
    ("enrollment", "groups", "roles"),
    [
        ("student", ["course:data8", "course:data8:students"], ["user"]),
        ("ta", ["course:data8", "course:data8:tas"], ["course-data8-ta", "user"]),
        (
            "teacher",
            ["course:data8", "course:data8:instructors"],
            ["course-data8-instructor", "course-data8-ta", "user"],
        ),
    ],
)
async def test_a_good_login_gives_the_expected_memberships_groups_and_roles(
    auth: CampusAuthenticator,
    provider: Provider,
    db: Any,
    enrollment: str,
    groups: list[str],
    roles: list[str],
) -> None:
    token_info = await login(auth, provider, db, sign(provider.url))
    provider.userinfo = {
        "sub": "ada",
        "preferred_username": "Ada",
        "groups": [f"course::1524699::enrollment_type::{enrollment}", "course::999::x::y"],
    }
    auth_model = await auth._token_to_auth_model(token_info)
    assert provider.userinfo_requests == [f"Bearer {ACCESS_TOKEN}"]
    assert auth_model["name"] == "ada"  # the username claim, normalised
    role = {"teacher": "instructor"}.get(enrollment, enrollment)
    # the memberships in force, and those the campus sign-in found (launches add theirs)
    expected = {"memberships": {"data8": role}, "sub": "ada", "campus": {"data8": role}}
    assert auth_model["auth_state"]["campushub"] == expected
    assert auth_model["groups"] == groups
    assert sorted(r["name"] for r in auth_model["roles"]) == roles
    assert all(r.get("scopes") for r in auth_model["roles"])  # full definitions
    assert auth_model["admin"] is False
    assert await auth.check_allowed("ada", auth_model) is True


async def test_userinfo_about_another_subject_is_refused(
    auth: CampusAuthenticator, provider: Provider, db: Any
) -> None:
    token_info = await login(auth, provider, db, sign(provider.url, sub="ada"))
    provider.userinfo = {"sub": "grace", "preferred_username": "grace", "groups": [STUDENT]}
    with pytest.raises(HTTPError) as error:
        await auth._token_to_auth_model(token_info)
    assert error.value.status_code == 403
    assert error.value.log_message == (
        "Sign-in refused: userinfo and id_token name different people."
    )


async def test_the_whole_authenticate_path_refuses_a_bad_token_and_admits_a_good_one(
    auth: CampusAuthenticator, provider: Provider, db: Any
) -> None:
    """``get_authenticated_user``, the entry point JupyterHub's callback handler calls."""
    provider.userinfo = {"sub": "ada", "preferred_username": "ada", "groups": [STUDENT]}
    provider.id_token = sign(provider.url, key=KEY_OTHER, kid="key-a")
    handler = callback_handler(auth, db)
    handler.check_arguments()
    with pytest.raises(HTTPError) as error:
        await auth.get_authenticated_user(handler, None)
    assert error.value.status_code == 403
    assert "signature does not verify" in error.value.log_message
    assert provider.userinfo_requests == []

    provider.id_token = sign(provider.url)
    handler = callback_handler(auth, db)
    handler.check_arguments()
    user = await auth.get_authenticated_user(handler, None)
    assert user is not None
    assert user["name"] == "ada"
    assert user["groups"] == ["course:data8", "course:data8:students"]


# -- the authorize redirect: CampusLoginHandler ----------------------------------------------------


async def authorize(
    authenticator: CampusAuthenticator, db: Any
) -> tuple[dict[str, str], str, CampusLoginHandler]:
    """Run the login handler's GET; return the redirect's query, the state cookie, the handler."""
    connection = Connection()
    http_request = request("/hub/oauth_login?next=%2Fhub%2Fhome", connection)
    handler = CampusLoginHandler(application(authenticator, db), http_request)
    await handler._execute([])  # what tornado's Application runs: prepare(), then get()
    assert connection.finished
    assert connection.start_line.code == 302
    location = connection.headers["Location"]
    assert location.startswith(authenticator.authorize_url + "?")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    cookies = SimpleCookie()
    for header in connection.headers.get_list("Set-Cookie"):
        cookies.load(header)
    return query, cookies[STATE_COOKIE_NAME].value, handler


async def test_the_authorize_redirect_carries_the_nonce_of_its_state(
    auth: CampusAuthenticator, provider: Provider, db: Any
) -> None:
    query, signed_cookie, _ = await authorize(auth, db)
    state_id = _deserialize_state(query["state"])["state_id"]
    assert query["nonce"] == nonce_for(COOKIE_SECRET, state_id)
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == CALLBACK_URL
    assert query["response_type"] == "code"
    assert query["scope"].split() == ["openid", "profile", "email"]
    # The state cookie (upstream) names the same state and the PKCE verifier.
    value = decode_signed_value(COOKIE_SECRET, STATE_COOKIE_NAME, signed_cookie)
    assert value is not None
    cookie_state = _deserialize_state(value.decode())
    assert cookie_state["state_id"] == state_id
    assert cookie_state["next_url"] == "/hub/home"
    challenge = hashlib.sha256(cookie_state["code_verifier"].encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(challenge).decode().rstrip("=")

    # Another login gets another state and so another nonce.
    other_query, _, _ = await authorize(auth, db)
    assert other_query["state"] != query["state"]
    assert other_query["nonce"] != query["nonce"]


async def test_a_round_trip_accepts_the_nonce_of_its_own_login_only(
    auth: CampusAuthenticator, provider: Provider, db: Any
) -> None:
    """Authorize redirect -> provider signs the nonce it was given -> callback verifies it."""
    first, first_cookie, _ = await authorize(auth, db)
    second, _, _ = await authorize(auth, db)

    def callback_of(query: dict[str, str], signed_cookie: str) -> OAuthCallbackHandler:
        uri = "/hub/oauth_callback?" + urllib.parse.urlencode(
            {"code": "x", "state": query["state"]}
        )
        cookie = f"{STATE_COOKIE_NAME}={signed_cookie}"
        return OAuthCallbackHandler(application(auth, db), request(uri, Connection(), cookie))

    provider.id_token = sign(provider.url, nonce=first["nonce"])
    token_info = await exchange(auth, callback_of(first, first_cookie))
    assert token_info["campushub_id_token_sub"] == "ada"

    provider.id_token = sign(provider.url, nonce=second["nonce"])  # replayed into the first
    with pytest.raises(HTTPError) as error:
        await exchange(auth, callback_of(first, first_cookie))
    assert error.value.status_code == 403
    assert "wrong nonce" in error.value.log_message


async def test_no_nonce_is_sent_when_id_tokens_are_not_verified(
    provider: Provider, db: Any
) -> None:
    authenticator = make_authenticator(provider, verify_id_token=False)
    assert authenticator.id_token_verifier is None
    query, _, _ = await authorize(authenticator, db)
    assert "nonce" not in query
    assert "state" in query
