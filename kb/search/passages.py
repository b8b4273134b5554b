"""The passages shown under a search result, with the searched words marked.

Whoosh's ``highlight`` runs the whole analyzer chain (tokenizer, lower case, stop words,
stemmer: a generator and a token update per step) over the text of every result shown, which
cost about 4 ms per result, most of a search's time once scoring got fast. Here the words come
from one scan with the same regular expression, each distinct word is lower-cased, checked
against the stop words and stemmed once (then remembered), and Whoosh's own fragmenter,
fragment scorer and HTML formatter make the passages from those tokens. The output is exactly
what ``highlight`` with the index's word analyzer gives (``tests/test_search_blocks.py``
compares them).
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Set

from whoosh import highlight
from whoosh.analysis.tokenizers import default_pattern

from kb.search.schema import STOP_WORDS
from kb.search.schema import stem

#: Only this much of each body is searched for passages.
HIGHLIGHT_CHARS = 4000
#: Words shorter than this are stop words to the word analyzer (StemmingAnalyzer's minsize).
MIN_WORD = 2
#: Distinct words remembered with their stems (the memory is emptied when it is full).
KEEP_WORDS = 100_000

_stems: dict[str, str] = {}


def word_key(word: str) -> str:
    """What the word analyzer makes of one lower-case word: a stop word stays as it is
    (marked, not removed, when highlighting), any other word is stemmed."""
    found = _stems.get(word)
    if found is None:
        found = word if len(word) < MIN_WORD or word in STOP_WORDS else stem(word)
        if len(_stems) >= KEEP_WORDS:
            _stems.clear()
        _stems[word] = found
    return found


class Token:
    """The parts of a Whoosh token that the fragmenter, scorer and formatter read."""

    __slots__ = ("text", "startchar", "endchar", "matched", "boost")

    def __init__(self, text: str, startchar: int, endchar: int, matched: bool) -> None:
        self.text = text
        self.startchar = startchar
        self.endchar = endchar
        self.matched = matched
        self.boost = 1.0

    def copy(self) -> Token:
        return Token(self.text, self.startchar, self.endchar, self.matched)


def tokens(text: str, terms: Set[str]) -> Iterator[Token]:
    """The text's words as the word analyzer sees them, each marked when it is a term.

    Like Whoosh's tokenizers, one token object is updated and yielded again for every word
    (the fragmenter copies the ones it keeps)."""
    token = Token("", 0, 0, False)
    stems = _stems
    for match in default_pattern.finditer(text):
        word = match.group().lower()
        key = stems.get(word) or word_key(word)
        token.text = key
        token.startchar, token.endchar = match.span()
        token.matched = key in terms
        yield token


def passage(text: str, terms: Set[str], top: int) -> str:
    """Up to ``top`` fragments of ``text`` around the terms, as escaped HTML with ``<mark>``
    (empty when no term is in the text)."""
    fragmenter = highlight.ContextFragmenter(maxchars=240, surround=60)
    formatter = highlight.HtmlFormatter(tagname="mark", between=" … ")
    fragments = fragmenter.fragment_tokens(text, tokens(text, terms))
    best = highlight.top_fragments(fragments, top, highlight.BasicFragmentScorer(), highlight.FIRST)
    return formatter(text, best)


def passages(stored: Mapping[str, str], terms: Set[str]) -> list[str]:
    """Up to two passages of the body (its first part) where the query matched, else the
    summary's; HTML with everything escaped except ``<mark>``."""
    for name, top in (("body", 2), ("summary", 1)):
        text = (stored.get(name) or "")[:HIGHLIGHT_CHARS]
        if text:
            found = passage(text, terms, top)
            if found:
                return [found]
    return []
