"""Turning a user's query and filters into ranked entry ids, facet counts and highlights.

Query language: plain words (all must match; when nothing matches, any may), ``"phrases"``,
``-exclusion``, ``OR``, ``prefix*``, field prefixes (``kind:`` ``category:`` ``play:``
``type:`` ``program:`` ``tag:``), and typo tolerance: a word that appears nowhere in the
index is replaced by its closest indexed word, and the response suggests the corrected query.
Words also match their synonyms (``thesaurus``) and agent nouns; nearby query words earn a
proximity bonus; the scoring itself lives in ``scoring``.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field

from whoosh import qparser
from whoosh.index import Index
from whoosh.query import And
from whoosh.query import AndMaybe
from whoosh.query import AndNot
from whoosh.query import DisjunctionMax
from whoosh.query import Every
from whoosh.query import Not
from whoosh.query import NullQuery
from whoosh.query import Or
from whoosh.query import Phrase
from whoosh.query import Query
from whoosh.query import SpanNear2
from whoosh.query import Term
from whoosh.searching import Searcher

from kb.search import blocks
from kb.search.facets import DocSets
from kb.search.facets import FacetTable
from kb.search.facets import count as facet_count
from kb.search.passages import passages
from kb.search.scoring import CoverageOr
from kb.search.scoring import Scaled
from kb.search.scoring import open_searcher
from kb.search.thesaurus import Thesaurus

MAX_QUERY_CHARS = 256
MAX_QUERY_TERMS = 16
#: The field plain words are searched in (every text field, weighted: see ``schema``).
TEXT = "text"
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
#: A synonym's match counts a little less than the word typed.
SYNONYM_BOOST = 0.7
#: The words of a glossary definition, together, count this much of the term they explain.
MEANING_BOOST = 0.5
#: The suffix of agent nouns the stemmer leaves on short words ("own" → "owner").
AGENT_SUFFIX = "er"
#: Proximity: two query words (at most ``NEAR_WINDOW`` apart in the query) found within
#: ``NEAR_SLOP`` positions of each other, in either order, add this share of their score.
NEAR_BOOST = 0.5
NEAR_WINDOW = 2
NEAR_SLOP = 3
NEAR_MAX_DOCS = 500
#: "Any word" matching (the words' query is then a ``CoverageOr``: more words rank higher).
ANY_GROUP = qparser.OrGroup
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
    #: Glossary terms no entry uses, searched by the words of their definitions.
    explained: tuple[str, ...] = ()
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
    parser = qparser.QueryParser(TEXT, index.schema, group=group)
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
    return bool(searcher.reader().doc_frequency(TEXT, stem))


def correct(
    index: Index,
    searcher: Searcher,
    text: str,
    query: Query,
    thesaurus: Thesaurus | None = None,
) -> tuple[Query, str | None]:
    """Replace words found nowhere in the index by their closest indexed word.

    A word the thesaurus knows (an acronym no entry spells out that way) is no typo.
    Returns the corrected query and the corrected query text (``None`` when nothing changed).
    """
    analyzer = index.schema[TEXT].analyzer
    thesaurus = thesaurus or Thesaurus()
    searched = {text for name, text in query.iter_all_terms() if name == TEXT}
    corrector = searcher.corrector("words")
    suggestion = text
    for word in dict.fromkeys(_WORD.findall(text)):
        stems = [token.text for token in analyzer(word)]
        if len(stems) != 1 or stems[0] not in searched or _known(searcher, stems[0]):
            continue
        if thesaurus.knows(stems[0]):
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
        query = query.replace(TEXT, stems[0], fixed)
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


def _plain_word(node: Query) -> str | None:
    """The stem of a plain query word (a word of the text field, not boosted), else ``None``."""
    if type(node) is Term and node.fieldname == TEXT and node.boost == 1.0:
        return node.text
    return None


def _synonym_query(stems: tuple[str, ...], typed: int) -> Query:
    """A synonym standing in for ``typed`` words. Whoosh scores a phrase as the sum of its
    words, so the boost is scaled by ``typed / len(stems)``: "center for data insights and
    innovation" weighs as much as the one word "CDII" it stands for (times SYNONYM_BOOST)."""
    boost = SYNONYM_BOOST * typed / len(stems)
    if len(stems) == 1:
        return Term(TEXT, stems[0], boost=boost)
    return Phrase(TEXT, list(stems), boost=boost)


