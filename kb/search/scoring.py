"""Ranking: BM25F on the weighted ``text`` field, coverage for "any word" matches, staleness.

Whether an entry is stale depends on the clock, not only on writes: the index keeps each
entry's ``review_due`` and every search decides against "now" which documents are past it
(a published entry past its review date, as ``Entry.is_stale``), so no re-indexing is needed
when time passes. Their scores are multiplied by ``STALE_FACTOR``: a stale entry ranks below an
equally relevant fresh one, but a much better match still comes first.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Set
from datetime import datetime
from math import log

from whoosh.collectors import Collector
from whoosh.collectors import ScoredCollector
from whoosh.matching import Matcher
from whoosh.matching import NullMatcher
from whoosh.matching import WrappingMatcher
from whoosh.query import And
from whoosh.query import DateRange
from whoosh.query import Or
from whoosh.query import Query
from whoosh.query import Term
from whoosh.query.wrappers import WrappingQuery
from whoosh.scoring import BM25F
from whoosh.searching import ResultsPage
from whoosh.searching import Searcher

from kb.models import utcnow
from kb.search.facets import DocSets

#: BM25 parameters: term-frequency saturation and length normalisation (the usual values).
K1 = 1.2
B = 0.75
STALE_FACTOR = 0.8


class RankWeighting(BM25F):
    """BM25F with the usual BM25 idf, then a per-document factor for stale entries."""

    use_final = True

    def __init__(self) -> None:
        super().__init__(B=B, K1=K1)
        #: Document numbers of stale entries (set per search, see ``open_searcher``).
        self.stale: Set[int] = frozenset()

    def idf(self, searcher: Searcher, fieldname: str, text: str) -> float:
        """Robertson–Spärck Jones idf (as Lucene's BM25): a word in nearly every entry
        ("data", "BUCP") weighs next to nothing. Whoosh's own, log(N / (n + 1)) + 1, never
        drops below 1, so such words outweighed the rare word that says what was wanted."""
        parent = searcher.get_parent()
        found = parent.doc_frequency(fieldname, text)
        total = parent.doc_count_all()
        return log(1 + (total - found + 0.5) / (found + 0.5))

    def final(self, searcher: Searcher, docnum: int, score: float) -> float:
        """The document's score, lowered when the entry is stale."""
        return score * STALE_FACTOR if docnum in self.stale else score


def current_minute() -> datetime:
    """Now, to the minute: what staleness is decided against (and cached results depend on)."""
    return utcnow().replace(tzinfo=None, second=0, microsecond=0)


def stale_query(now: datetime | None = None) -> Query:
    """Published entries whose review date has passed (to the minute, so it can be cached)."""
    now = (now or current_minute()).replace(tzinfo=None, second=0, microsecond=0)
    return And([Term("status", "published"), DateRange("review_due", None, now)])


def open_searcher(index: object, docsets: DocSets, now: datetime | None = None) -> Searcher:
    """A searcher whose ranking knows which entries are stale right now."""
    weighting = RankWeighting()
    searcher = index.searcher(weighting=weighting)
    weighting.stale = docsets.get(searcher, stale_query(now))
    return searcher


class CoverageOr(Or):
    """Any of the subqueries, the score scaled by the share of them a document matches.

    The "any word" fallback uses it, so an entry with three of four query words ranks above
    one that repeats a single word (a coordination factor: matched / all). An optional
    ``bonus`` query (the proximity of the words) adds to the score of documents the
    subqueries match, before the scaling.
    """

    def __init__(
        self, subqueries: list[Query], boost: float = 1.0, bonus: Query | None = None
    ) -> None:
        super().__init__(subqueries, boost=boost)
        self.bonus = bonus

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other) and self.bonus == getattr(other, "bonus", None)

    __hash__ = Or.__hash__

    def children(self) -> Iterator[Query]:
        return iter([*self.subqueries, *([self.bonus] if self.bonus is not None else [])])

    def apply(self, fn: Callable[[Query], Query]) -> CoverageOr:
        bonus = fn(self.bonus) if self.bonus is not None else None
        return CoverageOr([fn(sub) for sub in self.subqueries], boost=self.boost, bonus=bonus)

    def normalize(self) -> Query:
        subqueries = [sub.normalize() for sub in self.subqueries]
        bonus = self.bonus.normalize() if self.bonus is not None else None
        return CoverageOr(subqueries, boost=self.boost, bonus=bonus)

    def matcher(self, searcher: Searcher, context: object = None) -> Matcher:
        matchers = [sub.matcher(searcher, context) for sub in self.subqueries]
        matchers = [matcher for matcher in matchers if matcher.is_active()]
        if not matchers:
            return NullMatcher()
        bonus = self.bonus.matcher(searcher, context) if self.bonus is not None else None
        return CoverageMatcher(matchers, len(self.subqueries), self.boost, bonus)


