"""Procedures over HTTP: creating and editing, steps and their order, citations pinned to a
revision, backlinks, newer-revision warnings, who may do what, exports and the demo seed."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import docx
import pytest
from flask import Flask
from sqlalchemy import select

from kb.entries.services import revise_entry
from kb.entries.services import snapshot
from kb.extensions import db
from kb.models import AuditEvent
from kb.models import Entry
from kb.models import Procedure
from kb.models import ProcedureStep

FIRST_BODY = "Invite the information security office to the kickoff meeting."
SECOND_BODY = "Invite the information security office to the very first planning meeting."


def text(response) -> str:
    return response.get_data(as_text=True)


def publish_revision(app: Flask, entry_id: int, body: str) -> int:
    """A curator-level edit of a published entry: the next revision, published at once."""
    with app.app_context():
        entry = db.session.get(Entry, entry_id)
        revise_entry(
            db.session, entry, {**snapshot(entry), "body": body}, editor=entry.author, note="x"
        )
        db.session.commit()
        return entry.published_revision


def steps_of(app: Flask, procedure_id: int) -> list[ProcedureStep]:
    with app.app_context():
        procedure = db.session.get(Procedure, procedure_id)
        steps = list(procedure.steps)
        for step in steps:
            db.session.expunge(step)
        return steps


def procedure_of(app: Flask, procedure_id: int) -> Procedure:
    with app.app_context():
        procedure = db.session.get(Procedure, procedure_id)
        db.session.expunge(procedure)
        return procedure


@pytest.fixture
def lesson(make_entry: Callable[..., Entry]) -> int:
    """A published lesson to cite."""
    return make_entry(title="Bring your information security team in early", body=FIRST_BODY).id


@pytest.fixture
def new_procedure(app: Flask, users: dict[str, int], login: Callable) -> Callable[..., int]:
    """Create a procedure through the form as ``user`` (default cora); returns its id."""

    def create(user: str = "cora", **overrides: Any) -> int:
        data = {
            "title": "Preparing for the security review",
            "audience": "BUCP coordinators",
            "purpose": "What to settle *before* the review.",
            **overrides,
        }
        response = login(user).post("/procedures", data=data)
        assert response.status_code == 303, text(response)
        assert re.search(r"/procedures/\d+/edit$", response.headers["Location"])
        return int(response.headers["Location"].split("/")[-2])

    return create


def add_step(client, procedure_id: int, heading: str, instructions: str = "", **headers):
    return client.post(
        f"/procedures/{procedure_id}/steps",
        data={"new-heading": heading, "new-instructions": instructions},
        headers=headers,
    )


@pytest.fixture
def built(app: Flask, login: Callable, new_procedure: Callable, lesson: int) -> dict[str, Any]:
    """cora's draft with three steps; the second cites the lesson (at revision 1)."""
    procedure_id = new_procedure()
    cora = login("cora")
    for heading in ("Invite security", "Walk the approval process", "Record the outcome"):
        assert add_step(cora, procedure_id, heading, f"Do: {heading}.").status_code == 303
    steps = steps_of(app, procedure_id)
    response = cora.post(
        f"/procedures/{procedure_id}/steps/{steps[1].id}/cite", data={"entry_id": lesson}
    )
    assert response.status_code == 303
    return {"id": procedure_id, "steps": [s.id for s in steps], "client": cora}


# --- creating and editing -------------------------------------------------------------------


def test_create_a_procedure_as_a_draft(app, login, new_procedure):
    procedure_id = new_procedure()
    procedure = procedure_of(app, procedure_id)
    assert procedure.status == "draft" and procedure.version == 1 and not procedure.is_demo
    assert procedure.title == "Preparing for the security review"
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_type == "procedure")
        ).all()
        assert actions == ["procedure.create"]
    page = text(login("cora").get(f"/procedures/{procedure_id}/edit"))
    assert "Add a step" in page and 'name="version" type="hidden" value="1"' in page


