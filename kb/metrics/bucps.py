"""Play 1 metrics of BUCPs, computed from their stage events (DOMAIN.md, "Metric definitions").

Everything here is a pure function of the loaded timelines and ``now``, so tests can fix time.
"""

from __future__ import annotations

from collections import Counter
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from kb.bucps.lifecycle import FINAL_STAGES
from kb.bucps.lifecycle import STAGES
from kb.metrics.stats import Summary
from kb.metrics.stats import days_between
from kb.metrics.stats import quarter
from kb.metrics.stats import summarise

#: The FAQ's baseline: about three months from concept to data transfer.
TARGET_DAYS = 91


@dataclass
class Timeline:
    """One BUCP as the metrics see it: its stage events in time order, and its disputes."""

    id: int
    title: str
    program: str
    stage: str
    is_demo: bool
    events: list[tuple[str, datetime]]
    solutions: list[str] = field(default_factory=list)
    disputes: list[dict[str, Any]] = field(default_factory=list)

    def first(self, stage: str) -> datetime | None:
        """When the BUCP first entered ``stage``."""
        return next((at for to, at in self.events if to == stage), None)

    def stage_days(self, now: datetime) -> dict[str, float]:
        """Days spent in each stage: the sum of its intervals, an open one ending at ``now``.

        Final stages (denied, terminated) are where a BUCP ends, not where it waits: their
        open interval is not counted.
        """
        spent: dict[str, float] = defaultdict(float)
        for (stage, start), following in zip(self.events, [*self.events[1:], None], strict=True):
            if following is None and stage in FINAL_STAGES:
                continue
            end = following[1] if following else now
            spent[stage] += max(0.0, days_between(start, end))
        return dict(spent)


def _span(timeline: Timeline, start: str, end: str) -> float | None:
    began, ended = timeline.first(start), timeline.first(end)
    if began is None or ended is None or ended < began:
        return None
    return days_between(began, ended)


def approval_days(timelines: list[Timeline]) -> list[float]:
    """First ``submitted`` → first ``approved`` (a return to draft does not reset it)."""
    return [d for t in timelines if (d := _span(t, "submitted", "approved")) is not None]


def denial_days(timelines: list[Timeline]) -> list[float]:
    """First ``submitted`` → first ``denied``."""
    return [d for t in timelines if (d := _span(t, "submitted", "denied")) is not None]


def concept_to_transfer(timelines: list[Timeline]) -> dict[str, Any]:
    """First ``draft`` → first ``fulfillment``, and the share meeting the three-month target."""
    days = [d for t in timelines if (d := _span(t, "draft", "fulfillment")) is not None]
    met = sum(1 for d in days if d <= TARGET_DAYS)
    return {
        **summarise(days),
        "target_days": TARGET_DAYS,
        "meeting_target": met,
        "share_meeting_target": round(met / len(days), 3) if days else None,
    }


def by_stage(timelines: list[Timeline], now: datetime) -> dict[str, Summary]:
    """Per stage, the days each BUCP that entered it spent there (open BUCPs up to ``now``)."""
    spent: dict[str, list[float]] = defaultdict(list)
    for timeline in timelines:
        for stage, days in timeline.stage_days(now).items():
            spent[stage].append(days)
    return {stage: summarise(spent[stage]) for stage in STAGES if spent.get(stage)}


def outcomes(timelines: list[Timeline]) -> dict[str, int]:
    """How many were approved, denied, and disputed (ever) — a disputed one may be approved."""
    return {
        "approved": sum(1 for t in timelines if t.first("approved")),
        "denied": sum(1 for t in timelines if t.first("denied")),
        "disputed": sum(1 for t in timelines if t.first("disputed")),
    }


def open_by_stage(timelines: list[Timeline]) -> dict[str, int]:
    """BUCPs not in a final stage, by their current stage, in life-cycle order."""
    counts = Counter(t.stage for t in timelines if t.stage not in FINAL_STAGES)
    return {stage: counts[stage] for stage in STAGES if counts.get(stage)}


def approval_trend(timelines: list[Timeline]) -> dict[str, Summary]:
    """Approval time by the quarter the approval came in."""
    per_quarter: dict[str, list[float]] = defaultdict(list)
    for timeline in timelines:
        days, approved = _span(timeline, "submitted", "approved"), timeline.first("approved")
        if days is not None and approved is not None:
            per_quarter[quarter(approved)].append(days)
    return {key: summarise(per_quarter[key]) for key in sorted(per_quarter)}


def disputes(timelines: list[Timeline]) -> list[dict[str, Any]]:
    """Every dispute with its BUCP and resolution, newest first."""
    rows = [
        {"bucp_id": t.id, "bucp": t.title, **dispute} for t in timelines for dispute in t.disputes
    ]
    return sorted(rows, key=lambda row: row["raised_at"], reverse=True)


def solutions(timelines: list[Timeline]) -> dict[str, int]:
    """How often each statutory-restriction solution was used."""
    counts = Counter(solution for t in timelines for solution in t.solutions)
    return dict(counts.most_common())


def bucp_metrics(timelines: list[Timeline], now: datetime) -> dict[str, Any]:
    """The ``bucps`` part of the metrics (``/api/v1/metrics`` and the dashboard)."""
    return {
        "count": len(timelines),
        "demo": sum(1 for t in timelines if t.is_demo),
        "approval_days": summarise(approval_days(timelines)),
        "denial_days": summarise(denial_days(timelines)),
        "concept_to_transfer_days": concept_to_transfer(timelines),
        "approval_trend": approval_trend(timelines),
        "by_stage_days": by_stage(timelines, now),
        "outcomes": outcomes(timelines),
        "open_by_stage": open_by_stage(timelines),
        "disputes": disputes(timelines),
        "statutory_solutions": solutions(timelines),
    }
