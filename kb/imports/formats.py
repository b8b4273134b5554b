"""Reading import files: format detection, text decoding, JSON and JSON Lines.

Every reader returns ``(records, problems)``: records numbered by the line they start on, and
per-line problems (a record that cannot even be read). CSV and the guidebook's Markdown-table
page have their own modules; ``read_records`` picks the reader.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from kb.imports.services import Problem
from kb.imports.services import read_jsonl

FORMATS = ("json", "jsonl", "csv", "md")
EXTENSIONS = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".md": "md",
    ".markdown": "md",
}
LABELS = {
    "json": "JSON (an array of records)",
    "jsonl": "JSON Lines (one record per line)",
    "csv": "CSV (a header row, then one record per row)",
    "md": "Markdown table page (lesson | benefit rows under category headings)",
}
Records = list[tuple[int, dict[str, Any]]]
_SPACE = re.compile(r"\s*")


def format_for(filename: str) -> str | None:
    """The format a file name's extension says, or ``None``."""
    return EXTENSIONS.get(PurePath(filename).suffix.lower())


def decode_text(data: bytes) -> str:
    """Bytes to text: UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order mark,
    else Windows-1252 (what spreadsheets on Windows save as "CSV"); never fails.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:  # the five bytes Windows-1252 leaves undefined
        return data.decode("latin-1")


def read_json(text: str) -> tuple[Records, list[Problem]]:
    """A JSON array of records, or an object whose ``entries`` member is that array."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [Problem(exc.lineno, {"file": f"not valid JSON ({exc.msg})"})]
    if isinstance(data, dict) and isinstance(data.get("entries"), list):
        items = data["entries"]
    elif isinstance(data, list):
        items = data
    else:
        message = 'must be an array of records, or an object with an "entries" array'
        return [], [Problem(1, {"file": message})]
    lines = _item_lines(text)
    if len(lines) != len(items):  # pragma: no cover - json.loads accepted it, so we agree
        lines = list(range(1, len(items) + 1))
    records: Records = []
    problems = []
    for line, item in zip(lines, items, strict=True):
        if isinstance(item, dict):
            records.append((line, item))
        else:
            problems.append(Problem(line, {"record": "must be a JSON object"}))
    return records, problems


def _item_lines(text: str) -> list[int]:
    """The line each item of the top-level array starts on (the text is valid JSON)."""
    decoder = json.JSONDecoder()
    pos = _SPACE.match(text, 0).end()  # type: ignore[union-attr]
    if text.startswith("{", pos):
        found = _member(text, pos, "entries", decoder)
        if found is None:
            return []
        pos = found
    if not text.startswith("[", pos):
        return []
    pos, line, counted, lines = pos + 1, 1, 0, []
    while True:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if text.startswith("]", pos):
            return lines
        line += text.count("\n", counted, pos)
        counted = pos
        lines.append(line)
        _, pos = decoder.raw_decode(text, pos)
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if text.startswith(",", pos):
            pos += 1


def _member(text: str, pos: int, key: str, decoder: json.JSONDecoder) -> int | None:
    """Where the value of the object member ``key`` starts (the object starts at ``pos``)."""
    pos += 1
    while True:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if not text.startswith('"', pos):
            return None
        name, pos = decoder.raw_decode(text, pos)
        pos = _SPACE.match(text, pos).end() + 1  # type: ignore[union-attr]  # past ':'
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if name == key:
            return pos
        _, pos = decoder.raw_decode(text, pos)
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if text.startswith(",", pos):
            pos += 1


def read_records(
    data: bytes,
    fmt: str,
    *,
    lookups: Mapping[str, Any] | None = None,
    mapping: Mapping[int, str | None] | None = None,
) -> tuple[Records, list[Problem]]:
    """Read a file's records in format ``fmt``.

    :param lookups: the taxonomy (``taxonomy_lookups``); the Markdown page needs it to map
        headings to categories.
    :param mapping: CSV only: column index → field name, or ``None`` to ignore the column.
    """
    from kb.imports.csv_format import read_csv
    from kb.imports.markdown_table import read_markdown_table

    text = decode_text(data)
    if fmt == "json":
        return read_json(text)
    if fmt == "jsonl":
        return read_jsonl(io.StringIO(text))
    if fmt == "csv":
        return read_csv(text, mapping=mapping)
    if fmt == "md":
        return read_markdown_table(text, lookups or {})
    raise ValueError(f"unknown format {fmt!r}")
