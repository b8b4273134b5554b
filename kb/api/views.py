"""JSON API v1 (read endpoints) and ``/healthz``; writes are in ``kb.api.writes``."""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask import jsonify
from flask import request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy import text

from kb import search
from kb.api.entries import BadParameter
from kb.api.entries import find_entries
from kb.api.entries import parse_filters as parse_entry_filters
from kb.auth.policy import is_curator
from kb.auth.policy import require_role
from kb.auth.policy import viewer
from kb.entries.services import entry_record
from kb.entries.services import get_readable_entry
from kb.errors import error_response
from kb.extensions import db
from kb.finder.services import SearchArgumentError
from kb.finder.services import find
from kb.finder.services import parse_search_args
from kb.metrics.services import FilterError
from kb.metrics.services import metrics as metric_values
from kb.metrics.services import parse_filters
from kb.models import Category
from kb.models import ClauseType
from kb.models import Play
from kb.models import utcnow
from kb.pagination import PageArgumentError
from kb.pagination import page_args
from kb.seed import phases
from kb.web import external_url

bp = Blueprint("api", __name__)
#: The response header with an entry's ``version`` (the optimistic lock ``PATCH`` sends back).
VERSION_HEADER = "Entry-Version"


@bp.errorhandler(BadParameter)
@bp.errorhandler(PageArgumentError)
@bp.errorhandler(SearchArgumentError)
def _bad_parameter(exc: ValueError) -> ResponseReturnValue:
    return error_response(400, str(exc))


def _url(entry_id: int) -> str:
    return external_url("entries.detail", entry_id=entry_id)


@bp.get("/api/v1/entries")
def entries() -> ResponseReturnValue:
    """Readable entries with full records, most recently updated first, paginated and filtered."""
    page, per_page = page_args(request.args, strict=True)
    filters = parse_entry_filters(db.session, request.args)
    found = find_entries(db.session, viewer(), filters, page, per_page)
    return jsonify(
        total=found.total,
        page=found.page,
        per_page=found.per_page,
        results=[entry_record(entry, url=_url(entry.id)) for entry in found.items],
    )


@bp.get("/api/v1/search")
def search_entries() -> ResponseReturnValue:
    """Full-text search with facets (DESIGN §6 shape); same visibility as the pages."""
    args = parse_search_args(request.args, strict=True)
    found = find(db.session, args, viewer())
    result = found.result
    return jsonify(
        query=result.query,
        match=result.match,
        total=result.total,
        page=result.page,
        per_page=result.per_page,
        sort=result.sort,
        results=[
            {
                "id": entry.id,
                "uid": entry.uid,
                "kind": entry.kind,
                "title": entry.title,
                "summary": entry.summary,
                "url": _url(entry.id),
                "score": round(result.scores.get(entry.id, 0.0), 4),
                "highlights": [str(passage) for passage in found.highlights(entry)],
            }
            for entry in found.entries
        ],
        facets=found.facets or {},
        suggestion=result.suggestion,
    )


@bp.get("/api/v1/entries/<int:entry_id>")
def entry(entry_id: int) -> ResponseReturnValue:
    """One readable entry; the ``Entry-Version`` header carries the version PATCH needs."""
    found = get_readable_entry(db.session, entry_id, viewer()) or abort(404, "no such entry")
    response = jsonify(entry_record(found, url=_url(found.id)))
    response.headers[VERSION_HEADER] = str(found.version)
    return response


@bp.get("/api/v1/taxonomy")
def taxonomy() -> ResponseReturnValue:
    """The fixed taxonomy: categories, phases, plays and clause types."""
    session = db.session
    return jsonify(
        categories=[
            {"slug": c.slug, "name": c.name, "description": c.description}
            for c in session.scalars(select(Category).order_by(Category.position))
        ],
        phases=phases(),
        plays=[
            {
                "number": p.number,
                "title": p.title,
                "phase": p.phase,
                "summary": p.summary,
                "parallel_with": p.parallel_with,
            }
            for p in session.scalars(select(Play).order_by(Play.number))
        ],
        clause_types=[
            {
                "slug": t.slug,
                "name": t.name,
                "group": t.group,
                "requirement": t.requirement,
                "description": t.description,
            }
            for t in session.scalars(select(ClauseType).order_by(ClauseType.position))
        ],
    )


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Database and index state as JSON; 503 when either is unusable."""
    try:
        db.session.execute(text("SELECT 1"))
        database = {"ok": True}
    except Exception as exc:
        db.session.rollback()
        database = {"ok": False, "error": type(exc).__name__}
    index = search.status()
    ok = database["ok"] and "error" not in index
    response = jsonify(status="ok" if ok else "error", database=database, index=index)
    response.status_code = 200 if ok else 503
    return response


@bp.get("/api/v1/metrics")
@require_role("contributor")
def metrics() -> ResponseReturnValue:
    """The dashboard's numbers (same filters as ``/metrics``); raw queries for curators only."""
    try:
        filters = parse_filters(request.args)
    except FilterError as exc:
        raise BadParameter(str(exc)) from None
    return jsonify(metric_values(db.session, filters, utcnow(), raw_queries=is_curator(viewer())))
