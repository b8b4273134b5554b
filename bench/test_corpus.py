"""Smoke tests of the corpus generator (not collected by `make test`; run them explicitly):

.venv/bin/python -m pytest bench/test_corpus.py
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from bench import corpus
from kb import create_app
from kb.entries.validation import normalise_tag
from kb.entries.validation import taxonomy_lookups
from kb.entries.validation import validate_record
from kb.extensions import db
from kb.seed import install_taxonomy
from kb.seed import load_data

SAMPLE = 600


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return list(corpus.generate(SAMPLE, seed=42))


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """An empty app with the fixed taxonomy installed and an in-memory index."""
    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'kb.sqlite'}",
            "SECRET_KEY": "bench",
            "SEARCH_INDEX_IN_MEMORY": True,
        }
    )
    with app.app_context():
        db.create_all()
        install_taxonomy(db.session)
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    corpus.write_corpus(first, 300, seed=7)
    corpus.write_corpus(second, 300, seed=7)
    corpus.write_corpus(other, 300, seed=8)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_worker_processes_write_the_same_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpus, "CHUNK", 50)  # several tasks, so the workers really run
    serial = "".join(corpus.corpus_lines(180, seed=5, jobs=1))
    assert "".join(corpus.corpus_lines(180, seed=5, jobs=2)) == serial
    assert serial.count("\n") == 180


def test_a_smaller_corpus_is_a_prefix_of_a_larger_one() -> None:
    assert list(corpus.generate(40, seed=3)) == list(corpus.generate(120, seed=3))[:40]


def test_uids_are_uuid5_of_seed_and_index(records: list[dict[str, Any]]) -> None:
    assert records[0]["uid"] == str(uuid.uuid5(corpus.NAMESPACE, "42:0"))
    assert len({record["uid"] for record in records}) == len(records)


def test_clause_types_and_categories_match_the_taxonomy() -> None:
    taxonomy = load_data("taxonomy")
    expected = {item["slug"]: item["name"] for item in taxonomy["clause_types"]}
    assert expected == corpus.CLAUSE_TYPES
    assert list(corpus.CATEGORIES) == [item["slug"] for item in taxonomy["categories"]]


def test_shape_of_the_records(records: list[dict[str, Any]]) -> None:
    kinds = Counter(record["kind"] for record in records)
    assert 0.62 < kinds["lesson"] / len(records) < 0.78
    published = sum(record["status"] == "published" for record in records) / len(records)
    assert 0.85 < published < 0.95
    for record in records:
        assert 1 <= len(record["title"]) <= 200
        assert len(record["summary"]) <= 500
        assert corpus.MIN_WORDS <= corpus.count_words(record["body"]) <= corpus.MAX_WORDS
        assert all(normalise_tag(tag) == tag for tag in record["tags"])
        assert all(1 <= play <= 8 for play in record["plays"])
        if record["kind"] == "lesson":
            assert record["categories"] and record["benefit"]
        else:
            assert record["clause_type"] in corpus.CLAUSE_TYPES
            assert record["position"] in corpus.POSITIONS
    assert len({record.get("program") for record in records} - {None}) <= len(corpus.PROGRAMS)


def test_word_frequencies_are_skewed(records: list[dict[str, Any]]) -> None:
    counts = Counter(word.lower() for record in records for word in record["body"].split())
    ranked = [count for _, count in counts.most_common()]
    assert ranked[0] > 50 * ranked[len(ranked) // 2]  # a few very common words …
    assert sum(count <= 2 for count in ranked) > len(ranked) / 2  # … and most words rare


def test_records_pass_the_apps_validation(app: Flask, records: list[dict[str, Any]]) -> None:
    with app.app_context():
        lookups = taxonomy_lookups(db.session)
        for record in records:
            validate_record(record, lookups)


def test_kb_import_accepts_a_small_corpus(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    corpus.write_corpus(path, 60, seed=42)
    result = app.test_cli_runner().invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported: 60 created" in result.output
    published = sum(
        json.loads(line)["status"] == "published" for line in path.read_text().splitlines()
    )
    response = app.test_client().get("/api/v1/entries?per_page=1")
    assert response.get_json()["total"] == published
