"""The links service's own database: links, and who opened them how often.

SQLAlchemy 2, so the same code runs on SQLite (the default, a file in the service's state
folder) and PostgreSQL (any SQLAlchemy URL, e.g. ``postgresql://...``: psycopg2, which
zero-to-jupyterhub's hub image has). The schema is created when the store is opened.
Everything returned is plain data (:class:`Link`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import StaticPool

from .rules import LINK_ID_ALPHABET, LINK_ID_LENGTH, LinkTarget

DATABASE_FILE = "links.sqlite"


def database_url(state_dir: str | Path) -> str:
    """The default database: SQLite in the service's state folder."""
    return f"sqlite:///{Path(state_dir).resolve() / DATABASE_FILE}"


def new_link_id() -> str:
    """A short random id (8 characters from 56 unambiguous ones: about 46 bits)."""
    return "".join(secrets.choice(LINK_ID_ALPHABET) for _ in range(LINK_ID_LENGTH))


def _now() -> datetime:
    return datetime.now(UTC)


class _Base(DeclarativeBase):
    pass


class _LinkRow(_Base):
    __tablename__ = "links"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    course: Mapped[str] = mapped_column(String(64), index=True)
    repo: Mapped[str] = mapped_column(String(500))
    branch: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(1000), default="")
    app: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(255))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(255))
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    removed: Mapped[bool] = mapped_column(Boolean, default=False)


class _OpenRow(_Base):
    """One person's opens of one link: distinct people are the rows, the total their sum."""

    __tablename__ = "link_opens"

    link_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("links.id", ondelete="CASCADE"), primary_key=True
    )
    person: Mapped[str] = mapped_column(String(255), primary_key=True)
    opens: Mapped[int] = mapped_column(Integer, default=1)
    first_opened: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_opened: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True, slots=True)
class Link:
    """A stored link, with its open counts."""

    id: str
    course: str
    repo: str
    branch: str
    path: str
    app: str
    created_by: str
    created: datetime
    updated_by: str
    updated: datetime
    removed: bool
    opens: int = 0
    people: int = 0

    @property
    def target(self) -> LinkTarget:
        return LinkTarget(self.course, self.repo, self.branch, self.path, self.app)


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _link(row: _LinkRow, opens: int = 0, people: int = 0) -> Link:
    return Link(
        id=row.id,
        course=row.course,
        repo=row.repo,
        branch=row.branch,
        path=row.path,
        app=row.app,
        created_by=row.created_by,
        created=_as_utc(row.created),
        updated_by=row.updated_by,
        updated=_as_utc(row.updated),
        removed=row.removed,
        opens=opens,
        people=people,
    )


