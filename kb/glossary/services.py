"""Reading and keeping the glossary: validation, saves with an audit trail, the seed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.entries.services import audit
from kb.entries.validation import normalise_tag
from kb.models import GlossaryTerm
from kb.models import User

MAX_TERM = 120
MAX_DEFINITION = 2_000
MAX_SYNONYMS = 20
_SPACES = re.compile(r"\s+")


class GlossaryError(ValueError):
    """A term failed validation; ``fields`` maps field names to messages."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields = dict(fields)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.fields.items()))


@dataclass(frozen=True)
class TermData:
    """A validated term, its definition and synonyms."""

    term: str
    definition: str
    synonyms: list[str]


def anchor(term: str) -> str:
    """The fragment id of a term on its page (``Data Coordinator`` → ``term-data-coordinator``)."""
    return "term-" + (normalise_tag(term) or "x")


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text or "").strip()


def list_terms(session: Session, query: str = "") -> list[GlossaryTerm]:
    """Terms in alphabetical order (case-insensitive), optionally those mentioning ``query``.

    The glossary is small (hundreds of terms at most), so the filter runs in Python.
    """
    terms = list(session.scalars(select(GlossaryTerm).order_by(func.lower(GlossaryTerm.term))))
    needle = _clean(query).lower()
    if not needle:
        return terms
    return [
        term
        for term in terms
        if needle in " ".join([term.term, term.definition, *(term.synonyms or [])]).lower()
    ]


def validate_term(
    session: Session, data: Mapping[str, Any], *, current: GlossaryTerm | None = None
) -> TermData:
    """Check a term: required and bounded fields, and no clash with another term or synonym."""
    errors: dict[str, str] = {}
    term = _clean(str(data.get("term") or ""))
    definition = str(data.get("definition") or "").strip()
    synonyms = _synonyms(data.get("synonyms"), term)
    if not term:
        errors["term"] = "is required"
    elif len(term) > MAX_TERM:
        errors["term"] = f"is {len(term)} characters long; the limit is {MAX_TERM}"
    if not definition:
        errors["definition"] = "is required: say what the term means in a sentence or two"
    elif len(definition) > MAX_DEFINITION:
        errors["definition"] = (
            f"is {len(definition):,} characters long; the limit is {MAX_DEFINITION:,}"
        )
    if len(synonyms) > MAX_SYNONYMS:
        errors["synonyms"] = f"{len(synonyms)} synonyms; the limit is {MAX_SYNONYMS}"
    elif any(len(s) > MAX_TERM for s in synonyms):
        errors["synonyms"] = f"a synonym is longer than {MAX_TERM} characters"
    clash = _clash(session, [term, *synonyms], current) if "term" not in errors else None
    if clash:
        errors["term" if clash[0].lower() == term.lower() else "synonyms"] = (
            f"“{clash[0]}” is already in the glossary under “{clash[1]}”"
        )
    if errors:
        raise GlossaryError(errors)
    return TermData(term=term, definition=definition, synonyms=synonyms)


def _synonyms(raw: Any, term: str) -> list[str]:
    """Synonyms from a list or from text (comma- or line-separated), cleaned, each once."""
    if isinstance(raw, str):
        raw = raw.replace("\n", ",").split(",")
    seen = {term.lower()}
    synonyms: list[str] = []
    for item in raw or []:
        synonym = _clean(str(item))
        if synonym and synonym.lower() not in seen:
            seen.add(synonym.lower())
            synonyms.append(synonym)
    return synonyms


def _clash(
    session: Session, forms: list[str], current: GlossaryTerm | None
) -> tuple[str, str] | None:
    """The first of ``forms`` that another term already uses (as its term or a synonym)."""
    wanted = {form.lower(): form for form in forms}
    for other in session.scalars(select(GlossaryTerm)):
        if current is not None and other.id == current.id:
            continue
        for form in [other.term, *(other.synonyms or [])]:
            if form.lower() in wanted:
                return wanted[form.lower()], other.term
    return None


def create_term(session: Session, data: Mapping[str, Any], actor: User | None) -> GlossaryTerm:
    """Add a term (validated) and audit it."""
    clean = validate_term(session, data)
    term = GlossaryTerm(
        term=clean.term, definition=clean.definition, synonyms=clean.synonyms, updated_by=actor
    )
    session.add(term)
    session.flush()
    audit(session, actor, "glossary.create", term, term=term.term)
    return term


def update_term(
    session: Session, term: GlossaryTerm, data: Mapping[str, Any], actor: User | None
) -> GlossaryTerm:
    """Change a term; the audit event keeps what it said before."""
    clean = validate_term(session, data, current=term)
    before = {"term": term.term, "definition": term.definition, "synonyms": term.synonyms}
    term.term, term.definition, term.synonyms = clean.term, clean.definition, clean.synonyms
    term.updated_by = actor
    session.flush()
    audit(session, actor, "glossary.update", term, before=before)
    return term


def delete_term(session: Session, term: GlossaryTerm, actor: User | None) -> None:
    """Remove a term; the audit event keeps its text."""
    audit(
        session,
        actor,
        "glossary.delete",
        term,
        term=term.term,
        definition=term.definition,
        synonyms=term.synonyms,
    )
    session.delete(term)
    session.flush()


def seed_glossary(session: Session, items: list[dict[str, Any]]) -> tuple[int, int]:
    """Insert the seed terms missing by uid or by term; returns (added, already there)."""
    uids = set(session.scalars(select(GlossaryTerm.uid)))
    forms = {
        form.lower()
        for term in session.scalars(select(GlossaryTerm))
        for form in [term.term, *(term.synonyms or [])]
    }
    added = 0
    for item in items:
        if item["uid"] in uids or item["term"].lower() in forms:
            continue
        session.add(
            GlossaryTerm(
                uid=item["uid"],
                term=item["term"],
                definition=item["definition"],
                synonyms=list(item.get("synonyms") or []),
            )
        )
        forms.update(form.lower() for form in [item["term"], *(item.get("synonyms") or [])])
        added += 1
    session.flush()
    return added, len(items) - added
