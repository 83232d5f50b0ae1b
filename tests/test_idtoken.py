"""id_token verification against a real JWKS endpoint on loopback.

A module fixture serves the provider's key set over HTTP from a thread (the test changes what it
serves and counts the requests); tokens are signed with RSA keys made here, through PyJWT; the
verifier fetches the keys with tornado's HTTP client, as the hub does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from tornado.httpclient import AsyncHTTPClient

import campushub.idtoken
from campushub.idtoken import IdTokenError, IdTokenVerifier, nonce_for, unverified_claims

ISSUER = "https://login.campus.example.edu/realms/campus"
CLIENT_ID = "campushub"
NONCE = nonce_for(b"cookie-secret", "state-1")
LEEWAY = 60.0


class JwksServer:
    """A JWKS endpoint: serves ``document`` as JSON at any path and counts the requests."""

    def __init__(self) -> None:
        self.document: Any = {"keys": []}
        self.requests = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.requests += 1
                    body = json.dumps(server.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output quiet

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # port 0: a free port
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def serve(self, *keys: dict[str, Any]) -> None:
        with self._lock:
            self.document = {"keys": list(keys)}
            self.requests = 0


class Clock:
    """A monotonic clock the test moves by hand, so refetch intervals need no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


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

DROP = object()  # a claim to leave out of a token


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": "248289761001",
        "preferred_username": "ada",
        "iat": now,
        "exp": now + 300,
        "nonce": NONCE,
    }
    payload.update(changes)
    return {name: value for name, value in payload.items() if value is not DROP}


