"""The BUCP workspace over HTTP: creating, sections from snippets, placeholders, where used,
the life cycle and who may do what."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC
from datetime import date
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func
from sqlalchemy import select

from kb.entries.services import revise_entry
from kb.entries.services import snapshot
from kb.extensions import db
from kb.models import AuditEvent
from kb.models import Bucp
from kb.models import BucpSection
from kb.models import ClauseType
from kb.models import Department
from kb.models import Entry
from kb.models import StageEvent
from kb.models import User
from kb.models import utcnow

PURPOSE = "{{ requesting_department }} asks {{ data_provider }} for records of {{ program_name }}."
FALLBACK = "A de-identified extract from {{ data_provider }}."
AVOID = "All the data, for any purpose."


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def workspace(app: Flask, users: dict[str, int], make_entry: Callable[..., Entry]) -> dict:
    """A peer department and published snippets: two purpose clauses (standard, fallback, avoid
    order mixed up on purpose), one data-elements clause and a draft that must not be offered."""
    with app.app_context():
        department = Department(name="Department of Outdoor Recreation", abbreviation="DOR")
        db.session.add(department)
        db.session.commit()
        department_id = department.id

    def snippet(title: str, body: str, clause_type: str, position: str = "standard", **more: Any):
        return make_entry(
            kind="snippet",
            title=title,
            body=body,
            clause_type=clause_type,
            position=position,
            categories=[],
            **more,
        ).id

    return {
        "department": department_id,
        "avoid": snippet("Any purpose at all", AVOID, "use-case-description", "avoid"),
        "fallback": snippet("Narrow purpose", FALLBACK, "use-case-description", "fallback"),
        "standard": snippet("Evaluation purpose", PURPOSE, "use-case-description"),
        "elements": snippet(
            "Element table",
            "Fields {{ program_name }} needs and {{ field_list }}.",
            "data-elements",
        ),
        "draft": snippet("Unfinished purpose", "Not yet.", "use-case-description", status="draft"),
    }


@pytest.fixture
def new_bucp(app: Flask, login: Callable, workspace: dict) -> Callable[..., int]:
    """Create a BUCP through the form as ``user`` (default cora); returns its id."""

    def create(user: str = "cora", **overrides: Any) -> int:
        data = {
            "title": "Healthy Habits and park visits",
            "program": "Healthy Habits",
            "provider_id": str(workspace["department"]),
            "sponsor_role": "Program manager",
            "coordinator_role": "Data Coordinator",
            **overrides,
        }
        response = login(user).post("/bucps", data=data)
        assert response.status_code == 303, text(response)
        return int(response.headers["Location"].rsplit("/", 1)[-1])

    return create


def insert(client, bucp_id: int, slug: str, snippet_id: int):
    return client.post(f"/bucps/{bucp_id}/sections/{slug}/insert", data={"snippet_id": snippet_id})


def section_of(app: Flask, bucp_id: int, slug: str) -> BucpSection:
    with app.app_context():
        section = db.session.scalar(
            select(BucpSection)
            .join(ClauseType)
            .where(BucpSection.bucp_id == bucp_id, ClauseType.slug == slug)
        )
        db.session.expunge(section)
        return section


def publish_revision(app: Flask, entry_id: int, body: str) -> int:
    """A curator-level edit of a published snippet: the next revision, published at once."""
    with app.app_context():
        entry = db.session.get(Entry, entry_id)
        data = {**snapshot(entry), "body": body}
        revise_entry(db.session, entry, data, editor=entry.author, note="Clearer")
        db.session.commit()
        return entry.published_revision


# --- creating and seeing --------------------------------------------------------------------


def test_create_a_bucp(app, users, login, new_bucp):
    bucp_id = new_bucp()
    with app.app_context():
        bucp = db.session.get(Bucp, bucp_id)
        assert bucp.stage == "draft" and bucp.outcome is None and not bucp.is_demo
        assert bucp.program.name == "Healthy Habits" and bucp.provider.abbreviation == "DOR"
        assert [m.user.username for m in bucp.members] == ["cora"]
        types = db.session.scalars(select(ClauseType).order_by(ClauseType.position)).all()
        assert [s.clause_type.slug for s in bucp.sections] == [t.slug for t in types]
        assert [(e.from_stage, e.to_stage) for e in bucp.events] == [(None, "draft")]
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_id == bucp_id)
        )
        assert "bucp.create" in list(actions)
    page = text(login("cora").get(f"/bucps/{bucp_id}"))
    assert "Healthy Habits and park visits" in page
    assert page.index("Business case") < page.index("Technical") < page.index("Administrative")
    assert page.count("Required when disputed") == 4


def test_invalid_bucp_form_is_422_and_keeps_the_input(app, users, login, workspace):
    response = login("cora").post(
        "/bucps", data={"title": "", "program": "Walk2Work typed", "provider_id": ""}
    )
    assert response.status_code == 422
    assert 'value="Walk2Work typed"' in text(response)
    response = login("cora").post(
        "/bucps",
        data={
            "title": "Back-dated",
            "program": "Healthy Habits",
            "provider_id": str(workspace["department"]),
            "started_on": (date.today() - timedelta(days=30)).isoformat(),
        },
    )
    assert response.status_code == 422 and "earlier than today" in text(response)
    with app.app_context():
        assert db.session.scalar(select(func.count(Bucp.id))) == 0


def test_anonymous_is_sent_to_sign_in(app, users, login, new_bucp):
    bucp_id = new_bucp()
    for path in ("/bucps", "/bucps/new", f"/bucps/{bucp_id}", f"/bucps/{bucp_id}/export"):
        response = login(None).get(path)
        assert response.status_code == 303
        assert response.headers["Location"].startswith("/login?next=")


def test_team_and_curators_see_a_bucp_others_get_403(app, users, login, new_bucp):
    bucp_id = new_bucp(title="Visible to the team")
    assert "Visible to the team" in text(login("cora").get("/bucps"))
    outsider = login("cal")
    assert "Visible to the team" not in text(outsider.get("/bucps"))
    assert "No BUCPs yet" in text(outsider.get("/bucps"))
    assert outsider.get(f"/bucps/{bucp_id}").status_code == 403
    assert outsider.get(f"/bucps/{bucp_id}/sections/use-case-name").status_code == 403
    assert (
        outsider.post(f"/bucps/{bucp_id}/stage", data={"to_stage": "submitted"}).status_code == 403
    )
    for curator in ("cu", "ad"):
        assert "Visible to the team" in text(login(curator).get("/bucps"))
        assert login(curator).get(f"/bucps/{bucp_id}").status_code == 200
    assert login("cora").get("/bucps/9999").status_code == 404


def test_team_changes_are_audited_and_grant_access(app, users, login, new_bucp):
    bucp_id = new_bucp()
    cora = login("cora")
    assert cora.post(f"/bucps/{bucp_id}/team", data={"username": "nobody"}).status_code == 422
    assert cora.post(f"/bucps/{bucp_id}/team", data={"username": "CAL"}).status_code == 303
    assert login("cal").get(f"/bucps/{bucp_id}").status_code == 200
    cal_id, cora_id = users["cal"], users["cora"]
    assert cora.post(f"/bucps/{bucp_id}/team/{cal_id}/remove").status_code == 303
    assert login("cal").get(f"/bucps/{bucp_id}").status_code == 403
    response = cora.post(f"/bucps/{bucp_id}/team/{cora_id}/remove")
    assert response.status_code == 409 and "at least one team member" in text(response)
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("bucp.team.%"))
        ).all()
        assert actions == ["bucp.team.add", "bucp.team.remove"]


def test_list_is_paginated_and_filtered_by_stage(app, users, login, new_bucp):
    for n in range(3):
        new_bucp(title=f"BUCP number {n}")
    client = login("cora")
    page = text(client.get("/bucps?per_page=2"))
    assert "3 BUCPs, page 1 of 2" in page and page.count("BUCP number") == 2
    assert "No BUCP you can see is at this stage" in text(client.get("/bucps?stage=approved"))
    fragment = text(client.get("/bucps?stage=draft", headers={"HX-Request": "true"}))
    assert fragment.startswith('\n<section id="bucp-list"') or 'id="bucp-list"' in fragment
    assert "<html" not in fragment and fragment.count("BUCP number") == 3


# --- sections from snippets -----------------------------------------------------------------


def test_clause_picker_orders_positions_and_warns_about_avoid(
    app, users, login, new_bucp, workspace
):
    bucp_id = new_bucp()
    page = text(login("cora").get(f"/bucps/{bucp_id}/sections/use-case-description"))
    order = [page.index(title) for title in ("Evaluation purpose", "Narrow purpose", "Any purpose")]
    assert order == sorted(order)
    assert "Unfinished purpose" not in page and "Element table" not in page
    assert "reviewers reject this wording" in page
    assert f'name="snippet_id" value="{workspace["avoid"]}"' not in page
    assert page.count('data-copy="snippet-text-') == 3
    found = text(
        login("cora").get(
            f"/bucps/{bucp_id}/sections/use-case-description?q=de-identified",
            headers={"HX-Request": "true"},
        )
    )
    assert "Narrow purpose" in found and "Evaluation purpose" not in found and "<html" not in found


def test_insert_pins_the_published_revision(app, users, login, new_bucp, workspace):
    bucp_id = new_bucp()
    revision = publish_revision(app, workspace["standard"], PURPOSE + " Revised.")
    assert revision == 2
    client = login("cora")
    response = insert(client, bucp_id, "use-case-description", workspace["standard"])
    assert response.status_code == 303
    section = section_of(app, bucp_id, "use-case-description")
    assert (section.snippet_id, section.snippet_revision) == (workspace["standard"], 2)
    assert section.text == PURPOSE + " Revised."
    # a second insert appends and pins the newer clause
    insert(client, bucp_id, "use-case-description", workspace["fallback"])
    section = section_of(app, bucp_id, "use-case-description")
    assert section.text == PURPOSE + " Revised.\n\n" + FALLBACK
    assert (section.snippet_id, section.snippet_revision) == (workspace["fallback"], 1)


def test_insert_refuses_other_types_and_drafts(app, users, login, new_bucp, workspace):
    bucp_id = new_bucp()
    client = login("cora")
    wrong = insert(client, bucp_id, "use-case-description", workspace["elements"])
    assert wrong.status_code == 422 and "is not a" in text(wrong)
    assert insert(client, bucp_id, "use-case-description", workspace["draft"]).status_code == 422
    assert insert(client, bucp_id, "no-such-field", workspace["standard"]).status_code == 404
    assert section_of(app, bucp_id, "use-case-description").snippet_id is None


def test_edited_section_shows_where_it_departs_and_conflicts_are_409(
    app, users, login, new_bucp, workspace
):
    bucp_id = new_bucp()
    client = login("cora")
    insert(client, bucp_id, "use-case-description", workspace["fallback"])
    url = f"/bucps/{bucp_id}/sections/use-case-description"
    assert "unchanged" in text(client.get(url))
    version = section_of(app, bucp_id, "use-case-description").version
    edited = "A de-identified and aggregated extract from {{ data_provider }}."
    response = client.post(url, data={"text": edited, "version": version})
    assert response.status_code == 303
    page = text(client.get(url))
    assert "de-identified<ins> and aggregated</ins> extract" in page
    stale = client.post(url, data={"text": "Mine", "version": version})
    assert stale.status_code == 409
    body = text(stale)
    assert "The text saved meanwhile" in body and "Mine</textarea>" in body
    assert section_of(app, bucp_id, "use-case-description").text == edited


# --- placeholders ---------------------------------------------------------------------------


def test_placeholders_are_gathered_once_and_filled_in_place(app, users, login, new_bucp, workspace):
    bucp_id = new_bucp()
    client = login("cora")
    insert(client, bucp_id, "use-case-description", workspace["standard"])
    insert(client, bucp_id, "data-elements", workspace["elements"])
    page = text(client.get(f"/bucps/{bucp_id}"))
    names = re.findall(r'name="value-([a-z_]+)"', page)
    assert names == [
        "requesting_department",
        "data_provider",
        "program_name",
        "field_list",
    ]
    assert "4 placeholders not filled yet" in page
    values = {
        "value-requesting_department": "CDW",
        "value-program_name": "Healthy <Habits>",
        "value-data_provider": "{{ field_list }}",
    }
    assert client.post(f"/bucps/{bucp_id}/placeholders", data=values).status_code == 303
    page = text(client.get(f"/bucps/{bucp_id}"))
    assert '<mark class="ph ph-filled" title="requesting_department">CDW</mark>' in page
    assert "Healthy &lt;Habits&gt;</mark>" in page
    # a value is text, never a template: it is not filled again
    assert '<mark class="ph ph-filled" title="data_provider">{{ field_list }}</mark>' in page
    assert '<mark class="ph ph-missing">{{ field_list }}' in page
    assert "1 placeholder not filled yet" in page
    bad = client.post(f"/bucps/{bucp_id}/placeholders", data={"value-not_used": "x"})
    assert bad.status_code == 422 and "no placeholder not_used" in text(bad)


def test_a_placeholder_name_too_long_to_store_is_422_not_a_server_error(
    app, users, login, new_bucp, workspace
):
    """PostgreSQL enforces the name column's 64 characters where SQLite ignored them."""
    bucp_id = new_bucp()
    client = login("cora")
    insert(client, bucp_id, "use-case-description", workspace["fallback"])
    url = f"/bucps/{bucp_id}/sections/use-case-description"
    version = section_of(app, bucp_id, "use-case-description").version
    fits, too_long = "p" * 64, "q" * 65
    edited = f"Data from {{{{ {fits} }}}} for {{{{ {too_long} }}}}."
    assert client.post(url, data={"text": edited, "version": version}).status_code == 303
    placeholders = f"/bucps/{bucp_id}/placeholders"
    refused = client.post(placeholders, data={f"value-{fits}": "CDW", f"value-{too_long}": "x"})
    assert refused.status_code == 422
    assert "A placeholder name holds up to 64 characters" in text(refused)
    assert client.post(placeholders, data={f"value-{fits}": "CDW"}).status_code == 303
    with app.app_context():
        bucp = db.session.get(Bucp, bucp_id)
        assert {row.name: row.value for row in bucp.placeholders} == {fits: "CDW"}


