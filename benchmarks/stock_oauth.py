"""Stock oauthenticator for the benchmarks' rival hubs: ``GenericOAuthenticator`` pointed at
the same identity provider and client as campushub's hub (shared by login_storm and
hub_scale)."""

from __future__ import annotations

from typing import Any

from campushub.demo import launch


def generic_oauth_lines(settings: launch.HubSettings, discovery: dict[str, Any]) -> str:
    """Configuration lines: the provider's endpoints, the client and the callback."""
    return "\n".join(
        [
            'c.JupyterHub.authenticator_class = "generic-oauth"',
            f"c.GenericOAuthenticator.authorize_url = {discovery['authorization_endpoint']!r}",
            f"c.GenericOAuthenticator.token_url = {discovery['token_endpoint']!r}",
            f"c.GenericOAuthenticator.userdata_url = {discovery['userinfo_endpoint']!r}",
            f"c.GenericOAuthenticator.client_id = {settings.client_id!r}",
            f"c.GenericOAuthenticator.client_secret = {settings.client_secret!r}",
            "c.GenericOAuthenticator.oauth_callback_url ="
            f" {settings.public_url + '/hub/oauth_callback'!r}",
            'c.GenericOAuthenticator.scope = ["openid", "profile", "email"]',
        ]
    )
