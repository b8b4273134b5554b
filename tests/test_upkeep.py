"""Freshness (verify, review due), outdated flags and notifications."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from kb.extensions import db
from kb.models import Entry
from kb.models import EntryFlag
from kb.models import IndexEvent
from kb.models import Notification
from kb.models import utcnow


def _text(response) -> str:
    return response.get_data(as_text=True)


def _overdue(app, entry_id):
    with app.app_context():
        entry = db.session.get(Entry, entry_id)
        entry.review_due = utcnow() - timedelta(days=3)
        db.session.commit()


def test_stale_entries_are_flagged_listed_and_verified(app, users, login, make_entry):
    entry = make_entry(author_id=users["cora"], title="An old lesson")
    _overdue(app, entry.id)
    assert "was due for review on" in _text(app.test_client().get(f"/entries/{entry.id}"))
    assert "An old lesson" in _text(login("cu").get("/review"))
    cora = login("cora")
    assert "Due for review" in _text(cora.get("/notifications"))
    assert 'class="count-badge">1' in _text(cora.get("/"))
    assert login("cal").post(f"/entries/{entry.id}/verify").status_code == 403
    assert cora.post(f"/entries/{entry.id}/verify").status_code == 303
    assert "was due for review on" not in _text(app.test_client().get(f"/entries/{entry.id}"))
    with app.app_context():
        fresh = db.session.get(Entry, entry.id)
        assert fresh.review_due > utcnow() + timedelta(days=360)
        # the search index hears of it (it ranks stale entries lower)
        events = db.session.scalars(
            db.select(IndexEvent.entity_id).order_by(IndexEvent.seq.desc()).limit(1)
        )
        assert list(events) == [entry.id]


def test_only_published_entries_can_be_verified(app, users, login, make_entry):
    entry = make_entry(author_id=users["cora"], status="draft")
    assert login("cora").post(f"/entries/{entry.id}/verify").status_code == 409


def test_outdated_flags_go_to_the_review_queue(app, users, login, make_entry):
    entry = make_entry(author_id=users["cora"], title="Transfer by fax")
    assert login(None).post(f"/entries/{entry.id}/flag", data={"reason": "x"}).status_code == 303
    assert login("cal").post(f"/entries/{entry.id}/flag", data={"reason": " "}).status_code == 422
    response = login("cal").post(f"/entries/{entry.id}/flag", data={"reason": "Fax is retired."})
    assert response.status_code == 303
    queue = _text(login("cu").get("/review"))
    assert "Transfer by fax</a>: Fax is retired." in queue
    assert 'class="count-badge">1' in queue
    assert "Flagged as outdated: Fax is retired." in _text(login("cora").get("/notifications"))
    with app.app_context():
        flag_id = db.session.scalar(select(EntryFlag.id))
    assert login("cora").post(f"/entries/{entry.id}/flags/{flag_id}/resolve").status_code == 403
    assert login("cu").post(f"/entries/{entry.id}/flags/{flag_id}/resolve").status_code == 303
    assert login("cu").post(f"/entries/{entry.id}/flags/{flag_id}/resolve").status_code == 409
    assert "No open flags." in _text(login("cu").get("/review"))


def test_authors_are_notified_of_decisions(app, users, login, make_entry):
    entry = make_entry(author_id=users["cora"], status="in_review")
    login("cu").post(f"/entries/{entry.id}/request-changes", data={"note": "Add the statute."})
    login("cora").post(f"/entries/{entry.id}/submit")
    login("cu").post(f"/entries/{entry.id}/publish")
    cora = login("cora")
    page = _text(cora.get("/notifications"))
    assert "Changes requested: Add the statute." in page and "Your entry was published." in page
    assert 'class="count-badge">2' in _text(cora.get("/"))
    assert cora.post("/notifications/read").status_code == 303
    assert "count-badge" not in _text(cora.get("/"))
    with app.app_context():
        assert all(n.read_at for n in db.session.scalars(select(Notification)))
    assert "Your entry was published" not in _text(login("cal").get("/notifications"))


def test_notifications_need_a_sign_in(app):
    assert app.test_client().get("/notifications").status_code == 303


def test_entry_page_offers_verify_and_shows_open_flags_to_curators(app, users, login, make_entry):
    entry = make_entry(author_id=users["cora"])
    assert "Mark as verified" in _text(login("cora").get(f"/entries/{entry.id}"))
    assert "Mark as verified" not in _text(login("cal").get(f"/entries/{entry.id}"))
    login("cal").post(f"/entries/{entry.id}/flag", data={"reason": "Old statute."})
    curator_page = _text(login("cu").get(f"/entries/{entry.id}"))
    assert "Flagged as outdated" in curator_page and "Old statute." in curator_page
    assert "Old statute." not in _text(login("cal").get(f"/entries/{entry.id}"))
