"""Full-text search: the only package that imports Whoosh.

Public API: ``init_app``, ``enqueue_index``, ``catch_up``, ``rebuild``, ``status``, ``search``,
``related``, ``glossary_changed``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from typing import TypeVar

import yaml
from flask import Flask
from flask import current_app
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from whoosh.index import Index

from kb.config import PROJECT_ROOT
from kb.extensions import database_busy
from kb.extensions import db
from kb.search import index as _index
from kb.search import scoring
from kb.search import whoosh_patches
from kb.search.cache import ResultCache
from kb.search.cache import request_key
from kb.search.outbox import PENDING
from kb.search.outbox import enqueue_index
from kb.search.outbox import ensure_counter
from kb.search.outbox import prune_events
from kb.search.query import FILTER_PARAMS
from kb.search.query import MAX_QUERY_CHARS
from kb.search.query import MAX_QUERY_TERMS
from kb.search.query import PREFIXES
from kb.search.query import SORTS
from kb.search.query import FacetValue
from kb.search.query import SearchPage
from kb.search.query import Visibility
from kb.search.query import related as _related
from kb.search.query import run_search
from kb.search.query import similar_to_text as _similar
from kb.search.schema import word_analyzer
from kb.search.thesaurus import GlossaryThesaurus

__all__ = [
    "FILTER_PARAMS",
    "MAX_QUERY_CHARS",
    "MAX_QUERY_TERMS",
    "PREFIXES",
    "SORTS",
    "FacetValue",
    "related",
    "SearchPage",
    "Visibility",
    "catch_up",
    "enqueue_index",
    "ensure_counter",
    "glossary_changed",
    "init_app",
    "rebuild",
    "search",
    "status",
]

log = logging.getLogger(__name__)
whoosh_patches.apply()
EXTENSION = "kb.search"
PRUNE_EVERY_SECONDS = 3600
#: Search results kept per process until the index changes (``KB_SEARCH_CACHE_SIZE``; 0: none).
DEFAULT_CACHE_SIZE = 256
SYNONYMS_FILE = PROJECT_ROOT / "seed" / "synonyms.yaml"
T = TypeVar("T")


def init_app(app: Flask) -> None:
    """Attach this process's index to the app (opened lazily, on first use)."""
    in_memory = app.config.get("SEARCH_INDEX_IN_MEMORY")
    path = None if in_memory else Path(app.config["SEARCH_INDEX_DIR"])
    state = app.extensions[EXTENSION] = _index.SearchIndex(path=path)
    synonyms = Path(app.config.get("SEARCH_SYNONYMS_FILE") or SYNONYMS_FILE)
    groups = (
        yaml.safe_load(synonyms.read_text(encoding="utf-8"))["groups"] if synonyms.exists() else []
    )
    state.thesaurus = GlossaryThesaurus(groups, word_analyzer())
    state.results = ResultCache(app.config.get("SEARCH_CACHE_SIZE", DEFAULT_CACHE_SIZE))


def glossary_changed(app: Flask | None = None) -> None:
    """Call after a glossary write: the next search reads the glossary's synonyms again.

    (Other processes notice within ``kb.search.thesaurus.CHECK_SECONDS``.)
    """
    _state(app).thesaurus.changed()


def _state(app: Flask | None = None) -> _index.SearchIndex:
    return (app or current_app).extensions[EXTENSION]


def _healing(state: _index.SearchIndex, work: Callable[[], T]) -> T:
    """Run ``work``; if it fails because the index on disk became unreadable (its folder
    deleted or its files damaged while we run), recreate the index and run it once more.

    Any other failure is raised as it is: a bug must not cost a rebuild on every request.
    """
    try:
        return work()
    except Exception as exc:
        if state.readable():
            raise
        reason = f"{type(exc).__name__}: {exc}"
        _index.collect_unclosed_files(exc)
    state.reset(reason)
    return work()


