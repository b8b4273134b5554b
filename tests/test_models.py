"""Models: defaults, constraints, timezone-aware times, revisions."""

from __future__ import annotations

import uuid
from datetime import UTC
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kb.extensions import db
from kb.models import SYSTEM_USERNAME
from kb.models import AuditEvent
from kb.models import Entry
from kb.models import Revision
from kb.models import User
from tests.databases import sqlite_only


def test_entry_defaults_and_first_revision(app, make_entry):
    made = make_entry(kind="snippet", clause_type="Data elements", categories=[], status="draft")
    with app.app_context():
        entry = db.session.get(Entry, made.id)
        assert uuid.UUID(entry.uid)
        assert entry.position == "standard"
        assert entry.status == "draft"
        assert entry.clause_type.slug == "data-elements"  # the name was accepted on input
        assert entry.version == entry.revision == 1
        assert entry.published_revision is None
        assert entry.created_at.tzinfo is UTC
        [revision] = entry.revisions
        assert revision.snapshot["title"] == entry.title
        assert revision.snapshot["clause_type"] == "data-elements"
        assert not revision.is_published
        audit = db.session.scalars(select(AuditEvent)).all()
        assert [(a.action, a.object_id) for a in audit] == [("entry.create", entry.id)]


def test_published_entry_points_at_its_published_revision(app, make_entry):
    made = make_entry()
    with app.app_context():
        entry = db.session.get(Entry, made.id)
        assert entry.published_revision == 1
        assert entry.verified_at is not None
        assert db.session.scalar(select(Revision.is_published)) is True


def test_kind_is_constrained(app):
    with app.app_context():
        author = db.session.scalar(select(User).where(User.username == SYSTEM_USERNAME))
        db.session.add(Entry(kind="memo", title="x", body="y", author=author))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_uid_is_unique(app, make_entry):
    first = make_entry()
    with pytest.raises(IntegrityError):
        make_entry(uid=first.uid)


def test_naive_datetimes_are_refused(app, make_entry):
    made = make_entry()
    with app.app_context():
        entry = db.session.get(Entry, made.id)
        entry.review_due = datetime(2027, 1, 1)
        with pytest.raises(Exception, match="naive datetime"):
            db.session.flush()
        db.session.rollback()


def test_system_user_cannot_sign_in(app):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == SYSTEM_USERNAME))
        assert user.is_system
        assert user.password_hash is None


@sqlite_only
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(app):
    from sqlalchemy import text

    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
