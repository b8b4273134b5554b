"""ORM models: the entry, its taxonomy, revisions, users, audit and the search outbox."""

from __future__ import annotations

import uuid
from datetime import UTC
from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON
from sqlalchemy import Boolean
from sqlalchemy import CheckConstraint
from sqlalchemy import Column
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship
from sqlalchemy.types import TypeDecorator

from kb.extensions import db

ENTRY_KINDS = ("lesson", "snippet")
ENTRY_STATUSES = ("draft", "in_review", "changes_requested", "published", "archived")
POSITIONS = ("standard", "fallback", "avoid")
ROLES = ("contributor", "curator", "admin")
SYSTEM_USERNAME = "kb"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_uid() -> str:
    """A fresh entry uid."""
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use kb.models.utcnow()")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


entry_categories = Table(
    "entry_categories",
    db.metadata,
    Column("entry_id", ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", ForeignKey("categories.id"), primary_key=True),
)
entry_plays = Table(
    "entry_plays",
    db.metadata,
    Column("entry_id", ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True),
    Column("play_number", ForeignKey("plays.number"), primary_key=True),
)
entry_tags = Table(
    "entry_tags",
    db.metadata,
    Column("entry_id", ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id"), primary_key=True),
)


class Category(db.Model):
    """One of the six fixed lesson categories."""

    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)


class Play(db.Model):
    """One of the eight numbered Data-Sharing Plays."""

    __tablename__ = "plays"
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(200))
    phase: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text, default="")
    parallel_with: Mapped[list[int]] = mapped_column(JSON, default=list)


class ClauseType(db.Model):
    """A field of the BUCP form; the type of a reusable snippet."""

    __tablename__ = "clause_types"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    group: Mapped[str] = mapped_column(String(32))
    requirement: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)


class Tag(db.Model):
    """A free tag, normalised (lower case, hyphens), created on first use."""

    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class Program(db.Model):
    """An organisational unit of this department; created on first use."""

    __tablename__ = "programs"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)


class Department(db.Model):
    """A peer department (data provider or recipient), a lookup row, not a tenant."""

    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    abbreviation: Mapped[str] = mapped_column(String(32), default="")
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)


class User(UserMixin, db.Model):
    """A person who signs in, or the system user ``kb`` (never signs in)."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('contributor', 'curator', 'admin')", name="role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="contributor")
    program_id: Mapped[int | None] = mapped_column(ForeignKey("programs.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_system: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    program: Mapped[Program | None] = relationship()

    @property
    def label(self) -> str:
        """The name shown on pages."""
        return self.display_name or self.username

    @property
    def is_active(self) -> bool:  # Flask-Login: inactive and system users cannot sign in
        return self.active and not self.is_system


class Entry(db.Model):
    """A lesson learned or a reusable BUCP snippet.

    The columns hold the newest revision's content; ``published_revision`` names the
    revision readers see (equal to ``version`` unless an edit awaits approval).
    """

    __tablename__ = "entries"
    __table_args__ = (
        CheckConstraint("kind IN ('lesson', 'snippet')", name="kind"),
        CheckConstraint(
            "status IN ('draft', 'in_review', 'changes_requested', 'published', 'archived')",
            name="status",
        ),
        CheckConstraint("position IN ('standard', 'fallback', 'avoid')", name="position"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uid)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text)
    benefit: Mapped[str] = mapped_column(Text, default="")
    context: Mapped[str] = mapped_column(Text, default="")
    clause_type_id: Mapped[int | None] = mapped_column(ForeignKey("clause_types.id"), index=True)
    position: Mapped[str] = mapped_column(String(16), default="standard")
    usage_notes: Mapped[str] = mapped_column(Text, default="")
    citations: Mapped[list[str]] = mapped_column(JSON, default=list)
    program_id: Mapped[int | None] = mapped_column(ForeignKey("programs.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    source: Mapped[str] = mapped_column(String(500), default="")
    #: The curator's note when changes were requested (shown to the author until resubmitted).
    review_note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    published_revision: Mapped[int | None] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    clause_type: Mapped[ClauseType | None] = relationship()
    program: Mapped[Program | None] = relationship()
    author: Mapped[User] = relationship()
    categories: Mapped[list[Category]] = relationship(
        secondary=entry_categories, order_by=Category.position
    )
    plays: Mapped[list[Play]] = relationship(secondary=entry_plays, order_by=Play.number)
    tags: Mapped[list[Tag]] = relationship(secondary=entry_tags, order_by=Tag.name)
    revisions: Mapped[list[Revision]] = relationship(
        back_populates="entry", order_by="Revision.number"
    )

    @property
    def revision(self) -> int:
        """The revision number readers see (the published one, else the newest)."""
        return self.published_revision or self.version

    @property
    def is_stale(self) -> bool:
        """A published entry past its review date."""
        return (
            self.status == "published"
            and self.review_due is not None
            and self.review_due < utcnow()
        )


class Revision(db.Model):
    """A full snapshot of an entry's content at one save; never deleted (redaction aside)."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("entry_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    editor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(String(500), default="")
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_published: Mapped[bool] = mapped_column(Boolean, default=False)
    redacted: Mapped[bool] = mapped_column(Boolean, default=False)

    entry: Mapped[Entry] = relationship(back_populates="revisions")
    editor: Mapped[User] = relationship()


