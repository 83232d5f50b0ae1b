"""The ``campushub`` command: check a catalog before a deploy, print the Kubernetes objects it
needs, run the local campus."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

import yaml

from .catalog import CatalogError, load_catalog, parse_catalog


def print_problems(path: str, error: CatalogError, file: TextIO | None = None) -> None:
    """Print every problem of a refused catalog as ``file:line: place: message``."""
    count = len(error.problems)
    print(f"{path}: {count} problem{'s' if count != 1 else ''}; the catalog is refused:", file=file)
    for problem in error.problems:
        line = f"{problem.line}:" if problem.line else ""
        where = f"{problem.place}: " if problem.place else ""
        print(f"{path}:{line} {where}{problem.message}", file=file)


def check(path: str) -> int:
    """Validate the catalog at ``path``: print a summary (exit 0) or every problem (exit 1)."""
    try:
        catalog = load_catalog(path)
    except CatalogError as error:
        print_problems(path, error)
        return 1
    print(f"{path}: OK")
    print(catalog.summary())
    return 0


class _ManifestDumper(yaml.SafeDumper):
    """YAML for people: multi-line text (the catalog in its ConfigMap) as a literal block, and
    no anchors or aliases where objects share a part."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_ManifestDumper.add_representer(str, _represent_text)


def print_manifests(
    path: str,
    namespace: str,
    release: str,
    service_account: str,
    storage: Any = None,
    shown_options: str = "",
) -> int:
    """Print the Kubernetes objects for the catalog at ``path`` as multi-document YAML
    (exit 0), or its problems on stderr (exit 1)."""
    from .manifests import claims, manifests

    try:
        text = Path(path).read_text(encoding="utf-8")
        catalog = parse_catalog(text, path)
    except (OSError, UnicodeDecodeError) as error:
        print(f"{path}: cannot read the catalog: {error}", file=sys.stderr)
        return 1
    except CatalogError as error:
        print_problems(path, error, file=sys.stderr)
        return 1
    objects: list[dict[str, Any]]
    if storage is not None:  # --claims: only the claims
        objects = claims(catalog, namespace, storage)
    else:
        objects = manifests(
            catalog,
            namespace=namespace,
            catalog_text=text,
            release=release,
            service_account=service_account,
        )
    print(
        f"# campushub manifests {path} --namespace {namespace} --release {release}"
        f" --service-account {service_account}{shown_options}\n"
        "# Apply with: kubectl apply -f <this file>"
    )
    print(
        yaml.dump_all(
            objects, Dumper=_ManifestDumper, sort_keys=False, explicit_start=True, width=100
        ),
        end="",
    )
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
    manifests_parser = commands.add_parser(
        "manifests",
        help="print the Kubernetes objects the catalog needs beside zero-to-jupyterhub",
        description=(
            "Print, as YAML for kubectl apply, the objects campushub adds to a"
            " zero-to-jupyterhub release: the catalog's ConfigMap, the placeholders'"
            " PriorityClass, the claims its servers mount (the shared home and each course's"
            " shared data), each pool's placeholder Deployment or StatefulSet, and the Role"
            " that lets the scaler (in the hub pod) resize them. A catalog with problems"
            " prints them on stderr and exits 1."
        ),
    )
    manifests_parser.add_argument("path", help="the catalog file, e.g. courses.yaml")
    manifests_parser.add_argument(
        "--namespace", default="default", help="the hub's namespace (default: %(default)s)"
    )
    manifests_parser.add_argument(
        "--release",
        default="jupyterhub",
        help="the zero-to-jupyterhub Helm release's name (default: %(default)s)",
    )
    manifests_parser.add_argument(
        "--service-account",
        default="hub",
        help="the hub pod's ServiceAccount, which the scaler acts as (default: %(default)s)",
    )
    manifests_parser.add_argument(
        "--home-claim",
        default="home-nfs",
        help="the shared home claim, as CourseKubeSpawner.home_volume_claim (default: %(default)s)",
    )
    manifests_parser.add_argument(
        "--storage-class",
        default=None,
        help="the StorageClass of the claims, one that provides ReadWriteMany volumes such as an"
        " NFS or Filestore provisioner (default: the cluster's default class)",
    )
    manifests_parser.add_argument(
        "--access-mode",
        default="ReadWriteMany",
        choices=["ReadWriteMany", "ReadWriteOnce"],
        help="the claims' access mode; ReadWriteOnce only for a one-node cluster (default:"
        " %(default)s)",
    )
    manifests_parser.add_argument(
        "--home-size", default="100Gi", help="the home claim's size (default: %(default)s)"
    )
    manifests_parser.add_argument(
        "--course-data-size",
        default="10Gi",
        help="each course data claim's size (default: %(default)s)",
    )
    manifests_parser.add_argument(
        "--claims",
        action="store_true",
        help="print only the claims the catalog's servers mount (the shared home and each"
        " course's shared data), to apply once and keep apart from the other objects: a"
        " `kubectl delete -f` of the other objects must never reach people's homes",
    )
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
        "--port",
        type=int,
        default=None,
        help="preferred public port (default: the last start's, else 8000)",
    )
    demo_parser.add_argument(
        "--fresh", action="store_true", help="delete the state folder first (forget everything)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "check":
        return check(args.path)
    if args.command == "manifests":
        from .manifests import Storage

        storage = None
        shown = ""
        if args.claims:
            storage = Storage(
                home_claim=args.home_claim,
                storage_class=args.storage_class,
                access_mode=args.access_mode,
                home_size=args.home_size,
                course_data_size=args.course_data_size,
            )
            shown = (
                f" --claims --home-claim {args.home_claim} --access-mode {args.access_mode}"
                f" --home-size {args.home_size} --course-data-size {args.course_data_size}"
                + (f" --storage-class {args.storage_class}" if args.storage_class else "")
            )
        return print_manifests(
            args.path, args.namespace, args.release, args.service_account, storage, shown
        )
    from .demo import campus  # the demo's imports are only needed here

    return campus.run(args.state_dir, args.port, args.fresh)


if __name__ == "__main__":
    sys.exit(main())
