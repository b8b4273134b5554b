"""The guidebook's lessons-learned page format: Markdown tables under category headings.

The rules (docs/import-export.md says the same for users):

- **Categories.** Each table belongs to the nearest heading above it that names a category
  (case-insensitive, by name or slug; "BUCP Process Improvement: Lessons Learned" matches by the
  text before the colon, and a trailing "Lessons Learned" is ignored). A table under headings
  that name no category is refused row by row, naming the heading.
- **Rows.** Every body row of a table is one lesson: the first cell is the lesson (the entry's
  body), the second the benefit; further cells are read only for play references. The header
  and delimiter rows are skipped. Tables inside code fences are not read.
- **HTML in cells** becomes Markdown: ``<br>`` a line break (two in a row a new paragraph),
  ``<p>`` paragraphs, ``<ul>``/``<ol>`` with ``<li>`` list items, ``<strong>``/``<b>`` bold,
  ``<em>``/``<i>`` italics, ``<code>`` code, ``<a href>`` a link (http, https and mailto
  addresses only; other links keep their text). Other tags are dropped, their text kept.
- **Title**: the first sentence of the lesson's first line or paragraph, as plain text, without
  its final full stop; longer than 200 characters, it is cut at the last word boundary that
  fits and ends with "…".
- **Plays**: every "Play N" anywhere in the row (case-insensitive).
- **Identity**: a row's ``uid`` is derived from its category and normalised title, so importing
  the same page again matches the entries it made (unchanged rows are left alone).
- **Front matter** (``---`` lines at the top, YAML): ``status``, ``source``, ``program`` and
  ``tags`` apply to every row; other keys (``icon`` …) are ignored. Without a status, lessons
  are imported as drafts.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

import yaml

from kb.imports.duplicates import normalise_title
from kb.imports.services import Problem

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "bucp-kb:markdown-table-import")
FRONT_MATTER_KEYS = ("status", "source", "program", "tags")
TITLE_LIMIT = 200
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_DELIMITER_ROW = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_PLAY = re.compile(r"\bplay\s+(\d+)\b", re.IGNORECASE)
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_LESSONS_LEARNED = re.compile(r"\s*lessons?\s+learned\s*$", re.IGNORECASE)
_SAFE_HREF = re.compile(r"^(https?:|mailto:)", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_ABBREVIATIONS = {"e.g", "i.e", "etc", "vs", "u.s", "no", "approx", "dept", "st", "mr", "ms", "dr"}
_INLINE_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MARKERS = re.compile(r"(\*\*|__|\*|`)")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+")


class _HtmlToMarkdown(HTMLParser):
    """Turn the small HTML vocabulary of table cells into Markdown."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.lists: list[list[Any]] = []  # [tag, next number]
        self.links: list[tuple[int, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.out.append("\n")
        elif tag == "p":
            self.out.append("\n\n")
        elif tag in ("ul", "ol"):
            self.lists.append([tag, 1])
            self.out.append("\n")
        elif tag == "li":
            self._list_item()
        elif tag in ("strong", "b"):
            self.out.append("**")
        elif tag in ("em", "i"):
            self.out.append("*")
        elif tag == "code":
            self.out.append("`")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self.links.append((len(self.out), href if _SAFE_HREF.match(href) else None))

    def _list_item(self) -> None:
        if not self.lists:
            self.out.append("\n- ")
            return
        kind = self.lists[-1]
        marker = f"{kind[1]}." if kind[0] == "ol" else "-"
        kind[1] += 1
        self.out.append("\n" + "  " * (len(self.lists) - 1) + marker + " ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self.out.append("\n\n")
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self.out.append("\n\n" if not self.lists else "\n")
        elif tag in ("strong", "b"):
            self.out.append("**")
        elif tag in ("em", "i"):
            self.out.append("*")
        elif tag == "code":
            self.out.append("`")
        elif tag == "a" and self.links:
            start, href = self.links.pop()
            text = "".join(self.out[start:]).strip()
            del self.out[start:]
            self.out.append(f"[{text}]({href})" if href and text else text)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br",):
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        self.out.append(re.sub(r"\s+", " ", data))


def html_to_markdown(html: str) -> str:
    """A table cell's HTML (and any Markdown already in it) as tidy Markdown."""
    parser = _HtmlToMarkdown()
    parser.feed(html)
    parser.close()
    text = "".join(parser.out)
    lines = [line.rstrip() for line in text.split("\n")]
    # Keep list indentation; strip the stray space a tag boundary leaves at a line's start.
    lines = [line if _LIST_MARKER.match(line) else line.lstrip() for line in lines]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def plain_text(markdown: str) -> str:
    """Markdown as plain text (links by their text; emphasis, code and list markers removed)."""
    text = _INLINE_LINK.sub(r"\1", markdown)
    text = _MARKERS.sub("", text)
    return "\n".join(_LIST_MARKER.sub("", line) for line in text.split("\n"))


def title_from(markdown: str) -> str:
    """The title rule: the first sentence of the first line, ≤ 200 characters (see the module)."""
    first = next((line.strip() for line in plain_text(markdown).split("\n") if line.strip()), "")
    sentence = first
    for match in _SENTENCE_END.finditer(first):
        word = first[: match.start()].rsplit(" ", 1)[-1].lower()
        if word in _ABBREVIATIONS or len(word) == 1:
            continue
        sentence = first[: match.end()]
        break
    sentence = " ".join(sentence.split())
    if sentence.endswith("."):
        sentence = sentence[:-1]
    if len(sentence) > TITLE_LIMIT:
        cut = sentence[: TITLE_LIMIT - 1]
        if " " in cut:
            cut = cut.rsplit(" ", 1)[0]
        sentence = cut.rstrip(" ,;:-–—") + "…"
    return sentence


def category_for(heading: str, categories: Mapping[str, str]) -> str | None:
    """The category slug a heading names, or ``None``."""
    for candidate in (heading, heading.split(":", 1)[0], _LESSONS_LEARNED.sub("", heading)):
        slug = categories.get(plain_text(candidate).strip().lower())
        if slug:
            return slug
    return None


def split_row(line: str) -> list[str]:
    """The cells of a table row (``\\|`` is a literal bar)."""
    text = line.strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(text)]


def _front_matter(lines: list[str]) -> tuple[dict[str, Any], int, list[Problem]]:
    """The page's front matter keys that apply to every row, and the line after it."""
    if not lines or lines[0].strip() != "---":
        return {}, 0, []
    for end in range(1, len(lines)):
        if lines[end].strip() == "---":
            break
    else:
        return {}, 0, []
    try:
        data = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError:
        return {}, end + 1, [Problem(1, {"front matter": "is not valid YAML"})]
    if not isinstance(data, dict):
        return {}, end + 1, []
    return {key: data[key] for key in FRONT_MATTER_KEYS if key in data}, end + 1, []


def _row_record(
    cells: list[str], category: str, defaults: Mapping[str, Any], categories: Mapping[str, str]
) -> dict[str, Any]:
    body = html_to_markdown(cells[0]) if cells else ""
    benefit = html_to_markdown(cells[1]) if len(cells) > 1 else ""
    title = title_from(body)
    plays = sorted({int(number) for number in _PLAY.findall(" ".join(cells))})
    slug = categories.get(category.lower(), category)
    record: dict[str, Any] = {
        "kind": "lesson",
        "title": title,
        "body": body,
        "benefit": benefit,
        "categories": [category] if category else [],
        "plays": plays,
        **defaults,
    }
    if title:
        record["uid"] = str(uuid.uuid5(NAMESPACE, f"{slug}\n{normalise_title(title)}"))
    return record


def read_markdown_table(
    text: str, lookups: Mapping[str, Any]
) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    """Lessons from a page of Markdown tables under category headings (see the module)."""
    categories: Mapping[str, str] = lookups.get("categories", {})
    lines = text.splitlines()
    defaults, start, problems = _front_matter(lines)
    headings: list[tuple[int, str]] = []  # (level, text), outermost first
    records: list[tuple[int, dict[str, Any]]] = []
    fenced = False
    number = start
    while number < len(lines):
        line = lines[number]
        number += 1
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        heading = _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            headings = [(lvl, txt) for lvl, txt in headings if lvl < level]
            headings.append((level, heading.group(2)))
            continue
        is_table = line.lstrip().startswith("|") and number < len(lines)
        if not (is_table and _DELIMITER_ROW.match(lines[number].strip())):
            continue
        category = _table_category(headings, categories)
        number += 1  # past the delimiter row
        while number < len(lines) and lines[number].lstrip().startswith("|"):
            cells = split_row(lines[number])
            number += 1
            if not any(cells):
                continue
            records.append((number, _row_record(cells, category, defaults, categories)))
    if not records and not problems:
        message = "has no table rows under a heading (see the Markdown table rules)"
        problems.append(Problem(1, {"file": message}))
    return records, problems


def _table_category(headings: list[tuple[int, str]], categories: Mapping[str, str]) -> str:
    """The nearest heading naming a category (its slug); else the nearest heading's text."""
    for _level, text in reversed(headings):
        slug = category_for(text, categories)
        if slug:
            return slug
    return plain_text(headings[-1][1]).strip() if headings else ""
