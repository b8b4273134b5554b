"""Help while writing an entry: field checks, preview, writing checks, tags, placeholders."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func
from sqlalchemy import select

from kb.entries.clarity import check_record
from kb.entries.clarity import undefined_acronyms
from kb.extensions import db
from kb.glossary.services import create_term
from kb.models import Entry

KNOWN = ["PHI", "protected health information", "BUCP", "SAFE", "NIST SP 800-53"]
SNIPPET = {"kind": "snippet", "clause_type": "data-elements", "title": "Fields"}


def _text(response) -> str:
    return response.get_data(as_text=True)


def _checks(**record) -> set[str]:
    return {advice.check for advice in check_record(record, KNOWN)}


# --- the writing checks, one by one ----------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "Send questions to jo.smith@cdw.example.gov.",
        "Call (916) 555-0123 for the keys.",
        "Call 916-555-0123 for the keys.",
    ],
)
def test_contact_details_in_a_snippet_are_flagged(body):
    assert _checks(**SNIPPET, body=body) == {"contact-details"}


@pytest.mark.parametrize(
    "body", ["Contact Maria Lopez before the transfer.", "Dr. Chen signs the approval."]
)
def test_personal_names_in_a_snippet_are_flagged(body):
    assert _checks(**SNIPPET, body=body) == {"personal-names"}


def test_roles_and_placeholders_raise_nothing():
    body = (
        "The {{ provider_name }} Data Coordinator sends the extract to the requesting "
        "program's Information Security Officer by SAFE within 30 days."
    )
    assert _checks(**{**SNIPPET, "clause_type": "data-transfer-management"}, body=body) == set()


def test_lessons_are_not_checked_for_names():
    assert _checks(kind="lesson", body="Maria Lopez taught us this.") == set()


def test_unknown_acronyms_are_flagged_unless_known_or_spelled_out():
    text = (
        "Ask the ISO. The Risk Management Subcommittee (RMS) mediates. PHI and BUCPs are known, "
        "and so is SP 800-53; a PDF is fine. The XYZ team and the QRS."
    )
    assert undefined_acronyms(text, KNOWN) == ["ISO", "XYZ", "QRS"]
    found = check_record({"kind": "lesson", "body": text}, KNOWN)
    assert [a.check for a in found] == ["undefined-terms"]
    assert "“ISO”, “XYZ”, “QRS” are not in the glossary" in found[0].message


def test_a_legal_authority_snippet_needs_a_citation():
    record = {**SNIPPET, "clause_type": "legal-authority", "body": "The law allows it."}
    assert _checks(**record) == {"missing-citation"}
    assert _checks(**record, citations="Cal. Welf. & Inst. Code § 10850(a)") == set()
    assert _checks(**{**record, "clause_type": "data-users"}) == set()


@pytest.mark.parametrize(
    "body",
    [
        "We need all fields in the client table.",
        "Please send any and all data elements.",
        "The entire dataset, refreshed monthly.",
        "Every available column.",
    ],
)
def test_a_data_elements_snippet_asking_for_everything_is_flagged(body):
    assert _checks(**SNIPPET, body=body) == {"asks-for-everything"}


def test_named_data_elements_pass():
    body = "- Date of birth (to match records)\n- County of residence (for aggregation)"
    assert _checks(**SNIPPET, body=body) == set()
    assert _checks(**{**SNIPPET, "clause_type": "output-use"}, body="all fields") == set()


# --- over HTTP ------------------------------------------------------------------------------


def test_field_check_answers_with_the_fields_message(app, users, login):
    client = login("cora")
    empty = client.post("/entries/check/title", data={"kind": "lesson", "title": ""})
    assert empty.status_code == 200
    assert re.search(r'id="title-feedback"[^>]*><p class="error">is required</p>', _text(empty))
    fine = client.post("/entries/check/title", data={"kind": "lesson", "title": "Fine"})
    assert '<div class="feedback" id="title-feedback" aria-live="polite"></div>' in _text(fine)
    long = client.post("/entries/check/summary", data={"summary": "x" * 501})
    assert "is 501 characters long; the limit is 500" in _text(long)
    lesson = client.post("/entries/check/categories", data={"kind": "lesson", "title": "T"})
    assert "a lesson needs at least one category" in _text(lesson)


def test_field_check_needs_a_contributor_and_a_known_field(app, users, login):
    assert login(None).post("/entries/check/title").status_code == 303
    assert login("cora").post("/entries/check/password").status_code == 404


def test_help_panel_previews_like_the_entry_page(app, users, login, make_entry):
    with app.app_context():
        create_term(db.session, {"term": "PHI", "definition": "Health data.", "synonyms": ""}, None)
        db.session.commit()
    body = "Protect **PHI**. <script>alert(1)</script> [x](javascript:alert(1))"
    panel = _text(login("cora").post("/entries/help", data={"kind": "lesson", "body": body}))
    preview = panel.split('id="preview-title"')[1]
    entry = make_entry(body=body)
    page = _text(app.test_client().get(f"/entries/{entry.id}"))
    rendered = page.split('id="lesson-title">The lesson</h2><div class="prose">')[1].split(
        "</div>"
    )[0]
    assert rendered in preview
    assert "<script>" not in preview and "&lt;script&gt;" in preview
    assert 'href="javascript' not in preview
    assert '<abbr title="Health data.">PHI</abbr>' in rendered or "term-phi" in rendered


def test_help_panel_lists_advice_with_its_lesson_and_placeholders(seeded_app):
    from tests.conftest import PASSWORD

    with seeded_app.app_context():
        from kb.auth.services import create_user

        create_user(db.session, "writer", role="contributor", password=PASSWORD)
        db.session.commit()
    client = seeded_app.test_client()
    client.post("/login", data={"username": "writer", "password": PASSWORD})
    panel = _text(
        client.post(
            "/entries/help",
            data={**SNIPPET, "body": "Send all fields to {{ recipient }} via jo@cdw.example.gov."},
        )
    )
    assert "asks for more than the purpose needs" in panel
    assert "Ask only for the data elements you actually need" in panel  # the cited lesson
    assert "Refer to roles, not people" in panel
    assert '<var class="placeholder">{{ recipient }}</var>' in panel
    clean = _text(client.post("/entries/help", data={"kind": "lesson", "body": "Plain words."}))
    assert "No suggestions for this text." in clean


def test_preview_without_javascript_saves_nothing_and_keeps_the_input(app, users, login):
    client = login("cora")
    data = {"kind": "lesson", "title": "Draft title", "body": "Some *text*", "action": "preview"}
    response = client.post("/entries", data=data)
    page = _text(response)
    assert response.status_code == 200
    assert "Not saved yet" in page and 'value="Draft title"' in page
    assert "<em>text</em>" in page.split('id="preview-title"')[1]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Entry)) == 0


def test_tag_suggestions_complete_the_last_tag(app, users, login, make_entry):
    make_entry(tags=["data-dictionary", "data-standards"])
    make_entry(title="Other", tags=["data-dictionary", "sftp"])
    client = login("cora")
    page = _text(client.get("/entries/tag-suggestions?tags=SFTP, Data"))
    options = re.findall(r'<option value="([^"]*)">', page)
    assert options == ["SFTP, data-dictionary", "SFTP, data-standards"]
    assert 'id="tag-options"' in page
    none = _text(client.get("/entries/tag-suggestions?tags=data-dictionary, "))
    assert "<option" not in none
    taken = _text(client.get("/entries/tag-suggestions?tags=data-dictionary, dat"))
    assert re.findall(r'<option value="([^"]*)">', taken) == ["data-dictionary, data-standards"]


def test_new_form_wires_field_checks_and_the_help_panel(app, users, login):
    page = _text(login("cora").get("/entries/new?kind=snippet"))
    assert 'hx-post="/entries/check/title"' in page
    assert 'hx-post="/entries/check/categories"' in page
    assert 'hx-post="/entries/help"' in page
    assert 'list="tag-options"' in page
    assert 'name="action" value="preview"' in page


def test_htmx_posts_need_the_token_from_hx_headers(csrf_app):
    client = csrf_app.test_client()
    page = _text(client.get("/login"))
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    signed_in = client.post(
        "/login", data={"username": "cora", "password": "correct horse", "csrf_token": token}
    )
    assert signed_in.status_code == 303
    form = _text(client.get("/entries/new"))
    token = form.split('"X-CSRFToken": "')[1].split('"')[0]
    hx = {"HX-Request": "true"}
    with_token = client.post(
        "/entries/check/title", data={"title": ""}, headers={**hx, "X-CSRFToken": token}
    )
    assert with_token.status_code == 200 and "is required" in _text(with_token)
    without = client.post("/entries/check/title", data={"title": ""}, headers=hx)
    assert without.status_code == 400


def test_similar_entries_appear_while_typing(app, users, login, make_entry):
    sftp = make_entry(
        title="Rotate the SFTP keys before the first transfer",
        body="Agree who rotates the SFTP keys, and when, before any extract moves.",
    )
    make_entry(title="Meet by video", body="Talk through key points face to face.")
    client = login("cora")
    draft = {"kind": "lesson", "title": "SFTP key rotation", "body": "Who rotates SFTP keys?"}
    panel = _text(client.post("/entries/help", data=draft))
    similar = panel.split('id="similar-title"')[1].split("</section>")[0]
    assert "Rotate the SFTP keys before the first transfer" in similar
    assert "Meet by video" not in similar
    unrelated = {"kind": "lesson", "title": "Budget", "body": "Plan the funding cycle early."}
    assert 'id="similar-title"' not in _text(client.post("/entries/help", data=unrelated))
    # editing the entry itself does not suggest it
    editing = _text(client.post(f"/entries/help?entry={sftp.id}", data=draft))
    assert "Rotate the SFTP keys" not in editing


def test_similar_entries_respect_visibility(app, users, login, make_entry):
    make_entry(
        title="Draft about SFTP key rotation schedules",
        body="Rotate SFTP keys on a schedule agreed with the provider.",
        status="draft",
        author_id=users["cal"],
    )
    draft = {"kind": "lesson", "title": "SFTP key rotation", "body": "Rotate SFTP keys often."}
    assert "Draft about SFTP" not in _text(login("cora").post("/entries/help", data=draft))
    assert "Draft about SFTP" in _text(login("cal").post("/entries/help", data=draft))
