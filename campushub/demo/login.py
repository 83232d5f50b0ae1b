"""Log a person in through the development identity provider, as their browser would."""

from __future__ import annotations

import urllib.parse

import requests


class LoginError(RuntimeError):
    """The login did not end with a hub session; ``response`` is the page it ended on."""

    def __init__(self, message: str, response: requests.Response | None = None) -> None:
        super().__init__(message)
        self.response = response


def login(
    session: requests.Session, hub_url: str, sub: str, next_url: str = "/hub/home"
) -> requests.Response:
    """Follow the whole OpenID Connect flow for ``sub`` and return the hub's final page.

    The hub redirects to the provider; oidc-provider-mock shows its authorize form, where
    the subject is chosen (the form posts back to the same URL); the provider redirects to
    the hub's callback, which sets the session cookie.
    """
    query = urllib.parse.urlencode({"next": next_url})
    form = session.get(f"{hub_url}/hub/oauth_login?{query}", timeout=30)
    form.raise_for_status()
    if "/oauth2/authorize" not in form.url:
        raise LoginError(f"expected the provider's authorize form, got {form.url}", form)
    page = session.post(form.url, data={"sub": sub}, timeout=60)
    if page.status_code >= 400 or not page.url.startswith(hub_url):
        raise LoginError(f"login as {sub!r} ended at {page.url} with HTTP {page.status_code}", page)
    return page
