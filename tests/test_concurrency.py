"""Concurrency faults on SQLite: a database locked past the busy timeout (503, one CLI line),
two servers and the importer writing at once (no lost update), and a server killed with
SIGKILL mid-write (nothing half-applied; the index catches up at start-up)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from kb import create_app
from kb.auth.services import create_user
from kb.auth.tokens import create_token
from kb.extensions import database_busy
from kb.extensions import db
from kb.models import User
from kb.seed import install_taxonomy
from tests.conftest import _test_config
from tests.test_openapi import check

PROJECT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"
GUNICORN = Path(sys.executable).with_name("gunicorn")
#: Runs the real command line inside ``kb.errors.cli_errors``, as ``kb.cli.main`` should.
LESSON = {
    "kind": "lesson",
    "title": "Book the security review before the kickoff",
    "body": "Invite the information security office early.",
    "categories": ["security-reviews"],
}


# --- helpers ----------------------------------------------------------------------------------


@contextmanager
def write_lock(database: Path) -> Iterator[sqlite3.Connection]:
    """Hold SQLite's write lock from another connection (``BEGIN IMMEDIATE``) until exit."""
    with closing(sqlite3.connect(database, isolation_level=None, check_same_thread=False)) as c:
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        finally:
            if c.in_transaction:
                c.execute("ROLLBACK")


def _rows(database: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(database)) as connection:
        return connection.execute(sql, params).fetchall()


def _count(database: Path, table: str) -> int:
    return _rows(database, f"SELECT count(*) FROM {table}")[0][0]  # noqa: S608 - fixed names


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "KB_DATA_DIR": str(data_dir), **extra}


def _free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Answer:
    """One HTTP answer (``status`` 0: the connection failed)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


def call(port: int, method: str, path: str, body: Any = None, token: str = "") -> Answer:
    """One request to a server on localhost; never raises for HTTP or connection errors."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        answer_headers = {name.lower(): value for name, value in response.getheaders()}
    except (OSError, http.client.HTTPException):
        return Answer(0)
    finally:
        connection.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return Answer(response.status, answer_headers, parsed)


