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
from tests.databases import database_url

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
        result = app.test_cli_runner().invoke(args=["index", "status"])
        assert result.exit_code == 1
        assert "The search index is 1 change(s) behind. Run `kb index sync`." in result.output
        assert search.search(db.session, q="transfer").ids == [entry.id]  # catches up first
        assert search.status(app)["ok"] is True


def test_stemming_and_any_term_fallback(app):
    with app.app_context():
        entry = _create()
        db.session.commit()
        assert search.search(db.session, q="transfers approved").ids == [entry.id]
        fallback = search.search(db.session, q="transfer zebra")
        assert fallback.match == "any" and fallback.ids == [entry.id]
        assert search.search(db.session, q='"secure file exchange"').ids == [entry.id]
        assert search.search(db.session, q='"file secure exchange"').ids == []


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
    config = {
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": "x",
        "SEARCH_INDEX_IN_MEMORY": False,
        "SQLALCHEMY_DATABASE_URI": database_url(tmp_path),
    }
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


def test_archived_entry_disappears_for_readers(app):
    with app.app_context():
        entry = _create()
        db.session.commit()
        entry.status = "archived"
        search.enqueue_index(db.session, "entry", [entry.id])
        db.session.commit()
        assert search.search(db.session, q="transfer").total == 0
        curator = search.Visibility(user_id=999, see_all=True)
        assert search.search(db.session, q="transfer", visibility=curator).ids == [entry.id]


def test_delete_event_removes_the_document(app):
    with app.app_context():
        entry = _create()
        db.session.commit()
        search.enqueue_index(db.session, "entry", [entry.id], op="delete")
        db.session.commit()
        assert search.status(app)["documents"] == 0


def test_authors_see_their_own_drafts(app):
    with app.app_context():
        draft = _create(status="draft")
        db.session.commit()
        author = search.Visibility(user_id=draft.author_id)
        assert search.search(db.session, q="transfer", visibility=author).ids == [draft.id]
        assert search.search(db.session, q="transfer").total == 0
        other = search.Visibility(user_id=draft.author_id + 100)
        assert search.search(db.session, q="transfer", visibility=other).total == 0


def test_two_app_instances_on_one_database_see_each_others_writes(tmp_path):
    """Two servers: one database, each its own index, catching up from the outbox."""
    database = database_url(tmp_path / "shared")
    first = create_app(
        {"DATA_DIR": str(tmp_path / "a"), "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": database}
    )
    second = create_app(
        {"DATA_DIR": str(tmp_path / "b"), "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": database}
    )
    with first.app_context():
        db.create_all()
        install_taxonomy(db.session)
        db.session.commit()
    with second.app_context():
        assert search.search(db.session, q="transfer").total == 0
    with first.app_context():
        written_by_first = _create().id
        db.session.commit()
    with second.app_context():
        assert search.search(db.session, q="transfer").ids == [written_by_first]
        written_by_second = _create(title="Transfer schedules belong in the BUCP").id
        db.session.commit()
    with first.app_context():
        found = search.search(db.session, q="transfer").ids
        assert sorted(found) == sorted([written_by_first, written_by_second])
        db.engine.dispose()
    with second.app_context():
        db.engine.dispose()


def test_old_events_are_pruned_and_a_stale_index_is_rebuilt(app):
    from datetime import timedelta

    from kb.models import utcnow
    from kb.search.outbox import prune_events

    with app.app_context():
        entry = _create()
        db.session.info.pop(PENDING)
        db.session.commit()
        db.session.execute(
            IndexEvent.__table__.update().values(created_at=utcnow() - timedelta(days=31))
        )
        assert prune_events(db.session, 30) == 1
        db.session.commit()
        # the index never applied the pruned event: it is rebuilt, so nothing is lost
        assert search.search(db.session, q="transfer").ids == [entry.id]
        assert search.status(app)["ok"]


def test_rebuild_reports_progress(app, runner):
    with app.app_context():
        for n in range(3):
            _create(title=f"Lesson number {n}")
        db.session.commit()
    result = runner.invoke(args=["index", "rebuild"])
    assert result.exit_code == 0
    assert "Rebuilt the search index: 3 entries." in result.output


