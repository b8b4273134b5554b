"""``kb import`` for every format: dry runs, bad rows, matching on uid, duplicates, summaries."""

from __future__ import annotations

import codecs
import json
import shutil
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select

from kb import search
from kb.extensions import db
from kb.models import AuditEvent
from kb.models import Entry
from kb.models import IndexEvent
from kb.models import Revision

DATA = Path(__file__).parent / "data"
LESSON = {
    "kind": "lesson",
    "title": "Keep a shared list of data stewards",
    "body": "Publish who looks after each dataset.",
    "categories": ["data-requests"],
    "plays": [2],
    "tags": ["data stewards"],
    "status": "published",
}
UID = "6f1c1c1e-5a7b-4c34-9a3e-0d6c2b7f9a10"


def _count(app, *where):
    with app.app_context():
        return db.session.scalar(select(func.count(Entry.id)).where(*where))


def _entry(app, uid):
    with app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.uid == uid))
        db.session.expunge_all()
        return entry


def _write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def _json_file(tmp_path, name, records):
    """A JSON array with record i on line i + 2."""
    text = "[\n" + ",\n".join(json.dumps(record) for record in records) + "\n]\n"
    return _write(tmp_path, name, text)


def test_import_json_array_creates_entries_and_indexes_them(app, runner, tmp_path):
    records = [LESSON, {**LESSON, "title": "Name a data steward", "uid": UID}]
    result = runner.invoke(args=["import", _write(tmp_path, "in.json", json.dumps(records))])
    assert result.exit_code == 0, result.output
    assert "Imported: 2 created, 0 updated. Unchanged: 0, refused: 0." in result.output
    with app.app_context():
        assert search.search(db.session, q="stewards").total == 2
        events = db.session.scalar(select(func.count(IndexEvent.seq)))
        assert events == 2  # both written with the entries, in the same transaction


def test_import_json_with_bad_records_names_each_line_and_writes_nothing(app, runner, tmp_path):
    text = (
        "[\n"
        + json.dumps(LESSON)
        + ",\n"
        + json.dumps({**LESSON, "title": "x" * 201})
        + ",\n"
        + json.dumps({**LESSON, "categories": ["Budget"], "plays": [9]})
        + ",\n"
        + json.dumps({**LESSON, "colour": "red"})
        + "\n]\n"
    )
    result = runner.invoke(args=["import", _write(tmp_path, "bad.json", text)])
    assert result.exit_code == 1
    assert "line 3: title: is 201 characters long; the limit is 200" in result.output
    assert "line 4: categories: unknown categories: Budget" in result.output
    assert "9 is not a play" in result.output
    assert "line 5: record: unknown field(s): colour" in result.output
    assert "Checked: 1 created, 0 updated, 0 unchanged, 0 refused, 3 invalid." in result.output
    assert "Error: 3 record(s) are invalid; nothing was imported" in result.output
    assert _count(app) == 0


def test_import_jsonl_by_format_option_from_stdin(app, runner):
    result = runner.invoke(
        args=["import", "-", "--format", "jsonl"], input=json.dumps(LESSON) + "\n"
    )
    assert result.exit_code == 0, result.output
    assert _count(app) == 1


def test_import_csv_with_bom_semicolons_and_lists(app, runner, tmp_path):
    text = (
        "uid;kind;title;body;categories;plays;tags;citations;status\r\n"
        f'{UID};lesson;Keep a list;"Publish it.\r\nEvery quarter.";Data Requests;2;'
        'Data Stewards;"Gov. Code § 1\r\nGov. Code § 2";published\r\n'
        ";snippet;Transfer clause;Files move by SFTP.;;;;;\r\n"
    )
    path = _write(tmp_path, "dept.csv", codecs.BOM_UTF8 + text.encode("utf-8"))
    result = runner.invoke(args=["import", path])
    assert result.exit_code == 1  # the snippet has no clause type
    assert "line 5: clause_type: is required for a snippet" in result.output  # row 1: 2-4
    fixed = text.replace(";snippet;Transfer clause;Files move by SFTP.;;;;;", "")
    result = runner.invoke(args=["import", _write(tmp_path, "ok.csv", fixed)])
    assert result.exit_code == 0, result.output
    entry = _entry(app, UID)
    assert entry.body == "Publish it.\r\nEvery quarter."
    assert entry.citations == ["Gov. Code § 1", "Gov. Code § 2"]


