"""The review workflow: every write route with every role, transitions, the review queue."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kb.extensions import db
from kb.models import AuditEvent
from kb.models import Entry

#: action → (the status the entry starts in, expected status code per role).
#: cal is "another contributor"; drafts and submissions of others are invisible to him (404).
MATRIX = {
    "submit": ("draft", {None: "login", "cora": 303, "cal": 404, "cu": 403, "ad": 403}),
    "withdraw": ("in_review", {None: "login", "cora": 303, "cal": 404, "cu": 403, "ad": 403}),
    "publish": ("in_review", {None: "login", "cora": 403, "cal": 404, "cu": 303, "ad": 303}),
    "request-changes": (
        "in_review",
        {None: "login", "cora": 403, "cal": 404, "cu": 303, "ad": 303},
    ),
    "archive": ("published", {None: "login", "cora": 403, "cal": 403, "cu": 303, "ad": 303}),
}
CASES = [
    (action, role, expected)
    for action, (_, by_role) in MATRIX.items()
    for role, expected in by_role.items()
]


@pytest.mark.parametrize(("action", "role", "expected"), CASES)
def test_every_write_route_with_every_role(app, users, login, make_entry, action, role, expected):
    entry = make_entry(author_id=users["cora"], status=MATRIX[action][0])
    response = login(role).post(f"/entries/{entry.id}/{action}", data={"note": "Please cite it."})
    if expected == "login":
        assert response.status_code == 303
        assert response.headers["Location"] == f"/login?next=/entries/{entry.id}/{action}"
    else:
        assert response.status_code == expected, response.get_data(as_text=True)
    if expected == 303:
        assert response.headers["Location"] == f"/entries/{entry.id}"


def _status(app, entry_id):
    with app.app_context():
        return db.session.get(Entry, entry_id).status


def test_a_full_round_trip(app, users, login, make_entry):
    entry = make_entry(author_id=users["cora"], status="draft")
    cora, curator = login("cora"), login("cu")
    assert cora.post(f"/entries/{entry.id}/submit").status_code == 303
    assert _status(app, entry.id) == "in_review"
    queue = curator.get("/review").get_data(as_text=True)
    assert entry.title.replace("'", "&#39;") in queue
    assert 'class="count-badge">1' in queue
    curator.post(f"/entries/{entry.id}/request-changes", data={"note": "Name the statute."})
    assert _status(app, entry.id) == "changes_requested"
    page = cora.get(f"/entries/{entry.id}").get_data(as_text=True)
    assert "Changes requested:</strong> Name the statute." in page
    assert "Submit for review" in page
    cora.post(f"/entries/{entry.id}/submit")
    curator.post(f"/entries/{entry.id}/publish")
    with app.app_context():
        published = db.session.get(Entry, entry.id)
        assert published.status == "published" and published.review_note is None
        assert published.published_revision == 1 and published.review_due > published.verified_at
        actions = [
            e.action
            for e in db.session.scalars(
                select(AuditEvent).where(AuditEvent.object_id == entry.id).order_by(AuditEvent.id)
            )
        ]
        assert actions == [
            "entry.create",
            "entry.submit",
            "entry.request-changes",
            "entry.submit",
            "entry.publish",
        ]
        assert len(published.revisions) == 1  # status changes are not revisions
    assert app.test_client().get(f"/entries/{entry.id}").status_code == 200  # readers see it now


@pytest.mark.parametrize(
    ("start", "action", "who"),
    [
        ("published", "publish", "cu"),
        ("draft", "withdraw", "cora"),
        ("archived", "submit", "cora"),
        ("published", "request-changes", "cu"),
        ("in_review", "submit", "cora"),
        ("archived", "archive", "cu"),
    ],
)
def test_transitions_from_the_wrong_status_are_409(
    app, users, login, make_entry, start, action, who
):
    entry = make_entry(author_id=users["cora"], status=start)
    response = login(who).post(f"/entries/{entry.id}/{action}", data={"note": "x"})
    assert response.status_code == 409
    assert "cannot be" in response.get_data(as_text=True)
    assert _status(app, entry.id) == start


def test_request_changes_needs_a_note(app, users, login, make_entry):
    entry = make_entry(author_id=users["cora"], status="in_review")
    response = login("cu").post(f"/entries/{entry.id}/request-changes", data={"note": "  "})
    assert response.status_code == 422
    assert "the note is required" in response.get_data(as_text=True)
    assert _status(app, entry.id) == "in_review"


def test_authors_see_their_drafts_and_others_do_not(app, users, login, make_entry):
    entry = make_entry(author_id=users["cora"], status="draft", title="Cora's private draft")
    assert login("cora").get(f"/entries/{entry.id}").status_code == 200
    assert login("cu").get(f"/entries/{entry.id}").status_code == 200
    assert login("cal").get(f"/entries/{entry.id}").status_code == 404
    assert "private draft" in login("cora").get("/search?q=private").get_data(as_text=True)
    assert "private draft" not in login("cal").get("/search?q=private").get_data(as_text=True)


def test_review_queue_needs_a_curator(app, users, login):
    assert login(None).get("/review").status_code == 303
    response = login("cora").get("/review")
    assert response.status_code == 403
    assert "This needs the curator role." in response.get_data(as_text=True)
    assert "Nothing waits for review." in login("cu").get("/review").get_data(as_text=True)


def test_archived_entries_leave_search_and_pages(app, users, login, make_entry):
    entry = make_entry(title="Retired transfer lesson")
    login("cu").post(f"/entries/{entry.id}/archive")
    reader = app.test_client()
    assert reader.get(f"/entries/{entry.id}").status_code == 404
    assert "Retired transfer" not in reader.get("/search?q=retired").get_data(as_text=True)


def test_workflow_buttons_follow_the_viewer(app, users, login, make_entry):
    entry = make_entry(author_id=users["cora"], status="in_review")
    assert "Withdraw the submission" in login("cora").get(f"/entries/{entry.id}").get_data(
        as_text=True
    )
    curator_page = login("cu").get(f"/entries/{entry.id}").get_data(as_text=True)
    assert "Publish" in curator_page and "Request changes" in curator_page
    assert "Withdraw" not in curator_page