def test_htmx_placeholder_save_returns_the_panel(app, users, login, new_bucp, workspace):
    bucp_id = new_bucp()
    client = login("cora")
    insert(client, bucp_id, "use-case-description", workspace["standard"])
    response = client.post(
        f"/bucps/{bucp_id}/placeholders",
        data={"value-program_name": "Healthy Habits"},
        headers={"HX-Request": "true", "HX-Target": "bucp-placeholders"},
    )
    body = text(response)
    assert response.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<section id="bucp-placeholders"') or (
        'id="bucp-placeholders"' in body and "bucp-stage" not in body
    )
    assert "Placeholder values saved." in body and 'value="Healthy Habits"' in body


# --- where used and newer revisions ---------------------------------------------------------


def test_where_used_and_the_newer_revision_update(app, users, login, new_bucp, workspace):
    bucp_id = new_bucp(title="Uses the purpose clause")
    client = login("cora")
    insert(client, bucp_id, "use-case-description", workspace["standard"])
    entry_page = text(client.get(f"/entries/{workspace['standard']}"))
    assert "Uses the purpose clause" in entry_page
    assert "Use case description / purpose: revision 1" in entry_page
    assert 'data-copy="clause-source-' in entry_page
    outsider = text(login("cal").get(f"/entries/{workspace['standard']}"))
    assert "Uses the purpose clause" not in outsider and "Also used in 1 BUCP" in outsider

    publish_revision(app, workspace["standard"], PURPOSE + " Results go to the Legislature.")
    assert "Revision 2 is published." in text(client.get(f"/bucps/{bucp_id}"))
    assert "(revision 2 is newer)" in text(client.get(f"/entries/{workspace['standard']}"))
    url = f"/bucps/{bucp_id}/sections/use-case-description"
    page = text(client.get(url))
    assert "Update to revision 2" in page and "Results go to the Legislature.</ins>" in page
    response = client.post(f"{url}/update", data={"revision": 2})
    assert response.status_code == 303
    section = section_of(app, bucp_id, "use-case-description")
    assert section.snippet_revision == 2 and section.text.endswith("Legislature.")
    assert client.post(f"{url}/update", data={"revision": 2}).status_code == 409
    assert "Use case description / purpose: revision 2" in text(
        client.get(f"/entries/{workspace['standard']}")
    )


