"""The filled preview of a BUCP section: Markdown with placeholder values in place.

The placeholder grammar, gathering and filling live in ``kb.placeholders`` (plain string
substitution, never a template engine); this module only renders the preview, which marks
filled values and flags unfilled placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from markupsafe import Markup
from markupsafe import escape

from kb.markdown import render_markdown
from kb.placeholders import PLACEHOLDER

#: Private-use characters hold a placeholder's spot while the Markdown is rendered.
_HELD = re.compile("\ue000(\\d+)\ue001")


def filled_html(text: str, values: Mapping[str, str]) -> Markup:
    """The Markdown of ``text`` as safe HTML, values in place and unfilled placeholders flagged."""
    found: list[str] = []

    def hold(match: re.Match[str]) -> str:
        found.append(match.group(1))
        return f"\ue000{len(found) - 1}\ue001"

    html = str(render_markdown(PLACEHOLDER.sub(hold, text or "")))

    def show(match: re.Match[str]) -> str:
        name = found[int(match.group(1))]
        value = (values.get(name) or "").strip()
        if value:
            return f'<mark class="ph ph-filled" title="{escape(name)}">{escape(value)}</mark>'
        return (
            f'<mark class="ph ph-missing">{{{{ {escape(name)} }}}}'
            '<span class="visually-hidden"> (not filled yet)</span></mark>'
        )

    return Markup(_HELD.sub(show, html))
