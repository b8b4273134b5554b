"""``kb backup`` and ``kb restore``: round trips, backups under concurrent writes, bad archives."""

from __future__ import annotations

import gzip
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import downgrade
from sqlalchemy import select
from sqlalchemy.engine import make_url

from kb import backup
from kb import create_app
from kb import search
from kb.entries.services import create_entry
from kb.entries.services import revise_entry
from kb.entries.validation import taxonomy_lookups
from kb.entries.validation import validate_record
from kb.extensions import db
from kb.models import Entry
from kb.seed import system_user
from tests.conftest import _test_config

PROJECT = Path(__file__).resolve().parent.parent


def _config(data_dir: Path) -> dict[str, Any]:
    # kb backup copies SQLite files: these tests use SQLite even when the suite runs on
    # PostgreSQL (KB_TEST_DATABASE_URL).
    return _test_config(data_dir, SQLALCHEMY_DATABASE_URI=f"sqlite:///{data_dir / 'kb.sqlite'}")


def _make_app(data_dir: Path) -> Flask:
    """An app made by ``kb init`` in ``data_dir``, with its search index on disk."""
    app = create_app(_config(data_dir))
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    return app


def _close(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def disk_app(tmp_path: Path) -> Iterator[Flask]:
    """A ``kb init`` app on a temporary data folder (file database, file index)."""
    app = _make_app(tmp_path / "data")
    yield app
    _close(app)


def _record(word: str, **overrides: Any) -> dict[str, Any]:
    return {
        "kind": "lesson",
        "title": f"The {word} lesson",
        "body": f"Everything about the {word}.",
        "categories": ["security-reviews"],
        "tags": [word],
        "status": "published",
        **overrides,
    }


def _add(app: Flask, word: str) -> int:
    with app.app_context():
        record = validate_record(_record(word), taxonomy_lookups(db.session))
        entry = create_entry(db.session, record, author=system_user(db.session))
        db.session.commit()
        return entry.id


def _revise(app: Flask, entry_id: int, word: str) -> None:
    with app.app_context():
        entry = db.session.get(Entry, entry_id)
        record = validate_record(_record(word), taxonomy_lookups(db.session))
        revise_entry(db.session, entry, record, editor=system_user(db.session), note="Edited")
        db.session.commit()


def _found(app: Flask, word: str) -> list[int]:
    with app.app_context():
        return search.search(db.session, q=word).ids


def _data_dir(app: Flask) -> Path:
    return Path(app.config["DATA_DIR"])


def _database(app: Flask) -> Path:
    return _data_dir(app) / "kb.sqlite"


def _dump(app: Flask) -> list[str]:
    """Every table's schema and rows, as SQL (what "the same content" means here)."""
    with closing(sqlite3.connect(_database(app))) as connection:
        return list(connection.iterdump())


def _attachments(app: Flask) -> dict[str, bytes]:
    folder = _data_dir(app) / "attachments"
    if not folder.is_dir():
        return {}
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def _attach(app: Flask, name: str, data: bytes) -> None:
    folder = _data_dir(app) / "attachments"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(data)


def _invoke(app: Flask, *args: str, input: str | None = None) -> Any:
    return app.test_cli_runner().invoke(args=list(args), input=input)


def _kb(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``kb`` command line against ``data_dir`` in a child process."""
    env = {**os.environ, "KB_DATA_DIR": str(data_dir)}
    env.pop("KB_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "kb", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _manifest(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        with member:
            return json.load(member)


def _unpacked_database(archive: Path, folder: Path) -> Path:
    """The archive's database, written to ``folder``."""
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile("kb.sqlite")
        assert member is not None
        with member:
            target = folder / "unpacked.sqlite"
            target.write_bytes(member.read())
    return target


def _query(database: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(database)) as connection:
        return connection.execute(sql).fetchall()


def _assert_complete(database: Path) -> None:
    """Every entry in the database is whole: its revisions, audit events and outbox events."""
    assert _query(database, "PRAGMA integrity_check") == [("ok",)]
    torn = _query(
        database,
        "SELECT e.id, e.version, count(r.id), max(r.number) FROM entries e "
        "LEFT JOIN revisions r ON r.entry_id = e.id GROUP BY e.id "
        "HAVING count(r.id) != e.version OR max(r.number) != e.version",
    )
    assert torn == []
    uncategorised = _query(
        database,
        "SELECT id FROM entries WHERE id NOT IN (SELECT entry_id FROM entry_categories)",
    )
    assert uncategorised == []
    [(revisions,)] = _query(database, "SELECT count(*) FROM revisions")
    [(audited,)] = _query(
        database,
        "SELECT count(*) FROM audit_events WHERE action IN ('entry.create', 'entry.revise')",
    )
    [(events,)] = _query(database, "SELECT count(*) FROM index_events WHERE entity = 'entry'")
    [(counter,)] = _query(database, "SELECT seq FROM index_counter WHERE id = 1")
    assert revisions == audited == events == counter


# --- round trips --------------------------------------------------------------------------------


def test_restore_brings_back_exactly_the_backed_up_content(disk_app: Flask, tmp_path: Path):
    """After backup, more writes, restore: is everything as it was, search included?"""
    aardvark = _add(disk_app, "aardvark")
    bulldozer = _add(disk_app, "bulldozer")
    _attach(disk_app, "0a1b.pdf", b"%PDF-1.4 the original")
    before, attached = _dump(disk_app), _attachments(disk_app)
    archive = tmp_path / "kb.tar.gz"

    made = _invoke(disk_app, "backup", "--out", str(archive))
    assert made.exit_code == 0, made.output
    assert "Backed up 2 entries and 1 attachment(s)" in made.output
    manifest = _manifest(archive)
    assert manifest["entries"] == 2 and manifest["attachments"] == 1
    assert manifest["alembic_revision"] == backup._known_revisions()[1]

    cormorant = _add(disk_app, "cormorant")
    _revise(disk_app, aardvark, "zeppelin")
    _attach(disk_app, "0a1b.pdf", b"%PDF-1.4 overwritten")
    _attach(disk_app, "ffff.txt", b"added later")
    assert sorted(_found(disk_app, "zeppelin") + _found(disk_app, "cormorant")) == sorted(
        [aardvark, cormorant]
    )

    restored = _invoke(disk_app, "restore", "--yes", str(archive))
    assert restored.exit_code == 0, restored.output
    assert "Restored 2 entries and 1 attachment(s)" in restored.output
    assert "search index rebuilt (2 entries)" in restored.output
    assert _dump(disk_app) == before
    assert _attachments(disk_app) == attached
    assert _found(disk_app, "aardvark") == [aardvark]
    assert _found(disk_app, "bulldozer") == [bulldozer]
    assert _found(disk_app, "cormorant") == []
    assert _found(disk_app, "zeppelin") == []
    status = _invoke(disk_app, "index", "status")
    assert status.exit_code == 0, status.output
    assert not list(_data_dir(disk_app).glob(".kb-work-*"))


def test_backup_default_path_is_in_the_data_folder(disk_app: Flask):
    _add(disk_app, "aardvark")
    result = _invoke(disk_app, "backup")
    assert result.exit_code == 0, result.output
    [archive] = (_data_dir(disk_app) / "backups").glob("kb-*Z.tar.gz")
    assert str(archive) in result.output
    assert _manifest(archive)["entries"] == 1
    assert not list(archive.parent.glob(".*"))  # no work folder or partial file left


def test_restore_into_another_data_folder_in_a_new_process(disk_app: Flask, tmp_path: Path):
    """Can a backup move to another machine: a fresh data folder, through the real command?"""
    _add(disk_app, "aardvark")
    _attach(disk_app, "0a1b.txt", b"notes")
    archive = tmp_path / "moved.tar.gz"
    assert _invoke(disk_app, "backup", "--out", str(archive)).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    assert _kb(elsewhere, "init").returncode == 0

    restored = _kb(elsewhere, "restore", "--yes", str(archive))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert (elsewhere / "attachments" / "0a1b.txt").read_bytes() == b"notes"
    assert _query(elsewhere / "kb.sqlite", "SELECT title FROM entries") == [
        ("The aardvark lesson",)
    ]
    status = _kb(elsewhere, "index", "status")
    assert status.returncode == 0, status.stdout
    assert "documents: 1" in status.stdout


def test_restore_upgrades_an_older_schema(tmp_path: Path):
    old = create_app(_config(tmp_path / "old"))
    try:
        assert old.test_cli_runner().invoke(args=["init"]).exit_code == 0
        _add(old, "aardvark")
        with old.app_context():
            downgrade(directory=old.extensions["migrate"].directory, revision="-1")
        archive = tmp_path / "old.tar.gz"
        assert _invoke(old, "backup", "--out", str(archive)).exit_code == 0
    finally:
        _close(old)
    known, head = backup._known_revisions()
    older = _manifest(archive)["alembic_revision"]
    assert older in known and older != head

    current = _make_app(tmp_path / "current")
    try:
        result = _invoke(current, "restore", "--yes", str(archive))
        assert result.exit_code == 0, result.output
        assert f"upgraded from schema {older}" in result.output
        assert _query(_database(current), "SELECT version_num FROM alembic_version") == [(head,)]
        assert _query(_database(current), "SELECT title FROM entries") == [("The aardvark lesson",)]
        assert _invoke(current, "index", "status").exit_code == 0
    finally:
        _close(current)


# --- consistency under concurrent writes --------------------------------------------------------


class _Writer(threading.Thread):
    """Creates entries and revises them, one transaction each, until told to stop."""

    def __init__(self, app: Flask) -> None:
        super().__init__(daemon=True)
        self.app = app
        self.written = 0
        self.stop = threading.Event()
        self.progress = threading.Condition()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                entry_id = _add(self.app, f"word{self.written}")
                if self.written % 2:
                    _revise(self.app, entry_id, f"again{self.written}")
                with self.progress:
                    self.written += 1
                    self.progress.notify_all()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def wait_for(self, count: int) -> None:
        with self.progress:
            assert self.progress.wait_for(lambda: self.written >= count or self.error, 120)
        assert self.error is None, self.error


def test_a_backup_taken_during_writes_is_consistent_and_restores_cleanly(
    disk_app: Flask, tmp_path: Path
):
    """A writer commits entries (several rows each) continuously while another process backs
    up: is every entry in the archive whole, and does the restore index cleanly?"""
    data_dir = _data_dir(disk_app)
    archive = tmp_path / "busy.tar.gz"
    writer = _Writer(disk_app)
    writer.start()
    try:
        writer.wait_for(5)
        started = writer.written
        made = _kb(data_dir, "backup", "--out", str(archive))
        assert made.returncode == 0, made.stdout + made.stderr
        writer.wait_for(writer.written + 3)
    finally:
        writer.stop.set()
        writer.join(60)
    assert writer.error is None, writer.error
    assert not writer.is_alive()

    copy = _unpacked_database(archive, tmp_path)
    _assert_complete(copy)
    [(entries,)] = _query(copy, "SELECT count(*) FROM entries")
    assert _manifest(archive)["entries"] == entries
    assert started <= entries < writer.written
    _assert_complete(_database(disk_app))
    _close(disk_app)

    restored = _kb(data_dir, "restore", "--yes", str(archive))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert _query(_database(disk_app), "SELECT count(*) FROM entries") == [(entries,)]
    _assert_complete(_database(disk_app))
    status = _kb(data_dir, "index", "status")
    assert status.returncode == 0, status.stdout
    assert f"documents: {entries}" in status.stdout


def test_a_backup_neither_waits_for_nor_includes_an_uncommitted_write(
    disk_app: Flask, tmp_path: Path
):
    """With a write transaction open (the write lock held), does the backup finish, holding
    only what was committed?"""
    _add(disk_app, "aardvark")
    archive = tmp_path / "online.tar.gz"
    with disk_app.app_context():
        record = validate_record(_record("uncommitted"), taxonomy_lookups(db.session))
        create_entry(db.session, record, author=system_user(db.session))
        db.session.flush()  # the INSERTs ran: this connection holds SQLite's write lock
        try:
            made = _kb(_data_dir(disk_app), "backup", "--out", str(archive))
        finally:
            db.session.rollback()
    assert made.returncode == 0, made.stdout + made.stderr
    copy = _unpacked_database(archive, tmp_path)
    assert _query(copy, "SELECT title FROM entries") == [("The aardvark lesson",)]
    _assert_complete(copy)


# --- refusals -----------------------------------------------------------------------------------


def test_backup_refuses_an_existing_out_path(disk_app: Flask, tmp_path: Path):
    out = tmp_path / "precious.tar.gz"
    out.write_bytes(b"keep me")
    result = _invoke(disk_app, "backup", "--out", str(out))
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"Error: {out} already exists; kb backup never overwrites a file"
    )
    assert out.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "precious.tar.gz"]


