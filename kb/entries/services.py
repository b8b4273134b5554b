"""Entry writes and reads: plain functions that take a session, flush, and never commit."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from kb.models import AuditEvent
from kb.models import Category
from kb.models import ClauseType
from kb.models import Entry
from kb.models import Play
from kb.models import Program
from kb.models import Revision
from kb.models import Tag
from kb.models import User
from kb.models import utcnow
from kb.pagination import Page
from kb.pagination import paginate
from kb.search import enqueue_index

#: The content fields a revision snapshots (contract names, DESIGN §6).
CONTENT_FIELDS = (
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
)
ENTRY_LOAD = (
    selectinload(Entry.categories),
    selectinload(Entry.plays),
    selectinload(Entry.tags),
    selectinload(Entry.program),
    selectinload(Entry.clause_type),
    selectinload(Entry.author),
)


def get_or_create_tags(session: Session, names: list[str]) -> list[Tag]:
    """The tags of these (already normalised) names, created on first use."""
    if not names:
        return []
    existing = {tag.name: tag for tag in session.scalars(select(Tag).where(Tag.name.in_(names)))}
    tags = []
    for name in names:
        tag = existing.get(name)
        if tag is None:
            tag = existing[name] = Tag(name=name)
            session.add(tag)
        tags.append(tag)
    return tags


def get_or_create_program(session: Session, name: str, *, is_demo: bool = False) -> Program | None:
    """The program of this name (case-insensitive), created on first use."""
    name = " ".join(name.split())
    if not name:
        return None
    program = session.scalar(select(Program).where(func.lower(Program.name) == name.lower()))
    if program is None:
        program = Program(name=name, is_demo=is_demo)
        session.add(program)
    return program


def _apply_content(session: Session, entry: Entry, data: Mapping[str, Any]) -> None:
    for name in (
        "kind",
        "title",
        "summary",
        "body",
        "benefit",
        "context",
        "position",
        "usage_notes",
        "source",
    ):
        setattr(entry, name, data.get(name) or ("standard" if name == "position" else ""))
    entry.citations = list(data.get("citations") or [])
    slugs = data.get("categories") or []
    categories = session.scalars(select(Category).where(Category.slug.in_(slugs))).all()
    entry.categories = sorted(categories, key=lambda category: slugs.index(category.slug))
    entry.plays = list(
        session.scalars(select(Play).where(Play.number.in_(data.get("plays") or [])))
    )
    entry.tags = get_or_create_tags(session, list(data.get("tags") or []))
    clause_type = data.get("clause_type")
    entry.clause_type = (
        session.scalar(select(ClauseType).where(ClauseType.slug == clause_type))
        if clause_type
        else None
    )
    entry.program = get_or_create_program(
        session, data.get("program") or "", is_demo=bool(data.get("is_demo"))
    )


def snapshot(entry: Entry) -> dict[str, Any]:
    """The entry's content as a revision stores it."""
    return {
        "kind": entry.kind,
        "title": entry.title,
        "summary": entry.summary,
        "body": entry.body,
        "benefit": entry.benefit,
        "context": entry.context,
        "clause_type": entry.clause_type.slug if entry.clause_type else None,
        "position": entry.position,
        "usage_notes": entry.usage_notes,
        "citations": list(entry.citations or []),
        "categories": [category.slug for category in entry.categories],
        "plays": [play.number for play in entry.plays],
        "tags": [tag.name for tag in entry.tags],
        "program": entry.program.name if entry.program else None,
        "source": entry.source,
    }


def audit(session: Session, actor: User | None, action: str, obj: Any, **detail: Any) -> AuditEvent:
    """Record who did what to which object."""
    event = AuditEvent(
        actor=actor,
        action=action,
        object_type=type(obj).__name__.lower(),
        object_id=obj.id,
        detail=detail,
    )
    session.add(event)
    return event


