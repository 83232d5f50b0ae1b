"""Canvas as the source of memberships: pagination stays on Canvas, and a Canvas that does not
answer stops the login cleanly with the person's courses unchanged.

There is no Canvas stand-in: only the Kubernetes API may be faked. A Canvas that does not answer
is a real socket on loopback that refuses connections or never replies.
"""

from __future__ import annotations

import socket
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from tornado.web import HTTPError

import campushub
from campushub.auth import CampusAuthenticator, next_link

DEMO_CATALOG = Path(campushub.__file__).parent / "demo" / "courses.yaml"
CANVAS = urllib.parse.urlsplit("https://bcourses.berkeley.edu")
PAGE_2 = "https://bcourses.berkeley.edu/api/v1/courses?page=2&per_page=100"


# -- next_link -------------------------------------------------------------------------------------


def test_next_link_follows_rel_next_on_canvas_itself() -> None:
    header = (
        '<https://bcourses.berkeley.edu/api/v1/courses?page=1&per_page=100>; rel="current",'
        f'<{PAGE_2}>; rel="next",'
        '<https://bcourses.berkeley.edu/api/v1/courses?page=1&per_page=100>; rel="first",'
        '<https://bcourses.berkeley.edu/api/v1/courses?page=7&per_page=100>; rel="last"'
    )
    assert next_link(header, CANVAS) == PAGE_2


def test_next_link_reads_a_header_with_spaces_and_only_a_next() -> None:
    assert next_link(f' <{PAGE_2}> ;  rel="next" ', CANVAS) == PAGE_2


def test_next_link_keeps_a_path_prefix_and_bookmark_pages() -> None:
    base = urllib.parse.urlsplit("https://canvas.example.edu/lms")
    url = "https://canvas.example.edu/lms/api/v1/courses?page=bookmark:WzEyMzRd&per_page=100"
    assert next_link(f'<{url}>; rel="next"', base) == url


def test_the_last_page_has_no_next_link() -> None:
    header = (
        f'<{PAGE_2}>; rel="current",'
        '<https://bcourses.berkeley.edu/api/v1/courses?page=1&per_page=100>; rel="prev",'
        f'<{PAGE_2}>; rel="last"'
    )
    assert next_link(header, CANVAS) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/api/v1/courses?page=2",
        "http://bcourses.berkeley.edu/api/v1/courses?page=2",  # a downgrade to plain HTTP
        "https://bcourses.berkeley.edu:8443/api/v1/courses?page=2",
        "https://bcourses.berkeley.edu@evil.example.com/api/v1/courses?page=2",
        "https://bcourses.berkeley.edu.evil.example.com/api/v1/courses?page=2",
        "//evil.example.com/api/v1/courses?page=2",
        "file:///etc/passwd",
        "javascript:alert(1)",
    ],
)
def test_next_link_ignores_other_hosts_and_schemes(url: str) -> None:
    assert next_link(f'<{url}>; rel="next"', CANVAS) is None


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        'rel="next"',
        f'{PAGE_2}; rel="next"',  # no angle brackets
        f'<{PAGE_2}; rel="next"',  # unterminated
        f"<{PAGE_2}>; rel=prev",
        f"<{PAGE_2}>",
        ",,,;;;<>",
        '<>; rel="next"',
    ],
)
def test_next_link_ignores_malformed_headers(header: str) -> None:
    assert next_link(header, CANVAS) is None


# -- _canvas_courses when Canvas does not answer ---------------------------------------------------


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: every connection is refused.

    Holding it bound keeps any other process from taking the port during the test.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections into its backlog and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@pytest.fixture
