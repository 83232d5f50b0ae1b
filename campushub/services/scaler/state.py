"""Where the scaler keeps what must survive its restarts: the meetings' history and the last
enrollment it read, each a JSON document under a name (``history``, ``enrollment``).

- :class:`FileState`: a file per document in the scaler's state folder, written whole or not
  at all (the default; the hub's volume in zero-to-jupyterhub);
- :class:`SqlState`: a row per document in a SQL database given by a SQLAlchemy URL
  (``ScalerApp.db_url``, e.g. the campus's PostgreSQL beside the hub's and the links
  service's), so the hub pod needs no volume for it.

A document that cannot be read is set aside and the scaler starts afresh: as
``<name>.json.unreadable`` in the folder (the last one set aside), or as a row
``<name>.unreadable.<UTC time>`` in the database (each one kept). Errors of either reach the
caller as :class:`StateError`, which says where.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import DateTime, String, Text, create_engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class StateError(OSError):
    """The store cannot be read or written just now (a full disk, a database down)."""


class State(Protocol):
    where: str

    def read(self, name: str) -> str | None: ...

    def write(self, name: str, text: str) -> None: ...

    def set_aside(self, name: str) -> str: ...


class FileState:
    """``<state_dir>/<name>.json``; set aside as ``<name>.json.unreadable``."""

    def __init__(self, state_dir: str | Path) -> None:
        self.root = Path(state_dir)
        self.where = str(self.root)

    def path(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def read(self, name: str) -> str | None:
        try:
            return self.path(name).read_text()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StateError(f"cannot read {self.path(name)}: {error}") from None

    def write(self, name: str, text: str) -> None:
        """Whole or not at all (a temporary file renamed over it)."""
        path = self.path(name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp")
            temporary.write_text(text)
            temporary.replace(path)
        except OSError as error:
            raise StateError(f"cannot write {path}: {error}") from None

    def set_aside(self, name: str) -> str:
        path = self.path(name)
        aside = path.with_name(path.name + ".unreadable")
        with contextlib.suppress(OSError):
            path.replace(aside)
        return aside.name


class _Base(DeclarativeBase):
    pass


class _Document(_Base):
    __tablename__ = "campushub_scaler_state"
    name: Mapped[str] = mapped_column(String(96), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SqlState:
    """One row per document in table ``campushub_scaler_state``; set aside as
    ``<name>.unreadable.<UTC time>``. The table is made if missing."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, pool_pre_ping=True)
        self.where = self.engine.url.render_as_string(hide_password=True)
        self._made = False

    def _session(self) -> Session:
        if not self._made:
            _Base.metadata.create_all(self.engine)
            self._made = True
        return Session(self.engine)

    def read(self, name: str) -> str | None:
        try:
            with self._session() as session:
                return session.scalar(select(_Document.body).where(_Document.name == name))
        except SQLAlchemyError as error:
            raise StateError(f"cannot read {name} from {self.where}: {_short(error)}") from None

    def write(self, name: str, text: str) -> None:
        try:
            with self._session() as session, session.begin():
                session.merge(_Document(name=name, body=text, saved_at=datetime.now(UTC)))
        except SQLAlchemyError as error:
            raise StateError(f"cannot write {name} to {self.where}: {_short(error)}") from None

    def set_aside(self, name: str) -> str:
        aside = f"{name}.unreadable.{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}"
        with contextlib.suppress(SQLAlchemyError), self._session() as session, session.begin():
            document = session.get(_Document, name)
            if document is not None:
                session.add(_Document(name=aside, body=document.body, saved_at=document.saved_at))
                session.delete(document)
        return aside


def _short(error: SQLAlchemyError) -> str:
    return str(getattr(error, "orig", None) or error).strip().splitlines()[0][:300]


def open_state(state_dir: str | Path, db_url: str = "") -> State:
    """The store the configuration names: ``db_url`` if given, else files in ``state_dir``."""
    return SqlState(db_url) if db_url else FileState(state_dir)
