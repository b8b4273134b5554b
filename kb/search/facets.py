"""Facet counting from a per-reader table of each document's facet values.

Whoosh's own facets read a term vector per hit, which costs about half a millisecond per hit.
Instead, for each state of the index (its reader generation) we build once a list mapping
every document number to its facet values, and count the matched documents against it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

from whoosh.query import Query
from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from kb.search.schema import NO_VALUE


class FacetTable:
    """Document number → values, for a set of keyword fields, for one reader generation."""

    def __init__(self, fields: Iterable[str]) -> None:
        self.fields = tuple(fields)
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self._values: dict[str, list[tuple[str, ...]]] = {}

    def values(self, reader: IndexReader) -> dict[str, list[tuple[str, ...]]]:
        """The table for this reader, rebuilt when the index has changed."""
        key = (reader.generation(), reader.doc_count_all())
        with self._lock:
            if key != self._key:
                self._values = {name: self._build(reader, name) for name in self.fields}
                self._key = key
            return self._values

    @staticmethod
    def _build(reader: IndexReader, name: str) -> list[tuple[str, ...]]:
        table: list[tuple[str, ...]] = [()] * reader.doc_count_all()
        field = reader.schema[name]
        for raw in reader.lexicon(name):
            value = field.from_bytes(raw)
            if value == NO_VALUE:
                continue
            for docnum in reader.postings(name, raw).all_ids():
                table[docnum] = (*table[docnum], value)
        return table


def count(
    table: dict[str, list[tuple[str, ...]]], fields: Iterable[str], docnums: Iterable[int]
) -> dict[str, Counter[str]]:
    """How many of the documents carry each value of each field."""
    fields = tuple(fields)
    counters: dict[str, Counter[str]] = {name: Counter() for name in fields}
    columns = [(counters[name], table[name]) for name in fields]
    for docnum in docnums:
        for counter, column in columns:
            counter.update(column[docnum])
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
