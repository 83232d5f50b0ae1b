"""campushub.lti without a hub: the operator's platform list and the nonce ledger."""

from __future__ import annotations

import pytest

from campushub.lti import NonceLedger, read_platforms

GOOD = {
    "issuer": "https://canvas.instructure.com",
    "client_id": "10000000000123",
    "deployment_ids": ["4567:abc", 12],
    "login_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
    "jwks_url": "https://sso.canvaslms.com/api/lti/security/jwks",
    "name": "bCourses",
}


def test_a_platform_is_read_with_its_deployments_as_text():
    (platform,) = read_platforms([GOOD])
    assert platform.deployment_ids == frozenset({"4567:abc", "12"})
    assert platform.title == "bCourses" and platform.frame_origins == ()
    framed = read_platforms([{**GOOD, "frame_origins": ["https://bcourses.example/"]}])
    assert framed[0].frame_origins == ("https://bcourses.example",)
    assert read_platforms([]) == ()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("https://canvas", "lti_platforms[0] must be a mapping, not 'https://canvas'"),
        ({**GOOD, "secret": "x"}, "lti_platforms[0] has unknown key(s) 'secret'"),
        ({**GOOD, "issuer": " "}, "lti_platforms[0].issuer must be non-empty text"),
        ({**GOOD, "client_id": 5}, "lti_platforms[0].client_id must be non-empty text"),
        ({**GOOD, "deployment_ids": []}, "lti_platforms[0].deployment_ids must be a non-empty"),
        ({**GOOD, "deployment_ids": "1"}, "lti_platforms[0].deployment_ids must be a non-empty"),
        ({**GOOD, "deployment_ids": [True]}, "lti_platforms[0].deployment_ids must be a non-empty"),
        (
            {**GOOD, "login_url": "http://canvas.example/authorize"},
            "lti_platforms[0].login_url must be an https:// URL (http:// only on loopback)",
        ),
        ({**GOOD, "jwks_url": None}, "lti_platforms[0].jwks_url must be a URL (text)"),
        ({**GOOD, "jwks_url": "https:///jwks"}, "lti_platforms[0].jwks_url names no host"),
        ({**GOOD, "name": ["x"]}, "lti_platforms[0].name must be text"),
        ({**GOOD, "frame_origins": "https://x"}, "lti_platforms[0].frame_origins must be a list"),
        (
            {**GOOD, "frame_origins": ["https://bcourses.example/courses"]},
            "lti_platforms[0].frame_origins[0] must be an origin (scheme, host and port, no",
        ),
        (
            {**GOOD, "frame_origins": ["http://bcourses.example"]},
            "lti_platforms[0].frame_origins[0] must be an https:// URL",
        ),
    ],
)
def test_a_wrong_platform_says_which_entry_and_key(entry, message):
    with pytest.raises(ValueError) as raised:
        read_platforms([entry])
    assert str(raised.value).startswith(message), str(raised.value)


def test_a_platform_registered_twice_or_not_a_list_is_refused():
    with pytest.raises(ValueError, match=r"lti_platforms\[1\]: issuer .* registered twice"):
        read_platforms([GOOD, dict(GOOD)])
    with pytest.raises(ValueError, match="must be a list of platforms"):
        read_platforms({"issuer": "x"})
    loopback = {**GOOD, "login_url": "http://127.0.0.1:9000/authorize"}
    assert read_platforms([loopback])[0].login_url.startswith("http://127.0.0.1")


def test_a_nonce_is_accepted_once_until_its_token_expires():
    ledger = NonceLedger(leeway=60)
    assert ledger.use("n1", expires=1000, now=900)
    assert not ledger.use("n1", expires=1000, now=950)  # a replay
    assert not ledger.use("n1", expires=1000, now=1059)  # within the leeway: the token verifies
    assert ledger.use("n2", expires=1000, now=950)


def test_the_ledger_stays_bounded_under_a_flood():
    ledger = NonceLedger(leeway=0, limit=100)
    for number in range(1000):
        assert ledger.use(f"n{number}", expires=10_000, now=0)
    assert len(ledger._seen) <= 100
    assert not ledger.use("n999", expires=10_000, now=1)  # the newest are kept


def test_the_tool_key_is_made_once_kept_private_and_read_again(tmp_path):
    import jwt

    from campushub.lti import ToolKey

    path = tmp_path / "state" / "lti-key.pem"
    made = ToolKey.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = ToolKey.load_or_create(path)
    assert again.kid == made.kid and again.jwks() == made.jwks()
    (public,) = jwt.PyJWKSet.from_dict(made.jwks()).keys
    token = again.sign({"aud": "canvas", "data": "x"})
    assert jwt.decode(token, public, algorithms=["RS256"], audience="canvas")["data"] == "x"
    assert "d" not in made.public_jwk  # the private exponent is never published
    path.write_text("not a key")
    with pytest.raises(ValueError, match=r"the LTI tool key .*lti-key.pem cannot be used"):
        ToolKey.load_or_create(path)
