"""Who reaches campushub's services: the expectations, and the check, shared by the local
tests (tests/test_service_access.py, on both version sets) and the cluster workflow's
(tests/test_cluster_campus.py, against a real zero-to-jupyterhub release).

A person signs in through the identity provider and asks for the links service and the
scaler's page as a browser would, following the hub's OAuth redirects to the end. A status
code alone proves nothing here (the redirect to the hub's authorize step is a 302 for anyone,
and the step itself answers 403 to people the hub's roles do not admit), so each check names
the page it lands on.
"""

from __future__ import annotations

import html
import re

import requests

LINKS_STAFF = "Make a link to course material"  # the generator page, for course staff
# What the service itself tells a student at its front page (they open links, not make them).
LINKS_STUDENT = "you teach no course on this hub this term"
SCALER_PAGE = 'data-pool="standard"'  # the status page's pool table
SCALER_REFUSAL = "for hub administrators and, to read, course staff"

# person -> (links: "staff" = the generator, "student" = the service's own refusal;
#            scaler: True = the status page, False = the service's own refusal)
MATRIX = {
    "ada": ("student", False),  # student of data8
    "grace": ("student", False),  # student of data8 and stat20
    "tom": ("staff", True),  # TA of data8
    "ines": ("staff", True),  # instructor of data8
    "dana": ("staff", True),  # administrator, in no course
}


def opens_server(hub_url: str, session: requests.Session, owner: str, server: str = "") -> bool:
    """Whether a browser ``session`` opens ``owner``'s server: the server sends the visitor
    through the hub's OAuth, which grants access only with access:servers for that server;
    for someone else's server the hub shows an authorize form, submitted as a browser would."""
    target = f"{hub_url}/user/{owner}/{server + '/' if server else ''}lab"
    page = session.get(target, timeout=60)
    if page.status_code == 200 and "/hub/api/oauth2/authorize" in page.url:
        fields = re.findall(
            r'<input type="hidden" name="(_xsrf|scopes)" value="([^"]*)"', page.text
        )
        page = session.post(page.url, data=[(k, html.unescape(v)) for k, v in fields], timeout=60)
    return page.status_code == 200 and page.url == target


def service_page(hub_url: str, session: requests.Session, path: str) -> requests.Response:
    response = session.get(f"{hub_url}{path}", timeout=60)
    # The OAuth dance ended at the service, not at the hub's authorize step.
    assert response.url.startswith(f"{hub_url}{path}"), (response.url, response.status_code)
    return response


def check_services(hub_url: str, session: requests.Session, person: str) -> None:
    """Assert what ``person`` (logged in on ``session``) gets from each service."""
    links_kind, sees_scaler = MATRIX[person]
    links = service_page(hub_url, session, "/services/links/")
    if links_kind == "staff":
        assert links.status_code == 200, links.text[:500]
        assert LINKS_STAFF in links.text
    else:
        assert links.status_code == 403
        assert LINKS_STUDENT in links.text
        assert LINKS_STAFF not in links.text

    scaler = service_page(hub_url, session, "/services/scaler/")
    if sees_scaler:
        assert scaler.status_code == 200, scaler.text[:500]
        assert SCALER_PAGE in scaler.text
    else:
        assert scaler.status_code == 403
        assert SCALER_REFUSAL in scaler.text
        assert SCALER_PAGE not in scaler.text
        api = session.get(f"{hub_url}/services/scaler/api/plan", timeout=60)
        assert api.status_code == 403


def reached_by(hub, owner: str, server: str, people: tuple[str, ...]) -> set[str]:
    """Which of ``people`` hold the scope that opens ``owner``'s ``server`` (asked of the hub
    with a token of each, as a server's access check does)."""
    scope = f"access:servers!server={owner}/{server}"
    holders = set()
    for name in people:
        made = hub.api("POST", f"/users/{name}/tokens", json={"note": "reach", "expires_in": 600})
        assert made.status_code == 201, made.text
        headers = {"Authorization": f"token {made.json()['token']}"}
        response = requests.get(f"{hub.url}/hub/api/user", headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        if scope in response.json()["scopes"]:
            holders.add(name)
    return holders
