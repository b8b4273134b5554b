"""The derived index: outbox events in the same transaction, catch-up, rebuilds, basic queries."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy import select

from kb import create_app
from kb import search
from kb.entries.services import create_entry
from kb.entries.validation import taxonomy_lookups
from kb.entries.validation import validate_record
from kb.extensions import db
from kb.models import IndexEvent
from kb.search.outbox import PENDING
from kb.seed import install_taxonomy
from kb.seed import system_user

RECORD = {
    "kind": "lesson",
    "title": "Agree the transfer method before approval",
    "body": "Choose SFTP or the state's secure file exchange with the provider early.",
    "categories": ["data-fulfillment"],
    "status": "published",
}


def _create(**overrides):
    clean = validate_record({**RECORD, **overrides}, taxonomy_lookups(db.session))
    return create_entry(db.session, clean, author=system_user(db.session))


def test_new_entry_is_searchable_after_commit(app):
    with app.app_context():
        entry = _create()
        db.session.commit()
        assert search.search(db.session, q="transfer method").ids == [entry.id]
        assert search.status(app)["behind"] == 0


def test_rolled_back_entry_leaves_no_event_and_no_document(app):
    with app.app_context():
        _create()
        db.session.rollback()
        assert db.session.scalar(select(func.count(IndexEvent.seq))) == 0
        assert search.search(db.session, q="transfer").total == 0
        assert search.status(app)["documents"] == 0


def test_a_write_the_index_missed_is_caught_up(app):
    """A commit whose catch-up never ran (another process, a crash) is applied later."""
    with app.app_context():
        entry = _create()
        db.session.info.pop(PENDING)
        db.session.commit()
        state = search.status(app)
        assert state["behind"] == 1 and state["ok"] is False
        assert app.test_cli_runner().invoke(args=["index", "status"]).exit_code == 1
        assert search.search(db.session, q="transfer").ids == [entry.id]  # catches up first
        assert search.status(app)["ok"] is True


def test_stemming_and_any_term_fallback(app):
    with app.app_context():
        entry = _create()
        db.session.commit()
        assert search.search(db.session, q="transfers approved").ids == [entry.id]
        fallback = search.search(db.session, q="transfer zebra")
        assert fallback.match == "any" and fallback.ids == [entry.id]
        assert search.search(db.session, q='"method before"').ids == [entry.id]
        assert search.search(db.session, q='"before method"').ids == []


def test_filters_and_visibility(app):
    with app.app_context():
        published = _create()
        _create(status="draft", title="Draft about transfer")
        db.session.commit()
        assert search.search(db.session, q="transfer").ids == [published.id]
        assert search.search(db.session, q="transfer", filters={"kind": ["snippet"]}).total == 0
        everything = search.search(
            db.session, q="transfer", visibility=search.Visibility(see_all=True)
        )
        assert everything.total == 2


def test_overlong_queries_are_capped_and_odd_syntax_never_fails(app):
    with app.app_context():
        _create()
        db.session.commit()
        long = search.search(db.session, q=" ".join(["transfer"] * 40))
        assert long.truncated and len(long.query.split()) == 16
        for odd in ('"unbalanced', "(((", "title:", "AND OR NOT", "*", "-", "a:b:c"):
            assert search.search(db.session, q=odd).total >= 0


def test_a_corrupt_index_is_rebuilt_on_open(tmp_path):
    config = {"DATA_DIR": str(tmp_path), "SECRET_KEY": "x", "SEARCH_INDEX_IN_MEMORY": False}
    app = create_app(config)
    with app.app_context():
        db.create_all()
        install_taxonomy(db.session)
        entry = _create()
        db.session.commit()
        entry_id = entry.id
    for path in (tmp_path / "search-index").iterdir():
        path.write_bytes(b"garbage")
    fresh = create_app(config)
    with fresh.app_context():
        assert search.search(db.session, q="transfer").ids == [entry_id]
        assert search.status(fresh)["documents"] == 1
    with fresh.app_context():
        db.engine.dispose()
    with app.app_context():
        db.engine.dispose()
