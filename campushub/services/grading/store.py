"""The grading exchange's storage: released assignments, submissions and feedback, per course.

One folder (``root``) holds every grading course's exchange; the service is the only program
that reads or writes it, so who may see what is decided by the hub's identity of the caller,
not by file permissions (in a zero-to-jupyterhub cluster every server runs as the same user,
so a shared folder could not keep students' work apart)::

    <root>/<course>/released/<assignment>/...                      what students fetch
    <root>/<course>/submitted/<student>/<assignment>/<id>/...      each submission, kept
    <root>/<course>/feedback/<student>/<assignment>/<id>/...       feedback for submission <id>

Each upload arrives as a gzipped tar. It is checked whole (size, number of files, names that
stay inside, regular files and folders only, notebooks that are JSON) and unpacked into a
temporary folder beside its destination, then renamed into place: a refused or broken upload
leaves nothing behind and never replaces what was there. A submission's id is the service's
own time of receipt, so a student cannot date their work; two submissions in the same
microsecond get different ids.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Final

# nbgrader's assignment ids name folders and appear in URLs: letters, digits, '_', '-', '.'.
_ASSIGNMENT: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Hub user names as they appear in the hub's API: kept to what names a folder safely.
_PERSON: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")
_SUBMISSION_ID: Final = re.compile(r"^\d{8}T\d{12}Z(?:-\d{1,3})?$")
# What nbgrader writes beside a submission's notebooks; the service writes its own.
TIMESTAMP_FILE: Final = "timestamp.txt"
# nbgrader's default timestamp format (ExchangeSubmit), which its collect and feedback read.
TIMESTAMP_FORMAT: Final = "%Y-%m-%d %H:%M:%S.%f %Z"


class ExchangeProblem(Exception):
    """Something an upload or a request got wrong, said for the person who made it."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def check_assignment(name: str) -> str:
    if not isinstance(name, str) or not _ASSIGNMENT.match(name) or ".." in name:
        raise ExchangeProblem(
            f"{name!r} is not an assignment name: use up to 64 letters, digits, '_', '-' or"
            " '.', starting with a letter or digit"
        )
    return name


def check_person(name: str) -> str:
    if not isinstance(name, str) or not _PERSON.match(name) or ".." in name:
        raise ExchangeProblem(f"{name!r} is not a hub user name the exchange keeps work for")
    return name


def check_submission_id(value: str) -> str:
    if not isinstance(value, str) or not _SUBMISSION_ID.match(value):
        raise ExchangeProblem(f"{value!r} is not a submission id", 404)
    return value


@dataclass(frozen=True, slots=True)
class Limits:
    """How big an upload may be: bytes unpacked, and files."""

    max_bytes: int = 20 * 2**20
    max_files: int = 500


@dataclass(frozen=True, slots=True)
class Submission:
    student: str
    assignment: str
    id: str
    timestamp: str  # in nbgrader's format, as timestamp.txt says
    notebooks: tuple[str, ...]
    has_feedback: bool

    def model(self, course: str) -> dict[str, object]:
        return {
            "course_id": course,
            "student_id": self.student,
            "assignment_id": self.assignment,
            "id": self.id,
            "timestamp": self.timestamp,
            "notebooks": list(self.notebooks),
            "has_feedback": self.has_feedback,
        }


def _notebooks(folder: Path) -> tuple[str, ...]:
    """The notebooks at the top of ``folder``, without their extension (nbgrader's ids)."""
    if not folder.is_dir():
        return ()
    return tuple(sorted(p.stem for p in folder.glob("*.ipynb") if p.is_file()))


