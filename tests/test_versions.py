"""The versions the tests run on, and the one place the chart's versions are named.

``images/hub/chart-requirements.txt`` holds the Python packages of zero-to-jupyterhub's hub
image; the hub image's Dockerfile builds on that chart and checks the image against the file,
the cluster workflow installs that chart, and scripts/test.sh runs the hub's tests a second
time in a virtualenv constrained by it (setting ``CAMPUSHUB_EXPECT_VERSIONS``).
"""

from __future__ import annotations

import os
import re
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

pytestmark = pytest.mark.hub_versions

ROOT = Path(__file__).resolve().parent.parent
CHART_REQUIREMENTS = ROOT / "images" / "hub" / "chart-requirements.txt"
# The packages whose versions decide how the hub behaves.
HUB_PACKAGES = (
    "jupyterhub",
    "oauthenticator",
    "jupyterhub-kubespawner",
    "jupyterhub-idle-culler",
    "kubernetes-asyncio",
    "sqlalchemy",
    "tornado",
    "traitlets",
    "pyjwt",
)


def chart_pins() -> dict[str, str]:
    pins = {}
    for line in CHART_REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            pins[requirement.name.lower()] = str(requirement.specifier).removeprefix("==")
    return pins


def chart_version() -> str:
    match = re.search(r"^# chart: (\S+)$", CHART_REQUIREMENTS.read_text(), re.MULTILINE)
    assert match, f"{CHART_REQUIREMENTS} names no chart version"
    return match.group(1)


def test_the_chart_file_pins_every_hub_package() -> None:
    pins = chart_pins()
    for package in HUB_PACKAGES:
        assert re.fullmatch(r"\d+(\.\d+)+", pins.get(package, "")), package
    # zero-to-jupyterhub 4.3.x ships JupyterHub 5.4: campushub's supported floor.
    assert pins["jupyterhub"].startswith("5.")


def test_the_dockerfile_and_the_cluster_workflow_name_the_same_chart() -> None:
    chart = chart_version()
    dockerfile = (ROOT / "images" / "hub" / "Dockerfile").read_text()
    assert f"ARG Z2JH_VERSION={chart}\n" in dockerfile
    assert "images/hub/chart-requirements.txt" in dockerfile
    workflow = (ROOT / ".github" / "workflows" / "cluster.yml").read_text()
    assert f'CHART_VERSION: "{chart}"' in workflow


def test_setup_cfg_admits_the_chart_and_the_newest_jupyterhub() -> None:
    setup = (ROOT / "setup.cfg").read_text()
    match = re.search(r"^\s*jupyterhub(>=[^\n]+)$", setup, re.MULTILINE)
    assert match
    from packaging.specifiers import SpecifierSet

    allowed = SpecifierSet(match.group(1))
    assert chart_pins()["jupyterhub"] in allowed
    assert version("jupyterhub") in allowed


@pytest.mark.skipif(
    not os.environ.get("CAMPUSHUB_EXPECT_VERSIONS"),
    reason="the newest versions: scripts/test.sh's second run checks the chart's",
)
def test_this_run_has_exactly_the_charts_versions() -> None:
    pins = chart_pins()
    found = {package: version(package) for package in HUB_PACKAGES}
    assert found == {package: pins[package] for package in HUB_PACKAGES}


def test_the_image_check_accepts_the_charts_versions_and_names_what_differs() -> None:
    import subprocess
    import sys

    check = ROOT / "images" / "hub" / "check_chart.py"
    result = subprocess.run(
        [sys.executable, str(check), chart_version(), str(CHART_REQUIREMENTS)],
        capture_output=True,
        text=True,
        check=False,
    )
    if version("jupyterhub") == chart_pins()["jupyterhub"]:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode == 1
        assert f"jupyterhub {version('jupyterhub')} (file: {chart_pins()['jupyterhub']})" in (
            result.stderr
        )
    other = subprocess.run(
        [sys.executable, str(check), "0.0.1", str(CHART_REQUIREMENTS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert other.returncode == 1
    assert "does not describe zero-to-jupyterhub 0.0.1" in other.stderr


def test_database_urls_shown_anywhere_use_a_driver_the_hub_image_has() -> None:
    # SQLAlchemy's postgresql:// means psycopg2; postgresql+<driver>:// names another driver.
    pins = chart_pins()
    texts = [
        path
        for folder in ("campushub", "docs", ".github")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".py", ".md", ".yaml", ".yml"} and "_build" not in path.parts
    ]
    texts += [ROOT / "README.md", ROOT / "jupyterhub_config.py"]
    drivers = {"psycopg2": "psycopg2", "psycopg": "psycopg", "asyncpg": "asyncpg"}
    seen = 0
    for path in texts:
        for match in re.finditer(r"postgresql(?:\+(\w+))?://", path.read_text()):
            seen += 1
            driver = drivers.get(match.group(1) or "psycopg2", match.group(1))
            assert driver in pins, f"{path.relative_to(ROOT)}: {match.group(0)} needs {driver}"
    assert seen, "no database URL found: the test reads nothing"
