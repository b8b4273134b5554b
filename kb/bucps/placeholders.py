"""The filled preview of a BUCP section: Markdown with placeholder values in place.

The placeholder grammar, gathering and filling live in ``kb.placeholders`` (plain string
substitution, never a template engine); this module only renders the preview, which marks
filled values and flags unfilled placeholders, as a Markdown annotator (``kb.markdown``).
"""

from __future__ import annotations

from collections.abc import Mapping

from markupsafe import Markup

from kb.markdown import Annotator
from kb.markdown import render_markdown
from kb.placeholders import PLACEHOLDER

FILLED = Markup('<mark class="ph ph-filled" title="{}">{}</mark>')
MISSING = Markup(
    '<mark class="ph ph-missing">{{{{ {} }}}}<span class="visually-hidden"> (not filled yet)</span>'
    "</mark>"
)


def filling(values: Mapping[str, str]) -> Annotator:
    """An annotator putting each placeholder's value in place (marked), or flagging it."""

    def annotate(text: str) -> list[str]:
        pieces: list[str] = []
        last = 0
        for match in PLACEHOLDER.finditer(text):
            name = match.group(1)
            value = (values.get(name) or "").strip()
            pieces.append(text[last : match.start()])
            pieces.append(FILLED.format(name, value) if value else MISSING.format(name))
            last = match.end()
        pieces.append(text[last:])
        return pieces

    return annotate


def filled_html(text: str, values: Mapping[str, str]) -> Markup:
    """The Markdown of ``text`` as safe HTML, values in place and unfilled placeholders flagged."""
    return render_markdown(text, [filling(values)])