def test_facet_counts_are_honest_and_or_within_a_parameter(app):
    with app.app_context():
        _create()
        _create(
            kind="snippet",
            clause_type="data-transfer-management",
            categories=[],
            title="Transfer by SFTP",
            tags=["sftp"],
        )
        _create(status="draft", title="Draft transfer note")
        db.session.commit()
        page = search.search(db.session, q="transfer", facets=True)
        kinds = {value.value: value.count for value in page.facets["kind"]}
        assert kinds == {"lesson": 1, "snippet": 1}  # the draft is not counted
        only_lessons = search.search(
            db.session, q="transfer", facets=True, filters={"kind": ["lesson"]}
        )
        assert only_lessons.total == 1
        kinds = {(v.value, v.selected): v.count for v in only_lessons.facets["kind"]}
        assert kinds == {("lesson", True): 1, ("snippet", False): 1}  # own selection left out
        both = search.search(db.session, q="transfer", filters={"kind": ["lesson", "snippet"]})
        assert both.total == 2
        anded = search.search(
            db.session, q="transfer", filters={"kind": ["lesson"], "tag": ["sftp"]}
        )
        assert anded.total == 0


def test_query_language(app):
    with app.app_context():
        lesson = _create()
        snippet = _create(
            kind="snippet",
            clause_type="data-transfer-management",
            categories=[],
            title="Quarterly SFTP transfer",
            body="Files move each quarter.",
            tags=["sftp"],
            plays=[8],
            program="Healthy Habits",
        )
        db.session.commit()

        def ids(q):
            return sorted(search.search(db.session, q=q).ids)

        assert ids("transfer") == sorted([lesson.id, snippet.id])
        assert ids("transfer -quarterly") == [lesson.id]
        assert ids("quarterly OR approval") == sorted([lesson.id, snippet.id])
        assert ids("kind:snippet") == [snippet.id]
        assert ids("type:data-transfer-management") == [snippet.id]
        assert ids("play:8") == [snippet.id]
        assert ids("tag:sftp") == [snippet.id]
        assert ids("category:data-fulfillment") == [lesson.id]
        assert ids('program:"Healthy Habits"') == [snippet.id]
        assert ids("quart*") == [snippet.id]
        typo = search.search(db.session, q="quartrly")
        assert typo.ids == [snippet.id] and typo.suggestion == "quarterly"


def test_a_program_name_with_a_comma_is_one_value(app):
    with app.app_context():
        housing = _create(program="Housing, Homelessness and Care", title="Shelter data")
        _create(program="Housing", title="Rent data")
        _create(program="Care", title="Care data")
        db.session.commit()
        filtered = search.search(
            db.session, q="data", filters={"program": ["housing, homelessness and care"]}
        )
        assert filtered.ids == [housing.id]
        assert search.search(db.session, q='program:"Housing, Homelessness and Care"').ids == [
            housing.id
        ]
        counted = search.search(db.session, q="data", facets=True).facets["program"]
        assert sorted(value.count for value in counted) == [1, 1, 1]


def test_highlights_escape_everything_but_mark(app):
    with app.app_context():
        _create(body="Use <b>bold</b> & the transfer <script>alert(1)</script> plan.")
        db.session.commit()
        [passages] = search.search(db.session, q="transfer", highlights=True).highlights.values()
        joined = " ".join(passages)
        assert '<mark class="match term0">transfer</mark>' in joined
        assert "<script" not in joined and "<b>" not in joined
        assert "&lt;script&gt;" in joined or "alert" in joined


def _documents_with_key(app, entry_id):
    from kb.search.schema import entry_key

    index = search._state(app).open()
    with index.searcher() as searcher:
        return list(searcher.document_numbers(key=entry_key(entry_id)))


