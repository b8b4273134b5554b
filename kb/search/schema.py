"""The Whoosh schema and the pure mapping from an entry to its search document.

Words are searched in one field, ``text``, that holds every text field of an entry, each with
its own weight (title over tags and summary over body): a word's weighted counts are added up
before BM25 saturates them, as BM25F does, so an entry that repeats one query word in every
field no longer beats an entry that matches more of the query's words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from whoosh.analysis import Analyzer
from whoosh.analysis import IDTokenizer
from whoosh.analysis import LowercaseFilter
from whoosh.analysis import StemmingAnalyzer
from whoosh.analysis import StripFilter
from whoosh.analysis import Token
from whoosh.fields import DATETIME
from whoosh.fields import ID
from whoosh.fields import KEYWORD
from whoosh.fields import NUMERIC
from whoosh.fields import STORED
from whoosh.fields import TEXT
from whoosh.fields import Schema
from whoosh.lang import porter2

from kb.markdown import markdown_to_text
from kb.models import Entry

#: Bump when the schema changes: an index with another version is rebuilt on open.
SCHEMA_VERSION = 8
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


#: Words Porter2 reduces to the stem of an unrelated word ("business" and "busy" both become
#: "busi"), so "too busy" would find every business case: they keep stems of their own.
STEM_EXCEPTIONS = {
    "business": "business",
    "businesses": "business",
    "busy": "busy",
    "busier": "busy",
    "busiest": "busy",
}


def stem(word: str) -> str:
    """Porter2 (Snowball English), except for ``STEM_EXCEPTIONS``.

    Whoosh's default Porter stemmer leaves words such as "encryption" unstemmed, so they would
    never match "encrypted".
    """
    return STEM_EXCEPTIONS.get(word) or porter2.stem(word)


def word_analyzer() -> Analyzer:
    """Lower case, English stop words left out, stemmed."""
    return StemmingAnalyzer(stemfn=stem, stoplist=STOP_WORDS)


#: The parts of the ``text`` field, in order, and the weight of each word found there.
#: A title word counts three times, a tag or summary word twice (BM25F field weights).
SECTIONS = (("title", 3.0), ("tags", 2.0), ("summary", 2.0), ("body", 1.0), ("benefit", 1.0))
#: Separates the sections in the ``text`` value (an ASCII record separator: input never has
#: one, control characters are stripped where requests come in).
SECTION_BREAK = "\x1e"
#: Positions left empty between sections, so a phrase never spans two of them.
SECTION_GAP = 100


class SectionsAnalyzer(Analyzer):
    """Analyses ``SECTION_BREAK``-separated sections, weighting each section's words.

    Indexing gives each word the weight of its section (Whoosh adds a word's weights up as its
    frequency); positions continue across sections with a gap. Query text has one section.
    """

    is_morph = True

    def __init__(self, weights: tuple[float, ...]) -> None:
        self.weights = weights
        self.words = word_analyzer()

    def clean(self) -> None:
        """Drop the stemmer's cache."""
        self.words.clean()

    def __call__(self, value: str, **kwargs: Any) -> Iterator[Token]:
        index = kwargs.get("mode") == "index"
        kwargs.pop("start_pos", None)
        position = 0
        for number, part in enumerate(value.split(SECTION_BREAK)):
            weight = self.weights[number] if index and number < len(self.weights) else 1.0
            last = position
            for token in self.words(part, start_pos=position, **kwargs):
                token.boost = weight
                last = getattr(token, "pos", last)
                yield token
            position = last + SECTION_GAP


def build_schema() -> Schema:
    """The schema: the weighted ``text`` field, stored text to highlight, keyword fields."""
    return Schema(
        key=ID(stored=True, unique=True),
        entity=ID(stored=True),
        id=NUMERIC(stored=True, bits=64),
        kind=KEYWORD(lowercase=True, vector=True),
        status=ID,
        author=ID,
        text=TEXT(analyzer=SectionsAnalyzer(tuple(weight for _, weight in SECTIONS))),
        # Stored only: the passages shown with a result, and the text "more like this" reads.
        title=STORED,
        summary=STORED,
        body=STORED,
        # Unstemmed words of every text field: the vocabulary for typo correction.
        words=KEYWORD(lowercase=True),
        clause_type=KEYWORD(commas=True, lowercase=True, vector=True),
        tags=KEYWORD(commas=True, lowercase=True, vector=True),
        categories=KEYWORD(commas=True, lowercase=True, vector=True),
        plays=KEYWORD(commas=True, vector=True),
        # One value, the whole name (a program's name may hold a comma).
        program=KEYWORD(analyzer=IDTokenizer() | StripFilter() | LowercaseFilter(), vector=True),
        updated=DATETIME(sortable=True),
        verified=DATETIME(sortable=True),
        # Staleness depends on "now", so it is decided at query time (see ``kb.search.scoring``).
        review_due=DATETIME,
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
    # One scan of all parts (a word never spans the line break between two); each distinct
    # spelling is lower-cased once.
    found = set(_WORDS.findall("\n".join(part for part in parts if part)))
    return {word.lower() for word in found}


def entry_key(entry_id: int) -> str:
    """The unique index key of an entry."""
    return f"entry:{entry_id}"


def _tag_words(entry: Entry) -> str:
    """Tag names as words ("minimum-necessary" → "minimum necessary")."""
    return "\n".join(tag.name.replace("-", " ") for tag in entry.tags)


def entry_document(entry: Entry) -> dict[str, Any]:
    """The search document of an entry (a pure function of its loaded state)."""
    body = "\n\n".join(
        markdown_to_text(part) for part in (entry.body, entry.context, entry.usage_notes) if part
    )
    sections = {
        "title": entry.title,
        "tags": _tag_words(entry),
        "summary": entry.summary or "",
        "body": body,
        "benefit": markdown_to_text(entry.benefit),
    }
    document: dict[str, Any] = {
        "key": entry_key(entry.id),
        "entity": "entry",
        "id": entry.id,
        "kind": entry.kind,
        "status": entry.status,
        "author": str(entry.author_id),
        "text": SECTION_BREAK.join(
            sections[name].replace(SECTION_BREAK, " ") for name, _ in SECTIONS
        ),
        "title": entry.title,
        "summary": entry.summary or "",
        "body": body,
        # A list is indexed as it is, without the field's analyzer (which would only split on
        # spaces and lower-case: these words are already split and lower case; a test in
        # tests/test_search.py holds the two together).
        "words": sorted(_unique_words(entry)),
        "tags": _keywords(tag.name for tag in entry.tags),
        "categories": _keywords(category.slug for category in entry.categories),
        "plays": _keywords(str(play.number) for play in entry.plays),
        "program": entry.program.name if entry.program else NO_VALUE,
        "clause_type": _keywords([entry.clause_type.slug] if entry.clause_type else []),
        "updated": entry.updated_at.replace(tzinfo=None),
    }
    if entry.verified_at:
        document["verified"] = entry.verified_at.replace(tzinfo=None)
    if entry.review_due:
        document["review_due"] = entry.review_due.replace(tzinfo=None)
    return document
