"""The SQLite FTS5 baseline: the same corpus and queries, answered by FTS5 alone.

    python -m bench.fts5_baseline CORPUS.jsonl [--db PATH] [--repeats 8] [--seed 42]

What a developer would otherwise build in an afternoon: one FTS5 table over title, summary and
body (``porter unicode61`` tokenizer), a plain table of each entry's kind, status and position
in time, and two link tables for categories and plays. A search does what the app's search does
for a reader, minus the app's extras (synonyms, typo correction, query language, ranking tweaks,
re-hydration from the database, templates):

1. the matching published entries, with the filters, go into a temporary table (the total is its
   row count); when no entry has every word, the words are searched again joined with ``OR``,
   as the app falls back to "any word";
2. the first page (20) ranked by ``bm25()`` with the title weighted (newest first without words),
   then ``snippet()`` highlighting of the body for that page only;
3. facet counts for category, kind and play: a plain ``GROUP BY`` over the matched rowids;
4. the page and facets serialised to JSON, as an API would.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sqlite3
import sys
import time
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PER_PAGE = 20
#: bm25() column weights: title, summary, body (the title counts most, as in the app).
WEIGHTS = (10.0, 3.0, 1.0)

SCHEMA = """
CREATE VIRTUAL TABLE fts USING fts5(title, summary, body, tokenize = 'porter unicode61');
CREATE TABLE doc (
    rowid INTEGER PRIMARY KEY, uid TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL
);
CREATE TABLE doc_category (rowid INTEGER NOT NULL, category TEXT NOT NULL);
CREATE TABLE doc_play (rowid INTEGER NOT NULL, play INTEGER NOT NULL);
"""
INDEXES = """
CREATE INDEX doc_kind ON doc (kind, status);
CREATE INDEX doc_category_rowid ON doc_category (rowid, category);
CREATE INDEX doc_category_category ON doc_category (category, rowid);
CREATE INDEX doc_play_rowid ON doc_play (rowid, play);
CREATE INDEX doc_play_play ON doc_play (play, rowid);
"""


def read_jsonl(path: Path) -> Iterable[dict[str, Any]]:
    """The records of a JSON Lines corpus file, one at a time."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def build(db_path: Path | str, records: Iterable[Mapping[str, Any]]) -> sqlite3.Connection:
    """Create the FTS5 database at ``db_path`` (``:memory:`` allowed) from the records.

    Rowids follow the record order, so a larger rowid is a newer entry.
    """
    if db_path != ":memory:":
        Path(db_path).unlink(missing_ok=True)
    connection = sqlite3.connect(db_path)
    connection.executescript(SCHEMA)
    with connection:
        for rowid, record in enumerate(records, start=1):
            connection.execute(
                "INSERT INTO fts (rowid, title, summary, body) VALUES (?, ?, ?, ?)",
                (rowid, record["title"], record.get("summary") or "", record.get("body") or ""),
            )
            connection.execute(
                "INSERT INTO doc VALUES (?, ?, ?, ?)",
                (rowid, record.get("uid") or "", record["kind"], record.get("status") or ""),
            )
            connection.executemany(
                "INSERT INTO doc_category VALUES (?, ?)",
                [(rowid, slug) for slug in record.get("categories") or ()],
            )
            connection.executemany(
                "INSERT INTO doc_play VALUES (?, ?)",
                [(rowid, int(play)) for play in record.get("plays") or ()],
            )
    connection.executescript(INDEXES)
    connection.execute("INSERT INTO fts (fts) VALUES ('optimize')")
    connection.commit()
    connection.execute("ANALYZE")
    return connection


def match_expression(text: str, any_word: bool = False) -> str | None:
    """The FTS5 MATCH expression for the app's plain query text (None: no words).

    Each word becomes an FTS5 string (so no word is read as an operator); a quoted phrase stays
    a phrase. Words are all required, or joined with ``OR`` when ``any_word``.
    """
    try:
        parts = shlex.split(text)
    except ValueError:  # an unbalanced quote: search the words as plain text
        parts = text.replace('"', " ").split()
    terms = []
    for part in parts:
        words = [w for w in "".join(c if c.isalnum() else " " for c in part).split() if w]
        if words:
            terms.append('"' + " ".join(words) + '"')
    if not terms:
        return None
    return (" OR " if any_word else " ").join(terms)


def _filters(params: Mapping[str, str]) -> tuple[str, list[Any]]:
    clauses = ["doc.status = 'published'"]
    args: list[Any] = []
    if params.get("kind"):
        clauses.append("doc.kind = ?")
        args.append(params["kind"])
    if params.get("category"):
        clauses.append(
            "doc.rowid IN (SELECT rowid FROM doc_category WHERE category = ?)",
        )
        args.append(params["category"])
    if params.get("play"):
        clauses.append("doc.rowid IN (SELECT rowid FROM doc_play WHERE play = ?)")
        args.append(int(params["play"]))
    return " AND ".join(clauses), args


