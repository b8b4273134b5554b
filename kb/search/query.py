"""Turning a user's query and filters into ranked entry ids, facet counts and highlights.

Query language: plain words (all must match; when nothing matches, any may), ``"phrases"``,
``-exclusion``, ``OR``, ``prefix*``, field prefixes (``kind:`` ``category:`` ``play:``
``type:`` ``program:`` ``tag:``), and typo tolerance: a word that appears nowhere in the
index is replaced by its closest indexed word, and the response suggests the corrected query.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field

from whoosh import highlight
from whoosh import qparser
from whoosh.index import Index
from whoosh.query import And
from whoosh.query import Every
from whoosh.query import Not
from whoosh.query import NullQuery
from whoosh.query import Or
from whoosh.query import Phrase
from whoosh.query import Query
from whoosh.query import Term
from whoosh.searching import Searcher

from kb.search.facets import DocSets
from kb.search.facets import FacetTable
from kb.search.facets import count as facet_count

MAX_QUERY_CHARS = 256
MAX_QUERY_TERMS = 16
TEXT_FIELDS = ["title", "summary", "body", "benefit", "tags"]
STEMMED_FIELDS = ("title", "summary", "body", "benefit")
#: URL parameter → index field (DESIGN §6 search parameters); also the facet keys.
FILTER_FIELDS = {
    "kind": "kind",
    "category": "categories",
    "play": "plays",
    "clause_type": "clause_type",
    "program": "program",
    "tag": "tags",
}
FILTER_PARAMS = tuple(FILTER_FIELDS)
#: Query prefixes users type → index field.
PREFIXES = {
    "kind": "kind",
    "category": "categories",
    "play": "plays",
    "type": "clause_type",
    "program": "program",
    "tag": "tags",
}
SORTS = ("relevance", "newest", "verified")
FACET_LIMIT = 12
SYNONYM_BOOST = 0.7
#: Highlighting re-analyses the stored text: only this much of each body is searched.
HIGHLIGHT_CHARS = 4000
#: "Any word" matching that still ranks entries with more of the words higher.
ANY_GROUP = qparser.OrGroup.factory(0.9)
_WORD = re.compile(r"[A-Za-z][A-Za-z']+")
#: A question mark ending a word ends a question; it is not a one-letter wildcard.
_QUESTION_MARKS = re.compile(r"\?+(?=\s|$)")


@dataclass(frozen=True)
class Visibility:
    """Who is searching: readers see published entries, authors their drafts too, curators all."""

    user_id: int | None = None
    see_all: bool = False


@dataclass
class FacetValue:
    """One value of a facet with the number of matching entries."""

    value: str
    count: int
    selected: bool


@dataclass
class SearchPage:
    """One page of ranked entry ids, and how the query was matched."""

    query: str
    ids: list[int]
    total: int
    page: int
    per_page: int
    sort: str = "relevance"
    match: str = "all"
    truncated: bool = False
    suggestion: str | None = None
    corrected: bool = False
    scores: dict[int, float] = field(default_factory=dict)
    highlights: dict[int, list[str]] = field(default_factory=dict)
    facets: dict[str, list[FacetValue]] | None = None

    @property
    def pages(self) -> int:
        """The number of pages (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page))


def clean_query(text: str) -> tuple[str, bool]:
    """Cap the query's length and term count; returns the text and whether it was cut."""
    text = " ".join(text.split())
    cut = text[:MAX_QUERY_CHARS]
    words = cut.split(" ")
    if len(words) > MAX_QUERY_TERMS:
        cut = " ".join(words[:MAX_QUERY_TERMS])
    return cut, cut != text


def _parser(index: Index, group: type) -> qparser.QueryParser:
    parser = qparser.MultifieldParser(TEXT_FIELDS, index.schema, group=group)
    parser.remove_plugin_class(qparser.BoostPlugin)
    parser.remove_plugin_class(qparser.RangePlugin)
    # "-word" excludes, but the hyphen inside "data-sharing" or "type:data-elements" does not.
    parser.add_plugin(
        qparser.PlusMinusPlugin(plusexpr=r"(?:^|(?<=\s))\+", minusexpr=r"(?:^|(?<=\s))-")
    )
    aliases = {target: [alias] for alias, target in PREFIXES.items() if alias != target}
    parser.add_plugin(qparser.FieldAliasPlugin(aliases))
    return parser


def _plain(text: str) -> str:
    """The query reduced to plain words (the fallback for text the parser cannot use)."""
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def parse(index: Index, text: str, group: type = qparser.AndGroup) -> Query:
    """Parse query text; a malformed query is searched as plain words, never an error."""
    text = _QUESTION_MARKS.sub("", text)
    try:
        query = _parser(index, group).parse(text)
    except Exception:
        query = NullQuery
    if query is NullQuery:
        plain = _plain(text)
        query = _parser(index, group).parse(plain) if plain else NullQuery
    return query


