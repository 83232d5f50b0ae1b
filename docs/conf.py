"""Sphinx configuration for the campushub documentation (MyST Markdown, pydata theme).

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``. The build
needs no network access: no intersphinx, no remote assets.
"""

from __future__ import annotations

import sys
from pathlib import Path

import campushub

# Local extensions: `traitsref` renders configuration references from the classes' traits.
sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "campushub"
author = "campushub contributors"
copyright = "campushub contributors"
release = campushub.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "traitsref",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "pydata_sphinx_theme"
html_title = "campushub"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path: list[str] = []
