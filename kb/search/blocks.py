"""Scoring every match of a query from whole blocks of postings instead of one match at a time.

Whoosh answers a query with a tree of matchers that advance together, one document at a
time, calling a Python method per node and per document: for a word found in most of 20,000
entries that walk alone took over 100 ms. Our searches need every match anyway (exact ranking,
result and facet counts), so this module computes the same thing the other way round: each
word's postings are read a block at a time (Whoosh stores them in blocks of ids and weights)
and scored with the same BM25F formula, giving a dict ``document → score``; AND, OR, "any
word" coverage, exclusion, boosts and the proximity bonus combine those dicts with set and
dict operations. Phrases and proximity pairs are checked from the words' stored positions,
only in the documents that have all their words (and, inside an AND, only in those the other
words left).

Only the shapes our query builder produces are taken apart: text-field words, ``And``,
``Or``, ``CoverageOr``, ``AndMaybe``, ``AndNot``, ``Scaled``, ``Phrase`` and the proximity
``SpanNear2`` pairs. Anything else (a prefix, a field term, ``Not``, other span queries) is
scored by Whoosh's own matcher. Every score is the one Whoosh's matcher tree gives, added up
in the same order where Whoosh's order is fixed (``tests/test_search_blocks.py`` compares both
on every query shape); the weighting's ``final`` step (staleness) is applied in ``search``, as
Whoosh's collector does. What is read from an index segment (lengths, postings, positions,
stored fields) is kept per segment, which never changes once written.
"""

from __future__ import annotations

import heapq
import pickle
import threading
from array import array
from collections import OrderedDict
from collections.abc import Hashable
from collections.abc import Iterator
from collections.abc import Set
from itertools import accumulate
from math import ceil
from typing import Any

from whoosh import sorting
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.formats import Positions
from whoosh.matching import FilterMatcher
from whoosh.query import And
from whoosh.query import AndMaybe
from whoosh.query import AndNot
from whoosh.query import Every
from whoosh.query import Or
from whoosh.query import Phrase
from whoosh.query import Query
from whoosh.query import SpanNear2
from whoosh.query import Term
from whoosh.reading import IndexReader
from whoosh.scoring import BM25F
from whoosh.searching import Searcher
from whoosh.system import _INT_SIZE

from kb.search.scoring import STALE_FACTOR
from kb.search.scoring import CoverageOr
from kb.search.scoring import RankWeighting
from kb.search.scoring import Scaled

#: The one field whose words are scored here (every other field goes through Whoosh).
TEXT = "text"

Scores = dict[int, float]