class Server:
    """A server process on a free port: ``kb serve`` (waitress) or gunicorn with workers."""

    def __init__(self, data_dir: Path, log: Path, *, index: Path, gunicorn: bool = False) -> None:
        self.data_dir, self.log, self.index, self.gunicorn = data_dir, log, index, gunicorn
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        """Start the server and wait until it answers."""
        return self.launch().wait_ready()

    def launch(self) -> Server:
        """Start the server process (``wait_ready`` waits for it)."""
        self.port = _free_port()
        if self.gunicorn:
            command = [
                str(GUNICORN),
                *("--workers", "2", "--worker-class", "gthread", "--threads", "4"),
                *(
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--graceful-timeout",
                    "2",
                    "--preload",
                    "wsgi:app",
                ),
            ]
        else:
            command = [sys.executable, "-m", "kb", "serve", "--port", str(self.port)]
        env = _env(self.data_dir, KB_SEARCH_INDEX_DIR=str(self.index))
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def wait_ready(self) -> Server:
        """Wait (up to a minute) until ``/healthz`` answers 200."""
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.log.read_text()[-3000:]}")
            if call(self.port, "GET", "/healthz").status == 200:
                return self
            time.sleep(0.1)
        raise AssertionError(f"the server did not answer in time: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind (open transactions, index writers, sockets)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


def _disk_app(data_dir: Path, **extra: Any) -> Flask:
    """An app in this process on a server's data folder (for its CLI commands and checks)."""
    return create_app(
        {
            "DATA_DIR": str(data_dir),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{data_dir / 'kb.sqlite'}",
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            **extra,
        }
    )


def _dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A data folder made by ``kb init`` with a curator ``cu`` and an API token of theirs."""
    data_dir = tmp_path_factory.mktemp("template") / "data"
    app = _disk_app(data_dir)
    try:
        runner = app.test_cli_runner()
        for args in (
            ["init"],
            ["users", "create", "cu", "--role", "curator", "--password", PASSWORD],
        ):
            result = runner.invoke(args=args)
            assert result.exit_code == 0, result.output
        with app.app_context():
            user = db.session.query(User).filter_by(username="cu").one()
            token = create_token(db.session, user, name="concurrency").secret
            db.session.commit()
    finally:
        _dispose(app)
    shutil.rmtree(data_dir / "search-index", ignore_errors=True)  # each test's servers make theirs
    return data_dir, token


def _data_dir(template_dir: tuple[Path, str], tmp_path: Path) -> tuple[Path, str]:
    source, token = template_dir
    data_dir = tmp_path / "data"
    shutil.copytree(source, data_dir)
    return data_dir, token


def _word(number: int) -> str:
    """A made-up word per number (letters only, so no analyzer splits it)."""
    letters = ""
    while True:
        number, rest = divmod(number, 26)
        letters += "abcdefghijklmnopqrstuvwxyz"[rest]
        if not number:
            return "zqx" + letters


def _searchable(port: int, word: str) -> set[int]:
    """Ids of every entry the search API finds for ``word`` (all pages)."""
    found: set[int] = set()
    for page in range(1, 100):
        answer = call(port, "GET", f"/api/v1/search?q={word}&per_page=100&page={page}&facets=false")
        assert answer.status == 200, answer.body
        found |= {result["id"] for result in answer.body["results"]}
        if page * 100 >= answer.body["total"]:
            return found
    raise AssertionError("too many pages")


def _index_status(data_dir: Path, index: Path) -> tuple[int, str]:
    """``kb index status`` for the index in folder ``index``: exit code and output."""
    app = _disk_app(data_dir, SEARCH_INDEX_DIR=str(index))
    try:
        result = app.test_cli_runner().invoke(args=["index", "status"])
    finally:
        _dispose(app)
    return result.exit_code, result.output


def _assert_whole(database: Path) -> None:
    """Nothing half-applied: every entry has revisions 1..version, its creation audited and
    an outbox event."""
    entries = _rows(database, "SELECT id, version FROM entries")
    for entry_id, version in entries:
        numbers = [
            n
            for (n,) in _rows(database, "SELECT number FROM revisions WHERE entry_id = ?", entry_id)
        ]
        assert sorted(numbers) == list(range(1, version + 1)), (entry_id, version, numbers)
        created = _rows(
            database,
            "SELECT count(*) FROM audit_events WHERE action = 'entry.create' AND object_id = ?",
            entry_id,
        )[0][0]
        assert created == 1, entry_id
        events = _rows(
            database,
            "SELECT count(*) FROM index_events WHERE entity = 'entry' AND entity_id = ?",
            entry_id,
        )[0][0]
        assert events >= 1, entry_id
    newest = _rows(database, "SELECT seq FROM index_counter")[0][0]
    assert newest == _rows(database, "SELECT max(seq) FROM index_events")[0][0]


# --- 1. a database locked past the busy timeout -------------------------------------------------


@pytest.fixture
def locked_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on a SQLite file with a 200 ms busy timeout, a contributor and a curator."""
    app = create_app(
        _test_config(
            tmp_path,
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'kb.sqlite'}",
            SEARCH_INDEX_IN_MEMORY=True,
            SQLITE_BUSY_TIMEOUT_MS=200,
        )
    )
    with app.app_context():
        db.create_all()
        install_taxonomy(db.session)
        for name, role in (("cora", "contributor"), ("cu", "curator")):
            create_user(db.session, name, role=role, password=PASSWORD)
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _token(app: Flask, name: str) -> dict[str, str]:
    with app.app_context():
        user = db.session.query(User).filter_by(username=name).one()
        made = create_token(db.session, user, name="test")
        db.session.commit()
        return {"Authorization": f"Bearer {made.secret}"}


def _database(app: Flask) -> Path:
    return Path(app.config["DATA_DIR"]) / "kb.sqlite"


def _signed_in(app: Flask, name: str) -> Any:
    client = app.test_client()
    response = client.post("/login", data={"username": name, "password": PASSWORD})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return client


