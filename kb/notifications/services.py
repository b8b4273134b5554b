"""Notifications: written by the workflow, read on /notifications; review-due ones are computed."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from kb.models import Entry
from kb.models import Notification
from kb.models import User
from kb.models import utcnow

KINDS = ("changes_requested", "published", "revision_approved", "flagged")


def notify(session: Session, user_id: int, kind: str, entry: Entry, message: str) -> None:
    """Leave a message for a user about an entry."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    session.add(Notification(user_id=user_id, kind=kind, entry=entry, message=message[:500]))


def due_for_review(session: Session, user: User) -> list[Entry]:
    """The user's published entries past their review date (computed, so always current)."""
    return list(
        session.scalars(
            select(Entry)
            .where(
                Entry.author_id == user.id, Entry.status == "published", Entry.review_due < utcnow()
            )
            .order_by(Entry.review_due)
        )
    )


def unread_count(session: Session, user: User) -> int:
    """Unread messages plus entries due for review (the number in the navigation)."""
    unread = session.scalar(
        select(func.count(Notification.id)).where(
            Notification.user_id == user.id, Notification.read_at.is_(None)
        )
    )
    due = session.scalar(
        select(func.count(Entry.id)).where(
            Entry.author_id == user.id, Entry.status == "published", Entry.review_due < utcnow()
        )
    )
    return (unread or 0) + (due or 0)


def recent(session: Session, user: User, limit: int = 50) -> list[Notification]:
    """The user's latest messages, newest first."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def mark_all_read(session: Session, user: User) -> None:
    """Mark every message of the user read."""
    session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