def test_invalid_procedure_form_is_422_and_keeps_the_input(app, users, login):
    response = login("cora").post(
        "/procedures", data={"title": "  ", "audience": "Typed audience", "purpose": "Kept"}
    )
    assert response.status_code == 422
    page = text(response)
    assert 'value="Typed audience"' in page and "\nKept</textarea>" in page
    assert "Give the procedure a title" in page
    with app.app_context():
        assert db.session.scalar(select(Procedure.id)) is None


def test_update_the_header_bumps_the_version(app, login, new_procedure):
    procedure_id = new_procedure()
    response = login("cora").post(
        f"/procedures/{procedure_id}",
        data={"version": "1", "title": "Security review: what to prepare", "audience": "All"},
    )
    assert response.status_code == 303
    procedure = procedure_of(app, procedure_id)
    assert procedure.title == "Security review: what to prepare" and procedure.version == 2


def test_a_stale_header_save_is_409_with_both_versions(app, login, new_procedure):
    procedure_id = new_procedure()
    cora = login("cora")
    first = {"version": "1", "title": "Saved first", "audience": "Coordinators"}
    assert cora.post(f"/procedures/{procedure_id}", data=first).status_code == 303
    stale = {"version": "1", "title": "Typed in the old form", "purpose": "Mine"}
    response = login("cu").post(f"/procedures/{procedure_id}", data=stale)
    assert response.status_code == 409
    page = text(response)
    assert "The details saved meanwhile" in page and "Saved first" in page
    assert 'value="Typed in the old form"' in page and 'value="2"' in page
    assert procedure_of(app, procedure_id).title == "Saved first"


def test_header_422_on_update_keeps_the_input(app, login, new_procedure):
    procedure_id = new_procedure()
    response = login("cora").post(
        f"/procedures/{procedure_id}", data={"version": "1", "title": "", "audience": "x" * 201}
    )
    assert response.status_code == 422
    assert "Give the procedure a title" in text(response)
    assert procedure_of(app, procedure_id).version == 1


# --- steps ----------------------------------------------------------------------------------


def test_add_edit_remove_and_reorder_steps(app, login, new_procedure):
    procedure_id = new_procedure()
    cora = login("cora")
    for heading in ("One", "Two", "Three"):
        response = add_step(cora, procedure_id, heading, f"Instructions of {heading}.")
        assert response.status_code == 303
        assert re.search(
            rf"/procedures/{procedure_id}/edit#step-\d+$", response.headers["Location"]
        )
    one, two, three = (step.id for step in steps_of(app, procedure_id))

    response = cora.post(f"/procedures/{procedure_id}/steps/{three}/move", data={"direction": "up"})
    assert response.status_code == 303
    assert [s.id for s in steps_of(app, procedure_id)] == [one, three, two]
    assert [s.position for s in steps_of(app, procedure_id)] == [1, 2, 3]
    page = text(cora.get(f"/procedures/{procedure_id}"))
    assert page.index("Step 1.</span> One") < page.index("Step 2.</span> Three")
    assert page.index("Step 2.</span> Three") < page.index("Step 3.</span> Two")

    cora.post(f"/procedures/{procedure_id}/steps/{one}/move", data={"direction": "down"})
    assert [s.id for s in steps_of(app, procedure_id)] == [three, one, two]

    response = cora.post(
        f"/procedures/{procedure_id}/steps/{one}",
        data={f"step-{one}-heading": "One, renamed", f"step-{one}-instructions": "New."},
    )
    assert response.status_code == 303
    response = cora.post(f"/procedures/{procedure_id}/steps/{three}/remove")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/procedures/{procedure_id}/edit#procedure-steps")
    steps = steps_of(app, procedure_id)
    assert [(s.position, s.heading, s.instructions) for s in steps] == [
        (1, "One, renamed", "New."),
        (2, "Two", "Instructions of Two."),
    ]


