"""Summary statistics exactly as DOMAIN.md defines them for the dashboard."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict

SECONDS_PER_DAY = 86_400


class Summary(TypedDict):
    """Median, 90th percentile and count; ``None`` values when there is no data ("no data")."""

    median: float | None
    p90: float | None
    count: int


def days_between(start: datetime, end: datetime) -> float:
    """Calendar days as a decimal."""
    return (end - start).total_seconds() / SECONDS_PER_DAY


def percentile(values: Sequence[float], nth: int) -> float | None:
    """The ``nth`` percentile: ``statistics.quantiles(n=100, method="inclusive")``.

    One value is its own percentile (``quantiles`` needs two points on Python 3.11).
    """
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[nth - 1]


def summarise(values: Sequence[float]) -> Summary:
    """Median, p90 and count of durations, rounded to a tenth of a day."""
    if not values:
        return {"median": None, "p90": None, "count": 0}
    p90 = percentile(values, 90)
    return {
        "median": round(statistics.median(values), 1),
        "p90": round(p90, 1) if p90 is not None else None,
        "count": len(values),
    }


def quarter(moment: datetime) -> str:
    """``2026-Q3``."""
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def month(moment: datetime) -> str:
    """``2026-07``."""
    return f"{moment.year}-{moment.month:02d}"