def test_an_entry_changed_twice_before_one_catch_up_is_indexed_once(app, monkeypatch):
    """One catch-up writes an entry once, however many of its events it applies: Whoosh
    cannot replace or delete a document its own writer added, so the second write of an entry
    (a later batch of the same catch-up) used to add a second document."""
    from kb.search import index as search_index

    monkeypatch.setattr(search_index, "BATCH", 2)
    with app.app_context():
        search.catch_up(app)  # the (empty) index exists and is up to date
        with monkeypatch.context() as quiet:  # the writes' own catch-ups do not run
            quiet.setattr(search, "catch_up", lambda *args, **kwargs: 0)
            first = _create(title="Transfer first")
            others = [_create(title=f"Transfer number {n}") for n in range(3)]
            db.session.commit()
            first.title = "Transfer first, renamed"
            search.enqueue_index(db.session, "entry", [first.id])
            gone = others[0]
            search.enqueue_index(db.session, "entry", [gone.id], op="delete")
            db.session.commit()
        assert search.catch_up(app) == 6
        assert len(_documents_with_key(app, first.id)) == 1
        assert _documents_with_key(app, gone.id) == []
        assert search.status(app)["documents"] == 3
        found = search.search(db.session, q="renamed")
        assert found.ids == [first.id]


def test_a_changed_entry_replaces_its_document(app):
    """An entry already in the index is replaced, not added again, by a later catch-up."""
    with app.app_context():
        entry = _create()
        db.session.commit()
        entry.title = "Agree the transfer schedule before approval"
        search.enqueue_index(db.session, "entry", [entry.id])
        db.session.commit()
        assert len(_documents_with_key(app, entry.id)) == 1
        assert search.status(app)["documents"] == 1
        assert search.search(db.session, q="schedule").ids == [entry.id]
        assert search.search(db.session, q='"transfer method"').total == 0


def test_the_words_field_is_given_as_its_analyzer_would_make_it(app):
    """``entry_document`` hands Whoosh the typo-correction words already split (a list is
    indexed without the field's analyzer): they must be what that analyzer makes of them."""
    from kb.search.schema import build_schema
    from kb.search.schema import entry_document

    with app.app_context():
        entry = _create(
            title="Don't SHARE the Data; minimum-necessary!",
            body="Café **bold** o'clock x_y 45 CFR\n\n- a list\n- of words",
            tags=["Data Stewards"],
        )
        db.session.commit()
        words = entry_document(entry)["words"]
        analyzer = build_schema()["words"].analyzer
        assert words == sorted(token.text for token in analyzer(" ".join(words), mode="index"))
        assert {"don't", "share", "caf", "o'clock", "stewards"} <= set(words)


def test_a_bulk_catch_up_keeps_all_its_postings_in_memory():
    """A writer's buffer spilt to disk costs every posting a write and a read: a batch that fits
    in the bulk buffer gets it (the bench's 20,000-entry import), a larger one the usual."""
    from kb.search.index import BULK_WRITER_MB
    from kb.search.index import WRITER_MB
    from kb.search.index import writer_mb

    assert writer_mb(1) == writer_mb(20_000) == BULK_WRITER_MB
    assert writer_mb(100_000) == WRITER_MB


def test_an_entry_takes_no_more_buffer_than_reckoned(app, runner, tmp_path):
    """``ENTRY_BUFFER_KB`` covers what bench-corpus entries really take in Whoosh's buffer."""
    import json

    from sqlalchemy.orm import Session

    from bench.corpus import generate
    from kb.search.index import ENTRY_BUFFER_KB
    from kb.search.index import _load_entries
    from kb.search.index import _PrivateRamStorage
    from kb.search.schema import build_schema
    from kb.search.schema import entry_document

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(record) for record in generate(100, seed=42)))
    assert runner.invoke(args=["import", str(corpus)]).exit_code == 0
    writer = _PrivateRamStorage().create_index(build_schema()).writer()
    with app.app_context(), Session(db.engine) as session:
        entries = _load_entries(session, range(1, 101))
        for entry in entries:
            writer.add_document(**entry_document(entry))
    assert len(entries) == 100
    assert writer.pool.currentsize / len(entries) <= ENTRY_BUFFER_KB * 1024 * 0.9
    writer.cancel()
