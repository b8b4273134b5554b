"""Server-rendered, accessible SVG bar charts: a title, a description, labelled bars.

Each chart on the page sits next to the table it draws, so nothing depends on seeing it.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

WIDTH = 640
LABEL_WIDTH = 210
VALUE_WIDTH = 96
ROW_HEIGHT = 26
BAR_HEIGHT = 18
MAX_LABEL_CHARS = 30


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"


def _number(value: float) -> str:
    return f"{value:,.1f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"


def bar_chart(
    chart_id: str, title: str, rows: Sequence[tuple[str, float]], *, unit: str = ""
) -> Markup:
    """A horizontal bar chart of ``(label, value)`` rows as an inline ``<svg>`` (valid XML)."""
    rows = [(str(label), float(value)) for label, value in rows]
    top = max((value for _, value in rows), default=0.0)
    height = max(1, len(rows)) * ROW_HEIGHT + 8
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    if rows:
        largest = max(rows, key=lambda row: row[1])
        desc = (
            f"{len(rows)} bars; the largest is {largest[0]} at {_number(largest[1])}"
            f"{' ' + unit if unit else ''}. The table beside the chart holds every value."
        )
    else:
        desc = "No data."
    parts = [
        Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            'viewBox="0 0 {w} {h}" width="{w}" height="{h}" aria-labelledby="{id}-title {id}-desc">'
        ).format(w=WIDTH, h=height, id=chart_id),
        Markup('<title id="{}-title">{}</title>').format(chart_id, title),
        Markup('<desc id="{}-desc">{}</desc>').format(chart_id, desc),
    ]
    for index, (label, value) in enumerate(rows):
        y = 4 + index * ROW_HEIGHT
        length = 0 if top <= 0 else max(1.0, span * value / top) if value > 0 else 0
        parts.append(
            Markup(
                '<g class="bar"><text x="{lx}" y="{ty}" text-anchor="end">{label}</text>'
                '<rect x="{x}" y="{y}" width="{length:.1f}" height="{bh}"></rect>'
                '<text x="{vx:.1f}" y="{ty}" class="value">{value}</text></g>'
            ).format(
                lx=LABEL_WIDTH - 8,
                ty=y + BAR_HEIGHT - 4,
                label=_short(label),
                x=LABEL_WIDTH,
                y=y,
                length=length,
                bh=BAR_HEIGHT,
                vx=LABEL_WIDTH + length + 6,
                value=_number(value) + (f" {unit}" if unit else ""),
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