def _meaning_query(stems: tuple[str, ...], typed: int) -> Query:
    """What the glossary says a term means, for a term no entry uses: any of its definition's
    words, the whole weighing as much as the ``typed`` words it stands for (times
    MEANING_BOOST) when an entry has every one of them."""
    boost = MEANING_BOOST * typed / len(stems)
    return Or([Term(TEXT, stem, boost=boost) for stem in stems])


def _with_children(node: Query, children: list[Query]) -> Query:
    """A copy of a compound query with new children (keeping settings such as ``scale``)."""
    if len(children) == 1 and isinstance(node, And):
        return children[0]
    fresh = copy.copy(node)
    fresh.subqueries = children
    return fresh


class _Expander:
    """Adds synonyms (thesaurus groups) and agent nouns to the words of a query."""

    def __init__(
        self,
        thesaurus: Thesaurus,
        known: Callable[[str], bool],
        telling: Callable[[str], bool],
        used: Callable[[tuple[str, ...]], bool],
    ) -> None:
        self.thesaurus = thesaurus
        self.known = known
        self.telling = telling
        self.used = used
        #: The glossary terms searched by their definitions, as the glossary spells them.
        self.explained: list[str] = []

    def alternatives(self, stem: str) -> list[Query]:
        """The agent noun of a word, when entries use it: "owns" also finds "owner".

        The stemmer keeps "-er" on short words ("owner", "user", "leader"), so without this
        "who owns the data" would not find "the data's owners".
        """
        noun = f"{stem}{AGENT_SUFFIX}"
        return [Term(TEXT, noun, boost=SYNONYM_BOOST)] if self.known(noun) else []

    def run(self, children: list[Query], joiner: type) -> list[Query]:
        """Replace each run of sibling words that spells a thesaurus member by the member OR
        its synonyms (the longest member wins: "protected health information" before
        "health"); other words get their agent noun."""
        stems = [_plain_word(child) for child in children]
        out: list[Query] = []
        i = 0
        while i < len(children):
            run = []
            for stem in stems[i:]:
                if stem is None:
                    break
                run.append(stem)
            length = self.thesaurus.match(run) if run else 0
            if not length:
                child, stem = children[i], stems[i]
                if stem is None:
                    out.append(self.expand(child))
                else:
                    extra = self.alternatives(stem)
                    out.append(Or([child, *extra]) if extra else child)
                i += 1
                continue
            member = tuple(run[:length])
            if length == 1:
                typed = children[i]
            elif joiner is And:
                typed = And(children[i : i + length])
            else:
                # "Any word" matching: the words of a known term count only together, so one
                # common word of "public data" does not pass for the term.
                typed = Phrase(TEXT, list(member), slop=NEAR_SLOP)
            synonyms = self.thesaurus.others.get(member, ())
            others = [_synonym_query(other, length) for other in synonyms]
            meaning = self.meaning(member, synonyms, length)
            if meaning is not None:
                others.append(meaning)
            out.append(Or([typed, *others]) if others else typed)
            i += length
        return out

    def meaning(
        self, member: tuple[str, ...], synonyms: Sequence[tuple[str, ...]], typed: int
    ) -> Query | None:
        """The definition's words of a glossary term no entry uses in any form (``None`` for
        a term entries use, or one without telling words); the term is noted in
        ``explained``."""
        term, words = self.thesaurus.meanings.get(member, ("", ()))
        if not words or any(map(self.used, (member, *synonyms))):
            return None
        words = tuple(filter(self.telling, words))
        if not words:
            return None
        if term not in self.explained:
            self.explained.append(term)
        return _meaning_query(words, typed)

    def expand(self, query: Query) -> Query:
        if isinstance(query, (And, Or)) and not isinstance(query, DisjunctionMax):
            joiner = And if isinstance(query, And) else Or
            return _with_children(query, self.run(list(query.subqueries), joiner))
        if isinstance(query, AndNot):
            return AndNot(self.expand(query.a), query.b)
        if _plain_word(query) is not None:
            [expanded] = self.run([query], And)
            return expanded
        if isinstance(query, Phrase) and query.fieldname == TEXT:
            others = self.thesaurus.others.get(tuple(query.words), ())
            if others:
                typed = len(query.words)
                return Or([query] + [_synonym_query(other, typed) for other in others])
        return query


