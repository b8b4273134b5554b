"""``/metrics``: the Play 1 dashboard (signed-in users; raw search queries for curators)."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import abort
from flask import render_template
from flask import request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from kb.auth.policy import is_curator
from kb.auth.policy import require_role
from kb.auth.policy import viewer
from kb.extensions import db
from kb.metrics.charts import bar_chart
from kb.metrics.services import FilterError
from kb.metrics.services import Filters
from kb.metrics.services import metrics
from kb.metrics.services import parse_filters
from kb.metrics.tables import build_tables
from kb.models import Program
from kb.models import utcnow

bp = Blueprint("metrics", __name__)


def _filters() -> tuple[Filters, str | None]:
    try:
        return parse_filters(request.args), None
    except FilterError as exc:
        return Filters(), f"{exc}. Showing every date instead."


@bp.get("/metrics")
@require_role("contributor")
def dashboard() -> ResponseReturnValue:
    """The dashboard: BUCP processing, the knowledge base, search — tables with charts."""
    filters, problem = _filters()
    curator = is_curator(viewer())
    numbers = metrics(db.session, filters, utcnow(), raw_queries=curator)
    tables = build_tables(numbers)
    page = render_template(
        "metrics/dashboard.html",
        m=numbers,
        tables=tables,
        charts={
            name: bar_chart(f"chart-{name}", table.title, table.chart_rows(), unit=table.unit)
            for name, table in tables.items()
            if table.chart is not None and table.rows
        },
        filters=filters,
        problem=problem,
        programs=list(db.session.scalars(select(Program.name).order_by(Program.name))),
        curator=curator,
    )
    return page, 400 if problem else 200


@bp.get("/metrics/<name>.csv")
@require_role("contributor")
def download(name: str) -> ResponseReturnValue:
    """One of the dashboard's tables as CSV, with the same filters."""
    filters, problem = _filters()
    if problem:
        abort(400, problem)
    numbers = metrics(db.session, filters, utcnow(), raw_queries=is_curator(viewer()))
    table = build_tables(numbers).get(name) or abort(404)
    return Response(
        table.csv(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="kb-metrics-{name}.csv"'},
    )