def test_update_of_an_edited_section_needs_consent(app, users, login, new_bucp, workspace):
    bucp_id = new_bucp()
    client = login("cora")
    insert(client, bucp_id, "use-case-description", workspace["fallback"])
    url = f"/bucps/{bucp_id}/sections/use-case-description"
    version = section_of(app, bucp_id, "use-case-description").version
    client.post(url, data={"text": "Our own words.", "version": version})
    publish_revision(app, workspace["fallback"], "A new fallback text.")
    refused = client.post(f"{url}/update", data={"revision": 2})
    assert refused.status_code == 409 and "edited since the clause was inserted" in text(refused)
    assert section_of(app, bucp_id, "use-case-description").text == "Our own words."
    assert (
        client.post(f"{url}/update", data={"revision": 2, "replace_edits": "1"}).status_code == 303
    )
    section = section_of(app, bucp_id, "use-case-description")
    assert (section.text, section.snippet_revision) == ("A new fallback text.", 2)


# --- life cycle -----------------------------------------------------------------------------


def move(client, bucp_id: int, stage: str, on: date | None = None, note: str = "", **headers):
    data = {"to_stage": stage, "on": on.isoformat() if on else "", "note": note}
    return client.post(f"/bucps/{bucp_id}/stage", data=data, headers=headers)


