"""Fixtures that start the real parts of a campus, once per test module, on free ports.

- ``identity_provider``: oidc-provider-mock, a real OpenID Connect provider, with the demo people.
- ``git_server``: campushub's git smart-HTTP server (``git http-backend``) with the demo course
  repository.
- ``hub``: JupyterHub from the reference ``jupyterhub_config.py`` (plus a test API token), with
  real configurable-http-proxy and the local spawner.

They are the same launch functions ``campushub demo`` uses; each waits on readiness by polling
and stops everything it started.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from campushub.demo import launch
from campushub.demo.login import login

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The tests talk to 127.0.0.1 only; a proxy configured for the machine must not intercept it.
os.environ.update(launch.LOOPBACK_NO_PROXY)


# Code whose behaviour depends on the JupyterHub version set: the hub and its plugins, the
# Kubernetes client, and campushub's adapters of them.
HUB_VERSION_CODE = (
    "jupyterhub",
    "oauthenticator",
    "kubespawner",
    "kubernetes_asyncio",
    "campushub.auth",
    "campushub.spawner",
    "campushub.kube",
    "campushub.reach",
    "campushub.pages",
    "campushub.services",
    "campushub.demo",
)
HUB_FIXTURES = {"hub", "browser", "identity_provider"}


def _touches_hub_code(module: types.ModuleType) -> bool:
    for value in vars(module).values():
        name = value.__name__ if isinstance(value, types.ModuleType) else None
        name = name or getattr(value, "__module__", None)
        if isinstance(name, str) and name.startswith(HUB_VERSION_CODE):
            return True
    return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``hub_versions`` every test that starts a hub, a provider or a browser, or whose
    module uses the hub's packages; scripts/test.sh runs those again on the chart's versions.
    A module with ``NEWEST_VERSIONS_ONLY = True`` runs once (it says why)."""
    touching: dict[str, bool] = {}
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and module.__name__ not in touching:
            touching[module.__name__] = _touches_hub_code(module)
        if getattr(module, "NEWEST_VERSIONS_ONLY", False):
            continue  # the module says why it runs on the newest versions alone
        if HUB_FIXTURES & set(getattr(item, "fixturenames", ())) or (
            module is not None and touching[module.__name__]
        ):
            item.add_marker(pytest.mark.hub_versions)


@dataclass
class IdentityProvider:
    """The running development identity provider."""

    process: launch.Process

    @property
    def url(self) -> str:
        return self.process.url

    def set_claims(self, sub: str, claims: dict[str, Any]) -> None:
        """Replace what the provider says about ``sub`` (takes effect at the next login)."""
        response = requests.put(f"{self.url}/users/{sub}", json=claims, timeout=10)
        response.raise_for_status()


@dataclass
class GitServer:
    """The running git server and the bare repositories it serves."""

    process: launch.Process
    root: Path

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def demo_repo_url(self) -> str:
        return f"{self.url}{launch.DEMO_REPO_NAME}"


@dataclass
class Hub:
    """The running hub: its public URL (through the proxy) and an admin API token."""

    process: launch.Process
    settings: launch.HubSettings
    token: str
    sessions: list[requests.Session] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.settings.public_url

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the hub's REST API (``/hub/api`` + ``path``) with the test service's token."""
        headers = {"Authorization": f"token {self.token}", **kwargs.pop("headers", {})}
        return requests.request(
            method, f"{self.url}/hub/api{path}", headers=headers, timeout=30, **kwargs
        )

    def login(self, sub: str, next_url: str = "/hub/home") -> requests.Session:
        """A browser-like session logged in as ``sub`` through the identity provider."""
        session = requests.Session()
        self.sessions.append(session)
        login(session, self.url, sub, next_url)
        return session

    def wait_for_server(self, name: str, server: str = "", timeout: float = 90.0) -> dict:
        """Poll the REST API until the user's server is ready; return its model."""
        deadline = time.monotonic() + timeout
        model: dict = {}
        while time.monotonic() < deadline:
            model = self.api("GET", f"/users/{name}").json()
            state = model.get("servers", {}).get(server, {})
            if state.get("ready"):
                return state
            time.sleep(0.25)  # polling interval
        raise AssertionError(
            f"server {name}/{server} not ready within {timeout} s: {model}\n"
            f"hub log: {self.process.log_path}\n{self.process.log_tail()}"
        )


