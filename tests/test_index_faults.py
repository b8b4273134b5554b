"""Fault injection on the search index: its folder deleted or its files overwritten while the
app runs, or corrupted before it starts. Each time the next search (or write, or status
check) rebuilds the index from the database, and nothing is lost."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from kb import create_app
from kb.entries.services import create_entry
from kb.entries.validation import taxonomy_lookups
from kb.entries.validation import validate_record
from kb.extensions import db
from kb.seed import system_user
from tests.conftest import _test_config
from tests.databases import sqlite_only

WORDS = ("aardvark", "bulldozer", "cormorant")


def _add_lesson(app: Flask, word: str) -> int:
    with app.app_context():
        record = {
            "kind": "lesson",
            "title": f"The {word} lesson",
            "body": f"Everything about the {word}.",
            "categories": ["security-reviews"],
            "status": "published",
        }
        entry = create_entry(
            db.session,
            validate_record(record, taxonomy_lookups(db.session)),
            author=system_user(db.session),
        )
        db.session.commit()
        return entry.id


def _make_app(data_dir: Path) -> Flask:
    return create_app(_test_config(data_dir))


@pytest.fixture
def disk_app(tmp_path: Path) -> Iterator[Flask]:
    """An app made by ``kb init`` with its search index on disk, and three published lessons."""
    app = _make_app(tmp_path)
    assert app.test_cli_runner().invoke(args=["init"]).exit_code == 0
    for word in WORDS:
        _add_lesson(app, word)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _found(app: Flask, word: str) -> list[str]:
    response = app.test_client().get("/api/v1/search", query_string={"q": word})
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return [result["title"] for result in response.get_json()["results"]]


def _assert_all_found(app: Flask) -> None:
    for word in WORDS:
        assert _found(app, word) == [f"The {word} lesson"]


def _status(app: Flask) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["index", "status"])
    return result.exit_code, result.output


def _index_dir(app: Flask) -> Path:
    return Path(app.config["SEARCH_INDEX_DIR"])


def _garble(folder: Path) -> int:
    """Overwrite every file of the index with bytes Whoosh cannot read; returns how many."""
    files = [path for path in folder.iterdir() if path.is_file()]
    for path in files:
        path.write_bytes(b"\x00garbage\xff" * 64)
    return len(files)


def test_index_folder_deleted_while_running_is_rebuilt_by_the_next_search(
    disk_app: Flask,
) -> None:
    _assert_all_found(disk_app)
    shutil.rmtree(_index_dir(disk_app))
    _assert_all_found(disk_app)
    assert _status(disk_app)[0] == 0
    assert any(_index_dir(disk_app).iterdir())


def test_index_files_overwritten_while_running_are_rebuilt_by_the_next_search(
    disk_app: Flask,
) -> None:
    assert _found(disk_app, "lesson")
    assert _garble(_index_dir(disk_app)) > 0
    _assert_all_found(disk_app)  # not in the result cache: these read the index
    code, output = _status(disk_app)
    assert code == 0, output


def test_index_deleted_then_a_write_rebuilds_it_and_the_write_is_searchable(
    disk_app: Flask,
) -> None:
    _assert_all_found(disk_app)
    shutil.rmtree(_index_dir(disk_app))
    _add_lesson(disk_app, "dromedary")
    assert _found(disk_app, "dromedary") == ["The dromedary lesson"]
    _assert_all_found(disk_app)
    assert _status(disk_app)[0] == 0


def test_index_deleted_then_status_reports_and_sync_repairs(disk_app: Flask) -> None:
    _assert_all_found(disk_app)
    shutil.rmtree(_index_dir(disk_app))
    runner = disk_app.test_cli_runner()
    assert runner.invoke(args=["index", "sync"]).exit_code == 0
    code, output = _status(disk_app)
    assert code == 0, output
    assert "3 documents" in output or "documents: 3" in output or " 3" in output
    _assert_all_found(disk_app)


def test_index_corrupted_before_start_is_rebuilt_by_a_new_process(tmp_path: Path) -> None:
    first = _make_app(tmp_path)
    assert first.test_cli_runner().invoke(args=["init"]).exit_code == 0
    for word in WORDS:
        _add_lesson(first, word)
    with first.app_context():
        db.engine.dispose()
    assert _garble(_index_dir(first)) > 0

    second = _make_app(tmp_path)
    try:
        _assert_all_found(second)
        assert _status(second)[0] == 0
    finally:
        with second.app_context():
            db.engine.dispose()


def test_a_search_error_that_is_not_the_index_does_not_rebuild_it(
    disk_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in query code must surface, not cost a rebuild on every search."""
    from kb.search import index as search_index

    _assert_all_found(disk_app)
    rebuilds: list[int] = []
    real_rebuild = search_index.rebuild

    def counting_rebuild(*args, **kwargs):  # type: ignore[no-untyped-def]
        rebuilds.append(1)
        return real_rebuild(*args, **kwargs)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ZeroDivisionError("a bug in query code")

    monkeypatch.setattr(search_index, "rebuild", counting_rebuild)
    monkeypatch.setattr("kb.search.run_search", broken)
    # (A new query: "aardvark" would be answered from the result cache.)
    response = disk_app.test_client().get("/api/v1/search", query_string={"q": "everything"})
    assert response.status_code == 500
    assert rebuilds == []


