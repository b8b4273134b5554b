"""The rules of an entry record (DESIGN §6), shared by the forms, the API and the importer."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import ENTRY_KINDS
from kb.models import ENTRY_STATUSES
from kb.models import POSITIONS
from kb.models import Category
from kb.models import ClauseType
from kb.models import Play

#: Fields a record may set.
WRITABLE = (
    "uid",
    "kind",
    "title",
    "summary",
    "body",
    "benefit",
    "context",
    "clause_type",
    "position",
    "usage_notes",
    "citations",
    "categories",
    "plays",
    "tags",
    "program",
    "status",
    "source",
    "revision",
)
#: Generated fields: accepted (so an export imports again) and ignored.
GENERATED = ("id", "verified_at", "review_due", "created_at", "updated_at", "author", "url")
LIMITS = {
    "title": 200,
    "summary": 500,
    "body": 20_000,
    "benefit": 5_000,
    "context": 20_000,
    "usage_notes": 5_000,
    "source": 500,
    "program": 120,
}
#: Free-text fields of an entry (their limits are in LIMITS).
TEXT_FIELDS = ("title", "summary", "body", "benefit", "context", "usage_notes", "source")
MAX_CITATIONS = 30
MAX_CITATION_CHARS = 500
MAX_TAGS = 20
MAX_TAG_CHARS = 64
_TAG_JUNK = re.compile(r"[^a-z0-9]+")
#: Control characters other than tab and line breaks: stripped from every text a record sets
#: (the web forms strip them at the request boundary; imports and the API arrive here).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class RecordError(ValueError):
    """A record failed validation; ``fields`` maps field names to messages."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields = dict(fields)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.fields.items()))


def normalise_tag(text: str) -> str:
    """Lower case, words joined by single hyphens (``Data Dictionary`` → ``data-dictionary``)."""
    return _TAG_JUNK.sub("-", text.lower()).strip("-")


def _text(value: Any, name: str, errors: dict[str, str]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[name] = "must be text"
        return ""
    text = _CONTROL.sub("", value).strip()
    limit = LIMITS.get(name)
    if limit and len(text) > limit:
        errors[name] = f"is {len(text):,} characters long; the limit is {limit:,}"
    return text


def _list(value: Any, name: str, errors: dict[str, str], split: str | None = None) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, str) and split:
        return [part.strip() for part in value.split(split) if part.strip()]
    if isinstance(value, list):
        return value
    errors[name] = "must be a list"
    return []


def _slugs(
    values: Iterable[Any], lookup: Mapping[str, str], name: str, errors: dict[str, str]
) -> list[str]:
    found, unknown = [], []
    for value in values:
        key = str(value).strip().lower()
        slug = lookup.get(key)
        if slug is None:
            unknown.append(str(value))
        elif slug not in found:
            found.append(slug)
    if unknown:
        errors[name] = f"unknown {name.replace('_', ' ')}: {', '.join(unknown)}"
    return found


def _plays(values: Iterable[Any], valid: set[int], errors: dict[str, str]) -> list[int]:
    numbers: list[int] = []
    for value in values:
        try:
            number = int(str(value).strip())
        except ValueError:
            number = -1
        if number not in valid:
            errors["plays"] = f"{value!r} is not a play; plays are numbered 1 to 8"
            continue
        if number not in numbers:
            numbers.append(number)
    return sorted(numbers)


def taxonomy_lookups(session: Session) -> dict[str, Any]:
    """Slug-or-name → slug maps for categories and clause types, and the valid play numbers."""
    categories = {}
    for slug, name in session.execute(select(Category.slug, Category.name)):
        categories[slug] = slug
        categories[name.lower()] = slug
    clause_types = {}
    for slug, name in session.execute(select(ClauseType.slug, ClauseType.name)):
        clause_types[slug] = slug
        clause_types[name.lower()] = slug
    plays = set(session.scalars(select(Play.number)))
    return {"categories": categories, "clause_types": clause_types, "plays": plays}


