"""Read-only queries behind the browsing pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.entries.services import ENTRY_LOAD
from kb.entries.services import readable
from kb.models import Category
from kb.models import Entry
from kb.models import Play
from kb.models import User
from kb.models import entry_categories
from kb.models import entry_plays
from kb.seed import phases


@dataclass
class Counted:
    """A taxonomy item with the number of readable entries under it."""

    item: Any
    count: int


def _counts(session: Session, link: Any, key: Any, user: User | None) -> dict[Any, int]:
    visible = readable(select(Entry.id), user).subquery()
    rows = session.execute(
        select(key, func.count())
        .select_from(link)
        .join(visible, visible.c.id == link.c.entry_id)
        .group_by(key)
    )
    return {key: count for key, count in rows}


def categories_with_counts(session: Session, user: User | None = None) -> list[Counted]:
    """The six categories in order, each with its number of readable entries."""
    counts = _counts(session, entry_categories, entry_categories.c.category_id, user)
    categories = session.scalars(select(Category).order_by(Category.position))
    return [Counted(category, counts.get(category.id, 0)) for category in categories]


def plays_roadmap(session: Session, user: User | None = None) -> list[dict[str, Any]]:
    """The plays grouped by phase, in roadmap order, each with its entry count."""
    counts = _counts(session, entry_plays, entry_plays.c.play_number, user)
    plays = list(session.scalars(select(Play).order_by(Play.number)))
    return [
        {
            **phase,
            "plays": [
                Counted(play, counts.get(play.number, 0))
                for play in plays
                if play.phase == phase["slug"]
            ],
        }
        for phase in phases()
    ]


def recent_entries(session: Session, user: User | None = None, limit: int = 8) -> list[Entry]:
    """The most recently updated readable entries."""
    statement = (
        readable(select(Entry), user)
        .options(*ENTRY_LOAD)
        .order_by(Entry.updated_at.desc(), Entry.id.desc())
        .limit(limit)
    )
    return list(session.scalars(statement))


def get_category(session: Session, slug: str) -> Category | None:
    """A category by slug."""
    return session.scalar(select(Category).where(Category.slug == slug))


def get_play(session: Session, number: int) -> Play | None:
    """A play by number."""
    return session.get(Play, number)


def phase_of(play: Play) -> dict[str, str]:
    """The phase a play belongs to."""
    return next(phase for phase in phases() if phase["slug"] == play.phase)