def test_two_in_memory_indexes_written_at_once_do_not_break_each_other() -> None:
    """Whoosh's in-memory storage shares one scratch folder per machine; a writer finishing on
    one index emptied it under a writer of another, whose commit then failed holding its lock."""
    from kb.search.index import SearchIndex

    first, second = SearchIndex(path=None).open(), SearchIndex(path=None).open()
    writer_one, writer_two = first.writer(), second.writer()
    writer_one.add_document(key="entry:1", entity="entry", text="aardvark")
    writer_two.add_document(key="entry:2", entity="entry", text="bulldozer")
    writer_two.commit()
    writer_one.commit()
    with first.searcher() as searcher:
        assert searcher.doc_count() == 1
    with second.searcher() as searcher:
        assert searcher.doc_count() == 1


@sqlite_only
def test_an_index_ahead_of_a_restored_database_is_reported_and_rebuilt(
    disk_app: Flask, tmp_path: Path
) -> None:
    """The database put back from an older copy: the index holds changes it no longer has."""
    import sqlite3
    from contextlib import closing

    database = tmp_path / "kb.sqlite"
    copy = tmp_path / "older.sqlite"
    with closing(sqlite3.connect(database)) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)
    _add_lesson(disk_app, "dromedary")
    assert _found(disk_app, "dromedary") == ["The dromedary lesson"]
    with disk_app.app_context():
        db.session.remove()
        db.engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(copy, database)

    code, output = _status(disk_app)
    assert code == 1
    assert "ahead of the database" in output
    assert _found(disk_app, "dromedary") == []
    _assert_all_found(disk_app)
    assert _status(disk_app)[0] == 0


def test_changes_applied_by_another_process_while_waiting_for_the_lock_cost_no_rebuild(
    disk_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search finds the index behind and waits for the writer lock, whose holder (another
    process) applies the same changes meanwhile: nothing is left to do, so no rebuild (it
    used to rebuild the whole index, making freshness across processes 10-30 s)."""
    from sqlalchemy.orm import Session

    from kb import search
    from kb.search import index as search_index

    _assert_all_found(disk_app)
    with monkeypatch.context() as quiet:  # a write whose own catch-up does not run
        quiet.setattr(search, "catch_up", lambda *args, **kwargs: 0)
        _add_lesson(disk_app, "dromedary")

    other = search_index.SearchIndex(path=_index_dir(disk_app))  # the other process's index
    with disk_app.app_context():
        state = search._state(disk_app)
        index = state.open()
        real_writer = type(index).writer

        pending = [True]

        def writer_after_the_other_applied(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            if pending and pending.pop():  # once: the other process holds the lock first
                with Session(db.engine) as session:
                    assert search_index.catch_up(other, session) == 1
            return real_writer(self, *args, **kwargs)

        rebuilds: list[int] = []
        real_rebuild = search_index.rebuild
        monkeypatch.setattr(type(index), "writer", writer_after_the_other_applied)
        monkeypatch.setattr(
            search_index, "rebuild", lambda *a, **k: rebuilds.append(1) or real_rebuild(*a, **k)
        )
        assert search.catch_up(disk_app) == 0
        monkeypatch.undo()
    assert rebuilds == []
    assert _found(disk_app, "dromedary") == ["The dromedary lesson"]
    assert _status(disk_app)[0] == 0