def test_backup_refuses_an_out_path_in_a_missing_folder(disk_app: Flask, tmp_path: Path):
    result = _invoke(disk_app, "backup", "--out", str(tmp_path / "nowhere" / "kb.tar.gz"))
    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert not (tmp_path / "nowhere").exists()


def test_backup_and_restore_refuse_a_postgresql_database(tmp_path: Path):
    url = make_url("postgresql+psycopg://kb@db.example/kb")
    with pytest.raises(backup.BackupError, match=r"pg_dump .*docs/operations.md"):
        backup.sqlite_database_path(url, "backup")
    with pytest.raises(backup.BackupError, match=r"pg_restore.*kb index rebuild"):
        backup.sqlite_database_path(url, "restore")
    pytest.importorskip("psycopg")
    app = create_app(_test_config(tmp_path, SQLALCHEMY_DATABASE_URI=str(url)))
    for args in (["backup"], ["restore", "--yes", str(tmp_path / "x.tar.gz")]):
        result = app.test_cli_runner().invoke(args=args)
        assert result.exit_code == 1
        [line] = result.output.strip().splitlines()[-1:]
        assert line.startswith("Error: kb ") and "docs/operations.md" in line
    assert not (tmp_path / "backups").exists()


def _repack(archive: Path, out: Path, change: Callable[[Path], None]) -> Path:
    """A copy of ``archive`` whose unpacked files ``change`` has altered first."""
    folder = out.parent / f"{out.name}.d"
    folder.mkdir()
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(folder, filter="data")
    change(folder)
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(folder.rglob("*"), key=lambda p: (p.name != "manifest.json", p)):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(folder)))
    return out


