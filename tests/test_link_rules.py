"""The links service's rules, without any server: which links may be made (hostile input
included), and where opening one goes."""

from __future__ import annotations

import subprocess
import urllib.parse

import pytest

from campushub.catalog import parse_catalog
from campushub.services.links import rules
from campushub.services.links.rules import LinkRejected, LinkTarget

CATALOG = parse_catalog(
    """
term: {name: 2026-fall, starts: 2026-08-19, ends: 2026-12-18}
timezone: America/Los_Angeles
images:
  python: {ref: "ghcr.io/campus/python:2026.08", apps: [lab, notebook, rstudio]}
  bare: {ref: "ghcr.io/campus/bare:2026.08"}
pools:
  standard: {node: {cpu: 8, memory: 64Gi}, max: 4}
defaults:
  image: python
  pool: standard
  cpu: {guarantee: 0.1, limit: 2}
  memory: {guarantee: 1Gi, limit: 1Gi}
courses:
  data8:
    title: "DATA 8: Foundations of Data Science"
    repos: ["https://github.com/data-8/", "https://git.campus.edu:8443/stat/notes.git"]
  stat20:
    title: "STAT 20 <script>alert(1)</script>"
    repos: ["https://github.com/stat-20/materials"]
  nolinks:
    title: "No repositories"
  labonly:
    title: "LAB 1"
    image: bare
    repos: ["https://github.com/data-8/"]
""",
    "test catalog",
)

GOOD = {
    "course": "data8",
    "repo": "https://github.com/data-8/materials-fa26",
    "branch": "main",
    "path": "lab/lab01/lab01.ipynb",
    "app": "lab",
}


def make(**changes: object) -> LinkTarget:
    return rules.check_link(
        CATALOG, {**GOOD, **changes}, taught=["data8", "stat20", "nolinks", "labonly"]
    )


def problems(**changes: object) -> dict[str, str]:
    with pytest.raises(LinkRejected) as raised:
        make(**changes)
    return raised.value.as_dict()


# -- who may make links ---------------------------------------------------------------------------


def test_staff_teach_their_courses_and_administrators_all():
    assert rules.courses_taught(["course:data8", "course:data8:tas"], False, CATALOG) == ["data8"]
    assert rules.courses_taught(
        ["course:data8:instructors", "course:stat20:students"], False, CATALOG
    ) == ["data8"]
    assert rules.courses_taught(["course:data8:students"], False, CATALOG) == []
    assert rules.courses_taught(["course:gone:instructors"], False, CATALOG) == []
    assert rules.courses_taught([], True, CATALOG) == ["data8", "labonly", "nolinks", "stat20"]


def test_member_role_reads_the_course_groups():
    groups = ["course:data8", "course:data8:students", "course:stat20:tas"]
    assert rules.member_role(groups, "data8") == "student"
    assert rules.member_role(groups, "stat20") == "ta"
    assert rules.member_role(groups, "nolinks") is None
    assert rules.member_role(["course:data8"], "data8") is None  # no role group: not in it


def test_a_course_you_do_not_teach_is_refused():
    with pytest.raises(LinkRejected) as raised:
        rules.check_link(CATALOG, GOOD, taught=["stat20"])
    assert raised.value.as_dict()["course"].startswith(
        "you do not teach DATA 8: Foundations of Data Science (data8) this term"
    )
    assert problems(course="physics1")["course"] == "'physics1' is not a course on this hub"


def test_whom_to_ask_names_the_instructors_or_the_course_staff():
    course = CATALOG.courses["data8"]
    assert rules.whom_to_ask(course, ["ines", "bob"]) == "its instructors (bob, ines)"
    assert rules.whom_to_ask(course, []) == (
        "the course staff of DATA 8: Foundations of Data Science"
    )
    many = rules.whom_to_ask(course, [f"p{i}" for i in range(8)])
    assert many.endswith("and 3 more)")


# -- the repository -------------------------------------------------------------------------------


def test_a_good_link_is_accepted():
    target = make()
    assert target == LinkTarget(**GOOD)
    assert target.folder == "materials-fa26"


@pytest.mark.parametrize(
    "repo",
    [
        "https://github.com/data-8/materials",
        "https://github.com/data-8/materials.git",
        "https://GITHUB.com/data-8/materials",  # host names are case-insensitive
        "https://github.com:443/data-8/materials",  # the default port, spelled out
        "https://github.com/data-8/sub/group/materials",  # below the prefix, deeper
        "https://git.campus.edu:8443/stat/notes",  # one repository, without .git
        "https://git.campus.edu:8443/stat/notes.git",
    ],
)
def test_repositories_the_catalog_allows(repo):
    assert make(repo=repo).repo == repo


def test_one_trailing_slash_is_dropped():
    assert make(repo="https://github.com/data-8/materials/").repo == (
        "https://github.com/data-8/materials"
    )


