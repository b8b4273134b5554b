"""Browsing views: thin, read-only."""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask import request
from flask.typing import ResponseReturnValue

from kb.auth.policy import viewer
from kb.browse import services
from kb.entries.services import list_entries
from kb.entries.validation import normalise_tag
from kb.extensions import db
from kb.htmx import render
from kb.pagination import page_args

bp = Blueprint("browse", __name__)


@bp.get("/")
def home() -> ResponseReturnValue:
    """The home page: search box, categories with counts, the plays roadmap, recent entries."""
    return render(
        "browse/home.html",
        "browse/home.html",
        categories=services.categories_with_counts(db.session, viewer()),
        roadmap=services.plays_roadmap(db.session, viewer()),
        recent=services.recent_entries(db.session, viewer()),
    )


@bp.get("/categories/<slug>")
def category(slug: str) -> ResponseReturnValue:
    """Entries of one category."""
    found = services.get_category(db.session, slug) or abort(404)
    page, per_page = page_args(request.args)
    entries = list_entries(db.session, user=viewer(), category=slug, page=page, per_page=per_page)
    return render("browse/category.html", "entries/_list.html", category=found, entries=entries)


@bp.get("/plays/<int:number>")
def play(number: int) -> ResponseReturnValue:
    """Entries that point to one play."""
    found = services.get_play(db.session, number) or abort(404)
    page, per_page = page_args(request.args)
    entries = list_entries(db.session, user=viewer(), play=number, page=page, per_page=per_page)
    return render(
        "browse/play.html",
        "entries/_list.html",
        play=found,
        phase=services.phase_of(found),
        entries=entries,
    )


@bp.get("/tags/<tag>")
def tag(tag: str) -> ResponseReturnValue:
    """Entries with one tag (an unknown tag shows the empty state)."""
    name = normalise_tag(tag)
    page, per_page = page_args(request.args)
    entries = list_entries(db.session, user=viewer(), tag=name, page=page, per_page=per_page)
    return render("browse/tag.html", "entries/_list.html", tag=name, entries=entries)
