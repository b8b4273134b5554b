"""Markdown to safe HTML: markdown-it-py without raw HTML, then sanitised by nh3."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from collections.abc import Sequence
from html import unescape

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "s",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "img",
    "abbr",
    "var",
    "mark",
    "span",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
    "abbr": {"title"},
    "mark": {"title"},
}
#: Classes only annotators produce (Markdown itself cannot set a class).
ALLOWED_CLASSES = {
    "a": {"term"},
    "var": {"placeholder"},
    "mark": {"ph", "ph-filled", "ph-missing"},
    "span": {"visually-hidden"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}

#: An annotator gets a run of plain text and returns it in pieces: ``str`` pieces stay text
#: (escaped when rendered), ``Markup`` pieces are trusted HTML (still sanitised afterwards).
Annotator = Callable[[str], list[str]]


def render_markdown(text: str | None, annotators: Sequence[Annotator] = ()) -> Markup:
    """Render Markdown and sanitise the HTML: no script, event handler or ``javascript:`` URL.

    ``annotators`` mark up runs of plain text (not link text, not code): glossary terms,
    placeholders.
    """
    tokens = _md.parse(text or "")
    if annotators:
        for token in tokens:
            if token.type == "inline" and token.children:
                token.children = _annotate(token.children, annotators)
    html = _md.renderer.render(tokens, _md.options, {})
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer",
        filter_style_properties={"text-align"},
    )
    return Markup(clean)


def _annotate(children: list[Token], annotators: Sequence[Annotator]) -> list[Token]:
    """Run the annotators over the text tokens outside links; trusted pieces become raw HTML."""
    out: list[Token] = []
    in_link = 0
    for child in children:
        in_link += {"link_open": 1, "link_close": -1}.get(child.type, 0)
        if child.type != "text" or in_link:
            out.append(child)
            continue
        pieces: list[str] = [child.content]
        for annotate in annotators:
            pieces = [
                part
                for piece in pieces
                for part in ([piece] if isinstance(piece, Markup) else annotate(piece))
            ]
        for piece in pieces:
            if isinstance(piece, Markup):
                out.append(Token("html_inline", "", 0, content=str(piece)))
            elif piece:
                out.append(Token("text", "", 0, content=piece))
    return out


def markdown_to_text(text: str | None) -> str:
    """The plain text of a Markdown document (for search snippets): no markup, no HTML."""
    text = text or ""
    if _is_plain_prose(text):
        return _plain_prose_text(text)
    html = _md.render(text)
    return unescape(nh3.clean(html, tags=set())).strip()


# Plain prose, the common case of an entry's text, needs no Markdown parser (most of the cost
# of indexing an entry's text): ASCII letters, digits, spaces, newlines and punctuation that
# is never markup, with ``_`` only inside a word (where it can neither open nor close an
# emphasis). Lines start with a letter or ``{`` (no block syntax: heading, list, quote, code,
# table, rule) and never end with a space (no hard line break). Such a text is paragraphs of
# plain text, whose text is its non-blank lines; ``tests/test_markdown.py`` checks that this
# gives what the parser gives, on the bench corpus and on generated texts.
_PROSE_CHARS = re.compile(r"[A-Za-z0-9 \n,.;:?!'\"()/%$@{}_-]*")
_LOOSE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_LINE_STARTS = frozenset(string.ascii_letters + "{")


def _is_plain_prose(text: str) -> bool:
    """Whether ``text`` is plain prose as described above (Markdown would change nothing)."""
    if _PROSE_CHARS.fullmatch(text) is None:
        return False
    if "_" in text and _LOOSE_UNDERSCORE.search(text) is not None:
        return False
    lines = (line for line in text.split("\n") if line)
    return all(line[0] in _LINE_STARTS and line[-1] != " " for line in lines)


def _plain_prose_text(text: str) -> str:
    """What ``markdown_to_text`` gives for plain prose: its non-blank lines."""
    return "\n".join(line for line in text.split("\n") if line)