class _Memo:
    """Values derived from one index segment, most recently used first, within a budget.

    Segments never change once written (a merge writes a new one; a deletion only adds to
    the segment's deleted set, which is applied after), so what is read from a segment can
    be kept under its id. ``cost`` is counted in documents or postings.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._lock = threading.Lock()
        self._values: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._spent = 0

    def get(self, key: Hashable) -> Any:
        with self._lock:
            found = self._values.get(key)
            if found is None:
                return None
            self._values.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: Any, cost: int) -> None:
        with self._lock:
            if key in self._values or cost > self.budget:
                return
            self._values[key] = (value, cost)
            self._spent += cost
            while self._spent > self.budget:
                _, (_, freed) = self._values.popitem(last=False)
                self._spent -= freed


#: Each segment's ``text`` lengths (4 bytes per document).
_LENGTHS = _Memo(budget=2_000_000)
#: Each (segment, word): its documents and their BM25 term-frequency parts (12 bytes per
#: posting: 24 MB at most).
_POSTINGS = _Memo(budget=2_000_000)
#: Each (segment, word): its documents → the word's encoded positions there (for phrases and
#: the proximity bonus; some 100 bytes per posting: 20 MB at most).
_POSITIONS = _Memo(budget=200_000)
#: (segment, document) → its stored fields (the texts shown and highlighted: a few KB each).
_STORED = _Memo(budget=2_000)


def _segment_name(reader: IndexReader) -> str | None:
    segment = reader.segment() if hasattr(reader, "segment") else None
    return segment.segment_id() if segment is not None else None


class _Evaluator:
    """Scores a query over one segment (document numbers local to it)."""

    def __init__(self, top: Searcher, leaf: Searcher) -> None:
        self.top = top
        self.leaf = leaf
        self.reader = leaf.reader()
        self.segment = _segment_name(self.reader)
        self._lengths: array | None = None

    def scores(self, query: Query, within: Set[int] | None = None) -> Scores:
        """The documents ``query`` matches → their scores. With ``within``, only those
        documents need to be right (the caller keeps no other): costly subqueries then look
        at those documents only, as Whoosh's intersection does with ``skip_to``."""
        kind = type(query)
        if kind is Term and query.fieldname == TEXT:
            return self.term(query)
        if kind is And or kind is Or:
            return self.compound(query, within)
        if kind is CoverageOr:
            return self.coverage(query, within)
        if kind is AndMaybe:
            found = self.scores(query.a, within)
            extra = self.scores(query.b, found.keys()) if found else {}
            return {d: s + extra[d] if d in extra else s for d, s in found.items()}
        if kind is AndNot:
            found = self.scores(query.a, within)
            if found:
                excluded = self.scores(query.b, found.keys())
                found = {d: s for d, s in found.items() if d not in excluded}
            return found
        if kind is Scaled:
            factor = query.factor
            return {d: s * factor for d, s in self.scores(query.child, within).items()}
        if kind is Phrase or kind is SpanNear2:
            return self.positional(query, within)
        return self.whoosh(query, within)

    def positional(self, query: Phrase | SpanNear2, within: Set[int] | None) -> Scores:
        """A phrase of text words, or a proximity pair; any other span query goes to Whoosh."""
        found = None
        if isinstance(query, Phrase) and query.fieldname == TEXT:
            found = self.near(query.words, query.slop, True, within)
            boost = query.boost
            if found is not None and boost != 1.0:
                found = {d: s * boost for d, s in found.items()}
        elif isinstance(query, SpanNear2) and _near_pair(query):
            found = self.near([sub.text for sub in query.qs], query.slop, False, within)
        return self.whoosh(query, within) if found is None else found

    def near(
        self, words: list[str], slop: int, ordered: bool, within: Set[int] | None
    ) -> Scores | None:
        """Documents with the words near each other: as a phrase (``ordered``: each word 1 to
        ``slop`` positions after the one before) or as a pair in either order (1 to ``slop``
        apart); scored as Whoosh's span matchers are, the words' scores added up as its
        binary tree of intersections adds them. ``None``: positions not readable here."""
        field = self.reader.schema[TEXT]
        try:
            texts = [field.to_bytes(word) for word in words]
        except ValueError:
            return {}
        if any((TEXT, text) not in self.reader for text in texts):
            return {}
        parts = [self.term(Term(TEXT, text)) for text in texts]
        docs = set(min(parts, key=len))
        for part in parts:
            docs.intersection_update(part.keys())
        if within is not None:
            docs.intersection_update(within)
        if not docs:
            return {}
        values = [self._positions(text) for text in texts]
        if any(value is None for value in values):
            return None
        decode = (
            _decode_positions if type(field.format) is Positions else field.format.decode_positions
        )
        found: Scores = {}
        for d in sorted(docs):
            positions = [decode(value[d]) for value in values]  # type: ignore[index]
            if _chained(positions, slop) if ordered else _close(*positions, slop):
                found[d] = _tree_sum([part[d] for part in parts])
        return found

    def whoosh(self, query: Query, within: Set[int] | None = None) -> Scores:
        """Any other query: Whoosh's own matcher, one match at a time (skipping to the
        documents of ``within`` when given)."""
        matcher = query.matcher(self.leaf)
        found: Scores = {}
        if within is None:
            while matcher.is_active():
                found[matcher.id()] = matcher.score()
                matcher.next()
            return found
        for d in sorted(within):
            if not matcher.is_active():
                break
            if matcher.id() < d:
                matcher.skip_to(d)
                if not matcher.is_active():
                    break
            if matcher.id() == d:
                found[d] = matcher.score()
        return found

    def compound(self, query: And | Or, within: Set[int] | None) -> Scores:
        subqueries = query.subqueries
        if not subqueries:
            return {}
        if len(subqueries) == 1:  # Whoosh uses the one child's matcher as it is (no boost)
            return self.scores(subqueries[0], within)
        if isinstance(query, Or) and getattr(query, "scale", None):
            return self.whoosh(query, within)  # a coordination factor: not a shape we produce
        if isinstance(query, And):
            found = self._intersection(subqueries, within)
        else:
            found = {}
            for sub in subqueries:
                for d, s in self.scores(sub, within).items():
                    found[d] = found[d] + s if d in found else s
        boost = query.boost
        return found if boost == 1.0 else {d: s * boost for d, s in found.items()}

    def _intersection(self, subqueries: list[Query], within: Set[int] | None) -> Scores:
        """Documents every subquery matches, scores summed in the subqueries' order. Words
        go first; costly subqueries (phrases, spans) only look at what the words left."""
        order = sorted(range(len(subqueries)), key=lambda n: not _plain(subqueries[n]))
        parts: list[Scores] = [{}] * len(subqueries)
        docs = within
        for n in order:
            parts[n] = self.scores(subqueries[n], docs)
            docs = parts[n].keys() if docs is None else parts[n].keys() & docs
            if not docs:
                return {}
        if len(parts) == 2:
            first, second = parts
            return {d: first[d] + second[d] for d in docs}
        found = dict.fromkeys(docs, 0.0)
        for part in parts:
            for d in docs:
                found[d] += part[d]
        return found

    def coverage(self, query: CoverageOr, within: Set[int] | None) -> Scores:
        """``CoverageMatcher``: (sum of the words' scores + bonus) × boost × matched / all."""
        sums: Scores = {}
        counts: dict[int, int] = {}
        for sub in query.subqueries:
            for d, s in self.scores(sub, within).items():
                if d in sums:
                    sums[d] += s
                    counts[d] += 1
                else:
                    sums[d] = 0.0 + s
                    counts[d] = 1
        bonus = self.scores(query.bonus, sums.keys()) if query.bonus is not None and sums else {}
        boost, total = query.boost, len(query.subqueries)
        return {
            d: ((s + bonus[d]) if d in bonus else s) * boost * counts[d] / total
            for d, s in sums.items()
        }

    def term(self, query: Term) -> Scores:
        """A word of the text field: BM25F from whole posting blocks (as ``BM25FScorer``:
        ``idf × tf-part``, then the boost, in Whoosh's order, so the floats are the same)."""
        field = self.reader.schema[TEXT]
        try:
            text = field.to_bytes(query.text)
        except ValueError:
            return {}
        if (TEXT, text) not in self.reader:
            return {}
        weighting = self.top.weighting
        if not isinstance(weighting, BM25F):
            return self.whoosh(query)
        avgfl = self.top.avg_field_length(TEXT) or 1
        b, k1 = weighting._field_B.get(TEXT, weighting.B), weighting.K1
        postings = self._postings(text, avgfl, b, k1)
        if postings is None:
            return self.whoosh(query)
        ids, parts = postings
        idf, boost = self.top.idf(TEXT, text), query.boost
        if boost == 1.0:
            found = dict(zip(ids, [idf * part for part in parts], strict=True))
        else:
            found = dict(zip(ids, [idf * part * boost for part in parts], strict=True))
        deleted = self.reader.deleted_docs_set if self.reader.has_deletions() else ()
        for d in deleted:
            found.pop(d, None)
        return found

    def _postings(
        self, text: bytes, avgfl: float, b: float, k1: float
    ) -> tuple[array, array] | None:
        """The word's documents (deleted ones included) and, for each, the part of BM25 that
        does not depend on the word's idf; ``None`` when the postings are not Whoosh 3's."""
        key = (self.segment, text, avgfl, b, k1)
        found = _POSTINGS.get(key) if self.segment is not None else None
        if found is not None:
            return found
        matcher = self.reader.postings(TEXT, text)
        if isinstance(matcher, FilterMatcher):  # it hides deleted documents: we drop them later
            matcher = matcher.child
            matcher.reset()
        if type(matcher) is not W3LeafMatcher:
            return None
        lengths = self._text_lengths()
        ids, parts = array("i"), array("d")
        for block_ids, weights in _blocks(matcher):
            ids.extend(block_ids)
            parts.extend(
                [
                    (w * (k1 + 1)) / (w + k1 * ((1 - b) + b * lengths[d] / avgfl))
                    for d, w in zip(block_ids, weights, strict=True)
                ]
            )
        if self.segment is not None:
            _POSTINGS.put(key, (ids, parts), len(ids))
        return ids, parts

    def _positions(self, text: bytes) -> dict[int, bytes] | None:
        """The word's documents → its encoded positions there (deleted documents included)."""
        key = (self.segment, text)
        found = _POSITIONS.get(key) if self.segment is not None else None
        if found is not None:
            return found
        matcher = self.reader.postings(TEXT, text)
        if isinstance(matcher, FilterMatcher):
            matcher = matcher.child
            matcher.reset()
        if type(matcher) is not W3LeafMatcher or matcher._fixedsize is not None:
            return None
        found = {}
        while matcher.is_active():
            if matcher._ids is None:
                matcher._read_ids()
            if matcher._values is None:
                matcher._read_values()
            found.update(zip(matcher._ids, matcher._values, strict=True))
            matcher._next_block()
        if self.segment is not None:
            _POSITIONS.put(key, found, len(found))
        return found

    def _text_lengths(self) -> array:
        if self._lengths is None:
            found = _LENGTHS.get(self.segment) if self.segment is not None else None
            if found is None:
                length, count = self.reader.doc_field_length, self.reader.doc_count_all()
                # (no length, None, for documents without text: the index's own record)
                found = array("i", [length(d, TEXT, 1) or 0 for d in range(count)])
                if self.segment is not None:
                    _LENGTHS.put(self.segment, found, len(found))
            self._lengths = found
        return self._lengths