def _corrupt_pages(folder: Path) -> None:
    database = folder / "kb.sqlite"
    data = bytearray(database.read_bytes())
    page = 4096
    for start in range(2 * page, len(data) - page, 3 * page):
        data[start + 8 : start + 200] = b"\xa5" * 192
    database.write_bytes(bytes(data))


def _swap_index_roots(folder: Path) -> None:
    """Two indexes of ``entries`` trade their b-trees: every page is intact, but
    ``PRAGMA integrity_check`` finds rows missing from them."""
    with closing(sqlite3.connect(folder / "kb.sqlite")) as connection:
        (a, root_a), (b, root_b) = connection.execute(
            "SELECT name, rootpage FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'entries' AND name LIKE 'ix_%' ORDER BY name LIMIT 2"
        ).fetchall()
        connection.execute("PRAGMA writable_schema = ON")
        for name, root in ((a, root_b), (b, root_a)):
            connection.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = ?", (root, name))
        connection.commit()


def _unknown_revision(folder: Path) -> None:
    with closing(sqlite3.connect(folder / "kb.sqlite")) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffffffff'")
        connection.commit()


def _missing(archive: Path, out: Path) -> Path:
    return out


def _text(archive: Path, out: Path) -> Path:
    out.write_text("not an archive\n")
    return out


