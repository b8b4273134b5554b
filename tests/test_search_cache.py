"""The search result cache: a repeated request is answered from it, and nothing it answers
differs from what a new search would give (writes, who is searching, the glossary)."""

from __future__ import annotations

from flask import Flask

from kb import search
from kb.extensions import db
from kb.search import _state
from kb.search.cache import ResultCache
from kb.search.cache import request_key
from kb.search.query import Visibility


def _ids(app: Flask, q: str, visibility: Visibility | None = None) -> list[int]:
    with app.app_context():
        return search.search(db.session, q=q, visibility=visibility or Visibility()).ids


def test_a_repeated_search_is_answered_from_the_cache(app, make_entry) -> None:
    entry = make_entry(title="Aardvark handling")
    assert _ids(app, "aardvark") == [entry.id]
    with app.app_context():
        cache = _state().results
        before = cache.hits
    assert _ids(app, "aardvark") == [entry.id]
    assert cache.hits == before + 1


def test_a_write_is_seen_at_once_despite_the_cache(app, make_entry) -> None:
    first = make_entry(title="Aardvark handling")
    assert _ids(app, "aardvark") == [first.id]
    second = make_entry(title="Aardvark feeding")
    assert sorted(_ids(app, "aardvark")) == sorted([first.id, second.id])


def test_drafts_cached_for_their_author_are_not_shown_to_others(app, make_entry, users) -> None:
    draft = make_entry(title="Aardvark draft", status="draft", author_id=users["cora"])
    author = Visibility(user_id=users["cora"])
    assert _ids(app, "aardvark", author) == [draft.id]
    assert _ids(app, "aardvark") == []
    assert _ids(app, "aardvark", Visibility(user_id=users["cal"])) == []


def test_filters_and_pages_are_part_of_the_key() -> None:
    base = {"q": "data", "filters": {"kind": ["lesson"]}, "page": 1}
    assert request_key(base) == request_key(dict(base))
    assert request_key(base) != request_key({**base, "page": 2})
    assert request_key(base) != request_key({**base, "filters": {"kind": ["snippet"]}})
    assert request_key(base) != request_key({**base, "filters": {}})


def test_a_new_index_state_or_thesaurus_empties_the_cache() -> None:
    cache = ResultCache(4)
    thesaurus, other = object(), object()
    state = cache.state_key(1, thesaurus, 0)
    cache.put(state, "k", "result")
    assert cache.get(cache.state_key(1, thesaurus, 0), "k") == "result"
    assert cache.get(cache.state_key(2, thesaurus, 0), "k") is None
    assert cache.get(cache.state_key(1, other, 0), "k") is None


def test_the_cache_keeps_only_the_most_recent_results() -> None:
    cache = ResultCache(2)
    state = cache.state_key(1, None, 0)
    for key in ("a", "b", "c"):
        cache.put(state, key, key.upper())
    assert cache.get(state, "a") is None
    assert cache.get(state, "c") == "C"


def test_size_zero_turns_the_cache_off(tmp_path) -> None:
    from kb import create_app
    from tests.conftest import _test_config

    app = create_app(_test_config(tmp_path, SEARCH_INDEX_IN_MEMORY=True, SEARCH_CACHE_SIZE=0))
    cache = app.extensions["kb.search"].results
    state = cache.state_key(1, None, 0)
    cache.put(state, "k", "v")
    assert cache.get(state, "k") is None
