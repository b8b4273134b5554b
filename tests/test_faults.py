"""Fault injection: an importer killed with SIGKILL mid-import, and uploads over the size
limits with CSRF protection on (the search index's faults: ``test_index_faults.py``)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from bench.corpus import write_corpus
from kb import create_app
from kb.extensions import db
from tests.conftest import _test_config
from tests.databases import database_url

PROJECT = Path(__file__).resolve().parent.parent


def _env(data_dir: Path) -> dict[str, str]:
    """The environment of a ``kb`` child process working on ``data_dir`` and its database."""
    return {**os.environ, "KB_DATA_DIR": str(data_dir), "KB_DATABASE_URL": database_url(data_dir)}


def _kb(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``kb`` command line against ``data_dir`` in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "kb", *args],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _entry_count(data_dir: Path) -> int:
    """Entries in the data folder's database."""
    engine = create_engine(database_url(data_dir), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM entries")).scalar_one()
    finally:
        engine.dispose()


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
        env=_env(data_dir),
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
        _test_config(
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


def _post_upload(client: Any, path: str, data: dict[str, Any]) -> Any:
    """Post a multipart form and close the body the test client built for it.

    Werkzeug's test client spools a body over 500 KB into a temporary file and closes it only
    when it follows redirects, so without this a 2 MB upload leaves that file open (a
    ResourceWarning that is the test client's, not the app's)."""
    response = client.post(path, data=data, content_type="multipart/form-data")
    response.request.input_stream.close()
    return response


def _jsonl(size: int) -> bytes:
    line = json.dumps({"kind": "lesson", "title": "x", "body": "y"}) + "\n"
    return (line * (size // len(line) + 1)).encode()[:size]


@pytest.mark.parametrize("size", [4001, 70_000, 2_000_000])
def test_an_attachment_over_the_limit_is_413_with_csrf_on(guarded: Flask, size: int) -> None:
    client, token = _signed_in(guarded, "cora")
    bucp_id = _bucp(guarded, client, token)
    response = _post_upload(
        client,
        f"/bucps/{bucp_id}/attachments",
        {"csrf_token": token, "file": (io.BytesIO(b"a" * size), "notes.txt")},
    )
    assert response.status_code == 413, response.get_data(as_text=True)[:2000]
    assert "larger than the" in response.get_data(as_text=True)
    fits = _post_upload(
        client,
        f"/bucps/{bucp_id}/attachments",
        {"csrf_token": token, "file": (io.BytesIO(b"a" * 100), "notes.txt")},
    )
    assert fits.status_code == 303, fits.get_data(as_text=True)[:2000]


@pytest.mark.parametrize("size", [4001, 70_000, 2_000_000])
def test_a_web_import_over_the_limit_is_413_with_csrf_on(guarded: Flask, size: int) -> None:
    client, token = _signed_in(guarded, "cu")
    response = _post_upload(
        client,
        "/import",
        {"csrf_token": token, "format": "", "file": (io.BytesIO(_jsonl(size)), "big.jsonl")},
    )
    assert response.status_code == 413, response.get_data(as_text=True)[:2000]
    assert "Split it and try again" in response.get_data(as_text=True)


def _streamed(app: Flask, client: Any, path: str, fields: dict[str, Any], *, ended: bool) -> Any:
    """Post a multipart form with no ``Content-Length``, as a chunked upload arrives, straight
    through WSGI (the test client always sets the length). ``ended``: the server de-chunked the
    body and ends the stream itself (``wsgi.input_terminated``, as gunicorn and Werkzeug's
    server do); otherwise the body cannot be read safely."""
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import EnvironBuilder
    from werkzeug.test import encode_multipart
    from werkzeug.test import run_wsgi_app
    from werkzeug.wrappers import Response

    values = {
        name: FileStorage(io.BytesIO(value[0]), filename=value[1])
        if isinstance(value, tuple)
        else value
        for name, value in fields.items()
    }
    boundary, body = encode_multipart(values)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    builder = EnvironBuilder(
        path=path,
        method="POST",
        input_stream=io.BytesIO(body),
        content_type=f'multipart/form-data; boundary="{boundary}"',
        headers={"Transfer-Encoding": "chunked", "Cookie": f"{cookie.key}={cookie.value}"},
    )
    environ = builder.get_environ()
    del environ["CONTENT_LENGTH"]
    if ended:
        environ["wsgi.input_terminated"] = True
    app_iter, status, headers = run_wsgi_app(app, environ, buffered=True)
    environ["wsgi.input"].close()
    return Response(b"".join(app_iter), status=status, headers=headers)


def test_uploads_without_a_length_are_411_with_the_page(guarded: Flask) -> None:
    """Is a chunked upload the server cannot end answered 411 with a clear message (not 400)?"""
    client, token = _signed_in(guarded, "cu")
    bucp_id = _bucp(guarded, client, token)
    for path, fields in (
        ("/import", {"csrf_token": token, "format": "", "file": (_jsonl(200), "a.jsonl")}),
        (f"/bucps/{bucp_id}/attachments", {"csrf_token": token, "file": (b"a", "notes.txt")}),
    ):
        response = _streamed(guarded, client, path, fields, ended=False)
        page = response.get_data(as_text=True)
        assert response.status_code == 411, page[:2000]
        assert "no Content-Length header" in page and "<h1>" in page


def test_streamed_uploads_are_read_up_to_the_limit(guarded: Flask) -> None:
    """With the stream ended by the server, a small chunked upload works and one over the limit
    is 413, the file Werkzeug was spooling it into closed (a 1 MB limit, so it reaches disk)."""
    guarded.config.update(IMPORT_MAX_BYTES=1_000_000, BUCP_ATTACHMENT_MAX_BYTES=1_000_000)
    client, token = _signed_in(guarded, "cu")
    bucp_id = _bucp(guarded, client, token)
    attach = f"/bucps/{bucp_id}/attachments"
    small = _streamed(
        guarded,
        client,
        "/import",
        {"csrf_token": token, "format": "", "file": (_jsonl(200), "a.jsonl")},
        ended=True,
    )
    assert small.status_code == 303, small.get_data(as_text=True)[:2000]
    fits = {"csrf_token": token, "file": (b"a" * 100, "notes.txt")}
    assert _streamed(guarded, client, attach, fits, ended=True).status_code == 303
    for path, fields in (
        ("/import", {"csrf_token": token, "format": "", "file": (_jsonl(2_000_000), "b.jsonl")}),
        (attach, {"csrf_token": token, "file": (b"a" * 2_000_000, "notes.txt")}),
    ):
        response = _streamed(guarded, client, path, fields, ended=True)
        assert response.status_code == 413, response.get_data(as_text=True)[:2000]
