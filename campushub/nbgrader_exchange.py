"""nbgrader's exchange through campushub's grading service, for the servers of grading courses.

nbgrader's own exchange is a folder every server shares, kept apart by Unix permissions; in a
zero-to-jupyterhub cluster every server runs as the same user, so such a folder would show
each student everyone's work. These classes do nbgrader's exchange steps (release, fetch,
submit, list, collect, feedback) over HTTP with the server's own hub token
(``$JUPYTERHUB_API_TOKEN``) against the grading service (``$CAMPUSHUB_GRADING_URL``), which
decides from the hub's identity and groups what the caller may do.

Self-contained (the standard library, ``requests`` and nbgrader), so a course image copies
this file alone as ``campushub_nbgrader_exchange`` (see ``images/python``). campushub's
``nbgrader_config.py`` for course servers selects these classes with :func:`configure`.
"""

from __future__ import annotations

import glob
import io
import os
import shutil
import tarfile
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

import requests
from nbgrader.exchange import abc
from nbgrader.utils import parse_utc
from traitlets import Float, Unicode, default

MAX_UPLOAD_BYTES = int(os.environ.get("CAMPUSHUB_GRADING_MAX_UPLOAD") or 20 * 2**20)


def configure(c: Any) -> None:
    """Select this module's exchange classes in nbgrader config ``c``, the course from
    ``$CAMPUSHUB_COURSE``, and the server's folder from ``$CAMPUSHUB_SERVER_ROOT`` (where
    assignments are fetched; for the grader, ``$CAMPUSHUB_GRADER`` set, the course folder)."""
    module = __name__
    for step, name in (
        ("exchange", "Exchange"),
        ("fetch_assignment", "ExchangeFetchAssignment"),
        ("fetch_feedback", "ExchangeFetchFeedback"),
        ("release_assignment", "ExchangeReleaseAssignment"),
        ("release_feedback", "ExchangeReleaseFeedback"),
        ("list", "ExchangeList"),
        ("submit", "ExchangeSubmit"),
        ("collect", "ExchangeCollect"),
    ):
        setattr(c.ExchangeFactory, step, f"{module}.{name}")
    course = os.environ.get("CAMPUSHUB_COURSE", "")
    if course:
        c.CourseDirectory.course_id = course
    root = os.environ.get("CAMPUSHUB_SERVER_ROOT", "")
    if root:  # assignments go into the server's own folder, whatever its working directory
        c.Exchange.assignment_dir = root
        if os.environ.get("CAMPUSHUB_GRADER"):  # the grader's folder is the course folder
            c.CourseDirectory.root = root


