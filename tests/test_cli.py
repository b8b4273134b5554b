"""The command line: import, users, index."""

from __future__ import annotations

import json

from sqlalchemy import func
from sqlalchemy import select
from werkzeug.security import check_password_hash

from kb import search
from kb.extensions import db
from kb.models import Entry
from kb.models import Revision
from kb.models import User

GOOD = {
    "kind": "lesson",
    "title": "Keep a shared list of data stewards",
    "body": "Publish who looks after each dataset.",
    "categories": ["Data Requests"],
    "plays": [2],
    "tags": ["Data Stewards"],
    "status": "published",
}
SNIPPET = {
    "kind": "snippet",
    "title": "Quarterly SFTP transfer",
    "body": "Files move every quarter over {{ transfer_method }}.",
    "clause_type": "data-transfer-management",
    "program": "Healthy Habits",
}


def _write(tmp_path, *records, name="records.jsonl"):
    path = tmp_path / name
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _count(app, *where):
    with app.app_context():
        return db.session.scalar(select(func.count(Entry.id)).where(*where))


def test_import_writes_records_and_indexes_them(app, runner, tmp_path):
    result = runner.invoke(args=["import", _write(tmp_path, GOOD, "", SNIPPET)])
    assert result.exit_code == 0, result.output
    assert "Imported: 2 created, 0 updated." in result.output
    with app.app_context():
        lesson = db.session.scalar(select(Entry).where(Entry.kind == "lesson"))
        assert [c.slug for c in lesson.categories] == ["data-requests"]
        assert [t.name for t in lesson.tags] == ["data-stewards"]
        assert lesson.author.username == "kb"
        snippet = db.session.scalar(select(Entry).where(Entry.kind == "snippet"))
        assert snippet.status == "draft" and snippet.program.name == "Healthy Habits"
        assert search.status(app)["documents"] == 2
        found = search.search(db.session, q="stewards")
        assert found.ids == [lesson.id]


def test_import_with_one_bad_record_writes_nothing_and_names_the_line(app, runner, tmp_path):
    bad = {**GOOD, "title": "", "plays": [9], "colour": "red"}
    result = runner.invoke(args=["import", _write(tmp_path, GOOD, bad, "{not json", SNIPPET)])
    assert result.exit_code == 1
    assert "line 2: record: unknown field(s): colour; plays: 9 is not a play" in result.output
    assert "title: is required" in result.output
    assert "line 3: record: not valid JSON" in result.output
    assert "3 record(s) are invalid" not in result.output
    assert "2 record(s) are invalid; nothing was imported" in result.output
    assert _count(app) == 0


def test_import_dry_run_writes_nothing(app, runner, tmp_path):
    result = runner.invoke(args=["import", "--dry-run", _write(tmp_path, GOOD, SNIPPET)])
    assert result.exit_code == 0
    assert "Dry run: 2 to create, 0 to update; nothing written." in result.output
    assert _count(app) == 0


def test_import_matches_on_uid_and_refuses_older_revisions(app, runner, tmp_path):
    uid = "0b7f3f6e-1c4e-4a0b-9f51-3a2d2c3b4a11"
    assert runner.invoke(args=["import", _write(tmp_path, {**GOOD, "uid": uid})]).exit_code == 0
    update = {
        **GOOD,
        "uid": uid,
        "title": "Keep a shared, current list of data stewards",
        "revision": 1,
    }
    result = runner.invoke(args=["import", _write(tmp_path, update)])
    assert "0 created, 1 updated" in result.output
    with app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.uid == uid))
        assert entry.version == 2 and entry.published_revision == 2
        assert entry.status == "published"  # no status in an update keeps the current one
        assert db.session.scalar(select(func.count(Revision.id))) == 2
    stale = {**update, "title": "Stale title", "revision": 1}
    result = runner.invoke(args=["import", _write(tmp_path, stale)])
    assert result.exit_code == 1
    assert "stored entry is at revision 2" in result.output
    forced = runner.invoke(args=["import", "--force", _write(tmp_path, stale)])
    assert forced.exit_code == 0
    with app.app_context():
        assert db.session.scalar(select(Entry.title).where(Entry.uid == uid)) == "Stale title"


def test_import_refuses_an_unknown_format(runner, tmp_path):
    result = runner.invoke(args=["import", _write(tmp_path, GOOD, name="records.xml")])
    assert result.exit_code == 1
    assert "cannot tell the format" in result.output


def test_users_create(app, runner):
    result = runner.invoke(
        args=["users", "create", "ana", "--role", "curator", "--password", "s3cret-pass"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "ana"))
        assert user.role == "curator"
        assert check_password_hash(user.password_hash, "s3cret-pass")
    again = runner.invoke(args=["users", "create", "ana", "--password", "another-pass"])
    assert again.exit_code == 1 and "already exists" in again.output
    short = runner.invoke(args=["users", "create", "bo", "--password", "short"])
    assert short.exit_code == 1 and "at least 8" in short.output


def test_users_create_prompts_for_the_password(app, runner):
    result = runner.invoke(args=["users", "create", "cy"], input="long-enough\nlong-enough\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "cy")).role == "contributor"


def test_index_status_rebuild_and_sync(app, runner, make_entry):
    make_entry()
    status = runner.invoke(args=["index", "status"])
    assert status.exit_code == 0 and "behind: 0" in status.output
    rebuilt = runner.invoke(args=["index", "rebuild"])
    assert "Rebuilt the search index: 1 entries." in rebuilt.output
    assert runner.invoke(args=["index", "sync"]).exit_code == 0


def test_python_m_kb_help():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "kb", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("init", "seed", "serve", "import", "users", "index", "run"):
        assert f"  {command}" in result.stdout
