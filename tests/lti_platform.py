"""A real LTI 1.3 platform for the tests: PyPI's ``lti-provider-mock`` (a FastAPI app that
signs its launches with its own RSA key and serves its JWKS), run by uvicorn, with what it
lacks added here, in the test harness, never in campushub:

- the mock sends no roles (``roles: []``), no custom parameters and no email: each launch's
  claims get the roles, custom parameters and email this harness holds for its person and
  course (``PUT /harness/people``), as Canvas sends them for an enrollment, the person and the
  course item;
- ``POST /harness/sign``: claims signed with the platform's own key (for the tests' forged
  launches: expired, another audience, an unknown deployment);
- LTI Deep Linking, which the mock does not implement: a person marked ``deep_linking`` gets
  a Deep Linking request instead of a resource link launch (its return address
  ``/harness/deep-link-return``, which keeps the tool's signed response for
  ``GET /harness/returned``), and ``/harness/framed/<course>`` runs the launch inside a frame
  of the platform's page, as Canvas opens Link Selection.

Started as ``python -m tests.lti_platform <port> [<address>]``; the mock reads its settings
(``LTI_PROVIDER_MOCK__...``: issuer, the tool's login and launch addresses, people, courses)
from the environment when imported. Its client id is ``lti-provider-mock`` and its one
deployment ``1``; its key (kid ``lti-provider-mock-default``) is made anew at each start.
"""

from __future__ import annotations

import sys
from typing import Any

HARNESS: dict[str, Any] = {"people": {}}


def augment(claims: dict[str, Any]) -> None:
    """Add the person's roles in the launch's course, custom parameters and email."""
    person = HARNESS["people"].get(claims.get("sub"), {})
    context = claims.get("https://purl.imsglobal.org/spec/lti/claim/context") or {}
    course = str(context.get("id", ""))
    claims["https://purl.imsglobal.org/spec/lti/claim/roles"] = list(
        person.get("roles", {}).get(course, [])
    )
    custom = {**person.get("custom", {}), **person.get("course_custom", {}).get(course, {})}
    if custom:
        claims["https://purl.imsglobal.org/spec/lti/claim/custom"] = custom
    if person.get("email"):
        claims["email"] = person["email"]
    if person.get("deep_linking"):  # the person is adding the tool to a course item
        claims["https://purl.imsglobal.org/spec/lti/claim/message_type"] = "LtiDeepLinkingRequest"
        claims.pop("https://purl.imsglobal.org/spec/lti/claim/resource_link", None)
        claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
            "deep_link_return_url": f"{claims['iss']}/harness/deep-link-return",
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "accept_multiple": False,
            "data": "harness-opaque-data",
        }


def main() -> None:
    import uvicorn
    from fastapi import Body, Form
    from fastapi.responses import HTMLResponse
    from jwcrypto.jwt import JWT
    from lti_provider_mock import server

    class AugmentedJWT(JWT):  # the mock makes each launch's token with server.JWT
        def __init__(self, header: Any = None, claims: Any = None, **kwargs: Any) -> None:
            if isinstance(claims, dict) and "nonce" in claims and "sub" in claims:
                augment(claims)
            super().__init__(header=header, claims=claims, **kwargs)

    server.JWT = AugmentedJWT

    @server.app.put("/harness/people")
    def set_people(people: dict[str, Any] = Body(...)) -> dict[str, int]:  # noqa: B008
        HARNESS["people"] = people
        return {"people": len(people)}

    @server.app.post("/harness/sign")
    def sign(claims: dict[str, Any] = Body(...)) -> dict[str, str]:  # noqa: B008
        token = JWT(header={"kid": server.jwt_key.key_id, "alg": "RS256"}, claims=claims)
        token.make_signed_token(server.jwt_key)
        return {"id_token": token.serialize()}

    @server.app.get("/harness/framed/{cid}")
    def framed(cid: str) -> HTMLResponse:
        # As Canvas opens Link Selection: the tool's whole flow inside a frame of the
        # platform's page (the hub's pages are then cross-site frames).
        return HTMLResponse(
            "<!DOCTYPE html><title>Course item</title><h1>Add an item</h1>"
            f'<iframe id="tool" src="/courses/{cid}" width="1000" height="600"></iframe>'
        )

    @server.app.post("/harness/deep-link-return")
    def deep_link_return(JWT: str = Form(...)) -> HTMLResponse:
        HARNESS.setdefault("returned", []).append(JWT)
        return HTMLResponse("<!DOCTYPE html><title>Received</title><h1>Item added</h1>")

    @server.app.get("/harness/returned")
    def returned() -> list[str]:
        return HARNESS.get("returned", [])

    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    uvicorn.run(server.app, host=host, port=int(sys.argv[1]), log_level="warning")


if __name__ == "__main__":
    main()