def _near_pair(query: SpanNear2) -> bool:
    """Whether a span query is the proximity pair ``kb.search.query`` builds: two plain text
    words, in either order, at least one position apart."""
    return (
        len(query.qs) == 2
        and not query.ordered
        and query.mindist == 1
        and all(_plain(sub) and type(sub) is Term and sub.boost == 1.0 for sub in query.qs)
    )


def _decode_positions(value: bytes) -> list[int]:
    """``whoosh.formats.Positions.decode_positions`` (a count, then the pickled gaps between
    positions, its final stop byte sometimes trimmed), with the running sum done in C."""
    if not value.endswith(b"."):
        value += b"."
    return list(accumulate(pickle.loads(value[_INT_SIZE:])))


def _chained(positions: list[list[int]], slop: int) -> bool:
    """Whether each word occurs 1 to ``slop`` positions after some occurrence of the one
    before it (a phrase: ``SpanNear2`` ordered, minimum distance 1)."""
    ends = positions[0]
    for following in positions[1:]:
        ends = [q for q in following if any(1 <= q - p <= slop for p in ends)]
        if not ends:
            return False
    return True


def _close(first: list[int], second: list[int], slop: int) -> bool:
    """Whether the two words occur 1 to ``slop`` positions apart, in either order."""
    others = set(second)
    return any(p + gap in others or p - gap in others for p in first for gap in range(1, slop + 1))


