"""Markdown to safe HTML: markdown-it-py without raw HTML, then sanitised by nh3."""

from __future__ import annotations

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
    html = _md.render(text or "")
    return unescape(nh3.clean(html, tags=set())).strip()