def _plain_gzip(archive: Path, out: Path) -> Path:
    with gzip.open(out, "wb") as handle:
        handle.write(b"just some text, gzipped\n")
    return out


def _truncated(archive: Path, out: Path) -> Path:
    data = archive.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out


def _bad_checksum(archive: Path, out: Path) -> Path:
    """The gzip trailer's CRC changed: only reading to the very end notices."""
    data = bytearray(archive.read_bytes())
    data[-8] ^= 0xFF
    out.write_bytes(bytes(data))
    return out


def _traversal(archive: Path, out: Path) -> Path:
    with tarfile.open(out, "w:gz") as tar:
        data = b"owned"
        info = tarfile.TarInfo("../escaped.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out


def _no_manifest(archive: Path, out: Path) -> Path:
    return _repack(archive, out, lambda folder: (folder / "manifest.json").unlink())


def _corrupted_database(archive: Path, out: Path) -> Path:
    return _repack(archive, out, _corrupt_pages)


def _inconsistent_database(archive: Path, out: Path) -> Path:
    return _repack(archive, out, _swap_index_roots)


def _newer_schema(archive: Path, out: Path) -> Path:
    return _repack(archive, out, _unknown_revision)


BAD_ARCHIVES: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "missing": (_missing, "there is no backup file at"),
    "text": (_text, "is not a kb backup (expected a .tar.gz made by kb backup)"),
    "gzip-not-tar": (_plain_gzip, "is not a kb backup"),
    "truncated": (_truncated, "is truncated"),
    "bad-checksum": (_bad_checksum, "is damaged"),
    "no-manifest": (_no_manifest, "has no manifest.json"),
    "corrupted-database": (_corrupted_database, "is damaged"),
    "failed-integrity-check": (_inconsistent_database, "is damaged: row "),
    "unknown-revision": (
        _newer_schema,
        "schema revision ffffffff, which this version of kb does not know",
    ),
    "path-traversal": (_traversal, "unexpected member '../escaped.txt'"),
}


