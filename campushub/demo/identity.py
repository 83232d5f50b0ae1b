"""The local campus's identity provider: oidc-provider-mock, a real OpenID Connect provider,
served as its own command does, with a sign-in page that says who each demo person is.

``python -m campushub.demo.identity --host 127.0.0.1 --port 9400 --person JSON ...``: each
``--person`` is an object with ``sub``, the ``role`` shown beside it on the sign-in page, and
the claims the provider returns. Only the page that chooses the person is campushub's (it posts
the same form); tokens, keys and endpoints are the provider's own.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import jinja2
import oidc_provider_mock
import uvicorn

TEMPLATES = Path(__file__).parent / "identity_templates"


def build(people: list[dict[str, Any]]) -> Any:
    """The provider's Flask app holding ``people``, with the campus's sign-in page."""
    users = [
        oidc_provider_mock.User(
            sub=str(person["sub"]),
            claims={k: v for k, v in person.items() if k not in ("sub", "role")},
        )
        for person in people
    ]
    app = oidc_provider_mock.app(user_claims=users)
    # The campus's page first, the provider's own pages (and their layout) after it.
    app.jinja_loader = jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader(str(TEMPLATES)), app.jinja_loader]
    )
    app.jinja_env.globals["campus_people"] = {
        str(person["sub"]): {"role": str(person.get("role", "")), "name": person.get("name", "")}
        for person in people
    }
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9400)
    parser.add_argument("--person", action="append", default=[], help="a person, as JSON")
    args = parser.parse_args(argv)
    people = [json.loads(text) for text in args.person]
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain http on loopback, as its command
    uvicorn.run(build(people), interface="wsgi", host=args.host, port=args.port, log_config=None)


if __name__ == "__main__":
    main()
