"""The fixed taxonomy, the system user and the seed content, loaded from ``seed/`` data files."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.bucps.seed import seed_demo_bucps
from kb.config import PROJECT_ROOT
from kb.entries.services import create_entry
from kb.entries.validation import taxonomy_lookups
from kb.entries.validation import validate_record
from kb.glossary.services import seed_glossary
from kb.models import SYSTEM_USERNAME
from kb.models import Category
from kb.models import ClauseType
from kb.models import Department
from kb.models import Entry
from kb.models import Play
from kb.models import Program
from kb.models import User
from kb.procedures.seed import seed_demo_procedures
from kb.search import ensure_counter

SEED_DIR = PROJECT_ROOT / "seed"
LESSON_FIELDS = (
    "uid",
    "title",
    "summary",
    "body",
    "benefit",
    "context",
    "categories",
    "plays",
    "tags",
)
SNIPPET_FIELDS = (
    "uid",
    "title",
    "summary",
    "body",
    "clause_type",
    "position",
    "usage_notes",
    "citations",
    "categories",
    "plays",
    "tags",
    "program",
)


@dataclass
class SeedReport:
    """What a seed run added and what it found already present."""

    added: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, added: bool) -> None:
        """Count one item as added or as already present."""
        bucket = self.added if added else self.present
        bucket[kind] = bucket.get(kind, 0) + 1

    @property
    def changed(self) -> bool:
        """Whether the run added anything."""
        return any(self.added.values())


@functools.cache
def load_data(name: str, folder: Path = SEED_DIR) -> dict[str, Any]:
    """A parsed seed data file (``taxonomy``, ``lessons``, ``glossary``, ``demo``)."""
    with (folder / f"{name}.yaml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def phases() -> list[dict[str, str]]:
    """The three phases of the plays roadmap, in order."""
    return load_data("taxonomy")["phases"]


def install_taxonomy(session: Session) -> SeedReport:
    """Insert the fixed categories, plays, clause types, the system user and the outbox counter."""
    data = load_data("taxonomy")
    report = SeedReport()
    existing = set(session.scalars(select(Category.slug)))
    for position, item in enumerate(data["categories"]):
        added = item["slug"] not in existing
        if added:
            session.add(Category(position=position, **item))
        report.count("categories", added)
    existing_plays = set(session.scalars(select(Play.number)))
    for item in data["plays"]:
        added = item["number"] not in existing_plays
        if added:
            session.add(Play(**item))
        report.count("plays", added)
    existing = set(session.scalars(select(ClauseType.slug)))
    for position, item in enumerate(data["clause_types"]):
        added = item["slug"] not in existing
        if added:
            session.add(ClauseType(position=position, **item))
        report.count("clause types", added)
    system_user(session)
    ensure_counter(session)
    session.flush()
    return report


def system_user(session: Session) -> User:
    """The system user ``kb`` that authors seed content and CLI imports (cannot sign in)."""
    user = session.scalar(select(User).where(User.username == SYSTEM_USERNAME))
    if user is None:
        user = User(
            username=SYSTEM_USERNAME,
            display_name="Knowledge Base",
            role="admin",
            password_hash=None,
            is_system=True,
        )
        session.add(user)
        session.flush()
    return user


def _seed_entries(
    session: Session,
    items: list[dict[str, Any]],
    kind: str,
    fields: tuple[str, ...],
    report: SeedReport,
    *,
    source: str = "",
    is_demo: bool = False,
) -> None:
    author = system_user(session)
    lookups = taxonomy_lookups(session)
    present = set(
        session.scalars(select(Entry.uid).where(Entry.uid.in_([i["uid"] for i in items])))
    )
    for item in items:
        added = item["uid"] not in present
        if added:
            record = {name: item[name] for name in fields if name in item}
            record.update(kind=kind, status="published", source=item.get("source", source))
            create_entry(
                session,
                validate_record(record, lookups),
                author=author,
                note="Seed content",
                is_demo=is_demo,
            )
        report.count(f"{kind}s", added)


def seed_content(session: Session, *, demo: bool = False) -> SeedReport:
    """Add the guidebook lessons (and with ``demo`` the fictional department's content).

    Items have stable uids and are inserted only when missing, never modified.
    """
    report = SeedReport()
    lessons = load_data("lessons")
    _seed_entries(
        session, lessons["lessons"], "lesson", LESSON_FIELDS, report, source=lessons["source"]
    )
    _seed_glossary(session, report)
    if demo:
        _seed_demo(session, report)
    session.flush()
    return report


def _seed_glossary(session: Session, report: SeedReport) -> None:
    added, present = seed_glossary(session, load_data("glossary")["terms"])
    for bucket, number in ((report.added, added), (report.present, present)):
        if number:
            bucket["glossary terms"] = bucket.get("glossary terms", 0) + number


def _seed_demo(session: Session, report: SeedReport) -> None:
    data = load_data("demo")
    names = set(session.scalars(select(Program.name)))
    for item in data["programs"]:
        added = item["name"] not in names
        if added:
            session.add(
                Program(name=item["name"], description=item.get("description", ""), is_demo=True)
            )
        report.count("programs", added)
    names = set(session.scalars(select(Department.name)))
    for item in data["departments"]:
        added = item["name"] not in names
        if added:
            session.add(Department(is_demo=True, **item))
        report.count("departments", added)
    session.flush()
    source = f"Demo content for the fictional {data['department']}"
    _seed_entries(
        session, data["snippets"], "snippet", SNIPPET_FIELDS, report, source=source, is_demo=True
    )
    for added in seed_demo_bucps(session, load_data("demo_bucps")["bucps"], system_user(session)):
        report.count("BUCPs", added)
    items = load_data("demo_procedures")["procedures"]
    for added in seed_demo_procedures(session, items, system_user(session)):
        report.count("procedures", added)