def events_of(app: Flask, bucp_id: int) -> list[StageEvent]:
    with app.app_context():
        events = db.session.scalars(
            select(StageEvent).where(StageEvent.bucp_id == bucp_id).order_by(StageEvent.id)
        ).all()
        db.session.expunge_all()
        return list(events)


def test_transitions_follow_the_life_cycle_with_dated_events(app, users, login, new_bucp):
    today = utcnow().astimezone(UTC).date()
    bucp_id = new_bucp(
        started_on=(today - timedelta(days=40)).isoformat(), note="Entered from the log"
    )
    client = login("cora")
    refused = move(client, bucp_id, "approved")
    assert refused.status_code == 409 and "cannot move from draft to approved" in text(refused)
    assert move(client, bucp_id, "submitted", today - timedelta(days=30)).status_code == 422
    early = move(client, bucp_id, "submitted", today - timedelta(days=50), note="From the log")
    assert early.status_code == 422 and "before the previous stage change" in text(early)
    future = move(client, bucp_id, "submitted", today + timedelta(days=1))
    assert future.status_code == 422 and "future" in text(future)
    assert move(client, bucp_id, "submitted", today - timedelta(days=30), "Log").status_code == 303
    assert move(client, bucp_id, "legal-review").status_code == 303
    events = events_of(app, bucp_id)
    assert [(e.from_stage, e.to_stage) for e in events] == [
        (None, "draft"),
        ("draft", "submitted"),
        ("submitted", "legal-review"),
    ]
    assert events[0].at.date() == today - timedelta(days=40)
    assert events[1].at.date() == today - timedelta(days=30) and events[1].note == "Log"
    assert events[2].at.date() == today and [e.at for e in events] == sorted(e.at for e in events)
    with app.app_context():
        audited = db.session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "bucp.stage")
        ).all()
        assert [d["to_stage"] for d in audited] == ["submitted", "legal-review"]


