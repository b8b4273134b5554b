"""HTMX helpers: one URL, two renderings (the page, or the fragment for an htmx swap)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask import make_response
from flask import render_template
from flask import request


def is_htmx() -> bool:
    """A real htmx swap request: not boosted navigation and not a history restore."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def render(page: str, fragment: str, status: int = 200, **context: Any) -> Response:
    """Render the fragment for htmx swaps, else the full page; always ``Vary: HX-Request``."""
    template = fragment if is_htmx() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response
