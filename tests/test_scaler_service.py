"""The scaler service, started by the real hub from the reference configuration, applying to
the Kubernetes double (tests/k8s_double.py), reading a calendar feed over http from a feed
server on loopback (tests/feed_server.py) at an address with a secret in its path.

It patches the demo pool's placeholder to the planned target; the status page shows pools,
events and the chart (in a real browser); administrators act, course staff read, students are
turned away; a broken feed, a catalog with problems and API errors are shown while the last
good plan stays in force and the service keeps running.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from campushub.catalog import load_catalog
from campushub.demo import launch
from campushub.learning import History, observe
from campushub.manifests import PLACEHOLDER_LABEL, placeholder
from campushub.schedule import Occurrence
from tests.k8s_double import Fault, KubeDouble, Node, Pod

NAMESPACE = "campus"
PLACEHOLDER = "standard-placeholder"  # the demo catalog's standard pool
COUNT = 7


def feed_text(count: int = COUNT) -> str:
    now = datetime.now(UTC)
    start, end = now - timedelta(hours=1), now + timedelta(hours=3)
    stamp = "%Y%m%dT%H%M%SZ"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//campushub tests//EN\r\n"
        "BEGIN:VEVENT\r\nUID:review\r\nSUMMARY:Review session\r\n"
        f"DTSTART:{start.strftime(stamp)}\r\nDTEND:{end.strftime(stamp)}\r\n"
        f"DESCRIPTION:<p>standard: {count}</p>\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:typo\r\nSUMMARY:Typo event\r\n"
        f"DTSTART:{start.strftime(stamp)}\r\nDTEND:{end.strftime(stamp)}\r\n"
        "DESCRIPTION:standrad: 4\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )


def demo_template() -> dict[str, Any]:
    """The demo pool's PodTemplate as `campushub manifests` makes it."""
    catalog = load_catalog(Path(launch.__file__).with_name("courses.yaml"))
    made = placeholder(catalog, catalog.pools["standard"], NAMESPACE, "jupyterhub")
    assert made["kind"] == "PodTemplate"
    return made["template"]


def placeholder_pods(double: KubeDouble) -> int:
    return len(double.pods_labelled(NAMESPACE, **{PLACEHOLDER_LABEL: PLACEHOLDER}))


@pytest.fixture(scope="module")
def double() -> Iterator[KubeDouble]:
    running = KubeDouble(launch.free_port()).start()
    running.add_template(NAMESPACE, PLACEHOLDER, demo_template())
    yield running
    running.stop()


SECRET = "private-8d1e0b5a"  # the secret part of the calendar's address


@pytest.fixture(scope="module")
def feed_file(campus_dir: Path) -> Path:
    path = campus_dir / "feeds" / SECRET / "scaling.ics"
    path.parent.mkdir(parents=True)
    path.write_text(feed_text())
    return path


@pytest.fixture(scope="module")
def feed_url(campus_dir: Path, feed_file: Path) -> Iterator[str]:
    port = launch.free_port()
    server = launch.start_process(
        "feed-server",
        [sys.executable, "-m", "tests.feed_server", str(campus_dir / "feeds"), str(port)],
        f"http://127.0.0.1:{port}/{SECRET}/scaling.ics",
        campus_dir / "logs",
        cwd=Path(__file__).parent.parent,
    )
    yield f"http://127.0.0.1:{port}/{SECRET}/scaling.ics"
    server.stop()


LEARNED = "data8 weekly mon/wed/fri 10:00"  # the demo's data8 lecture
LAB = "physics77 weekly tue 09:00"  # the demo's physics77 lab, in the same pool


