"""LTI 1.3 launches (campushub.lti) against a real LTI 1.3 platform process on loopback.

The platform is PyPI's ``lti-provider-mock`` run by ``tests/lti_platform.py``, which adds
what the mock lacks (roles, custom parameters, signing forged claims with the platform's own
key). The student and instructor launches go through Chromium, as from Canvas: the platform's
login, its course page, the third-party login initiation at ``/hub/lti/login``, the platform's
authorization, the signed launch posted to ``/hub/lti/launch``, the course server and the
link's notebook. The refusals post launches signed by the platform's key (or another key)
after a real login initiation, over HTTP.
"""

from __future__ import annotations

import html
import json
import os
import re
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from campushub.demo import launch
from tests.test_links_service import NOTEBOOK, make_link

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID = "lti-provider-mock"  # the mock's, fixed
KID = "lti-provider-mock-default"
DATA8 = "1524699"  # the demo catalog's Canvas id of data8
NOT_IN_CATALOG = "7777777"
PHYSICS77 = "1525333"
# The platform on another loopback address than the hub (127.0.0.1): another site, so the
# launch is a cross-site form post as from Canvas, and the hub's state cookie must be
# SameSite=None; Secure to come with it.
PLATFORM_HOST = "127.0.0.2"
REFRESH_AGE = 3  # seconds between the hub's refreshes of a sign-in
LIS = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
# The platform's people (its own ids, as Canvas's LTI user ids): who they are on campus comes
# from their email, which the platform sets (the campus's domain taken off).
DOMAIN = "campus.example"
PEOPLE = {
    "lti-ada": {"email": f"ada@{DOMAIN}", "roles": {DATA8: [LIS + "Learner"]}},
    "lti-ines": {
        "email": f"ines@{DOMAIN}",
        "roles": {DATA8: [LIS + "Instructor"], NOT_IN_CATALOG: [LIS + "Instructor"]},
    },
    "lti-olga": {"email": f"olga@{DOMAIN}", "roles": {DATA8: [LIS + "Mentor"]}},
    "lti-anon": {"roles": {DATA8: [LIS + "Learner"]}},
}


@pytest.fixture(scope="module")
def platform_port() -> int:
    return launch.free_port()


@pytest.fixture(scope="module")
def hub_options(platform_port: int) -> dict[str, Any]:
    url = f"http://{PLATFORM_HOST}:{platform_port}"
    platform = {
        "issuer": url,
        "client_id": CLIENT_ID,
        "deployment_ids": ["1"],
        "login_url": f"{url}/authorize",
        "jwks_url": f"{url}/jwks",
        "name": "bCourses (test platform)",
        "frame_origins": [url],
    }
    return {
        "extra_env": {
            "CAMPUSHUB_LTI_PLATFORMS": json.dumps([platform]),
            "CAMPUSHUB_LTI_USERNAME_DOMAIN": DOMAIN,
        },
        "auth_refresh_age": REFRESH_AGE,  # launch-only sign-ins meet the hub's refresh
    }


class Platform:
    def __init__(self, process: launch.Process, url: str) -> None:
        self.process = process
        self.url = url

    def people(self, people: dict[str, Any]) -> None:
        requests.put(f"{self.url}/harness/people", json=people, timeout=10).raise_for_status()

    def sign(self, claims: dict[str, Any]) -> str:
        answer = requests.post(f"{self.url}/harness/sign", json=claims, timeout=10)
        answer.raise_for_status()
        return answer.json()["id_token"]