def expand_synonyms(
    query: Query,
    thesaurus: Thesaurus,
    known: Callable[[str], bool] | None = None,
    telling: Callable[[str], bool] | None = None,
    used: Callable[[tuple[str, ...]], bool] | None = None,
) -> tuple[Query, list[str]]:
    """Let words (and runs of words) also match their synonyms and agent nouns, weighted a
    little lower (``known`` says whether the index has a word). A glossary term that no
    entry uses in any of its forms (``used`` says whether an entry has a word or phrase) also
    matches the words of its definition that ``telling`` accepts; those terms are returned
    with the query. Excluded words stay exactly as typed."""
    known = known or (lambda stem: False)
    expander = _Expander(
        thesaurus,
        known,
        telling or (lambda stem: True),
        used or (lambda stems: all(map(known, stems))),
    )
    return expander.expand(query), expander.explained


def proximity(query: Query, frequency: Callable[[str], int] | None = None) -> Query | None:
    """Optional matches rewarding query words found near each other (in either order).

    Pairs of plain words at most ``NEAR_WINDOW`` apart in the query must be found at most
    ``NEAR_SLOP`` positions apart, so "product owner" ranks an entry saying "product owner"
    over one that says "owner" here and "product" there. Reading positions is the costly part
    of a search: a pair whose rarer word is in more than ``NEAR_MAX_DOCS`` entries
    (``frequency`` tells) gets no bonus.
    """
    if isinstance(query, AndNot):
        query = query.a
    children = list(query.subqueries) if isinstance(query, (And, Or)) else [query]
    words = [stem for stem in map(_plain_word, children) if stem is not None]
    frequency = frequency or (lambda stem: 0)
    pairs = [
        SpanNear2([Term(TEXT, words[i]), Term(TEXT, words[j])], slop=NEAR_SLOP, ordered=False)
        for i in range(len(words))
        for j in range(i + 1, min(i + NEAR_WINDOW, len(words) - 1) + 1)
        if words[i] != words[j] and min(frequency(words[i]), frequency(words[j])) <= NEAR_MAX_DOCS
    ]
    if not pairs:
        return None
    return Scaled(pairs[0] if len(pairs) == 1 else Or(pairs), NEAR_BOOST)


def _ranked(query: Query, near: Query | None) -> Query:
    """Add the proximity bonus; a top-level "any of these words" query also ranks by how many
    of them a document has (the bonus scaled with the rest)."""
    if isinstance(query, AndNot):
        return AndNot(_ranked(query.a, near), query.b)
    if type(query) is Or:
        return CoverageOr(query.subqueries, boost=query.boost, bonus=near)
    return query if near is None else AndMaybe(query, near)


def build_query(index: Index, text: str, group: type, thesaurus: Thesaurus, searcher: Searcher):
    """Parse, correct typos, add synonyms and the proximity bonus; returns (query, suggestion,
    the glossary terms searched by their definitions)."""
    query = parse(index, text, group)
    query, suggestion = correct(index, searcher, text, query, thesaurus)
    reader = searcher.reader()
    half = reader.doc_count() / 2

    def known(stem: str) -> bool:
        return _known(searcher, stem)

    def used(stems: tuple[str, ...]) -> bool:
        if not all(map(known, stems)):
            return False
        return len(stems) == 1 or Phrase(TEXT, list(stems)).matcher(searcher).is_active()

    expanded, explained = expand_synonyms(
        query,
        thesaurus,
        known,
        # A definition's word found in most entries says nothing about which one is meant.
        lambda stem: 0 < reader.doc_frequency(TEXT, stem) <= half,
        used,
    )
    near = proximity(query, lambda stem: searcher.reader().doc_frequency(TEXT, stem))
    return _ranked(expanded, near), suggestion, explained


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
    matched: Sequence[int],
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
    hits = set(matched)
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