def test_import_csv_in_windows_1252_with_commas(app, runner, tmp_path):
    text = (
        "kind,title,body,categories,tags\r\n"
        'lesson,Café rules,"Use “curly” quotes – and dashes.",security-reviews,"a;b"\r\n'
    )
    result = runner.invoke(args=["import", _write(tmp_path, "win.csv", text.encode("cp1252"))])
    assert result.exit_code == 0, result.output
    with app.app_context():
        entry = db.session.scalar(select(Entry))
        assert entry.title == "Café rules"
        assert entry.body == "Use “curly” quotes – and dashes."
        assert [tag.name for tag in entry.tags] == ["a", "b"]


def test_import_markdown_page_and_dry_run_flags_duplicates(app, runner, make_entry, tmp_path):
    make_entry(title="Check the open data portal first!", categories=["data-requests"])
    make_entry(
        title="Codebook first",
        body="Ask the steward for the codebook before writing the request; stewards know "
        "which fields are reliable.",
    )
    page = str(DATA / "lessons-page.md")
    dry = runner.invoke(args=["import", "--dry-run", page])
    assert dry.exit_code == 0, dry.output
    assert (
        "line 18: likely duplicate of entry 1 “Check the open data portal first!” (same title)"
        in (dry.output)
    )
    assert "line 17: likely duplicate of entry 2 “Codebook first” (" in dry.output
    assert "Dry run: 4 to create, 0 to update; nothing written." in dry.output
    assert "likely duplicates: 2." in dry.output
    assert _count(app) == 2
    result = runner.invoke(args=["import", page])
    assert result.exit_code == 0, result.output
    assert "Imported: 4 created, 0 updated." in result.output
    with app.app_context():
        entry = db.session.scalar(
            select(Entry).where(Entry.title == "Check the open data portal first")
        )
        assert entry.status == "published" and [p.number for p in entry.plays] == [5]
        assert [c.slug for c in entry.categories] == ["data-requests"]
        assert entry.body.endswith("[the catalog](https://data.example.gov/catalog).")
    again = runner.invoke(args=["import", page])
    assert again.exit_code == 0
    assert "Imported: 0 created, 0 updated. Unchanged: 4, refused: 0." in again.output
    assert _count(app) == 6


def test_import_markdown_page_with_bad_rows_names_every_line(app, runner):
    result = runner.invoke(args=["import", str(DATA / "lessons-page-bad.md")])
    assert result.exit_code == 1
    assert "line 8: plays: 9 is not a play; plays are numbered 1 to 8" in result.output
    assert "line 9: title: is required; body: is required" in result.output
    assert "line 15: categories: unknown categories: Budget Planning" in result.output
    assert "line 7" not in result.output
    assert "3 record(s) are invalid; nothing was imported" in result.output
    assert _count(app) == 0


def test_import_format_option_overrides_the_extension(app, runner, tmp_path):
    path = tmp_path / "lessons.txt"
    shutil.copy(DATA / "lessons-page.md", path)
    assert runner.invoke(args=["import", str(path)]).exit_code == 1
    result = runner.invoke(args=["import", "--format", "md", str(path)])
    assert result.exit_code == 0, result.output
    assert _count(app) == 4


def test_import_update_unchanged_refused_and_forced(app, runner, tmp_path):
    first = {**LESSON, "uid": UID, "revision": 3}
    assert runner.invoke(args=["import", _json_file(tmp_path, "a.json", [first])]).exit_code == 0
    entry = _entry(app, UID)
    assert entry.version == 3 and entry.published_revision == 3  # the record's revision is kept
    same = runner.invoke(args=["import", _json_file(tmp_path, "b.json", [first])])
    assert "Imported: 0 created, 0 updated. Unchanged: 1, refused: 0." in same.output
    newer = {**first, "title": "Keep a current list of data stewards", "revision": 3}
    result = runner.invoke(args=["import", _json_file(tmp_path, "c.json", [newer])])
    assert "Imported: 0 created, 1 updated." in result.output
    assert _entry(app, UID).version == 4
    stale = {**newer, "title": "Stale", "revision": 2}
    refused = runner.invoke(args=["import", _json_file(tmp_path, "d.json", [stale, LESSON])])
    assert refused.exit_code == 1
    assert "line 2: revision: the stored entry is at revision 4, newer than this record's 2" in (
        refused.output
    )
    assert "Checked: 1 created, 0 updated, 0 unchanged, 1 refused, 0 invalid." in refused.output
    assert "1 record(s) refused: the stored entry is newer (use --force" in refused.output
    assert _count(app) == 1
    forced = runner.invoke(
        args=["import", "--force", _json_file(tmp_path, "d.json", [stale, LESSON])]
    )
    assert forced.exit_code == 0, forced.output
    assert "Imported: 1 created, 1 updated." in forced.output
    assert _entry(app, UID).title == "Stale"
    with app.app_context():
        revisions = db.session.scalars(
            select(Revision.number).join(Entry).where(Entry.uid == UID).order_by(Revision.number)
        )
        assert list(revisions) == [3, 4, 5]
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))
        assert list(actions) == ["entry.create", "entry.revise", "entry.create", "entry.revise"]