class LinkStore:
    """Links and their opens in a SQL database given by a SQLAlchemy URL."""

    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = url
        options: dict[str, Any] = {"echo": echo}
        if url.startswith("sqlite"):
            options["connect_args"] = {"check_same_thread": False}
            if url in ("sqlite://", "sqlite:///:memory:"):
                options["poolclass"] = StaticPool  # one in-memory database, not one per thread
        self.engine: Engine = create_engine(url, **options)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        _Base.metadata.create_all(self.engine)
        self._unrecorded: list[tuple[str, str, datetime]] = []

    def close(self) -> None:
        self.engine.dispose()

    # -- links -----------------------------------------------------------------------------------

    def create(self, target: LinkTarget, created_by: str, link_id: str | None = None) -> Link:
        """Store a new link to ``target`` and return it (with a new random id)."""
        for _ in range(10):
            now = _now()
            row = _LinkRow(
                id=link_id or new_link_id(),
                course=target.course,
                repo=target.repo,
                branch=target.branch,
                path=target.path,
                app=target.app,
                created_by=created_by,
                created=now,
                updated_by=created_by,
                updated=now,
                removed=False,
            )
            try:
                with Session(self.engine, expire_on_commit=False) as session, session.begin():
                    session.add(row)
            except IntegrityError:
                if link_id:
                    raise
                continue  # that random id is taken: draw another
            return _link(row)
        raise RuntimeError("could not find a free link id")

    def get(self, link_id: str, counts: bool = True) -> Link | None:
        """The link ``link_id`` (removed ones too), with its counts unless ``counts`` is
        False, or None."""
        with Session(self.engine) as session:
            row = session.get(_LinkRow, link_id)
            if row is None:
                return None
            if not counts:
                return _link(row)
            counts_by_id = self._counts(session, [link_id])
            return _link(row, *counts_by_id.get(link_id, (0, 0)))

    def find(self, target: LinkTarget, created_by: str) -> Link | None:
        """A link of ``created_by`` to exactly ``target`` that is not removed, or None."""
        with Session(self.engine) as session:
            row = session.scalars(
                select(_LinkRow)
                .where(
                    _LinkRow.course == target.course,
                    _LinkRow.repo == target.repo,
                    _LinkRow.branch == target.branch,
                    _LinkRow.path == target.path,
                    _LinkRow.app == target.app,
                    _LinkRow.created_by == created_by,
                    _LinkRow.removed.is_(False),
                )
                .order_by(_LinkRow.created)
            ).first()
            return _link(row) if row is not None else None

    def list(self, courses: Iterable[str], include_removed: bool = False) -> list[Link]:
        """The links of ``courses``, newest first, with their counts."""
        wanted = list(courses)
        if not wanted:
            return []
        with Session(self.engine) as session:
            query = select(_LinkRow).where(_LinkRow.course.in_(wanted))
            if not include_removed:
                query = query.where(_LinkRow.removed.is_(False))
            rows = session.scalars(query.order_by(_LinkRow.created.desc(), _LinkRow.id)).all()
            counts = self._counts(session, [row.id for row in rows])
            return [_link(row, *counts.get(row.id, (0, 0))) for row in rows]

    def update(
        self,
        link_id: str,
        updated_by: str,
        target: LinkTarget | None = None,
        removed: bool | None = None,
    ) -> Link | None:
        """Re-point link ``link_id`` at ``target`` (same course) and/or remove or restore it;
        the id stays. Returns the updated link, or None if there is none."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            row = session.get(_LinkRow, link_id)
            if row is None:
                return None
            if target is not None:
                if target.course != row.course:
                    raise ValueError("a link stays in its course")
                row.repo, row.branch = target.repo, target.branch
                row.path, row.app = target.path, target.app
            if removed is not None:
                row.removed = removed
            row.updated_by, row.updated = updated_by, _now()
        return self.get(link_id)

    # -- opens -----------------------------------------------------------------------------------

    def record_open(self, link_id: str, person: str) -> bool:
        """Count one open of ``link_id`` by ``person``. A database that stays busy (another
        writer holding SQLite's lock past its timeout) does not hold the student up: the open
        is kept in memory and counted with the next one that gets through (False now)."""
        self._unrecorded.append((link_id, person, _now()))
        kept = []
        for index, (link, who, when) in enumerate(self._unrecorded):
            try:
                self._count_open(link, who, when)
            except OperationalError:
                kept = self._unrecorded[index:]
                break
        self._unrecorded = kept
        return not kept

    @property
    def unrecorded(self) -> int:
        """Opens waiting for a busy database."""
        return len(self._unrecorded)

    def _count_open(self, link_id: str, person: str, now: datetime) -> None:
        for _ in range(2):
            try:
                with Session(self.engine) as session, session.begin():
                    result = session.execute(
                        update(_OpenRow)
                        .where(_OpenRow.link_id == link_id, _OpenRow.person == person)
                        .values(opens=_OpenRow.opens + 1, last_opened=now)
                    )
                    if not getattr(result, "rowcount", 0):
                        session.add(
                            _OpenRow(
                                link_id=link_id,
                                person=person,
                                opens=1,
                                first_opened=now,
                                last_opened=now,
                            )
                        )
                return
            except IntegrityError:
                continue  # someone else's first open of it came in between: count as an update

    @staticmethod
    def _counts(session: Session, link_ids: list[str]) -> dict[str, tuple[int, int]]:
        if not link_ids:
            return {}
        rows = session.execute(
            select(_OpenRow.link_id, func.sum(_OpenRow.opens), func.count(_OpenRow.person))
            .where(_OpenRow.link_id.in_(link_ids))
            .group_by(_OpenRow.link_id)
        ).all()
        return {link_id: (int(total or 0), int(people)) for link_id, total, people in rows}


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL lets pages read while an open is being counted; NORMAL sync is safe with WAL
    # (a crash may lose the last counts, never corrupt the file).
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
