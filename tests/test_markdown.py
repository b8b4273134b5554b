"""Markdown is rendered and sanitised: nothing executable survives."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from kb.markdown import render_markdown

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "![img](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src='https://evil.example'></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<svg onload="alert(1)"></svg>',
    "<a href='#' onclick='alert(1)'>x</a>",
]


class _Elements(HTMLParser):
    """Collects the real elements and attributes of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {name: value or "" for name, value in attrs}))


def _elements(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.elements


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_markdown_is_neutralised(text):
    for tag, attrs in _elements(str(render_markdown(text))):
        assert tag not in {"script", "iframe", "svg", "object", "embed", "style"}
        assert not [name for name in attrs if name.startswith("on")]
        for name in ("href", "src"):
            value = attrs.get(name, "").strip().lower()
            assert not value.startswith(("javascript:", "data:", "vbscript:")), (tag, attrs)


def test_the_parser_sees_real_attributes():
    """Does the checker above catch an event handler when one is really there?"""
    assert _elements('<img src="x" onerror="y">') == [("img", {"src": "x", "onerror": "y"})]


def test_markdown_features_render():
    html = str(
        render_markdown(
            "# Title\n\n**bold** ~~old~~\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[site](https://example.gov)"
        )
    )
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert "<s>old</s>" in html
    assert "<table>" in html and "<td>1</td>" in html
    assert '<a href="https://example.gov" rel="noopener noreferrer">site</a>' in html


def test_raw_html_is_shown_as_text():
    assert str(render_markdown("<b>hi</b>")) == "<p>&lt;b&gt;hi&lt;/b&gt;</p>\n"


def _parsed_text(text: str) -> str:
    """``markdown_to_text`` without its plain-prose shortcut: parse, render, strip the tags."""
    from html import unescape

    import nh3

    from kb.markdown import _md

    return unescape(nh3.clean(_md.render(text), tags=set())).strip()


def _seed_and_corpus_texts() -> list[str]:
    """Entry texts as they come: the guidebook lessons, the demo clauses, the bench corpus."""
    from bench.corpus import generate
    from kb.seed import load_data

    def texts(value: object) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [text for item in value.values() for text in texts(item)]
        if isinstance(value, list):
            return [text for item in value for text in texts(item)]
        return []

    found = texts(load_data("lessons")) + texts(load_data("demo"))
    for record in generate(300, seed=42):
        found += [record.get(name) or "" for name in ("body", "benefit", "context", "usage_notes")]
    return found


def test_plain_prose_is_converted_as_the_parser_would():
    """The shortcut for plain prose gives exactly what parsing gives, and is taken often."""
    from kb.markdown import _is_plain_prose
    from kb.markdown import markdown_to_text

    texts = _seed_and_corpus_texts()
    for text in texts:
        assert markdown_to_text(text) == _parsed_text(text), text
    assert sum(_is_plain_prose(text) for text in texts) > len(texts) / 2


def test_generated_near_prose_is_converted_as_the_parser_would():
    """Prose with, now and then, a piece on the edge of the shortcut's rules (line starts,
    trailing spaces, ``_`` and ``*``, entities, blank lines, tabs, non-ASCII spaces)."""
    import random

    from kb.markdown import _is_plain_prose
    from kb.markdown import markdown_to_text

    prose = [
        "data", "Review", "plan", "a_b", "x2_y", "{{ data_provider }}", "{", "}", "(x)", "45",
        "164.514", "e@x.example", "http://x.example", "'", '"', ".", ",", ";", ":", "?", "!",
        "%", "$", "/", "-", " - ", " ", " ", " ", "  ", "\n", "\n", "\n\n", "\n\n\n",
    ]  # fmt: skip
    edges = [
        "_", "_x", "x_", "__", "*", "**", "- ", "-", "+ ", "1. ", "2) ", "#", "# ", "> ", "`",
        "[", "]", "](y)", "&amp;", "&", "<b>", "\\", "~~", "|", "---", "===", "=", " \n",
        "  \n", "\n ", "\n    ", "\t", "\n\t", "\u00a0", "é", "\u3000", "\r\n", "\r",
        "*a*", "**a**", "a*b*c", "_a_", " _a_ ", "a__b__c", "x_y_", "`a`", "~~a~~",
    ]  # fmt: skip
    rng = random.Random(42)
    plain = 0
    for _ in range(4000):
        parts = [rng.choice(prose) for _ in range(rng.randint(0, 16))]
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            parts.insert(rng.randint(0, len(parts)), rng.choice(edges))
        text = rng.choice(["Data ", "plan", "{{ x }}", ""]) + "".join(parts)
        plain += _is_plain_prose(text)
        assert markdown_to_text(text) == _parsed_text(text), repr(text)
    assert plain > 500, plain
