"""A real PostgreSQL server for the tests: Debian's ``postgresql`` package (which
``scripts/setup.sh test`` installs when run as root), a throwaway cluster on a free loopback
port, one database per use. As root the server runs as the package's ``postgres`` account
(PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from campushub.demo import launch


def server_binaries() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl`` (the newest installed), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).resolve().parent if pg_ctl else None


def _version(path: str) -> int:
    part = path.split("/")[4]
    return int(part) if part.isdigit() else 0


@dataclass
class Postgres:
    root: Path
    port: int
    run_as: list[str]
    bin_dir: Path

    def url(self, database: str) -> str:
        return f"postgresql://campushub@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "campushub") -> str:
        """A new empty database; its SQLAlchemy URL."""
        import sqlalchemy

        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        engine = sqlalchemy.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"),
             "-m", "immediate", "stop"],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> Postgres:
    """Start a new cluster (trust authentication on loopback only); raise if it cannot."""
    bin_dir = server_binaries()
    if bin_dir is None:
        raise RuntimeError(
            "PostgreSQL's server is not installed (Debian: apt-get install postgresql;"
            " scripts/setup.sh test does it when run as root)"
        )
    root = Path(tempfile.mkdtemp(prefix="campushub-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres", "postgres")
        root.chmod(0o700)
    port = launch.free_port()
    log = root / "server.log"

    def run(*argv: str) -> None:
        done = subprocess.run([*run_as, *argv], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{argv[0]} failed: {done.stdout}{done.stderr}{tail}")

    run(str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", "campushub", "-A", "trust",
        "--no-sync", "-E", "UTF8")  # fmt: skip
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    run(str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-o", options, "-l", str(log),
        "-w", "-t", "60", "start")  # fmt: skip
    return Postgres(root=root, port=port, run_as=run_as, bin_dir=bin_dir)