def saved_history() -> dict[str, Any]:
    """What an earlier run of the scaler saved: three data8 lectures, a physics77 lab whose
    students came later than data8's, and one meeting that cannot be read (a hand edit gone
    wrong)."""
    history = History()
    occurrence = Occurrence(
        "data8",
        "standard",
        datetime(2026, 11, 30, 18, tzinfo=UTC),
        datetime(2026, 11, 30, 18, 50, tzinfo=UTC),
        800,
        False,
        LEARNED,
    )
    for week in range(3):
        offsets = [-30 * 60 + 36 * 60 * n / 699 for n in range(700)]  # -30 to +6 minutes
        starts = occurrence.starts - timedelta(weeks=week)
        history.record(occurrence, observe(starts, 1000, 700 + week, offsets))
    lab = Occurrence(
        "physics77",
        "standard",
        datetime(2026, 12, 1, 17, tzinfo=UTC),
        datetime(2026, 12, 1, 19, tzinfo=UTC),
        120,
        False,
        LAB,
    )
    offsets = [-5 * 60 + 10 * 60 * n / 39 for n in range(40)]  # -5 to +5 minutes
    history.record(lab, observe(lab.starts, 120, 40, offsets))
    saved = history.to_json()
    saved["meetings"]["stat20 weekly tue/thu 14:00"] = {"course": "stat20", "seen": "many"}
    return saved


@pytest.fixture(scope="module")
def hub_options(campus_dir: Path, double: KubeDouble, feed_url: str) -> dict[str, Any]:
    kubeconfig = double.kubeconfig(campus_dir / "kubeconfig", NAMESPACE)
    state = campus_dir / "hub" / "scaler"
    state.mkdir(parents=True, exist_ok=True)
    (state / "history.json").write_text(json.dumps(saved_history()))
    return {
        "extra_env": {
            "CAMPUSHUB_SCALER_DRY_RUN": "0",
            "KUBECONFIG": str(kubeconfig),
            "CAMPUSHUB_SCALER_NAMESPACE": NAMESPACE,
            "CAMPUSHUB_SCALER_FEEDS": feed_url,
            "CAMPUSHUB_SCALER_INTERVAL": "1",
        }
    }


def poll(
    check: Callable[[], Any], timeout: float, what: str, show: Callable[[], Any] | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)  # polling interval
    if show is not None:
        last = show()
    raise AssertionError(f"{what} within {timeout} s (last: {last!r})")


@pytest.fixture(scope="module")
def admin(hub) -> requests.Session:
    return hub.login("dana", "/services/scaler/")


def xsrf(session: requests.Session) -> str:
    """The scaler's own XSRF cookie (the hub and other services set theirs too)."""
    return next(c.value for c in session.cookies if c.name == "_xsrf" and "scaler" in c.path)


