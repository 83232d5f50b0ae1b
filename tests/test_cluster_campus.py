"""The campus on a real zero-to-jupyterhub release, as its people meet it.

Run by the cluster workflow (.github/workflows/cluster.yml) after it installs the chart with
campushub's values: the hub, the proxy, the identity provider and PostgreSQL run in k3s, and
this module drives them from outside as a browser would, through port-forwards. It is skipped
unless ``CAMPUSHUB_TEST_HUB_URL`` (the hub's public address, e.g. http://proxy-public:8080)
and ``CAMPUSHUB_TEST_IDP_URL`` (the identity provider's issuer, the same address the hub uses)
are set.

- Each kind of person logs in and reaches exactly the services meant for them (the same
  matrix as tests/test_service_access.py on the local campus).
- A student starts their course server and writes a file to their home on the shared claim:
  the home folder the kubelet creates must be theirs (campushub-folders), or the write fails.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import requests
import yaml

from campushub.demo.login import login
from tests.service_access import MATRIX, check_services

HUB_URL = os.environ.get("CAMPUSHUB_TEST_HUB_URL", "").rstrip("/")
IDP_URL = os.environ.get("CAMPUSHUB_TEST_IDP_URL", "").rstrip("/")
PEOPLE = Path(__file__).resolve().parent.parent / "campushub" / "demo" / "people.yaml"
START_TIMEOUT = float(os.environ.get("CAMPUSHUB_TEST_START_TIMEOUT", "600"))

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(
        not (HUB_URL and IDP_URL),
        reason="no cluster campus: set CAMPUSHUB_TEST_HUB_URL and CAMPUSHUB_TEST_IDP_URL",
    ),
]


@pytest.fixture(scope="module", autouse=True)
def people() -> None:
    """The demo people's claims, given to the cluster's identity provider."""
    for person in yaml.safe_load(PEOPLE.read_text()):
        claims = {key: value for key, value in person.items() if key not in ("sub", "role")}
        response = requests.put(f"{IDP_URL}/users/{person['sub']}", json=claims, timeout=30)
        response.raise_for_status()


def signed_in(person: str) -> requests.Session:
    session = requests.Session()
    login(session, HUB_URL, person)
    return session


@pytest.mark.parametrize("person", sorted(MATRIX))
def test_each_person_reaches_exactly_the_services_meant_for_them(person: str) -> None:
    check_services(HUB_URL, signed_in(person), person)


def test_a_student_writes_a_file_to_their_home_on_the_first_day() -> None:
    session = signed_in("ada")
    # Start ada's data8 server (no form: a course server has nothing to choose).
    session.get(f"{HUB_URL}/hub/spawn/ada/data8", timeout=60)
    base = f"{HUB_URL}/user/ada/data8"
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        # Until the server is up, the hub answers with its spawn-pending page.
        page = session.get(f"{base}/lab", timeout=60)
        if page.status_code == 200 and page.url.startswith(f"{base}/lab"):
            break
        assert time.monotonic() < deadline, f"ada's data8 server did not start: {page.url}"
        time.sleep(5)  # polling interval while the pod is scheduled and pulls its image
    xsrf = session.cookies.get("_xsrf", path="/user/ada/data8/") or session.cookies.get("_xsrf")
    assert xsrf, "the server set no _xsrf cookie"
    written = session.put(
        f"{base}/api/contents/first-day.txt",
        json={"type": "file", "format": "text", "content": "hello from the first day\n"},
        headers={"X-XSRFToken": xsrf},
        timeout=60,
    )
    # 403/500 with "Permission denied" here means the home folder is root's.
    assert written.status_code in (200, 201), written.text[:500]
    read = session.get(f"{base}/api/contents/first-day.txt", timeout=60)
    assert read.status_code == 200
    assert read.json()["content"] == "hello from the first day\n"
    # Stop the server (its record and the file stay).
    session.delete(
        f"{HUB_URL}/hub/api/users/ada/servers/data8",
        headers={"X-XSRFToken": session.cookies.get("_xsrf", path="/hub/") or ""},
        timeout=60,
    )