def _pack(folder: Path, skip: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if path.is_symlink() or relative.parts[0] in skip or "__pycache__" in relative.parts:
                continue
            if relative.parts[0].startswith(".ipynb_checkpoints"):
                continue
            if path.is_file() or path.is_dir():
                archive.add(path, arcname=str(relative), recursive=False)
    return buffer.getvalue()


def _unpack(data: bytes, destination: Path) -> None:
    """Unpack the service's gzipped tar into ``destination`` (regular files and folders
    inside it only)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        archive.extractall(destination, filter="data")


class Exchange(abc.Exchange):
    """The grading service's address and the server's token."""

    url = Unicode(help="The grading service, e.g. http://hub:10103/services/grading/").tag(
        config=True
    )

    @default("url")
    def _default_url(self) -> str:
        return os.environ.get("CAMPUSHUB_GRADING_URL", "")

    token = Unicode(help="The hub token the service identifies this server by.").tag(config=True)

    @default("token")
    def _default_token(self) -> str:
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    request_timeout = Float(60.0, help="Seconds one request to the service may take.").tag(
        config=True
    )

    @property
    def course(self) -> str:
        course = self.coursedir.course_id if self.coursedir else ""
        if not course:
            self.fail("No course: this server is not a grading course's server.")
        return course

    def api(
        self,
        method: str,
        path: str,
        data: bytes | None = None,
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        if not self.url or not self.token:
            self.fail(
                "This server cannot reach the course's exchange ($CAMPUSHUB_GRADING_URL or"
                " $JUPYTERHUB_API_TOKEN is missing); ask the hub's operators."
            )
        if data is not None and len(data) > MAX_UPLOAD_BYTES:
            self.fail(
                f"The upload is {len(data) / 2**20:.1f} MiB, over this hub's limit of"
                f" {MAX_UPLOAD_BYTES / 2**20:.0f} MiB: remove large data files or outputs"
                " (Edit > Clear Outputs of All Cells) and try again."
            )
        quoted = "/".join(urllib.parse.quote(part, safe="") for part in path.split("/"))
        url = f"{self.url.rstrip('/')}/api/courses/{urllib.parse.quote(self.course)}/{quoted}"
        try:
            response = requests.request(
                method,
                url,
                data=data,
                params=params,
                headers={"Authorization": f"token {self.token}"},
                timeout=self.request_timeout,
            )
        except requests.RequestException as error:
            self.fail(f"The course's exchange did not answer ({type(error).__name__}); try again.")
        if response.status_code >= 400:
            try:
                message = response.json().get("message") or response.reason
            except ValueError:
                message = f"HTTP {response.status_code} {response.reason}"
            self.fail(str(message))
        return response

    def init_src(self) -> None:
        pass

    def init_dest(self) -> None:
        pass

    def copy_files(self) -> None:
        pass

    def local_assignment(self, assignment: str) -> Path:
        return Path(self.assignment_dir, assignment).absolute()


class ExchangeReleaseAssignment(Exchange, abc.ExchangeReleaseAssignment):
    def copy_files(self) -> None:
        assignment = self.coursedir.assignment_id
        source = Path(self.coursedir.format_path(self.coursedir.release_directory, ".", assignment))
        if not source.is_dir():
            self.fail(f"Assignment not found: {source}; generate it first.")
        params = {"replace": "1"} if self.force else None
        self.api("PUT", f"assignments/{assignment}", _pack(source), params)
        self.log.info("Released as: %s %s", self.course, assignment)


class ExchangeFetchAssignment(Exchange, abc.ExchangeFetchAssignment):
    def copy_files(self) -> None:
        assignment = self.coursedir.assignment_id
        destination = self.local_assignment(assignment)
        response = self.api("GET", f"assignments/{assignment}")
        if destination.exists() and not self.replace_missing_files:
            self.fail(
                f"You already have a copy of {assignment} in {destination}; rename or remove"
                " that folder to fetch it again."
            )
        with tempfile.TemporaryDirectory(dir=destination.parent) as staging:
            _unpack(response.content, Path(staging))
            if destination.exists():  # only the files that are missing
                for path in Path(staging).rglob("*"):
                    target = destination / path.relative_to(staging)
                    if path.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                    elif not target.exists():
                        shutil.copy2(path, target)
            else:
                shutil.copytree(staging, destination)
        self.log.info("Fetched as: %s %s", self.course, assignment)


class ExchangeSubmit(Exchange, abc.ExchangeSubmit):
    def copy_files(self) -> None:
        assignment = self.coursedir.assignment_id
        source = self.local_assignment(assignment)
        if not source.is_dir():
            self.fail(f"Assignment not found: {source}; fetch it first.")
        released = {
            name
            for item in self.api("GET", "assignments").json()
            if item.get("assignment_id") == assignment
            for name in item.get("notebooks", [])
        }
        mine = {path.stem for path in source.glob("*.ipynb")}
        missing = sorted(released - mine)
        if missing and self.strict:
            self.fail(f"Not submitted: {', '.join(missing)} missing from {source}.")
        elif missing:
            self.log.warning("Notebooks missing from the submission: %s", ", ".join(missing))
        answer = self.api("POST", f"submissions/{assignment}", _pack(source, skip=("feedback",)))
        self.log.info(
            "Submitted as: %s %s %s", self.course, assignment, answer.json().get("timestamp")
        )


class ExchangeList(Exchange, abc.ExchangeList):
    """Released assignments (``status`` released or fetched), or with ``inbound`` or
    ``cached`` the submissions: a student's own, staff's everyone's."""

    def list_files(self) -> list[dict[str, Any]]:
        if self.inbound or self.cached:
            return self._submissions()
        found = []
        wanted = self.coursedir.assignment_id
        for item in self.api("GET", "assignments").json():
            assignment = item["assignment_id"]
            if wanted and wanted != assignment:
                continue
            local = self.local_assignment(assignment)
            info: dict[str, Any] = {"course_id": self.course, "assignment_id": assignment}
            if local.is_dir():
                info["status"], info["path"] = "fetched", str(local)
                notebooks = [
                    {"notebook_id": p.stem, "path": str(p)} for p in sorted(local.glob("*.ipynb"))
                ]
            else:
                info["status"], info["path"] = "released", assignment
                notebooks = [
                    {"notebook_id": name, "path": f"{assignment}/{name}.ipynb"}
                    for name in item.get("notebooks", [])
                ]
            info["notebooks"] = notebooks
            if self.remove:
                info["status"] = "removed"
            found.append(info)
        return found

    def _submissions(self) -> list[dict[str, Any]]:
        params = {}
        if self.coursedir.assignment_id:
            params["assignment"] = self.coursedir.assignment_id
        if self.coursedir.student_id and self.coursedir.student_id != "*":
            params["student"] = self.coursedir.student_id
        if not os.environ.get("CAMPUSHUB_GRADER") and os.environ.get("JUPYTERHUB_USER"):
            # A member's own course server lists their own work (a TA's too); the grader,
            # everyone's.
            params["student"] = os.environ["JUPYTERHUB_USER"]
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for item in self.api("GET", "submissions", params=params).json():
            local_dir = (
                self.local_assignment(item["assignment_id"]) / "feedback" / item["timestamp"]
            )
            notebooks = []
            for name in item.get("notebooks", []):
                local = local_dir / f"{name}.html"
                notebooks.append(
                    {
                        "notebook_id": name,
                        "path": name,
                        "has_local_feedback": local.is_file(),
                        "has_exchange_feedback": bool(item.get("has_feedback")),
                        "local_feedback_path": str(local) if local.is_file() else None,
                        "feedback_updated": False,
                    }
                )
            has_local = bool(notebooks) and all(n["has_local_feedback"] for n in notebooks)
            info = {
                "course_id": self.course,
                "student_id": item["student_id"],
                "assignment_id": item["assignment_id"],
                "timestamp": item["timestamp"],
                "status": "submitted",
                "path": item["id"],
                "notebooks": notebooks,
                "has_local_feedback": has_local,
                "has_exchange_feedback": bool(item.get("has_feedback")),
                "feedback_updated": False,
                "local_feedback_path": str(local_dir) if has_local else None,
            }
            key = (item["student_id"], item["assignment_id"])
            grouped.setdefault(key, []).append(info)
        return [
            {
                "course_id": self.course,
                "student_id": student,
                "assignment_id": assignment,
                "status": "submitted",
                "submissions": sorted(items, key=lambda i: i["timestamp"]),
            }
            for (student, assignment), items in sorted(grouped.items())
        ]

    def remove_files(self) -> list[dict[str, Any]]:
        listed = self.list_files()
        if self.inbound or self.cached:
            self.fail("Submissions are kept; the exchange does not remove them.")
        for info in listed:
            self.api("DELETE", f"assignments/{info['assignment_id']}")
        return listed


class ExchangeCollect(Exchange, abc.ExchangeCollect):
    """Each student's latest submission (or, with ``before_duedate``, the latest before the
    gradebook's due date) into the course folder's ``submitted`` directory."""

    def copy_files(self) -> None:
        from nbgrader.api import Gradebook, MissingEntry

        assignment = self.coursedir.assignment_id
        params = {"assignment": assignment}
        if self.coursedir.student_id and self.coursedir.student_id != "*":
            params["student"] = self.coursedir.student_id
        submissions = self.api("GET", "submissions", params=params).json()
        duedate = None
        if self.before_duedate:
            with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gradebook:
                try:
                    duedate = gradebook.find_assignment(assignment).duedate
                except MissingEntry:
                    duedate = None
        latest: dict[str, dict[str, Any]] = {}
        for item in sorted(submissions, key=lambda i: i["id"]):
            late = duedate is not None and parse_utc(item["timestamp"]) > duedate
            if late and item["student_id"] in latest:
                continue  # the latest before the due date, unless all came after it
            latest[item["student_id"]] = item
        if not latest:
            self.log.warning(
                "No submissions of '%s' for course '%s' to collect", assignment, self.course
            )
        for student, item in sorted(latest.items()):
            destination = Path(
                self.coursedir.format_path(self.coursedir.submitted_directory, student, assignment)
            )
            if destination.is_dir():
                existing = self.coursedir.get_existing_timestamp(str(destination))
                newer = existing is None or parse_utc(item["timestamp"]) > existing
                if not (self.update and newer):
                    self.log.info("Submission already collected: %s %s", student, assignment)
                    continue
            response = self.api("GET", f"submissions/{assignment}/{student}/{item['id']}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=destination.parent) as staging:
                _unpack(response.content, Path(staging) / "s")
                if destination.exists():
                    shutil.rmtree(destination)
                shutil.move(str(Path(staging) / "s"), destination)
            self.log.info(
                "Collected submission: %s %s (%s)", student, assignment, item["timestamp"]
            )


class ExchangeReleaseFeedback(Exchange, abc.ExchangeReleaseFeedback):
    def copy_files(self) -> None:
        assignment = self.coursedir.assignment_id
        student = self.coursedir.student_id if self.coursedir.student_id else "*"
        pattern = self.coursedir.format_path(self.coursedir.feedback_directory, student, assignment)
        released = 0
        for folder in sorted(Path(found) for found in glob.glob(pattern)):
            timestamp_file = folder / "timestamp.txt"
            if not timestamp_file.is_file():
                self.log.warning("No timestamp.txt in %s; skipped", folder)
                continue
            owner = Path(folder).parent.name
            self.api(
                "PUT",
                f"feedback/{assignment}/{owner}",
                _pack(folder),
                {"timestamp": timestamp_file.read_text().strip()},
            )
            released += 1
            self.log.info("Released feedback: %s %s", owner, assignment)
        if not released:
            self.log.warning("No feedback of '%s' to release", assignment)


class ExchangeFetchFeedback(Exchange, abc.ExchangeFetchFeedback):
    def copy_files(self) -> None:
        assignment = self.coursedir.assignment_id
        params = {"assignment": assignment} if assignment else {}
        fetched = 0
        for item in self.api("GET", "submissions", params=params).json():
            if not item.get("has_feedback"):
                continue
            response = self.api(
                "GET", f"feedback/{item['assignment_id']}/{item['student_id']}/{item['id']}"
            )
            destination = (
                self.local_assignment(item["assignment_id"]) / "feedback" / item["timestamp"]
            )
            destination.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory() as staging:
                _unpack(response.content, Path(staging))
                for html in Path(staging).glob("*.html"):
                    shutil.copy2(html, destination / html.name)
            fetched += 1
        self.log.info(
            "Fetched feedback on %d submission(s) of %s", fetched, assignment or "any assignment"
        )
