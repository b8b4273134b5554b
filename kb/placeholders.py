"""Placeholders in snippet text: ``{{ name }}``, filled by plain string substitution (DESIGN §3).

Never a template engine: the only syntax is the variable name between double braces, so a
snippet can hold any other text (braces, percent signs, Jinja-looking markup) verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Mapping

from markupsafe import Markup
from markupsafe import escape

PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\s*\}\}")


def placeholder_names(*texts: str | None) -> list[str]:
    """The variable names the texts use, in order of first appearance, each once."""
    names: list[str] = []
    for text in texts:
        for match in PLACEHOLDER.finditer(text or ""):
            if match.group(1) not in names:
                names.append(match.group(1))
    return names


def gather(texts: Iterable[str | None]) -> list[str]:
    """The variable names of several texts (e.g. every section of a BUCP), each once."""
    return placeholder_names(*texts)


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace every placeholder that has a non-empty value; leave the others as they are."""

    def value(match: re.Match[str]) -> str:
        found = values.get(match.group(1))
        return found if found else match.group(0)

    return PLACEHOLDER.sub(value, text or "")


def unfilled(text: str, values: Mapping[str, str]) -> list[str]:
    """The variables of the text that have no value yet."""
    return [name for name in placeholder_names(text) if not values.get(name)]


def mark_placeholders(text: str) -> list[str]:
    """A Markdown annotator: each placeholder becomes ``<var class="placeholder">``."""
    pieces: list[str] = []
    last = 0
    for match in PLACEHOLDER.finditer(text):
        pieces.append(text[last : match.start()])
        pieces.append(Markup('<var class="placeholder">{}</var>').format(escape(match.group(0))))
        last = match.end()
    pieces.append(text[last:])
    return pieces
