"""The local campus's demo link: one short link to the demo course material, for data8."""

from __future__ import annotations

from pathlib import Path

from ...catalog import load_catalog
from . import rules
from .store import LinkStore, database_url

DEMO_COURSE = "data8"
DEMO_CREATOR = "campushub-demo"


def demo_link(
    links_state_dir: Path, catalog_path: Path, repo_url: str, notebook: str = "lab01.ipynb"
) -> str:
    """The id of a link (made once, then reused) that opens ``notebook`` of ``repo_url`` in
    JupyterLab in the demo course's server. The link passes the same rules as any other; the
    remote check is skipped (the demo repository is made by the launcher itself)."""
    catalog = load_catalog(catalog_path)
    fields = {
        "course": DEMO_COURSE,
        "repo": repo_url,
        "branch": "main",
        "path": notebook,
        "app": "lab",
    }
    target = rules.check_link(catalog, fields, taught=[DEMO_COURSE])
    links_state_dir.mkdir(parents=True, exist_ok=True)
    store = LinkStore(database_url(links_state_dir))
    try:
        link = store.find(target, DEMO_CREATOR) or store.create(target, DEMO_CREATOR)
    finally:
        store.close()
    return link.id