def _tree_sum(values: list[float]) -> float:
    """Add up as Whoosh's ``make_binary_tree`` of intersection matchers does (same floats)."""
    if len(values) == 1:
        return values[0]
    half = len(values) // 2
    return _tree_sum(values[:half]) + _tree_sum(values[half:])


def _plain(query: Query) -> bool:
    """Whether a query is made of text-field words only (cheap to score in full here)."""
    kind = type(query)
    if kind is Term:
        return query.fieldname == TEXT
    if kind is And or kind is Or:
        return all(_plain(sub) for sub in query.subqueries)
    if kind is Scaled:
        return _plain(query.child)
    return False


def _blocks(matcher: W3LeafMatcher) -> Iterator[tuple[Any, Any]]:
    """Each block's document numbers and weights (reads Whoosh's block attributes)."""
    while matcher.is_active():
        if matcher._ids is None:
            matcher._read_ids()
        if matcher._weights is None:
            matcher._read_weights()
        yield matcher._ids, matcher._weights
        matcher._next_block()


def evaluate(searcher: Searcher, query: Query) -> Scores:
    """Every document ``query`` matches (top-level numbers) → its score before ``final``."""
    found: Scores = {}
    for leaf, offset in searcher.leaf_searchers():
        scores = _Evaluator(searcher, leaf).scores(query)
        found.update(scores if offset == 0 else {d + offset: s for d, s in scores.items()})
    return found


