"""Turning a user's query and filters into ranked entry ids."""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field

from whoosh import qparser
from whoosh.index import Index
from whoosh.query import And
from whoosh.query import Every
from whoosh.query import Or
from whoosh.query import Query
from whoosh.query import Term

MAX_QUERY_CHARS = 256
MAX_QUERY_TERMS = 16
TEXT_FIELDS = ["title", "summary", "body", "benefit", "tags"]
#: URL parameter → index field (DESIGN §6 search parameters).
FILTER_FIELDS = {
    "kind": "kind",
    "category": "categories",
    "play": "plays",
    "clause_type": "clause_type",
    "program": "program",
    "tag": "tags",
}
FILTER_PARAMS = tuple(FILTER_FIELDS)
SORTS = ("relevance", "newest", "verified")


@dataclass(frozen=True)
class Visibility:
    """Who is searching: readers see published entries, authors their drafts too, curators all."""

    user_id: int | None = None
    see_all: bool = False


@dataclass
class SearchPage:
    """One page of ranked entry ids, and how the query was matched."""

    query: str
    ids: list[int]
    total: int
    page: int
    per_page: int
    match: str = "all"
    truncated: bool = False
    scores: dict[int, float] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        """The number of pages (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page))


def clean_query(text: str) -> tuple[str, bool]:
    """Cap the query's length and term count; returns the text and whether it was cut."""
    text = " ".join(text.split())
    cut = text[:MAX_QUERY_CHARS]
    words = cut.split(" ")
    if len(words) > MAX_QUERY_TERMS:
        cut = " ".join(words[:MAX_QUERY_TERMS])
    return cut, cut != text


def _parse(index: Index, text: str, group: type) -> Query:
    parser = qparser.MultifieldParser(TEXT_FIELDS, index.schema, group=group)
    try:
        return parser.parse(text)
    except Exception:  # a malformed query is searched as plain words
        words = " ".join("".join(ch for ch in text if ch.isalnum() or ch.isspace()).split())
        return parser.parse(words)


def _filter(filters: Mapping[str, Sequence[str]], visibility: Visibility) -> Query:
    parts: list[Query] = [Term("entity", "entry")]
    for param, values in filters.items():
        field_name = FILTER_FIELDS[param]
        terms = [
            Term(field_name, str(value).lower() if field_name != "plays" else str(value))
            for value in values
            if str(value)
        ]
        if terms:
            parts.append(Or(terms))
    if not visibility.see_all:
        readable: list[Query] = [Term("status", "published")]
        if visibility.user_id is not None:
            readable.append(Term("author", str(visibility.user_id)))
        parts.append(Or(readable))
    return And(parts)


def run_search(
    index: Index,
    *,
    q: str = "",
    filters: Mapping[str, Sequence[str]] | None = None,
    visibility: Visibility | None = None,
    sort: str = "relevance",
    page: int = 1,
    per_page: int = 20,
) -> SearchPage:
    """Search entries: all terms first; when nothing matches, any term."""
    text, truncated = clean_query(q or "")
    allowed = _filter(filters or {}, visibility or Visibility())
    sortedby, reverse = None, False
    if sort == "newest" or (sort == "relevance" and not text):
        sortedby, reverse = "updated", True
    elif sort == "verified":
        sortedby, reverse = "verified", True
    with index.searcher() as searcher:
        match = "all"
        query: Query = _parse(index, text, qparser.AndGroup) if text else Every()
        results = searcher.search_page(
            query, page, pagelen=per_page, filter=allowed, sortedby=sortedby, reverse=reverse
        )
        if text and results.total == 0:
            match = "any"
            query = _parse(index, text, qparser.OrGroup)
            results = searcher.search_page(
                query, page, pagelen=per_page, filter=allowed, sortedby=sortedby, reverse=reverse
            )
        hits = list(results)
        return SearchPage(
            query=text,
            ids=[hit["id"] for hit in hits],
            total=results.total,
            page=results.pagenum,
            per_page=per_page,
            match=match,
            truncated=truncated,
            scores={hit["id"]: float(hit.score or 0.0) for hit in hits},
        )