@pytest.mark.parametrize("kind", list(BAD_ARCHIVES))
def test_restore_refuses_a_bad_archive_and_changes_nothing(
    disk_app: Flask, tmp_path: Path, kind: str
):
    ids = [_add(disk_app, "aardvark")]
    _attach(disk_app, "0a1b.txt", b"original")
    good = tmp_path / "good.tar.gz"
    assert _invoke(disk_app, "backup", "--out", str(good)).exit_code == 0
    ids.append(_add(disk_app, "bulldozer"))  # the current data differs from the backup
    make, message = BAD_ARCHIVES[kind]
    bad = make(good, tmp_path / f"{kind}.tar.gz")
    before, attached = _dump(disk_app), _attachments(disk_app)

    result = _invoke(disk_app, "restore", "--yes", str(bad))

    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: ") and message in last, result.output
    assert "Traceback" not in result.output
    assert _dump(disk_app) == before
    assert _attachments(disk_app) == attached
    assert not (tmp_path / "escaped.txt").exists()
    assert not list(_data_dir(disk_app).glob(".kb-work-*"))
    assert _found(disk_app, "aardvark") + _found(disk_app, "bulldozer") == ids


def test_restore_asks_first_and_no_changes_nothing(disk_app: Flask, tmp_path: Path):
    _add(disk_app, "aardvark")
    archive = tmp_path / "kb.tar.gz"
    assert _invoke(disk_app, "backup", "--out", str(archive)).exit_code == 0
    _add(disk_app, "bulldozer")
    before = _dump(disk_app)

    result = _invoke(disk_app, "restore", str(archive), input="n\n")

    assert result.exit_code == 1
    assert "Replace the database" in result.output and "Aborted!" in result.output
    assert _dump(disk_app) == before
    assert not list(_data_dir(disk_app).glob(".kb-work-*"))
    answered = _invoke(disk_app, "restore", str(archive), input="y\n")
    assert answered.exit_code == 0, answered.output
    with disk_app.app_context():
        assert db.session.scalars(select(Entry.title)).all() == ["The aardvark lesson"]


def test_restore_refuses_while_another_process_reads_the_database(disk_app: Flask, tmp_path: Path):
    """A connection in the middle of a read (a running server) keeps the old database in use:
    is the restore refused, leaving everything as it was?"""
    _add(disk_app, "aardvark")
    _attach(disk_app, "0a1b.txt", b"original")
    archive = tmp_path / "kb.tar.gz"
    assert _invoke(disk_app, "backup", "--out", str(archive)).exit_code == 0
    _add(disk_app, "bulldozer")
    before, attached = _dump(disk_app), _attachments(disk_app)
    with closing(sqlite3.connect(_database(disk_app))) as reader:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM entries").fetchone() == (2,)
        result = _invoke(disk_app, "restore", "--yes", str(archive))
        reader.rollback()
    assert result.exit_code == 1
    assert "is in use by another process" in result.output.strip().splitlines()[-1]
    assert _dump(disk_app) == before
    assert _attachments(disk_app) == attached
    assert not list(_data_dir(disk_app).glob(".kb-work-*"))
