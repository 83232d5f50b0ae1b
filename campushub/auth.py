"""``CampusAuthenticator``: campus single sign-on for the hub.

This is the foundation: an OpenID Connect login configured from the provider's issuer alone
(the discovery document supplies every endpoint). Course memberships, id_token verification
and per-course roles build on it (see the authenticator issue and docs/operators).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from oauthenticator.generic import GenericOAuthenticator
from traitlets import Float, Unicode, default


class DiscoveryError(RuntimeError):
    """The identity provider's discovery document could not be read or is incomplete."""


def fetch_discovery(issuer: str, timeout: float = 10.0) -> dict[str, Any]:
    """Read ``<issuer>/.well-known/openid-configuration`` and check the endpoints it names."""
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
        for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint")
        if not isinstance(document.get(key), str)
    ]
    if missing:
        raise DiscoveryError(f"the discovery document at {url} lacks {', '.join(missing)}")
    return document


class CampusAuthenticator(GenericOAuthenticator):
    """Log people in through the campus identity provider (OpenID Connect)."""

    issuer = Unicode(
        "",
        config=True,
        help="""The identity provider's issuer URL, for example
        ``https://login.example.edu/realms/campus``. Its discovery document
        (``/.well-known/openid-configuration``) supplies the authorize, token and userinfo
        URLs unless those are configured explicitly.""",
    )
    discovery_timeout = Float(
        10.0, config=True, help="Seconds to wait for the issuer's discovery document."
    )

    @default("scope")
    def _default_scope(self) -> list[str]:
        return ["openid", "profile", "email"]

    @default("username_claim")
    def _default_username_claim(self) -> str:
        return "preferred_username"

    @default("login_service")
    def _default_login_service(self) -> str:
        return "campus single sign-on"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.issuer:
            document = fetch_discovery(self.issuer, self.discovery_timeout)
            # Explicit configuration wins over discovery.
            for trait, key in (
                ("authorize_url", "authorization_endpoint"),
                ("token_url", "token_endpoint"),
                ("userdata_url", "userinfo_endpoint"),
            ):
                if not self.trait_has_value(trait) or not getattr(self, trait):
                    setattr(self, trait, document[key])
            self.log.info(
                "Campus identity provider %s: authorize %s, token %s",
                self.issuer,
                self.authorize_url,
                self.token_url,
            )