def plan(session: requests.Session, hub, hours: int = 24) -> dict[str, Any]:
    response = session.get(f"{hub.url}/services/scaler/api/plan?hours={hours}", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_it_patches_the_placeholder_to_the_planned_target(hub, double, admin) -> None:
    # The feed asks for at least 7; a lecture running now could ask for more.
    target = poll(
        lambda: (
            plan(admin, hub)["pools"]["standard"]["target"]["requested"] == COUNT
            and plan(admin, hub)["pools"]["standard"]["target"]["replicas"]
        ),
        60,
        "a plan with the feed's request",
    )
    assert target >= COUNT
    poll(lambda: placeholder_pods(double) == target, 30, f"{target} placeholder pods")
    [made, *_] = double.pods_labelled(NAMESPACE, **{PLACEHOLDER_LABEL: PLACEHOLDER})
    assert made.spec is not None
    assert made.spec["priorityClassName"] == "jupyterhub-campushub-placeholder"
    assert made.name.startswith(f"{PLACEHOLDER}-") and made.node == ""  # pending: no scheduler
    body = plan(admin, hub)
    standard = body["pools"]["standard"]
    assert body["dry_run"] is False
    assert standard["target"]["requested"] == COUNT
    assert standard["current"] == target  # after the last round's apply
    assert standard["placeholder"] == {
        "kind": "Pods",
        "name": PLACEHOLDER,
        "namespace": NAMESPACE,
    }
    assert (standard["min"], standard["max"], standard["unit"]) == (1, 80, "node")
    assert standard["steps"][0]["replicas"] == target
    # The bad line of the other event is listed, not fatal.
    assert body["skipped"] == [
        {
            "feed": str(Path(body["feeds"][0]["source"])),
            "event": body["skipped"][0]["event"],
            "reason": "standrad is not a pool of the catalog (pools: standard)",
            "count": 1,
        }
    ]
    assert body["skipped"][0]["event"].startswith("Typo event (")
    # The feed is shown by a label: its host and a hash, never its (secret) address.
    assert body["feeds"][0]["source"].startswith("127.0.0.1:")
    assert SECRET not in str(body)
    # Unchanged rounds read the scale but do not patch it again.
    double.clear_log()
    time.sleep(3)
    methods = {request.method for request in double.requests()}
    assert methods == {"GET"}


def test_the_plan_api_checks_hours(hub, admin) -> None:
    week = plan(admin, hub, 168)
    assert week["hours"] == 168
    moments = [step["at"] for step in week["pools"]["standard"]["steps"]]
    assert moments == sorted(moments)
    for bad in ("0", "-1", "abc", "100000", "1.5", "٣", "24&hours=1000"):
        response = admin.get(f"{hub.url}/services/scaler/api/plan", params={"hours": bad})
        assert response.status_code == 400, bad
        assert "hours must be a whole number from 1 to 336" in response.json()["message"]


def test_who_may_see_it(hub) -> None:
    admin_page = hub.login("dana", "/services/scaler/").get(f"{hub.url}/services/scaler/")
    assert admin_page.status_code == 200
    assert "Read the calendars again and plan now" in admin_page.text
    assert 'data-pool="standard"' in admin_page.text

    ta = hub.login("tom", "/services/scaler/")
    ta_page = ta.get(f"{hub.url}/services/scaler/")
    assert ta_page.status_code == 200
    assert "Read-only" in ta_page.text
    assert "Read the calendars again" not in ta_page.text
    # A TA cannot make it act.
    refused = ta.post(
        f"{hub.url}/services/scaler/round",
        data={"_xsrf": xsrf(ta)},
        allow_redirects=False,
    )
    assert refused.status_code == 403

    student = hub.login("ada", "/hub/home")
    page = student.get(f"{hub.url}/services/scaler/")
    assert page.status_code == 403
    assert "for hub administrators and, to read, course staff" in page.text
    assert student.get(f"{hub.url}/services/scaler/api/plan").status_code == 403


def test_metrics_need_a_token_and_report_the_pools(hub, double) -> None:
    assert requests.get(f"{hub.url}/services/scaler/metrics", timeout=30).status_code == 403
    token = hub.api("POST", "/users/dana/tokens", json={"note": "prometheus test"}).json()
    response = requests.get(
        f"{hub.url}/services/scaler/metrics",
        headers={"Authorization": f"token {token['token']}"},
        timeout=30,
    )
    assert response.status_code == 200
    text = response.text
    target = int(re.search(r'campushub_scaler_target_replicas\{pool="standard"\} (\d+)', text)[1])
    current = re.search(r'campushub_scaler_current_replicas\{pool="standard"\} (\d+)', text)
    assert target >= COUNT and current and int(current[1]) == target
    assert re.search(r"campushub_scaler_rounds_total \d+", text)
    assert re.search(r'campushub_scaler_feed_failing\{feed="[^"]+"\} 0\.0', text)
    assert "campushub_scaler_dry_run 0.0" in text
    ready = re.search(r'campushub_scaler_ready_replicas\{pool="standard"\} (\d+)', text)
    assert ready and int(ready[1]) <= target  # the double reports all ready unless told
    assert re.search(r'campushub_scaler_cold_nodes\{pool="standard"\} \d+', text)
    assert re.search(r'campushub_scaler_nodes_on_their_way\{pool="standard"\} \d+', text)
    assert "campushub_scaler_meetings_learned 2.0" in text  # data8's lecture, physics77's lab


def test_a_broken_feed_keeps_the_last_good_plan_and_shows_its_age(
    hub, double, admin, feed_file: Path
) -> None:
    before = plan(admin, hub)["pools"]["standard"]["target"]["replicas"]
    feed_file.write_text("<html>Sign in to your calendar</html>")
    try:
        admin.get(f"{hub.url}/services/scaler/")
        response = admin.post(f"{hub.url}/services/scaler/round", data={"_xsrf": xsrf(admin)})
        assert response.status_code == 200  # back on the status page
        assert "not an iCalendar feed" in response.text
        assert "keeping its last good events" in response.text
        body = plan(admin, hub)
        feed = body["feeds"][0]
        assert "not an iCalendar feed" in feed["error"]
        assert feed["age_seconds"] is not None and feed["age_seconds"] >= 0
        assert body["pools"]["standard"]["target"]["replicas"] == before
        assert body["pools"]["standard"]["target"]["requested"] == COUNT
        assert SECRET not in response.text and SECRET not in str(body)
    finally:
        feed_file.write_text(feed_text())


def test_a_feed_server_that_goes_away_keeps_the_last_good_plan(hub, admin, feed_file: Path) -> None:
    hidden = feed_file.with_name("moved.ics")
    feed_file.rename(hidden)  # the provider answers 404 now
    try:
        admin.get(f"{hub.url}/services/scaler/")
        response = admin.post(f"{hub.url}/services/scaler/round", data={"_xsrf": xsrf(admin)})
        feed = plan(admin, hub)["feeds"][0]
        assert "the server answered HTTP 404" in feed["error"], feed
        assert "keeping its last good events" in feed["error"]
        assert plan(admin, hub)["pools"]["standard"]["target"]["requested"] == COUNT
        assert SECRET not in response.text and SECRET not in feed["error"]
    finally:
        hidden.rename(feed_file)
    admin.post(f"{hub.url}/services/scaler/round", data={"_xsrf": xsrf(admin)})
    assert plan(admin, hub)["feeds"][0]["error"] is None


def test_a_catalog_with_problems_is_refused_and_the_last_good_kept(hub, admin) -> None:
    catalog = hub.settings.catalog
    good = catalog.read_text()
    before = plan(admin, hub)["pools"]["standard"]
    catalog.write_text(good.replace("max: 80", "max: lots"))
    try:
        body = poll(lambda: (b := plan(admin, hub))["catalog"]["error"] and b, 30, "refusal")
        assert "pools.standard.max" in body["catalog"]["error"]
        assert "keeping the last good" in body["catalog"]["error"]
        assert body["pools"]["standard"]["max"] == before["max"] == 80
        page = admin.get(f"{hub.url}/services/scaler/")
        assert "pools.standard.max" in page.text
    finally:
        catalog.write_text(good)
    poll(lambda: plan(admin, hub)["catalog"]["error"] is None, 30, "the good catalog again")


def test_api_errors_are_retried_then_shown_and_the_service_keeps_going(hub, double, admin) -> None:
    # Every call fails for a while: 4 attempts (backoff 1, 2, 4 s) to read the pool's nodes,
    # 4 to read how many placeholders are ready, then 4 to read the placeholder's scale; each
    # then gives up with an error.
    double.inject(*[Fault("*", 500)] * 12)
    # A round already under way may take some of the faults, so the three errors can show in
    # one round or across two, in any order. A round's errors in the plan last until the next
    # round (a second here), which a slow poll may miss; the status page's recent problems
    # keep each of them: wait for all three there.
    readiness = "readiness of pool standard&#39;s placeholders unknown"
    free_room = "free room of pool standard unknown, counted as none"

    def all_errors() -> str | None:
        page = admin.get(f"{hub.url}/services/scaler/").text
        problems = page[page.find("Recent problems") :]
        lines = [item for item in problems.split("<li>") if "gave up after 4 attempts" in item]
        # Each read gives up after its 4 attempts; the apply error is the one that is
        # neither the readiness nor the free room.
        applied = any(
            "answered 500" in line and readiness not in line and free_room not in line
            for line in lines
        )
        return problems if readiness in problems and free_room in problems and applied else None

    problems = poll(all_errors, 60, "an apply error, a free room error and unknown readiness")
    assert "Recent problems" in problems
    # The faults are used up: the next rounds apply again.
    poll(lambda: plan(admin, hub)["pools"]["standard"]["applied"]["error"] is None, 60, "recovery")
    # A template that disappeared is reported (no retries), and never made up: once the
    # pods the scaler would keep are gone (as preempted), it cannot make more.
    template = double.cluster.templates.pop((NAMESPACE, PLACEHOLDER))
    for pod in double.pods_labelled(NAMESPACE, **{PLACEHOLDER_LABEL: PLACEHOLDER}):
        double.remove_pod(NAMESPACE, pod.name)
    try:
        error = poll(
            lambda: plan(admin, hub)["pools"]["standard"]["applied"]["error"], 30, "not found"
        )
        assert f"PodTemplate {NAMESPACE}/{PLACEHOLDER} does not exist" in error
        assert placeholder_pods(double) == 0
    finally:
        double.add_template(NAMESPACE, PLACEHOLDER, template)


def test_enrollment_and_people_on_come_from_the_hub(hub, admin) -> None:
    hub.login("ada", "/hub/home")
    hub.login("grace", "/hub/home")
    started = hub.api("POST", "/users/ada/servers/data8")
    assert started.status_code in (201, 202), started.text
    hub.wait_for_server("ada", "data8")
    try:
        admin.get(f"{hub.url}/services/scaler/")
        admin.post(f"{hub.url}/services/scaler/round", data={"_xsrf": xsrf(admin)})
        body = poll(
            lambda: (b := plan(admin, hub))["present"]["courses"].get("data8") == 1 and b,
            30,
            "ada's data8 server counted as on",
        )
        assert body["present"]["error"] is None
        groups = hub.api("GET", "/groups/course:data8").json()["users"]
        assert body["enrollment"]["courses"]["data8"] == len(groups) >= 2
    finally:
        hub.api("DELETE", "/users/ada/servers/data8")


def test_room_free_on_warm_nodes_is_read_from_the_cluster(hub, double, admin) -> None:
    labels = {"hub.jupyter.org/pool-name": "standard"}
    images = [f"ghcr.io/campushub/{name}:2026.08" for name in ("python", "r", "julia")]
    double.add_node(Node("pool-node-1", labels, "8", "64Gi", images))
    double.add_node(Node("pool-node-2", labels, "8", "64Gi", images[:1]))  # not warm
    ada = {"hub.jupyter.org/username": "ada", "hub.jupyter.org/servername": "data8"}
    double.add_pod(
        Pod(NAMESPACE, "jupyter-ada--data8", "pool-node-1", "500m", "4Gi", annotations=ada)
    )
    try:
        rooms = poll(lambda: plan(admin, hub)["pools"]["standard"]["free_room"], 30, "free room")
        nothing_leaving = {"leaving_cpu": 0.0, "leaving_memory": 0}
        assert rooms == [
            {"node": "pool-node-1", "cpu": 7.5, "memory": 60 * 2**30, "warm": True}
            | nothing_leaving,
            {"node": "pool-node-2", "cpu": 0.0, "memory": 0, "warm": False} | nothing_leaving,
        ]
        page = admin.get(f"{hub.url}/services/scaler/")
        assert "free on 1 warm node(s): 7.5 CPU, 60Gi" in page.text
        assert "1 ready node(s) still pulling the images, running nothing" in page.text
        assert re.search(r"\d+ of \d+ placeholder\(s\) ready", page.text)
    finally:
        double.clear_nodes()


def test_a_node_booted_for_a_placeholder_that_landed_elsewhere_gets_one_waiting(
    hub, double, admin
) -> None:
    before = poll(
        lambda: (
            (n := plan(admin, hub)["pools"]["standard"]["target"]["replicas"])
            == placeholder_pods(double)
            and n
        ),
        60,
        "the placeholders made",
    )
    # A placeholder waited a minute for a node (the cluster autoscaler started booting one),
    # then took room on a node that was already there: the new node comes to nobody. The
    # placeholder asked for it cannot be made for a while (the API refuses), so the round's
    # reading stands still to be looked at.
    double.inject(*[Fault("POST", 500)] * 400)
    double.add_node(Node("pool-node-old", {"hub.jupyter.org/pool-name": "standard"}))
    double.cluster.nodes["pool-node-old"].created = time.time() - 3600
    [pod, *_] = double.pods_labelled(NAMESPACE, **{PLACEHOLDER_LABEL: PLACEHOLDER})
    pod.created = time.time() - 60
    double.bind(NAMESPACE, pod.name, "pool-node-old")
    try:
        target = poll(
            lambda: (
                (t := plan(admin, hub)["pools"]["standard"]["target"])["replicas"] == before + 1
                and "1 node(s) on their way that no placeholder waits for" in t["why"]
                and t
            ),
            60,
            "a placeholder more, for the node on its way",
            lambda: plan(admin, hub)["pools"]["standard"],
        )
        page = admin.get(f"{hub.url}/services/scaler/").text
        assert '<span class="muted coming">1 node(s) on their way that no' in page
        # Made at last, pending since the node was left to nobody: it is the one waiting for
        # the node, so the rule asks for no more (the target is held while it is not ready).
        with double.cluster.lock:
            double.cluster.faults.clear()
        poll(lambda: placeholder_pods(double) == before + 1, 30, "the placeholder made")
        time.sleep(3)  # three rounds: asked once, not again
        assert placeholder_pods(double) == before + 1
        assert plan(admin, hub)["pools"]["standard"]["target"]["replicas"] == before + 1
        assert target["replicas"] == before + 1
    finally:
        with double.cluster.lock:
            double.cluster.faults.clear()
        double.remove_pod(NAMESPACE, pod.name)
        with double.cluster.lock:
            double.cluster.nodes.pop("pool-node-old", None)


def test_the_status_page_draws_the_chart_in_a_browser(hub, browser) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{hub.url}/services/scaler/")
    page.get_by_role("button", name="dana", exact=True).click()
    page.wait_for_url(f"{hub.url}/services/scaler/")
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.on("pageerror", lambda error: messages.append(str(error)))
    page.reload()
    try:
        page.locator("#chart[data-drawn]").wait_for(timeout=30_000)
    except Exception:
        status = page.locator("#chart-status").inner_text()
        raise AssertionError(f"no chart: {status!r}; console: {messages}") from None
    assert page.locator("#chart canvas").count() == 1
    assert "standard" in page.locator("#chart .u-legend").inner_text()
    assert int(page.locator("#chart").get_attribute("data-drawn")) >= 2
    caption = page.locator("#chart-status").inner_text()
    # In the catalog's zone, as the page says its times are (the browser here runs in UTC).
    assert "Targets from" in caption and "(America/Los_Angeles)" in caption, caption
    assert "UTC" not in caption
    shots = hub.settings.state_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "scaler-status.png"), full_page=True)
    context.close()


