"""The documentation builds cleanly and stays true to the catalog code it describes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from campushub.catalog import SCHEMA, CatalogError, parse_catalog
from campushub.cli import check
from campushub.yamlsource import read_yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CATALOG_PAGE = DOCS / "reference" / "catalog.md"


def fenced_blocks(text: str, opener: str) -> list[str]:
    """The bodies of the fenced code blocks whose opening line is ``opener``."""
    pattern = re.compile(r"^```" + re.escape(opener) + r"\n(.*?)^```$", re.MULTILINE | re.DOTALL)
    return [match.group(1) for match in pattern.finditer(text)]


def test_docs_build_without_warnings(tmp_path: Path) -> None:
    command = [
        *(sys.executable, "-m", "sphinx"),
        *("-W", "--keep-going", "-q", "-b", "html"),
        *("-d", str(tmp_path / "doctrees")),
        *(str(DOCS), str(tmp_path / "html")),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"sphinx-build failed ({result.returncode}):\n{output}"
    assert (tmp_path / "html" / "reference" / "catalog.html").exists()


@pytest.mark.parametrize("section", sorted(SCHEMA))
def test_catalog_reference_names_every_key(section: str) -> None:
    page = CATALOG_PAGE.read_text(encoding="utf-8")
    required, optional = SCHEMA[section]
    missing = sorted(key for key in required | optional if f"`{key}`" not in page)
    assert not missing, f"docs/reference/catalog.md does not describe {section} keys {missing}"


def test_every_key_example_is_a_valid_catalog() -> None:
    page = CATALOG_PAGE.read_text(encoding="utf-8")
    examples = [block for block in fenced_blocks(page, "yaml") if block.startswith("term:")]
    assert len(examples) == 1, "expected one complete catalog example in a ```yaml block"
    catalog = parse_catalog(examples[0], "every-key example")
    assert len(catalog.courses) >= 3
    used: set[str] = set()
    pending = [read_yaml(examples[0]).data]
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
