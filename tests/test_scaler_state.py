"""Where the scaler keeps its history and enrollment (campushub.services.scaler.state): files
in its folder, or a SQL database (SQLite, and a real PostgreSQL server from tests/postgres.py)
as CAMPUSHUB_SCALER_DB_URL names one. Both keep the last whole document, set an unreadable one
aside without overwriting what was set aside before, and fail with an error that says where."""

from __future__ import annotations

from pathlib import Path

import pytest

from campushub.services.scaler.state import FileState, SqlState, StateError, open_state


@pytest.fixture(params=["files", "sqlite", "postgresql"])
def state(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "files":
        return open_state(tmp_path / "scaler")
    if request.param == "sqlite":
        return open_state(tmp_path / "unused", f"sqlite:///{tmp_path / 'scaler.sqlite'}")
    return open_state(tmp_path / "unused", request.getfixturevalue("postgres").new_database())


def test_a_document_is_kept_whole_and_replaced_whole(state) -> None:
    assert state.read("history") is None
    state.write("history", '{"meetings": {}}')
    state.write("enrollment", '{"counts": {"data8": 800}}')
    assert state.read("history") == '{"meetings": {}}'
    big = '{"meetings": {"x": "' + "é" * 200_000 + '"}}'
    state.write("history", big)
    assert state.read("history") == big
    assert state.read("enrollment") == '{"counts": {"data8": 800}}'


def test_an_unreadable_document_is_set_aside_and_nothing_set_aside_is_lost(state) -> None:
    state.write("history", "{broken")
    first = state.set_aside("history")
    assert state.read("history") is None
    state.write("history", "{broken again")
    second = state.set_aside("history")
    assert "unreadable" in first and "unreadable" in second
    if isinstance(state, SqlState):
        assert first != second  # each kept under its own name
        assert state.read(first) == "{broken" and state.read(second) == "{broken again"
    else:
        assert (state.root / second).read_text() == "{broken again"
    state.write("history", "{}")  # and the scaler goes on keeping its new history
    assert state.read("history") == "{}"


def test_a_database_that_cannot_be_reached_is_a_clear_error(tmp_path: Path) -> None:
    from campushub.demo import launch

    port = launch.free_port()  # nothing listens there
    state = SqlState(f"postgresql://scaler@127.0.0.1:{port}/campushub")
    with pytest.raises(
        StateError, match=rf"cannot write history to postgresql://scaler@127\.0\.0\.1:{port}"
    ):
        state.write("history", "{}")
    with pytest.raises(StateError, match="cannot read history"):
        state.read("history")
    assert state.set_aside("history").startswith("history.unreadable.")  # and no exception


def test_a_folder_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    state = FileState(blocked / "scaler")
    with pytest.raises(StateError, match=r"cannot write .*history\.json"):
        state.write("history", "{}")
