"""Revision history: listing, readable diffs, restoring an older revision, redaction."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import Conflict
from werkzeug.exceptions import Forbidden
from werkzeug.exceptions import NotFound
from werkzeug.exceptions import UnprocessableEntity

from kb.auth.policy import has_role
from kb.auth.policy import is_curator
from kb.entries.services import audit
from kb.entries.services import claim_version
from kb.entries.services import revise_entry
from kb.models import Entry
from kb.models import Revision
from kb.models import User
from kb.search import enqueue_index

#: Field labels of a snapshot, in the order a diff shows them.
FIELDS = {
    "title": "Title",
    "summary": "Summary",
    "body": "Body",
    "benefit": "Benefit",
    "context": "Context",
    "clause_type": "Clause type",
    "position": "Position",
    "usage_notes": "Usage notes",
    "citations": "Citations",
    "categories": "Categories",
    "plays": "Plays",
    "tags": "Tags",
    "program": "Program",
    "source": "Source",
}
REDACTED_TEXT = "[Redacted by an administrator]"
MAX_REASON_CHARS = 500


@dataclass
class FieldDiff:
    """One changed field: its label and the diff as HTML (``<del>``/``<ins>``, all else escaped)."""

    label: str
    html: Markup


def visible_revisions(entry: Entry, user: User | None) -> list[Revision]:
    """Revisions ``user`` may see: readers up to the published one; authors and curators all."""
    if is_curator(user) or (user is not None and user.id == entry.author_id):
        return list(entry.revisions)
    limit = entry.published_revision or 0
    return [revision for revision in entry.revisions if revision.number <= limit]


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    return "" if value is None else str(value)


def _words(text: str) -> list[str]:
    return [token for token in _split(text) if token]


def _split(text: str) -> list[str]:
    tokens, current = [], ""
    for char in text:
        if char.isspace():
            if current:
                tokens.append(current)
            tokens.append(char)
            current = ""
        else:
            current += char
    return [*tokens, current] if current else tokens


def diff_html(old: str, new: str) -> Markup:
    a, b = _words(old), _words(new)
    parts: list[str] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(str(escape("".join(a[a1:a2]))))
            continue
        if a2 > a1:
            parts.append(f"<del>{escape(''.join(a[a1:a2]))}</del>")
        if b2 > b1:
            parts.append(f"<ins>{escape(''.join(b[b1:b2]))}</ins>")
    return Markup("".join(parts))


def diff(older: Revision, newer: Revision) -> list[FieldDiff]:
    """The fields that differ between two revisions, word by word."""
    changes = []
    for name, label in FIELDS.items():
        old, new = _text(older.snapshot.get(name)), _text(newer.snapshot.get(name))
        if old != new:
            changes.append(FieldDiff(label, diff_html(old, new)))
    return changes


def get_revision(session: Session, entry: Entry, number: int) -> Revision:
    """One revision of an entry (404 when there is none)."""
    revision = session.scalar(
        select(Revision).where(Revision.entry_id == entry.id, Revision.number == number)
    )
    if revision is None:
        raise NotFound(f"This entry has no revision {number}.")
    return revision


def may_restore(user: User | None, entry: Entry) -> bool:
    """Curators; and authors while their entry is not published (a pending edit comes later)."""
    if is_curator(user):
        return True
    return user is not None and user.id == entry.author_id and entry.status != "published"


def restore(session: Session, entry: Entry, revision: Revision, *, actor: User) -> Entry:
    """Make an older revision's content the newest revision (nothing is overwritten)."""
    if not may_restore(actor, entry):
        raise Forbidden("Only a curator (or the author of an unpublished entry) can restore.")
    if revision.redacted:
        raise Conflict("A redacted revision cannot be restored.")
    if revision.number == entry.version:
        raise Conflict("This is already the current revision.")
    if not claim_version(session, entry, entry.version):
        raise Conflict("Someone changed this entry meanwhile: look at its history again.")
    data = {**revision.snapshot, "uid": entry.uid}
    return revise_entry(
        session, entry, data, editor=actor, note=f"Restored revision {revision.number}"
    )


def redact(session: Session, entry: Entry, revision: Revision, *, actor: User, reason: str) -> None:
    """Replace a revision's content with a tombstone everywhere (admins only; reason audited)."""
    if not has_role(actor, "admin"):
        raise Forbidden("Only an administrator can redact a revision.")
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON_CHARS:
        raise UnprocessableEntity(
            f"Give the reason for the redaction (up to {MAX_REASON_CHARS} characters)."
        )
    if revision.redacted:
        raise Conflict("This revision is already redacted.")
    kept = {"kind": revision.snapshot.get("kind")}
    revision.snapshot = {
        **kept,
        **{name: REDACTED_TEXT if name in ("title", "body") else None for name in FIELDS},
    }
    revision.note = ""
    revision.redacted = True
    if revision.number == shown_revision(entry):
        _redact_current(entry)
    audit(session, actor, "revision.redact", entry, revision=revision.number, reason=reason)
    enqueue_index(session, "entry", [entry.id])


def shown_revision(entry: Entry) -> int:
    """The revision whose content the entry's columns hold (what readers and search see).

    A published (or later archived) entry shows its published revision, even when a newer,
    pending revision waits for a curator; any other entry shows its newest revision.
    """
    if entry.published_revision and entry.status in ("published", "archived"):
        return entry.published_revision
    return entry.version


def _redact_current(entry: Entry) -> None:
    """The entry's own columns hold the redacted revision's content: blank them too."""
    entry.title = REDACTED_TEXT
    entry.body = REDACTED_TEXT
    for name in ("summary", "benefit", "context", "usage_notes", "source"):
        setattr(entry, name, "")
    entry.citations = []
    entry.tags = []