@pytest.fixture(scope="module")
def campus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("campus")


@pytest.fixture(scope="module")
def identity_provider(campus_dir: Path) -> Iterator[IdentityProvider]:
    process = launch.start_identity_provider(
        launch.free_port(), launch.demo_people(), campus_dir / "logs"
    )
    running = IdentityProvider(process)
    yield running
    running.process.stop()  # the one running now: a test may have restarted it


@pytest.fixture(scope="module")
def git_server(campus_dir: Path) -> Iterator[GitServer]:
    root = campus_dir / "git"
    launch.make_course_repo(root)
    process = launch.start_git_server(launch.free_port(), root, campus_dir / "logs")
    running = GitServer(process, root)
    yield running
    running.process.stop()  # the one running now: a test may have restarted it


TEST_SERVICE = "campushub-tests"
TEST_SCOPES = (
    "admin:users",
    "admin:servers",
    "admin:groups",
    "read:roles",
    "proxy",
    "tokens",
    "access:servers",
    "read:shares",
)


@pytest.fixture(scope="module")
def hub_options() -> dict[str, Any]:
    """Extra HubSettings for a module's hub; a module overrides this fixture to change them."""
    return {}


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A real PostgreSQL server (tests/postgres.py), started for the first test that asks."""
    from tests.postgres import server_binaries, start_postgres

    if server_binaries() is None:
        pytest.skip("no PostgreSQL server here (scripts/setup.sh test installs it as root)")
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def databases(request: pytest.FixtureRequest) -> dict[str, str]:
    """Database URLs for the module's hub and its services (CAMPUSHUB_DB_URL,
    CAMPUSHUB_LINKS_DB_URL, CAMPUSHUB_SCALER_DB_URL): none, so SQLite files and the scaler's
    files in the state folder. A module overrides this fixture to use PostgreSQL."""
    return {}


@pytest.fixture(scope="module")
def personal_servers() -> bool:
    """Whether the module's hub gives personal servers (the catalog's
    ``defaults.personal_server``; the demo catalog leaves it off). A module overrides this
    fixture to test them."""
    return False


@pytest.fixture(scope="module")
def hub(
    campus_dir: Path,
    identity_provider: IdentityProvider,
    git_server: GitServer,
    hub_options: dict[str, Any],
    personal_servers: bool,
    databases: dict[str, str],
) -> Iterator[Hub]:
    catalog = launch.write_catalog(campus_dir / "courses.yaml", git_server.url)
    if personal_servers:
        text = catalog.read_text()
        assert "\ndefaults:\n" in text
        catalog.write_text(
            text.replace("\ndefaults:\n", "\ndefaults:\n  personal_server: true\n", 1)
        )
    token = secrets.token_hex(24)
    # The reference configuration, plus one service whose token the tests use for the API.
    config = launch.write_hub_config(
        campus_dir / "jupyterhub_config.py",
        TEST_SERVICE,
        token,
        TEST_SCOPES,
    )
    public_port, hub_port, proxy_api_port = launch.free_ports(3)
    options = dict(hub_options)
    if databases:
        options["extra_env"] = {**databases, **options.get("extra_env", {})}
    settings = launch.HubSettings(
        state_dir=campus_dir / "hub",
        catalog=catalog,
        issuer=identity_provider.url,
        public_port=public_port,
        hub_port=hub_port,
        proxy_api_port=proxy_api_port,
        **options,
    )
    process = launch.start_hub(settings, campus_dir / "logs", config=config)
    running = Hub(process, settings, token)
    yield running
    for session in running.sessions:
        session.close()
    running.process.stop()  # the hub now running: a test may have restarted it


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian chromium driven by Playwright (no browser download)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make test installs it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


DOCS_DIR = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture(scope="module")
def shots(hub) -> Any:
    """``shots(page, guide, name)``: a screenshot for ``docs/<guide>/<name>.png`` (the
    guides' pictures, with ``CAMPUSHUB_SCREENSHOTS=1``: ``bash scripts/screenshots.sh``), else
    in the module hub's state folder."""

    def take(page: Any, guide: str, name: str, full_page: bool = False) -> Path:
        folder = (
            DOCS_DIR / guide
            if os.environ.get("CAMPUSHUB_SCREENSHOTS")
            else hub.settings.state_dir / "screenshots" / guide
        )
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        assert path.stat().st_size > 5_000, f"{path} looks empty"
        return path

    return take