def sign(key: rsa.RSAPrivateKey = KEY_A, kid: str | None = "key-a", **changes: Any) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims(**changes), key, algorithm="RS256", headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hand_made(header: dict[str, Any], payload: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    """A token PyJWT would not encode (odd headers), signed properly with ``key``."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    algorithm = RSAAlgorithm(RSAAlgorithm.SHA256)
    return f"{signing_input}.{b64(algorithm.sign(signing_input.encode(), key))}"


async def fetch_json(url: str) -> Any:
    response = await AsyncHTTPClient().fetch(url, request_timeout=10)
    return json.loads(response.body)


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
    server.thread.join(timeout=10)


@pytest.fixture
def jwks(jwks_server: JwksServer) -> JwksServer:
    """The endpoint, serving key A only, with its request count at zero."""
    jwks_server.serve(JWK_A)
    return jwks_server


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    # Only the verifier's module sees the fake clock; the event loop keeps the real one.
    monkeypatch.setattr(campushub.idtoken, "time", types.SimpleNamespace(monotonic=fake.monotonic))
    return fake


def verifier_for(jwks: JwksServer, refetch_interval: float = 30.0) -> IdTokenVerifier:
    return IdTokenVerifier(
        issuer=ISSUER,
        audience=CLIENT_ID,
        jwks_uri=jwks.url,
        fetch_json=fetch_json,
        leeway=LEEWAY,
        refetch_interval=refetch_interval,
    )


async def refused(verifier: IdTokenVerifier, token: Any, nonce: str | None = NONCE) -> str:
    with pytest.raises(IdTokenError) as error:
        await verifier.verify(token, nonce)
    return str(error.value)


# -- accepted --------------------------------------------------------------------------------------


async def test_a_good_token_verifies_and_returns_its_claims(jwks: JwksServer) -> None:
    verifier = verifier_for(jwks)
    verified = await verifier.verify(sign(), NONCE)
    assert verified["sub"] == "248289761001"
    assert verified["preferred_username"] == "ada"
    assert verified["nonce"] == NONCE
    assert jwks.requests == 1
    await verifier.verify(sign(), NONCE)
    assert jwks.requests == 1  # known keys are not fetched again


async def test_a_token_without_a_nonce_verifies_when_none_is_expected(jwks: JwksServer) -> None:
    verified = await verifier_for(jwks).verify(sign(nonce=DROP), None)
    assert "nonce" not in verified


async def test_a_token_without_kid_verifies_when_the_provider_has_one_key(
    jwks: JwksServer,
) -> None:
    assert (await verifier_for(jwks).verify(sign(kid=None), NONCE))["sub"]


async def test_an_expired_token_within_the_leeway_is_accepted(jwks: JwksServer) -> None:
    now = int(time.time())
    token = sign(iat=now - 600, exp=now - int(LEEWAY) // 2)
    assert (await verifier_for(jwks).verify(token, NONCE))["sub"]


async def test_issued_slightly_in_the_future_within_the_leeway_is_accepted(
    jwks: JwksServer,
) -> None:
    now = int(time.time())
    token = sign(iat=now + int(LEEWAY) // 2)
    assert (await verifier_for(jwks).verify(token, NONCE))["sub"]


async def test_several_audiences_need_this_client_as_azp(jwks: JwksServer) -> None:
    verifier = verifier_for(jwks)
    audiences = [CLIENT_ID, "another-client"]
    assert (await verifier.verify(sign(aud=audiences, azp=CLIENT_ID), NONCE))["sub"]
    assert await refused(verifier, sign(aud=audiences)) == (
        "the id_token names several audiences but not this client as azp"
    )


# -- refused ---------------------------------------------------------------------------------------


async def test_a_signature_by_another_key_with_the_same_kid_is_refused(jwks: JwksServer) -> None:
    token = sign(key=KEY_OTHER, kid="key-a")
    assert await refused(verifier_for(jwks), token) == "the id_token's signature does not verify"


async def test_a_tampered_payload_is_refused(jwks: JwksServer) -> None:
    header, _, signature = sign().split(".")
    forged = b64(json.dumps(claims(sub="someone-else")).encode())
    token = f"{header}.{forged}.{signature}"
    assert await refused(verifier_for(jwks), token) == "the id_token's signature does not verify"


async def test_a_token_for_another_client_is_refused(jwks: JwksServer) -> None:
    for audience in ("another-client", ["another-client"]):
        assert await refused(verifier_for(jwks), sign(aud=audience)) == (
            "the id_token was issued to another client (audience)"
        )


async def test_a_token_from_another_issuer_is_refused(jwks: JwksServer) -> None:
    token = sign(iss="https://evil.example.com/realms/campus")
    assert await refused(verifier_for(jwks), token) == (
        "the id_token was issued by another provider (issuer)"
    )


async def test_an_expired_token_beyond_the_leeway_is_refused(jwks: JwksServer) -> None:
    now = int(time.time())
    token = sign(iat=now - 3600, exp=now - int(LEEWAY) - 30)
    assert await refused(verifier_for(jwks), token) == "the id_token has expired"


async def test_a_token_issued_in_the_future_is_refused(jwks: JwksServer) -> None:
    now = int(time.time())
    token = sign(iat=now + 600, exp=now + 900)
    assert await refused(verifier_for(jwks), token) == (
        "the id_token is not valid yet (issued in the future)"
    )


async def test_a_token_not_valid_before_a_future_time_is_refused(jwks: JwksServer) -> None:
    token = sign(nbf=int(time.time()) + 600)
    assert await refused(verifier_for(jwks), token) == (
        "the id_token is not valid yet (issued in the future)"
    )


async def test_a_missing_nonce_is_refused_when_one_is_expected(jwks: JwksServer) -> None:
    assert await refused(verifier_for(jwks), sign(nonce=DROP)) == (
        "the id_token lacks the nonce of this login"
    )


async def test_a_wrong_nonce_is_refused(jwks: JwksServer) -> None:
    verifier = verifier_for(jwks)
    other_login = nonce_for(b"cookie-secret", "state-2")
    assert await refused(verifier, sign(nonce=other_login)) == (
        "the id_token carries the wrong nonce of this login"
    )
    assert await refused(verifier, sign(nonce=123)) == (
        "the id_token carries the wrong nonce of this login"
    )


@pytest.mark.parametrize("claim", ["iss", "aud", "exp", "iat", "sub"])
async def test_a_token_missing_a_required_claim_is_refused(jwks: JwksServer, claim: str) -> None:
    message = await refused(verifier_for(jwks), sign(**{claim: DROP}))
    assert message == f'the id_token is invalid: Token is missing the "{claim}" claim'


async def test_an_unknown_kid_is_refused_after_one_refetch(jwks: JwksServer) -> None:
    verifier = verifier_for(jwks, refetch_interval=0.0)
    await verifier.verify(sign(), NONCE)
    assert jwks.requests == 1
    token = sign(key=KEY_B, kid="key-b")  # a key the provider does not publish
    assert await refused(verifier, token) == (
        "the id_token is signed with an unknown key (kid 'key-b')"
    )
    assert jwks.requests == 2


async def test_the_algorithm_none_is_refused(jwks: JwksServer) -> None:
    token = jwt.encode(claims(), None, algorithm="none")
    assert await refused(verifier_for(jwks), token) == (
        "the id_token uses the algorithm 'none', which is refused"
    )
    assert jwks.requests == 0


async def test_an_hmac_token_keyed_with_the_client_secret_is_refused(jwks: JwksServer) -> None:
    secret = "the-client-secret-that-leaked-somewhere-long-enough"
    token = jwt.encode(claims(), secret, algorithm="HS256", headers={"kid": "key-a"})
    assert await refused(verifier_for(jwks), token) == (
        "the id_token uses the algorithm 'HS256', which is refused"
    )


async def test_a_header_algorithm_other_than_the_keys_is_refused(jwks: JwksServer) -> None:
    token = jwt.encode(claims(), KEY_A, algorithm="PS256", headers={"kid": "key-a"})
    message = await refused(verifier_for(jwks), token)
    assert message == "the id_token's algorithm 'PS256' is not its key's ('RS256')"


@pytest.mark.parametrize("token", [None, 42, "", "not-a-token", "a.b", "a.b.c.d"])
async def test_something_that_is_not_a_jwt_is_refused(jwks: JwksServer, token: Any) -> None:
    assert await refused(verifier_for(jwks), token) == "the provider returned no usable id_token"


@pytest.mark.parametrize(
    "token",
    [
        "a.b.c",
        "!!!.e30.e30",
        f"{b64(b'[1, 2]')}.e30.e30",
        f"{b64(b'not json')}.e30.e30",
    ],
)
async def test_a_malformed_token_is_refused(jwks: JwksServer, token: str) -> None:
    assert (await refused(verifier_for(jwks), token)).startswith("the id_token is malformed: ")


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "RS256", "kid": 5},
        {"alg": "RS256", "kid": ["key-a"]},
        {"alg": "RS256", "kid": "key-a", "crit": ["exp"]},
    ],
)
async def test_a_token_with_an_unusable_header_is_refused(
    jwks: JwksServer, header: dict[str, Any]
) -> None:
    token = hand_made(header, claims(), KEY_A)
    assert (await refused(verifier_for(jwks), token)).startswith("the id_token is malformed: ")


@pytest.mark.parametrize(
    "document", [[JWK_A], "keys", None, {"keys": []}, {"keys": "key-a"}, {"keys": [{"kty": "?"}]}]
)
async def test_an_unusable_key_set_refuses_the_login_saying_so(
    jwks: JwksServer, document: Any
) -> None:
    jwks.document = document
    message = await refused(verifier_for(jwks), sign())
    assert message.startswith(f"the provider's keys at {jwks.url} are unusable: ")


# -- key rotation ----------------------------------------------------------------------------------


async def test_a_rotated_key_verifies_once_the_key_set_is_fetched_again(
    jwks: JwksServer, clock: Clock
) -> None:
    verifier = verifier_for(jwks, refetch_interval=30.0)
    await verifier.verify(sign(), NONCE)
    assert jwks.requests == 1

    jwks.document = {"keys": [JWK_A, JWK_B]}  # the provider publishes its next key
    clock.now += 31
    rotated = sign(key=KEY_B, kid="key-b")
    assert (await verifier.verify(rotated, NONCE))["sub"]
    assert jwks.requests == 2
    assert (await verifier.verify(sign(), NONCE))["sub"]  # the old key still verifies
    assert jwks.requests == 2


async def test_a_new_key_right_after_a_fetch_waits_for_the_refetch_interval(
    jwks: JwksServer, clock: Clock
) -> None:
    verifier = verifier_for(jwks, refetch_interval=30.0)
    await verifier.verify(sign(), NONCE)
    jwks.document = {"keys": [JWK_B]}
    rotated = sign(key=KEY_B, kid="key-b")
    clock.now += 10
    assert "unknown key" in await refused(verifier, rotated)
    assert jwks.requests == 1  # too soon after the last fetch: none
    clock.now += 21
    assert (await verifier.verify(rotated, NONCE))["sub"]
    assert jwks.requests == 2


async def test_a_flood_of_unknown_kids_fetches_the_key_set_at_most_once_per_interval(
    jwks: JwksServer, clock: Clock
) -> None:
    verifier = verifier_for(jwks, refetch_interval=30.0)
    await verifier.verify(sign(), NONCE)
    assert jwks.requests == 1

    def flood() -> list[str]:
        return [sign(key=KEY_OTHER, kid=f"forged-{n}") for n in range(50)]

    async def refuse_all(tokens: list[str]) -> None:
        outcomes = await asyncio.gather(
            *(verifier.verify(token, NONCE) for token in tokens), return_exceptions=True
        )
        assert all(isinstance(outcome, IdTokenError) for outcome in outcomes), outcomes
        assert all("unknown key" in str(outcome) for outcome in outcomes)

    await refuse_all(flood())  # within the interval: no fetch at all
    assert jwks.requests == 1

    clock.now += 31
    await refuse_all(flood())  # concurrently, after the interval: one fetch for all of them
    assert jwks.requests == 2

    clock.now += 5
    for token in flood():  # one after another, within the new interval: none
        assert "unknown key" in await refused(verifier, token)
    assert jwks.requests == 2
    assert (await verifier.verify(sign(), NONCE))["sub"]  # good logins go on meanwhile


async def test_concurrent_first_logins_share_one_fetch(jwks: JwksServer, clock: Clock) -> None:
    verifier = verifier_for(jwks, refetch_interval=30.0)
    results = await asyncio.gather(*(verifier.verify(sign(), NONCE) for _ in range(20)))
    assert all(result["sub"] for result in results)
    assert jwks.requests == 1


# -- nonces and helpers ----------------------------------------------------------------------------


def test_nonce_for_is_deterministic_per_secret_and_state() -> None:
    assert nonce_for(b"secret", "state-1") == nonce_for(b"secret", "state-1")
    assert nonce_for(b"secret", "state-1") != nonce_for(b"secret", "state-2")
    assert nonce_for(b"secret", "state-1") != nonce_for(b"other-secret", "state-1")
    nonce = nonce_for(b"secret", "state-1")
    assert len(nonce) == 43  # SHA-256, URL-safe base64 without padding
    assert set(nonce) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_unverified_claims_reads_a_payload_without_checking_it() -> None:
    assert unverified_claims(sign(sub="x"))["sub"] == "x"
    assert unverified_claims("nonsense") == {}
    assert unverified_claims("a.!!!.c") == {}
    assert unverified_claims(f"a.{b64(b'[1, 2]')}.c") == {}