class AuditEvent(db.Model):
    """Who did what to which object, and when."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship()


class IndexCounter(db.Model):
    """One row holding the last outbox sequence number; updating it serialises writers."""

    __tablename__ = "index_counter"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, default=0)


class IndexEvent(db.Model):
    """An outbox row: a searchable object changed (written in the same transaction)."""

    __tablename__ = "index_events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(Integer)
    op: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class SearchLog(db.Model):
    """A settled search: its query, filters and result count (no user); kept 90 days."""

    __tablename__ = "search_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    query: Mapped[str] = mapped_column(String(256), default="")
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    results: Mapped[int] = mapped_column(Integer, default=0)


class LoginFailure(db.Model):
    """A failed sign-in, by user name and address: the basis of sign-in throttling."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)


class EntryFlag(db.Model):
    """A reader's report that an entry is outdated; it waits in the review queue until resolved."""

    __tablename__ = "entry_flags"
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    entry: Mapped[Entry] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class Notification(db.Model):
    """A message for one user about one of their entries (changes requested, published, …)."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"))
    message: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    entry: Mapped[Entry | None] = relationship()


class GlossaryTerm(db.Model):
    """A term of the domain with its definition and synonyms (acronyms and spelled-out forms).

    Entry pages mark known terms up with their definitions; search treats a term and its
    synonyms as one word.
    """

    __tablename__ = "glossary_terms"
    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(String(120), unique=True)
    definition: Mapped[str] = mapped_column(Text)
    synonyms: Mapped[list[str]] = mapped_column(JSON, default=list)
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uid)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    updated_by: Mapped[User | None] = relationship()


# --- BUCP workspace -------------------------------------------------------------------------

bucp_lessons = Table(
    "bucp_lessons",
    db.metadata,
    Column("bucp_id", ForeignKey("bucps.id", ondelete="CASCADE"), primary_key=True),
    Column("entry_id", ForeignKey("entries.id"), primary_key=True),
)


class Bucp(db.Model):
    """A Business Use Case Proposal being assembled and tracked by its team.

    ``stage`` is the current life cycle stage (slugs in ``kb.bucps.lifecycle``); every change
    is a ``StageEvent``. ``version`` is the optimistic lock of the header fields.
    """

    __tablename__ = "bucps"
    __table_args__ = (
        CheckConstraint("outcome IS NULL OR outcome IN ('approved', 'denied')", name="outcome"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uid)
    title: Mapped[str] = mapped_column(String(200))
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    sponsor_role: Mapped[str] = mapped_column(String(200), default="")
    coordinator_role: Mapped[str] = mapped_column(String(200), default="")
    stage: Mapped[str] = mapped_column(String(32), default="draft", index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))
    #: Data-sharing outcomes and results (Play 1), in the team's words.
    results: Mapped[str] = mapped_column(Text, default="")
    #: Statutory-restriction solutions used (slugs such as ``aggregation``).
    statutory_solutions: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    program: Mapped[Program] = relationship()
    provider: Mapped[Department] = relationship()
    created_by: Mapped[User] = relationship()
    members: Mapped[list[BucpMember]] = relationship(
        back_populates="bucp", cascade="all, delete-orphan", order_by="BucpMember.id"
    )
    sections: Mapped[list[BucpSection]] = relationship(
        back_populates="bucp", cascade="all, delete-orphan", order_by="BucpSection.position"
    )
    events: Mapped[list[StageEvent]] = relationship(
        back_populates="bucp",
        cascade="all, delete-orphan",
        order_by="(StageEvent.at, StageEvent.id)",
    )
    disputes: Mapped[list[BucpDispute]] = relationship(
        back_populates="bucp", cascade="all, delete-orphan", order_by="BucpDispute.raised_at"
    )
    attachments: Mapped[list[BucpAttachment]] = relationship(
        back_populates="bucp", cascade="all, delete-orphan", order_by="BucpAttachment.uploaded_at"
    )
    placeholders: Mapped[list[BucpPlaceholder]] = relationship(
        back_populates="bucp", cascade="all, delete-orphan", order_by="BucpPlaceholder.name"
    )
    lessons: Mapped[list[Entry]] = relationship(secondary=bucp_lessons, order_by=Entry.title)


class BucpMember(db.Model):
    """A member of a BUCP's team: may see and edit it."""

    __tablename__ = "bucp_members"
    __table_args__ = (UniqueConstraint("bucp_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    bucp_id: Mapped[int] = mapped_column(ForeignKey("bucps.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    bucp: Mapped[Bucp] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class BucpSection(db.Model):
    """One field of the BUCP form: its text, and the snippet (at a published revision) it came from.

    ``version`` is the optimistic lock of the text.
    """

    __tablename__ = "bucp_sections"
    __table_args__ = (UniqueConstraint("bucp_id", "clause_type_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    bucp_id: Mapped[int] = mapped_column(ForeignKey("bucps.id", ondelete="CASCADE"), index=True)
    clause_type_id: Mapped[int] = mapped_column(ForeignKey("clause_types.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text, default="")
    snippet_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"), index=True)
    snippet_revision: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    bucp: Mapped[Bucp] = relationship(back_populates="sections")
    clause_type: Mapped[ClauseType] = relationship()
    snippet: Mapped[Entry | None] = relationship()
    updated_by: Mapped[User | None] = relationship()


class StageEvent(db.Model):
    """A dated move of a BUCP from one life cycle stage to another (``at`` may be back-dated)."""

    __tablename__ = "stage_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    bucp_id: Mapped[int] = mapped_column(ForeignKey("bucps.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    bucp: Mapped[Bucp] = relationship(back_populates="events")
    recorded_by: Mapped[User] = relationship()


class BucpDispute(db.Model):
    """A dispute raised on a BUCP, and how it was resolved."""

    __tablename__ = "bucp_disputes"
    id: Mapped[int] = mapped_column(primary_key=True)
    bucp_id: Mapped[int] = mapped_column(ForeignKey("bucps.id", ondelete="CASCADE"), index=True)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    description: Mapped[str] = mapped_column(Text)
    resolution: Mapped[str] = mapped_column(Text, default="")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    bucp: Mapped[Bucp] = relationship(back_populates="disputes")
    recorded_by: Mapped[User] = relationship()


class BucpAttachment(db.Model):
    """A document kept with a BUCP (a past signed BUCP, a data dictionary, …), stored on disk."""

    __tablename__ = "bucp_attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    bucp_id: Mapped[int] = mapped_column(ForeignKey("bucps.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    bucp: Mapped[Bucp] = relationship(back_populates="attachments")
    uploaded_by: Mapped[User] = relationship()


class BucpPlaceholder(db.Model):
    """The value of one ``{{ placeholder }}`` of a BUCP's sections."""

    __tablename__ = "bucp_placeholders"
    __table_args__ = (UniqueConstraint("bucp_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    bucp_id: Mapped[int] = mapped_column(ForeignKey("bucps.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text, default="")

    bucp: Mapped[Bucp] = relationship(back_populates="placeholders")


# --- Procedures -----------------------------------------------------------------------------

PROCEDURE_STATUSES = ("draft", "published")


class Procedure(db.Model):
    """A procedure or training material built from the knowledge base: ordered steps.

    Published procedures are read by every reader; drafts by their owner and curators.
    ``version`` is the optimistic lock of the header (title, purpose, audience).
    """

    __tablename__ = "procedures"
    __table_args__ = (CheckConstraint("status IN ('draft', 'published')", name="status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uid)
    title: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text, default="")
    audience: Mapped[str] = mapped_column(String(200), default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    owner: Mapped[User] = relationship()
    steps: Mapped[list[ProcedureStep]] = relationship(
        back_populates="procedure",
        cascade="all, delete-orphan",
        order_by="(ProcedureStep.position, ProcedureStep.id)",
    )


class ProcedureStep(db.Model):
    """One numbered step: a heading, Markdown instructions, and optionally a cited entry pinned
    to the published revision it was cited at."""

    __tablename__ = "procedure_steps"
    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_id: Mapped[int] = mapped_column(
        ForeignKey("procedures.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    heading: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    cited_entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"), index=True)
    cited_revision: Mapped[int | None] = mapped_column(Integer)

    procedure: Mapped[Procedure] = relationship(back_populates="steps")
    cited_entry: Mapped[Entry | None] = relationship()


# --- API tokens -----------------------------------------------------------------------------


class ApiToken(db.Model):
    """A personal API token: ``Authorization: Bearer <token>`` acts as its user.

    Only a hash of the secret is stored. The secret is 32 random bytes, so a fast unsalted
    SHA-256 is enough: there is nothing to guess by brute force (unlike a password), and a
    plain digest can be looked up through the unique index in one query. ``prefix`` (the first
    characters) lets people tell their tokens apart without the secret.
    """

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    @property
    def is_active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None
