"""The entry list of the API: strict filters, plain pagination, and ``updated_since`` for sync.

``updated_since`` finds entries whose content changed (``updated_at``) *or* that had any audited
event since then: publishing, approving a pending revision, archiving or verifying an entry do
not move ``updated_at``, yet they change what a syncing client sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.entries.services import ENTRY_LOAD
from kb.entries.services import readable
from kb.entries.validation import normalise_tag
from kb.models import ENTRY_KINDS
from kb.models import AuditEvent
from kb.models import Category
from kb.models import Entry
from kb.models import Play
from kb.models import Tag
from kb.models import User
from kb.pagination import Page


class BadParameter(ValueError):
    """A query parameter the API cannot use (answered with 400 JSON)."""


@dataclass
class EntryFilters:
    """The list filters; repeated values of one parameter combine with OR, parameters with AND."""

    kinds: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    plays: list[int] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    updated_since: datetime | None = None


def _values(args: Any, name: str) -> list[str]:
    getlist = getattr(args, "getlist", None)
    raw = getlist(name) if getlist else [args.get(name)]
    return [value.strip() for value in raw if value and value.strip()]


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadParameter(
            "updated_since must be an ISO 8601 date or time, e.g. 2025-01-31 or "
            "2025-01-31T08:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_filters(session: Session, args: Mapping[str, Any]) -> EntryFilters:
    """Filters from request arguments; anything unusable raises ``BadParameter``."""
    kinds = _values(args, "kind")
    if any(kind not in ENTRY_KINDS for kind in kinds):
        raise BadParameter("kind must be lesson or snippet")
    plays = _values(args, "play")
    if any(not play.isdigit() or not 1 <= int(play) <= 8 for play in plays):
        raise BadParameter("play must be a number from 1 to 8")
    categories = _values(args, "category")
    if categories:
        known = set(session.scalars(select(Category.slug)))
        unknown = [slug for slug in categories if slug not in known]
        if unknown:
            raise BadParameter(f"unknown category: {', '.join(unknown)} (see /api/v1/taxonomy)")
    return EntryFilters(
        kinds=kinds,
        categories=categories,
        plays=[int(play) for play in plays],
        tags=[normalise_tag(tag) for tag in _values(args, "tag")],
        updated_since=_since(args.get("updated_since")),
    )


def _filtered(statement: Select[Any], filters: EntryFilters) -> Select[Any]:
    if filters.kinds:
        statement = statement.where(Entry.kind.in_(filters.kinds))
    if filters.categories:
        statement = statement.where(Entry.categories.any(Category.slug.in_(filters.categories)))
    if filters.plays:
        statement = statement.where(Entry.plays.any(Play.number.in_(filters.plays)))
    if filters.tags:
        statement = statement.where(Entry.tags.any(Tag.name.in_(filters.tags)))
    if filters.updated_since is not None:
        events = select(AuditEvent.object_id).where(
            AuditEvent.object_type == "entry", AuditEvent.at >= filters.updated_since
        )
        statement = statement.where(
            (Entry.updated_at >= filters.updated_since) | Entry.id.in_(events)
        )
    return statement


def find_entries(
    session: Session, user: User | None, filters: EntryFilters, page: int, per_page: int
) -> Page[Entry]:
    """Readable entries, most recently updated first; a page past the end is empty."""
    statement = _filtered(readable(select(Entry), user), filters)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    ordered = statement.options(*ENTRY_LOAD).order_by(Entry.updated_at.desc(), Entry.id.desc())
    items = list(session.scalars(ordered.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, total=total, page=page, per_page=per_page)
