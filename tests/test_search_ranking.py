"""Ranking: weighted fields, coverage of the query's words, proximity, and stale entries lower."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kb import search
from kb.extensions import db
from kb.models import Entry
from kb.models import utcnow
from kb.search import scoring

SAME = {
    "title": "Settle the transfer schedule with the provider",
    "summary": "Agree how often files move.",
    "body": "Quarterly extracts need a schedule that both teams keep.",
}


def _ids(q: str, **params) -> list[int]:
    return search.search(db.session, q=q, **params).ids


def _set_review_due(app, *dates: tuple[int, object]) -> None:
    """Set review dates and re-index the entries in the order given (their order in the index,
    which breaks ties between equal scores)."""
    with app.app_context():
        for entry_id, when in dates:
            db.session.get(Entry, entry_id).review_due = when
        search.enqueue_index(db.session, "entry", [entry_id for entry_id, _ in dates])
        db.session.commit()


def test_a_stale_entry_ranks_below_an_equally_relevant_fresh_one(app, make_entry):
    """The stale entry comes first in the index: on a tie it would be first, so only the
    staleness factor can put the fresh one ahead."""
    stale = make_entry(**SAME)
    fresh = make_entry(**SAME)
    soon, past = utcnow() + timedelta(days=30), utcnow() - timedelta(days=1)
    _set_review_due(app, (stale.id, soon), (fresh.id, soon))
    with app.app_context():
        assert _ids("transfer schedule") == [stale.id, fresh.id]  # equal scores: index order
    _set_review_due(app, (stale.id, past), (fresh.id, soon))
    with app.app_context():
        found = search.search(db.session, q="transfer schedule")
        assert found.ids == [fresh.id, stale.id]
        assert found.scores[stale.id] == pytest.approx(
            found.scores[fresh.id] * scoring.STALE_FACTOR
        )


def test_an_entry_turns_stale_as_time_passes_without_reindexing(app, make_entry, monkeypatch):
    first = make_entry(**SAME)
    second = make_entry(**SAME)
    _set_review_due(
        app, (first.id, utcnow() + timedelta(days=10)), (second.id, utcnow() + timedelta(days=400))
    )
    with app.app_context():
        assert _ids("transfer schedule") == [first.id, second.id]
        applied = search.status(app)["applied_seq"]
        monkeypatch.setattr(scoring, "utcnow", lambda: utcnow() + timedelta(days=11))
        assert _ids("transfer schedule") == [second.id, first.id]
        assert search.status(app)["applied_seq"] == applied  # nothing was re-indexed


def test_a_much_better_match_still_beats_a_fresh_one(app, make_entry):
    stale = make_entry(title="Transfer schedule for quarterly transfer files", body="Schedule.")
    fresh = make_entry(title="Provider contacts", body="Mentions a transfer once; no schedule.")
    _set_review_due(app, (stale.id, utcnow() - timedelta(days=1)))
    with app.app_context():
        assert _ids("transfer schedule")[0] == stale.id
        assert fresh.id in _ids("transfer schedule")


def test_more_of_the_query_words_rank_higher_when_any_word_may_match(app, make_entry):
    """By BM25 alone one rare word, repeated, outweighs two common ones; coverage decides."""
    for n in range(2):
        make_entry(title=f"Contracts {n}", body="The vendor signs the contract.")
        make_entry(title=f"Devices {n}", body="Laptops are encrypted.")
    one = make_entry(title="Firmware firmware", body="Firmware updates, firmware signing.")
    two = make_entry(title="Loaned devices", body="Vendor laptops go back after the project.")
    with app.app_context():
        found = search.search(db.session, q="firmware vendor laptops zebra")
        assert found.match == "any"
        assert found.ids[:2] == [two.id, one.id]


def test_query_words_found_together_rank_higher(app, make_entry):
    """The same words in both (equal scores otherwise); the first created wins a tie."""
    apart = make_entry(
        title="Roadmap", body="Kim owner sends the roadmap to each team lead, product"
    )
    together = make_entry(
        title="Roadmap", body="Kim product owner sends the roadmap to each team lead"
    )
    with app.app_context():
        assert _ids("product owner") == [together.id, apart.id]


def test_a_word_in_every_field_does_not_beat_covering_the_query(app, make_entry):
    """BM25F: weighted counts are summed before saturation, not per field."""
    repeated = make_entry(
        title="Legal review",
        summary="Legal questions for legal staff.",
        body="Legal, legal and legal again.",
        benefit="Legal certainty.",
    )
    covering = make_entry(title="Core team", body="Legal, technical and data skills on one team.")
    with app.app_context():
        assert _ids("legal technical data")[0] == covering.id
        assert set(_ids("legal")) == {repeated.id, covering.id}


def test_the_first_result_does_not_depend_on_the_page_size(app, make_entry):
    for n in range(6):
        make_entry(title=f"Data request number {n}", body="Data requests " * (n + 1))
    make_entry(title="Desk procedures", body="Written procedures for handling data.")
    with app.app_context():
        for q in ("desk procedures data requests", "procedures requests"):
            full = _ids(q, per_page=20)
            assert _ids(q, per_page=1) == full[:1]
            assert _ids(q, per_page=3) == full[:3]


def test_tags_are_searched_as_words(app, make_entry):
    tagged = make_entry(title="Trim the request", body="Drop fields.", tags=["minimum-necessary"])
    with app.app_context():
        assert _ids("minimum necessary") == [tagged.id]


def test_busy_is_not_business(app, make_entry):
    """Porter2 stems both to "busi"; they keep stems of their own."""
    busy = make_entry(title="Providers are busy", body="Offer help with the extract.")
    business = make_entry(title="Business case", body="Tie the request to a business need.")
    with app.app_context():
        assert _ids("busy") == [busy.id]
        assert _ids("business") == [business.id]


def test_a_verb_finds_its_agent_noun(app, make_entry):
    make_entry(title="Dataset catalog", body="The catalog lists each dataset.")
    owners = make_entry(title="Dataset owners", body="Who holds each dataset.")
    with app.app_context():
        found = search.search(db.session, q="who owns this dataset")
        assert found.match == "all" and found.ids == [owners.id]
