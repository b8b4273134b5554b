"""Entry pages."""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask.typing import ResponseReturnValue

from kb.entries.services import get_readable_entry
from kb.extensions import db
from kb.finder.services import related_entries
from kb.htmx import render

bp = Blueprint("entries", __name__, url_prefix="/entries")


@bp.get("/<int:entry_id>")
def detail(entry_id: int) -> ResponseReturnValue:
    """One entry, its Markdown rendered and sanitised."""
    entry = get_readable_entry(db.session, entry_id) or abort(404)
    related = related_entries(db.session, entry)
    return render("entries/detail.html", "entries/_entry.html", entry=entry, related=related)
