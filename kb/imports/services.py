"""Validate every record first, then write all or nothing through the entry services.

``plan_import`` validates and matches records without writing (the dry run and the web
preview); ``import_records`` plans, refuses the whole import when any record is invalid or
refused, and otherwise creates and revises entries in the caller's transaction (the caller
commits once). Entry services record every write for the search index (``enqueue_index``).
"""

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

from kb.entries.services import CONTENT_FIELDS
from kb.entries.services import ENTRY_LOAD
from kb.entries.services import Lookups
from kb.entries.services import claim_version
from kb.entries.services import create_entry
from kb.entries.services import finish_bulk
from kb.entries.services import revise_entry
from kb.entries.services import snapshot
from kb.entries.validation import RecordError
from kb.entries.validation import taxonomy_lookups
from kb.entries.validation import validate_record
from kb.imports.duplicates import Duplicate
from kb.imports.duplicates import find_duplicates
from kb.models import Entry
from kb.models import User

#: Imported entries are flushed, audited and enqueued in batches of this size.
FLUSH_EVERY = 500
#: Uids looked up per query (well below every database's bound-parameter limit).
UID_CHUNK = 500
ACTIONS = ("create", "update", "unchanged", "refused")


@dataclass
class Problem:
    """What is wrong with the record on one line."""

    line: int
    fields: dict[str, str]

    @property
    def details(self) -> str:
        """The messages, each after its field name."""
        return "; ".join(f"{name}: {message}" for name, message in self.fields.items())

    def __str__(self) -> str:
        return f"line {self.line}: {self.details}"


@dataclass
class Planned:
    """What an import does with one valid record."""

    line: int
    record: dict[str, Any]
    entry: Entry | None
    action: str


@dataclass
class ImportReport:
    """What an import wrote (or, in a dry run, would write)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    invalid: int = 0
    dry_run: bool = False
    entry_ids: list[int] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The summary numbers by name."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": self.refused,
            "invalid": self.invalid,
        }


@dataclass
class Plan:
    """Every record's fate, the problems that stop the import, and likely duplicates."""

    items: list[Planned]
    problems: list[Problem]
    report: ImportReport


#: The problem of a record whose entry someone saved while the import was being written.
CHANGED_MEANWHILE = (
    "someone saved this entry while the import was running; nothing was imported: run the "
    "import again (it compares with their version)"
)


class ImportFailed(Exception):
    """Some records are invalid or refused; nothing was written."""

    def __init__(
        self, problems: list[Problem], report: ImportReport | None = None, message: str = ""
    ) -> None:
        self.problems = problems
        self.report = report or ImportReport(invalid=len({p.line for p in problems}))
        super().__init__(message or failure_message(self.report))


def failure_message(report: ImportReport) -> str:
    """The one line that says why nothing was imported."""
    invalid, refused = report.invalid, report.refused
    if invalid and refused:
        return (
            f"{invalid} record(s) are invalid and {refused} refused (the stored entry is newer; "
            "--force overwrites); nothing was imported"
        )
    if refused:
        return (
            f"{refused} record(s) refused: the stored entry is newer (use --force to overwrite); "
            "nothing was imported"
        )
    return f"{invalid} record(s) are invalid; nothing was imported"


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


def _existing(session: Session, uids: list[str]) -> dict[str, Entry]:
    found: dict[str, Entry] = {}
    for start in range(0, len(uids), UID_CHUNK):
        chunk = uids[start : start + UID_CHUNK]
        statement = select(Entry).where(Entry.uid.in_(chunk)).options(*ENTRY_LOAD)
        found.update((entry.uid, entry) for entry in session.scalars(statement))
    return found


def same_content(entry: Entry, clean: dict[str, Any]) -> bool:
    """Whether a clean record would leave the entry as it is (content and status)."""
    if clean.get("status") and clean["status"] != entry.status:
        return False
    stored = snapshot(entry)
    for name in CONTENT_FIELDS:
        new, old = clean.get(name), stored.get(name)
        if name in ("categories", "plays", "tags"):
            same = sorted(new or []) == sorted(old or [])
        elif name == "program":
            same = " ".join((new or "").split()).lower() == (old or "").lower()
        elif name == "position":
            same = (new or "standard") == old
        elif name == "citations":
            same = list(new or []) == list(old or [])
        else:
            same = (new or "") == (old or "")
        if not same:
            return False
    return True


def _stale_message(entry: Entry, clean: dict[str, Any]) -> str:
    return (
        f"the stored entry is at revision {entry.version}, newer than this record's "
        f"{clean['revision'] or 'missing'} revision; use --force to overwrite"
    )