@pytest.fixture(scope="module")
def platform(hub, platform_port: int, campus_dir: Path) -> Any:
    url = f"http://{PLATFORM_HOST}:{platform_port}"
    users = [
        {"id": sub, "given_name": sub.split("-")[1].title(), "family_name": "Test", "email": ""}
        for sub in PEOPLE
    ]
    courses = [
        {"id": DATA8, "name": "DATA 8", "users": []},
        {"id": NOT_IN_CATALOG, "name": "HIST 1", "users": ["lti-ines"]},
    ]
    env = {
        **os.environ,
        "LTI_PROVIDER_MOCK__LTI__ISS": url,
        "LTI_PROVIDER_MOCK__LTI__LOGIN_URL": f"{hub.url}/hub/lti/login",
        "LTI_PROVIDER_MOCK__LTI__LAUNCH_URL": f"{hub.url}/hub/lti/launch",
        "LTI_PROVIDER_MOCK__USERS": json.dumps(users),
        "LTI_PROVIDER_MOCK__COURSES": json.dumps(courses),
    }
    process = launch.start_process(
        "lti-platform",
        [sys.executable, "-m", "tests.lti_platform", str(platform_port), PLATFORM_HOST],
        f"{url}/jwks",
        campus_dir / "logs",
        env=env,
        cwd=ROOT,
    )
    running = Platform(process, url)
    running.people(PEOPLE)
    yield running
    process.stop()


# -- a launch over HTTP, for the refusals ------------------------------------------------------


def initiate(hub, platform: Platform, **params: str) -> tuple[requests.Session, dict[str, str]]:
    """A real third-party login initiation at the hub; returns the browser's session (with
    the state cookie) and the authorization request's parameters the hub sent it on with."""
    session = requests.Session()
    query = {"iss": platform.url, "login_hint": "hint", "client_id": CLIENT_ID, **params}
    answer = session.get(
        f"{hub.url}/hub/lti/login", params=query, allow_redirects=False, timeout=30
    )
    assert answer.status_code == 302, (answer.status_code, answer.text[:1000])
    (cookie,) = (c for c in session.cookies if c.name.startswith("campushub-lti-"))
    assert cookie.secure and cookie.has_nonstandard_attr("HttpOnly"), cookie
    assert cookie.get_nonstandard_attr("SameSite") == "None", cookie
    cookie.secure = False  # browsers treat loopback as secure; requests' cookie jar does not
    location = answer.headers["Location"]
    assert location.startswith(f"{platform.url}/authorize?"), location
    return session, dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def claims_for(platform: Platform, sub: str, nonce: str, course: str = DATA8, **changes: Any):
    now = int(time.time())
    person = PEOPLE.get(sub, {})
    claims = {
        "iss": platform.url,
        "aud": CLIENT_ID,
        "sub": sub,
        "nonce": nonce,
        "iat": now,
        "exp": now + 300,
        CLAIM + "deployment_id": "1",
        CLAIM + "version": "1.3.0",
        CLAIM + "message_type": "LtiResourceLinkRequest",
        CLAIM + "roles": person.get("roles", {}).get(course, []),
        CLAIM + "context": {"id": course, "title": "the course"},
        CLAIM + "resource_link": {"id": "1"},
    }
    if person.get("email"):
        claims["email"] = person["email"]
    claims.update(changes)
    return claims


def post_launch(hub, session: requests.Session, token: str, state: str) -> requests.Response:
    return session.post(
        f"{hub.url}/hub/lti/launch",
        data={"id_token": token, "state": state},
        allow_redirects=False,
        timeout=30,
    )


def reason(answer: requests.Response) -> str:
    match = re.search(r'id="campushub-lti-reason" data-reason="(\w+)">([^<]*)<', answer.text)
    assert match, (answer.status_code, answer.text[:2000])
    return match.group(1) + ": " + " ".join(html.unescape(match.group(2)).split())


def signed_in_as(session: requests.Session, hub) -> str | None:
    answer = session.get(f"{hub.url}/hub/api/user", timeout=30)
    return answer.json().get("name") if answer.status_code == 200 else None


def test_a_launch_signed_by_the_platform_signs_in_the_campus_account(hub, platform):
    session, auth = initiate(hub, platform)
    assert auth["client_id"] == CLIENT_ID and auth["response_mode"] == "form_post"
    assert auth["redirect_uri"] == f"{hub.url}/hub/lti/launch"
    token = platform.sign(claims_for(platform, "lti-ada", auth["nonce"]))
    answer = post_launch(hub, session, token, auth["state"])
    assert answer.status_code == 302, reason(answer)
    assert answer.headers["Location"] == "/hub/spawn/ada/data8"
    model = hub.api("GET", "/users/ada").json()
    assert {"course:data8", "course:data8:students"} <= set(model["groups"])
    # The same state cannot be used again (its cookie is gone) ...
    again = post_launch(hub, session, token, auth["state"])
    assert again.status_code == 403 and reason(again).startswith("state:")


