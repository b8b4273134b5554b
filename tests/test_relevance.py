"""Relevance: queries program staff would type, each expecting one guidebook lesson first.

The queries (tests/relevance_queries.yaml) were written from the users' side, without looking
at the search code; nothing in the code is tuned per query.

Issue #3 asks for 90% ranked first. Measured now: 91% (49 of 54; it was 74% before the
ranking work of BM25F field weights, Lucene's idf, coverage and proximity, agent nouns, tag
words and a few domain synonyms, and 89% before glossary terms no entry uses were searched by
their definitions). The misses are printed by ``-s`` and listed when the test fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kb import create_app
from kb import search
from kb.extensions import db
from kb.seed import load_data

QUERIES = yaml.safe_load((Path(__file__).parent / "relevance_queries.yaml").read_text())["queries"]
GOAL = 0.90


@pytest.fixture(scope="module")
def guidebook_app(tmp_path_factory):
    """The guidebook's lessons only (`kb init` + `kb seed`), as a department starts."""
    data_dir = tmp_path_factory.mktemp("guidebook")
    app = create_app({"DATA_DIR": str(data_dir), "SECRET_KEY": "x", "TESTING": True})
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init"]).exit_code == 0
    assert runner.invoke(args=["seed"]).exit_code == 0
    return app


def _first_lesson_number(app, query: str, per_page: int = 1) -> int | None:
    numbers = {item["uid"]: item["number"] for item in load_data("lessons")["lessons"]}
    with app.app_context():
        from kb.models import Entry

        found = search.search(db.session, q=query, per_page=per_page)
        if not found.ids:
            return None
        return numbers.get(db.session.get(Entry, found.ids[0]).uid)


def test_the_query_set_is_big_and_broad():
    assert len(QUERIES) >= 25
    assert len({query["expect"] for query in QUERIES}) >= 20
    assert sum(query.get("note") == "typo" for query in QUERIES) >= 5


def test_the_right_lesson_comes_first(guidebook_app):
    misses = []
    for query in QUERIES:
        got = _first_lesson_number(guidebook_app, query["q"])
        if got != query["expect"] and got not in query.get("also_ok", []):
            misses.append(f"{query['q']!r}: expected lesson {query['expect']}, got {got}")
    hit_rate = 1 - len(misses) / len(QUERIES)
    print(f"relevance: {hit_rate:.0%} of {len(QUERIES)} right first (goal {GOAL:.0%})")
    print("\n".join(misses))
    assert hit_rate >= GOAL, "\n".join(misses)


def test_the_first_result_does_not_depend_on_the_page_size(guidebook_app):
    """Every match is scored in full: no optimisation may drop the best one from a short page."""
    for query in QUERIES:
        first = _first_lesson_number(guidebook_app, query["q"])
        assert _first_lesson_number(guidebook_app, query["q"], per_page=20) == first, query["q"]
