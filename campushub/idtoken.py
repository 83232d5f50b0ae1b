"""Verify OpenID Connect id_tokens: signature (JWKS), issuer, audience, times and nonce.

oauthenticator does not verify id_token signatures; campushub does, with PyJWT. The
provider's keys (JWKS) are fetched once and fetched again when a token names a key id that
is not known yet (the provider rotated its keys), at most once per ``refetch_interval``; logins
that arrive while a fetch is under way wait for it rather than fetching too.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt

# Asymmetric algorithms only: an HMAC "signature" keyed with the client secret, or "none",
# would let anyone who knows (or guesses) the secret mint tokens.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")

FetchJson = Callable[[str], Awaitable[Any]]


class IdTokenError(ValueError):
    """An id_token that must be refused; the message says why, for logs and the error page."""


def nonce_for(secret: bytes, state_id: str) -> str:
    """The nonce sent with an authorization request, derived from its OAuth state.

    The state is already bound to the browser by a cookie; keying the nonce to it with a
    server secret binds the id_token to that same request without storing anything.
    """
    digest = hmac.new(secret, state_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class IdTokenVerifier:
    """Verifies id_tokens issued by one provider to one client."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_uri: str,
        fetch_json: FetchJson,
        leeway: float = 60.0,
        refetch_interval: float = 30.0,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_uri = jwks_uri
        self.fetch_json = fetch_json
        self.leeway = leeway
        self.refetch_interval = refetch_interval
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._refresh_lock = asyncio.Lock()

    async def _refresh_keys(self) -> None:
        # Counted from the attempt, so a provider whose keys cannot be read is asked again
        # only after refetch_interval, not once per waiting login.
        self._fetched_at = time.monotonic()
        document = await self.fetch_json(self.jwks_uri)
        try:
            if not isinstance(document, dict):
                raise TypeError(
                    f"expected a JSON object with 'keys', got {type(document).__name__}"
                )
            key_set = jwt.PyJWKSet.from_dict(document)
        except (jwt.PyJWKSetError, jwt.InvalidKeyError, TypeError, KeyError) as error:
            message = f"the provider's keys at {self.jwks_uri} are unusable: {error}"
            raise IdTokenError(message) from None
        self._keys = {key.key_id or "": key for key in key_set.keys}

    async def _key_for(self, key_id: str) -> jwt.PyJWK:
        if key_id not in self._keys:
            # One fetch at a time: concurrent logins with a new kid share it, and find it
            # recent (or the key present) once they hold the lock.
            async with self._refresh_lock:
                if key_id not in self._keys and (
                    time.monotonic() - self._fetched_at >= self.refetch_interval
                ):
                    await self._refresh_keys()
        if key_id in self._keys:
            return self._keys[key_id]
        if key_id == "" and len(self._keys) == 1:  # a provider with one key may omit kid
            return next(iter(self._keys.values()))
        raise IdTokenError(f"the id_token is signed with an unknown key (kid {key_id!r})")

    async def verify(self, token: str, nonce: str | None = None) -> dict[str, Any]:
        """Return the id_token's claims, or raise :class:`IdTokenError` saying why not."""
        if not isinstance(token, str) or token.count(".") != 2:
            raise IdTokenError("the provider returned no usable id_token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:  # DecodeError, and a non-text kid or bad crit
            raise IdTokenError(f"the id_token is malformed: {error}") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise IdTokenError(f"the id_token uses the algorithm {algorithm!r}, which is refused")
        key = await self._key_for(str(header.get("kid") or ""))
        if algorithm != key.algorithm_name:
            # Checked here, not left to PyJWT: releases before 2.13 let a token name another
            # algorithm than its key's and only failed on the signature.
            raise IdTokenError(
                f"the id_token's algorithm {algorithm!r} is not its key's ({key.algorithm_name!r})"
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.InvalidSignatureError:
            raise IdTokenError("the id_token's signature does not verify") from None
        except jwt.ExpiredSignatureError:
            raise IdTokenError("the id_token has expired") from None
        except jwt.InvalidAudienceError:
            raise IdTokenError("the id_token was issued to another client (audience)") from None
        except jwt.InvalidIssuerError:
            raise IdTokenError("the id_token was issued by another provider (issuer)") from None
        except jwt.ImmatureSignatureError:
            raise IdTokenError("the id_token is not valid yet (issued in the future)") from None
        except jwt.InvalidTokenError as error:
            raise IdTokenError(f"the id_token is invalid: {error}") from None
        if nonce is not None and not hmac.compare_digest(
            str(claims.get("nonce", "")).encode(), nonce.encode()
        ):
            what = "lacks the nonce" if "nonce" not in claims else "carries the wrong nonce"
            raise IdTokenError(f"the id_token {what} of this login")
        azp = claims.get("azp")
        if isinstance(claims.get("aud"), list) and len(claims["aud"]) > 1 and azp != self.audience:
            raise IdTokenError("the id_token names several audiences but not this client as azp")
        return claims


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT without any check (for log messages about refused tokens)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, RecursionError):  # a deeply nested payload, too
        return {}
    return claims if isinstance(claims, dict) else {}