def test_busy_is_recognised_from_sqlite_codes_and_postgres_states() -> None:
    from sqlalchemy.exc import OperationalError

    class PgError(Exception):
        def __init__(self, sqlstate: str) -> None:
            self.sqlstate = sqlstate

    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorcode = 5  # type: ignore[attr-defined]
    disk = sqlite3.OperationalError("disk I/O error")
    disk.sqlite_errorcode = 10  # type: ignore[attr-defined]
    assert database_busy(OperationalError("UPDATE", {}, locked))
    assert database_busy(
        OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))
    )
    assert not database_busy(OperationalError("UPDATE", {}, disk))
    for state in ("40001", "40P01", "55P03"):
        assert database_busy(OperationalError("UPDATE", {}, PgError(state)))
    assert not database_busy(OperationalError("UPDATE", {}, PgError("23505")))
    assert not database_busy(ValueError("database is locked"))


def test_an_api_write_on_a_locked_database_is_503_then_succeeds(locked_app: Flask) -> None:
    headers = _token(locked_app, "cu")
    client = locked_app.test_client()
    database = _database(locked_app)
    before = _count(database, "entries")
    with write_lock(database):
        refused = client.post("/api/v1/entries", json=LESSON, headers=headers)
        assert refused.status_code == 503, refused.get_data(as_text=True)[:2000]
        assert refused.headers["Retry-After"].isdigit()
        error = refused.get_json()["error"]
        assert error["code"] == 503 and "nothing was saved" in error["message"]
        openapi = client.get("/api/v1/openapi.json").get_json()
        check(openapi, refused, "/api/v1/entries", "post")
    assert _count(database, "entries") == before
    created = client.post("/api/v1/entries", json=LESSON, headers=headers)
    assert created.status_code == 201, created.get_data(as_text=True)[:2000]
    entry_id = created.get_json()["id"]

    patch = {"version": 1, "summary": "Changed while the database was locked."}
    with write_lock(database):
        refused = client.patch(f"/api/v1/entries/{entry_id}", json=patch, headers=headers)
        assert refused.status_code == 503, refused.get_data(as_text=True)[:2000]
        assert "Retry-After" in refused.headers
    assert _rows(database, "SELECT version, summary FROM entries WHERE id = ?", entry_id) == [
        (1, "")
    ]
    applied = client.patch(f"/api/v1/entries/{entry_id}", json=patch, headers=headers)
    assert applied.status_code == 200, applied.get_data(as_text=True)[:2000]
    assert applied.headers["Entry-Version"] == "2"
    assert _count(database, "revisions") == 2


def test_a_form_post_on_a_locked_database_keeps_the_input(locked_app: Flask) -> None:
    client = _signed_in(locked_app, "cora")
    database = _database(locked_app)
    form = {
        "kind": "lesson",
        "title": "Ask the data steward before the extract",
        "body": "A steward knows which columns are sensitive.",
        "categories": ["security-reviews"],
    }
    with write_lock(database):
        refused = client.post("/entries", data=form)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 503, page[:2000]
    assert "Retry-After" in refused.headers
    assert "Nothing was saved" in page and "<html" in page
    assert form["title"] in page and form["body"] in page
    assert _count(database, "entries") == 0
    saved = client.post("/entries", data=form)
    assert saved.status_code == 303, saved.get_data(as_text=True)[:2000]
    entry_id = int(saved.headers["Location"].rsplit("/", 1)[-1])

    edit = {**form, "version": "1", "body": "Ask before the extract, not after."}
    with write_lock(database):
        refused = client.post(f"/entries/{entry_id}", data=edit)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 503, page[:2000]
    assert "Nothing was saved" in page and "Ask before the extract, not after." in page
    assert 'name="version"' in page and 'value="1"' in page
    assert _rows(database, "SELECT version FROM entries WHERE id = ?", entry_id) == [(1,)]
    saved = client.post(f"/entries/{entry_id}", data=edit)
    assert saved.status_code == 303, saved.get_data(as_text=True)[:2000]
    assert _rows(database, "SELECT version, body FROM entries WHERE id = ?", entry_id) == [
        (2, edit["body"])
    ]