def create_entry(
    session: Session,
    data: Mapping[str, Any],
    *,
    author: User,
    note: str = "Created",
    is_demo: bool = False,
    enqueue: bool = True,
) -> Entry:
    """Create an entry from validated data with its first revision, audit event and index event."""
    status = data.get("status") or "draft"
    now = utcnow()
    entry = Entry(
        author=author,
        status=status,
        version=1,
        is_demo=is_demo,
        created_at=now,
        updated_at=now,
    )
    if data.get("uid"):
        entry.uid = data["uid"]
    _apply_content(session, entry, {**data, "is_demo": is_demo})
    published = status == "published"
    if published:
        entry.published_revision = 1
        entry.verified_at = now
    session.add(entry)
    session.flush()
    session.add(
        Revision(
            entry=entry,
            number=1,
            editor=author,
            created_at=now,
            note=note,
            snapshot=snapshot(entry),
            is_published=published,
        )
    )
    audit(session, author, "entry.create", entry, status=status)
    if enqueue:  # bulk callers enqueue once for all their entries
        enqueue_index(session, "entry", [entry.id])
    return entry


def revise_entry(
    session: Session,
    entry: Entry,
    data: Mapping[str, Any],
    *,
    editor: User,
    note: str,
    enqueue: bool = True,
) -> Entry:
    """Save new content as the next revision; a published entry publishes it at once.

    Used by curator-level writers (the importer, curators' edits). Contributors'
    pending revisions of published entries arrive with the review workflow.
    """
    _apply_content(session, entry, data)
    if data.get("status"):
        entry.status = data["status"]
    entry.version += 1
    entry.updated_at = utcnow()
    published = entry.status == "published"
    if published:
        for revision in entry.revisions:
            revision.is_published = False
        entry.published_revision = entry.version
    session.add(
        Revision(
            entry=entry,
            number=entry.version,
            editor=editor,
            note=note,
            snapshot=snapshot(entry),
            is_published=published,
        )
    )
    audit(session, editor, "entry.revise", entry, revision=entry.version)
    session.flush()
    if enqueue:
        enqueue_index(session, "entry", [entry.id])
    return entry


def get_entry(session: Session, entry_id: int) -> Entry | None:
    """One entry with its taxonomy loaded."""
    return session.scalar(select(Entry).where(Entry.id == entry_id).options(*ENTRY_LOAD))


def entries_by_ids(session: Session, ids: list[int]) -> list[Entry]:
    """Entries in the order of ``ids`` (rank order from the index)."""
    found = {
        entry.id: entry
        for entry in session.scalars(select(Entry).where(Entry.id.in_(ids)).options(*ENTRY_LOAD))
    }
    return [found[entry_id] for entry_id in ids if entry_id in found]


def entry_record(entry: Entry, *, url: str | None = None) -> dict[str, Any]:
    """The full entry object of the API and exports (DESIGN §6 field names)."""
    record: dict[str, Any] = {"uid": entry.uid, "id": entry.id, **snapshot(entry)}
    record["status"] = entry.status
    record["revision"] = entry.revision
    for name in ("verified_at", "review_due", "created_at", "updated_at"):
        value = getattr(entry, name)
        record[name] = value.isoformat() if value else None
    record["author"] = entry.author.label if entry.author else None
    record["url"] = url
    return record


def readable(statement: Select[Any], user: User | None = None) -> Select[Any]:
    """Restrict an entry query to what ``user`` may read (readers: published entries)."""
    if user is not None and user.role in ("curator", "admin"):
        return statement
    if user is not None:
        return statement.where((Entry.status == "published") | (Entry.author_id == user.id))
    return statement.where(Entry.status == "published")


def list_entries(
    session: Session,
    *,
    user: User | None = None,
    kind: str | None = None,
    category: str | None = None,
    play: int | None = None,
    tag: str | None = None,
    updated_since: datetime | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[Entry]:
    """Readable entries, newest first, filtered by kind, category, play, tag and update time."""
    statement = readable(select(Entry), user).options(*ENTRY_LOAD)
    if kind:
        statement = statement.where(Entry.kind == kind)
    if category:
        statement = statement.where(Entry.categories.any(Category.slug == category))
    if play:
        statement = statement.where(Entry.plays.any(Play.number == play))
    if tag:
        statement = statement.where(Entry.tags.any(Tag.name == tag))
    if updated_since:
        statement = statement.where(Entry.updated_at >= updated_since)
    statement = statement.order_by(Entry.updated_at.desc(), Entry.id.desc())
    return paginate(session, statement, page, per_page)


def get_readable_entry(session: Session, entry_id: int, user: User | None = None) -> Entry | None:
    """One entry if ``user`` may read it (else ``None``, shown as not found)."""
    statement = readable(select(Entry).where(Entry.id == entry_id), user).options(*ENTRY_LOAD)
    return session.scalar(statement)