def test_a_replayed_launch_is_refused_even_with_its_cookie(hub, platform):
    session, auth = initiate(hub, platform)
    cookies = session.cookies.copy()
    token = platform.sign(claims_for(platform, "lti-ada", auth["nonce"]))
    assert post_launch(hub, session, token, auth["state"]).status_code == 302
    thief = requests.Session()
    thief.cookies.update(cookies)  # the state cookie captured with the launch
    replay = post_launch(hub, thief, token, auth["state"])
    assert replay.status_code == 403
    assert (
        reason(replay)
        == "invalid: The hub refused it: the launch was already used (a replayed launch)."
    )
    assert signed_in_as(thief, hub) is None


def test_a_ta_s_launch_only_sign_in_gets_the_ta_role_and_survives_refreshes(hub, platform):
    session, auth = initiate(hub, platform)
    claims = claims_for(platform, "lti-tom", auth["nonce"])
    # Canvas sends a TA both Instructor and its TeachingAssistant sub-role
    ta = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
    claims[CLAIM + "roles"] = [LIS + "Instructor", ta]
    claims["email"] = f"tom@{DOMAIN}"
    assert post_launch(hub, session, platform.sign(claims), auth["state"]).status_code == 302
    model = hub.api("GET", "/users/tom").json()
    assert "course-data8-ta" in model["roles"] and "course-data8-instructor" not in model["roles"]
    assert "course:data8:tas" in model["groups"]
    time.sleep(REFRESH_AGE + 1)
    # nothing to refresh from (no campus sign-in behind it): kept for lti_session_hours
    assert signed_in_as(session, hub) == "tom"
    assert "course-data8-ta" in hub.api("GET", "/users/tom").json()["roles"]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"aud": "another-tool"}, "issued to another client (audience)"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 3900}, "has expired"),
        ({CLAIM + "deployment_id": "2"}, "deployment ('2')"),
        ({CLAIM + "version": "1.1"}, "LTI version '1.1'"),
        ({CLAIM + "message_type": "LtiSubmissionReviewRequest"}, "not supported"),
        ({"nonce": "not-this-launch"}, "carries the wrong nonce"),
        ({"iss": "https://evil.example"}, "issued by another provider"),
    ],
)
def test_forged_launches_are_refused(hub, platform, change, why):
    session, auth = initiate(hub, platform)
    token = platform.sign({**claims_for(platform, "lti-ada", auth["nonce"]), **change})
    answer = post_launch(hub, session, token, auth["state"])
    assert answer.status_code == 403, answer.headers
    assert why in reason(answer)
    assert signed_in_as(session, hub) is None


def test_a_launch_signed_with_another_key_is_refused(hub, platform):
    session, auth = initiate(hub, platform)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = claims_for(platform, "lti-ada", auth["nonce"])
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})
    answer = post_launch(hub, session, token, auth["state"])
    assert answer.status_code == 403
    assert "signature does not verify" in reason(answer)
    # a key id the platform does not have: the hub asks the platform again, then refuses
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "someone-else"})
    session, auth = initiate(hub, platform)
    answer = post_launch(hub, session, token, auth["state"])
    assert answer.status_code == 403 and "unknown key" in reason(answer)


def test_login_initiation_refuses_what_is_not_registered(hub, platform):
    bad = [
        ({"iss": "https://canvas.example"}, 403, "platform:"),
        ({"client_id": "another-key"}, 403, "platform:"),
        ({"lti_deployment_id": "99"}, 403, "deployment:"),
        ({"login_hint": ""}, 400, "not_a_launch:"),
    ]
    for params, status, why in bad:
        query = {"iss": platform.url, "login_hint": "hint", "client_id": CLIENT_ID, **params}
        answer = requests.get(f"{hub.url}/hub/lti/login", params=query, timeout=30)
        assert answer.status_code == status, (params, answer.status_code)
        assert reason(answer).startswith(why), (params, reason(answer))
    no_state = requests.post(
        f"{hub.url}/hub/lti/launch", data={"id_token": "x.y.z", "state": "short"}, timeout=30
    )
    assert no_state.status_code == 400