def test_an_htmx_write_on_a_locked_database_gets_a_503_fragment(locked_app: Flask) -> None:
    client = _signed_in(locked_app, "cora")
    database = _database(locked_app)
    form = {**LESSON, "kind": "lesson"}
    saved = client.post("/entries", data=form)
    assert saved.status_code == 303
    entry_id = int(saved.headers["Location"].rsplit("/", 1)[-1])
    with write_lock(database):
        refused = client.post(f"/entries/{entry_id}/submit", headers={"HX-Request": "true"})
    fragment = refused.get_data(as_text=True)
    assert refused.status_code == 503, fragment[:2000]
    assert 'id="error"' in fragment and "<html" not in fragment
    assert "nothing was saved" in fragment and "Retry-After" in refused.headers
    assert _rows(database, "SELECT status FROM entries WHERE id = ?", entry_id) == [("draft",)]
    done = client.post(f"/entries/{entry_id}/submit", headers={"HX-Request": "true"})
    assert done.status_code == 303
    assert _rows(database, "SELECT status FROM entries WHERE id = ?", entry_id) == [("in_review",)]


def test_a_lock_released_within_the_busy_timeout_just_waits(locked_app: Flask) -> None:
    locked_app.config["SQLITE_BUSY_TIMEOUT_MS"] = 20_000
    with locked_app.app_context():
        db.engine.dispose()  # new connections take the longer timeout
    headers = _token(locked_app, "cu")
    database = _database(locked_app)
    with write_lock(database) as holder:
        release = threading.Timer(0.3, holder.execute, ("ROLLBACK",))
        release.start()
        try:
            created = locked_app.test_client().post("/api/v1/entries", json=LESSON, headers=headers)
        finally:
            release.join(timeout=30)
    assert created.status_code == 201, created.get_data(as_text=True)[:2000]
    assert _count(database, "entries") == 1


