"""Fault injection: the search index deleted or corrupted under a running app, an importer
killed with SIGKILL mid-import, and uploads over the size limits with CSRF protection on."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from bench.corpus import write_corpus
from kb import create_app
from kb.entries.services import create_entry
from kb.entries.validation import taxonomy_lookups
from kb.entries.validation import validate_record
from kb.extensions import db
from kb.seed import system_user

PROJECT = Path(__file__).resolve().parent.parent


def _config(data_dir: Path, **extra: Any) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATA_DIR": str(data_dir),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{data_dir / 'kb.sqlite'}",
        "SECRET_KEY": "test-secret",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        **extra,
    }


@pytest.fixture
def disk_app(tmp_path: Path) -> Iterator[Flask]:
    """An app made by ``kb init`` with its search index on disk, and three published lessons."""
    app = create_app(_config(tmp_path, WTF_CSRF_ENABLED=False))
    assert app.test_cli_runner().invoke(args=["init"]).exit_code == 0
    with app.app_context():
        lookups = taxonomy_lookups(db.session)
        for word in ("aardvark", "bulldozer", "cormorant"):
            record = {
                "kind": "lesson",
                "title": f"The {word} lesson",
                "body": f"Everything about the {word}.",
                "categories": ["security-reviews"],
                "status": "published",
            }
            create_entry(
                db.session, validate_record(record, lookups), author=system_user(db.session)
            )
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _found(app: Flask, word: str) -> list[int]:
    response = app.test_client().get("/api/v1/search", query_string={"q": word})
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return [result["id"] for result in response.get_json()["results"]]


def _index_status(app: Flask) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["index", "status"])
    return result.exit_code, result.output


def _index_dir(app: Flask) -> Path:
    return Path(app.config["SEARCH_INDEX_DIR"])


def _kb(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``kb`` command line against ``data_dir`` in a child process."""
    env = {**os.environ, "KB_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "kb", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _entry_count(data_dir: Path) -> int:
    """Entries in the data folder's SQLite database."""
    with closing(sqlite3.connect(data_dir / "kb.sqlite")) as connection:
        return connection.execute("SELECT count(*) FROM entries").fetchone()[0]


@pytest.mark.parametrize("delay", [0.8, 2.5])
def test_an_import_killed_mid_way_is_all_or_nothing(tmp_path: Path, delay: float) -> None:
    data_dir = tmp_path / "data"
    assert _kb(data_dir, "init").returncode == 0
    records = 1500
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, records, seed=7, jobs=1)
    before = _entry_count(data_dir)

    importer = subprocess.Popen(
        [sys.executable, "-m", "kb", "import", str(corpus)],
        cwd=PROJECT,
        env={**os.environ, "KB_DATA_DIR": str(data_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(delay)
        finished_first = importer.poll() is not None
        importer.send_signal(signal.SIGKILL)
        importer.wait(timeout=10)
    finally:
        if importer.poll() is None:
            importer.kill()
            importer.wait()

    added = _entry_count(data_dir) - before
    assert added in (0, records), f"half an import applied: {added} of {records} records"
    if not finished_first:
        assert importer.returncode == -signal.SIGKILL
    sync = _kb(data_dir, "index", "sync")
    assert sync.returncode == 0, sync.stdout + sync.stderr
    status = _kb(data_dir, "index", "status")
    assert status.returncode == 0, status.stdout + status.stderr


# --- uploads over the size limits, with CSRF protection on ----------------------------------


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Flask]:
    """A fresh app with CSRF protection on (as in production) and small upload limits."""
    app = create_app(
        _config(
            tmp_path,
            WTF_CSRF_ENABLED=True,
            SEARCH_INDEX_IN_MEMORY=True,
            BUCP_ATTACHMENT_MAX_BYTES=4000,
            IMPORT_MAX_BYTES=4000,
        )
    )
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init"]).exit_code == 0
    for name, role in (("cora", "contributor"), ("cu", "curator")):
        command = ["users", "create", name, "--role", role, "--password", "password-1"]
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _signed_in(app: Flask, name: str) -> tuple[Any, str]:
    import re

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, "the login form carries a CSRF token"
    response = client.post(
        "/login", data={"username": name, "password": "password-1", "csrf_token": token.group(1)}
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page)
    assert token, "pages carry a CSRF token"
    return client, token.group(1)


def _bucp(app: Flask, client: Any, token: str) -> int:
    from kb.models import Department

    with app.app_context():
        department = Department(name="Department of Faults", abbreviation="DOF")
        db.session.add(department)
        db.session.commit()
        department_id = department.id
    response = client.post(
        "/bucps",
        data={
            "csrf_token": token,
            "title": "Faulty uploads",
            "program": "Faults",
            "provider_id": str(department_id),
            "sponsor_role": "Sponsor",
            "coordinator_role": "Coordinator",
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return int(response.headers["Location"].rsplit("/", 1)[-1])


@pytest.mark.parametrize("size", [4001, 70_000])
def test_an_attachment_over_the_limit_is_413_with_csrf_on(guarded: Flask, size: int) -> None:
    client, token = _signed_in(guarded, "cora")
    bucp_id = _bucp(guarded, client, token)
    response = client.post(
        f"/bucps/{bucp_id}/attachments",
        data={"csrf_token": token, "file": (io.BytesIO(b"a" * size), "notes.txt")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413, response.get_data(as_text=True)[:2000]
    fits = client.post(
        f"/bucps/{bucp_id}/attachments",
        data={"csrf_token": token, "file": (io.BytesIO(b"a" * 100), "notes.txt")},
        content_type="multipart/form-data",
    )
    assert fits.status_code == 303, fits.get_data(as_text=True)[:2000]


@pytest.mark.parametrize("size", [4001, 70_000])
def test_a_web_import_over_the_limit_is_413_with_csrf_on(guarded: Flask, size: int) -> None:
    client, token = _signed_in(guarded, "cu")
    line = json.dumps({"kind": "lesson", "title": "x", "body": "y"}) + "\n"
    body = (line * (size // len(line) + 1)).encode()[:size]
    response = client.post(
        "/import",
        data={"csrf_token": token, "format": "", "file": (io.BytesIO(body), "big.jsonl")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413, response.get_data(as_text=True)[:2000]
