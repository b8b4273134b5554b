"""API writes (POST/PATCH with roles, validation, pending revisions, 409, CSRF) and sync reads."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

from kb import create_app
from kb.entries import editing
from kb.entries import workflow
from kb.extensions import db
from kb.models import Entry
from kb.models import Revision
from kb.models import User
from kb.models import utcnow
from kb.seed import install_taxonomy
from tests.conftest import PASSWORD
from tests.conftest import _test_config
from tests.test_tokens import bearer

LESSON = {
    "kind": "lesson",
    "title": "Name a data steward for every dataset",
    "body": "Publish who looks after each dataset.",
    "categories": ["Data Requests"],
    "plays": [2, "6"],
    "tags": ["Data Stewards"],
}


def _count(app, model=Entry) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def as_user(app, users):
    """Headers with a bearer token of the named user."""
    return lambda name: bearer(app, users[name])


# --- POST /api/v1/entries -----------------------------------------------------------------------


def test_create_a_draft(app, as_user):
    response = app.test_client().post("/api/v1/entries", json=LESSON, headers=as_user("cora"))
    assert response.status_code == 201
    entry = response.get_json()
    assert response.headers["Location"] == f"http://localhost/api/v1/entries/{entry['id']}"
    assert response.headers["Entry-Version"] == "1"
    assert entry["status"] == "draft" and entry["author"] == "cora"
    assert entry["categories"] == ["data-requests"] and entry["plays"] == [2, 6]
    assert entry["tags"] == ["data-stewards"] and entry["url"].endswith(f"/entries/{entry['id']}")
    assert app.test_client().get(f"/api/v1/entries/{entry['id']}").status_code == 404  # a draft
    mine = app.test_client().get(f"/api/v1/entries/{entry['id']}", headers=as_user("cora"))
    assert mine.get_json() == entry


def test_contributors_may_submit_but_not_publish(app, as_user):
    client = app.test_client()
    submitted = client.post(
        "/api/v1/entries", json={**LESSON, "status": "in_review"}, headers=as_user("cora")
    )
    assert submitted.status_code == 201 and submitted.get_json()["status"] == "in_review"
    refused = client.post(
        "/api/v1/entries", json={**LESSON, "status": "published"}, headers=as_user("cora")
    )
    assert refused.status_code == 403
    assert "Only a curator" in refused.get_json()["error"]["message"]
    assert _count(app) == 1


def test_curators_may_create_published_entries(app, as_user):
    client = app.test_client()
    response = client.post(
        "/api/v1/entries", json={**LESSON, "status": "published"}, headers=as_user("cu")
    )
    assert response.status_code == 201
    entry = response.get_json()
    assert entry["status"] == "published" and entry["verified_at"] and entry["review_due"]
    public = client.get(f"/api/v1/entries/{entry['id']}")
    assert public.status_code == 200 and public.get_json()["title"] == LESSON["title"]
    found = client.get("/api/v1/search?q=steward").get_json()
    assert [result["id"] for result in found["results"]] == [entry["id"]]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"kind": "lesson"}, {"title", "body", "categories"}),
        ({**LESSON, "categories": ["nope"]}, {"categories"}),
        ({**LESSON, "plays": [9]}, {"plays"}),
        ({**LESSON, "title": "x" * 201}, {"title"}),
        ({**LESSON, "colour": "red"}, {"record"}),
        ({**LESSON, "kind": "snippet"}, {"clause_type"}),
        ({**LESSON, "status": "changes_requested"}, {"status"}),
        ({**LESSON, "status": "gone"}, {"status"}),
        ({**LESSON, "uid": "not-a-uuid"}, {"uid"}),
    ],
)
def test_invalid_records_are_422_with_fields(app, as_user, body, fields):
    response = app.test_client().post("/api/v1/entries", json=body, headers=as_user("cora"))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == 422 and set(error["fields"]) == fields
    assert _count(app) == 0


def test_a_uid_in_use_is_refused(app, as_user, make_entry):
    existing = make_entry()
    body = {**LESSON, "uid": existing.uid.upper()}
    response = app.test_client().post("/api/v1/entries", json=body, headers=as_user("cu"))
    assert response.status_code == 422 and "uid" in response.get_json()["error"]["fields"]
    fresh = str(uuid.uuid4())
    made = app.test_client().post(
        "/api/v1/entries", json={**LESSON, "uid": fresh}, headers=as_user("cu")
    )
    assert made.status_code == 201 and made.get_json()["uid"] == fresh


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": "title=x"}, "Content-Type: application/json"),
        ({"data": "{not json", "content_type": "application/json"}, "JSON object"),
        ({"json": [LESSON]}, "JSON object"),
        ({"json": None}, "JSON object"),
    ],
)
def test_bodies_that_are_not_json_objects_are_400(app, as_user, kwargs, message):
    response = app.test_client().post("/api/v1/entries", headers=as_user("cora"), **kwargs)
    assert response.status_code == 400 and message in response.get_json()["error"]["message"]


def test_anonymous_writes_are_401(app, users, make_entry):
    entry = make_entry()
    client = app.test_client()
    assert client.post("/api/v1/entries", json=LESSON).status_code == 401
    patch = client.patch(f"/api/v1/entries/{entry.id}", json={"title": "x", "version": 1})
    assert patch.status_code == 401 and patch.get_json()["error"]["code"] == 401


@pytest.mark.parametrize(
    "body",
    [
        {**LESSON, "title": ["a list"]},
        {**LESSON, "categories": [{"slug": "data-requests"}]},
        {**LESSON, "plays": [1e308, None, True]},
        {**LESSON, "tags": {"a": 1}},
        {**LESSON, "clause_type": ["a"], "program": 7, "position": []},
        {**LESSON, "revision": "many", "status": {"x": 1}},
        {**LESSON, "kind": ["lesson"], "uid": 123},
        {**LESSON, "body": "\x00\x01" * 10},
    ],
)
def test_odd_values_are_refused_by_name_never_a_server_error(app, as_user, body):
    response = app.test_client().post("/api/v1/entries", json=body, headers=as_user("cora"))
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]


def test_control_characters_are_stripped_and_odd_list_items_become_text(app, as_user):
    body = {**LESSON, "title": "Tab\tand\x00 NUL", "citations": [[1], {"x": 2}]}
    response = app.test_client().post("/api/v1/entries", json=body, headers=as_user("cora"))
    assert response.status_code == 201
    entry = response.get_json()
    assert entry["title"] == "Tab\tand NUL" and entry["citations"] == ["[1]", "{'x': 2}"]


# --- PATCH /api/v1/entries/<id> -----------------------------------------------------------------


def _create(app, headers, **overrides) -> dict:
    response = app.test_client().post(
        "/api/v1/entries", json={**LESSON, **overrides}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_patch_changes_only_the_fields_sent(app, as_user):
    cora = as_user("cora")
    entry = _create(app, cora, summary="Short.", citations=["Gov. Code 11019.9"])
    response = app.test_client().patch(
        f"/api/v1/entries/{entry['id']}",
        json={"title": "Name a steward", "version": 1, "note": "Shorter title"},
        headers=cora,
    )
    assert response.status_code == 200 and response.headers["Entry-Version"] == "2"
    changed = response.get_json()
    assert changed["title"] == "Name a steward" and changed["revision"] == 2
    assert {k: v for k, v in changed.items() if k not in ("title", "revision", "updated_at")} == {
        k: v for k, v in entry.items() if k not in ("title", "revision", "updated_at")
    }
    with app.app_context():
        revision = db.session.scalar(select(Revision).where(Revision.number == 2))
        assert revision.note == "Shorter title" and revision.editor.username == "cora"


def test_patch_needs_the_version_and_refuses_stale_ones(app, as_user):
    cora = as_user("cora")
    entry = _create(app, cora)
    url = f"/api/v1/entries/{entry['id']}"
    client = app.test_client()
    missing = client.patch(url, json={"title": "A"}, headers=cora)
    assert missing.status_code == 422 and "version" in missing.get_json()["error"]["fields"]
    for bad in ("1", True, 0, 1.5):
        assert client.patch(url, json={"version": bad}, headers=cora).status_code == 422
    assert client.patch(url, json={"title": "B", "version": 1}, headers=cora).status_code == 200
    stale = client.patch(url, json={"title": "C", "version": 1}, headers=cora)
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    assert error["version"] == 2 and "version 2" in error["message"]
    assert client.get(url, headers=cora).get_json()["title"] == "B"  # nothing overwritten


def test_patch_roles(app, as_user):
    cora_draft = _create(app, as_user("cora"))
    published = _create(app, as_user("cu"), status="published", title="Published one")
    client = app.test_client()
    body = {"title": "Taken over", "version": 1}
    assert (
        client.patch(f"/api/v1/entries/{cora_draft['id']}", json=body, headers=as_user("cal"))
    ).status_code == 404  # another contributor cannot even read the draft
    forbidden = client.patch(
        f"/api/v1/entries/{published['id']}", json=body, headers=as_user("cal")
    )
    assert forbidden.status_code == 403 and forbidden.get_json()["error"]["code"] == 403
    curator = client.patch(f"/api/v1/entries/{cora_draft['id']}", json=body, headers=as_user("cu"))
    assert curator.status_code == 200 and curator.get_json()["title"] == "Taken over"
    assert client.patch("/api/v1/entries/999", json=body, headers=as_user("cu")).status_code == 404


def test_contributors_edit_of_a_published_entry_waits_for_a_curator(app, as_user, login):
    cora = as_user("cora")
    entry = _create(app, cora)
    with app.app_context():
        row = db.session.get(Entry, entry["id"])
        workflow.transition(db.session, row, "publish", actor=db.session.get(User, 4))
        db.session.commit()
    url = f"/api/v1/entries/{entry['id']}"
    response = app.test_client().patch(url, json={"title": "Proposed", "version": 1}, headers=cora)
    assert response.status_code == 202 and response.headers["Entry-Version"] == "2"
    assert response.get_json()["title"] == LESSON["title"]  # what readers still see
    assert app.test_client().get(url).get_json()["title"] == LESSON["title"]
    with app.app_context():
        assert [row.id for row in editing.pending_entries(db.session)] == [entry["id"]]
    again = app.test_client().patch(url, json={"summary": "More", "version": 2}, headers=cora)
    assert again.status_code == 202
    with app.app_context():
        pending = db.session.scalar(select(Revision).where(Revision.number == 3))
        assert pending.snapshot["title"] == "Proposed"  # built on the pending revision
        assert pending.snapshot["summary"] == "More" and not pending.is_published


def test_patch_cannot_change_kind_uid_or_status(app, as_user):
    cora = as_user("cora")
    entry = _create(app, cora)
    url = f"/api/v1/entries/{entry['id']}"
    client = app.test_client()
    for name, value in (("kind", "snippet"), ("uid", str(uuid.uuid4())), ("status", "published")):
        response = client.patch(url, json={name: value, "version": 1}, headers=cora)
        assert response.status_code == 422 and name in response.get_json()["error"]["fields"]
    whole = {**entry, "title": "Round trip", "version": 1}  # a GET's body sent back is fine
    assert client.patch(url, json=whole, headers=cora).status_code == 200


# --- CSRF: cookie sessions need it, bearer requests never ------------------------------------


def test_cookie_writes_need_the_csrf_header_and_bearer_writes_do_not(tmp_path):
    app = create_app(
        _test_config(tmp_path / "csrf", WTF_CSRF_ENABLED=True, SEARCH_INDEX_IN_MEMORY=True)
    )
    with app.app_context():
        db.create_all()
        install_taxonomy(db.session)
        from kb.auth.services import create_user

        user_id = create_user(db.session, "cora", role="contributor", password=PASSWORD).id
        db.session.commit()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    form_token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    signed_in = client.post(
        "/login", data={"username": "cora", "password": PASSWORD, "csrf_token": form_token}
    )
    assert signed_in.status_code == 303
    refused = client.post("/api/v1/entries", json=LESSON)
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["error"]["message"]
    assert _count(app) == 0
    header = re.search(r'"X-CSRFToken": "([^"]+)"', client.get("/").get_data(as_text=True))
    created = client.post("/api/v1/entries", json=LESSON, headers={"X-CSRFToken": header.group(1)})
    assert created.status_code == 201
    url = f"/api/v1/entries/{created.get_json()['id']}"
    assert client.patch(url, json={"title": "X", "version": 1}).status_code == 400
    assert client.get(url).status_code == 200  # reads need no token
    tokens = app.test_client()  # no cookies, no CSRF token: a bearer token is enough
    bearer_write = tokens.patch(
        url, json={"title": "Y", "version": 1}, headers=bearer(app, user_id)
    )
    assert bearer_write.status_code == 200
    with app.app_context():
        db.engine.dispose()


# --- reads for syncing: pagination, filters, updated_since ------------------------------------


def test_a_page_past_the_end_is_empty(app, make_entry):
    make_entry()
    data = app.test_client().get("/api/v1/entries?page=3").get_json()
    assert data == {"total": 1, "page": 3, "per_page": 20, "results": []}


def test_repeated_filters_combine_with_or_and_tags_are_normalised(app, make_entry):
    make_entry(title="A", categories=["data-requests"], tags=["data stewards"])
    make_entry(title="B", categories=["security-reviews"])
    make_entry(title="C", categories=["statutory-legal"])
    client = app.test_client()
    both = client.get("/api/v1/entries?category=data-requests&category=security-reviews")
    assert sorted(e["title"] for e in both.get_json()["results"]) == ["A", "B"]
    tagged = client.get("/api/v1/entries?tag=Data Stewards").get_json()
    assert [e["title"] for e in tagged["results"]] == ["A"]
    unknown = client.get("/api/v1/entries?category=nope")
    assert (
        unknown.status_code == 400
        and "unknown category: nope" in unknown.get_json()["error"]["message"]
    )


def test_updated_since_sees_publication_of_an_old_draft(app, users, make_entry):
    draft = make_entry(status="draft", title="Old draft", author_id=users["cora"])
    long_ago = utcnow() - timedelta(days=30)
    with app.app_context():
        row = db.session.get(Entry, draft.id)
        row.updated_at = long_ago
        db.session.commit()
    since = (utcnow() - timedelta(days=1)).isoformat()
    client = app.test_client()
    assert (
        client.get("/api/v1/entries", query_string={"updated_since": since}).get_json()["total"]
        == 0
    )
    with app.app_context():
        row = db.session.get(Entry, draft.id)
        workflow.transition(db.session, row, "publish", actor=db.session.get(User, users["cu"]))
        db.session.commit()
    found = client.get("/api/v1/entries", query_string={"updated_since": since}).get_json()
    assert [e["title"] for e in found["results"]] == ["Old draft"]
    later = (utcnow() + timedelta(minutes=1)).isoformat()
    assert (
        client.get("/api/v1/entries", query_string={"updated_since": later}).get_json()["total"]
        == 0
    )
