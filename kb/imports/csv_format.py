"""CSV records as departments export them from spreadsheets.

- Encoding: handled before this module (``formats.decode_text``: UTF-8 with or without a
  byte-order mark, else Windows-1252).
- Delimiter: whichever of ``;``, ``,`` and tab occurs most often in the header line (Excel in
  many European locales writes ``;``).
- The header row names the columns; each further row is one record, numbered by the line it
  starts on (a quoted cell may span lines). Blank rows are skipped.
- ``categories``, ``plays`` and ``tags`` hold several values joined with ``;``; ``citations``
  one per line inside the cell (DESIGN §6).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kb.entries.validation import GENERATED
from kb.entries.validation import WRITABLE
from kb.imports.services import Problem

DELIMITERS = (";", ",", "\t")
#: Column names people use for our fields (after normalising: lower case, ``_`` for spaces).
ALIASES = {
    "category": "categories",
    "play": "plays",
    "tag": "tags",
    "citation": "citations",
    "lesson": "body",
    "lesson_learned": "body",
    "text": "body",
    "benefits": "benefit",
    "notes": "usage_notes",
}
_JUNK = re.compile(r"[^a-z0-9]+")
#: Field names a column may be mapped to in the web import.
MAPPABLE = WRITABLE


@dataclass
class Table:
    """A CSV file split into its header and rows (each row with the line it starts on)."""

    header: list[str]
    rows: list[tuple[int, list[str]]]
    delimiter: str


def sniff_delimiter(text: str) -> str:
    """The delimiter: the most frequent of ``;``, ``,`` and tab in the first line (else ``,``)."""
    first = text.split("\n", 1)[0]
    counts = {delimiter: first.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def split_table(text: str) -> Table:
    """The header and the non-blank rows of a CSV text."""
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows = []
    start = 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if header is None:
            header = [cell.strip() for cell in cells]
            continue
        if any(cell.strip() for cell in cells):
            rows.append((line, cells))
    return Table(header or [], rows, delimiter)


def field_for(column: str) -> str | None:
    """The entry field a column name stands for, or ``None`` when it names none."""
    key = _JUNK.sub("_", column.lower()).strip("_")
    key = ALIASES.get(key, key)
    return key if key in WRITABLE or key in GENERATED else None


def default_mapping(header: list[str]) -> dict[int, str | None]:
    """Each column → the field its name matches (first column wins), else ``None`` (ignore).

    Generated fields (``id``, ``url``, timestamps …) are ignored: an import never sets them.
    """
    mapping: dict[int, str | None] = {}
    taken: set[str] = set()
    for index, column in enumerate(header):
        name = field_for(column)
        if name in WRITABLE and name not in taken:
            mapping[index] = name
            taken.add(name)
        else:
            mapping[index] = None
    return mapping


def read_csv(
    text: str, *, mapping: Mapping[int, str | None] | None = None
) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    """Records from CSV text.

    Without ``mapping`` (the command line) each column is the field its name matches, and a
    column that matches none is passed on under its own name, so validation refuses it by name.
    With ``mapping`` (the web import's column step) unmapped columns are ignored.
    """
    table = split_table(text)
    if not table.header or not any(table.header):
        return [], [Problem(1, {"file": "the first line must name the columns"})]
    if mapping is None:
        names = [field_for(column) or column for column in table.header]
    else:
        names = [mapping.get(index) or "" for index in range(len(table.header))]
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        message = f"more than one column is {', '.join(repeated)}"
        return [], [Problem(1, {"header": message})]
    records, problems = [], []
    for line, cells in table.rows:
        if len(cells) > len(names) and any(cell.strip() for cell in cells[len(names) :]):
            message = f"has {len(cells)} cells; the header names {len(names)} columns"
            problems.append(Problem(line, {"row": message}))
            continue
        record = {name: cells[i] if i < len(cells) else "" for i, name in enumerate(names) if name}
        records.append((line, record))
    return records, problems


def write_csv(records: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """Records as CSV text: lists joined with ``;``, citations one per line in the cell."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([csv_cell(name, record.get(name)) for name in columns])
    return out.getvalue()


def csv_cell(name: str, value: Any) -> str:
    """One field's value as a CSV cell."""
    if value is None:
        return ""
    if isinstance(value, list):
        separator = "\n" if name == "citations" else ";"
        return separator.join(str(item) for item in value)
    return str(value)
