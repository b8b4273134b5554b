"""Smoke tests of the FTS5 baseline and the benchmark's new pieces (no timings asserted):

.venv/bin/python -m pytest bench/test_fts5.py
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from bench import corpus
from bench import fts5_baseline
from bench import search_bench


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return list(corpus.generate(300, seed=42))


@pytest.fixture(scope="module")
def connection(records: list[dict[str, Any]]) -> sqlite3.Connection:
    return fts5_baseline.build(":memory:", records)


def test_match_expression_quotes_words_and_keeps_phrases() -> None:
    assert fts5_baseline.match_expression("security review") == '"security" "review"'
    assert fts5_baseline.match_expression('"minimum necessary" sftp') == (
        '"minimum necessary" "sftp"'
    )
    assert fts5_baseline.match_expression("a OR b", any_word=True) == '"a" OR "OR" OR "b"'
    assert fts5_baseline.match_expression('"unbalanced') == '"unbalanced"'
    assert fts5_baseline.match_expression("  --  ") is None


def test_every_fixed_query_answers(connection: sqlite3.Connection) -> None:
    for query in search_bench.fixed_queries(42):
        result = fts5_baseline.search(connection, query.params)
        assert result["total"] >= len(result["results"])
        assert len(result["results"]) <= fts5_baseline.PER_PAGE
        assert set(result["facets"]) == {"category", "kind", "play"}


def test_counts_filters_and_facets_agree_with_the_records(
    connection: sqlite3.Connection, records: list[dict[str, Any]]
) -> None:
    published = [r for r in records if r["status"] == "published"]
    snippets = [r for r in published if r["kind"] == "snippet" and 6 in r["plays"]]
    result = fts5_baseline.search(connection, {"kind": "snippet", "play": "6"})
    assert result["total"] == len(snippets)
    assert result["facets"]["kind"] == {"snippet": len(snippets)}
    assert result["facets"]["play"][6] == len(snippets)
    everything = fts5_baseline.search(connection, {})
    assert everything["total"] == len(published)
    assert sum(everything["facets"]["kind"].values()) == len(published)


def test_ranked_page_has_highlights_and_falls_back_to_any_word(
    connection: sqlite3.Connection,
) -> None:
    result = fts5_baseline.search(connection, {"q": "data"})
    assert result["match"] == "all" and result["total"] > 0
    scores = [item["score"] for item in result["results"]]
    assert scores == sorted(scores)  # bm25: lower is better
    assert any("<mark>" in item["snippet"] for item in result["results"])
    fallback = fts5_baseline.search(connection, {"q": f"sftp {search_bench.MISSING_WORD}"})
    assert fallback["match"] == "any" and fallback["total"] > 0


def test_time_queries_returns_a_sample_per_round(connection: sqlite3.Connection) -> None:
    queries = [("a", {"q": "data"}), ("b", {"kind": "lesson"})]
    samples, totals = fts5_baseline.time_queries(connection, queries, repeats=3, warmup=0)
    assert {name: len(values) for name, values in samples.items()} == {"a": 3, "b": 3}
    assert totals["a"] > 0 and totals["b"] > 0


def test_freshness_records_have_words_of_their_own() -> None:
    probes = search_bench.freshness_records(30, seed=42)
    tokens = [probe["token"] for probe in probes]
    assert len(set(tokens)) == 30
    assert len({probe["record"]["uid"] for probe in probes}) == 30
    for probe in probes:
        assert probe["record"]["status"] == "published"
        assert probe["token"] in probe["record"]["title"]
        assert probe["record"]["body"].startswith(probe["token"])


def test_ratios_divide_ours_by_fts5() -> None:
    size: dict[str, Any] = {
        "fts5": {
            **{"n": 2, "p50": 2.0, "p95": 4.0, "p99": 5.0, "max": 5.0, "build_s": 0.1},
            "queries": {"q": {"total": 3, "p50": 1.0}},
        },
        "series": {
            "api": {
                "status": "ok",
                "p50": 20.0,
                "p95": 40.0,
                "p99": 100.0,
                **{"n": 2, "max": 100.0, "complete": True},
                "queries": {"q": {"total": 4, "p50": 10.0, "p95": 11.0}},
            },
            "gone": {"status": "skipped", "reason": "404"},
        },
    }
    search_bench.add_ratios(size)
    assert size["series"]["api"]["ratio_fts5"] == {"p50": 10.0, "p95": 10.0, "p99": 20.0}
    assert size["series"]["api"]["queries"]["q"]["ratio_fts5"] == {"p50": 10.0}
    assert "ratio_fts5" not in size["series"]["gone"]
    assert "x FTS5" in search_bench.format_table({"sizes": [{"size": "1", **size}]})


def test_memory_readings_are_positive() -> None:
    assert (search_bench.rss_mb() or 1) > 0
    assert (search_bench.peak_rss_mb() or 1) > 0