def erring_port() -> Iterator[int]:
    """A loopback port whose every request is answered ``500 Internal Server Error``, as a
    Canvas in trouble answers (a plain socket: no Canvas endpoint is imitated)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        stop = threading.Event()

        def answer() -> None:
            sock.settimeout(0.2)
            while not stop.is_set():
                try:
                    connection, _ = sock.accept()
                except OSError:
                    continue
                with connection:
                    connection.recv(65536)
                    body = b'{"errors": [{"message": "An error occurred."}]}'
                    connection.sendall(
                        b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json"
                        + f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                        + body
                    )

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        yield sock.getsockname()[1]
        stop.set()
        thread.join(5)


def canvas_authenticator(port: int, **settings: object) -> CampusAuthenticator:
    config: dict[str, object] = {
        "catalog_path": str(DEMO_CATALOG),
        "memberships_source": "canvas",
        "canvas_url": f"http://127.0.0.1:{port}",
        "verify_id_token": False,
        "client_id": "x",
        "client_secret": "y",
        "authorize_url": "http://127.0.0.1:1/a",
        "token_url": "http://127.0.0.1:1/t",
        "userdata_url": "http://127.0.0.1:1/u",
    }
    return CampusAuthenticator(**{**config, **settings})


def test_the_authenticator_is_built_without_any_network(refusing_port: int) -> None:
    auth = canvas_authenticator(refusing_port)
    assert auth.id_token_verifier is None
    assert sorted(auth.catalog.courses) == ["data8", "physics77", "stat20"]
    assert auth.memberships_source == "canvas"


def test_canvas_as_the_source_needs_its_url() -> None:
    with pytest.raises(ValueError, match="memberships_source 'canvas' needs canvas_url"):
        canvas_authenticator(1, canvas_url="")


def assert_clean_failure(error: pytest.ExceptionInfo[HTTPError]) -> None:
    assert error.value.status_code == 503
    message = error.value.log_message or ""
    assert "Canvas did not answer" in message
    assert "your courses on this hub are unchanged" in message


async def test_a_canvas_that_refuses_connections_stops_the_login_cleanly(
    refusing_port: int,
) -> None:
    auth = canvas_authenticator(refusing_port)
    with pytest.raises(HTTPError) as error:
        await auth._canvas_courses("token", "ada")
    assert_clean_failure(error)


async def test_a_canvas_that_never_answers_times_out_cleanly(silent_port: int) -> None:
    auth = canvas_authenticator(silent_port, canvas_timeout=0.5)
    with pytest.raises(HTTPError) as error:
        await auth._canvas_courses("token", "ada")
    assert_clean_failure(error)


async def test_a_canvas_answering_500_stops_the_login_cleanly(erring_port: int) -> None:
    auth = canvas_authenticator(erring_port)
    with pytest.raises(HTTPError) as error:
        await auth._canvas_courses("token", "ada")
    assert_clean_failure(error)


def test_refusals_say_when_the_term_is_not_on_and_which_roles_were_ignored(
    refusing_port: int,
) -> None:
    auth = canvas_authenticator(refusing_port)
    term = auth.catalog.term
    before, after = term.starts - timedelta(days=1), term.ends + timedelta(days=1)
    assert auth._why_no_course({}, {}, before) == {"reason": "not_open"}
    assert auth._why_no_course({}, {"data8": "ObserverEnrollment"}, after) == {
        "reason": "term_over"
    }
    during = term.starts + timedelta(days=10)
    observer = auth._why_no_course({}, {"data8": "ObserverEnrollment"}, during)
    assert observer == {"reason": "ignored_role", "roles": [("data8", "ObserverEnrollment")]}
    assert auth._why_no_course({}, {}, during) == {"reason": "no_course"}  # Canvas: no claim
    state = {"refusal": {"reason": "not_open"}}
    refused = auth._refusal("ada", state)
    assert refused.status_code == 403 and refused.reason == "not_open"
    assert f"opens for the term {term.name} on {term.starts}" in refused.jupyterhub_message
    said = auth._refusal("ada", {"refusal": observer}).page()
    assert said["roles"] == [("DATA 8: Foundations of Data Science", "ObserverEnrollment")]
    # A state that names a course not in the catalog, or is not a mapping, says no course.
    assert (
        auth._refusal("ada", {"refusal": {"reason": "ignored_role", "roles": [["x", 1]]}}).reason
        == "no_course"
    )
    assert auth._refusal("ada", {"refusal": "junk"}).reason == "no_course"


def test_observer_enrollments_are_found_among_canvas_courses(refusing_port: int) -> None:
    from campushub.memberships import ignored_from_canvas

    auth = canvas_authenticator(refusing_port)
    records = [
        {
            "id": 1524699,
            "enrollments": [{"type": "ObserverEnrollment", "enrollment_state": "active"}],
        },
        {"id": 1525001, "enrollments": [{"type": "observer", "enrollment_state": "invited"}]},
        {"id": 42, "enrollments": [{"type": "ObserverEnrollment"}]},
        "junk",
        {"id": True, "enrollments": None},
    ]
    assert ignored_from_canvas(records, auth.rules, auth.catalog) == {"data8": "ObserverEnrollment"}