def validate_record(record: Mapping[str, Any], lookups: Mapping[str, Any]) -> dict[str, Any]:
    """Check a record and return its clean values; raises ``RecordError`` naming every field."""
    errors: dict[str, str] = {}
    unknown = [key for key in record if key not in WRITABLE and key not in GENERATED]
    if unknown:
        errors["record"] = f"unknown field(s): {', '.join(sorted(map(str, unknown)))}"
    clean: dict[str, Any] = {name: _text(record.get(name), name, errors) for name in LIMITS}
    clean["kind"] = _choice(record.get("kind"), None, ENTRY_KINDS, "kind", errors)
    clean["uid"] = _uid(record.get("uid"), errors)
    clean["position"] = _choice(record.get("position"), "standard", POSITIONS, "position", errors)
    # A missing status means the default for a new entry, or "unchanged" for an update.
    clean["status"] = _choice(record.get("status"), None, ENTRY_STATUSES, "status", errors)
    clean["citations"] = _citations(record.get("citations"), errors)
    categories = _list(record.get("categories"), "categories", errors, ";")
    clean["categories"] = _slugs(categories, lookups["categories"], "categories", errors)
    plays = _list(record.get("plays"), "plays", errors, ";")
    clean["plays"] = _plays(plays, lookups["plays"], errors)
    clean["tags"] = _tags(record.get("tags"), errors)
    clause_type = record.get("clause_type")
    found = _slugs(
        [clause_type] if clause_type else [], lookups["clause_types"], "clause_type", errors
    )
    clean["clause_type"] = found[0] if found else None
    clean["revision"] = _revision(record.get("revision"), errors)
    _require(clean, errors)
    if errors:
        raise RecordError(errors)
    return clean


def _choice(
    value: Any, default: str | None, allowed: tuple[str, ...], name: str, errors: dict[str, str]
) -> str | None:
    if value in (None, ""):
        return default
    if value not in allowed:
        errors[name] = f"{value!r} is not one of {', '.join(allowed)}"
        return default
    return value


def _require(clean: dict[str, Any], errors: dict[str, str]) -> None:
    """The required fields, some of them by kind."""
    for name in ("kind", "title", "body"):
        if not clean[name] and name not in errors:
            errors[name] = "is required" + (": lesson or snippet" if name == "kind" else "")
    if clean["kind"] == "snippet" and not clean["clause_type"] and "clause_type" not in errors:
        errors["clause_type"] = "is required for a snippet"
    if clean["kind"] == "lesson" and not clean["categories"] and "categories" not in errors:
        errors["categories"] = "a lesson needs at least one category"


def _uid(value: Any, errors: dict[str, str]) -> str | None:
    if value in (None, ""):
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        errors["uid"] = f"{value!r} is not a UUID"
        return None


def _revision(value: Any, errors: dict[str, str]) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's Infinity
        number = 0
    if number < 1:
        errors["revision"] = "must be a whole number from 1"
        return None
    return number


def _citations(value: Any, errors: dict[str, str]) -> list[str]:
    items = _list(value, "citations", errors, "\n")
    cleaned = (_CONTROL.sub("", str(item)).strip() for item in items)
    citations = [item for item in cleaned if item]
    if len(citations) > MAX_CITATIONS:
        errors["citations"] = f"{len(citations)} citations; the limit is {MAX_CITATIONS}"
    elif any(len(item) > MAX_CITATION_CHARS for item in citations):
        errors["citations"] = f"a citation is longer than {MAX_CITATION_CHARS} characters"
    return citations


def _tags(value: Any, errors: dict[str, str]) -> list[str]:
    separator = ";" if isinstance(value, str) and ";" in value else ","
    tags: list[str] = []
    for item in _list(value, "tags", errors, separator):
        tag = normalise_tag(str(item))
        if len(tag) > MAX_TAG_CHARS:
            errors["tags"] = f"a tag is longer than {MAX_TAG_CHARS} characters"
        elif tag and tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        errors["tags"] = f"{len(tags)} tags; the limit is {MAX_TAGS}"
    return tags
