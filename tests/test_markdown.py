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
