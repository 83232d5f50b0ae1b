"""The ``campushub`` command: ``check`` before a deploy, and its help."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from campushub.cli import main
from campushub.demo.launch import DEMO_CATALOG

BAD_CATALOGS = Path(__file__).parent / "bad_catalogs"


def test_check_prints_a_summary_of_a_good_catalog_and_exits_0(capsys):
    assert main(["check", str(DEMO_CATALOG)]) == 0
    out = capsys.readouterr().out
    assert f"{DEMO_CATALOG}: OK" in out
    assert "term      2026-27" in out
    for slug in ("data8", "stat20", "physics77"):
        assert slug in out
    assert "standard (8 CPU/64Gi nodes, 1-80)" in out
    assert len(out.splitlines()) <= 24  # one screen


def test_check_prints_every_problem_with_file_and_line_and_exits_1(capsys):
    path = BAD_CATALOGS / "many_problems.yaml"
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    expected = [
        line.removeprefix("# expect: ")
        for line in path.read_text().splitlines()
        if line.startswith("# expect: ")
    ]
    assert out[0].startswith(f"{path}: {len(expected)} problems")
    problems = out[1:]
    assert len(problems) == len(expected)
    for text in expected:
        assert any(line.endswith(text) for line in problems), text
    # file:line: place: message, the form editors and CI logs link to
    assert all(re.match(rf"{re.escape(str(path))}:\d+: \S", line) for line in problems)


def test_check_of_a_missing_file_says_it_cannot_read_it(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope.yaml")]) == 1
    out = capsys.readouterr().out
    assert "cannot read the catalog" in out
    assert "No such file or directory" in out


def test_help_explains_the_commands():
    result = subprocess.run(
        [sys.executable, "-m", "campushub.cli", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "check" in result.stdout and "demo" in result.stdout
    assert "validate a course catalog" in result.stdout
    assert "start the local campus" in result.stdout


def test_command_without_arguments_is_refused_with_usage():
    result = subprocess.run([sys.executable, "-m", "campushub.cli"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "usage: campushub" in result.stderr
