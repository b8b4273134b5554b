"""The search log: settled searches, buffered in memory and written in batches after responses.

A search is settled when the form is submitted, a facet or page changes, the typing pauses, or
a result is opened. Results shown while typing are not logged as they appear: their links carry
the search (``from=search``, ``q``, the filters and the result count) and the entry page hands
them to ``record_opened``, so a result opened straight from the as-you-type list settles its
search. Results of a search already logged link plainly, so nothing is counted twice.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from flask import Flask
from flask import Response
from flask import after_this_request
from flask import current_app
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy.orm import Session

from kb import search
from kb.extensions import db
from kb.models import SearchLog
from kb.models import utcnow

log = logging.getLogger(__name__)
EXTENSION = "kb.searchlog"
#: Flush when this many searches wait, or the oldest has waited this long.
BATCH_SIZE = 50
MAX_WAIT_SECONDS = 10.0
PURGE_EVERY_SECONDS = 3600.0
#: The ``from`` parameter of a result link that carries its (not yet logged) search.
FROM_SEARCH = "search"


class SearchLogBuffer:
    """Searches waiting to be written; one per app, shared by its threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: list[dict[str, Any]] = []
        self.first_at = 0.0
        self.purged_at = float("-inf")

    def add(self, row: dict[str, Any]) -> bool:
        """Queue a row; returns whether a flush is due."""
        with self.lock:
            if not self.rows:
                self.first_at = time.monotonic()
            self.rows.append(row)
            return (
                len(self.rows) >= BATCH_SIZE or time.monotonic() - self.first_at >= MAX_WAIT_SECONDS
            )

    def take(self) -> list[dict[str, Any]]:
        """Remove and return every queued row."""
        with self.lock:
            rows, self.rows = self.rows, []
            return rows


def init_app(app: Flask) -> None:
    """Give the app its buffer, flushed at exit too."""
    buffer = app.extensions[EXTENSION] = SearchLogBuffer()
    atexit.register(lambda: buffer.rows and flush(app))


def record(app: Flask, query: str, filters: Mapping[str, Sequence[str]], results: int) -> bool:
    """Queue a settled search (no user id); returns whether a flush is due."""
    row = {"at": utcnow(), "query": query[:256], "filters": dict(filters), "results": results}
    return app.extensions[EXTENSION].add(row)


def opened_result_params(
    query: str, filters: Mapping[str, Sequence[str]], results: int
) -> dict[str, Any]:
    """URL parameters for result links of a search that was not logged (results while typing)."""
    return {"from": FROM_SEARCH, "q": query, **filters, "results": results}


def record_opened(args: Mapping[str, Any]) -> None:
    """On an entry page: log the search its link came from (``opened_result_params``), if any.

    ``args`` is the request's query (a ``MultiDict``); the write happens after the response.
    """
    if args.get("from") != FROM_SEARCH or not hasattr(args, "getlist"):
        return
    query = " ".join(str(args.get("q", "")).split())[:256]
    filters = {}
    for name in search.FILTER_PARAMS:
        values = [value.strip()[:100] for value in args.getlist(name) if value.strip()]
        if values:
            filters[name] = list(dict.fromkeys(values))[:20]
    if not query and not filters:
        return
    try:
        results = max(int(args.get("results", 0)), 0)
    except ValueError:
        results = 0
    app = current_app._get_current_object()
    if record(app, query, filters, results):

        @after_this_request
        def _flush_later(response: Response) -> Response:
            response.call_on_close(lambda: flush(app))
            return response


def flush(app: Flask) -> int:
    """Write queued searches in one statement, purging rows past their retention hourly."""
    buffer: SearchLogBuffer = app.extensions[EXTENSION]
    rows = buffer.take()
    try:
        _write(app, buffer, rows)
    except Exception:  # the log is a convenience: never let it break a response or an exit
        log.exception("could not write %d search log rows", len(rows))
        return 0
    return len(rows)


def _write(app: Flask, buffer: SearchLogBuffer, rows: list[dict[str, Any]]) -> None:
    with app.app_context(), Session(db.engine) as session:
        if rows:
            session.execute(insert(SearchLog), rows)
        if time.monotonic() - buffer.purged_at > PURGE_EVERY_SECONDS:
            buffer.purged_at = time.monotonic()
            days = int(app.config["SEARCH_LOG_RETENTION_DAYS"])
            session.execute(delete(SearchLog).where(SearchLog.at < utcnow() - timedelta(days=days)))
        session.commit()
