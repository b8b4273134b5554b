"""Recent search results, kept until the index changes: hot queries and the prefixes typed
in active search are answered without searching again.

A result depends on the index state (its generation: any write makes a new one), the
synonyms in force, the minute (staleness is decided against the clock) and the request
(query, filters, who is searching, sort, page, what is asked for). All of these make up the
key, so a cached answer is always the answer a new search would give.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from collections.abc import Mapping
from typing import Any


def request_key(params: Mapping[str, Any]) -> Hashable:
    """The parts of a search request that decide its result, as a hashable key."""
    filters = params.get("filters") or {}
    others = tuple(sorted((name, value) for name, value in params.items() if name != "filters"))
    chosen = tuple(sorted((name, tuple(map(str, values))) for name, values in filters.items()))
    return others, chosen


class ResultCache:
    """A small LRU of search results for one index state (``size`` 0: no caching)."""

    def __init__(self, size: int) -> None:
        self.size = max(0, int(size))
        self._lock = threading.Lock()
        self._state: tuple[Any, ...] | None = None
        self._thesaurus: object = None
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def state_key(self, generation: int, thesaurus: object, minute: object) -> tuple[Any, ...]:
        """The index state part of the key. The thesaurus counts by identity (a glossary
        change replaces it); the cache holds the current one, so its id cannot be reused.
        ``minute``: the clock staleness is decided against (``scoring.current_minute``)."""
        return (generation, id(thesaurus), minute), thesaurus

    def _enter(self, state: tuple[Any, ...]) -> None:
        key, thesaurus = state
        if key != self._state:
            self._state, self._thesaurus, self._entries = key, thesaurus, OrderedDict()

    def get(self, state: tuple[Any, ...], key: Hashable) -> Any | None:
        """The cached result of ``key`` in this index state, or ``None``."""
        if not self.size:
            return None
        with self._lock:
            self._enter(state)
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found

    def put(self, state: tuple[Any, ...], key: Hashable, value: Any) -> None:
        """Remember ``value`` as the result of ``key`` in this index state."""
        if not self.size:
            return
        with self._lock:
            self._enter(state)
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