def stored_fields(searcher: Searcher, docnum: int) -> dict[str, Any]:
    """A document's stored fields, kept per segment: opening a segment's stored-fields
    column reads the offsets of all its documents, on every new searcher."""
    leaves = searcher.reader().leaf_readers()
    reader, offset = next((leaf, start) for leaf, start in reversed(leaves) if docnum >= start)
    local, segment = docnum - offset, _segment_name(reader)
    found = _STORED.get((segment, local)) if segment is not None else None
    if found is None:
        found = reader.stored_fields(local)
        if segment is not None:
            _STORED.put((segment, local), found, 1)
    return dict(found)


class Hit:
    """One result: its document number, score and stored fields (read when asked for)."""

    def __init__(self, searcher: Searcher, docnum: int, score: float) -> None:
        self.searcher = searcher
        self.docnum = docnum
        self.score = score
        self._fields: dict[str, Any] | None = None

    def fields(self) -> dict[str, Any]:
        if self._fields is None:
            self._fields = stored_fields(self.searcher, self.docnum)
        return self._fields

    def __getitem__(self, name: str) -> Any:
        return self.fields()[name]


class Page:
    """One page of ranked results, shaped like Whoosh's ``ResultsPage`` where we use it:
    ``total``, ``pagenum`` (a page past the end shows the last one) and the hits."""

    def __init__(self, hits: list[Hit], total: int, pagenum: int) -> None:
        self.hits = hits
        self.total = total
        self.pagenum = pagenum

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)


def _everything(searcher: Searcher) -> Scores:
    """Every document (no words to search: the list is browsed by date), scored 0."""
    found: Scores = {}
    for leaf, offset in searcher.leaf_searchers():
        reader = leaf.reader()
        deleted = reader.deleted_docs_set if reader.has_deletions() else frozenset()
        docs = range(offset, offset + reader.doc_count_all())
        found.update(dict.fromkeys((d for d in docs if d - offset not in deleted), 0.0))
    return found


def _sorted(searcher: Searcher, docs: Set[int], sortedby: str, reverse: bool) -> list[int]:
    """The documents in the order of a sortable field, as Whoosh's sorting collector puts
    them: its own sort keys, then the document number, both reversed with ``reverse``."""
    categorizer = sorting.MultiFacet.from_sortedby(sortedby).categorizer(searcher)
    items = []
    for leaf, offset in searcher.leaf_searchers():
        end = offset + leaf.reader().doc_count_all()
        categorizer.set_searcher(leaf, offset)
        key = categorizer.key_for
        items.extend((key(None, d - offset), d) for d in docs if offset <= d < end)
    items.sort(reverse=reverse)
    return [d for _, d in items]


def search(
    searcher: Searcher,
    query: Query,
    page: int,
    per_page: int,
    allowed: Set[int],
    *,
    sortedby: str | None = None,
    reverse: bool = False,
) -> tuple[Page, list[int]]:
    """One page of the matches in ``allowed`` and every match before that filter (for facet
    counts). Ranked by score (ties: the lower document number first, as Whoosh), or in the
    order of the sortable field ``sortedby``; either way each hit carries its score."""
    scores = _everything(searcher) if type(query) is Every else evaluate(searcher, query)
    matched = list(scores)
    shown = scores.keys() & allowed
    weighting = searcher.weighting
    if isinstance(weighting, RankWeighting):  # its ``final``, for the stale documents only
        for d in shown & weighting.stale:
            scores[d] = scores[d] * STALE_FACTOR
    elif weighting.use_final:
        for d in shown:
            scores[d] = weighting.final(searcher, d, scores[d])
    total = len(shown)
    pagenum = min(ceil(total / per_page), page)
    start = (pagenum - 1) * per_page if pagenum > 0 else 0
    if sortedby is not None:
        best = _sorted(searcher, shown, sortedby, reverse)[: start + per_page]
    else:
        # Highest score first; among equal scores the lower document number (``nlargest``
        # keeps the order of equal items, and the documents go in ascending).
        best = heapq.nlargest(start + per_page, sorted(shown), key=scores.__getitem__)
    hits = [Hit(searcher, d, scores[d]) for d in best[start:]]
    return Page(hits, total, pagenum), matched