@pytest.mark.parametrize(
    ("sub", "course", "why"),
    [
        (
            "lti-ines",
            NOT_IN_CATALOG,
            "course: the course (course 7777777 in bCourses (test platform)) is not in the",
        ),
        ("lti-olga", DATA8, "role: bCourses (test platform) lists you in DATA 8"),
        (
            "lti-anon",
            DATA8,
            "username: bCourses (test platform) did not say who you are on campus (email)",
        ),
    ],
)
def test_launches_the_hub_cannot_serve_get_a_page_that_says_why(hub, platform, sub, course, why):
    session, auth = initiate(hub, platform)
    token = platform.sign(claims_for(platform, sub, auth["nonce"], course=course))
    answer = post_launch(hub, session, token, auth["state"])
    assert answer.status_code == 403
    assert reason(answer).startswith(why), reason(answer)
    assert signed_in_as(session, hub) is None


def test_the_launch_and_the_campus_sign_in_are_one_account(hub, platform):
    # grace signs in on campus first (data8 and stat20), then launches from the platform's
    # physics77, which her campus sign-in does not list
    campus = hub.login("grace")
    assert signed_in_as(campus, hub) == "grace"
    session, auth = initiate(hub, platform)
    claims = claims_for(platform, "lti-grace", auth["nonce"], course=PHYSICS77)
    claims.update({"email": f"grace@{DOMAIN}", CLAIM + "roles": [LIS + "Learner"]})
    assert post_launch(hub, session, platform.sign(claims), auth["state"]).status_code == 302
    assert signed_in_as(session, hub) == "grace"
    users = [u["name"] for u in hub.api("GET", "/users").json()]
    assert users.count("grace") == 1 and not [u for u in users if "lti" in u]
    groups = set(hub.api("GET", "/users/grace").json()["groups"])
    assert {"course:data8", "course:stat20", "course:physics77"} <= groups
    # The campus sign-in refreshes (her campus memberships read again): the launched course
    # stays (for lti_session_hours), and so does the account's binding to its platform user.
    time.sleep(REFRESH_AGE + 1)
    assert signed_in_as(campus, hub) == "grace"
    groups = set(hub.api("GET", "/users/grace").json()["groups"])
    assert {"course:data8", "course:stat20", "course:physics77"} <= groups
    session, auth = initiate(hub, platform)
    forged = claims_for(platform, "lti-mallory", auth["nonce"])
    forged.update({"email": f"grace@{DOMAIN}", CLAIM + "roles": [LIS + "Learner"]})
    answer = post_launch(hub, session, platform.sign(forged), auth["state"])
    assert answer.status_code == 403 and reason(answer).startswith("subject:")


def test_who_a_launch_signs_in_is_the_platform_s_word_never_a_course_item_s(hub, platform):
    # a course item's custom parameters (which override the tool's) cannot name the account
    session, auth = initiate(hub, platform)
    claims = claims_for(platform, "lti-ada", auth["nonce"])
    claims[CLAIM + "custom"] = {"login_id": "ines", "email": f"ines@{DOMAIN}"}
    assert post_launch(hub, session, platform.sign(claims), auth["state"]).status_code == 302
    assert signed_in_as(session, hub) == "ada"
    # an address of another domain names no campus account
    session, auth = initiate(hub, platform)
    claims = claims_for(platform, "lti-eve", auth["nonce"])
    claims.update({"email": "ines@elsewhere.example", CLAIM + "roles": [LIS + "Learner"]})
    answer = post_launch(hub, session, platform.sign(claims), auth["state"])
    assert answer.status_code == 403 and "not an account of campus.example" in reason(answer)
    # an administrator's account is not signed in by a launch
    assert signed_in_as(hub.login("dana"), hub) == "dana"
    session, auth = initiate(hub, platform)
    claims = claims_for(platform, "lti-dana", auth["nonce"])
    claims.update({"email": f"dana@{DOMAIN}", CLAIM + "roles": [LIS + "Instructor"]})
    answer = post_launch(hub, session, platform.sign(claims), auth["state"])
    assert answer.status_code == 403 and reason(answer).startswith("admin:")
    assert hub.api("GET", "/users/dana").json()["admin"]


