"""Play 1 metrics: exact numbers from known fixtures, filters, empty states, CSV and SVG."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest

from kb.extensions import db
from kb.metrics.bucps import Timeline
from kb.metrics.bucps import bucp_metrics
from kb.metrics.charts import bar_chart
from kb.metrics.stats import percentile
from kb.metrics.stats import summarise
from kb.models import Bucp
from kb.models import Department
from kb.models import Program
from kb.models import SearchLog
from kb.models import StageEvent
from kb.models import User

NOW = datetime(2026, 6, 30, tzinfo=UTC)


def day(month: int, d: int) -> datetime:
    return datetime(2026, month, d, tzinfo=UTC)


def timeline(id: int, stages: list[tuple[str, datetime]], **kw) -> Timeline:
    return Timeline(
        id=id,
        title=f"BUCP {id}",
        program=kw.pop("program", "Healthy Habits"),
        stage=stages[-1][0],
        is_demo=kw.pop("is_demo", False),
        events=stages,
        **kw,
    )


#: A approved in 30 days (with a return to draft that does not reset the clock), then fulfilled;
#: B approved in 60 days after a dispute; C still in legal review; D denied after 10 days.
A = timeline(
    1,
    [
        ("draft", day(1, 1)),
        ("submitted", day(1, 11)),
        ("draft", day(1, 16)),
        ("submitted", day(1, 21)),
        ("legal-review", day(1, 26)),
        ("security-review", day(2, 1)),
        ("approved", day(2, 10)),
        ("signed", day(2, 15)),
        ("fulfillment", day(3, 1)),
    ],
    solutions=["aggregation"],
)
B = timeline(
    2,
    [
        ("draft", day(1, 1)),
        ("submitted", day(2, 1)),
        ("legal-review", day(2, 11)),
        ("security-review", day(2, 21)),
        ("disputed", day(3, 1)),
        ("mediation", day(3, 11)),
        ("approved", day(4, 2)),
        ("signed", day(4, 10)),
        ("fulfillment", day(6, 1)),
    ],
    solutions=["aggregation", "de-identification"],
)
C = timeline(3, [("draft", day(5, 1)), ("submitted", day(5, 21)), ("legal-review", day(6, 10))])
D = timeline(
    4,
    [
        ("draft", day(4, 1)),
        ("submitted", day(4, 11)),
        ("legal-review", day(4, 15)),
        ("security-review", day(4, 18)),
        ("denied", day(4, 21)),
    ],
)


def test_statistics_follow_the_definitions():
    assert summarise([]) == {"median": None, "p90": None, "count": 0}
    assert summarise([30.0]) == {"median": 30.0, "p90": 30.0, "count": 1}
    # inclusive method: p90 of 1..10 is 9.1
    assert percentile([float(n) for n in range(1, 11)], 90) == pytest.approx(9.1)
    assert summarise([30.0, 60.0]) == {"median": 45.0, "p90": 57.0, "count": 2}


def test_bucp_metrics_from_known_timelines():
    m = bucp_metrics([A, B, C, D], NOW)
    # A: Jan 11 → Feb 10 = 30 days; B: Feb 1 → Apr 2 = 60 days.
    assert m["approval_days"] == {"median": 45.0, "p90": 57.0, "count": 2}
    assert m["denial_days"] == {"median": 10.0, "p90": 10.0, "count": 1}
    # Concept to transfer: A Jan 1 → Mar 1 = 59 days (meets 91); B Jan 1 → Jun 1 = 151.
    c2t = m["concept_to_transfer_days"]
    assert (c2t["median"], c2t["count"], c2t["meeting_target"]) == (105.0, 2, 1)
    assert c2t["share_meeting_target"] == 0.5
    assert m["outcomes"] == {"approved": 2, "denied": 1, "disputed": 1}
    assert m["open_by_stage"] == {"legal-review": 1, "fulfillment": 2}
    assert m["approval_trend"] == {
        "2026-Q1": {"median": 30.0, "p90": 30.0, "count": 1},
        "2026-Q2": {"median": 60.0, "p90": 60.0, "count": 1},
    }
    assert m["statutory_solutions"] == {"aggregation": 2, "de-identification": 1}


def test_time_in_stage_sums_intervals_and_measures_open_ones_to_now():
    by_stage = bucp_metrics([A, B, C, D], NOW)["by_stage_days"]
    # draft: A 10 + 5 = 15, B 31, C 20, D 10 → median 17.5
    assert by_stage["draft"]["count"] == 4 and by_stage["draft"]["median"] == 17.5
    # legal review: A 6, B 10, C open Jun 10 → Jun 30 = 20, D 3 → median 8
    assert by_stage["legal-review"] == {"median": 8.0, "p90": 17.0, "count": 4}
    # fulfillment is open for A (Mar 1 → Jun 30 = 121) and B (Jun 1 → Jun 30 = 29)
    assert by_stage["fulfillment"]["median"] == 75.0
    # denied is final: its open interval is not a wait
    assert "denied" not in by_stage


def test_empty_metrics_say_no_data():
    m = bucp_metrics([], NOW)
    assert m["approval_days"] == {"median": None, "p90": None, "count": 0}
    assert m["concept_to_transfer_days"]["share_meeting_target"] is None
    assert m["by_stage_days"] == {} and m["open_by_stage"] == {}


def test_chart_is_valid_svg_with_a_title_and_description():
    svg = bar_chart("c1", "Outcomes <&>", [("Approved", 2), ("Denied", 1)], unit="BUCPs")
    root = ET.fromstring(str(svg))
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg" and root.get("role") == "img"
    assert root.find(f"{ns}title").text == "Outcomes <&>"
    assert "largest is Approved at 2 BUCPs" in root.find(f"{ns}desc").text
    widths = [float(rect.get("width")) for rect in root.iter(f"{ns}rect")]
    assert widths[0] == pytest.approx(2 * widths[1])
    ET.fromstring(str(bar_chart("c2", "Empty", [])))


# --- through the database and HTTP -------------------------------------------------------------


@pytest.fixture
def bucps(app, users):
    """A, B, C and D above as BUCPs of two programs; D is demo data."""
    with app.app_context():
        programs = {name: Program(name=name) for name in ("Healthy Habits", "Walk2Work")}
        provider = Department(name="Outdoor Recreation")
        db.session.add_all([*programs.values(), provider])
        user = db.session.get(User, users["cora"])
        for t, program, demo in (
            (A, "Healthy Habits", False),
            (B, "Walk2Work", False),
            (C, "Healthy Habits", False),
            (D, "Healthy Habits", True),
        ):
            bucp = Bucp(
                title=t.title,
                program=programs[program],
                provider=provider,
                stage=t.stage,
                created_by=user,
                is_demo=demo,
                statutory_solutions=t.solutions,
            )
            previous = None
            for stage, at in t.events:
                bucp.events.append(
                    StageEvent(from_stage=previous, to_stage=stage, at=at, recorded_by=user)
                )
                previous = stage
            db.session.add(bucp)
        for query, results, count in (
            ("safe transfer", 3, 4),
            ("ferpa waiver", 0, 3),
            ("student records", 0, 1),
        ):
            db.session.add_all(
                SearchLog(query=query, results=results, at=NOW - timedelta(days=1))
                for _ in range(count)
            )
        db.session.commit()


@pytest.fixture
def fixed_now(monkeypatch):
    monkeypatch.setattr("kb.metrics.views.utcnow", lambda: NOW)
    monkeypatch.setattr("kb.api.views.utcnow", lambda: NOW)


def test_api_metrics_with_filters(bucps, login, fixed_now):
    client = login("cora")
    everything = client.get("/api/v1/metrics").json
    assert everything["bucps"]["approval_days"] == {"median": 45.0, "p90": 57.0, "count": 2}
    assert "top_queries" not in everything["search"]  # raw queries are for curators
    assert everything["search"]["zero_result_searches"] == 4
    hh = client.get("/api/v1/metrics?program=Healthy+Habits").json["bucps"]
    assert hh["count"] == 3 and hh["approval_days"]["count"] == 1
    no_demo = client.get("/api/v1/metrics?program=Healthy+Habits&demo=exclude").json["bucps"]
    assert no_demo["count"] == 2 and no_demo["denial_days"]["count"] == 0
    # by first submission: only B (Feb 1) falls in February
    feb = client.get("/api/v1/metrics?from=2026-02-01&to=2026-02-28").json["bucps"]
    assert feb["count"] == 1 and feb["approval_days"]["median"] == 60.0
    assert client.get("/api/v1/metrics?from=31-01-2026").status_code == 400
    assert client.get("/api/v1/metrics?from=2026-03-01&to=2026-02-01").status_code == 400


def test_raw_queries_for_curators_with_content_gaps(bucps, login, fixed_now):
    search = login("cu").get("/api/v1/metrics").json["search"]
    assert search["top_queries"][0] == {"query": "safe transfer", "count": 4}
    assert search["zero_result_queries"] == [
        {"query": "ferpa waiver", "count": 3},
        {"query": "student records", "count": 1},
    ]
    page = login("cu").get("/metrics").get_data(as_text=True)
    assert "/entries/new?kind=lesson&amp;title=ferpa+waiver" in page


def test_dashboard_needs_a_sign_in(app):
    assert app.test_client().get("/metrics").status_code == 303
    assert app.test_client().get("/api/v1/metrics").status_code == 401


def test_dashboard_tables_charts_and_csv_agree(bucps, login, fixed_now):
    client = login("cora")
    page = client.get("/metrics").get_data(as_text=True)
    assert "45.0 days" in page and "ferpa waiver" not in page
    assert page.count("<svg") >= 5
    svg = page[page.index('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') :]
    ET.fromstring(svg[: svg.index("</svg>") + 6])
    rows = list(csv.reader(io.StringIO(client.get("/metrics/outcomes.csv").get_data(as_text=True))))
    assert rows == [["Outcome", "BUCPs"], ["Approved", "2"], ["Denied", "1"], ["Disputed", "1"]]
    stage_csv = client.get("/metrics/time-in-stage.csv?program=Walk2Work").get_data(as_text=True)
    assert stage_csv.splitlines()[1] == "Draft,31.0,31.0,1"
    assert client.get("/metrics/zero-result-queries.csv").status_code == 404  # curators only
    assert client.get("/metrics/nothing.csv").status_code == 404


def test_dashboard_empty_state(app, users, login):
    page = login("cora").get("/metrics").get_data(as_text=True)
    assert "0 BUCPs" in page and "no data" in page


def test_seeded_dashboard_is_meaningful(seeded_app):
    from kb.metrics.services import Filters
    from kb.metrics.services import metrics

    with seeded_app.app_context():
        m = metrics(db.session, Filters(), datetime.now(UTC), raw_queries=True)
    assert m["bucps"]["count"] == 3 and m["bucps"]["demo"] == 3
    assert m["bucps"]["approval_days"]["count"] >= 1
    assert m["entries"]["published"] >= 49
    with seeded_app.app_context():
        without = metrics(
            db.session, Filters(include_demo=False), datetime.now(UTC), raw_queries=False
        )
    assert without["bucps"]["count"] == 0