def test_the_history_of_an_earlier_run_is_read_and_shown(hub, admin) -> None:
    page = admin.get(f"{hub.url}/services/scaler/", timeout=30)
    assert page.status_code == 200
    row = re.search(rf'<tr data-meeting="{re.escape(LEARNED)}">(.*?)</tr>', page.text, re.S)
    assert row, "the data8 lecture is not in the learned table"
    cells = row.group(1)
    assert "700 of 1000 came" in cells and "first -30 min" in cells, cells  # the latest
    # Room asked: the pool's warm-up (the demo's lead 20m less 10m) + how early the first
    # student came (30m) + a round; the pool's lead (20m) would be late.
    assert "41m before" in cells and "from this meeting" in cells, cells
    assert "start + 7m" in cells and "75% of enrolled" in cells, cells
    assert "counted from" not in cells  # no student of the pool came earlier
    # The lab's students came at most 5 minutes early: room grows from its warm-up + 6m, but
    # it counts from data8's earliest student, with room for its first student.
    row = re.search(rf'<tr data-meeting="{re.escape(LAB)}">(.*?)</tr>', page.text, re.S)
    assert row, "the physics77 lab is not in the learned table"
    cells = row.group(1)
    assert "16m before" in cells and "counted from 41m before" in cells, cells
    # The meeting that cannot be read is named, where it is, and left out.
    assert (
        "meetings[&#39;stat20 weekly tue/thu 14:00&#39;]: &#39;seen&#39; must be a list"
        in (page.text)
        or "stat20 weekly tue/thu 14:00" in page.text
    )
    assert 'data-meeting="stat20' not in page.text
    saved = json.loads((hub.settings.state_dir / "scaler" / "history.json").read_text())
    assert LEARNED in saved["meetings"]  # nothing is lost: the file is as it was
