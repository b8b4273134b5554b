"""The curators' web import: upload, column mapping, preview, confirm, summary."""

from __future__ import annotations

import io
import json
import os
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select

from kb.extensions import db
from kb.models import AuditEvent
from kb.models import Entry

DATA = Path(__file__).parent / "data"
CSV = (
    "Lesson title;Text;Category;Play;Colour\r\n"
    "Keep a steward list;Publish who looks after each dataset.;Data Requests;2;red\r\n"
    "Book the architect;Invite security to the kickoff.;Security Reviews;7;blue\r\n"
)


def _upload(client, data: bytes, name: str, fmt: str = ""):
    return client.post(
        "/import",
        data={"file": (io.BytesIO(data), name), "format": fmt},
        content_type="multipart/form-data",
    )


def _token(response) -> str:
    return re.search(r"/import/([A-Za-z0-9_-]{24})/", response.headers["Location"]).group(1)


def _count(app):
    with app.app_context():
        return db.session.scalar(select(func.count(Entry.id)))


@pytest.mark.parametrize(("name", "status"), [(None, 303), ("cora", 403), ("cu", 200), ("ad", 200)])
def test_import_page_needs_a_curator(app, users, login, name, status):
    response = login(name).get("/import")
    assert response.status_code == status
    if status == 303:
        assert "/login" in response.headers["Location"]


def test_nav_shows_import_to_curators_only(app, users, login):
    assert 'href="/import"' in login("cu").get("/").get_data(as_text=True)
    assert 'href="/import"' not in login("cora").get("/").get_data(as_text=True)


def test_csv_import_maps_columns_previews_and_imports(app, users, login):
    client = login("cu")
    response = _upload(client, CSV.encode("cp1252"), "dept.csv")
    assert response.status_code == 303
    token = _token(response)
    assert response.headers["Location"].endswith(f"/import/{token}/columns")
    stored = Path(app.config["DATA_DIR"]) / "imports"
    assert (stored / f"{token}.data").read_bytes() == CSV.encode("cp1252")
    columns = client.get(f"/import/{token}/columns").get_data(as_text=True)
    assert "separated by semicolons" in columns
    # pre-filled by name: Category → categories, Play → plays, Text → body; others ignored
    assert re.search(r'name="column-2">.*?<option value="categories" selected>', columns, re.S)
    assert re.search(r'name="column-3">.*?<option value="plays" selected>', columns, re.S)
    assert re.search(r'name="column-1">.*?<option value="body" selected>', columns, re.S)
    assert not re.search(r'name="column-0">.*?selected>', columns.split('name="column-1"')[0], re.S)
    twice = {"column-0": "title", "column-1": "title", "column-2": "categories"}
    refused = client.post(f"/import/{token}/columns", data=twice)
    assert refused.status_code == 422
    assert "title is already taken by column 1." in refused.get_data(as_text=True)
    assert '<option value="lesson" selected>Lessons</option>' in columns  # rows without a kind
    mapping = {
        "default_kind": "lesson",
        "column-0": "title",
        "column-1": "body",
        "column-2": "categories",
        "column-3": "plays",
    }
    saved = client.post(f"/import/{token}/columns", data=mapping)
    assert saved.status_code == 303 and saved.headers["Location"].endswith("/preview")
    preview = client.get(f"/import/{token}/preview")
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "2 to create, 0 to update, 0 unchanged, 0 refused, 0 with errors" in text
    assert "Keep a steward list" in text and "Import 2 records" in text
    assert _count(app) == 0  # nothing written before the confirmation
    done = client.post(f"/import/{token}/confirm")
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/import/{token}/done")
    summary = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "2 created, 0 updated, 0 unchanged, 0 refused" in summary
    assert "Book the architect" in summary
    assert not (stored / f"{token}.data").exists()
    with app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.title == "Book the architect"))
        assert entry.author.username == "cu"
        assert [c.slug for c in entry.categories] == ["security-reviews"]
        assert [p.number for p in entry.plays] == [7] and entry.status == "draft"
        actions = set(db.session.scalars(select(AuditEvent.action)))
        assert "entry.create" in actions


def test_preview_lists_per_row_errors_and_offers_no_import(app, users, login):
    client = login("cu")
    token = _token(_upload(client, (DATA / "lessons-page-bad.md").read_bytes(), "page.md"))
    preview = client.get(f"/import/{token}/preview")
    text = preview.get_data(as_text=True)
    assert "Nothing can be imported while a record has a problem" in text
    assert "plays: 9 is not a play" in text
    assert "Line 9: title: is required; body: is required" in text
    assert "categories: unknown categories: Budget Planning" in text
    assert "/confirm" not in text
    confirm = client.post(f"/import/{token}/confirm")
    assert confirm.status_code == 422
    assert "Nothing was imported: 3 record(s) are invalid" in confirm.get_data(as_text=True)
    assert _count(app) == 0