def test_no_transition_out_of_a_final_stage(app, users, login, new_bucp):
    bucp_id = new_bucp()
    client = login("cora")
    for stage in ("submitted", "legal-review", "security-review", "denied"):
        assert move(client, bucp_id, stage).status_code == 303, stage
    with app.app_context():
        bucp = db.session.get(Bucp, bucp_id)
        assert (bucp.stage, bucp.outcome) == ("denied", "denied")
    refused = move(client, bucp_id, "submitted")
    assert refused.status_code == 409 and "a final stage" in text(refused)
    assert len(events_of(app, bucp_id)) == 5
    page = text(client.get(f"/bucps/{bucp_id}"))
    assert "Denied is a final stage" in page and "Record the change" not in page


def test_dispute_mediation_and_approval(app, users, login, new_bucp):
    bucp_id = new_bucp()
    client = login("cora")
    for stage in ("submitted", "legal-review", "security-review", "disputed", "mediation"):
        assert move(client, bucp_id, stage).status_code == 303, stage
    assert client.post(f"/bucps/{bucp_id}/disputes", data={"description": ""}).status_code == 422
    response = client.post(
        f"/bucps/{bucp_id}/disputes", data={"description": "Too many data elements."}
    )
    assert response.status_code == 303
    with app.app_context():
        dispute_id = db.session.get(Bucp, bucp_id).disputes[0].id
    url = f"/bucps/{bucp_id}/disputes/{dispute_id}/resolve"
    assert client.post(url, data={"resolution": "Aggregated to county."}).status_code == 303
    assert client.post(url, data={"resolution": "Again"}).status_code == 409
    assert move(client, bucp_id, "approved").status_code == 303
    with app.app_context():
        bucp = db.session.get(Bucp, bucp_id)
        assert bucp.outcome == "approved"
        assert bucp.disputes[0].resolution == "Aggregated to county."
    page = text(client.get(f"/bucps/{bucp_id}"))
    assert "Too many data elements." in page and "Aggregated to county." in page