def test_moving_past_an_end_changes_nothing_and_says_so(app, login, new_procedure):
    procedure_id = new_procedure()
    cora = login("cora")
    add_step(cora, procedure_id, "Only one")
    (step,) = steps_of(app, procedure_id)
    response = cora.post(
        f"/procedures/{procedure_id}/steps/{step.id}/move",
        data={"direction": "up"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "“Only one” is already first." in text(response)
    response = cora.post(
        f"/procedures/{procedure_id}/steps/{step.id}/move", data={"direction": "sideways"}
    )
    assert response.status_code == 422


def test_htmx_step_posts_answer_with_the_steps_list(app, login, new_procedure):
    procedure_id = new_procedure()
    cora = login("cora")
    response = add_step(cora, procedure_id, "First", **{"HX-Request": "true"})
    assert response.status_code == 200
    page = text(response)
    assert 'id="procedure-steps"' in page and "<html" not in page
    assert "Added step 1, “First”." in page
    assert "HX-Request" in response.headers["Vary"]
    (step,) = steps_of(app, procedure_id)
    assert f'id="move-up-{step.id}"' in page and 'aria-disabled="true"' in page


def test_a_bad_step_is_422_and_keeps_the_input(app, login, new_procedure):
    procedure_id = new_procedure()
    cora = login("cora")
    response = add_step(cora, procedure_id, "", "Typed instructions", **{"HX-Request": "true"})
    assert response.status_code == 422
    page = text(response)
    assert 'id="procedure-steps"' in page and "<html" not in page
    assert "Typed instructions</textarea>" in page and "Give the step a heading" in page
    response = add_step(cora, procedure_id, "h" * 201, "Kept without htmx")
    assert response.status_code == 422
    assert "<html" in text(response) and "Kept without htmx</textarea>" in text(response)

    add_step(cora, procedure_id, "Saved heading")
    (step,) = steps_of(app, procedure_id)
    response = cora.post(
        f"/procedures/{procedure_id}/steps/{step.id}",
        data={f"step-{step.id}-heading": "", f"step-{step.id}-instructions": "Edited text"},
    )
    assert response.status_code == 422
    assert "Edited text</textarea>" in text(response)
    assert re.search(r"<details class=\"step-edit\" open>", text(response))
    assert steps_of(app, procedure_id)[0].heading == "Saved heading"


def test_an_unknown_step_is_404(app, login, new_procedure, built):
    other = new_procedure(title="Another")
    response = built["client"].post(f"/procedures/{other}/steps/{built['steps'][0]}/remove")
    assert response.status_code == 404


# --- citing and pinning ---------------------------------------------------------------------


def test_citing_pins_the_published_revision(app, login, new_procedure, lesson, make_entry):
    assert publish_revision(app, lesson, SECOND_BODY) == 2
    procedure_id = new_procedure()
    cora = login("cora")
    add_step(cora, procedure_id, "Invite security")
    (step,) = steps_of(app, procedure_id)
    response = cora.post(
        f"/procedures/{procedure_id}/steps/{step.id}/cite",
        data={"entry_id": lesson},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "cites “Bring your information security team in early” (revision 2)" in text(response)
    (step,) = steps_of(app, procedure_id)
    assert (step.cited_entry_id, step.cited_revision) == (lesson, 2)
    page = text(cora.get(f"/procedures/{procedure_id}"))
    assert "very first planning meeting" in page and "revision 2" in page
    assert f'class="source-link" href="http://localhost/entries/{lesson}"' in page

    draft = make_entry(title="Unfinished lesson", status="draft").id
    for entry_id in (draft, 0, 99999):
        response = cora.post(
            f"/procedures/{procedure_id}/steps/{step.id}/cite", data={"entry_id": entry_id}
        )
        assert response.status_code == 422
        assert "Only a published lesson or clause can be cited" in text(response)
    assert steps_of(app, procedure_id)[0].cited_revision == 2


def test_the_pinned_text_stays_when_the_entry_changes(app, built, lesson):
    """Does a procedure keep showing the revision it cited after the entry is revised?"""
    publish_revision(app, lesson, SECOND_BODY)
    page = text(built["client"].get(f"/procedures/{built['id']}"))
    pinned = re.search(r'<blockquote class="prose pinned-text">(.*?)</blockquote>', page, re.S)
    assert FIRST_BODY in pinned.group(1) and "very first planning" not in pinned.group(1)
    assert "revision 1</span>" in page


def test_inline_search_finds_published_entries_to_cite(app, login, built, make_entry):
    make_entry(title="Security checklist draft", body="security security", status="draft")
    step = built["steps"][0]
    url = f"/procedures/{built['id']}/steps/{step}/cite?q=security"
    page = text(login("cu").get(url))  # even a curator is offered published entries only
    assert "<html" in page and "Bring your information security team in early" in page
    assert "Security checklist draft" not in page
    assert f'action="/procedures/{built["id"]}/steps/{step}/cite" method="post"' in page
    response = login("cora").get(url, headers={"HX-Request": "true"})
    fragment = text(response)
    assert f'id="cite-results-{step}"' in fragment and "<html" not in fragment
    assert 'hx-post="' in fragment and "Cite<span" in fragment
    empty = text(login("cora").get(url.replace("security", "zebraxylophone")))
    assert "No published lesson or clause matches" in empty


def test_remove_a_citation(app, built):
    step = built["steps"][1]
    response = built["client"].post(f"/procedures/{built['id']}/steps/{step}/uncite")
    assert response.status_code == 303
    assert steps_of(app, built["id"])[1].cited_entry_id is None


# --- newer revisions ------------------------------------------------------------------------


def test_a_newer_revision_is_shown_with_its_diff_and_can_be_taken(app, login, built, lesson):
    procedure_id, step = built["id"], built["steps"][1]
    cora = built["client"]
    assert "is published.</strong>" not in text(cora.get(f"/procedures/{procedure_id}"))
    publish_revision(app, lesson, SECOND_BODY)

    page = text(cora.get(f"/procedures/{procedure_id}"))
    assert "1 cited entry has a newer published revision" in page
    assert "Revision 2 of “Bring your information security team in early” is published" in page
    assert "<del>kickoff</del>" in page and "<ins>very first planning</ins>" in page
    assert "Update the citation to revision 2" in page
    assert FIRST_BODY in page  # the pinned text is still revision 1's

    cora.post(f"/procedures/{procedure_id}/publish")
    anonymous = text(login(None).get(f"/procedures/{procedure_id}"))
    assert "<del>kickoff</del>" in anonymous
    assert "Update the citation" not in anonymous
    assert "Update the citation" not in text(login("cal").get(f"/procedures/{procedure_id}"))

    url = f"/procedures/{procedure_id}/steps/{step}/citation"
    assert cora.post(url, data={"revision": "3"}).status_code == 409
    response = cora.post(url, data={"revision": "2", "back": "detail"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/procedures/{procedure_id}#step-{step}")
    assert steps_of(app, procedure_id)[1].cited_revision == 2
    page = text(cora.get(f"/procedures/{procedure_id}"))
    assert "newer published revision" not in page and SECOND_BODY in page
    assert cora.post(url, data={"revision": "2"}).status_code == 409
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "procedure.citation.update")
        ).one()
        assert event.detail["revision"] == 2 and event.detail["previous"] == 1


def test_curators_may_update_a_citation_others_may_not(app, login, built, lesson):
    publish_revision(app, lesson, SECOND_BODY)
    built["client"].post(f"/procedures/{built['id']}/publish")
    url = f"/procedures/{built['id']}/steps/{built['steps'][1]}/citation"
    assert login("cal").post(url, data={"revision": "2"}).status_code == 403
    assert login(None).post(url, data={"revision": "2"}).status_code == 303  # to sign in
    assert steps_of(app, built["id"])[1].cited_revision == 1
    response = login("cu").post(url, data={"revision": "2"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'id="procedure-steps"' in text(response)
    assert steps_of(app, built["id"])[1].cited_revision == 2


# --- backlinks ------------------------------------------------------------------------------


def test_entry_pages_say_which_procedures_cite_them(app, login, new_procedure, built, lesson):
    built["client"].post(f"/procedures/{built['id']}/publish")
    cal = login("cal")
    hidden = new_procedure("cal", title="Cal's unfinished draft")
    add_step(cal, hidden, "Step")
    (step,) = steps_of(app, hidden)
    cal.post(f"/procedures/{hidden}/steps/{step.id}/cite", data={"entry_id": lesson})

    page = text(login(None).get(f"/entries/{lesson}"))
    assert "Cited in 2 procedures" in page
    assert f'href="/procedures/{built["id"]}">Preparing for the security review</a>' in page
    assert "Cal&#39;s unfinished draft" not in page and "1 of them is a draft" in page
    page = text(cal.get(f"/entries/{lesson}"))
    assert 'Cal&#39;s unfinished draft</a> <span class="meta">(draft)</span>' in page
    assert "of them is a draft" not in page
    page = text(login("cu").get(f"/entries/{lesson}"))
    assert "Cal&#39;s unfinished draft" in page and "Preparing for the security review" in page


def test_an_uncited_entry_says_nothing(login, lesson):
    assert "Cited in" not in text(login(None).get(f"/entries/{lesson}"))


# --- who may do what ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "draft", "published"),
    [("cora", 200, 200), ("cal", 404, 200), ("cu", 200, 200), ("ad", 200, 200), (None, 404, 200)],
)
def test_who_may_read_drafts_and_published_procedures(login, built, user, draft, published):
    procedure_id, owner = built["id"], built["client"]
    client = login(user)
    for url in (f"/procedures/{procedure_id}", f"/procedures/{procedure_id}/export?format=md"):
        assert client.get(url).status_code == draft
    listed = "Preparing for the security review" in text(client.get("/procedures"))
    assert listed == (draft == 200)
    assert owner.post(f"/procedures/{procedure_id}/publish").status_code == 303
    for url in (f"/procedures/{procedure_id}", f"/procedures/{procedure_id}/export?format=md"):
        assert client.get(url).status_code == published
    assert "Preparing for the security review" in text(client.get("/procedures"))


WRITES = [
    ("get", "/edit", {}),
    ("post", "", {"version": "1", "title": "Taken over"}),
    ("post", "/steps", {"new-heading": "Sneaked in"}),
    ("post", "/steps/{step}/move", {"direction": "down"}),
    ("post", "/steps/{step}/remove", {}),
    ("post", "/steps/{step}/uncite", {}),
    ("get", "/steps/{step}/cite?q=security", {}),
    ("post", "/unpublish", {}),
]


@pytest.mark.parametrize(("method", "path", "data"), WRITES)
def test_only_the_owner_and_curators_change_a_procedure(app, login, built, method, path, data):
    procedure_id = built["id"]
    built["client"].post(f"/procedures/{procedure_id}/publish")
    url = f"/procedures/{procedure_id}" + path.format(step=built["steps"][0])
    before = [(s.id, s.heading, s.cited_entry_id) for s in steps_of(app, procedure_id)]
    response = getattr(login("cal"), method)(url, data=data)
    assert response.status_code == 403
    response = getattr(login(None), method)(url, data=data)
    assert response.status_code == 303 and "/login?next=" in response.headers["Location"]
    assert [(s.id, s.heading, s.cited_entry_id) for s in steps_of(app, procedure_id)] == before
    assert procedure_of(app, procedure_id).status == "published"
    response = getattr(login("cu"), method)(url, data=data)
    assert response.status_code in (200, 303)


def test_publishing_needs_a_step_and_a_draft(app, login, new_procedure):
    procedure_id = new_procedure()
    cora = login("cora")
    response = cora.post(f"/procedures/{procedure_id}/publish")
    assert response.status_code == 409 and "Add at least one step" in text(response)
    add_step(cora, procedure_id, "Only step")
    assert login("cal").post(f"/procedures/{procedure_id}/publish").status_code == 404
    response = cora.post(f"/procedures/{procedure_id}/publish")
    assert response.status_code == 303
    assert procedure_of(app, procedure_id).status == "published"
    assert cora.post(f"/procedures/{procedure_id}/publish").status_code == 409
    assert login("cu").post(f"/procedures/{procedure_id}/unpublish").status_code == 303
    assert procedure_of(app, procedure_id).status == "draft"
    assert login("cal").get(f"/procedures/{procedure_id}").status_code == 404


def test_anonymous_readers_need_a_sign_in_when_reading_needs_one(app, built):
    built["client"].post(f"/procedures/{built['id']}/publish")
    app.config["READ_ACCESS"] = "login"
    response = app.test_client().get(f"/procedures/{built['id']}")
    assert response.status_code == 303 and "/login" in response.headers["Location"]


def test_new_procedure_needs_a_sign_in(app, users, login):
    response = login(None).get("/procedures/new")
    assert response.status_code == 303 and "/login?next=" in response.headers["Location"]
    assert "New procedure" not in text(login(None).get("/procedures"))
    assert "New procedure" in text(login("cal").get("/procedures"))


def test_csrf_is_checked_on_every_post(app, login, built):
    app.config["WTF_CSRF_ENABLED"] = True
    cora, procedure_id, step = built["client"], built["id"], built["steps"][0]
    response = add_step(cora, procedure_id, "Without a token", "Kept text")
    assert response.status_code == 400 and "Kept text</textarea>" in text(response)
    move = f"/procedures/{procedure_id}/steps/{step}/move"
    assert cora.post(move, data={"direction": "down"}).status_code == 400
    page = text(cora.get(f"/procedures/{procedure_id}/edit"))
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    response = cora.post(move, data={"direction": "down"}, headers={"X-CSRFToken": token})
    assert response.status_code == 303
    assert steps_of(app, procedure_id)[1].id == step


# --- the list -------------------------------------------------------------------------------


def test_the_list_searches_titles_and_pages(app, login, new_procedure):
    for n in range(3):
        new_procedure(title=f"Onboarding part {n}")
    new_procedure(title="Security review")
    cora = login("cora")
    page = text(cora.get("/procedures?q=onboarding+part"))
    assert "3 procedures with “onboarding part” in the title" in page
    assert "Security review" not in page
    page = text(cora.get("/procedures?per_page=2&page=2"))
    assert "page 2 of 2" in page and "Security review" in page
    response = cora.get("/procedures?q=security", headers={"HX-Request": "true"})
    assert 'id="procedure-list"' in text(response) and "<html" not in text(response)
    empty = text(cora.get("/procedures?q=nothing-like-this"))
    assert "No procedure you can see has “nothing-like-this” in its title." in empty


def test_the_empty_list_invites_a_first_procedure(app, users, login):
    assert "Write the first one" in text(login("cora").get("/procedures"))
    page = text(login(None).get("/procedures"))
    assert "No procedures yet." in page and "Write the first one" not in page


# --- exports --------------------------------------------------------------------------------


def test_word_export_has_the_numbered_steps_and_the_cited_text(app, built, lesson):
    procedure_id = built["id"]
    built["client"].post(
        f"/procedures/{procedure_id}/steps/{built['steps'][2]}/move", data={"direction": "up"}
    )
    publish_revision(app, lesson, SECOND_BODY)  # the export keeps the pinned revision 1
    response = built["client"].get(f"/procedures/{procedure_id}/export?format=docx")
    assert response.status_code == 200
    assert response.mimetype.endswith("wordprocessingml.document")
    assert re.search(
        rf"filename=procedure-{procedure_id}-preparing-for-the-security-review\.docx",
        response.headers["Content-Disposition"],
    )
    document = docx.Document(io.BytesIO(response.data))
    headings = [
        (p.style.name, p.text) for p in document.paragraphs if p.style.name.startswith("Heading")
    ]
    assert [t for s, t in headings if s == "Heading 2"] == [
        "Step 1. Invite security",
        "Step 2. Record the outcome",
        "Step 3. Walk the approval process",
    ]
    assert ("Heading 3", "Lesson cited: Bring your information security team in early") in headings
    body = "\n".join(p.text for p in document.paragraphs)
    assert FIRST_BODY in body and SECOND_BODY not in body
    assert f"revision 1: http://localhost/entries/{lesson}" in body
    assert document.paragraphs[0].text == "Preparing for the security review"
    assert "What to settle before the review." in body  # Markdown emphasis as formatting


def test_markdown_export_has_the_steps_in_order(app, built, lesson):
    response = built["client"].get(f"/procedures/{built['id']}/export?format=md")
    assert response.status_code == 200 and response.mimetype == "text/markdown"
    markdown = text(response)
    assert markdown.startswith("# Preparing for the security review\n")
    headings = re.findall(r"^### (.+)$", markdown, flags=re.M)
    assert headings == [
        "Step 1. Invite security",
        "Step 2. Walk the approval process",
        "Step 3. Record the outcome",
    ]
    cited = markdown.split("### Step 2.")[1].split("### Step 3.")[0]
    assert (
        f"[Bring your information security team in early](http://localhost/entries/{lesson})"
        in cited
    )
    assert f"> {FIRST_BODY}" in cited and "(revision 1)" in cited


@pytest.mark.parametrize("kind", ["pdf", "", "DOCX"])
def test_other_export_formats_are_400(built, kind):
    response = built["client"].get(f"/procedures/{built['id']}/export?format={kind}")
    assert response.status_code == 400


def test_the_page_prints_without_navigation_and_with_source_addresses(built):
    page = text(built["client"].get(f"/procedures/{built['id']}"))
    assert "css/procedures.css" in page and "Print command" in page
    with open("static/css/procedures.css", encoding="utf-8") as handle:
        css = handle.read()
    printed = css.split("@media print")[1]
    assert ".procedure-page nav" in printed and ".procedure-page form" in printed
    assert ".procedure-page button" in printed
    assert '<div class="procedure-page">' in page
    assert 'a.source-link::after { content: " (" attr(href) ")"' in printed


def test_preview_hides_the_owner_controls(built):
    page = text(built["client"].get(f"/procedures/{built['id']}?preview=1"))
    assert "Preview: this is how readers see the procedure once it is published" in page
    assert ">Edit</a>" not in page and ">Publish</button>" not in page
    page = text(built["client"].get(f"/procedures/{built['id']}"))
    assert ">Edit</a>" in page and ">Publish</button>" in page


# --- the demo seed --------------------------------------------------------------------------


def test_seed_demo_adds_two_published_procedures_citing_lessons_once(app, runner):
    result = runner.invoke(args=["seed", "--demo"])
    assert result.exit_code == 0, result.output
    assert "2 procedures" in result.output
    result = runner.invoke(args=["seed", "--demo"])
    assert "Nothing to add" in result.output and "2 procedures" in result.output
    with app.app_context():
        procedures = db.session.scalars(select(Procedure).order_by(Procedure.title)).all()
        assert [p.title for p in procedures] == [
            "Preparing for the security review",
            "Starting a new BUCP",
        ]
        assert all(p.status == "published" and p.is_demo for p in procedures)
        assert procedures[1].uid == "fc474c60-3bef-59d8-a2d6-ec29274a46e6"
        cited = [s for p in procedures for s in p.steps if s.cited_entry_id]
        assert len(cited) >= 10
        assert all(s.cited_revision == s.cited_entry.published_revision for s in cited)
        assert all(s.cited_entry.kind == "lesson" for s in cited)
        assert [s.position for s in procedures[1].steps] == list(range(1, 9))


def test_the_seeded_procedures_are_readable_by_everyone(client):
    page = text(client.get("/procedures"))
    assert "Starting a new BUCP" in page and "Preparing for the security review" in page
    link = re.search(r'href="(/procedures/\d+)">Starting a new BUCP', page).group(1)
    page = text(client.get(link))
    assert "Step 1.</span> Check whether the data is already open" in page
    assert "Lesson cited" in page
