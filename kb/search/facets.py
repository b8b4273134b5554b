"""Facet counting from a per-reader table of the documents that carry each facet value.

Whoosh's own facets read a term vector per hit, which costs about half a millisecond per hit.
Instead we keep, for every facet value, the set of documents that carry it (read once from the
value's postings), and count a search's matches against each set: a set intersection, done
in C, instead of a Python loop over every match and field.

The sets are kept per index segment. A write adds a small segment (or a merge replaces a few),
so after a write only the new segments are read, and a write in another process makes the
next search only a little slower (freshness).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

from whoosh.query import Query
from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from kb.search.schema import NO_VALUE

#: field → value → the (top-level) document numbers that carry the value.
Table = dict[str, dict[str, frozenset[int]]]


class FacetTable:
    """Value → documents, for a set of keyword fields, for one state of the index."""

    def __init__(self, fields: Iterable[str]) -> None:
        self.fields = tuple(fields)
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self._table: Table = {}
        #: Per segment (by its id): field → value → the segment's own document numbers.
        self._segments: dict[str, Table] = {}

    def values(self, reader: IndexReader) -> Table:
        """The table for this reader, rebuilt (from the cached segments) when it changed."""
        key = (reader.generation(), reader.doc_count_all())
        with self._lock:
            if key != self._key:
                self._table = self._combine(reader)
                self._key = key
            return self._table

    def _combine(self, reader: IndexReader) -> Table:
        leaves = reader.leaf_readers()
        segments: dict[str, Table] = {}
        table: Table = {name: {} for name in self.fields}
        for leaf, offset in leaves:
            segment = leaf.segment()
            name = segment.segment_id() if segment is not None else None
            own = self._segments.get(name) if name is not None else None
            if own is None:
                own = {field: self._read(leaf, field) for field in self.fields}
            if name is not None:
                segments[name] = own
            for field, values in own.items():
                combined = table[field]
                for value, docs in values.items():
                    shifted = docs if offset == 0 else frozenset(d + offset for d in docs)
                    combined[value] = combined[value] | shifted if value in combined else shifted
        self._segments = segments
        return table

    @staticmethod
    def _read(reader: IndexReader, name: str) -> dict[str, frozenset[int]]:
        if name not in reader.schema:
            return {}
        field = reader.schema[name]
        values: dict[str, frozenset[int]] = {}
        for raw in reader.lexicon(name):
            value = field.from_bytes(raw)
            if value == NO_VALUE:
                continue
            values[value] = frozenset(reader.postings(name, raw).all_ids())
        return values


def count(table: Table, fields: Iterable[str], docnums: Iterable[int]) -> dict[str, Counter[str]]:
    """How many of the documents carry each value of each field."""
    hits = docnums if isinstance(docnums, (set, frozenset)) else set(docnums)
    counters: dict[str, Counter[str]] = {}
    for name in fields:
        counter: Counter[str] = Counter()
        for value, docs in table[name].items():
            found = len(docs & hits)  # (CPython walks the smaller of the two sets)
            if found:
                counter[value] = found
        counters[name] = counter
    return counters


class DocSets:
    """Document numbers matching a filter query, cached for one reader generation.

    Whoosh evaluates a query filter by walking every matching posting on each search; the
    visibility filter matches nearly the whole index, so we keep its result (and each facet
    value's) until the index changes.
    """

    MAX_ENTRIES = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self._sets: dict[str, frozenset[int]] = {}

    def get(self, searcher: Searcher, query: Query) -> frozenset[int]:
        """The documents of ``query`` (computed once per index state)."""
        reader = searcher.reader()
        key, name = (reader.generation(), reader.doc_count_all()), repr(query)
        with self._lock:
            if key != self._key or len(self._sets) > self.MAX_ENTRIES:
                self._sets, self._key = {}, key
            found = self._sets.get(name)
        if found is None:
            found = frozenset(searcher.docs_for_query(query))
            with self._lock:
                if self._key == key:
                    self._sets[name] = found
        return found
