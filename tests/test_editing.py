"""Creating and editing entries over HTTP: validation, 409 conflicts, pending revisions."""

from __future__ import annotations

from sqlalchemy import select

from kb.extensions import db
from kb.models import Entry

LESSON = {
    "kind": "lesson",
    "title": "Name the Data Coordinator's role, not the person",
    "summary": "People move on; roles stay.",
    "body": "Write *the program's Data Coordinator* instead of a name.",
    "benefit": "The BUCP stays right after staff changes.",
    "categories": ["bucp-creation"],
    "plays": ["1", "3"],
    "tags": "Roles, staff turnover",
    "program": "Healthy Habits",
}


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_new_forms_for_both_kinds(app, users, login):
    lesson = _text(login("cora").get("/entries/new"))
    assert 'name="benefit"' in lesson and 'name="clause_type"' not in lesson
    snippet = _text(login("cora").get("/entries/new?kind=snippet"))
    assert 'name="clause_type"' in snippet and 'name="citations"' in snippet
    assert login(None).get("/entries/new").status_code == 303


def test_create_a_lesson(app, users, login):
    response = login("cora").post("/entries", data=LESSON)
    assert response.status_code == 303
    with app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.title == LESSON["title"]))
        assert entry.status == "draft" and entry.author.username == "cora"
        assert [t.name for t in entry.tags] == ["roles", "staff-turnover"]
        assert [p.number for p in entry.plays] == [1, 3]
        assert entry.program.name == "Healthy Habits"
    assert response.headers["Location"] == f"/entries/{entry.id}"


def test_create_a_snippet_and_submit(app, users, login):
    data = {
        "kind": "snippet",
        "title": "Destroy the files within 30 days",
        "body": "The recipient destroys all copies within {{ retention_days }} days.",
        "clause_type": "destruction-return",
        "position": "fallback",
        "citations": "45 CFR 164.310(d)(2)(i)\nCal. Civ. Code § 1798.21",
        "action": "submit",
    }
    assert login("cora").post("/entries", data=data).status_code == 303
    with app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.kind == "snippet"))
        assert entry.status == "in_review" and entry.position == "fallback"
        assert entry.citations == ["45 CFR 164.310(d)(2)(i)", "Cal. Civ. Code § 1798.21"]


def test_invalid_input_is_422_and_everything_typed_is_kept(app, users, login):
    data = {**LESSON, "title": "", "categories": [], "body": "My <b>careful</b> text ✓"}
    response = login("cora").post("/entries", data=data)
    page = _text(response)
    assert response.status_code == 422
    assert "Some fields need fixing" in page
    assert "is required" in page and "a lesson needs at least one category" in page
    assert "My &lt;b&gt;careful&lt;/b&gt; text ✓" in page
    assert 'value="Roles, staff turnover"' in page
    with app.app_context():
        assert db.session.scalar(select(Entry.id)) is None


def test_long_fields_are_refused_with_a_clear_message(app, users, login):
    response = login("cora").post("/entries", data={**LESSON, "title": "x" * 201})
    assert response.status_code == 422
    assert "is 201 characters long; the limit is 200" in _text(response)


def test_edit_form_carries_the_version_and_saves(app, users, login, make_entry):
    entry = make_entry(author_id=users["cora"], status="draft", title="First title")
    cora = login("cora")
    form = _text(cora.get(f"/entries/{entry.id}/edit"))
    assert 'name="version" type="hidden" value="1"' in form and 'value="First title"' in form
    data = {**LESSON, "categories": ["security-reviews"], "version": "1", "note": "Clearer"}
    assert cora.post(f"/entries/{entry.id}", data=data).status_code == 303
    with app.app_context():
        saved = db.session.get(Entry, entry.id)
        assert saved.title == LESSON["title"] and saved.version == 2
        assert saved.revisions[-1].note == "Clearer"
    assert login("cal").get(f"/entries/{entry.id}/edit").status_code == 404
    assert login("cal").post(f"/entries/{entry.id}", data=data).status_code == 404


def test_stale_version_is_409_with_both_versions_and_nothing_overwritten(
    app, users, login, make_entry
):
    entry = make_entry(author_id=users["cora"], status="draft", title="Original")
    curator, cora = login("cu"), login("cora")
    curator.post(
        f"/entries/{entry.id}", data={**LESSON, "title": "The curator's title", "version": "1"}
    )
    response = cora.post(
        f"/entries/{entry.id}", data={**LESSON, "title": "Cora's title", "version": "1"}
    )
    page = _text(response)
    assert response.status_code == 409
    assert "The curator&#39;s title" in page  # theirs
    assert 'value="Cora&#39;s title"' in page  # yours, kept
    assert 'name="version" type="hidden" value="2"' in page
    with app.app_context():
        assert db.session.get(Entry, entry.id).title == "The curator's title"


def test_contributor_edit_of_published_entry_is_pending(app, users, login, make_entry):
    entry = make_entry(author_id=users["cora"], title="Published title", body="Published body.")
    data = {**LESSON, "title": "Proposed title", "version": "1"}
    response = login("cora").post(f"/entries/{entry.id}", data=data)
    assert response.status_code == 303
    reader = app.test_client()
    assert "Published title" in _text(reader.get(f"/entries/{entry.id}"))
    assert "Proposed title" not in _text(reader.get(f"/entries/{entry.id}"))
    assert "Proposed" not in _text(reader.get("/search?q=proposed"))
    assert "waits for a curator" in _text(login("cora").get(f"/entries/{entry.id}"))
    assert 'value="Proposed title"' in _text(login("cora").get(f"/entries/{entry.id}/edit"))
    assert "Published title" in _text(login("cu").get("/review"))
    assert login("cora").post(f"/entries/{entry.id}/approve").status_code == 403
    assert login("cu").post(f"/entries/{entry.id}/approve").status_code == 303
    assert "Proposed title" in _text(reader.get(f"/entries/{entry.id}"))
    assert "Proposed title" in _text(reader.get("/search?q=proposed"))
    assert "were approved" in _text(login("cora").get("/notifications"))
    assert login("cu").post(f"/entries/{entry.id}/approve").status_code == 409


def test_curator_edit_of_published_entry_publishes_at_once(app, users, login, make_entry):
    entry = make_entry(author_id=users["cora"], title="Old")
    login("cu").post(f"/entries/{entry.id}", data={**LESSON, "title": "New now", "version": "1"})
    assert "New now" in _text(app.test_client().get(f"/entries/{entry.id}"))


def test_csrf_failure_keeps_the_form(csrf_app):
    client = csrf_app.test_client()
    login_page = _text(client.get("/login"))
    token = login_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post(
        "/login", data={"username": "cora", "password": "correct horse", "csrf_token": token}
    )
    response = client.post("/entries", data={**LESSON, "csrf_token": "stale"})
    assert response.status_code == 400
    assert "The form had expired" in _text(response)
    assert 'value="Name the Data Coordinator&#39;s role, not the person"' in _text(response)
    form = _text(client.get("/entries/new"))
    fresh = form.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert client.post("/entries", data={**LESSON, "csrf_token": fresh}).status_code == 303