def pack(folder: Path, skip: tuple[str, ...] = ()) -> bytes:
    """``folder``'s files as a gzipped tar (names relative to it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if relative.parts[0] in skip or path.is_symlink():
                continue
            if path.is_file() or path.is_dir():
                archive.add(path, arcname=str(relative), recursive=False)
    return buffer.getvalue()


def unpack(data: bytes, destination: Path, limits: Limits, what: str) -> list[str]:
    """Check the gzipped tar ``data`` whole, then unpack it into the new folder
    ``destination`` (which must not exist). Returns the files' names. Nothing is written if
    anything is wrong."""
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")  # noqa: SIM115 (closed below)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ExchangeProblem(f"{what}: the upload is not a gzipped tar ({error})") from None
    files: list[tuple[tarfile.TarInfo, PurePosixPath]] = []
    folders: list[PurePosixPath] = []
    total = 0
    with archive:
        for member in _members(archive, what):  # read lazily: the limits stop a flood early
            name = PurePosixPath(member.name)
            if (
                name.is_absolute()
                or ".." in name.parts
                or not name.parts
                or any(
                    part.startswith("/") or "\\" in part or "\x00" in part for part in name.parts
                )
            ):
                raise ExchangeProblem(
                    f"{what}: the file name {member.name!r} leaves the assignment's folder"
                )
            if name == PurePosixPath("."):
                continue
            if member.isdir():
                folders.append(name)
            elif member.isfile():
                files.append((member, name))
                total += member.size
            else:
                raise ExchangeProblem(
                    f"{what}: {member.name!r} is not a regular file or folder (links and"
                    " devices are not accepted)"
                )
            if len(files) > limits.max_files:
                raise ExchangeProblem(
                    f"{what}: more than {limits.max_files} files; hand in the assignment's"
                    " folder only",
                    413,
                )
            if total > limits.max_bytes:
                raise ExchangeProblem(
                    f"{what} is {_size(total)} or more, over this hub's limit of"
                    f" {_size(limits.max_bytes)}: remove large data or outputs (Edit > Clear"
                    " Outputs of All Cells) and try again",
                    413,
                )
        contents: list[tuple[PurePosixPath, bytes]] = []
        for member, name in files:
            try:
                handle = archive.extractfile(member)
                body = handle.read() if handle is not None else b""
            except (tarfile.TarError, OSError, EOFError) as error:
                raise ExchangeProblem(f"{what}: the upload is a broken tar ({error})") from None
            if name.suffix == ".ipynb":
                _check_notebook(body, name, what)
            contents.append((name, body))
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=destination.parent))
    try:
        for name in folders:
            (staging / name).mkdir(parents=True, exist_ok=True)
        for name, body in contents:
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
        os.rename(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [str(name) for name, _ in contents]


def _members(archive: tarfile.TarFile, what: str) -> Iterator[tarfile.TarInfo]:
    """The archive's entries one at a time (never the whole list at once)."""
    while True:
        try:
            member = archive.next()
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ExchangeProblem(f"{what}: the upload is a broken tar ({error})") from None
        if member is None:
            return
        yield member


def _check_notebook(body: bytes, name: PurePosixPath, what: str) -> None:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise ExchangeProblem(
            f"{what}: {name} is not a notebook (not notebook JSON); open it in Jupyter, save"
            " it, and try again"
        )


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{count / 1024:.0f} KiB"