@pytest.mark.parametrize(
    "repo",
    [
        "https://github.com/data-8-evil/materials",  # a string prefix, not a path prefix
        "https://github.com/data-8evil",
        "https://github.com/data-8",  # the organisation itself, not a repository below it
        "http://github.com/data-8/materials",  # another scheme
        "https://github.com:8443/data-8/materials",  # another port
        "https://github.com.evil.example/data-8/materials",
        "https://evil.example/github.com/data-8/materials",
        "https://git.campus.edu:8443/stat/notes-evil",
        "https://git.campus.edu:8443/stat/notes/more",
        "https://git.campus.edu/stat/notes",  # the entry names port 8443
        "https://github.com/stat-20/materials",  # another course's repository
    ],
)
def test_repositories_the_catalog_does_not_allow(repo):
    message = problems(repo=repo)["repo"]
    assert "is not among the repositories the catalog allows for links of DATA 8" in message
    assert "https://github.com/data-8/" in message  # says what is allowed


@pytest.mark.parametrize(
    ("repo", "says"),
    [
        ("https://user:secret@github.com/data-8/materials", "contains credentials"),
        ("https://token@github.com/data-8/materials", "contains credentials"),
        ("https://github.com@evil.example/data-8/materials", "contains credentials"),
        ("https://github.com/data-8/materials?x=1", "has a query or fragment"),
        ("https://github.com/data-8/materials#main", "has a query or fragment"),
        ("https://github.com/data-8/materials?", "has a query or fragment"),
        ("ssh://git@github.com/data-8/materials", "is not an http(s) URL"),
        ("git://github.com/data-8/materials", "is not an http(s) URL"),
        ("file:///etc/passwd", "is not an http(s) URL"),
        ("ext::sh -c touch% /tmp/pwned", "contains spaces"),
        ("javascript:alert(1)//github.com/data-8/x", "is not an http(s) URL"),
        ("--upload-pack=touch /tmp/x", "starts with '-'"),
        ("-https://github.com/data-8/materials", "starts with '-'"),
        ("https://github.com/data-8/../evil/materials", "'..' part"),
        ("https://github.com/data-8/./materials", "'..' part"),
        ("https://github.com/data-8//materials", "'..' part"),
        ("https://github.com/data-8/%2e%2e/evil", "%-escapes"),
        ("https://github.com\\@evil.example/data-8/x", "backslash"),
        ("https://github.com/data-8/materials\n", "control characters"),
        ("https://github.com/data-8/mat erials", "spaces"),
        ("https:///data-8/materials", "names no host"),
        ("https://github.com:99999/data-8/materials", "is not a URL"),
        ("https://[::1/data-8/x", "is not a URL"),
        ("https://github.com/data-8/" + "a" * 600, "longer than 500"),
        ("https://github.com/data-8/-rf", "cannot be a folder name"),
        ("https://github.com/data-8/.hidden", "cannot be a folder name"),
        ("", "is empty"),
    ],
)
def test_unsafe_repositories_are_refused_with_the_reason(repo, says):
    assert says in problems(repo=repo)["repo"]


def test_a_course_without_repos_allows_nothing():
    message = problems(course="nolinks")["repo"]
    assert "(none)" in message and "ask the hub operators" in message


def test_credentials_are_not_repeated_in_the_message():
    message = problems(repo="https://alice:hunter2@github.com/data-8/materials")["repo"]
    assert "hunter2" not in message


def test_repo_allowed_ignores_entries_that_are_not_plain_urls():
    assert not rules.repo_allowed("https://github.com/a/b", ["https://github.com/../"])
    assert not rules.repo_allowed("https://github.com/a/b", ["not a url"])
    assert rules.repo_allowed("https://github.com/a/b", ["not a url", "https://github.com/"])


# -- branch, file, app ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "branch", ["main", "gh-pages", "fa26/week-1", "release-2026.08", "ünïcode", "v1.0"]
)
def test_valid_branches(branch):
    assert make(branch=branch).branch == branch


INVALID_BRANCHES = [
    "",
    "-delete",
    "--upload-pack=x",
    "a..b",
    "a b",
    "a~1",
    "a^",
    "a:b",
    "a?",
    "a*",
    "a[b",
    "a\\b",
    "/main",
    "main/",
    "a//b",
    "main.",
    ".hidden",
    "a/.b",
    "main.lock",
    "a.lock/b",
    "a@{1}",
    "@",
    "HEAD",
    "tab\there",
    "nul\x00",
    "del\x7f",
    "x" * 300,
]


@pytest.mark.parametrize("branch", INVALID_BRANCHES)
def test_invalid_branches_are_refused(branch):
    assert "is not a valid branch name" in problems(branch=branch)["branch"]


# Stricter than git: '@' and HEAD name the current branch, and very long names are refused.
STRICTER_THAN_GIT = {"@", "HEAD", "x" * 300}


@pytest.mark.parametrize(
    "branch", [b for b in INVALID_BRANCHES if "\x00" not in b and b not in STRICTER_THAN_GIT]
)
def test_branch_rules_agree_with_git(branch):
    result = subprocess.run(
        ["git", "check-ref-format", "--branch", branch], capture_output=True, check=False
    )
    assert result.returncode != 0, branch