def plan_import(
    session: Session,
    records: list[tuple[int, dict[str, Any]]],
    *,
    force: bool = False,
    problems: Iterable[Problem] = (),
    duplicates: bool = False,
) -> Plan:
    """Validate and match every record; write nothing.

    A record whose ``uid`` matches an entry is ``unchanged`` when it would change nothing,
    ``refused`` when the stored revision is newer than the record's (unless ``force``), else an
    ``update``; records without a match are created. With ``duplicates`` new records are
    compared with existing entries (``kb.imports.duplicates``).
    """
    lookups = taxonomy_lookups(session)
    report = ImportReport()
    found = list(problems)
    valid: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for line, record in records:
        try:
            clean = validate_record(record, lookups)
        except RecordError as exc:
            found.append(Problem(line, exc.fields))
            continue
        uid = clean["uid"]
        if uid and uid in seen:
            found.append(Problem(line, {"uid": f"repeats the uid of line {seen[uid]}"}))
            continue
        if uid:
            seen[uid] = line
        valid.append((line, clean))
    report.invalid = len({problem.line for problem in found})
    existing = _existing(session, [clean["uid"] for _, clean in valid if clean["uid"]])
    items = []
    for line, clean in valid:
        entry = existing.get(clean["uid"]) if clean["uid"] else None
        if entry is None:
            action = "create"
        elif same_content(entry, clean):
            action = "unchanged"
        elif not force and (clean["revision"] or 0) < entry.version:
            action = "refused"
            found.append(Problem(line, {"revision": _stale_message(entry, clean)}))
        else:
            action = "update"
        setattr(report, _COUNTER[action], getattr(report, _COUNTER[action]) + 1)
        items.append(Planned(line, clean, entry, action))
    if duplicates:
        new = [(item.line, item.record) for item in items if item.action == "create"]
        report.duplicates = find_duplicates(session, new)
    found.sort(key=lambda problem: problem.line)
    return Plan(items, found, report)


_COUNTER = {
    "create": "created",
    "update": "updated",
    "unchanged": "unchanged",
    "refused": "refused",
}


def _finish(
    session: Session, created: list[Entry], revised: list[Entry], editor: User, report: ImportReport
) -> None:
    """Flush, audit and enqueue a batch of imported entries, then start the next batch."""
    for entries, action in ((created, "entry.create"), (revised, "entry.revise")):
        if entries:
            finish_bulk(session, entries, editor, action)
            report.entry_ids.extend(entry.id for entry in entries)
            entries.clear()


def _keep_revision_number(entry: Entry, number: int | None) -> None:
    """A new entry keeps the record's revision number (so a re-import of an older export is
    recognised as older, and export → import → export gives the same records)."""
    if not number or number <= 1:
        return
    entry.version = number
    if entry.published_revision:
        entry.published_revision = number
    for revision in entry.revisions:
        revision.number = number


def import_records(
    session: Session,
    records: list[tuple[int, dict[str, Any]]],
    *,
    editor: User,
    force: bool = False,
    dry_run: bool = False,
    problems: Iterable[Problem] = (),
    progress: Callable[[int], None] | None = None,
    duplicates: bool = False,
) -> ImportReport:
    """Validate every record, then create or revise entries in the caller's transaction.

    Raises ``ImportFailed`` (having written nothing) when any record is invalid or refused.
    Unchanged records are left alone (no new revision).
    """
    plan = plan_import(
        session, records, force=force, problems=problems, duplicates=duplicates or dry_run
    )
    report = plan.report
    report.dry_run = dry_run
    if plan.problems:
        raise ImportFailed(plan.problems, report)
    if dry_run:
        return report
    lookups = Lookups(session)
    lookups.preload_tags(
        name
        for item in plan.items
        if item.action in ("create", "update")
        for name in item.record["tags"]
    )
    created: list[Entry] = []
    revised: list[Entry] = []
    for item in plan.items:
        if item.action == "create":
            entry = create_entry(
                session, item.record, author=editor, note="Imported", bulk=True, lookups=lookups
            )
            _keep_revision_number(entry, item.record["revision"])
            created.append(entry)
        elif item.action == "update":
            entry = item.entry
            assert entry is not None
            if not claim_version(session, entry, entry.version):
                # A web edit of this entry committed after the plan read it.
                raise ImportFailed(
                    [Problem(item.line, {"uid": CHANGED_MEANWHILE})],
                    report,
                    f"line {item.line}: {CHANGED_MEANWHILE}",
                )
            revised.append(
                revise_entry(
                    session,
                    entry,
                    item.record,
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
    _finish(session, created, revised, editor, report)
    return report
