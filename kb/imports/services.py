"""Validate every record first, then write all or nothing through the entry services."""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.entries.services import Lookups
from kb.entries.services import create_entry
from kb.entries.services import finish_bulk
from kb.entries.services import revise_entry
from kb.entries.validation import RecordError
from kb.entries.validation import taxonomy_lookups
from kb.entries.validation import validate_record
from kb.models import Entry
from kb.models import User

FORMATS = ("jsonl",)
#: Imported entries are flushed, audited and enqueued in batches of this size.
FLUSH_EVERY = 500


@dataclass
class Problem:
    """What is wrong with the record on one line."""

    line: int
    fields: dict[str, str]

    def __str__(self) -> str:
        details = "; ".join(f"{name}: {message}" for name, message in self.fields.items())
        return f"line {self.line}: {details}"


class ImportFailed(Exception):
    """Some records are invalid; nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} record(s) are invalid; nothing was imported")


@dataclass
class ImportReport:
    """What an import wrote (or, in a dry run, would write)."""

    created: int = 0
    updated: int = 0
    dry_run: bool = False
    entry_ids: list[int] = field(default_factory=list)


def read_jsonl(stream: TextIO) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    """Parse JSON Lines: one object per non-blank line, numbered from 1."""
    records, problems = [], []
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(number, {"record": f"not valid JSON ({exc.msg})"}))
            continue
        if not isinstance(record, dict):
            problems.append(Problem(number, {"record": "must be a JSON object"}))
            continue
        records.append((number, record))
    return records, problems


def _check(
    session: Session, records: list[tuple[int, dict[str, Any]]], force: bool
) -> tuple[list[tuple[int, dict[str, Any], Entry | None]], list[Problem]]:
    lookups = taxonomy_lookups(session)
    checked, problems, seen = [], [], {}
    for line, record in records:
        try:
            clean = validate_record(record, lookups)
        except RecordError as exc:
            problems.append(Problem(line, exc.fields))
            continue
        uid = clean["uid"]
        if uid and uid in seen:
            problems.append(Problem(line, {"uid": f"repeats the uid of line {seen[uid]}"}))
            continue
        seen[uid] = line
        checked.append((line, clean, None))
    uids = [clean["uid"] for _, clean, _ in checked if clean["uid"]]
    existing = {e.uid: e for e in session.scalars(select(Entry).where(Entry.uid.in_(uids)))}
    result = []
    for line, clean, _ in checked:
        entry = existing.get(clean["uid"])
        if entry and not force and (clean["revision"] or 0) < entry.version:
            stale = (
                f"the stored entry is at revision {entry.version}, newer than this record's "
                f"{clean['revision'] or 'missing'} revision; use --force to overwrite"
            )
            problems.append(Problem(line, {"revision": stale}))
            continue
        result.append((line, clean, entry))
    return result, problems


def _finish(
    session: Session, created: list[Entry], revised: list[Entry], editor: User, report: ImportReport
) -> None:
    """Flush, audit and enqueue a batch of imported entries, then start the next batch."""
    for entries, action in ((created, "entry.create"), (revised, "entry.revise")):
        if entries:
            finish_bulk(session, entries, editor, action)
            report.entry_ids.extend(entry.id for entry in entries)
            entries.clear()


def import_records(
    session: Session,
    records: list[tuple[int, dict[str, Any]]],
    *,
    editor: User,
    force: bool = False,
    dry_run: bool = False,
    problems: Iterable[Problem] = (),
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate every record, then create or revise entries in the caller's transaction.

    Raises ``ImportFailed`` (having written nothing) when any record is invalid.
    """
    checked, found = _check(session, records, force)
    all_problems = sorted([*problems, *found], key=lambda problem: problem.line)
    if all_problems:
        raise ImportFailed(all_problems)
    report = ImportReport(dry_run=dry_run)
    lookups = Lookups(session)
    created: list[Entry] = []
    revised: list[Entry] = []
    for _line, clean, entry in checked:
        if entry is None:
            report.created += 1
        else:
            report.updated += 1
        if not dry_run:
            if entry is None:
                created.append(
                    create_entry(
                        session, clean, author=editor, note="Imported", bulk=True, lookups=lookups
                    )
                )
            else:
                revised.append(
                    revise_entry(
                        session,
                        entry,
                        clean,
                        editor=editor,
                        note="Imported",
                        bulk=True,
                        lookups=lookups,
                    )
                )
            if len(created) + len(revised) >= FLUSH_EVERY:
                _finish(session, created, revised, editor, report)
        if progress:
            progress(1)
    if not dry_run:
        _finish(session, created, revised, editor, report)
    return report