def test_a_flood_of_login_initiations_keeps_a_few_state_cookies(hub, platform):
    session = requests.Session()
    for _ in range(20):
        query = {"iss": platform.url, "login_hint": "hint", "client_id": CLIENT_ID}
        session.get(f"{hub.url}/hub/lti/login", params=query, allow_redirects=False, timeout=30)
        for cookie in session.cookies:
            cookie.secure = False
    assert 1 <= len([c for c in session.cookies if c.name.startswith("campushub-lti-")]) <= 8


# -- through Chromium, as from Canvas ----------------------------------------------------------


def launch_in_browser(browser, platform: Platform, sub: str, course_name: str = "DATA 8"):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{platform.url}/login")
    page.select_option("select[name=userid]", sub)
    page.click("button[type=submit]")
    page.click(f"text={course_name}")
    return context, page


@pytest.fixture(scope="module")
def link(hub, git_server) -> str:
    """A data8 link to the demo notebook, made by ines."""
    made = make_link(hub, hub.login("ines"), repo=git_server.demo_repo_url, path=NOTEBOOK)
    return re.search(r"/services/links/manage/(\w+)\?created=1$", made.url).group(1)


@pytest.mark.browser
def test_a_student_launch_opens_the_link_s_notebook(hub, platform, browser, link):
    platform.people(
        {**PEOPLE, "lti-ada": {**PEOPLE["lti-ada"], "course_custom": {DATA8: {"link": link}}}}
    )
    try:
        context, page = launch_in_browser(browser, platform, "lti-ada")
        page.wait_for_url(
            re.compile(rf".*/user/ada/data8/lab/tree/.*{NOTEBOOK}.*"), timeout=120_000
        )
        context.close()
    finally:
        platform.people(PEOPLE)
    model = hub.api("GET", "/users/ada").json()
    assert model["servers"]["data8"]["ready"]


@pytest.mark.browser
def test_an_instructor_launch_gets_the_course_s_staff_role(hub, platform, browser):
    context, page = launch_in_browser(browser, platform, "lti-ines")
    page.wait_for_url(re.compile(r".*/user/ines/data8/.*"), timeout=120_000)
    context.close()
    model = hub.api("GET", "/users/ines").json()
    assert "course-data8-instructor" in model["roles"]
    assert {"course:data8", "course:data8:instructors"} <= set(model["groups"])


# -- Deep Linking: staff choose the link in the platform ---------------------------------------

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


def deep_linking_claims(platform: Platform, sub: str, nonce: str) -> dict[str, Any]:
    claims = claims_for(platform, sub, nonce)
    claims[CLAIM + "message_type"] = "LtiDeepLinkingRequest"
    claims[DL + "deep_linking_settings"] = {
        "deep_link_return_url": f"{platform.url}/harness/deep-link-return",
        "accept_types": ["ltiResourceLink"],
        "data": "opaque",
    }
    return claims