def catch_up(app: Flask | None = None, *, wait: float = _index.WRITER_WAIT_SECONDS) -> int:
    """Apply pending outbox events to this process's index; returns how many.

    At most once an hour per process, events past their retention are pruned first.
    """
    app = app or current_app._get_current_object()
    state = _state(app)
    with Session(db.engine) as session:
        if time.monotonic() - state.pruned_at > PRUNE_EVERY_SECONDS:
            state.pruned_at = time.monotonic()
            try:
                prune_events(session, int(app.config["INDEX_EVENT_RETENTION_DAYS"]))
                session.commit()
            except DBAPIError as exc:  # pruning can wait for a quieter moment
                session.rollback()
                if not database_busy(exc):
                    raise
        return _healing(state, lambda: _index.catch_up(state, session, wait=wait))


def rebuild(app: Flask | None = None, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild the index from the database; returns the number of documents."""
    app = app or current_app._get_current_object()
    with Session(db.engine) as session:
        return _index.rebuild(_state(app), session, progress=progress)


def entry_count() -> int:
    """How many entries the database holds (the length of a rebuild)."""
    with Session(db.engine) as session:
        return _index.entry_count(session)


def status(app: Flask | None = None) -> dict[str, Any]:
    """How far the index is behind the database (``ok`` is False when behind or unusable)."""
    app = app or current_app._get_current_object()
    state = _state(app)
    try:
        index = state.open()
        applied = _index.applied_seq(index)
        with Session(db.engine) as session:
            newest = _index.newest_seq(session)
        documents = _index.document_count(index)
    except Exception as exc:  # status must report, never raise
        _index.collect_unclosed_files(exc)
        return {"ok": False, "error": str(exc)}
    return {
        # Ahead is as wrong as behind: the database was restored under this index.
        "ok": applied == newest and not state.needs_rebuild,
        "applied_seq": applied,
        "newest_seq": newest,
        "behind": max(newest - applied, 0),
        "ahead": max(applied - newest, 0),
        "documents": max(documents, 0),
        "location": str(state.path) if state.path else "memory",
    }


def _fresh_index(session: Session) -> Index:
    state = _state()
    index = state.open()
    if state.needs_rebuild or _index.newest_seq(session) != state.applied(index):
        try:
            catch_up()
        except Exception:  # searching a slightly stale index beats failing the request
            log.exception("search index catch-up failed")
    return index


def search(session: Session, **params: Any) -> SearchPage:
    """Run a search (see ``kb.search.query.run_search``), catching the index up first if behind.

    A request answered before in the same index state comes from ``kb.search.cache``.
    """
    state = _state()

    def work() -> SearchPage:
        index = _fresh_index(session)
        thesaurus = state.thesaurus.current(db.engine)
        moment = state.results.state_key(
            index.latest_generation(), thesaurus, scoring.current_minute()
        )
        key = request_key(params)
        found = state.results.get(moment, key)
        if found is None:
            found = run_search(
                index,
                thesaurus=thesaurus,
                facet_table=state.facet_table,
                docsets=state.docsets,
                **params,
            )
            state.results.put(moment, key, found)
        return found

    return _healing(state, work)


def related(session: Session, entry_id: int, visibility: Visibility, limit: int = 5) -> list[int]:
    """Ids of up to ``limit`` entries most like this one, that the reader may see."""
    state = _state()
    return _healing(
        state, lambda: _related(_fresh_index(session), entry_id, visibility, limit, state.docsets)
    )


def similar(
    session: Session,
    text: str,
    visibility: Visibility,
    limit: int = 5,
    exclude_id: int | None = None,
) -> list[int]:
    """Ids of up to ``limit`` readable entries that look like ``text`` (a draft)."""
    state = _state()
    return _healing(
        state,
        lambda: _similar(_fresh_index(session), text, visibility, limit, state.docsets, exclude_id),
    )


@event.listens_for(Session, "after_commit")
def _catch_up_after_commit(session: Session) -> None:
    """New content is searchable at once: catch up after a commit that wrote outbox events."""
    if not session.info.pop(PENDING, False):
        return
    try:
        app = current_app._get_current_object()
    except RuntimeError:
        return
    if EXTENSION not in app.extensions:
        return
    try:
        catch_up(app)
    except Exception:  # the outbox keeps the events; the next catch-up applies them
        log.exception("search index catch-up after commit failed")


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(PENDING, None)
