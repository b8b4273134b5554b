"""Search for the page and the API: parameters, visibility, labelled facets, rehydration."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb import search
from kb.entries.services import entries_by_ids
from kb.models import Category
from kb.models import ClauseType
from kb.models import Entry
from kb.models import Play
from kb.models import Program
from kb.models import User
from kb.pagination import page_args

log = logging.getLogger(__name__)
KIND_LABELS = {"lesson": "Lessons", "snippet": "Clauses"}
FACET_TITLES = {
    "kind": "Kind",
    "category": "Category",
    "play": "Play",
    "clause_type": "Clause type",
    "program": "Program",
    "tag": "Tag",
}


class SearchArgumentError(ValueError):
    """A search parameter out of range (the API answers 400; the page clamps instead)."""


@dataclass
class SearchArgs:
    """The parsed parameters of a search request (DESIGN §6)."""

    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    facets: bool = True
    #: An as-you-type request: not logged, no facet counting.
    live: bool = False


@dataclass
class Found:
    """A search's page of entries with everything the page and the API show."""

    args: SearchArgs
    result: search.SearchPage
    entries: list[Entry]
    facets: dict[str, list[dict[str, Any]]] | None

    def highlights(self, entry: Entry) -> list[Markup]:
        """Matching passages of an entry; HTML with everything escaped except ``<mark>``."""
        return [Markup(snippet) for snippet in self.result.highlights.get(entry.id, [])]


def _flag(value: str | None, name: str, strict: bool) -> bool:
    if value in (None, "", "true", "1"):
        return True
    if value in ("false", "0"):
        return False
    if strict:
        raise SearchArgumentError(f"{name} must be true or false")
    return True


def parse_search_args(args: Mapping[str, Any], *, strict: bool = False) -> SearchArgs:
    """Read the search parameters; with ``strict`` (the API) bad values raise, else they clamp."""
    try:
        page, per_page = page_args(args, strict=strict)
    except ValueError as exc:
        raise SearchArgumentError(str(exc)) from None
    sort = args.get("sort") or "relevance"
    if sort not in search.SORTS:
        if strict:
            raise SearchArgumentError(f"sort must be one of {', '.join(search.SORTS)}")
        sort = "relevance"
    filters = {}
    for name in search.FILTER_PARAMS:
        values = [value.strip() for value in args.getlist(name) if value.strip()]
        if values:
            filters[name] = list(dict.fromkeys(values))
    if strict:
        _check_filters(filters)
    live = args.get("live") == "1"
    facets = _flag(args.get("facets"), "facets", strict) and not live
    return SearchArgs(args.get("q", ""), filters, sort, page, per_page, facets, live)


def _check_filters(filters: Mapping[str, list[str]]) -> None:
    bad_kind = [value for value in filters.get("kind", []) if value not in KIND_LABELS]
    if bad_kind:
        raise SearchArgumentError("kind must be lesson or snippet")
    if any(not value.isdigit() or not 1 <= int(value) <= 8 for value in filters.get("play", [])):
        raise SearchArgumentError("play must be a number from 1 to 8")


def visibility_for(user: User | None) -> search.Visibility:
    """Readers see published entries; authors their own drafts too; curators everything."""
    if user is None:
        return search.Visibility()
    return search.Visibility(user_id=user.id, see_all=user.role in ("curator", "admin"))


def facet_labels(session: Session) -> dict[str, dict[str, str]]:
    """Human labels for facet values."""
    return {
        "kind": KIND_LABELS,
        "category": dict(session.execute(select(Category.slug, Category.name)).all()),
        "play": {
            str(number): f"Play {number}: {title}"
            for number, title in session.execute(select(Play.number, Play.title))
        },
        "clause_type": dict(session.execute(select(ClauseType.slug, ClauseType.name)).all()),
        "program": {name.lower(): name for name in session.scalars(select(Program.name))},
    }


def _label_facets(
    session: Session, facets: Mapping[str, list[search.FacetValue]]
) -> dict[str, list[dict[str, Any]]]:
    labels = facet_labels(session)
    return {
        key: [
            {
                "value": item.value,
                "label": labels.get(key, {}).get(item.value, item.value),
                "count": item.count,
                "selected": item.selected,
            }
            for item in values
        ]
        for key, values in facets.items()
    }


def find(session: Session, args: SearchArgs, user: User | None = None) -> Found:
    """Run the search and load the page's entries in rank order."""
    result = search.search(
        session,
        q=args.q,
        filters=args.filters,
        visibility=visibility_for(user),
        sort=args.sort,
        page=args.page,
        per_page=args.per_page,
        facets=args.facets,
        highlights=True,
    )
    facets = _label_facets(session, result.facets) if result.facets is not None else None
    return Found(args, result, entries_by_ids(session, result.ids), facets)


def related_entries(
    session: Session, entry: Entry, user: User | None = None, limit: int = 5
) -> list[Entry]:
    """Up to ``limit`` readable entries most like this one ("more like this")."""
    try:
        ids = search.related(session, entry.id, visibility_for(user), limit)
    except Exception:  # related entries are a nicety: an index problem must not break the page
        log.exception("related entries for %s failed", entry.id)
        return []
    return entries_by_ids(session, ids)


def similar_entries(
    session: Session,
    text: str,
    user: User | None,
    limit: int = 5,
    exclude_id: int | None = None,
) -> list[Entry]:
    """Readable entries that look like a draft's text, so its writer can extend one instead."""
    if len(text.split()) < 3:
        return []
    try:
        ids = search.similar(session, text, visibility_for(user), limit, exclude_id)
    except Exception:  # a nicety while typing: an index problem must not break the form
        log.exception("similar entries failed")
        return []
    return entries_by_ids(session, ids)