def test_markdown_preview_flags_duplicates_and_refused_rows_can_be_forced(
    app, users, login, make_entry
):
    make_entry(title="Check the open data portal first", categories=["data-requests"])
    client = login("cu")
    page = (DATA / "lessons-page.md").read_bytes()
    token = _token(_upload(client, page, "page.md"))
    text = client.get(f"/import/{token}/preview").get_data(as_text=True)
    assert "Likely duplicate of entry 1 “Check the open data portal first” (same title)" in text
    assert client.post(f"/import/{token}/confirm").status_code == 303
    with app.app_context():  # someone edits an imported entry (revision 2)
        entry = db.session.scalar(select(Entry).where(Entry.title.startswith("Book the security")))
        entry.version = 2
        db.session.commit()
    changed = page.replace(b"Controls are agreed early", b"Controls are agreed very early")
    token = _token(_upload(client, changed, "page.md"))
    text = client.get(f"/import/{token}/preview").get_data(as_text=True)
    assert "0 to create, 0 to update, 3 unchanged, 1 refused" in text
    assert f"/import/{token}/preview?force=1" in text
    forced = client.get(f"/import/{token}/preview?force=1").get_data(as_text=True)
    assert "1 to update" in forced and 'name="force" value="1"' in forced
    assert client.post(f"/import/{token}/confirm", data={"force": "1"}).status_code == 303
    summary = client.get(f"/import/{token}/done").get_data(as_text=True)
    assert "0 created, 1 updated, 3 unchanged" in summary


def test_upload_problems(app, users, login):
    client = login("cu")
    missing = client.post("/import", data={}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "Choose a file" in missing.get_data(as_text=True)
    empty = _upload(client, b"  \n", "empty.json")
    assert empty.status_code == 422 and "empty.json is empty." in empty.get_data(as_text=True)
    unknown = _upload(client, b"[]", "data.txt")
    assert unknown.status_code == 422
    assert "Cannot tell the format of data.txt" in unknown.get_data(as_text=True)
    chosen = _upload(client, json.dumps([]).encode(), "data.txt", fmt="json")
    assert chosen.status_code == 303
    assert "The file holds no records" in client.get(chosen.headers["Location"]).get_data(
        as_text=True
    )


def test_upload_over_the_size_limit_is_413(app, users, login):
    app.config["IMPORT_MAX_BYTES"] = 1000
    client = login("cu")
    response = _upload(client, b"x" * 70_000, "big.jsonl")
    assert response.status_code == 413
    assert "larger than the" in response.get_data(as_text=True)
    response = _upload(client, b"[" + b" " * 2000 + b"]", "fits-the-request.json")
    assert response.status_code == 413  # the request fits the overhead; the file does not


def test_uploads_belong_to_their_curator_and_old_ones_are_cleaned(app, users, login):
    owner, other = login("cu"), login("ad")
    token = _token(_upload(owner, b"[]", "a.json"))
    assert other.get(f"/import/{token}/preview").status_code == 404
    assert owner.get("/import/..%2F..%2Fsecret_key/preview").status_code == 404
    folder = Path(app.config["DATA_DIR"]) / "imports"
    old = time.time() - 2 * 24 * 3600
    for path in folder.iterdir():
        os.utime(path, (old, old))
    assert owner.get("/import").status_code == 200
    assert list(folder.iterdir()) == []
    assert owner.get(f"/import/{token}/preview").status_code == 404


def test_csrf_failure_re_renders_each_step_with_a_message(app, users, login):
    client = login("cu")
    token = _token(_upload(client, CSV.encode(), "dept.csv"))
    app.config["WTF_CSRF_ENABLED"] = True
    upload = _upload(client, CSV.encode(), "dept.csv")
    assert upload.status_code == 400
    assert "The form had expired" in upload.get_data(as_text=True)
    columns = client.post(f"/import/{token}/columns", data={"column-0": "title"})
    assert columns.status_code == 400
    text = columns.get_data(as_text=True)
    assert "The form had expired" in text
    assert re.search(r'name="column-0">.*?<option value="title" selected>', text, re.S)
    confirm = client.post(f"/import/{token}/confirm")
    assert confirm.status_code == 400 and "The form had expired" in confirm.get_data(as_text=True)
    assert _count(app) == 0