def _known(searcher: Searcher, stem: str) -> bool:
    reader = searcher.reader()
    return any(reader.doc_frequency(name, stem) for name in STEMMED_FIELDS)


def correct(index: Index, searcher: Searcher, text: str, query: Query) -> tuple[Query, str | None]:
    """Replace words found nowhere in the index by their closest indexed word.

    Returns the corrected query and the corrected query text (``None`` when nothing changed).
    """
    analyzer = index.schema["body"].analyzer
    searched = {text for name, text in query.iter_all_terms() if name in STEMMED_FIELDS}
    corrector = searcher.corrector("words")
    suggestion = text
    for word in dict.fromkeys(_WORD.findall(text)):
        stems = [token.text for token in analyzer(word)]
        if len(stems) != 1 or stems[0] not in searched or _known(searcher, stems[0]):
            continue
        allowed = _allowed_typos(word)
        if not allowed:
            continue
        candidates = corrector.suggest(word.lower(), limit=5, maxdist=2, prefix=1)
        close = [c for c in candidates if _typo_distance(word.lower(), c) <= allowed]
        if not close:
            continue
        found = close[:1]
        [fixed] = [token.text for token in analyzer(found[0])] or [stems[0]]
        for name in STEMMED_FIELDS:
            query = query.replace(name, stems[0], fixed)
        suggestion = re.sub(rf"\b{re.escape(word)}\b", found[0], suggestion)
    return query, (suggestion if suggestion != text else None)


def _allowed_typos(word: str) -> int:
    """How many typos a word may carry: most misspellings are one edit (Damerau, 1964);
    short words are more likely real words the knowledge base lacks than typos."""
    return 0 if len(word) <= 4 else 1 if len(word) < 10 else 2


def _typo_distance(a: str, b: str) -> int:
    """Edit distance counting a swap of neighbouring letters as one typo (OSA distance)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


Thesaurus = dict[str, list[tuple[str, ...]]]


def build_thesaurus(groups: Sequence[Sequence[str]], analyzer: object) -> Thesaurus:
    """Map each one-word member's stem to the stems of the other members of its group."""
    thesaurus: Thesaurus = {}
    for group in groups:
        members = [tuple(token.text for token in analyzer(str(member))) for member in group]
        members = [member for member in members if member]
        for member in members:
            if len(member) == 1:
                others = [other for other in members if other != member]
                thesaurus.setdefault(member[0], []).extend(others)
    return thesaurus


def expand_synonyms(query: Query, thesaurus: Thesaurus) -> Query:
    """Let each searched word also match its synonyms (weighted a little lower)."""
    if not thesaurus:
        return query

    def expand(node: Query) -> Query:
        if not isinstance(node, Term) or node.fieldname not in STEMMED_FIELDS:
            return node
        alternatives = thesaurus.get(node.text)
        if not alternatives:
            return node
        options: list[Query] = [node]
        for words in alternatives:
            if len(words) == 1:
                options.append(Term(node.fieldname, words[0], boost=SYNONYM_BOOST))
            else:
                options.append(Phrase(node.fieldname, list(words), boost=SYNONYM_BOOST))
        return Or(options)

    return query.accept(expand)


def visibility_filter(visibility: Visibility) -> Query:
    """The entries this searcher may see (applied inside the search so counts are honest)."""
    parts: list[Query] = [Term("entity", "entry")]
    if not visibility.see_all:
        readable: list[Query] = [Term("status", "published")]
        if visibility.user_id is not None:
            own = And([Term("author", str(visibility.user_id)), Not(Term("status", "archived"))])
            readable.append(own)
        parts.append(Or(readable))
    return And(parts)


def _filter_query(filters: Mapping[str, Sequence[str]], skip: str | None = None) -> list[Query]:
    parts = []
    for param, values in filters.items():
        if param == skip:
            continue
        name = FILTER_FIELDS[param]
        terms = [Term(name, str(value).lower()) for value in values if str(value).strip()]
        if terms:
            parts.append(Or(terms))
    return parts


def allowed_docs(
    searcher: Searcher,
    docsets: DocSets,
    visible: Query,
    filters: Mapping[str, Sequence[str]],
    skip: str | None = None,
) -> set[int]:
    """Documents the searcher may see that pass the filters (values of one filter are ORed)."""
    allowed = set(docsets.get(searcher, visible))
    for part in _filter_query(filters, skip):
        allowed &= docsets.get(searcher, part)
    return allowed