def test_the_cli_on_a_locked_database_exits_with_one_line(
    locked_app: Flask, tmp_path: Path
) -> None:
    database = _database(locked_app)
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({**LESSON, "status": "published"}) + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "kb", "import", str(records)]
    env = _env(database.parent, KB_SQLITE_BUSY_TIMEOUT_MS="200")
    with write_lock(database):
        refused = subprocess.run(
            command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120
        )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr
    lines = [line for line in refused.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "database is busy" in lines[0], refused.stderr
    assert _count(database, "entries") == 0
    imported = locked_app.test_cli_runner().invoke(args=["import", str(records)])
    assert imported.exit_code == 0, imported.output
    assert _count(database, "entries") == 1


# --- 2. two servers and the importer writing at once --------------------------------------------

#: Per editor thread (6 of them, all editing one entry), per creator thread (2), and imported.
EDITS, CREATIONS, IMPORTED = 6, 8, 60


@dataclass
class Tally:
    """What the writers saw, shared by the threads (list appends are atomic)."""

    accepted: list[tuple[str, int, int]] = field(default_factory=list)  # marker, sent, got
    raced: list[tuple[str, int, int]] = field(default_factory=list)  # marker, sent, current
    created: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _editor(ports: list[int], token: str, entry_id: int, worker: int, edits: int, tally: Tally):
    for number in range(edits):
        port = ports[(worker + number) % len(ports)]
        read = call(port, "GET", f"/api/v1/entries/{entry_id}", token=token)
        if read.status != 200:
            tally.errors.append(f"GET {read.status} {read.body}")
            continue
        version = int(read.headers["entry-version"])
        marker = f"edit-{worker}-{number}"
        body = {"version": version, "body": f"Edited as {marker}.", "note": marker}
        answer = call(port, "PATCH", f"/api/v1/entries/{entry_id}", body, token=token)
        if answer.status == 200:
            tally.accepted.append((marker, version, int(answer.headers["entry-version"])))
        elif answer.status == 409:
            tally.raced.append((marker, version, answer.body["error"]["version"]))
        else:
            tally.errors.append(f"PATCH {answer.status} {answer.body}")


def _creator(ports: list[int], token: str, worker: int, count: int, tally: Tally) -> None:
    for number in range(count):
        port = ports[(worker + number) % len(ports)]
        record = {
            **LESSON,
            "title": f"Concurrent lesson {worker}-{number}",
            "body": f"Written at once by several writers: zqxshared {_word(1000 + number)}.",
            "tags": ["race-tag", f"writer-{worker}"],
            "program": "Race Program",
            "status": "published",
        }
        answer = call(port, "POST", "/api/v1/entries", record, token=token)
        if answer.status == 201:
            tally.created.append(answer.body["id"])
        else:
            tally.errors.append(f"POST {answer.status} {answer.body}")


def _import_file(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for number in range(count):
            record = {
                **LESSON,
                "uid": str(uuid.uuid4()),
                "title": f"Imported lesson {number}",
                "body": f"Imported while the servers write: zqxshared {_word(5000 + number)}.",
                "tags": ["race-tag", "imported"],
                "program": "Race Program",
                "status": "published",
            }
            out.write(json.dumps(record) + "\n")


def test_two_servers_and_the_importer_lose_no_update(
    template_dir: tuple[Path, str], tmp_path: Path
) -> None:
    data_dir, token = _data_dir(template_dir, tmp_path)
    database = data_dir / "kb.sqlite"
    indexes = [tmp_path / "index-a", tmp_path / "index-b"]
    servers = [
        Server(data_dir, tmp_path / "a.log", index=indexes[0]),
        # Two gunicorn workers where gunicorn is installed (Linux production), else waitress.
        Server(data_dir, tmp_path / "b.log", index=indexes[1], gunicorn=GUNICORN.exists()),
    ]
    records = tmp_path / "import.jsonl"
    _import_file(records, IMPORTED)
    importer: subprocess.Popen[str] | None = None
    try:
        ports = [server.launch().port for server in servers]
        for server in servers:
            server.wait_ready()
        target = call(ports[0], "POST", "/api/v1/entries", {**LESSON, "status": "published"}, token)
        assert target.status == 201, target.body
        entry_id = target.body["id"]

        tally = Tally()
        threads = [
            threading.Thread(target=_editor, args=(ports, token, entry_id, worker, EDITS, tally))
            for worker in range(6)
        ] + [
            threading.Thread(target=_creator, args=(ports, token, worker, CREATIONS, tally))
            for worker in range(2)
        ]
        importer = subprocess.Popen(
            [sys.executable, "-m", "kb", "import", str(records)],
            cwd=PROJECT,
            env=_env(data_dir, KB_SEARCH_INDEX_DIR=str(tmp_path / "index-cli")),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
            assert not thread.is_alive(), "a writer is stuck"
        out, err = importer.communicate(timeout=120)
        assert importer.returncode == 0, out + err

        print(
            f"\nedits: {len(tally.accepted)} accepted, {len(tally.raced)} refused with 409; "
            f"creations: {len(tally.created)}; errors: {len(tally.errors)}"
        )
        assert tally.errors == []
        assert len(tally.created) == 2 * CREATIONS
        assert len(tally.accepted) + len(tally.raced) == 6 * EDITS
        # Every accepted edit moved the entry on by one, and no two were given the same version.
        assert all(got == sent + 1 for _marker, sent, got in tally.accepted), tally.accepted
        assert len({got for _marker, _sent, got in tally.accepted}) == len(tally.accepted)
        # Every refused edit really was stale.
        assert all(current > sent for _marker, sent, current in tally.raced)
        # Every accepted edit is in the history, as the revision it was told it made.
        history = {
            note: (number, json.loads(snapshot)["body"])
            for note, number, snapshot in _rows(
                database,
                "SELECT note, number, snapshot FROM revisions WHERE entry_id = ?",
                entry_id,
            )
        }
        assert len(history) == len(tally.accepted) + 1
        for marker, _sent, got in tally.accepted:
            assert history[marker] == (got, f"Edited as {marker}.")
        for marker, _sent, _current in tally.raced:
            assert marker not in history
        final = len(tally.accepted) + 1
        assert _rows(database, "SELECT version, body FROM entries WHERE id = ?", entry_id) == [
            (final, max(history.values())[1])
        ]
        _assert_whole(database)

        # Both servers find every created and imported entry (searching catches them up).
        expected = {
            id for (id,) in _rows(database, "SELECT id FROM entries WHERE id != ?", entry_id)
        }
        assert len(expected) == 2 * CREATIONS + IMPORTED
        assert set(tally.created) <= expected
        for port in ports:
            assert _searchable(port, "zqxshared") == expected
        for index in indexes:
            code, output = _index_status(data_dir, index)
            assert code == 0, output
        assert _count(database, "tags") == 2 + 2  # race-tag, imported, writer-0, writer-1
    finally:
        if importer is not None and importer.poll() is None:
            importer.kill()
            importer.communicate(timeout=30)
        for server in servers:
            server.stop()


# --- 3. a server killed with SIGKILL mid-write ---------------------------------------------------


#: SIGKILLs injected, each followed by a restart (each restart costs a server start-up).
KILLS = 2


def _writer(port: int, token: str, worker: int, stop: threading.Event, tally: Tally) -> None:
    """Create entries and edit each once, until the server goes away or ``stop`` is set."""
    number = 0
    while not stop.is_set():
        record = {
            **LESSON,
            "title": f"Lesson {worker}-{number} before the crash",
            "body": f"Written while the server may die: zqxkilled {_word(number)}.",
            "tags": [f"writer-{worker}"],
            "status": "published",
        }
        made = call(port, "POST", "/api/v1/entries", record, token=token)
        if made.status == 0:
            return
        if made.status != 201:
            tally.errors.append(f"POST {made.status} {made.body}")
            continue
        tally.created.append(made.body["id"])
        marker = f"kill-{worker}-{number}"
        body = {"version": 1, "body": f"Edited as {marker}: zqxkilled.", "note": marker}
        edited = call(port, "PATCH", f"/api/v1/entries/{made.body['id']}", body, token=token)
        if edited.status == 0:
            return
        if edited.status == 200:
            tally.accepted.append((marker, 1, int(edited.headers["entry-version"])))
        else:
            tally.errors.append(f"PATCH {edited.status} {edited.body}")
        number += 1


def test_a_server_killed_mid_write_loses_nothing_it_confirmed(
    template_dir: tuple[Path, str], tmp_path: Path
) -> None:
    data_dir, token = _data_dir(template_dir, tmp_path)
    database = data_dir / "kb.sqlite"
    index = tmp_path / "index"
    server = Server(data_dir, tmp_path / "server.log", index=index)
    tally = Tally()
    kills = 0
    try:
        for _round in range(KILLS):
            port = server.start().port
            stop = threading.Event()
            threads = [
                threading.Thread(target=_writer, args=(port, token, worker, stop, tally))
                for worker in range(4)
            ]
            confirmed = len(tally.created)
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 60
            while len(tally.created) < confirmed + 12 and time.monotonic() < deadline:
                time.sleep(0.01)
            server.kill()
            kills += 1
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
                assert not thread.is_alive(), "a writer is stuck"
        # Start-up catches the index up with everything the killed servers committed.
        port = server.start().port
        code, output = _index_status(data_dir, index)
        assert code == 0, output

        print(
            f"\nkills: {kills}; confirmed: {len(tally.created)} creations, "
            f"{len(tally.accepted)} edits; errors: {len(tally.errors)}; "
            f"entries stored: {_count(database, 'entries')}"
        )
        assert tally.errors == []
        stored = {id for (id,) in _rows(database, "SELECT id FROM entries")}
        assert set(tally.created) <= stored
        notes = {
            note: number for note, number in _rows(database, "SELECT note, number FROM revisions")
        }
        for marker, _sent, got in tally.accepted:
            assert notes[marker] == got
        _assert_whole(database)
        assert _searchable(port, "zqxkilled") == stored
        code, output = _index_status(data_dir, index)
        assert code == 0, output
        assert f"documents: {len(stored)}" in output
    finally:
        server.stop()