def test_a_refused_dispute_form_is_shown_open_with_what_was_typed(app, users, login, new_bucp):
    bucp_id = new_bucp()
    client = login("cora")
    for stage in ("submitted", "legal-review", "security-review", "disputed"):
        assert move(client, bucp_id, stage).status_code == 303, stage
    for description in ("First disagreement.", "Second disagreement."):
        response = client.post(f"/bucps/{bucp_id}/disputes", data={"description": description})
        assert response.status_code == 303
    too_long = "Too long " + "x" * 20_000
    refused = client.post(f"/bucps/{bucp_id}/disputes", data={"description": too_long})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "holds up to 20,000 characters" in html
    new_form = html[html.index("Record a dispute") - 200 :]
    assert "<details open>" in new_form and too_long in new_form
    with app.app_context():
        first, second = (d.id for d in db.session.get(Bucp, bucp_id).disputes)
    typed = "Resolved " + "y" * 20_000
    refused = client.post(f"/bucps/{bucp_id}/disputes/{second}/resolve", data={"resolution": typed})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and html.count(typed) == 1
    # the form of the dispute being resolved is open; the other one's is closed and empty
    resolving = html.rfind("<details", 0, html.index(f'id="resolution-{second}"'))
    assert html.startswith("<details open>", resolving)
    closed = html.rfind("<details", 0, html.index(f'id="resolution-{first}"'))
    assert html.startswith("<details>", closed)
    other = re.search(rf'<textarea id="resolution-{first}"[^>]*>([^<]*)</textarea>', html)
    assert other and other.group(1) == ""


def test_htmx_transition_swaps_the_stage_panel_with_real_status(app, users, login, new_bucp):
    bucp_id = new_bucp()
    headers = {"HX-Request": "true", "HX-Target": "bucp-stage"}
    client = login("cora")
    refused = move(client, bucp_id, "signed", **headers)
    assert refused.status_code == 409
    body = text(refused)
    assert 'id="bucp-stage"' in body and "<html" not in body and "cannot move" in body
    done = move(client, bucp_id, "submitted", **headers)
    assert done.status_code == 200 and "Moved to submitted to the provider." in text(done)


def test_lessons_and_solutions(app, users, login, new_bucp, make_entry, workspace):
    lesson_id = make_entry(title="Ask only for what you need").id
    bucp_id = new_bucp()
    client = login("cora")
    assert client.post(f"/bucps/{bucp_id}/lessons", data={"entry_id": lesson_id}).status_code == 303
    assert (
        client.post(
            f"/bucps/{bucp_id}/lessons", data={"entry_id": workspace["standard"]}
        ).status_code
        == 422
    )
    assert "Ask only for what you need" in text(client.get(f"/bucps/{bucp_id}"))
    with app.app_context():
        version = db.session.get(Bucp, bucp_id).version
    data = {
        "title": "Renamed",
        "program": "Healthy Habits",
        "provider_id": str(workspace["department"]),
        "statutory_solutions": ["de-identification", "aggregation"],
        "version": version,
    }
    assert client.post(f"/bucps/{bucp_id}", data=data).status_code == 303
    stale = client.post(f"/bucps/{bucp_id}", data={**data, "title": "Again"})
    assert stale.status_code == 409
    with app.app_context():
        bucp = db.session.get(Bucp, bucp_id)
        assert bucp.title == "Renamed"
        assert bucp.statutory_solutions == ["aggregation", "de-identification"]
        assert [lesson.id for lesson in bucp.lessons] == [lesson_id]


# --- demo seed ------------------------------------------------------------------------------


def test_demo_bucps_are_seeded_at_different_stages(seeded_app):
    with seeded_app.app_context():
        bucps = db.session.scalars(select(Bucp).order_by(Bucp.created_at)).all()
        assert len(bucps) == 3 and all(b.is_demo for b in bucps)
        assert sorted(b.stage for b in bucps) == ["fulfillment", "security-review", "signed"]
        for bucp in bucps:
            times = [e.at for e in bucp.events]
            assert times == sorted(times) and bucp.events[0].to_stage == "draft"
            assert all(e.at < utcnow() - timedelta(days=30) for e in bucp.events)
            pinned = [s for s in bucp.sections if s.snippet is not None]
            assert pinned and all(s.snippet.is_demo for s in pinned)
            assert all(s.snippet_revision == s.snippet.published_revision for s in pinned)
            assert bucp.placeholders
        disputed = next(b for b in bucps if "disputed" in {e.to_stage for e in b.events})
        assert disputed.outcome == "approved" and disputed.disputes[0].resolved_at is not None
        system = db.session.scalar(select(User).where(User.is_system.is_(True)))
        assert all(b.created_by_id == system.id and not b.members for b in bucps)
