"""Creating and editing entries from the form: validation, optimistic locking, pending revisions.

A contributor's edit of a published entry is a *pending revision*: it is saved as the next
revision, but the entry's columns (what readers, lists and the search index see) keep the
published content until a curator approves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import Conflict
from werkzeug.exceptions import Forbidden

from kb.auth.policy import is_curator
from kb.entries.services import CONTENT_FIELDS
from kb.entries.services import Lookups
from kb.entries.services import apply_content
from kb.entries.services import audit
from kb.entries.services import claim_version
from kb.entries.services import create_entry
from kb.entries.services import revise_entry
from kb.entries.services import snapshot
from kb.entries.validation import taxonomy_lookups
from kb.entries.validation import validate_record
from kb.models import Category
from kb.models import ClauseType
from kb.models import Entry
from kb.models import Play
from kb.models import Revision
from kb.models import User
from kb.notifications.services import notify
from kb.search import enqueue_index


class EditConflict(Exception):
    """Someone saved the entry since the form was opened; nothing was overwritten."""

    def __init__(self, theirs: dict[str, Any], version: int) -> None:
        super().__init__("the entry changed since you opened it")
        self.theirs = theirs
        self.version = version


@dataclass
class Saved:
    """What a save did: the entry, and whether the change waits for a curator."""

    entry: Entry
    pending: bool = False


def taxonomy_choices(session: Session) -> dict[str, list[tuple[str, str]]]:
    """Values and labels for the form's choices."""
    return {
        "categories": [
            (c.slug, c.name) for c in session.scalars(select(Category).order_by(Category.position))
        ],
        "plays": [
            (str(p.number), f"Play {p.number}: {p.title}")
            for p in session.scalars(select(Play).order_by(Play.number))
        ],
        "clause_types": [
            (t.slug, t.name)
            for t in session.scalars(select(ClauseType).order_by(ClauseType.position))
        ],
    }


def pending_revision(entry: Entry) -> Revision | None:
    """The newest revision of a published entry that readers do not see yet."""
    if entry.status != "published" or not entry.published_revision:
        return None
    newer = [r for r in entry.revisions if r.number > entry.published_revision and not r.redacted]
    return newer[-1] if newer else None


def may_edit(user: User | None, entry: Entry) -> bool:
    """Authors edit their own entries (not archived ones); curators edit any."""
    if user is None:
        return False
    return is_curator(user) or (user.id == entry.author_id and entry.status != "archived")


def current_content(entry: Entry, user: User | None) -> dict[str, Any]:
    """What the editor starts from: the pending revision when there is one, else the entry."""
    pending = pending_revision(entry)
    if pending is not None and may_edit(user, entry):
        return dict(pending.snapshot)
    return snapshot(entry)


def create(session: Session, record: dict[str, Any], *, author: User) -> Entry:
    """A new draft from the form (raises ``RecordError`` naming the fields to fix)."""
    clean = validate_record({**record, "status": "draft"}, taxonomy_lookups(session))
    return create_entry(session, clean, author=author)


def update(
    session: Session,
    entry: Entry,
    record: dict[str, Any],
    *,
    editor: User,
    version: int,
    note: str = "",
) -> Saved:
    """Save an edit; 409 (``EditConflict``) when the entry changed since the form was opened."""
    if not may_edit(editor, entry):
        raise Forbidden("Only the entry's author or a curator can edit it.")
    if version != entry.version:
        raise EditConflict(current_content(entry, editor), entry.version)
    if not claim_version(session, entry, version):  # someone saved since the check above
        raise EditConflict(current_content(entry, editor), entry.version)
    clean = validate_record(
        {**record, "kind": entry.kind, "uid": entry.uid}, taxonomy_lookups(session)
    )
    clean["status"] = None
    note = note.strip()[:500] or "Edited"
    if entry.status == "published" and not is_curator(editor):
        return Saved(_propose(session, entry, clean, editor=editor, note=note), pending=True)
    return Saved(revise_entry(session, entry, clean, editor=editor, note=note))


def _propose(
    session: Session, entry: Entry, clean: dict[str, Any], *, editor: User, note: str
) -> Entry:
    """Save the edit as the next revision without touching what readers see."""
    entry.version += 1
    data = {name: clean.get(name) for name in CONTENT_FIELDS}
    data["position"] = data["position"] or "standard"
    data["source"] = entry.source
    session.add(
        Revision(
            entry=entry,
            number=entry.version,
            editor=editor,
            note=note,
            snapshot=data,
            is_published=False,
        )
    )
    audit(session, editor, "entry.propose", entry, revision=entry.version)
    return entry


def approve(session: Session, entry: Entry, *, actor: User) -> Entry:
    """A curator publishes the pending revision: readers (and search) see it from now on."""
    if not is_curator(actor):
        raise Forbidden("Only a curator can approve a pending revision.")
    pending = pending_revision(entry)
    if pending is None:
        raise Conflict("This entry has no pending revision to approve.")
    apply_content(session, entry, pending.snapshot, Lookups(session))
    entry.published_revision = pending.number
    for revision in entry.revisions:
        revision.is_published = revision.number == pending.number
    audit(session, actor, "entry.approve", entry, revision=pending.number)
    if pending.editor_id != actor.id:
        notify(
            session,
            pending.editor_id,
            "revision_approved",
            entry,
            f"Your changes (revision {pending.number}) were approved.",
        )
    enqueue_index(session, "entry", [entry.id])
    return entry


def pending_entries(session: Session) -> list[Entry]:
    """Published entries with a revision waiting for approval, oldest first."""
    statement = (
        select(Entry)
        .where(Entry.status == "published", Entry.version > Entry.published_revision)
        .order_by(Entry.updated_at)
    )
    return [entry for entry in session.scalars(statement) if pending_revision(entry)]
