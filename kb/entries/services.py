"""Entry writes and reads: plain functions that take a session, flush, and never commit."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from kb.entries.validation import TEXT_FIELDS
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


#: Tag names looked up per query by ``Lookups.preload_tags`` (below every database's
#: bound-parameter limit).
TAG_CHUNK = 500


class Lookups:
    """Taxonomy, tag and program rows by key, so a bulk write queries each value once.

    Make one per unit of work (an import, a request); rows it creates are added to the session.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._categories: dict[str, Category] | None = None
        self._plays: dict[int, Play] | None = None
        self._clause_types: dict[str, ClauseType] | None = None
        self._tags: dict[str, Tag] = {}
        self._programs: dict[str, Program | None] = {}

    def categories(self, slugs: list[str]) -> list[Category]:
        """Categories in the order of ``slugs``."""
        if self._categories is None:
            self._categories = {c.slug: c for c in self.session.scalars(select(Category))}
        return [self._categories[slug] for slug in slugs if slug in self._categories]

    def plays(self, numbers: list[int]) -> list[Play]:
        """Plays in number order."""
        if self._plays is None:
            self._plays = {p.number: p for p in self.session.scalars(select(Play))}
        return [self._plays[n] for n in sorted(numbers) if n in self._plays]

    def clause_type(self, slug: str | None) -> ClauseType | None:
        """A clause type by slug."""
        if self._clause_types is None:
            self._clause_types = {t.slug: t for t in self.session.scalars(select(ClauseType))}
        return self._clause_types.get(slug) if slug else None

    def tags(self, names: list[str]) -> list[Tag]:
        """The tags of these (normalised) names, created on first use."""
        missing = [name for name in names if name not in self._tags]
        if missing:
            for tag in self.session.scalars(select(Tag).where(Tag.name.in_(missing))):
                self._tags[tag.name] = tag
            new = list(dict.fromkeys(name for name in missing if name not in self._tags))
            if new:
                insert_missing(self.session, Tag, [{"name": name} for name in new])
                for tag in self.session.scalars(select(Tag).where(Tag.name.in_(new))):
                    self._tags[tag.name] = tag
        return [self._tags[name] for name in names]

    def preload_tags(self, names: Iterable[str]) -> None:
        """Look up (and create) the tags of many records at once, ``TAG_CHUNK`` names per
        query, instead of up to three queries per record. New tags are created in the order
        of ``names``, as record-by-record lookups would (so they get the same ids)."""
        unique = list(dict.fromkeys(names))
        for start in range(0, len(unique), TAG_CHUNK):
            self.tags(unique[start : start + TAG_CHUNK])

    def program(self, name: str, *, is_demo: bool = False) -> Program | None:
        """The program of this name (case-insensitive), created on first use."""
        name = " ".join(name.split())
        if not name:
            return None
        key = name.lower()
        if key not in self._programs:
            by_name = select(Program).where(func.lower(Program.name) == key)
            program = self.session.scalar(by_name)
            if program is None:
                insert_missing(self.session, Program, [{"name": name, "is_demo": is_demo}])
                program = self.session.scalars(by_name.order_by(Program.id)).first()
            self._programs[key] = program
        return self._programs[key]


def insert_missing(
    session: Session, model: type[Tag] | type[Program], rows: list[dict[str, Any]]
) -> None:
    """Insert rows of a table with unique names, skipping any another writer added meanwhile.

    Two requests (or a request and an import) that both create the same new tag both find
    it missing when they look; a plain INSERT would then fail the second with a unique
    violation (a 500). ``ON CONFLICT DO NOTHING`` waits for the other writer's commit and
    keeps its row instead, on SQLite and PostgreSQL alike.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - SQLite and PostgreSQL are the supported databases
        session.add_all(model(**row) for row in rows)
        session.flush()
        return
    with session.no_autoflush:  # a half-built object in the session is not ready to flush
        session.execute(insert(model).values(rows).on_conflict_do_nothing())


def get_or_create_program(session: Session, name: str, *, is_demo: bool = False) -> Program | None:
    """The program of this name (case-insensitive), created on first use."""
    return Lookups(session).program(name, is_demo=is_demo)


def apply_content(
    session: Session, entry: Entry, data: Mapping[str, Any], lookups: Lookups | None = None
) -> None:
    lookups = lookups or Lookups(session)
    with session.no_autoflush:
        for name in ("kind", *TEXT_FIELDS):
            setattr(entry, name, data.get(name) or "")
        entry.position = data.get("position") or "standard"
        entry.citations = list(data.get("citations") or [])
        entry.categories = lookups.categories(list(data.get("categories") or []))
        entry.plays = lookups.plays(list(data.get("plays") or []))
        entry.tags = lookups.tags(list(data.get("tags") or []))
        entry.clause_type = lookups.clause_type(data.get("clause_type"))
        entry.program = lookups.program(
            data.get("program") or "", is_demo=bool(data.get("is_demo"))
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
    bulk: bool = False,
    lookups: Lookups | None = None,
) -> Entry:
    """Create an entry from validated data with its first revision, audit event and index event.

    With ``bulk`` the caller flushes, audits and enqueues many entries at once (``finish_bulk``).
    """
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
    apply_content(session, entry, {**data, "is_demo": is_demo}, lookups)
    published = status == "published"
    if published:
        entry.published_revision = 1
        entry.verified_at = now
    session.add(entry)
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
    if not bulk:
        finish_bulk(session, [entry], author, "entry.create")
    return entry


def revise_entry(
    session: Session,
    entry: Entry,
    data: Mapping[str, Any],
    *,
    editor: User,
    note: str,
    bulk: bool = False,
    lookups: Lookups | None = None,
) -> Entry:
    """Save new content as the next revision; a published entry publishes it at once.

    Used by curator-level writers (the importer, curators' edits). Contributors'
    pending revisions of published entries arrive with the review workflow.
    """
    apply_content(session, entry, data, lookups)
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
    if not bulk:
        finish_bulk(session, [entry], editor, "entry.revise")
    return entry


def claim_version(session: Session, entry: Entry, version: int) -> bool:
    """Take ``entry`` for a new revision if it is still at ``version``; ``False`` if not.

    Checks of ``entry.version`` read it before the transaction wrote anything, so two saves
    of one version could both pass and the second would collide with (or overwrite) the
    first. This conditional UPDATE cannot: it runs under SQLite's write lock or
    PostgreSQL's row lock (which re-checks the condition after a concurrent commit), both
    held until the commit. The entry is expired, so it is read again inside this transaction.
    """
    claimed = session.execute(
        update(Entry)
        .where(Entry.id == entry.id, Entry.version == version)
        .values(version=Entry.version)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.expire(entry)
    return claimed == 1


def finish_bulk(session: Session, entries: list[Entry], actor: User, action: str) -> None:
    """Flush new or revised entries, then audit them and record them for the index at once."""
    session.flush()
    for entry in entries:
        detail = (
            {"status": entry.status} if action == "entry.create" else {"revision": entry.version}
        )
        audit(session, actor, action, entry, **detail)
    enqueue_index(session, "entry", [entry.id for entry in entries])


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
