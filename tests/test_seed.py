"""Seed content: the taxonomy, the 29 guidebook lessons, the demo department; idempotence."""

from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import func
from sqlalchemy import select

from kb.extensions import db
from kb.models import Category
from kb.models import ClauseType
from kb.models import Department
from kb.models import Entry
from kb.models import Play
from kb.models import Program
from kb.seed import load_data

PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\s*\}\}")
SOURCE = "Adapted from the CalHHS Data-Sharing Guidebook, Lessons Learned"


def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_taxonomy_is_installed(seeded_app):
    with seeded_app.app_context():
        slugs = list(db.session.scalars(select(Category.slug).order_by(Category.position)))
        assert slugs == [
            "bucp-creation",
            "data-requests",
            "statutory-legal",
            "security-reviews",
            "data-fulfillment",
            "process-improvement",
        ]
        plays = db.session.scalars(select(Play).order_by(Play.number)).all()
        assert [p.number for p in plays] == list(range(1, 9))
        assert [p.phase for p in plays] == ["improvements"] * 3 + ["share"] * 4 + ["receive"]
        assert plays[5].title == "Describe Your Data"
        types = set(db.session.scalars(select(ClauseType.slug)))
        assert {"use-case-description", "data-elements", "data-transfer-management"} <= types
        assert {"destruction-return", "legal-authority", "specialized-security"} <= types
        assert len(types) == 20


def test_guidebook_lessons(seeded_app):
    with seeded_app.app_context():
        lessons = db.session.scalars(select(Entry).where(Entry.kind == "lesson")).all()
        assert len(lessons) == 29
        assert all(lesson.status == "published" and not lesson.is_demo for lesson in lessons)
        assert all(lesson.source == SOURCE for lesson in lessons)
        assert all(lesson.benefit and lesson.summary and lesson.body for lesson in lessons)
        by_category = Counter(lesson.categories[0].slug for lesson in lessons)
        assert by_category == {
            "bucp-creation": 11,
            "data-requests": 4,
            "statutory-legal": 4,
            "security-reviews": 2,
            "data-fulfillment": 4,
            "process-improvement": 4,
        }


def test_lessons_keep_the_plays_they_point_to(seeded_app):
    """The rows that name a play ("Play 6: Describe Your Data") are linked to it."""
    expected = {10: [1], 11: [1, 3], 15: [6], 16: [6], 22: [8], 23: [8], 24: [6], 26: [1], 28: [1]}
    uids = {item["uid"]: item["number"] for item in load_data("lessons")["lessons"]}
    with seeded_app.app_context():
        for entry in db.session.scalars(select(Entry).where(Entry.kind == "lesson")):
            plays = [play.number for play in entry.plays]
            assert plays == expected.get(uids[entry.uid], []), entry.title


def test_demo_content_is_flagged_and_covers_the_main_clause_types(seeded_app):
    with seeded_app.app_context():
        snippets = db.session.scalars(select(Entry).where(Entry.kind == "snippet")).all()
        assert len(snippets) >= 12
        assert all(snippet.is_demo for snippet in snippets)
        covered = {snippet.clause_type.slug for snippet in snippets}
        assert covered >= {
            "use-case-description",
            "data-elements",
            "data-users",
            "data-transfer-management",
            "destruction-return",
            "legal-authority",
            "re-disclosure",
            "specialized-security",
        }
        assert sum(bool(PLACEHOLDER.search(snippet.body)) for snippet in snippets) >= 3
        assert {p.name for p in db.session.scalars(select(Program))} >= {
            "Healthy Habits",
            "Walk2Work (W2W)",
            "Your Environment",
        }
        assert _count(Department, Department.is_demo.is_(True)) == 3
        assert _count(Program, Program.is_demo.is_(False)) == 0


def test_seed_twice_changes_nothing(seeded_app):
    with seeded_app.app_context():
        before = (_count(Entry), _count(Program), _count(Department))
    result = seeded_app.test_cli_runner().invoke(args=["seed", "--demo"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Nothing to add: already present (29 lessons")
    with seeded_app.app_context():
        assert (_count(Entry), _count(Program), _count(Department)) == before


def test_seed_never_modifies_existing_items(app, runner):
    assert runner.invoke(args=["seed"]).exit_code == 0
    with app.app_context():
        entry = db.session.scalar(select(Entry).limit(1))
        entry.title = "Changed locally"
        entry_id = entry.id
        db.session.commit()
    result = runner.invoke(args=["seed"])
    assert "Nothing to add" in result.output
    with app.app_context():
        assert (
            db.session.scalar(select(Entry.title).where(Entry.id == entry_id)) == "Changed locally"
        )


def test_seed_without_demo_adds_no_demo_content(app, runner):
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0
    assert result.output.startswith("Added 29 lessons, 29 glossary terms.")
    with app.app_context():
        assert _count(Entry, Entry.is_demo.is_(True)) == 0
        assert _count(Program) == 0
