"""The dashboard's numbers: filters, loading from the database, and the three metric groups.

``metrics(session, filters, now, raw_queries=…)`` returns exactly what ``/api/v1/metrics``
answers; the page draws the same numbers as tables and charts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from kb.metrics.bucps import Timeline
from kb.metrics.bucps import bucp_metrics
from kb.metrics.stats import days_between
from kb.metrics.stats import month
from kb.metrics.stats import summarise
from kb.models import Bucp
from kb.models import BucpSection
from kb.models import Category
from kb.models import Entry
from kb.models import Play
from kb.models import Program
from kb.models import SearchLog
from kb.models import entry_categories
from kb.models import entry_plays

TOP_QUERIES = 20
TOP_SNIPPETS = 10


class FilterError(ValueError):
    """A filter value the dashboard cannot use (a 400 in the API; a message on the page)."""


@dataclass(frozen=True)
class Filters:
    """Date range (BUCPs by first submission; entries and searches by their date), program,
    and whether demo data counts."""

    date_from: date | None = None
    date_to: date | None = None
    program: str | None = None
    include_demo: bool = True

    @property
    def start(self) -> datetime | None:
        return datetime.combine(self.date_from, time.min, UTC) if self.date_from else None

    @property
    def end(self) -> datetime | None:
        """Exclusive: the day after ``date_to``."""
        return (
            datetime.combine(self.date_to, time.min, UTC) + timedelta(days=1)
            if (self.date_to)
            else None
        )

    def in_range(self, moment: datetime | None) -> bool:
        """Whether ``moment`` falls in the date range (always, when there is no range)."""
        if self.start is None and self.end is None:
            return True
        if moment is None:
            return False
        return (self.start is None or moment >= self.start) and (
            self.end is None or moment < self.end
        )

    def query_args(self) -> dict[str, str]:
        """The filters as URL parameters (for CSV links and pagination)."""
        args = {}
        if self.date_from:
            args["from"] = self.date_from.isoformat()
        if self.date_to:
            args["to"] = self.date_to.isoformat()
        if self.program:
            args["program"] = self.program
        if not self.include_demo:
            args["demo"] = "exclude"
        return args


def _date(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"{name} must be a date like 2026-01-31") from None


def parse_filters(args: Mapping[str, str]) -> Filters:
    """``from``, ``to`` (ISO dates), ``program`` (name), ``demo`` (``include`` | ``exclude``)."""
    demo = (args.get("demo") or "include").lower()
    if demo not in ("include", "exclude"):
        raise FilterError("demo must be include or exclude")
    filters = Filters(
        date_from=_date(args.get("from"), "from"),
        date_to=_date(args.get("to"), "to"),
        program=(args.get("program") or "").strip()[:120] or None,
        include_demo=demo == "include",
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise FilterError("from must not be after to")
    return filters


# --- BUCPs -----------------------------------------------------------------------------------


def timelines(session: Session, filters: Filters) -> list[Timeline]:
    """The BUCPs the filters select (the date range by first submission), as timelines."""
    statement = select(Bucp).options(
        selectinload(Bucp.events), selectinload(Bucp.disputes), selectinload(Bucp.program)
    )
    if filters.program:
        statement = statement.join(Program, Bucp.program_id == Program.id).where(
            Program.name == filters.program
        )
    if not filters.include_demo:
        statement = statement.where(Bucp.is_demo.is_(False))
    found = []
    for bucp in session.scalars(statement.order_by(Bucp.id)):
        events = sorted(((e.to_stage, e.at) for e in bucp.events), key=lambda pair: pair[1])
        timeline = Timeline(
            id=bucp.id,
            title=bucp.title,
            program=bucp.program.name if bucp.program else "",
            stage=bucp.stage,
            is_demo=bucp.is_demo,
            events=events,
            solutions=list(bucp.statutory_solutions or []),
            disputes=[
                {
                    "raised_at": d.raised_at.isoformat(),
                    "description": d.description,
                    "resolution": d.resolution,
                    "resolved_at": d.resolved_at.isoformat() if d.resolved_at else None,
                }
                for d in bucp.disputes
            ],
        )
        if filters.in_range(timeline.first("submitted")):
            found.append(timeline)
    return found


# --- the knowledge base ----------------------------------------------------------------------


def _entries(filters: Filters) -> Any:
    statement = select(Entry.id)
    if filters.program:
        statement = statement.join(Program, Entry.program_id == Program.id).where(
            Program.name == filters.program
        )
    if not filters.include_demo:
        statement = statement.where(Entry.is_demo.is_(False))
    return statement


def _counts(session: Session, statement: Any) -> dict[str, int]:
    return {str(label): count for label, count in session.execute(statement)}


def knowledge_metrics(session: Session, filters: Filters, now: datetime) -> dict[str, Any]:
    """Entries by category, play and program; contributions per month; the review queue;
    stale entries; the most reused snippets."""
    chosen = _entries(filters)
    published = chosen.where(Entry.status == "published").scalar_subquery()
    by_category = _counts(
        session,
        select(Category.name, func.count(entry_categories.c.entry_id))
        .join(entry_categories, entry_categories.c.category_id == Category.id)
        .where(entry_categories.c.entry_id.in_(published))
        .group_by(Category.id)
        .order_by(Category.position),
    )
    by_play = _counts(
        session,
        select(Play.number, func.count(entry_plays.c.entry_id))
        .join(entry_plays, entry_plays.c.play_number == Play.number)
        .where(entry_plays.c.entry_id.in_(published))
        .group_by(Play.number)
        .order_by(Play.number),
    )
    by_program = _counts(
        session,
        select(func.coalesce(Program.name, "(no program)"), func.count(Entry.id))
        .outerjoin(Program, Entry.program_id == Program.id)
        .where(Entry.id.in_(published))
        .group_by(Program.name)
        .order_by(func.count(Entry.id).desc(), Program.name),
    )
    created = session.scalars(
        select(Entry.created_at).where(Entry.id.in_(chosen.scalar_subquery()))
    )
    per_month = Counter(month(at) for at in created if filters.in_range(at))
    queue = list(
        session.scalars(
            select(Entry.updated_at).where(
                Entry.id.in_(chosen.scalar_subquery()), Entry.status == "in_review"
            )
        )
    )
    stale = session.scalar(
        select(func.count()).where(
            Entry.id.in_(published), Entry.review_due.is_not(None), Entry.review_due < now
        )
    )
    reused = session.execute(
        select(Entry.id, Entry.title, func.count(func.distinct(BucpSection.bucp_id)))
        .join(BucpSection, BucpSection.snippet_id == Entry.id)
        .where(Entry.id.in_(chosen.scalar_subquery()))
        .group_by(Entry.id)
        .order_by(func.count(func.distinct(BucpSection.bucp_id)).desc(), Entry.title)
        .limit(TOP_SNIPPETS)
    )
    return {
        "published": session.scalar(select(func.count()).where(Entry.id.in_(published))) or 0,
        "by_category": by_category,
        "by_play": {f"Play {number}": count for number, count in by_play.items()},
        "by_program": by_program,
        "contributions_by_month": dict(sorted(per_month.items())),
        "review_queue": {
            "size": len(queue),
            "age_days": summarise([days_between(at, now) for at in queue]),
            "oldest_days": round(max(days_between(at, now) for at in queue), 1) if queue else None,
        },
        "stale": stale or 0,
        "most_reused_snippets": [
            {"id": entry_id, "title": title, "bucps": count} for entry_id, title, count in reused
        ],
    }


# --- search ---------------------------------------------------------------------------------


def search_metrics(session: Session, filters: Filters, *, raw_queries: bool) -> dict[str, Any]:
    """Top queries and zero-result queries (content gaps); raw text only for curators.

    The search log keeps no program, so the program filter does not apply here.
    """
    statement = select(SearchLog.query, SearchLog.results).where(SearchLog.query != "")
    if filters.start:
        statement = statement.where(SearchLog.at >= filters.start)
    if filters.end:
        statement = statement.where(SearchLog.at < filters.end)
    rows = [
        (" ".join(query.lower().split()), results) for query, results in session.execute(statement)
    ]
    total = len(rows)
    zero = [query for query, results in rows if results == 0]
    answer: dict[str, Any] = {
        "searches": total,
        "zero_result_searches": len(zero),
        "zero_result_share": round(len(zero) / total, 3) if total else None,
    }
    if raw_queries:
        answer["top_queries"] = [
            {"query": q, "count": n}
            for q, n in Counter(q for q, _ in rows).most_common(TOP_QUERIES)
        ]
        answer["zero_result_queries"] = [
            {"query": q, "count": n} for q, n in Counter(zero).most_common(TOP_QUERIES)
        ]
    return answer


def metrics(
    session: Session, filters: Filters, now: datetime, *, raw_queries: bool
) -> dict[str, Any]:
    """Everything the dashboard shows, in the shape of ``/api/v1/metrics``."""
    return {
        "filters": {
            "from": filters.date_from.isoformat() if filters.date_from else None,
            "to": filters.date_to.isoformat() if filters.date_to else None,
            "program": filters.program,
            "include_demo": filters.include_demo,
        },
        "generated_at": now.isoformat(),
        "bucps": bucp_metrics(timelines(session, filters), now),
        "entries": knowledge_metrics(session, filters, now),
        "search": search_metrics(session, filters, raw_queries=raw_queries),
    }
