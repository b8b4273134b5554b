"""The dashboard's tables, built once from the metrics: the page shows them (with a chart) and
``/metrics/<name>.csv`` downloads exactly the same rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kb.bucps.lifecycle import label as stage_label


@dataclass(frozen=True)
class Table:
    """A titled table; ``chart`` names the column a bar chart draws (by the first column)."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    chart: int | None = None
    unit: str = ""
    curators_only: bool = False

    def chart_rows(self) -> list[tuple[str, float]]:
        if self.chart is None:
            return []
        return [
            (str(row[0]), float(row[self.chart]))
            for row in self.rows
            if row[self.chart] is not None
        ]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.columns)
        writer.writerows(["" if cell is None else cell for cell in row] for row in self.rows)
        return out.getvalue()


def _summary_rows(summaries: dict[str, dict[str, Any]], name: Callable[[str], str] = str):
    return [(name(key), s["median"], s["p90"], s["count"]) for key, s in summaries.items()]


def _counts(counts: dict[str, int]) -> list[tuple[str, int]]:
    return list(counts.items())


def build_tables(m: dict[str, Any]) -> dict[str, Table]:
    """Every table of the dashboard, by name (the CSV file name)."""
    b, e, s = m["bucps"], m["entries"], m["search"]
    tables = [
        Table(
            "time-in-stage",
            "Days spent in each stage",
            ("Stage", "Median days", "90th percentile", "BUCPs"),
            _summary_rows(b["by_stage_days"], stage_label),
            chart=1,
            unit="days",
        ),
        Table(
            "open-by-stage",
            "BUCPs open now, by stage",
            ("Stage", "BUCPs"),
            [(stage_label(k), v) for k, v in b["open_by_stage"].items()],
            chart=1,
        ),
        Table(
            "approval-trend",
            "Approval time by quarter of approval",
            ("Quarter", "Median days", "90th percentile", "Approvals"),
            _summary_rows(b["approval_trend"]),
            chart=1,
            unit="days",
        ),
        Table(
            "outcomes",
            "Outcomes",
            ("Outcome", "BUCPs"),
            [(k.capitalize(), v) for k, v in b["outcomes"].items()],
            chart=1,
        ),
        Table(
            "disputes",
            "Disputes and how they were resolved",
            ("BUCP", "Raised", "Dispute", "Resolution", "Resolved"),
            [
                (
                    d["bucp"],
                    d["raised_at"][:10],
                    d["description"],
                    d["resolution"],
                    (d["resolved_at"] or "")[:10],
                )
                for d in b["disputes"]
            ],
        ),
        Table(
            "statutory-solutions",
            "Statutory-restriction solutions used",
            ("Solution", "BUCPs"),
            _counts(b["statutory_solutions"]),
            chart=1,
        ),
        Table(
            "entries-by-category",
            "Published entries by category",
            ("Category", "Entries"),
            _counts(e["by_category"]),
            chart=1,
        ),
        Table(
            "entries-by-play",
            "Published entries by play",
            ("Play", "Entries"),
            _counts(e["by_play"]),
            chart=1,
        ),
        Table(
            "entries-by-program",
            "Published entries by program",
            ("Program", "Entries"),
            _counts(e["by_program"]),
            chart=1,
        ),
        Table(
            "contributions",
            "New entries per month",
            ("Month", "Entries"),
            _counts(e["contributions_by_month"]),
            chart=1,
        ),
        Table(
            "most-reused-snippets",
            "Most reused clauses",
            ("Clause", "BUCPs using it"),
            [(r["title"], r["bucps"]) for r in e["most_reused_snippets"]],
            chart=1,
        ),
    ]
    if "top_queries" in s:
        tables += [
            Table(
                "top-queries",
                "Top search queries",
                ("Query", "Searches"),
                [(r["query"], r["count"]) for r in s["top_queries"]],
                curators_only=True,
            ),
            Table(
                "zero-result-queries",
                "Searches that found nothing (content gaps)",
                ("Query", "Searches"),
                [(r["query"], r["count"]) for r in s["zero_result_queries"]],
                curators_only=True,
            ),
        ]
    return {table.name: table for table in tables}
