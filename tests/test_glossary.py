"""The glossary: its page, curators keeping it, the seed, and terms marked up in entries."""

from __future__ import annotations

import re

import pytest

from kb.extensions import db
from kb.glossary.services import GlossaryError
from kb.glossary.services import create_term
from kb.glossary.services import validate_term
from kb.models import AuditEvent
from kb.models import GlossaryTerm

PHI = {
    "term": "PHI",
    "definition": "Protected health information. Health data that identifies a person.",
    "synonyms": "protected health information",
}


@pytest.fixture
def terms(app):
    """PHI and minimum necessary in the fresh app's glossary."""
    with app.app_context():
        create_term(db.session, PHI, None)
        create_term(
            db.session,
            {"term": "minimum necessary", "definition": "Ask only for what the purpose needs."},
            None,
        )
        db.session.commit()


def test_seeded_glossary_lists_the_domain_vocabulary(client):
    page = client.get("/glossary").get_data(as_text=True)
    for term in ("BUCP", "PHI", "SAFE", "IDEA", "Data Coordinator", "minimum necessary"):
        assert f"<dfn>{term}</dfn>" in page
    assert 'id="term-phi"' in page
    assert "protected health information" in page


def test_filter_finds_terms_by_synonym_and_says_when_nothing_matches(client):
    page = client.get("/glossary?q=protected+health").get_data(as_text=True)
    assert "<dfn>PHI</dfn>" in page
    assert "<dfn>BUCP</dfn>" not in page
    empty = client.get("/glossary?q=zzzz-nothing").get_data(as_text=True)
    assert "No term matches “zzzz-nothing”" in empty


def test_empty_glossary_says_so(app):
    page = app.test_client().get("/glossary").get_data(as_text=True)
    assert "The glossary is empty" in page


@pytest.mark.parametrize(("who", "status"), [(None, 303), ("cora", 403), ("cu", 303), ("ad", 303)])
def test_only_curators_add_terms(users, login, who, status):
    response = login(who).post("/glossary", data=PHI)
    assert response.status_code == status
    if who is None:
        assert "/login" in response.headers["Location"]


def test_curator_adds_edits_and_removes_a_term_with_an_audit_trail(app, users, login):
    curator = login("cu")
    response = curator.post("/glossary", data=PHI)
    assert response.headers["Location"].endswith("/glossary#term-phi")
    with app.app_context():
        term = db.session.scalar(db.select(GlossaryTerm))
        assert term.synonyms == ["protected health information"]
        term_id = term.id
    edited = {**PHI, "definition": "Health information that identifies someone."}
    assert curator.post(f"/glossary/{term_id}", data=edited).status_code == 303
    assert "identifies someone" in curator.get("/glossary").get_data(as_text=True)
    assert curator.post(f"/glossary/{term_id}/delete").status_code == 303
    with app.app_context():
        assert db.session.get(GlossaryTerm, term_id) is None
        actions = list(
            db.session.scalars(
                db.select(AuditEvent.action).where(AuditEvent.object_type == "glossaryterm")
            )
        )
    assert actions == ["glossary.create", "glossary.update", "glossary.delete"]


def test_invalid_term_answers_422_and_keeps_the_input(users, login):
    curator = login("cu")
    response = curator.post(
        "/glossary", data={"term": "CPHS", "definition": "", "synonyms": "committee for humans"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "is required" in page
    assert 'value="CPHS"' in page and "committee for humans" in page


def test_a_form_already_in_the_glossary_is_refused(app, terms):
    with app.app_context(), pytest.raises(GlossaryError) as caught:
        validate_term(db.session, {"term": "Health data", "definition": "x", "synonyms": ["phi"]})
    assert "already in the glossary under “PHI”" in caught.value.fields["synonyms"]


def test_seed_adds_missing_terms_once(runner, app):
    first = runner.invoke(args=["seed"])
    second = runner.invoke(args=["seed"])
    assert first.exit_code == 0 and second.exit_code == 0
    with app.app_context():
        count = db.session.scalar(db.select(db.func.count()).select_from(GlossaryTerm))
    assert count >= 20
    assert re.search(r"glossary terms", first.output)


def _entry_html(app, make_entry, **record):
    entry = make_entry(**record)
    return app.test_client().get(f"/entries/{entry.id}").get_data(as_text=True)


def test_known_terms_link_to_their_definitions_first_mention_only(app, terms, make_entry):
    page = _entry_html(
        app,
        make_entry,
        body="Share PHI only under the minimum necessary test. PHI stays PHI. "
        "Keep it safe, and [PHI in a link](https://example.org) stays a plain link. `PHI` too.",
    )
    lesson = page.split('id="lesson-title"')[1]
    assert lesson.count('<abbr title="protected health information">PHI</abbr>') == 1
    assert 'href="/glossary#term-phi"' in lesson
    assert re.search(r'<a class="term" href="/glossary#term-minimum-necessary" title="Ask', lesson)
    assert '<a href="https://example.org" rel="noopener noreferrer">PHI in a link</a>' in lesson
    assert "<code>PHI</code>" in lesson


def test_acronyms_match_by_case_and_spelled_out_forms_in_any_case(app, terms, make_entry):
    page = _entry_html(
        app, make_entry, body="The phi of the matter. Protected Health Information is sensitive."
    )
    lesson = page.split('id="lesson-title"')[1].split("</section>")[0]
    assert "<abbr" not in lesson  # "phi" in lower case is not the acronym
    assert re.search(
        r'href="/glossary#term-phi" title="Protected health information\."[^>]*>Protected Health',
        lesson,
    )


def test_definitions_are_escaped_in_the_markup(app, make_entry):
    with app.app_context():
        create_term(
            db.session,
            {"term": "XSS", "definition": 'Bad "><script>alert(1)</script> things.'},
            None,
        )
        db.session.commit()
    page = _entry_html(app, make_entry, body="Beware XSS.")
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;" in page or "&#34;&gt;&lt;script" in page


def test_snippet_placeholders_are_highlighted_and_listed(app, make_entry):
    page = _entry_html(
        app,
        make_entry,
        kind="snippet",
        clause_type="data-elements",
        categories=[],
        body="{{ program_name }} receives the fields below from {{provider}} each {{ period }}.",
    )
    clause = page.split('id="clause-title"')[1].split("</section>")[0]
    assert clause.count('<var class="placeholder">') == 6  # three in the text, three listed
    assert "To fill in when you use it:" in clause
    assert clause.index("program_name") < clause.index("provider") < clause.index("period")


def test_lessons_do_not_mark_placeholders(app, make_entry):
    page = _entry_html(app, make_entry, body="Write {{ name }} literally.")
    assert '<var class="placeholder">' not in page
    assert "{{ name }}" in page
