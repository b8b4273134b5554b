"""The review workflow: which transitions exist, who may make them, and from which status.

docs/workflow.md is the readable version of ``TRANSITIONS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import Conflict
from werkzeug.exceptions import Forbidden
from werkzeug.exceptions import UnprocessableEntity

from kb.auth.policy import is_curator
from kb.entries.services import audit
from kb.models import Entry
from kb.models import EntryFlag
from kb.models import User
from kb.models import utcnow
from kb.notifications.services import notify
from kb.pagination import Page
from kb.pagination import paginate
from kb.search import enqueue_index

REVIEW_INTERVAL = timedelta(days=365)
MAX_NOTE_CHARS = 2000


@dataclass(frozen=True)
class Transition:
    """One workflow step: its label, the statuses it starts from, its result, and who makes it."""

    label: str
    sources: frozenset[str]
    target: str
    who: str  # "author" (the entry's author) or "curator" (curators and admins)


TRANSITIONS = {
    "submit": Transition(
        "Submit for review", frozenset({"draft", "changes_requested"}), "in_review", "author"
    ),
    "withdraw": Transition("Withdraw the submission", frozenset({"in_review"}), "draft", "author"),
    "publish": Transition(
        "Publish", frozenset({"draft", "in_review", "changes_requested"}), "published", "curator"
    ),
    "request-changes": Transition(
        "Request changes", frozenset({"in_review"}), "changes_requested", "curator"
    ),
    "archive": Transition(
        "Archive",
        frozenset({"draft", "in_review", "changes_requested", "published"}),
        "archived",
        "curator",
    ),
}


def may(user: User | None, entry: Entry, action: str) -> bool:
    """Whether ``user`` holds the role for ``action`` on ``entry`` (whatever its status)."""
    if user is None:
        return False
    if TRANSITIONS[action].who == "curator":
        return is_curator(user)
    return entry.author_id == user.id


def available(user: User | None, entry: Entry) -> list[tuple[str, Transition]]:
    """The transitions ``user`` can make on ``entry`` now (for the buttons on its page)."""
    return [
        (action, step)
        for action, step in TRANSITIONS.items()
        if entry.status in step.sources and may(user, entry, action)
    ]


def transition(
    session: Session, entry: Entry, action: str, *, actor: User, note: str = ""
) -> Entry:
    """Move ``entry`` along the workflow; 403 without the role, 409 from the wrong status."""
    step = TRANSITIONS[action]
    if not may(actor, entry, action):
        who = "the entry's author" if step.who == "author" else "a curator"
        raise Forbidden(f"Only {who} can {step.label.lower()}.")
    if entry.status not in step.sources:
        raise Conflict(
            f"An entry that is {entry.status.replace('_', ' ')} cannot be "
            f"{'sent' if action == 'submit' else 'moved'} to "
            f"{step.target.replace('_', ' ')} (“{step.label}”)."
        )
    note = note.strip()
    if action == "request-changes" and not note:
        raise UnprocessableEntity("Say what should change: the note is required.")
    if len(note) > MAX_NOTE_CHARS:
        raise UnprocessableEntity(f"The note is limited to {MAX_NOTE_CHARS:,} characters.")
    previous = entry.status
    entry.status = step.target
    entry.review_note = note if action == "request-changes" else None
    if action == "publish":
        _publish(entry)
    if action in ("publish", "request-changes"):
        _tell_author(session, entry, action, actor, note)
    audit(
        session,
        actor,
        f"entry.{action}",
        entry,
        **{"from": previous, "to": step.target},
        **({"note": note} if note else {}),
    )
    enqueue_index(session, "entry", [entry.id])
    return entry


def _tell_author(session: Session, entry: Entry, action: str, actor: User, note: str) -> None:
    """Notify the author of a curator's decision (not when it is their own, nor the system's)."""
    if actor.id == entry.author_id or entry.author.is_system:
        return
    if action == "publish":
        notify(session, entry.author_id, "published", entry, "Your entry was published.")
    else:
        notify(session, entry.author_id, "changes_requested", entry, f"Changes requested: {note}")


def _publish(entry: Entry) -> None:
    now = utcnow()
    entry.published_revision = entry.version
    entry.verified_at = now
    entry.review_due = now + REVIEW_INTERVAL
    for revision in entry.revisions:
        revision.is_published = revision.number == entry.version


def review_queue(session: Session, page: int, per_page: int) -> Page[Entry]:
    """Submissions waiting for a curator, oldest first."""
    statement = (
        select(Entry).where(Entry.status == "in_review").order_by(Entry.updated_at, Entry.id)
    )
    return paginate(session, statement, page, per_page)


def review_count(session: Session) -> int:
    """How many submissions, pending revisions and open outdated flags wait for a curator."""
    waiting = session.scalar(select(func.count(Entry.id)).where(Entry.status == "in_review"))
    flags = session.scalar(select(func.count(EntryFlag.id)).where(EntryFlag.resolved_at.is_(None)))
    pending = session.scalar(
        select(func.count(Entry.id)).where(
            Entry.status == "published", Entry.version > Entry.published_revision
        )
    )
    return (waiting or 0) + (flags or 0) + (pending or 0)
