"""Keeping entries current: verification, review dates, and readers' outdated flags."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import Conflict
from werkzeug.exceptions import Forbidden
from werkzeug.exceptions import NotFound
from werkzeug.exceptions import UnprocessableEntity

from kb.auth.policy import is_curator
from kb.entries.services import audit
from kb.entries.workflow import REVIEW_INTERVAL
from kb.models import Entry
from kb.models import EntryFlag
from kb.models import User
from kb.models import utcnow
from kb.notifications.services import notify
from kb.search import enqueue_index

MAX_REASON_CHARS = 500


def may_verify(user: User | None, entry: Entry) -> bool:
    """The entry's author or a curator, on a published entry."""
    owner = user is not None and (user.id == entry.author_id or is_curator(user))
    return owner and entry.status == "published"


def verify(session: Session, entry: Entry, *, actor: User) -> None:
    """Confirm a published entry is still right: verified now, next review in twelve months."""
    if actor.id != entry.author_id and not is_curator(actor):
        raise Forbidden("Only the entry's author or a curator can mark it verified.")
    if entry.status != "published":
        raise Conflict("Only a published entry can be verified.")
    now = utcnow()
    entry.verified_at = now
    entry.review_due = now + REVIEW_INTERVAL
    audit(session, actor, "entry.verify", entry, review_due=entry.review_due.date().isoformat())
    enqueue_index(session, "entry", [entry.id])  # search ranks stale entries lower


def flag(session: Session, entry: Entry, *, actor: User, reason: str) -> EntryFlag:
    """A reader reports the entry as outdated; it joins the curators' review queue."""
    reason = reason.strip()
    if not reason:
        raise UnprocessableEntity("Say what is outdated: the reason is required.")
    if len(reason) > MAX_REASON_CHARS:
        raise UnprocessableEntity(f"The reason is limited to {MAX_REASON_CHARS} characters.")
    if entry.status != "published":
        raise Conflict("Only a published entry can be flagged as outdated.")
    report = EntryFlag(entry=entry, user_id=actor.id, reason=reason)
    session.add(report)
    session.flush()
    audit(session, actor, "entry.flag", entry, flag=report.id)
    if entry.author_id != actor.id and not entry.author.is_system:
        notify(session, entry.author_id, "flagged", entry, f"Flagged as outdated: {reason}")
    return report


def resolve_flag(session: Session, entry: Entry, flag_id: int, *, actor: User) -> None:
    """A curator closes an outdated flag (after fixing or deciding the entry is fine)."""
    if not is_curator(actor):
        raise Forbidden("Only a curator can resolve a flag.")
    report = session.get(EntryFlag, flag_id)
    if report is None or report.entry_id != entry.id:
        raise NotFound("There is no such flag on this entry.")
    if report.resolved_at is not None:
        raise Conflict("This flag is already resolved.")
    report.resolved_at = utcnow()
    report.resolved_by_id = actor.id
    audit(session, actor, "entry.resolve_flag", entry, flag=report.id)


def open_flags(session: Session, entry: Entry | None = None) -> list[EntryFlag]:
    """Unresolved outdated flags (of one entry, or all), oldest first."""
    statement = select(EntryFlag).where(EntryFlag.resolved_at.is_(None))
    if entry is not None:
        statement = statement.where(EntryFlag.entry_id == entry.id)
    return list(session.scalars(statement.order_by(EntryFlag.created_at, EntryFlag.id)))


def stale_entries(session: Session, limit: int = 50) -> list[Entry]:
    """Published entries past their review date, most overdue first."""
    statement = (
        select(Entry)
        .where(Entry.status == "published", Entry.review_due < utcnow())
        .order_by(Entry.review_due)
        .limit(limit)
    )
    return list(session.scalars(statement))
