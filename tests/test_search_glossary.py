"""Search understands the glossary: a term and its synonyms find each other, kept current."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from kb import search
from kb.extensions import db
from kb.models import GlossaryTerm
from kb.search import thesaurus as search_thesaurus

# Neither form is in seed/synonyms.yaml: only the glossary can relate them.
ACRONYM = "CDII"
SPELLED = "Center for Data Insights and Innovation"


@pytest.fixture
def entries(app, make_entry):
    """One entry with the acronym only, one with the spelled-out form only, one with its words
    scattered."""
    return {
        "acronym": make_entry(title="Hub access", body=f"Ask {ACRONYM} for an account.").id,
        "spelled": make_entry(title="Hub onboarding", body=f"The {SPELLED} runs the hub.").id,
        "scattered": make_entry(
            title="Innovation days",
            body="A center for new ideas; data insights come later, and innovation after that.",
        ).id,
    }


def _add_term(app, term: str, synonyms: list[str]) -> None:
    with app.app_context():
        db.session.add(GlossaryTerm(term=term, definition="A definition.", synonyms=synonyms))
        db.session.commit()


def _ids(app, q: str) -> set[int]:
    with app.app_context():
        return set(search.search(db.session, q=q).ids)


def test_an_acronym_and_its_spelled_out_form_find_each_other(app, entries):
    assert _ids(app, ACRONYM) == {entries["acronym"]}
    _add_term(app, ACRONYM, [SPELLED])
    search.glossary_changed(app)
    assert _ids(app, ACRONYM) == {entries["acronym"], entries["spelled"]}
    # The words typed must all be there (as in any search); the acronym stands for the phrase.
    assert _ids(app, SPELLED.lower()) == set(entries.values())
    assert entries["scattered"] not in _ids(app, ACRONYM)


def test_the_typed_form_ranks_above_its_synonym(app, entries):
    _add_term(app, ACRONYM, [SPELLED])
    with app.app_context():
        assert search.search(db.session, q=ACRONYM).ids[0] == entries["acronym"]
        assert search.search(db.session, q=SPELLED).ids[0] == entries["spelled"]


def test_curators_synonyms_work_and_follow_edits_and_deletes(app, make_entry):
    steward = make_entry(title="Ask the data steward", body="Stewards approve extracts.").id
    assert _ids(app, "custodian") == set()
    _add_term(app, "data steward", ["custodian"])
    search.glossary_changed(app)
    assert _ids(app, "custodian") == {steward}
    with app.app_context():
        term = db.session.query(GlossaryTerm).one()
        term.synonyms = ["keeper"]
        db.session.commit()
    search.glossary_changed(app)
    assert _ids(app, "custodian") == set()
    assert _ids(app, "keeper") == {steward}
    with app.app_context():
        db.session.execute(delete(GlossaryTerm))
        db.session.commit()
    search.glossary_changed(app)
    assert _ids(app, "keeper") == set()


def test_another_process_s_glossary_change_is_noticed_without_a_call(app, entries, monkeypatch):
    assert _ids(app, ACRONYM) == {entries["acronym"]}
    _add_term(app, ACRONYM, [SPELLED])  # as another process would: no glossary_changed() here
    assert _ids(app, ACRONYM) == {entries["acronym"]}  # checked less than CHECK_SECONDS ago
    monkeypatch.setattr(search_thesaurus, "CHECK_SECONDS", 0.0)
    assert _ids(app, ACRONYM) == {entries["acronym"], entries["spelled"]}


def test_a_glossary_word_is_not_corrected_as_a_typo(app, make_entry):
    """ "sasquatch" is one edit from "sasquatsh", the only similar word entries use."""
    make_entry(title="Notes", body="The sasquatsh field is free text.")
    term = make_entry(title="Exchange", body="The secure automated sharing service.").id
    with app.app_context():
        corrected = search.search(db.session, q="sasquatch")
        assert corrected.suggestion == "sasquatsh"
    _add_term(app, "sasquatch", ["secure automated sharing service"])
    search.glossary_changed(app)
    with app.app_context():
        found = search.search(db.session, q="sasquatch")
        assert found.suggestion is None and found.ids == [term]


def test_a_missing_glossary_table_leaves_the_synonyms_file_working(app, make_entry):
    phi = make_entry(title="Privacy", body="Protected health information stays encrypted.").id
    with app.app_context():
        GlossaryTerm.__table__.drop(db.engine)
    search.glossary_changed(app)
    assert _ids(app, "PHI") == {phi}  # from seed/synonyms.yaml


def _define(app, term: str, definition: str, synonyms: tuple[str, ...] = ()) -> None:
    with app.app_context():
        db.session.add(GlossaryTerm(term=term, definition=definition, synonyms=list(synonyms)))
        db.session.commit()
    search.glossary_changed(app)


def _search(app, q: str):
    with app.app_context():
        return search.search(db.session, q=q)


def test_a_glossary_term_no_entry_uses_is_searched_by_its_definition(app, make_entry):
    method = make_entry(
        title="Agree on the transfer method early",
        body="Settle how the files will move between the two systems.",
    ).id
    make_entry(title="Budget", body="Ask leadership for funding before the kickoff.")
    assert _search(app, "SFTP").ids == []
    _define(app, "SFTP", "An encrypted way to move files between systems: a transfer method.")
    found = _search(app, "SFTP")
    assert found.ids == [method] and found.explained == ("SFTP",)
    # With another word the usual rules hold: all words first, then any of them.
    assert _search(app, "sftp kickoff").match == "any"
    assert _search(app, "sftp settle").ids == [method]


def test_a_glossary_term_entries_use_is_searched_as_typed(app, make_entry):
    uses = make_entry(title="SFTP accounts", body="Request an SFTP account from the hub.").id
    make_entry(title="Transfer method", body="Agree how files move between the systems.")
    _define(app, "SFTP", "An encrypted way to move files between systems: a transfer method.")
    found = _search(app, "sftp")
    assert found.ids == [uses] and found.explained == ()


def test_definition_words_most_entries_have_do_not_count(app, make_entry):
    transfer = make_entry(title="Data transfer", body="Pick the data transfer route.").id
    make_entry(title="Data budget", body="Data work needs funding.")
    make_entry(title="Data leaders", body="Brief leadership on the data.")
    _define(app, "XFER", "Data transfer.")
    assert _ids(app, "xfer") == {transfer}


def test_the_search_page_says_which_terms_were_searched_by_definition(app, make_entry):
    make_entry(title="Agree on the transfer method early", body="Settle it with the provider.")
    _define(app, "SFTP", "A transfer method for files.")
    page = app.test_client().get("/search?q=sftp")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "No entry uses" in html and "what the glossary says it means" in html
    assert 'href="/glossary#' in html and ">SFTP</a>" in html
    plain = app.test_client().get("/search?q=transfer").get_data(as_text=True)
    assert "No entry uses" not in plain


def test_a_term_whose_synonym_entries_use_is_searched_by_the_synonym(app, make_entry):
    relay = make_entry(title="The file relay", body="Upload extracts to the file relay.").id
    method = make_entry(title="Transfer method", body="Agree how records move between systems.")
    _define(app, "XFER", "A transfer method for moving records between systems.", ("file relay",))
    found = _search(app, "xfer")
    assert found.ids == [relay] and found.explained == ()
    # Both words of a synonym, but never side by side: the phrase is not used, so the
    # definition is searched.
    make_entry(title="Forwarding", body="The mail relay forwards every upload as a file.")
    _define(app, "YFER", "A transfer method for moving records.", ("upload relay",))
    found = _search(app, "yfer")
    assert found.ids[0] == method.id and found.explained == ("YFER",)
