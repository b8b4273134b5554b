"""The Whoosh schema and the pure mapping from an entry to its search document."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from whoosh.analysis import StemmingAnalyzer
from whoosh.fields import DATETIME
from whoosh.fields import ID
from whoosh.fields import KEYWORD
from whoosh.fields import NUMERIC
from whoosh.fields import TEXT
from whoosh.fields import Schema
from whoosh.lang import porter2

from kb.markdown import markdown_to_text
from kb.models import Entry

#: Bump when the schema changes: an index with another version is rebuilt on open.
SCHEMA_VERSION = 6
#: The key of the one document that records the index's own state.
META_KEY = "meta:index"
#: The keyword fields facets are counted on.
FACET_FIELDS = ("kind", "categories", "plays", "clause_type", "program", "tags")


#: English function words (a common stop list): they say little about what an entry is about,
#: and in questions ("what does ... need", "who should ...") they would otherwise decide the rank.
STOP_WORDS = frozenset(
    line.strip()
    for line in (Path(__file__).parent / "stopwords.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
)


def build_schema() -> Schema:
    """The schema: stemmed text fields (title boosted) and keyword fields for facets."""
    # Porter2 (Snowball English): Whoosh's default Porter stemmer leaves words such as
    # "encryption" unstemmed, so they would never match "encrypted".
    text = StemmingAnalyzer(stemfn=porter2.stem, stoplist=STOP_WORDS)
    return Schema(
        key=ID(stored=True, unique=True),
        entity=ID(stored=True),
        id=NUMERIC(stored=True, bits=64),
        kind=KEYWORD(lowercase=True, vector=True),
        status=ID,
        author=ID,
        title=TEXT(analyzer=text, field_boost=4.0, stored=True),
        summary=TEXT(analyzer=text, field_boost=2.0, stored=True),
        body=TEXT(analyzer=text, stored=True),
        benefit=TEXT(analyzer=text, field_boost=0.8),
        # Unstemmed words of every text field: the vocabulary for typo correction.
        words=KEYWORD(lowercase=True),
        clause_type=KEYWORD(commas=True, lowercase=True, vector=True),
        tags=KEYWORD(commas=True, lowercase=True, scorable=True, vector=True, field_boost=2.0),
        categories=KEYWORD(commas=True, lowercase=True, vector=True),
        plays=KEYWORD(commas=True, vector=True),
        program=KEYWORD(commas=True, lowercase=True, vector=True),
        updated=DATETIME(sortable=True),
        verified=DATETIME(sortable=True),
        applied_seq=NUMERIC(stored=True, bits=64),
        schema_version=NUMERIC(stored=True),
    )


#: Stands in for "no value" in keyword fields: Whoosh keeps no term vector for an empty
#: field, and facet counting reads the vectors. Never shown (facets drop it).
NO_VALUE = "_none"


def _keywords(values: Iterable[str]) -> str:
    return ",".join(values) or NO_VALUE


_WORDS = re.compile(r"[A-Za-z][A-Za-z']*")


def _unique_words(entry: Entry) -> set[str]:
    """Every distinct word of an entry, lower case: the vocabulary for typo correction."""
    parts = (
        entry.title,
        entry.summary,
        entry.body,
        entry.benefit,
        entry.context,
        entry.usage_notes,
        " ".join(tag.name for tag in entry.tags),
    )
    return {word.lower() for part in parts if part for word in _WORDS.findall(part)}


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
            markdown_to_text(part)
            for part in (entry.body, entry.context, entry.usage_notes)
            if part
        ),
        "benefit": markdown_to_text(entry.benefit),
        "words": " ".join(sorted(_unique_words(entry))),
        "tags": _keywords(tag.name for tag in entry.tags),
        "categories": _keywords(category.slug for category in entry.categories),
        "plays": _keywords(str(play.number) for play in entry.plays),
        "program": _keywords([entry.program.name] if entry.program else []),
        "clause_type": _keywords([entry.clause_type.slug] if entry.clause_type else []),
        "updated": entry.updated_at.replace(tzinfo=None),
    }
    if entry.verified_at:
        document["verified"] = entry.verified_at.replace(tzinfo=None)
    return document