@pytest.mark.browser
def test_an_instructor_chooses_a_link_in_the_platform_s_frame(hub, platform, browser, link, shots):
    platform.people({**PEOPLE, "lti-ines": {**PEOPLE["lti-ines"], "deep_linking": True}})
    try:
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{platform.url}/login")
        page.select_option("select[name=userid]", "lti-ines")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/courses$"))
        # Link Selection opens the tool in a frame of the platform's page, cross-site
        page.goto(f"{platform.url}/harness/framed/{DATA8}")
        tool = page.frame_locator("#tool")
        tool.locator(f"#choose-{link}").wait_for(timeout=60_000)
        shots(page, "instructors", "lti-choose-link")
        tool.locator(f"#choose-{link}").click()
        tool.locator("text=Item added").wait_for(timeout=60_000)
        context.close()
    finally:
        platform.people(PEOPLE)
    token = requests.get(f"{platform.url}/harness/returned", timeout=10).json()[-1]
    # The platform verifies the response with the tool's published key.
    keys = requests.get(f"{hub.url}/hub/lti/jwks", timeout=10).json()
    (key,) = jwt.PyJWKSet.from_dict(keys).keys
    assert jwt.get_unverified_header(token)["kid"] == key.key_id
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=platform.url, issuer=CLIENT_ID)
    assert claims[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[CLAIM + "deployment_id"] == "1" and claims[CLAIM + "version"] == "1.3.0"
    assert claims[DL + "data"] == "harness-opaque-data"
    (item,) = claims[DL + "content_items"]
    assert item["type"] == "ltiResourceLink" and item["custom"] == {"link": link}
    assert item["url"] == f"{hub.url}/hub/lti/launch" and item["title"] == NOTEBOOK


def test_choosing_a_link_is_for_staff_and_bound_to_its_request(hub, platform, link):
    # a student's Deep Linking request: refused, with a page
    session, auth = initiate(hub, platform)
    token = platform.sign(deep_linking_claims(platform, "lti-ada", auth["nonce"]))
    answer = post_launch(hub, session, token, auth["state"])
    assert answer.status_code == 403 and reason(answer).startswith("not_staff:")
    # the instructor's: the hub's page of the course's links, which the platform may frame
    session, auth = initiate(hub, platform)
    token = platform.sign(deep_linking_claims(platform, "lti-ines", auth["nonce"]))
    page = post_launch(hub, session, token, auth["state"])
    assert page.status_code == 200, reason(page)
    assert f'id="choose-{link}"' in page.text
    csp = page.headers["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {platform.url};" in csp
    elsewhere = requests.get(f"{hub.url}/hub/refused", timeout=30)  # any other hub page
    assert "frame-ancestors 'none'" in elsewhere.headers["Content-Security-Policy"]
    request = html.unescape(re.search(r'name="request" value="([^"]+)"', page.text).group(1))

    def choose(who: requests.Session, signed: str, chosen: str = link) -> requests.Response:
        data = {"request": signed, "link": chosen, "title": "Lab 1"}
        return who.post(f"{hub.url}/hub/lti/deep-link", data=data, timeout=30)

    # in the platform's frame the hub's cookie may not come: the signed request is enough
    chosen = choose(requests.Session(), request)
    assert chosen.status_code == 200, reason(chosen)
    assert f'action="{platform.url}/harness/deep-link-return"' in chosen.text
    assert 'name="JWT"' in chosen.text
    tampered = request[:-3] + ("AAA" if not request.endswith("AAA") else "BBB")
    assert reason(choose(session, tampered)).startswith("pick:")
    other = hub.login("ada")  # a browser signed in as someone else may not use it
    refused = choose(other, request)
    assert refused.status_code == 403 and reason(refused).startswith("pick:")
    assert choose(session, request, "../../etc").status_code == 400
    assert choose(session, request, "ZZZZ9999").status_code == 400  # not one it offered


@pytest.mark.parametrize(
    ("settings", "why"),
    [
        ({"deep_link_return_url": "http://evil.example/back"}, "must be an https:// URL"),
        ({"deep_link_return_url": None}, "deep_link_return_url must be a URL"),
        ({"accept_types": ["file"]}, "accepts no LTI resource link"),
        (None, "has no deep_linking_settings"),
    ],
)
def test_a_deep_linking_request_the_hub_cannot_answer_is_refused(hub, platform, settings, why):
    session, auth = initiate(hub, platform)
    claims = deep_linking_claims(platform, "lti-ines", auth["nonce"])
    if settings is None:
        del claims[DL + "deep_linking_settings"]
    else:
        claims[DL + "deep_linking_settings"].update(settings)
    answer = post_launch(hub, session, platform.sign(claims), auth["state"])
    assert answer.status_code == 403 and why in reason(answer), reason(answer)
