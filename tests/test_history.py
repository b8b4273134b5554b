"""Revision history: listing, diffs, restore, redaction (gone from page, history and search)."""

from __future__ import annotations

import json

from sqlalchemy import select

from kb import search
from kb.extensions import db
from kb.models import AuditEvent
from kb.models import Entry


def _text(response) -> str:
    return response.get_data(as_text=True)


def _revise(app, runner, tmp_path, entry, **changes):
    """A new revision through the importer (the edit forms come with issue 5)."""
    with app.app_context():
        current = db.session.get(Entry, entry.id)
        record = {
            "uid": current.uid,
            "kind": "lesson",
            "title": current.title,
            "body": current.body,
            "categories": ["security-reviews"],
            "revision": current.version,
            **changes,
        }
    path = tmp_path / "revision.jsonl"
    path.write_text(json.dumps(record) + "\n")
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output


def test_history_lists_revisions_and_diffs_the_latest(
    app, runner, tmp_path, make_entry, users, login
):
    entry = make_entry(body="Invite the security office to the kickoff meeting.")
    _revise(
        app,
        runner,
        tmp_path,
        entry,
        body="Invite the information security office to the first meeting.",
    )
    page = _text(app.test_client().get(f"/entries/{entry.id}/history"))
    assert "History of" in page and "Imported" in page
    assert "Changes from revision 1 to 2" in page
    assert "the<ins> information</ins> security" in page
    assert "<del>kickoff</del>" in page and "<ins>first</ins>" in page
    same = _text(app.test_client().get(f"/entries/{entry.id}/history?a=2&b=2"))
    assert "Changes from" not in same


def test_diff_escapes_html(app, runner, tmp_path, make_entry):
    entry = make_entry(body="Plain text.")
    _revise(app, runner, tmp_path, entry, body="Plain <script>alert(1)</script> text.")
    page = _text(app.test_client().get(f"/entries/{entry.id}/history?a=1&b=2"))
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_restore_makes_a_new_revision(app, runner, tmp_path, make_entry, users, login):
    entry = make_entry(title="Original title")
    _revise(app, runner, tmp_path, entry, title="Changed title")
    assert login("cora").post(f"/entries/{entry.id}/revisions/1/restore").status_code == 403
    response = login("cu").post(f"/entries/{entry.id}/revisions/1/restore")
    assert response.status_code == 303
    with app.app_context():
        restored = db.session.get(Entry, entry.id)
        assert restored.title == "Original title" and restored.version == 3
        assert [r.note for r in restored.revisions] == [
            "Created",
            "Imported",
            "Restored revision 1",
        ]
    again = login("cu").post(f"/entries/{entry.id}/revisions/3/restore")
    assert again.status_code == 409


def test_readers_do_not_see_unpublished_revisions(app, users, login, make_entry):
    entry = make_entry(author_id=users["cora"], status="draft")
    assert app.test_client().get(f"/entries/{entry.id}/history").status_code == 404
    assert login("cora").get(f"/entries/{entry.id}/history").status_code == 200


def test_redaction_removes_the_text_everywhere(app, runner, tmp_path, make_entry, users, login):
    entry = make_entry(
        title="Lesson naming Jane Roe", body="Call Jane Roe at 555-0100 about transfers."
    )
    assert (
        login("cu")
        .post(f"/entries/{entry.id}/revisions/1/redact", data={"reason": "x"})
        .status_code
        == 403
    )
    missing = login("ad").post(f"/entries/{entry.id}/revisions/1/redact", data={"reason": " "})
    assert missing.status_code == 422
    done = login("ad").post(
        f"/entries/{entry.id}/revisions/1/redact", data={"reason": "Personal phone number"}
    )
    assert done.status_code == 303
    client = app.test_client()
    assert "Jane Roe" not in _text(client.get(f"/entries/{entry.id}"))
    assert "555-0100" not in _text(login("ad").get(f"/entries/{entry.id}/history"))
    with app.app_context():
        assert search.search(db.session, q="Jane Roe").total == 0
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "revision.redact"))
        assert event.detail == {"revision": 1, "reason": "Personal phone number"}
        assert "555-0100" not in json.dumps(event.detail)
        assert db.session.get(Entry, entry.id).revisions[0].redacted
    twice = login("ad").post(f"/entries/{entry.id}/revisions/1/redact", data={"reason": "again"})
    assert twice.status_code == 409
    assert (
        login("ad")
        .post(f"/entries/{entry.id}/revisions/9/redact", data={"reason": "x"})
        .status_code
        == 404
    )


def test_redacting_the_published_revision_under_a_pending_edit(app, make_entry, users, login):
    entry = make_entry(
        author_id=users["cora"], title="Ring Jane Roe", body="Call Jane Roe on 555-0100."
    )
    edit = {
        "kind": "lesson",
        "title": "Ring the Data Coordinator",
        "body": "Call the program's Data Coordinator.",
        "categories": ["security-reviews"],
        "version": "1",
    }
    assert login("cora").post(f"/entries/{entry.id}", data=edit).status_code == 303  # pending
    reader = app.test_client()
    assert "555-0100" in _text(reader.get(f"/entries/{entry.id}"))
    login("ad").post(f"/entries/{entry.id}/revisions/1/redact", data={"reason": "Phone number"})
    page = _text(reader.get(f"/entries/{entry.id}"))
    assert "555-0100" not in page and "Jane Roe" not in page
    with app.app_context():
        assert search.search(db.session, q="Jane Roe").total == 0
        stored = db.session.get(Entry, entry.id)
        assert stored.revisions[1].snapshot["title"] == "Ring the Data Coordinator"


def test_redacting_a_pending_revision_keeps_the_published_text(app, make_entry, users, login):
    entry = make_entry(author_id=users["cora"], title="Published title", body="Published body.")
    edit = {
        "kind": "lesson",
        "title": "Pending with a name: Jane Roe",
        "body": "Jane Roe wrote this.",
        "categories": ["security-reviews"],
        "version": "1",
    }
    login("cora").post(f"/entries/{entry.id}", data=edit)
    login("ad").post(f"/entries/{entry.id}/revisions/2/redact", data={"reason": "A name"})
    page = _text(app.test_client().get(f"/entries/{entry.id}"))
    assert "Published body." in page
    assert "Jane Roe" not in _text(login("cu").get(f"/entries/{entry.id}/history"))