def _facets(
    searcher: Searcher,
    query: Query,
    visible: Query,
    filters: Mapping[str, Sequence[str]],
    table: FacetTable,
    docsets: DocSets,
) -> dict[str, list[FacetValue]]:
    """Counts per facet value; a facet's own selection is left out of its counts (OR within)."""
    values = table.values(searcher.reader())
    groups: dict[str, dict[str, int]] = {}
    unselected = [key for key in FILTER_FIELDS if not filters.get(key)]
    passes = [(None, unselected)] + [(key, [key]) for key in FILTER_FIELDS if filters.get(key)]
    hits = set(searcher.docs_for_query(query))
    for skip, keys in passes:
        if not keys:
            continue
        matched = hits & allowed_docs(searcher, docsets, visible, filters, skip)
        counted = facet_count(values, [FILTER_FIELDS[key] for key in keys], matched)
        for key in keys:
            groups[key] = dict(counted[FILTER_FIELDS[key]])
    out = {}
    for key in FILTER_FIELDS:
        chosen = {str(value).lower() for value in filters.get(key, [])}
        counts = groups.get(key, {})
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:FACET_LIMIT]
        values_out = [FacetValue(value, count, value in chosen) for value, count in ranked]
        values_out += [
            FacetValue(value, counts.get(value, 0), True)
            for value in sorted(chosen - {v.value for v in values_out})
        ]
        out[key] = values_out
    return out


def new_facet_table() -> FacetTable:
    """A facet table for the facet fields of the search parameters."""
    return FacetTable(FILTER_FIELDS.values())


def _highlights(hit: object) -> list[str]:
    """Up to two passages of the body (its first part) where the query matched."""
    text = hit.get("body", "")[:HIGHLIGHT_CHARS]
    passage = hit.highlights("body", text=text, top=2)
    if not passage:
        passage = hit.highlights("summary", top=1)
    return [passage] if passage else []


def run_search(
    index: Index,
    *,
    q: str = "",
    filters: Mapping[str, Sequence[str]] | None = None,
    visibility: Visibility | None = None,
    sort: str = "relevance",
    page: int = 1,
    per_page: int = 20,
    facets: bool = False,
    highlights: bool = False,
    thesaurus: Thesaurus | None = None,
    facet_table: FacetTable | None = None,
    docsets: DocSets | None = None,
) -> SearchPage:
    """Search entries: all terms first; when nothing matches, any term."""
    filters = {key: list(values) for key, values in (filters or {}).items() if values}
    text, truncated = clean_query(q or "")
    visible = visibility_filter(visibility or Visibility())
    docsets = docsets or DocSets()
    sortedby, reverse = None, False
    if sort == "newest" or (sort == "relevance" and not text):
        sortedby, reverse = "updated", True
    elif sort == "verified":
        sortedby, reverse = "verified", True
    with index.searcher() as searcher:
        # Whoosh ignores an empty filter set; a document number that cannot exist keeps it strict.
        allowed = allowed_docs(searcher, docsets, visible, filters) or {-1}
        match, suggestion = "all", None
        query = parse(index, text) if text else Every()
        if text:
            query, suggestion = correct(index, searcher, text, query)
            query = expand_synonyms(query, thesaurus or {})

        def run(query: Query) -> object:
            return searcher.search_page(
                query,
                page,
                pagelen=per_page,
                filter=allowed,
                sortedby=sortedby,
                reverse=reverse,
            )

        results = run(query)
        if text and results.total == 0:
            fallback = parse(index, text, ANY_GROUP)
            fallback, _ = correct(index, searcher, text, fallback)
            fallback = expand_synonyms(fallback, thesaurus or {})
            any_results = run(fallback)
            if any_results.total:
                match, query, results = "any", fallback, any_results
        if highlights:
            results.results.fragmenter = highlight.ContextFragmenter(maxchars=240, surround=60)
            results.results.formatter = highlight.HtmlFormatter(tagname="mark", between=" … ")
        hits = list(results)
        return SearchPage(
            query=text,
            ids=[hit["id"] for hit in hits],
            total=results.total,
            page=results.pagenum,
            per_page=per_page,
            sort=sort,
            match=match,
            truncated=truncated,
            suggestion=suggestion,
            corrected=suggestion is not None,
            scores={hit["id"]: float(hit.score or 0.0) for hit in hits},
            highlights={hit["id"]: _highlights(hit) for hit in hits} if highlights else {},
            facets=_facets(
                searcher, query, visible, filters, facet_table or new_facet_table(), docsets
            )
            if facets
            else None,
        )


def related(index: Index, entry_id: int, visibility: Visibility, limit: int = 5) -> list[int]:
    """Entries most like this one (by the words of its title, summary and body)."""
    with index.searcher() as searcher:
        docnum = searcher.document_number(key=f"entry:{entry_id}")
        if docnum is None:
            return []
        hits = searcher.more_like(
            docnum, "body", top=limit, numterms=25, filter=visibility_filter(visibility)
        )
        return [hit["id"] for hit in hits]