class ExchangeStore:
    """Every grading course's exchange, under ``root``."""

    def __init__(self, root: str | Path, limits: Limits | None = None) -> None:
        self.root = Path(root)
        self.limits = limits or Limits()
        self.root.mkdir(parents=True, exist_ok=True)

    def _course(self, course: str) -> Path:
        return self.root / course

    # -- released assignments -------------------------------------------------------------

    def released(self, course: str) -> list[dict[str, object]]:
        folder = self._course(course) / "released"
        if not folder.is_dir():
            return []
        return [
            {
                "course_id": course,
                "assignment_id": path.name,
                "notebooks": list(_notebooks(path)),
                "released_at": datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(),
            }
            for path in sorted(folder.iterdir())
            if path.is_dir() and _ASSIGNMENT.match(path.name)
        ]

    def released_folder(self, course: str, assignment: str) -> Path:
        folder = self._course(course) / "released" / check_assignment(assignment)
        if not folder.is_dir():
            raise ExchangeProblem(f"{course} has not released {assignment!r}", 404)
        return folder

    def release(self, course: str, assignment: str, data: bytes, replace: bool) -> list[str]:
        """Release ``assignment`` (a gzipped tar of its release folder)."""
        target = self._course(course) / "released" / check_assignment(assignment)
        if target.exists() and not replace:
            raise ExchangeProblem(
                f"{assignment!r} is already released in {course}; release it again with"
                " replace to overwrite it",
                409,
            )
        incoming = target.with_name(f".new-{assignment}")
        shutil.rmtree(incoming, ignore_errors=True)
        names = unpack(data, incoming, self.limits, f"the release of {assignment}")
        if not _notebooks(incoming):
            shutil.rmtree(incoming, ignore_errors=True)
            raise ExchangeProblem(f"the release of {assignment} has no notebook")
        old = target.with_name(f".old-{assignment}")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.rename(target, old)
        os.rename(incoming, target)
        shutil.rmtree(old, ignore_errors=True)
        return names

    def unrelease(self, course: str, assignment: str) -> None:
        shutil.rmtree(self.released_folder(course, assignment))

    # -- submissions ----------------------------------------------------------------------

    def submit(self, course: str, student: str, assignment: str, data: bytes) -> Submission:
        """Keep a new submission of ``assignment`` by ``student``; earlier ones stay."""
        self.released_folder(course, assignment)
        folder = self._course(course) / "submitted" / check_person(student) / assignment
        folder.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        base = now.strftime("%Y%m%dT%H%M%S%fZ")
        for attempt in range(1000):
            submission_id = base if attempt == 0 else f"{base}-{attempt}"
            target = folder / submission_id
            if not target.exists():
                break
        else:  # pragma: no cover - a thousand submissions in one microsecond
            raise ExchangeProblem("too many submissions at once; try again", 503)
        what = f"the submission of {assignment}"
        try:
            unpack(data, target, self.limits, what)
        except FileExistsError:  # the same id taken between the check and the rename
            return self.submit(course, student, assignment, data)
        (target / TIMESTAMP_FILE).write_text(now.strftime(TIMESTAMP_FORMAT))
        return self._submission(course, student, assignment, target)

    def _submission(self, course: str, student: str, assignment: str, folder: Path) -> Submission:
        try:
            timestamp = (folder / TIMESTAMP_FILE).read_text().strip()
        except OSError:
            timestamp = ""
        feedback = self._course(course) / "feedback" / student / assignment / folder.name
        return Submission(
            student, assignment, folder.name, timestamp, _notebooks(folder), feedback.is_dir()
        )

    def submissions(
        self, course: str, student: str | None = None, assignment: str | None = None
    ) -> list[Submission]:
        """The course's submissions (of one student, of one assignment), oldest first."""
        base = self._course(course) / "submitted"
        found: list[Submission] = []
        for person in _folders(base, student):
            for task in _folders(person, assignment):
                for folder in _folders(task, None):
                    if _SUBMISSION_ID.match(folder.name):
                        found.append(self._submission(course, person.name, task.name, folder))
        return sorted(found, key=lambda s: (s.assignment, s.student, s.id))

    def submission_folder(self, course: str, student: str, assignment: str, sid: str) -> Path:
        folder = (
            self._course(course)
            / "submitted"
            / check_person(student)
            / check_assignment(assignment)
            / check_submission_id(sid)
        )
        if not folder.is_dir():
            raise ExchangeProblem(f"no submission {sid} of {assignment} by {student}", 404)
        return folder

    def find_submission(self, course: str, student: str, assignment: str, timestamp: str) -> str:
        """The id of ``student``'s submission of ``assignment`` made at ``timestamp`` (as its
        timestamp.txt says, which nbgrader's feedback keeps)."""
        for submission in self.submissions(course, student, assignment):
            if submission.timestamp == timestamp.strip():
                return submission.id
        raise ExchangeProblem(
            f"{student} has no submission of {assignment} made at {timestamp.strip()!r}", 404
        )

    # -- feedback -------------------------------------------------------------------------

    def release_feedback(
        self, course: str, student: str, assignment: str, sid: str, data: bytes
    ) -> list[str]:
        self.submission_folder(course, student, assignment, sid)
        target = self._course(course) / "feedback" / student / assignment / sid
        incoming = target.with_name(f".new-{sid}")
        shutil.rmtree(incoming, ignore_errors=True)
        names = unpack(data, incoming, self.limits, f"the feedback on {assignment} for {student}")
        if target.exists():
            shutil.rmtree(target)
        os.rename(incoming, target)
        return names

    def feedback_folder(self, course: str, student: str, assignment: str, sid: str) -> Path:
        self.submission_folder(course, student, assignment, sid)
        folder = self._course(course) / "feedback" / student / assignment / sid
        if not folder.is_dir():
            raise ExchangeProblem(f"no feedback yet on {assignment} submitted at {sid}", 404)
        return folder


def _folders(base: Path, only: str | None) -> Iterator[Path]:
    if only is not None:
        path = base / only
        if path.is_dir():
            yield path
        return
    if base.is_dir():
        for path in sorted(base.iterdir()):
            if path.is_dir() and not path.name.startswith("."):
                yield path
