"""The grading exchange's storage, without a hub: what an upload may hold, and that a refused
or repeated one loses nothing (the service's API over a real hub: tests/test_grading.py)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from campushub.services.grading.store import ExchangeProblem, ExchangeStore, Limits, pack

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def tar_of(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info, body in members:
            info.size = len(body) if info.isfile() else 0
            archive.addfile(info, io.BytesIO(body) if info.isfile() else None)
    return buffer.getvalue()


def entry(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.fixture
def store(tmp_path: Path) -> ExchangeStore:
    exchange = ExchangeStore(tmp_path / "exchange", Limits(max_bytes=4096, max_files=5))
    exchange.release("data8", "ps1", tar_of((entry("ps1.ipynb"), NOTEBOOK)), replace=False)
    return exchange


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([(entry("../ps1.ipynb"), NOTEBOOK)], "leaves the assignment's folder"),
        ([(entry("/etc/passwd"), b"x")], "leaves the assignment's folder"),
        ([(entry("a/../../b"), b"x")], "leaves the assignment's folder"),
        ([(entry("link", tarfile.SYMTYPE, "/etc/passwd"), b"")], "not a regular file"),
        ([(entry("hard", tarfile.LNKTYPE, "ps1.ipynb"), b"")], "not a regular file"),
        ([(entry("dev", tarfile.CHRTYPE), b"")], "not a regular file"),
        ([(entry("ps1.ipynb"), b"{broken")], "is not a notebook"),
        ([(entry("ps1.ipynb"), b'{"cells": 3}')], "is not a notebook"),
        ([(entry("big.bin"), bytes(5000))], "over this hub's limit"),
        ([(entry(f"f{i}.txt"), b"x") for i in range(6)], "more than 5 files"),
    ],
)
def test_a_bad_submission_is_refused_and_leaves_nothing(store, members, message) -> None:
    with pytest.raises(ExchangeProblem, match=message):
        store.submit("data8", "ada", "ps1", tar_of(*members))
    assert store.submissions("data8") == []
    folder = store.root / "data8" / "submitted" / "ada" / "ps1"
    assert [p.name for p in folder.iterdir()] == []  # no half-written submission left


def test_not_a_tar_and_a_cut_tar_are_refused(store) -> None:
    with pytest.raises(ExchangeProblem, match="not a gzipped tar"):
        store.submit("data8", "ada", "ps1", b"hello")
    whole = tar_of((entry("ps1.ipynb"), NOTEBOOK))
    with pytest.raises(ExchangeProblem, match="tar"):
        store.submit("data8", "ada", "ps1", whole[: len(whole) // 2])


def test_submissions_are_kept_each_with_its_own_id_and_the_services_time(store) -> None:
    body = tar_of((entry("ps1.ipynb"), NOTEBOOK))
    first = store.submit("data8", "ada", "ps1", body)
    second = store.submit("data8", "ada", "ps1", body)
    assert first.id != second.id and first.notebooks == ("ps1",)
    assert [s.id for s in store.submissions("data8", "ada", "ps1")] == [first.id, second.id]
    assert store.find_submission("data8", "ada", "ps1", second.timestamp) == second.id
    folder = store.submission_folder("data8", "ada", "ps1", first.id)
    with tarfile.open(fileobj=io.BytesIO(pack(folder)), mode="r:gz") as archive:
        assert sorted(archive.getnames()) == ["ps1.ipynb", "timestamp.txt"]


def test_only_a_released_assignment_takes_submissions_and_names_are_checked(store) -> None:
    body = tar_of((entry("ps1.ipynb"), NOTEBOOK))
    with pytest.raises(ExchangeProblem, match="has not released") as refused:
        store.submit("data8", "ada", "ps2", body)
    assert refused.value.status == 404
    for bad in ("../ps1", "ps 1", "", ".hidden"):
        with pytest.raises(ExchangeProblem, match="is not an assignment name"):
            store.submit("data8", "ada", bad, body)
    with pytest.raises(ExchangeProblem, match="is not a hub user name"):
        store.submit("data8", "../ines", "ps1", body)
    with pytest.raises(ExchangeProblem, match="not a submission id"):
        store.submission_folder("data8", "ada", "ps1", "../../released")


def test_a_release_is_replaced_only_when_asked_and_never_half_way(store) -> None:
    again = tar_of((entry("ps1.ipynb"), NOTEBOOK), (entry("data.csv"), b"a,b"))
    with pytest.raises(ExchangeProblem, match="already released") as refused:
        store.release("data8", "ps1", again, replace=False)
    assert refused.value.status == 409
    store.release("data8", "ps1", again, replace=True)
    folder = store.released_folder("data8", "ps1")
    assert sorted(p.name for p in folder.iterdir()) == ["data.csv", "ps1.ipynb"]
    with pytest.raises(ExchangeProblem, match="is not a notebook"):
        store.release("data8", "ps1", tar_of((entry("ps1.ipynb"), b"{")), replace=True)
    assert sorted(p.name for p in folder.iterdir()) == ["data.csv", "ps1.ipynb"]
    with pytest.raises(ExchangeProblem, match="has no notebook"):
        store.release("data8", "ps3", tar_of((entry("data.csv"), b"a")), replace=False)


def test_feedback_goes_to_the_submission_it_answers(store) -> None:
    submission = store.submit("data8", "ada", "ps1", tar_of((entry("ps1.ipynb"), NOTEBOOK)))
    assert not store.submissions("data8", "ada")[0].has_feedback
    sid = store.find_submission("data8", "ada", "ps1", submission.timestamp)
    store.release_feedback("data8", "ada", "ps1", sid, tar_of((entry("ps1.html"), b"<p>2/2")))
    assert store.submissions("data8", "ada")[0].has_feedback
    assert (store.feedback_folder("data8", "ada", "ps1", sid) / "ps1.html").read_bytes() == (
        b"<p>2/2"
    )
    with pytest.raises(ExchangeProblem, match="no submission of ps1 made at"):
        store.find_submission("data8", "ada", "ps1", "2020-01-01 00:00:00.000000 UTC")
