"""Help while writing an entry: field checks, the live preview, writing advice, tag suggestions.

Everything here reads the record as typed and never saves anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from markupsafe import Markup
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.entries.clarity import Advice
from kb.entries.clarity import check_record
from kb.entries.validation import MAX_TAGS
from kb.entries.validation import RecordError
from kb.entries.validation import normalise_tag
from kb.entries.validation import taxonomy_lookups
from kb.entries.validation import validate_record
from kb.finder.services import similar_entries
from kb.glossary.markup import entry_markdown
from kb.models import Entry
from kb.models import GlossaryTerm
from kb.models import Tag
from kb.models import User
from kb.models import entry_tags
from kb.placeholders import placeholder_names

MAX_SUGGESTIONS = 10
MAX_SIMILAR = 5


@dataclass
class Help:
    """What the writing panel shows for a record as typed."""

    kind: str = "lesson"
    previews: list[tuple[str, Markup]] = field(default_factory=list)
    advice: list[tuple[Advice, Entry | None]] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    similar: list[Entry] = field(default_factory=list)


def field_error(session: Session, record: Mapping[str, Any], name: str) -> str | None:
    """The record rules' message for one field, or ``None`` when that field is fine."""
    try:
        validate_record(record, taxonomy_lookups(session))
    except RecordError as exc:
        return exc.fields.get(name)
    return None


def known_terms(session: Session) -> list[str]:
    """Every glossary term and synonym."""
    return [
        form
        for term, synonyms in session.execute(select(GlossaryTerm.term, GlossaryTerm.synonyms))
        for form in [term, *(synonyms or [])]
    ]


def advice(session: Session, record: Mapping[str, Any]) -> list[tuple[Advice, Entry | None]]:
    """The writing checks' warnings, each with the published lesson it cites (when present)."""
    found = check_record(record, known_terms(session))
    uids = {item.lesson_uid for item in found}
    lessons = {
        entry.uid: entry
        for entry in session.scalars(
            select(Entry).where(Entry.uid.in_(uids), Entry.status == "published")
        )
    }
    return [(item, lessons.get(item.lesson_uid)) for item in found]


PREVIEW_FIELDS = {
    "lesson": (
        ("body", "The lesson"),
        ("benefit", "Why it helps"),
        ("context", "Where it comes from"),
    ),
    "snippet": (("body", "Clause text"), ("usage_notes", "How to use it")),
}


def writing_help(
    session: Session,
    record: Mapping[str, Any],
    user: User | None = None,
    entry_id: int | None = None,
) -> Help:
    """Previews rendered exactly as the entry page renders them, advice, placeholders, and
    the entries ``user`` may read that look like this one (``entry_id`` itself left out)."""
    kind = "snippet" if record.get("kind") == "snippet" else "lesson"
    previews = [
        (label, entry_markdown(str(record.get(name) or ""), placeholders=kind == "snippet"))
        for name, label in PREVIEW_FIELDS[kind]
        if str(record.get(name) or "").strip()
    ]
    return Help(
        kind=kind,
        previews=previews,
        advice=advice(session, record),
        placeholders=placeholder_names(str(record.get("body") or "")) if kind == "snippet" else [],
        similar=similar_entries(
            session,
            _texts(record, "title", "summary", "body"),
            user,
            limit=MAX_SIMILAR,
            exclude_id=entry_id,
        ),
    )


def _texts(record: Mapping[str, Any], *names: str) -> str:
    return "\n".join(str(record.get(name) or "") for name in names)


def tag_suggestions(session: Session, typed: str) -> list[str]:
    """Complete the last comma-separated tag of ``typed``: existing tags, most used first.

    Each suggestion is the whole field value (the tags already typed, then the completion),
    so a browser's ``<datalist>`` can offer it as is.
    """
    parts = [part.strip() for part in (typed or "").split(",")]
    done, partial = parts[:-1], normalise_tag(parts[-1] if parts else "")
    if not partial or len(done) >= MAX_TAGS:
        return []
    taken = {normalise_tag(part) for part in done}
    usage = func.count(entry_tags.c.entry_id)
    rows = session.execute(
        select(Tag.name)
        .outerjoin(entry_tags, entry_tags.c.tag_id == Tag.id)
        .where(Tag.name.contains(partial, autoescape=True))
        .group_by(Tag.id)
        .order_by(Tag.name.startswith(partial, autoescape=True).desc(), usage.desc(), Tag.name)
        .limit(MAX_SUGGESTIONS + len(taken))
    )
    prefix = "".join(f"{part}, " for part in done if part)
    names = [name for (name,) in rows if name not in taken]
    return [prefix + name for name in names[:MAX_SUGGESTIONS]]