def test_import_refuses_a_repeated_uid_within_the_file(app, runner, tmp_path):
    records = [{**LESSON, "uid": UID}, {**LESSON, "uid": UID.upper()}]
    result = runner.invoke(args=["import", _json_file(tmp_path, "r.json", records)])
    assert result.exit_code == 1
    assert "line 3: uid: repeats the uid of line 2" in result.output


def test_import_dry_run_reports_in_file_title_duplicates(app, runner, tmp_path):
    records = [LESSON, {**LESSON, "title": "KEEP a shared list of data-stewards."}]
    result = runner.invoke(
        args=[
            "import",
            "--dry-run",
            _write(tmp_path, "t.jsonl", "\n".join(map(json.dumps, records))),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "line 2: likely duplicate of line 1 “KEEP a shared list of data-stewards.”" in (
        result.output
    )


def test_import_large_file_flushes_in_batches(app, runner, tmp_path, monkeypatch):
    from kb.imports import services

    monkeypatch.setattr(services, "FLUSH_EVERY", 7)
    lines = [json.dumps({**LESSON, "title": f"Lesson {n}"}) for n in range(30)]
    result = runner.invoke(args=["import", _write(tmp_path, "many.jsonl", "\n".join(lines))])
    assert result.exit_code == 0, result.output
    assert "Imported: 30 created" in result.output
    with app.app_context():
        assert search.search(db.session, q="lesson", per_page=100).total == 30


def test_an_entry_saved_on_the_web_during_the_import_refuses_the_import_clearly(
    app, runner, make_entry, tmp_path, monkeypatch
):
    """The import read the entry at version 1, then a web edit committed version 2 before the
    import wrote: the import must not overwrite it (nor fail with a database error)."""
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from kb.imports import services

    entry = make_entry(title="Keep a shared list of data stewards")
    record = {
        "uid": entry.uid,
        "kind": "lesson",
        "title": "Keep a shared list of data stewards, by dataset",
        "body": entry.body,
        "categories": ["security-reviews"],
        "status": "published",
        "revision": 1,
    }
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(record) + "\n")
    real_plan = services.plan_import

    def plan_then_someone_saves(*args, **kwargs):
        plan = real_plan(*args, **kwargs)
        with Session(db.engine) as other:  # another connection: a web edit commits
            other.execute(update(Entry).where(Entry.id == entry.id).values(version=2))
            other.commit()
        return plan

    monkeypatch.setattr(services, "plan_import", plan_then_someone_saves)
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 1
    assert "someone saved this entry while the import was running" in result.output
    assert "Traceback" not in result.output
    with app.app_context():
        stored = db.session.get(Entry, entry.id)
        assert stored.title == "Keep a shared list of data stewards"
        assert stored.version == 2


def test_import_looks_up_and_creates_all_tags_at_once(app, runner, tmp_path, monkeypatch):
    """New and existing tags of every record are read (and created) in a few queries, not up
    to three per record; new tags get ids in the order the file first names them."""
    from sqlalchemy import event

    from kb.entries import services as entry_services
    from kb.models import Tag

    monkeypatch.setattr(entry_services, "TAG_CHUNK", 4)  # several chunks
    runner.invoke(args=["import", _write(tmp_path, "old.json", json.dumps([LESSON]))])
    records = [
        {**LESSON, "title": f"Lesson {n}", "tags": [f"topic {n}", "data stewards", f"team {n % 3}"]}
        for n in range(6)
    ]
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record_statement(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record_statement)
    try:
        result = runner.invoke(args=["import", _write(tmp_path, "tags.json", json.dumps(records))])
    finally:
        event.remove(engine, "before_cursor_execute", record_statement)
    assert result.exit_code == 0, result.output
    tag_queries = [s for s in statements if s.startswith(("SELECT tags.", "INSERT INTO tags"))]
    assert len(tag_queries) == 3 * 3  # 10 names in 3 chunks: find, create, read the new ones
    with app.app_context():
        names = db.session.scalars(select(Tag.name).order_by(Tag.id)).all()
        assert names == [
            "data-stewards",
            "topic-0",
            "team-0",
            "topic-1",
            "team-1",
            "topic-2",
            "team-2",
            "topic-3",
            "topic-4",
            "topic-5",
        ]
        entry = db.session.scalar(select(Entry).where(Entry.title == "Lesson 4"))
        assert [tag.name for tag in entry.tags] == ["data-stewards", "team-1", "topic-4"]
