"""Exporting every entry as import records (JSON, JSON Lines, CSV) or as a readable document.

Exports hold what readers see of each entry: the entry's own columns, which keep the published
content while an edit waits for approval (pending revisions are not exported). When the
revision those columns show has been redacted, the export shows the redaction tombstone
instead, so redacted text cannot leave through an export even if the columns still hold it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.entries.history import REDACTED_TEXT
from kb.entries.services import ENTRY_LOAD
from kb.entries.services import entry_record
from kb.imports.csv_format import write_csv
from kb.models import Category
from kb.models import ClauseType
from kb.models import Entry
from kb.models import Revision

EXPORT_FORMATS = ("json", "jsonl", "csv", "md")
#: The record fields in export order (the entry table of DESIGN §6).
COLUMNS = (
    "uid",
    "id",
    "kind",
    "title",
    "summary",
    "body",
    "benefit",
    "context",
    "clause_type",
    "position",
    "usage_notes",
    "citations",
    "categories",
    "plays",
    "tags",
    "program",
    "source",
    "status",
    "revision",
    "verified_at",
    "review_due",
    "created_at",
    "updated_at",
    "author",
    "url",
)
#: Local or time-dependent fields: a round trip between instances does not keep these.
LOCAL_FIELDS = ("id", "url", "author", "verified_at", "review_due", "created_at", "updated_at")
BATCH = 500
_BLANKED = ("summary", "benefit", "context", "usage_notes", "source")


def redacted_revisions(session: Session) -> set[tuple[int, int]]:
    """(entry id, revision number) of every redacted revision."""
    statement = select(Revision.entry_id, Revision.number).where(Revision.redacted.is_(True))
    return {(entry_id, number) for entry_id, number in session.execute(statement)}


def public_record(
    entry: Entry, redacted: set[tuple[int, int]], url: str | None = None
) -> dict[str, Any]:
    """The entry's record as readers see it, with the tombstone if that revision is redacted."""
    record = entry_record(entry, url=url)
    if (entry.id, entry.revision) in redacted:
        record.update(title=REDACTED_TEXT, body=REDACTED_TEXT, citations=[], tags=[])
        record.update({name: "" for name in _BLANKED})
    return record


def export_records(
    session: Session, url_for_entry: Callable[[Entry], str | None] | None = None
) -> Iterator[dict[str, Any]]:
    """Every entry (all statuses) as an import record, in id order, loaded in batches."""
    redacted = redacted_revisions(session)
    ids = list(session.scalars(select(Entry.id).order_by(Entry.id)))
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        statement = select(Entry).where(Entry.id.in_(chunk)).order_by(Entry.id).options(*ENTRY_LOAD)
        for entry in session.scalars(statement):
            url = url_for_entry(entry) if url_for_entry else None
            yield public_record(entry, redacted, url)
        session.expunge_all()  # keep memory flat on large exports


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """A record without its local fields: what a round trip keeps."""
    return {name: value for name, value in record.items() if name not in LOCAL_FIELDS}


def write_export(
    session: Session,
    fmt: str,
    out: TextIO,
    *,
    url_for_entry: Callable[[Entry], str | None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write every entry to ``out`` in ``fmt``; returns how many."""
    count = 0

    def counted() -> Iterator[dict[str, Any]]:
        nonlocal count
        for record in export_records(session, url_for_entry):
            count += 1
            if progress:
                progress(1)
            yield record

    if fmt == "jsonl":
        for record in counted():
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    elif fmt == "json":
        out.write("[")
        for number, record in enumerate(counted()):
            out.write(("," if number else "") + "\n" + json.dumps(record, ensure_ascii=False))
        out.write("\n]\n")
    elif fmt == "csv":
        out.write("\ufeff")  # a byte-order mark, so spreadsheet programs read UTF-8
        out.write(write_csv(list(counted()), COLUMNS))
    elif fmt == "md":
        out.write(markdown_document(session, list(counted())))
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return count


def _meta(record: dict[str, Any]) -> str:
    parts = [record["status"].replace("_", " ").capitalize(), f"revision {record['revision']}"]
    if record["plays"]:
        parts.append("Plays " + ", ".join(str(number) for number in record["plays"]))
    if len(record["categories"]) > 1:
        parts.append("Categories: " + ", ".join(record["categories"]))
    if record["kind"] == "snippet":
        parts.append(f"Position: {record['position']}")
    if record["tags"]:
        parts.append("Tags: " + ", ".join(record["tags"]))
    if record["program"]:
        parts.append(f"Program: {record['program']}")
    parts.append(f"uid {record['uid']}")
    return "*" + " · ".join(parts) + "*"


def _entry_section(record: dict[str, Any]) -> list[str]:
    lines = [f"### {record['title']}", "", _meta(record), ""]
    if record["summary"]:
        lines += [f"> {record['summary']}", ""]
    lines += [record["body"], ""]
    for name, label in (
        ("benefit", "Benefit"),
        ("context", "Context"),
        ("usage_notes", "Usage notes"),
    ):
        if record[name]:
            lines += [f"**{label}**", "", record[name], ""]
    if record["citations"]:
        lines += ["**Citations**", "", *[f"- {item}" for item in record["citations"]], ""]
    if record["source"]:
        lines += [f"Source: {record['source']}", ""]
    return lines


def markdown_document(session: Session, records: list[dict[str, Any]]) -> str:
    """A readable document: lessons by (first) category, clauses by clause type.

    For reading and printing, not for importing again (use JSON, JSON Lines or CSV for that).
    """
    categories = session.execute(select(Category.slug, Category.name).order_by(Category.position))
    clause_types = session.execute(
        select(ClauseType.slug, ClauseType.name).order_by(ClauseType.position)
    )
    groups: list[tuple[str, list[dict[str, Any]]]] = []
    for slug, name in categories:
        found = [r for r in records if r["kind"] == "lesson" and r["categories"][:1] == [slug]]
        groups.append((f"Lessons: {name}", found))
    for slug, name in clause_types:
        found = [r for r in records if r["kind"] == "snippet" and r["clause_type"] == slug]
        groups.append((f"Clauses: {name}", found))
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# BUCP Knowledge Base export",
        "",
        f"{len(records)} entries (every status), exported {now}. This document is for reading; "
        "to move entries between instances export JSON, JSON Lines or CSV instead.",
        "",
    ]
    for heading, found in groups:
        if found:
            lines += [f"## {heading}", ""]
            for record in found:
                lines += _entry_section(record)
    return "\n".join(lines).rstrip() + "\n"