class CoverageMatcher(Matcher):
    """The union of several matchers; the score is their sum (plus the bonus matcher's score
    on the same document) times matched / ``total``."""

    def __init__(
        self,
        matchers: list[Matcher],
        total: int,
        boost: float = 1.0,
        bonus: Matcher | None = None,
    ) -> None:
        self.matchers = matchers
        self.total = total
        self.boost = boost
        self.bonus = bonus if bonus is not None and bonus.is_active() else None

    def __repr__(self) -> str:
        return f"CoverageMatcher({self.matchers!r}, {self.total})"

    def _active(self) -> list[Matcher]:
        return [matcher for matcher in self.matchers if matcher.is_active()]

    def is_active(self) -> bool:
        return any(matcher.is_active() for matcher in self.matchers)

    def id(self) -> int:
        return min(matcher.id() for matcher in self._active())

    def _current(self) -> list[Matcher]:
        active = self._active()
        docnum = min(matcher.id() for matcher in active)
        return [matcher for matcher in active if matcher.id() == docnum]

    def next(self) -> bool:
        for matcher in self._current():
            matcher.next()
        return False

    def skip_to(self, docnum: int) -> bool:
        for matcher in self._active():
            if matcher.id() < docnum:
                matcher.skip_to(docnum)
        return False

    def reset(self) -> None:
        for matcher in self.matchers:
            matcher.reset()
        if self.bonus is not None:
            self.bonus.reset()

    def copy(self) -> CoverageMatcher:
        bonus = self.bonus.copy() if self.bonus is not None else None
        return CoverageMatcher([m.copy() for m in self.matchers], self.total, self.boost, bonus)

    def children(self) -> list[Matcher]:
        return list(self.matchers)

    def term_matchers(self) -> Iterator[Matcher]:
        for matcher in self.matchers:
            yield from matcher.term_matchers()

    def matching_terms(self, docnum: int | None = None) -> Iterator[tuple[str, bytes]]:
        docnum = self.id() if docnum is None else docnum
        for matcher in self._active():
            if matcher.id() == docnum:
                yield from matcher.matching_terms(docnum)

    def supports_block_quality(self) -> bool:
        return False

    def max_quality(self) -> float:
        bonus = self.bonus.max_quality() if self.bonus is not None else 0.0
        return (sum(matcher.max_quality() for matcher in self._active()) + bonus) * self.boost

    def weight(self) -> float:
        return sum(matcher.weight() for matcher in self._current())

    def score(self) -> float:
        current = self._current()
        total = sum(matcher.score() for matcher in current)
        bonus = self.bonus
        if bonus is not None and bonus.is_active():
            docnum = current[0].id()
            if bonus.id() < docnum:
                bonus.skip_to(docnum)
            if bonus.is_active() and bonus.id() == docnum:
                total += bonus.score()
        return total * self.boost * len(current) / self.total


class RecordingSet(set):
    """The documents a search may return, remembering every document it is asked about.

    Whoosh's filter asks about every match, once, in document order: afterwards ``asked``
    holds all of the query's matches, the filtered-out ones too, which the facet counts need.
    So they come from the search itself instead of a second evaluation of the query.
    """

    def __init__(self, allowed: Set[int]) -> None:
        super().__init__(allowed)
        self.asked: list[int] = []

    def __contains__(self, docnum: object) -> bool:
        self.asked.append(docnum)  # type: ignore[arg-type]
        return set.__contains__(self, docnum)


def search_page(
    searcher: Searcher,
    query: Query,
    page: int,
    per_page: int,
    *,
    allowed: Set[int],
    sortedby: str | None = None,
    reverse: bool = False,
) -> tuple[ResultsPage, list[int]]:
    """One page of results through Whoosh's own collector, every match scored in full, and
    every match's document number (before the filter: for facet counts).

    Searches go through ``kb.search.blocks.search``, which gives the same results faster;
    this is the reference its tests compare it with (``tests/test_search_blocks.py``).

    Whoosh's top-N collector rewrites the matcher tree once its heap is full ("replace"),
    dropping branches whose estimated best score looks too low; with phrase and coverage
    matchers those estimates are not safe, and which entry came first depended on the page
    size. Scoring every match costs a little time and keeps the ranking exact (and lets the
    filter see every match).
    """
    recording = RecordingSet(allowed)
    collector = searcher.collector(
        limit=page * per_page, sortedby=sortedby, reverse=reverse, filter=recording, optimize=False
    )
    inner = collector
    while isinstance(getattr(inner, "child", None), Collector):
        inner = inner.child
    if isinstance(inner, ScoredCollector):
        inner.replace = 0
    searcher.search_with_collector(query, collector)
    return ResultsPage(collector.results(), page, per_page), recording.asked


class Scaled(WrappingQuery):
    """A query whose scores are multiplied by ``factor`` (span queries ignore their boost)."""

    def __init__(self, child: Query, factor: float) -> None:
        super().__init__(child)
        self.factor = factor

    def __repr__(self) -> str:
        return f"Scaled({self.child!r}, {self.factor})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Scaled) and other.child == self.child and other.factor == self.factor
        )

    __hash__ = WrappingQuery.__hash__

    def _rewrap(self, child: Query) -> Scaled:
        return Scaled(child, self.factor)

    def matcher(self, searcher: Searcher, context: object = None) -> Matcher:
        matcher = self.child.matcher(searcher, context)
        if not matcher.is_active():
            return NullMatcher()
        return WrappingMatcher(matcher, boost=self.factor)