def _highlight_terms(searcher: Searcher, query: Query) -> frozenset[str]:
    """The stems the query searched for (prefixes expanded), to mark in passages."""
    return frozenset(
        text.decode() if isinstance(text, bytes) else text
        for name, text in query.existing_terms(searcher.reader(), phrases=True, expand=True)
        if name == TEXT
    )


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
    thesaurus = thesaurus or Thesaurus()
    sortedby, reverse = None, False
    if sort == "newest" or (sort == "relevance" and not text):
        sortedby, reverse = "updated", True
    elif sort == "verified":
        sortedby, reverse = "verified", True
    with open_searcher(index, docsets) as searcher:
        # Whoosh ignores an empty filter set; a document number that cannot exist keeps it strict.
        allowed = allowed_docs(searcher, docsets, visible, filters) or {-1}
        match, suggestion, explained = "all", None, []
        query: Query = Every()
        if text:
            query, suggestion, explained = build_query(
                index, text, qparser.AndGroup, thesaurus, searcher
            )

        def run(query: Query) -> tuple[blocks.Page, list[int]]:
            return blocks.search(
                searcher, query, page, per_page, allowed, sortedby=sortedby, reverse=reverse
            )

        results, matched = run(query)
        if text and results.total == 0:
            fallback, _, any_explained = build_query(index, text, ANY_GROUP, thesaurus, searcher)
            any_results, any_matched = run(fallback)
            if any_results.total:
                match, query, results, matched = "any", fallback, any_results, any_matched
                explained = any_explained
        hits = list(results)
        terms = _highlight_terms(searcher, query) if highlights and text else frozenset()
        return SearchPage(
            query=text,
            ids=[hit["id"] for hit in hits],
            total=results.total,
            page=max(1, results.pagenum),
            per_page=per_page,
            sort=sort,
            match=match,
            truncated=truncated,
            suggestion=suggestion,
            corrected=suggestion is not None,
            explained=tuple(explained) if results.total else (),
            scores={hit["id"]: float(hit.score or 0.0) for hit in hits},
            highlights={hit["id"]: passages(hit.fields(), terms) for hit in hits}
            if highlights
            else {},
            facets=_facets(
                searcher, matched, visible, filters, facet_table or new_facet_table(), docsets
            )
            if facets
            else None,
        )


def related(
    index: Index,
    entry_id: int,
    visibility: Visibility,
    limit: int = 5,
    docsets: DocSets | None = None,
) -> list[int]:
    """Entries most like this one (by the words of its title, summary and body)."""
    with open_searcher(index, docsets or DocSets()) as searcher:
        docnum = searcher.document_number(key=f"entry:{entry_id}")
        if docnum is None:
            return []
        stored = searcher.stored_fields(docnum)
        text = "\n".join(stored.get(name) or "" for name in ("title", "summary", "body"))
        hits = searcher.more_like(
            docnum, TEXT, text=text, top=limit, numterms=25, filter=visibility_filter(visibility)
        )
        return [hit["id"] for hit in hits]


#: A draft must share at least this many of its key words with an entry to call it similar.
MIN_SHARED_TERMS = 2


def similar_to_text(
    index: Index,
    text: str,
    visibility: Visibility,
    limit: int = 5,
    docsets: DocSets | None = None,
    exclude_id: int | None = None,
) -> list[int]:
    """Entries that look like ``text`` — a draft not in the index yet ("more like this").

    The draft's most telling words (by how much more often it uses them than the index does)
    are searched for; an entry must share at least two of them, so one common word does not
    make two entries alike.
    """
    with open_searcher(index, docsets or DocSets()) as searcher:
        terms = searcher.key_terms_from_text(TEXT, text, numterms=25)
        if not terms:
            return []
        query = Or([Term(TEXT, word, boost=weight) for word, weight in terms])
        mask = Term("key", f"entry:{exclude_id}") if exclude_id is not None else None
        hits = searcher.search(
            query, limit=limit * 4, filter=visibility_filter(visibility), mask=mask, terms=True
        )
        needed = min(MIN_SHARED_TERMS, len(terms))
        shared = [hit["id"] for hit in hits if len(hit.matched_terms()) >= needed]
        return shared[:limit]