def _fill_hits(
    connection: sqlite3.Connection, match: str | None, where: str, args: list[Any]
) -> int:
    connection.execute("DELETE FROM hits")
    if match is None:
        cursor = connection.execute(
            f"INSERT INTO hits SELECT doc.rowid FROM doc WHERE {where}", args
        )
    else:
        cursor = connection.execute(
            "INSERT INTO hits SELECT doc.rowid FROM fts JOIN doc ON doc.rowid = fts.rowid "
            f"WHERE fts MATCH ? AND {where}",
            [match, *args],
        )
    return cursor.rowcount


def search(connection: sqlite3.Connection, params: Mapping[str, str]) -> dict[str, Any]:
    """One search, as the app's API answers it: total, first page with snippets, facet counts."""
    connection.execute("CREATE TEMP TABLE IF NOT EXISTS hits (rowid INTEGER PRIMARY KEY)")
    where, args = _filters(params)
    text = params.get("q", "")
    match = match_expression(text)
    how = "all"
    total = _fill_hits(connection, match, where, args)
    if total == 0 and match is not None:
        fallback = match_expression(text, any_word=True)
        if fallback != match:
            match, how = fallback, "any"
            total = _fill_hits(connection, match, where, args)
    if match is None:
        rows = connection.execute(
            "SELECT doc.rowid, doc.uid, fts.title, fts.summary, 0.0 FROM hits "
            "JOIN doc ON doc.rowid = hits.rowid JOIN fts ON fts.rowid = hits.rowid "
            "ORDER BY hits.rowid DESC LIMIT ?",
            (PER_PAGE,),
        ).fetchall()
    else:
        weights = ", ".join(str(w) for w in WEIGHTS)
        # CROSS JOIN keeps the full-text match as the outer loop (one FTS5 query); with
        # ``rowid IN (…)`` the planner would run the match once per hit.
        ranked = connection.execute(
            f"SELECT fts.rowid, bm25(fts, {weights}) AS score FROM fts "
            "CROSS JOIN hits ON hits.rowid = fts.rowid WHERE fts MATCH ? "
            "ORDER BY score LIMIT ?",
            (match, PER_PAGE),
        ).fetchall()
        # Highlight only the page shown.
        marks = ", ".join("?" * len(ranked))
        snippets = {
            rowid: (uid, title, snippet)
            for rowid, uid, title, snippet in connection.execute(
                "SELECT fts.rowid, doc.uid, fts.title, "
                "snippet(fts, 2, '<mark>', '</mark>', '…', 16) "
                f"FROM fts JOIN doc ON doc.rowid = fts.rowid "
                f"WHERE fts MATCH ? AND fts.rowid IN ({marks})",
                (match, *(rowid for rowid, _ in ranked)),
            )
        }
        rows = [(rowid, *snippets[rowid], score) for rowid, score in ranked]
    facets = {
        "category": connection.execute(
            "SELECT category, count(*) FROM doc_category JOIN hits USING (rowid) "
            "GROUP BY category ORDER BY count(*) DESC"
        ).fetchall(),
        "kind": connection.execute(
            "SELECT kind, count(*) FROM doc JOIN hits USING (rowid) GROUP BY kind"
        ).fetchall(),
        "play": connection.execute(
            "SELECT play, count(*) FROM doc_play JOIN hits USING (rowid) GROUP BY play"
        ).fetchall(),
    }
    result = {
        "query": text,
        "match": how,
        "total": total,
        "results": [
            {"id": row[0], "uid": row[1], "title": row[2], "snippet": row[3], "score": row[4]}
            for row in rows
        ],
        "facets": {name: dict(counts) for name, counts in facets.items()},
    }
    json.dumps(result)  # an API would serialise it: part of the timed work
    return result


def time_queries(
    connection: sqlite3.Connection,
    queries: Sequence[tuple[str, Mapping[str, str]]],
    repeats: int,
    warmup: int = 1,
    deadline: float | None = None,
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Milliseconds per query name over ``repeats`` round-robin rounds, and each query's total."""
    totals = {name: search(connection, params)["total"] for name, params in queries}
    for _ in range(warmup):
        for _name, params in queries:
            search(connection, params)
    samples: dict[str, list[float]] = {name: [] for name, _ in queries}
    for _ in range(repeats):
        if deadline is not None and time.monotonic() > deadline:
            break
        for name, params in queries:
            started = time.perf_counter_ns()
            search(connection, params)
            samples[name].append((time.perf_counter_ns() - started) / 1e6)
    return samples, totals


def main(argv: Sequence[str] | None = None) -> int:
    """Build the baseline from a corpus file and print each query's p50/p95/p99."""
    from bench.search_bench import fixed_queries
    from bench.search_bench import summarise

    parser = argparse.ArgumentParser(prog="python -m bench.fts5_baseline")
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--db", default=":memory:")
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    connection = build(args.db, read_jsonl(args.corpus))
    print(f"built in {time.perf_counter() - started:.1f} s")
    queries = [(q.name, q.params) for q in fixed_queries(args.seed)]
    samples, totals = time_queries(connection, queries, args.repeats)
    for name, values in samples.items():
        stats = summarise(values)
        print(
            f"{name:<19}{totals[name]:>7}{stats['p50']:>9.2f}{stats['p95']:>9.2f}"
            f"{stats['p99']:>9.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
