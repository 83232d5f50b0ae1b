"""The ``campushub`` command: check a catalog before a deploy, run the local campus."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .catalog import CatalogError, load_catalog


def check(path: str) -> int:
    """Validate the catalog at ``path``: print a summary (exit 0) or every problem (exit 1)."""
    try:
        catalog = load_catalog(path)
    except CatalogError as error:
        count = len(error.problems)
        print(f"{path}: {count} problem{'s' if count != 1 else ''}; the catalog is refused:")
        for problem in error.problems:
            line = f"{problem.line}:" if problem.line else ""
            where = f"{problem.place}: " if problem.place else ""
            print(f"{path}:{line} {where}{problem.message}")
        return 1
    print(f"{path}: OK")
    print(catalog.summary())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="campushub",
        description=(
            "campushub runs one university-wide JupyterHub: campus sign-on, one environment"
            " per course from a course catalog, nbgitpuller links and calendar autoscale."
        ),
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    check_parser = commands.add_parser(
        "check",
        help="validate a course catalog (courses.yaml) before a deploy",
        description=(
            "Validate a course catalog. Prints a one-screen summary and exits 0, or prints"
            " every problem (file:line: place: message) and exits 1."
        ),
    )
    check_parser.add_argument("path", help="the catalog file, e.g. courses.yaml")
    demo_parser = commands.add_parser(
        "demo",
        help="start the local campus on 127.0.0.1 (identity provider, git server, hub)",
        description=(
            "Start a complete campus on 127.0.0.1 with no cluster: a development OpenID Connect"
            " provider holding demo people, a git server with a demo course repository, and"
            " JupyterHub with configurable-http-proxy. Ctrl-C stops everything it started."
        ),
    )
    demo_parser.add_argument(
        "--state-dir",
        default=".campushub-demo",
        type=Path,
        help="where the hub database, homes, repositories and logs go (default: %(default)s)",
    )
    demo_parser.add_argument(
        "--port", type=int, default=8000, help="preferred public port (default: %(default)s)"
    )
    demo_parser.add_argument(
        "--fresh", action="store_true", help="delete the state folder first (forget everything)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "check":
        return check(args.path)
    from .demo import campus  # the demo's imports are only needed here

    return campus.run(args.state_dir, args.port, args.fresh)


if __name__ == "__main__":
    sys.exit(main())
