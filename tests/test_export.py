"""``kb export``: every format, the round trip into an empty instance, redaction never leaks."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from kb import create_app
from kb.entries import editing
from kb.entries import history
from kb.entries import workflow
from kb.extensions import db
from kb.imports.exports import COLUMNS
from kb.imports.exports import comparable
from kb.models import Entry
from kb.models import User
from kb.seed import install_taxonomy
from tests.conftest import _test_config

SECRET = "Call Jane Roe at 555-0100 about the extract"


def _records(output: str, fmt: str) -> list[dict]:
    if fmt == "jsonl":
        return [json.loads(line) for line in output.splitlines() if line.strip()]
    if fmt == "json":
        return json.loads(output)
    rows = list(csv.DictReader(io.StringIO(output.lstrip("\ufeff"), newline="")))
    return rows


@pytest.fixture
def corpus(app, make_entry, users):
    """Entries of every kind and status, one revised twice and archived."""
    make_entry(
        title="Start the security review early",
        summary="Security reviews take months.",
        benefit="No late surprises.",
        context="A 2023 claims extract.",
        citations=["Civil Code § 1798.24", "45 CFR 164.514"],
        plays=[7, 8],
        tags=["security", "Early Start"],
        categories=["security-reviews", "bucp-creation"],
        program="Healthy Habits",
        source="Our notes",
    )
    make_entry(
        kind="snippet",
        title="Quarterly SFTP transfer",
        body="Files move every quarter over {{ transfer_method }}.",
        clause_type="data-transfer-management",
        position="fallback",
        usage_notes="Use when the provider has no API.",
        categories=[],
        status="draft",
    )
    revised = make_entry(title="Name a data steward", categories=["data-requests"])
    with app.app_context():
        entry = db.session.get(Entry, revised.id)
        curator = db.session.get(User, users["cu"])
        for title in ("Name one data steward", "Name one data steward per dataset"):
            editing.update(
                db.session,
                entry,
                {"title": title, "body": entry.body, "categories": ["data-requests"]},
                editor=curator,
                version=entry.version,
            )
        workflow.transition(db.session, entry, "archive", actor=curator)
        db.session.commit()
    return revised


def _empty_app(tmp_path):
    second = create_app(_test_config(tmp_path / "second", SEARCH_INDEX_IN_MEMORY=True))
    with second.app_context():
        db.create_all()
        install_taxonomy(db.session)
        db.session.commit()
    return second


def test_export_jsonl_to_stdout_has_every_entry_and_status(app, runner, corpus):
    result = runner.invoke(args=["export"])
    assert result.exit_code == 0, result.output
    records = _records(result.stdout, "jsonl")
    assert [r["status"] for r in records] == ["published", "draft", "archived"]
    first = records[0]
    assert list(first) == list(COLUMNS)
    assert first["categories"] == ["bucp-creation", "security-reviews"]
    assert first["tags"] == ["early-start", "security"]
    assert first["citations"] == ["Civil Code § 1798.24", "45 CFR 164.514"]
    assert first["url"] is None  # no KB_BASE_URL, no request: no absolute URL to give
    assert (
        records[2]["revision"] == 3 and records[2]["title"] == "Name one data steward per dataset"
    )
    assert "Exported 3 entries (jsonl)." in result.stderr


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_export_import_export_round_trip(app, runner, corpus, tmp_path, fmt):
    """Does an export imported into an empty instance export the same records?"""
    path = tmp_path / f"out.{fmt}"
    result = runner.invoke(args=["export", "--format", fmt, "--out", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    second = _empty_app(tmp_path)
    imported = second.test_cli_runner().invoke(args=["import", str(path)])
    assert imported.exit_code == 0, imported.output
    assert "3 created" in imported.output
    again = second.test_cli_runner().invoke(args=["export", "--format", fmt])
    before = [comparable(r) for r in _records(path.read_text(encoding="utf-8"), fmt)]
    after = [comparable(r) for r in _records(again.stdout, fmt)]
    assert before == after
    assert len(after) == 3
    reimport = second.test_cli_runner().invoke(args=["import", str(path)])
    assert "Imported: 0 created, 0 updated. Unchanged: 3, refused: 0." in reimport.output


def test_export_csv_cells_join_lists(app, runner, corpus):
    result = runner.invoke(args=["export", "--format", "csv"])
    assert result.stdout.startswith("\ufeffuid,id,kind,title,")
    first = _records(result.stdout, "csv")[0]
    assert first["categories"] == "bucp-creation;security-reviews"
    assert first["plays"] == "7;8"
    assert first["citations"] == "Civil Code § 1798.24\n45 CFR 164.514"


def test_export_md_is_a_readable_document(app, runner, corpus):
    result = runner.invoke(args=["export", "--format", "md"])
    text = result.stdout
    assert text.startswith("# BUCP Knowledge Base export")
    assert "not" in text.split("\n")[2] or "for reading" in text
    lessons = text.index("## Lessons: BUCP Creation")
    assert text.index("### Start the security review early") > lessons
    assert "## Lessons: Data Requests" in text and "## Clauses: Data transfer / management" in text
    assert "*Archived · revision 3" in text
    assert "- Civil Code § 1798.24" in text


def test_export_urls_use_kb_base_url(app, runner, corpus):
    app.config["BASE_URL"] = "https://intranet.example.gov/kb"
    result = runner.invoke(args=["export"])
    first = _records(result.stdout, "jsonl")[0]
    assert first["url"] == f"https://intranet.example.gov/kb/entries/{first['id']}"


def test_export_never_shows_a_redacted_revision(app, runner, make_entry, users):
    """A published revision redacted while an edit is pending must not leak from the columns."""
    published = make_entry(title="Ask the steward", body=SECRET)
    with app.app_context():
        entry = db.session.get(Entry, published.id)
        contributor = db.session.get(User, users["cora"])
        entry.author_id = contributor.id
        db.session.flush()
        editing.update(
            db.session,
            entry,
            {
                "title": "Ask the steward",
                "body": "Ask the data steward.",
                "categories": ["security-reviews"],
            },
            editor=contributor,
            version=entry.version,
        )
        db.session.commit()
        assert entry.published_revision == 1 and entry.version == 2  # revision 2 is pending
        revision = db.session.scalar(select(history.Revision).where(history.Revision.number == 1))
        history.redact(
            db.session, entry, revision, actor=db.session.get(User, users["ad"]), reason="A name"
        )
        db.session.commit()
    for fmt in ("jsonl", "json", "csv", "md"):
        result = runner.invoke(args=["export", "--format", fmt])
        assert result.exit_code == 0
        assert "555-0100" not in result.stdout, fmt
        assert history.REDACTED_TEXT in result.stdout
