"""The documentation builds cleanly and stays true to the code it describes: the catalog, the
configuration settings, the sign-on examples and the course servers' pods."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kubespawner.spawner
import pytest
import yaml
from kubernetes_asyncio.client import ApiClient
from traitlets import HasTraits, TraitType
from traitlets.config import Config

from campushub.auth import CampusAuthenticator
from campushub.catalog import SCHEMA, Catalog, CatalogError, parse_catalog
from campushub.cli import check
from campushub.memberships import ROLE_GROUP_SUFFIX, staff_roles
from campushub.spawner import CourseKubeSpawner
from campushub.yamlsource import read_yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CATALOG_PAGE = DOCS / "reference" / "catalog.md"
SIGN_ON_PAGE = DOCS / "operators" / "authentication.md"
COURSE_SERVERS_PAGE = DOCS / "operators" / "course-servers.md"


def fenced_blocks(text: str, opener: str) -> list[str]:
    """The bodies of the fenced code blocks whose opening line is ``opener``."""
    pattern = re.compile(r"^```" + re.escape(opener) + r"\n(.*?)^```$", re.MULTILINE | re.DOTALL)
    return [match.group(1) for match in pattern.finditer(text)]


@dataclass(frozen=True)
class DocsBuild:
    """One Sphinx build of docs/ with warnings as errors, shared by this module's tests."""

    returncode: int
    output: str
    html: Path

    def page(self, name: str) -> str:
        """The built HTML of ``name`` (such as ``reference/configuration``); the build must
        have succeeded."""
        assert self.returncode == 0, f"sphinx-build failed ({self.returncode}):\n{self.output}"
        return (self.html / f"{name}.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def docs_build(tmp_path_factory: pytest.TempPathFactory) -> DocsBuild:
    out = tmp_path_factory.mktemp("docs")
    command = [
        *(sys.executable, "-m", "sphinx"),
        *("-W", "--keep-going", "-q", "-b", "html"),
        *("-d", str(out / "doctrees")),
        *(str(DOCS), str(out / "html")),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    return DocsBuild(result.returncode, result.stdout + result.stderr, out / "html")


def test_docs_build_without_warnings(docs_build: DocsBuild) -> None:
    assert docs_build.returncode == 0, (
        f"sphinx-build failed ({docs_build.returncode}):\n{docs_build.output}"
    )
    for page in (
        "reference/catalog",
        "reference/configuration",
        "operators/authentication",
        "operators/course-servers",
    ):
        assert (docs_build.html / f"{page}.html").exists(), f"{page} was not built"


class ElementsById(HTMLParser):
    """The tag and text of every element of a page that carries an id."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: dict[str, tuple[str, str]] = {}
        self._open: list[tuple[str, str | None, list[str]]] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"br", "hr", "img", "input", "link", "meta", "source", "wbr"}:
            return
        self._open.append((tag, dict(attrs).get("id"), []))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            open_tag, element_id, text = self._open.pop()
            if element_id:
                self.elements[element_id] = (open_tag, "".join(text).strip())
            if self._open:
                self._open[-1][2].extend(text)
            if open_tag == tag:
                return

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][2].append(data)


def campushub_config_traits(cls: type[HasTraits]) -> set[str]:
    """Config traits defined by ``cls`` or by the campushub classes it inherits from."""
    return {
        name
        for klass in cls.__mro__
        if klass.__module__.split(".")[0] == "campushub"
        for name, value in vars(klass).items()
        if isinstance(value, TraitType) and value.metadata.get("config")
    }


def test_configuration_reference_lists_every_authenticator_setting(
    docs_build: DocsBuild,
) -> None:
    elements = ElementsById(docs_build.page("reference/configuration")).elements
    settings = sorted(CampusAuthenticator.class_own_traits(config=True))
    assert settings, "CampusAuthenticator has no config traits to check"
    missing = [
        name
        for name in settings
        if elements.get(f"campushub.auth.CampusAuthenticator.{name}") != ("dt", name)
    ]
    assert not missing, f"the configuration reference lacks CampusAuthenticator.{missing}"


@pytest.mark.parametrize(
    "class_path",
    [
        "campushub.kube.CourseKubeSpawner",
        "campushub.spawner.CourseLocalSpawner",
        "campushub.services.scaler.app.ScalerApp",
        "campushub.services.links.app.LinksApp",
        "campushub.services.grading.app.GradingApp",
    ],
)
def test_configuration_reference_lists_every_spawner_setting(
    docs_build: DocsBuild, class_path: str
) -> None:
    module_name, _, class_name = class_path.rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name)
    elements = ElementsById(docs_build.page("reference/configuration")).elements
    missing = [
        name
        for name in sorted(campushub_config_traits(cls))
        if elements.get(f"{class_path}.{name}") != ("dt", name)
    ]
    assert not missing, f"the configuration reference lacks {class_name}.{missing}"


def test_sign_on_page_links_every_setting_it_names(docs_build: DocsBuild) -> None:
    page = docs_build.page("operators/authentication")
    named = re.findall(r"<code class=\"xref py py-attr[^\"]*\">", page)
    linked = re.findall(r"<a [^>]*>\s*<code class=\"xref py py-attr[^\"]*\">", page)
    assert named, "the sign-on page links no setting"
    assert len(linked) == len(named), "a {py:attr} role on the sign-on page resolves to nothing"


def test_sign_on_examples_set_only_real_settings() -> None:
    page = SIGN_ON_PAGE.read_text(encoding="utf-8")
    examples = fenced_blocks(page, "python")
    assert len(examples) >= 5
    settings = CampusAuthenticator.class_traits(config=True)
    for example in examples:
        config = Config()
        exec(compile(example, "authentication.md", "exec"), {"c": config})
        assert set(config) <= {"CampusAuthenticator"}, example
        unknown = sorted(set(config.get("CampusAuthenticator", {})) - set(settings))
        assert not unknown, f"not CampusAuthenticator settings: {unknown}\n{example}"


def test_sign_on_examples_use_only_documented_environment_variables() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    page = SIGN_ON_PAGE.read_text(encoding="utf-8")
    used = set(re.findall(r"\b(CAMPUSHUB_[A-Z_]+|JUPYTERHUB_[A-Z_]+)", page))
    assert used
    undocumented = sorted(name for name in used if f"`{name}`" not in readme)
    assert not undocumented, f"the README's table does not list {undocumented}"


@pytest.mark.parametrize("section", sorted(SCHEMA))
def test_catalog_reference_names_every_key(section: str) -> None:
    page = CATALOG_PAGE.read_text(encoding="utf-8")
    required, optional = SCHEMA[section]
    missing = sorted(key for key in required | optional if f"`{key}`" not in page)
    assert not missing, f"docs/reference/catalog.md does not describe {section} keys {missing}"


def every_key_example() -> str:
    """The catalog reference's complete example catalog, which uses every key."""
    page = CATALOG_PAGE.read_text(encoding="utf-8")
    examples = [block for block in fenced_blocks(page, "yaml") if block.startswith("term:")]
    assert len(examples) == 1, "expected one complete catalog example in a ```yaml block"
    return examples[0]


def test_every_key_example_is_a_valid_catalog() -> None:
    example = every_key_example()
    catalog = parse_catalog(example, "every-key example")
    assert len(catalog.courses) >= 3
    used: set[str] = set()
    pending = [read_yaml(example).data]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            used.update(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    every_key = set().union(*(required | optional for required, optional in SCHEMA.values()))
    assert not every_key - used, f"the example does not use {sorted(every_key - used)}"


def shown_output(page: str, first_line: str) -> str:
    """The one ```text block of ``page`` that starts with ``first_line``."""
    (block,) = [b for b in fenced_blocks(page, "text") if b.startswith(first_line)]
    return block


def test_check_output_shown_for_the_demo_is_what_check_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    page = CATALOG_PAGE.read_text(encoding="utf-8")
    demo = (ROOT / "campushub" / "demo" / "courses.yaml").read_text(encoding="utf-8")
    (tmp_path / "courses.yaml").write_text(demo, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert check("courses.yaml") == 0
    assert capsys.readouterr().out == shown_output(page, "courses.yaml: OK")


def test_problem_example_shows_what_check_and_the_hub_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    page = CATALOG_PAGE.read_text(encoding="utf-8")
    (bad_catalog,) = [b for b in fenced_blocks(page, "{code-block} yaml") if "imgae" in b]
    bad_catalog = bad_catalog.removeprefix(":linenos:\n\n")
    (tmp_path / "courses.yaml").write_text(bad_catalog, encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    assert check("courses.yaml") == 1
    assert capsys.readouterr().out == shown_output(page, "courses.yaml: 9 problems;")

    with pytest.raises(CatalogError) as raised:
        parse_catalog(bad_catalog, "courses.yaml")
    assert f"{raised.value}\n" == shown_output(page, "courses.yaml: 9 problem(s)")


def test_sign_on_page_shows_the_staff_roles_campushub_defines() -> None:
    page = SIGN_ON_PAGE.read_text(encoding="utf-8")
    demo = parse_catalog(
        (ROOT / "campushub" / "demo" / "courses.yaml").read_text(encoding="utf-8"), "demo"
    )
    roles = [role for role in staff_roles(demo) if role["name"].startswith("course-data8-")]
    assert len(roles) == 2
    for role in roles:
        name = role["name"].replace("data8", "<slug>")
        section = page.split(f"- `{name}`", 1)[1].split("\n- ", 1)[0]
        for scope in role["scopes"]:
            shown = scope.replace("course:data8", "course:<slug>").replace(
                "grader-data8", "grader-<slug>"
            )
            assert f"`{shown}`" in section, f"{name}: the sign-on page does not show {shown}"


def test_course_servers_page_names_every_course_setting() -> None:
    page = COURSE_SERVERS_PAGE.read_text(encoding="utf-8")
    required, optional = SCHEMA["course"]
    missing = sorted(key for key in required | optional if f"`{key}`" not in page)
    assert not missing, f"docs/operators/course-servers.md does not describe course keys {missing}"


# The first line of each pod example on the course servers page: whose server it is and when.
POD_EXAMPLE = re.compile(
    r"# (?P<user>[a-z0-9]+), an? (?P<role>student|ta|instructor) of (?P<course>[a-z0-9-]+),"
    r" on (?P<day>\d{4}-\d\d-\d\d) at (?P<at>\d\d:\d\d)\n"
)


async def pod_manifest(
    catalog: Catalog, user: str, role: str, course: str, now: datetime
) -> dict[str, Any]:
    """The pod KubeSpawner's own code builds for ``user``'s server ``course``, as the API
    would receive it (camelCase keys, no empty fields)."""
    groups = [f"course:{course}", f"course:{course}:{ROLE_GROUP_SUFFIX[role]}"]
    spawner = CourseKubeSpawner(
        _mock=True,
        user=SimpleNamespace(
            name=user,
            id=1,
            url=f"/user/{user}/",
            groups=[SimpleNamespace(name=group) for group in groups],
        ),
        orm_spawner=SimpleNamespace(name=course, server=None, state=None, user_options=None),
        hub=SimpleNamespace(
            public_host="",
            url="http://hub:8081/hub/",
            base_url="/hub/",
            api_url="http://hub:8081/hub/api",
        ),
        catalog=catalog,
    )
    spawner.user_options = {}
    spawner.apply_plan(spawner.server_plan(now))
    pod = await spawner.get_pod_manifest()
    async with ApiClient() as api:
        manifest: dict[str, Any] = api.sanitize_for_serialization(pod)
    return manifest


def shown_in(shown: Any, real: Any) -> bool:
    """True when ``shown`` is part of ``real``: every key shown has the value shown (itself
    compared this way), and every list item shown matches some item of the real list."""
    if isinstance(shown, dict):
        return isinstance(real, dict) and all(
            key in real and shown_in(value, real[key]) for key, value in shown.items()
        )
    if isinstance(shown, list):
        return isinstance(real, list) and all(
            any(shown_in(item, candidate) for candidate in real) for item in shown
        )
    return type(shown) is type(real) and shown == real


async def test_pod_examples_are_what_kubespawner_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    # No cluster: KubeSpawner would load a kubeconfig and make an API client as it is made.
    monkeypatch.setattr(kubespawner.spawner, "load_config", lambda **_: None)
    monkeypatch.setattr(kubespawner.spawner, "shared_client", lambda *_, **__: None)
    catalog = parse_catalog(every_key_example(), "every-key example")
    page = COURSE_SERVERS_PAGE.read_text(encoding="utf-8")
    examples = [block for block in fenced_blocks(page, "yaml") if POD_EXAMPLE.match(block)]
    assert len(examples) >= 3, "expected the course servers page's pod examples"
    for example in examples:
        who = POD_EXAMPLE.match(example)
        assert who is not None
        now = datetime.fromisoformat(f"{who['day']}T{who['at']}").replace(tzinfo=catalog.timezone)
        real = await pod_manifest(catalog, who["user"], who["role"], who["course"], now)
        shown = yaml.safe_load(example)
        assert shown_in(shown, real), f"not what KubeSpawner builds:\n{example}\n{real}"
        # Where an example lists volumes or mounts, it lists all of them.
        shown_spec = shown.get("spec", {})
        shown_container = (shown_spec.get("containers") or [{}])[0]
        for listed, built in (
            (shown_spec.get("volumes"), real["spec"]["volumes"]),
            (shown_container.get("volumeMounts"), real["spec"]["containers"][0]["volumeMounts"]),
        ):
            assert listed is None or len(listed) == len(built), f"not every volume:\n{example}"
