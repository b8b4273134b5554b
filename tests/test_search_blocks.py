"""The block-at-a-time scorer and the fast passages give exactly what Whoosh gives.

``kb.search.blocks`` scores relevance searches from whole posting blocks and
``kb.search.passages`` builds the marked passages from its own word scan; both must agree with
Whoosh's matcher tree and ``highlight`` on every query shape the search produces: words,
synonyms, "all words" and "any word" (coverage), exclusion, OR, phrases, prefixes, field
prefixes, typo corrections, the proximity bonus, stale entries, an index with deleted
documents and several segments, and pages past the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from flask import Flask
from sqlalchemy import select
from sqlalchemy import update
from whoosh import highlight
from whoosh import qparser
from whoosh.formats import Positions
from whoosh.query import Every

from bench import corpus
from kb import create_app
from kb import search
from kb.extensions import db
from kb.models import Entry
from kb.models import utcnow
from kb.search import blocks
from kb.search import passages
from kb.search import query as search_query
from kb.search import scoring
from kb.search.facets import DocSets
from kb.search.outbox import enqueue_index
from kb.search.schema import word_analyzer

RELEVANCE = yaml.safe_load((Path(__file__).parent / "relevance_queries.yaml").read_text())
QUERIES = [query["q"] for query in RELEVANCE["queries"]] + [
    "data",
    "data sharing agreement",
    '"data sharing"',
    '"minimum necessary" security',
    "data -security",
    "privacy OR encryption",
    "kind:lesson data",
    "kind:snippet transfer",
    "tag:metrics",
    "play:6 describe",
    "secur*",
    "encrypton reveiw",
    "memorandum of understanding",
    "phi",
    "who owns the data",
    "sftp schedule transfer",
    "xyzzy",
    "sftp xyzzy",
    "+data security",
    "(unbalanced",
]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """Seed content plus 200 synthetic entries, then some re-indexed and some removed: an
    index of several segments, some of its documents deleted."""
    data_dir = tmp_path_factory.mktemp("blocks")
    app = create_app({"DATA_DIR": str(data_dir), "SECRET_KEY": "x", "TESTING": True})
    corpus_file = data_dir / "corpus.jsonl"
    with corpus_file.open("w") as stream:
        corpus.write_jsonl(corpus.generate(200, seed=7), stream)
    runner = app.test_cli_runner()
    for args in (["init"], ["seed", "--demo"], ["import", str(corpus_file)]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    with app.app_context():
        ids = list(db.session.scalars(select(Entry.id).order_by(Entry.id)))
        past = utcnow() - timedelta(days=1)
        db.session.execute(
            update(Entry).where(Entry.id.in_(ids[1::5])).values(review_due=past)
        )  # stale once published
        enqueue_index(db.session, "entry", ids[::7] + ids[1::5])  # old copies deleted
        db.session.commit()
        enqueue_index(db.session, "entry", ids[3::11], op="delete")
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _compare(app: Flask, texts: list[str], group: type, sortedby: str | None = None) -> int:
    """Search each text both ways, for a few pages; returns how many hits were compared.

    Sorted by a date, the order must be Whoosh's; the scores are then the relevance scores
    (Whoosh's sorting collector reports its sort keys as scores instead)."""
    compared = 0
    with app.app_context():
        state = search._state()
        index = search._fresh_index(db.session)
        thesaurus = state.thesaurus.current(db.engine)
        docsets = DocSets()
        with scoring.open_searcher(index, docsets) as searcher:
            visible = search_query.visibility_filter(search_query.Visibility())
            allowed = search_query.allowed_docs(searcher, docsets, visible, {}) or {-1}
            for number, text in enumerate(texts):
                query = Every()
                if text:
                    query, _, _ = search_query.build_query(index, text, group, thesaurus, searcher)
                relevance = {}
                if sortedby:
                    ranked, _ = blocks.search(searcher, query, 1, 10_000, allowed)
                    relevance = {hit.docnum: hit.score for hit in ranked}
                pages = ((1, 10), (3, 4)) if number % 3 else ((1, 10), (999, 10))
                for page, per_page in pages:
                    where = f"{text!r} page {page}×{per_page} sorted by {sortedby}"
                    expected, expected_matched = scoring.search_page(
                        searcher,
                        query,
                        page,
                        per_page,
                        allowed=allowed,
                        sortedby=sortedby,
                        reverse=bool(sortedby),
                    )
                    got, got_matched = blocks.search(
                        searcher,
                        query,
                        page,
                        per_page,
                        allowed,
                        sortedby=sortedby,
                        reverse=bool(sortedby),
                    )
                    assert got.total == expected.total, where
                    assert max(1, got.pagenum) == max(1, expected.pagenum), where
                    assert set(got_matched) == set(expected_matched), where
                    want = [(hit["id"], hit.docnum, hit.score) for hit in expected]
                    have = [(hit["id"], hit.docnum, hit.score) for hit in got]
                    assert [i for i, _, _ in have] == [i for i, _, _ in want], where
                    for (_, docnum, mine), (_, _, theirs) in zip(have, want, strict=True):
                        theirs = relevance[docnum] if sortedby else theirs
                        assert mine == pytest.approx(theirs, rel=1e-9, abs=1e-12), where
                    compared += len(want)
    return compared


def test_the_index_has_several_segments_and_deleted_documents(app):
    with app.app_context():
        index = search._fresh_index(db.session)
        with index.reader() as reader:
            leaves = [leaf for leaf, _ in reader.leaf_readers()]
            assert len(leaves) >= 2
            assert any(leaf.has_deletions() for leaf in leaves)


@pytest.mark.parametrize("group", [qparser.AndGroup, search_query.ANY_GROUP], ids=["all", "any"])
def test_blocks_rank_and_score_every_query_as_whoosh_does(app, group):
    assert _compare(app, QUERIES, group) > 300  # the queries found plenty to compare


@pytest.mark.parametrize("sortedby", ["updated", "verified"])
def test_sorted_searches_keep_whooshs_order_and_report_relevance(app, sortedby):
    texts = ["", "data", "security review", '"data sharing"', "sftp xyzzy", "kind:lesson"]
    assert _compare(app, texts, qparser.AndGroup, sortedby) > 30


def test_a_date_sorted_search_reports_relevance_not_the_date(app):
    """The API's ``score`` of a search sorted by date is the entry's relevance (it was the
    date's sort key, a number near 6e16), and 0 when no words were searched."""
    with app.app_context():
        ranked = search.search(db.session, q="data sharing", per_page=100)
        newest = search.search(db.session, q="data sharing", sort="newest", per_page=100)
        assert newest.total == ranked.total and newest.ids != ranked.ids
        both = set(newest.ids) & set(ranked.ids)
        assert len(both) > 10
        for entry_id in both:
            assert newest.scores[entry_id] == pytest.approx(ranked.scores[entry_id])
        browsed = search.search(db.session, q="", sort="newest", per_page=5)
        assert browsed.ids and set(browsed.scores.values()) == {0.0}


def test_the_index_has_stale_entries(app):
    """So the comparisons above cover the weighting's final step (stale entries scored down)."""
    with app.app_context():
        index = search._fresh_index(db.session)
        with scoring.open_searcher(index, DocSets()) as searcher:
            assert len(searcher.weighting.stale) >= 10


def _whoosh_passages(stored: dict[str, str], terms: frozenset[str]) -> list[str]:
    """What the search showed before: Whoosh's ``highlight`` with the word analyzer."""
    analyzer = word_analyzer()
    formatter = highlight.HtmlFormatter(tagname="mark", between=" … ")
    for name, top in (("body", 2), ("summary", 1)):
        text = (stored.get(name) or "")[: passages.HIGHLIGHT_CHARS]
        if text:
            fragmenter = highlight.ContextFragmenter(maxchars=240, surround=60)
            found = highlight.highlight(text, terms, analyzer, fragmenter, formatter, top=top)
            if found:
                return [found]
    return []


def test_passages_are_exactly_whooshs(app):
    term_sets = [
        {"data"},
        {"secur", "review"},
        {"transfer", "sftp", "schedul"},
        {"minimum", "necessari"},
        {"the", "will", "bucp"},  # stop words are marked too when they are terms
        {"nowher"},
    ]
    with app.app_context():
        index = search._fresh_index(db.session)
        with index.searcher() as searcher:
            documents = [
                fields for fields in searcher.all_stored_fields() if fields.get("entity") == "entry"
            ]
    documents = documents[::3]
    hostile = {"body": "<script>alert('x')</script> & data \u202e <b>data</b>", "summary": ""}
    documents.append(hostile)
    marked = 0
    for terms in map(frozenset, term_sets):
        for stored in documents:
            mine = passages.passages(stored, terms)
            assert mine == _whoosh_passages(stored, terms), (sorted(terms), stored.get("body"))
            marked += any("<mark" in passage for passage in mine)
    assert marked > 50
    [shown] = passages.passages(hostile, frozenset({"data"}))
    assert "<script>" not in shown and "<mark" in shown


def test_a_search_through_the_app_uses_the_block_scorer(app, monkeypatch):
    """Every search goes through ``blocks.search``, the "any word" fallback too."""
    calls = []
    real = blocks.search

    def spy(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(blocks, "search", spy)
    with app.app_context():
        found = search.search(db.session, q="data sharing", per_page=5)
        assert found.ids and len(calls) == 1
        search.search(db.session, q="data sharing", sort="newest", per_page=5)
        assert len(calls) == 2
        fallback = search.search(db.session, q="data xyzzy", per_page=5)
        assert fallback.match == "any" and len(calls) == 4


def test_positions_decode_as_whoosh_decodes_them():
    """Whoosh trims the pickle's stop byte from some stored values; both forms decode."""
    positions_format = Positions()
    lists = [[0], [5], [1, 2, 3], [7, 90, 91, 400], list(range(0, 3000, 7))]
    for positions in lists:
        value = positions_format.encode(positions)
        for stored in (value, value.removesuffix(b".")):
            assert blocks._decode_positions(stored) == positions_format.decode_positions(stored)
            assert blocks._decode_positions(stored) == positions
