"""The Whoosh schema and the pure mapping from an entry to its search document."""

from __future__ import annotations

from typing import Any

from whoosh.analysis import StemmingAnalyzer
from whoosh.fields import DATETIME
from whoosh.fields import ID
from whoosh.fields import KEYWORD
from whoosh.fields import NUMERIC
from whoosh.fields import TEXT
from whoosh.fields import Schema

from kb.models import Entry

#: Bump when the schema changes: an index with another version is rebuilt on open.
SCHEMA_VERSION = 1
#: The key of the one document that records the index's own state.
META_KEY = "meta:index"


def build_schema() -> Schema:
    """The schema: stemmed text fields (title boosted) and keyword fields for facets."""
    text = StemmingAnalyzer()
    return Schema(
        key=ID(stored=True, unique=True),
        entity=ID(stored=True),
        id=NUMERIC(stored=True, bits=64),
        kind=ID,
        status=ID,
        author=ID,
        title=TEXT(analyzer=text, field_boost=3.0, stored=True),
        summary=TEXT(analyzer=text, field_boost=1.5, stored=True),
        body=TEXT(analyzer=text, stored=True),
        benefit=TEXT(analyzer=text),
        clause_type=KEYWORD(commas=True, lowercase=True),
        tags=KEYWORD(commas=True, lowercase=True, scorable=True),
        categories=KEYWORD(commas=True, lowercase=True),
        plays=KEYWORD(commas=True),
        program=KEYWORD(commas=True, lowercase=True),
        updated=DATETIME(sortable=True),
        verified=DATETIME(sortable=True),
        applied_seq=NUMERIC(stored=True, bits=64),
        schema_version=NUMERIC(stored=True),
    )


def entry_key(entry_id: int) -> str:
    """The unique index key of an entry."""
    return f"entry:{entry_id}"


def entry_document(entry: Entry) -> dict[str, Any]:
    """The search document of an entry (a pure function of its loaded state)."""
    document: dict[str, Any] = {
        "key": entry_key(entry.id),
        "entity": "entry",
        "id": entry.id,
        "kind": entry.kind,
        "status": entry.status,
        "author": str(entry.author_id),
        "title": entry.title,
        "summary": entry.summary or "",
        "body": "\n\n".join(
            part for part in (entry.body, entry.context, entry.usage_notes) if part
        ),
        "benefit": entry.benefit or "",
        "tags": ",".join(tag.name for tag in entry.tags),
        "categories": ",".join(category.slug for category in entry.categories),
        "plays": ",".join(str(play.number) for play in entry.plays),
        "program": entry.program.name if entry.program else "",
        "clause_type": entry.clause_type.slug if entry.clause_type else "",
        "updated": entry.updated_at.replace(tzinfo=None),
    }
    if entry.verified_at:
        document["verified"] = entry.verified_at.replace(tzinfo=None)
    return document