@pytest.mark.parametrize(
    "path",
    ["", "lab01.ipynb", "labs/lab 01.ipynb", "a#b?c%d.ipynb", "data/中文.ipynb", "README.md"],
)
def test_valid_file_paths(path):
    assert make(path=path).path == path


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/etc/passwd", "must be relative"),
        ("~/x.ipynb", "must be relative"),
        ("../x.ipynb", "'..' parts"),
        ("labs/../../x.ipynb", "'..' parts"),
        ("./x.ipynb", "'..' parts"),
        ("labs\\x.ipynb", "backslash"),
        ("labs//x.ipynb", "empty part"),
        ("labs/", "empty part"),
        ("x\n.ipynb", "control characters"),
        ("x\u202e.ipynb", "control characters"),  # right-to-left override
        (" x.ipynb", "space"),
        ("a" * 1001, "longer than 1000"),
    ],
)
def test_unsafe_file_paths_are_refused(path, says):
    assert says in problems(path=path)["path"]


@pytest.mark.parametrize("app", ["vim", "LAB", "", "lab ", "<script>"])
def test_apps_come_from_a_fixed_list(app):
    assert "use one of lab, notebook, rstudio" in problems(app=app)["app"]


@pytest.mark.parametrize("app", ["notebook", "rstudio"])
def test_a_link_opens_only_an_app_its_courses_image_has(app):
    # labonly's image lists no apps: JupyterLab (and what its default_url opens) alone.
    found = problems(course="labonly", app=app)
    assert found == {
        "app": f"{rules.APP_NAMES[app]} is not in LAB 1's environment (bare): it has JupyterLab"
    }
    assert make(course="labonly", app="lab").app == "lab"


def test_every_problem_is_listed_with_its_field():
    found = problems(repo="ftp://x/y", branch="a..b", path="/x", app="vim")
    assert set(found) == {"repo", "branch", "path", "app"}
    with pytest.raises(LinkRejected) as raised:
        rules.check_link(CATALOG, {"repo": 3, "extra": "x"}, taught=["data8"])
    fields = {problem.field for problem in raised.value.problems}
    assert fields == {"course", "repo", "branch", "app", "extra"}
    assert "repo: must be text" in str(raised.value)


def test_link_ids():
    assert rules.check_link_id("Ab3dE9xZ")
    for bad in ["", "a/b", "../x", "<script>", "a" * 33, "a b", "ab%2F"]:
        assert not rules.check_link_id(bad)


# -- where opening goes ---------------------------------------------------------------------------


def test_spawn_url_starts_the_course_server_then_pulls():
    target = make(path="labs/lab 01.ipynb")
    url = rules.spawn_url("/", "ada", target)
    path, _, query = url.partition("?")
    assert path == "/hub/spawn/ada/data8"
    (next_url,) = urllib.parse.parse_qs(query)["next"]
    pull_path, _, pull_query = next_url.partition("?")
    assert pull_path == "/user/ada/data8/git-pull"
    assert urllib.parse.parse_qs(pull_query) == {
        "repo": ["https://github.com/data-8/materials-fa26"],
        "branch": ["main"],
        "targetpath": ["materials-fa26"],
        "urlpath": ["lab/tree/materials-fa26/labs/lab%2001.ipynb"],
    }


def test_spawn_url_escapes_the_username_and_keeps_the_base_url():
    url = rules.spawn_url("/campus/", "a@b.edu", make())
    path, _, query = url.partition("?")
    assert path == "/campus/hub/spawn/a%40b.edu/data8"
    (next_url,) = urllib.parse.parse_qs(query)["next"]
    assert next_url.startswith("/campus/user/a%40b.edu/data8/git-pull?")


@pytest.mark.parametrize(
    ("app", "path", "urlpath"),
    [
        ("lab", "x.ipynb", "lab/tree/materials-fa26/x.ipynb"),
        ("lab", "", "lab/tree/materials-fa26"),
        ("notebook", "x.ipynb", "tree/materials-fa26/x.ipynb"),
        ("rstudio", "x.R", "rstudio/"),
        ("lab", "a#b?c.ipynb", "lab/tree/materials-fa26/a%23b%3Fc.ipynb"),
    ],
)
def test_urlpath_per_app(app, path, urlpath):
    assert rules.urlpath(make(app=app, path=path)) == urlpath


def test_plain_and_short_links():
    target = make()
    plain = rules.plain_link("https://hub.campus.edu/anything", "/", target)
    assert plain.startswith("https://hub.campus.edu/hub/user-redirect/data8/git-pull?repo=")
    assert rules.short_link("https://hub.campus.edu", "/services/links/", "Ab3dE9xZ") == (
        "https://hub.campus.edu/services/links/l/Ab3dE9xZ"
    )
    assert rules.public_origin("") == ""


@pytest.mark.parametrize(
    "repo",
    [
        'https://github.com/data-8/"><svg/onload=alert(1)>',
        "https://github.com/data-8/<script>",
        "https://github.com/data-8/materials'x",
        "https://github.com/data-8/a`b",
        "https://github.com/data-8/a$(b)",
    ],
)
def test_repository_paths_take_only_the_characters_a_url_needs(repo: str) -> None:
    with pytest.raises(ValueError, match="characters a repository path does not need"):
        rules._split_url(repo)
