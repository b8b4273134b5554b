"""Taxonomy upkeep: roles, tags (rename, merge, delete), programs, peer departments, CSRF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event
from sqlalchemy import select

from kb import search
from kb.extensions import db
from kb.models import AuditEvent
from kb.models import Department
from kb.models import Entry
from kb.models import Program
from kb.models import Tag
from kb.models import User
from kb.taxonomy import services


def _text(response):
    return response.get_data(as_text=True)


def _id(app, model, name):
    with app.app_context():
        return db.session.scalar(select(model.id).where(model.name == name))


def _tag_names(app, entry_id):
    with app.app_context():
        return [tag.name for tag in db.session.get(Entry, entry_id).tags]


def _found(app, **params):
    """Ids of the published entries a reader's search finds."""
    with app.app_context():
        return search.search(db.session, **params).ids


def _rows(page):
    """The cells of each table body row, as the reader sees them (hidden text left out)."""
    page = re.sub(r'<span class="visually-hidden">.*?</span>', "", page)
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    return [
        [
            " ".join(re.sub(r"<[^>]+>", " ", cell).split())
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def _audit(app, action):
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        return [(event.actor_id, event.object_id, event.detail) for event in events]


@pytest.fixture
def tagged(make_entry):
    """Three entries: one tagged data-dictionary, one data-dictionaries, one with both."""
    return {
        "one": make_entry(title="Publish the data dictionary", tags=["data-dictionary"]),
        "plural": make_entry(title="Share dictionaries early", tags=["Data Dictionaries"]),
        "both": make_entry(
            title="Keep one glossary", tags=["data-dictionary", "data-dictionaries", "glossary"]
        ),
    }


@pytest.fixture
def programs(app, users, make_entry):
    """Entries and users in "Healthy Habits" and "Healthy Kids"; an unused "Old Program"."""
    entries = {
        "habits": make_entry(title="Habits lesson", program="Healthy Habits"),
        "kids": make_entry(title="Kids lesson", program="Healthy Kids"),
    }
    with app.app_context():
        kids = db.session.scalar(select(Program).where(Program.name == "Healthy Kids"))
        db.session.get(User, users["cora"]).program = kids
        db.session.add(Program(name="Old Program", description="Gone since 2019"))
        db.session.commit()
    return entries


# --- roles ------------------------------------------------------------------------------------

GET_PATHS = [
    "/taxonomy/",
    "/taxonomy/tags",
    "/taxonomy/tags/{tag}",
    "/taxonomy/programs",
    "/taxonomy/programs/{program}",
    "/taxonomy/departments",
    "/taxonomy/departments/{department}",
]
POST_PATHS = [
    ("/taxonomy/tags/{tag}/rename", {"name": "renamed-tag"}),
    ("/taxonomy/tags/{tag}/merge", {"target": "other-tag"}),
    ("/taxonomy/tags/{unused_tag}/delete", {}),
    ("/taxonomy/programs", {"name": "Brand New Program"}),
    ("/taxonomy/programs/{program}", {"name": "Renamed Program"}),
    ("/taxonomy/programs/{program}/merge", {"target": "{other_program}"}),
    ("/taxonomy/programs/{unused_program}/delete", {}),
    ("/taxonomy/departments", {"name": "Department of Examples"}),
    ("/taxonomy/departments/{department}", {"name": "Department of Samples"}),
    ("/taxonomy/departments/{department}/delete", {}),
]
ROLES = [(None, "login"), ("cora", 403), ("cal", 403), ("cu", "ok"), ("ad", "ok")]


@pytest.fixture
def ids(app, make_entry):
    """One of everything the routes need, by the placeholder names of the paths."""
    make_entry(tags=["some-tag", "other-tag"], program="Some Program")
    make_entry(title="Another", program="Other Program")
    with app.app_context():
        db.session.add_all([Tag(name="unused-tag"), Program(name="Unused Program")])
        db.session.add(Department(name="Department of Tests", abbreviation="DOT"))
        db.session.commit()
    return {
        "tag": _id(app, Tag, "some-tag"),
        "unused_tag": _id(app, Tag, "unused-tag"),
        "program": _id(app, Program, "Some Program"),
        "other_program": _id(app, Program, "Other Program"),
        "unused_program": _id(app, Program, "Unused Program"),
        "department": _id(app, Department, "Department of Tests"),
    }


def _taxonomy_audit_count(app):
    with app.app_context():
        kinds = ("tag", "program", "department")
        return len(
            db.session.scalars(select(AuditEvent.id).where(AuditEvent.object_type.in_(kinds))).all()
        )


@pytest.mark.parametrize(("role", "expected"), ROLES)
def test_pages_need_a_curator(users, login, ids, role, expected):
    client = login(role)
    for path in GET_PATHS:
        url = path.format(**ids)
        response = client.get(url)
        if expected == "login":
            assert response.status_code == 303, url
            assert response.headers["Location"] == f"/login?next={url}"
        elif expected == "ok":
            assert response.status_code == 200, url
            assert 'aria-label="Taxonomy"' in _text(response)
        else:
            assert response.status_code == expected, url


@pytest.mark.parametrize(("role", "expected"), ROLES)
def test_every_write_needs_a_curator(app, users, login, ids, role, expected):
    """Each post in turn (for curators, one valid sequence): its status and its audit event."""
    client = login(role)
    for path, data in POST_PATHS:
        url = path.format(**ids)
        before = _taxonomy_audit_count(app)
        response = client.post(url, data={key: value.format(**ids) for key, value in data.items()})
        if expected == "login":
            assert response.status_code == 303, url
            assert response.headers["Location"] == f"/login?next={url}"
        elif expected == "ok":
            assert response.status_code == 303, (url, _text(response))
            assert response.headers["Location"].startswith("/taxonomy/")
        else:
            assert response.status_code == expected, url
        assert _taxonomy_audit_count(app) - before == (1 if expected == "ok" else 0), url


# --- tags: the list ---------------------------------------------------------------------------


def test_tag_list_shows_counts_and_filters_by_prefix(users, login, tagged):
    curator = login("cu")
    page = _text(curator.get("/taxonomy/tags"))
    counts = dict(re.findall(r'>([a-z-]+)</a></td>\s*<td class="number">(\d+)</td>', page))
    assert counts == {"data-dictionaries": "2", "data-dictionary": "2", "glossary": "1"}
    page = _text(curator.get("/taxonomy/tags?q=Data Dic"))
    assert "data-dictionary" in page and ">glossary</a>" not in page
    assert "2 tags" in page
    most_used_last = _text(curator.get("/taxonomy/tags?sort=least"))
    assert most_used_last.index("glossary") < most_used_last.index("data-dictionaries")


def test_tag_list_is_paginated(users, login, make_entry):
    make_entry(tags=[f"tag-{n:02d}" for n in range(20)])
    make_entry(title="Another", tags=[f"tag-{n:02d}" for n in range(20, 25)])
    page = _text(login("cu").get("/taxonomy/tags?per_page=10&page=3"))
    assert "25 tags, page 3 of 3" in page
    assert "tag-20" in page and "tag-24" in page and "tag-19" not in page


def test_tag_list_counts_in_one_query(app, users, login, make_entry):
    """Does the number of queries stay the same however many tags there are?"""
    curator = login("cu")

    def queries(path):
        seen = []

        def count(conn, cursor, statement, *args):
            seen.append(statement)

        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", count)
            try:
                assert curator.get(path).status_code == 200
            finally:
                event.remove(db.engine, "before_cursor_execute", count)
        return len(seen)

    make_entry(tags=["alpha", "beta"])
    few = queries("/taxonomy/tags")
    make_entry(title="Another", tags=[f"many-{n}" for n in range(15)])
    assert queries("/taxonomy/tags") == few


def test_tag_list_htmx_swap_gets_the_fragment(users, login, tagged):
    client = login("cu")
    response = client.get("/taxonomy/tags?q=glo", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert 'id="tag-list"' in _text(response) and "<html" not in _text(response)
    assert "glossary" in _text(response) and "data-dictionary" not in _text(response)


# --- tags: rename -----------------------------------------------------------------------------


def test_rename_tag_moves_search_with_it(app, users, login, tagged):
    tag_id, client = _id(app, Tag, "glossary"), login("cu")
    response = client.post(f"/taxonomy/tags/{tag_id}/rename", data={"name": "Term List"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/taxonomy/tags/{tag_id}"
    assert _tag_names(app, tagged["both"].id) == [
        "data-dictionaries",
        "data-dictionary",
        "term-list",
    ]
    assert _found(app, q="tag:term-list") == [tagged["both"].id]
    assert _found(app, filters={"tag": ["term-list"]}) == [tagged["both"].id]
    assert _found(app, filters={"tag": ["glossary"]}) == []
    (event,) = _audit(app, "tag.rename")
    assert event[1] == tag_id and event[2] == {"from": "glossary", "to": "term-list"}
    page = _text(client.get(f"/taxonomy/tags/{tag_id}"))
    assert "Renamed “glossary” to “term-list”." in page


def test_rename_to_a_taken_name_is_409_and_offers_a_merge(app, users, login, tagged):
    tag_id = _id(app, Tag, "data-dictionaries")
    response = login("cu").post(f"/taxonomy/tags/{tag_id}/rename", data={"name": "Data Dictionary"})
    assert response.status_code == 409
    page = _text(response)
    assert "There is already a tag “data-dictionary”." in page
    assert "Merge “data-dictionaries” into it instead?" in page
    assert re.search(r'<input [^>]*name="target" [^>]*value="data-dictionary"', page)
    assert 'value="Data Dictionary"' in page  # the input is kept
    assert _id(app, Tag, "data-dictionaries") == tag_id
    assert _audit(app, "tag.rename") == []


def test_rename_to_the_same_normalised_name_changes_nothing(app, users, login, tagged):
    tag_id = _id(app, Tag, "data-dictionary")
    client = login("cu")
    response = client.post(f"/taxonomy/tags/{tag_id}/rename", data={"name": " Data  Dictionary "})
    assert response.status_code == 303
    assert "Same name; nothing changed." in _text(client.get(response.headers["Location"]))
    assert _audit(app, "tag.rename") == []


@pytest.mark.parametrize("name", ["", "   ", "!!!", "x" * 65])
def test_rename_to_an_unusable_name_is_422_with_the_input_kept(app, users, login, tagged, name):
    tag_id = _id(app, Tag, "glossary")
    response = login("cu").post(f"/taxonomy/tags/{tag_id}/rename", data={"name": name})
    assert response.status_code == 422
    page = _text(response)
    assert 'aria-invalid="true"' in page
    if name.strip():
        assert f'value="{name}"' in page
    assert _id(app, Tag, "glossary") == tag_id


# --- tags: merge ------------------------------------------------------------------------------


def test_merge_tags_gives_every_entry_the_target_once(app, users, login, tagged):
    source, target = _id(app, Tag, "data-dictionaries"), _id(app, Tag, "data-dictionary")
    response = login("cu").post(
        f"/taxonomy/tags/{source}/merge", data={"target": "Data Dictionary"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/taxonomy/tags/{target}"
    with app.app_context():
        assert db.session.get(Tag, source) is None
    assert _tag_names(app, tagged["plural"].id) == ["data-dictionary"]
    assert _tag_names(app, tagged["both"].id) == ["data-dictionary", "glossary"]
    everyone = sorted(entry.id for entry in tagged.values())
    assert sorted(_found(app, filters={"tag": ["data-dictionary"]})) == everyone
    assert sorted(_found(app, q="tag:data-dictionary")) == everyone
    assert _found(app, filters={"tag": ["data-dictionaries"]}) == []
    (event,) = _audit(app, "tag.merge")
    assert event[1] == target
    assert event[2] == {
        "source": "data-dictionaries",
        "source_id": source,
        "entries": 2,
        "added": 1,
    }


def test_merge_tags_service_keeps_loaded_entries_right(app, tagged, users):
    """Do entries already in the session see the merged tags (no stale collection)?"""
    with app.app_context():
        both = db.session.get(Entry, tagged["both"].id)
        assert len(both.tags) == 3
        source = db.session.scalar(select(Tag).where(Tag.name == "glossary"))
        target = db.session.scalar(select(Tag).where(Tag.name == "data-dictionary"))
        moved = services.merge_tags(
            db.session, source, target, actor=db.session.get(User, users["cu"])
        )
        assert moved == 1
        assert [tag.name for tag in both.tags] == ["data-dictionaries", "data-dictionary"]
        db.session.rollback()
        assert db.session.scalar(select(Tag).where(Tag.name == "glossary")) is not None
        assert _found(app, q="tag:glossary") == [tagged["both"].id]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no-such-tag", "There is no tag “no-such-tag”."),
        ("Glossary", "A tag cannot be merged into itself."),
        ("", "This field is required."),
    ],
)
def test_merge_into_a_missing_tag_or_itself_is_422(app, users, login, tagged, target, message):
    tag_id = _id(app, Tag, "glossary")
    response = login("cu").post(f"/taxonomy/tags/{tag_id}/merge", data={"target": target})
    assert response.status_code == 422
    assert message in _text(response)
    assert _tag_names(app, tagged["both"].id) == [
        "data-dictionaries",
        "data-dictionary",
        "glossary",
    ]


# --- tags: delete -----------------------------------------------------------------------------


def test_delete_a_used_tag_is_409(app, users, login, tagged):
    tag_id = _id(app, Tag, "glossary")
    response = login("cu").post(f"/taxonomy/tags/{tag_id}/delete")
    assert response.status_code == 409
    assert "The tag “glossary” is used by 1 entry, so it cannot be deleted." in _text(response)
    assert _id(app, Tag, "glossary") == tag_id
    assert _audit(app, "tag.delete") == []


def test_delete_an_unused_tag(app, users, login):
    with app.app_context():
        db.session.add(Tag(name="orphan"))
        db.session.commit()
    tag_id = _id(app, Tag, "orphan")
    client = login("cu")
    assert "Delete #orphan" in _text(client.get(f"/taxonomy/tags/{tag_id}"))
    response = client.post(f"/taxonomy/tags/{tag_id}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/taxonomy/tags"
    assert _id(app, Tag, "orphan") is None
    assert _audit(app, "tag.delete") == [(users["cu"], tag_id, {"name": "orphan"})]
    assert "Deleted the tag “orphan”." in _text(client.get("/taxonomy/tags"))


# --- programs ---------------------------------------------------------------------------------


def test_program_list_counts_entries_and_users_and_labels_demo_rows(app, users, login, programs):
    with app.app_context():
        db.session.add(Program(name="Wellness Demo", is_demo=True))
        db.session.commit()
    rows = {row[0]: row[1:] for row in _rows(_text(login("cu").get("/taxonomy/programs")))}
    assert rows["Healthy Kids"] == ["", "1", "1"]
    assert rows["Healthy Habits"] == ["", "1", "0"]
    assert rows["Old Program"] == ["Gone since 2019", "0", "0"]
    assert rows["Wellness Demo Demo"] == ["", "0", "0"]


def test_create_program(app, users, login):
    client = login("cu")
    response = client.post(
        "/taxonomy/programs", data={"name": "  Food   Assistance ", "description": "CalFresh"}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/taxonomy/programs"
    program_id = _id(app, Program, "Food Assistance")
    assert program_id is not None
    assert _audit(app, "program.create") == [(users["cu"], program_id, {"name": "Food Assistance"})]
    assert "Added the program “Food Assistance”." in _text(client.get("/taxonomy/programs"))


def test_create_program_with_a_taken_name_is_409(app, users, login, programs):
    response = login("cu").post(
        "/taxonomy/programs", data={"name": "healthy habits", "description": "Again"}
    )
    assert response.status_code == 409
    page = _text(response)
    assert "There is already a program “Healthy Habits”." in page
    assert 'value="healthy habits"' in page and "\nAgain</textarea>" in page
    assert _audit(app, "program.create") == []


def test_create_program_without_a_name_is_422(app, users, login):
    response = login("cu").post("/taxonomy/programs", data={"name": " ", "description": "Kept"})
    assert response.status_code == 422
    assert "\nKept</textarea>" in _text(response) and 'aria-invalid="true"' in _text(response)
    with app.app_context():
        assert db.session.scalars(select(Program)).all() == []


def test_rename_program_reindexes_its_entries(app, users, login, programs):
    program_id = _id(app, Program, "Healthy Habits")
    response = login("cu").post(
        f"/taxonomy/programs/{program_id}",
        data={"name": "Healthy Living", "description": "Nutrition"},
    )
    assert response.status_code == 303
    assert _found(app, q='program:"Healthy Living"') == [programs["habits"].id]
    assert _found(app, filters={"program": ["Healthy Living"]}) == [programs["habits"].id]
    assert _found(app, filters={"program": ["Healthy Habits"]}) == []
    (event,) = _audit(app, "program.update")
    assert event[2] == {
        "name": ["Healthy Habits", "Healthy Living"],
        "description": ["", "Nutrition"],
    }


def test_rename_program_to_a_taken_name_is_409_and_offers_a_merge(app, users, login, programs):
    source, target = _id(app, Program, "Healthy Habits"), _id(app, Program, "Healthy Kids")
    response = login("cu").post(
        f"/taxonomy/programs/{source}", data={"name": "HEALTHY KIDS", "description": ""}
    )
    assert response.status_code == 409
    page = _text(response)
    assert "There is already a program “Healthy Kids”. Merge this program into it" in page
    assert f'<option selected value="{target}">Healthy Kids</option>' in page
    assert _id(app, Program, "Healthy Habits") == source


def test_merge_programs_moves_entries_and_users(app, users, login, programs):
    source, target = _id(app, Program, "Healthy Kids"), _id(app, Program, "Healthy Habits")
    client = login("cu")
    response = client.post(f"/taxonomy/programs/{source}/merge", data={"target": str(target)})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/taxonomy/programs/{target}"
    with app.app_context():
        assert db.session.get(Program, source) is None
        assert db.session.get(Entry, programs["kids"].id).program_id == target
        assert db.session.get(User, users["cora"]).program_id == target
    both = sorted(entry.id for entry in programs.values())
    assert sorted(_found(app, filters={"program": ["Healthy Habits"]})) == both
    assert _found(app, filters={"program": ["Healthy Kids"]}) == []
    (event,) = _audit(app, "program.merge")
    assert event[1] == target
    assert event[2] == {"source": "Healthy Kids", "source_id": source, "entries": 1, "users": 1}
    page = _text(client.get(f"/taxonomy/programs/{target}"))
    assert "Merged “Healthy Kids” into “Healthy Habits”: 1 entry and 1 user moved." in page
    assert "Used by 2 entries and 1 user." in page


def test_merge_programs_service_updates_loaded_objects_and_rolls_back(app, users, programs):
    """Do loaded rows see the move at once, and does a rollback leave index and rows alone?"""
    with app.app_context():
        entry = db.session.get(Entry, programs["kids"].id)
        cora = db.session.get(User, users["cora"])
        source = db.session.scalar(select(Program).where(Program.name == "Healthy Kids"))
        target = db.session.scalar(select(Program).where(Program.name == "Healthy Habits"))
        source_id = source.id
        actor = db.session.get(User, users["cu"])
        assert services.merge_programs(db.session, source, target, actor=actor) == (1, 1)
        assert entry.program_id == target.id and cora.program_id == target.id
        db.session.rollback()
        assert db.session.get(Program, source_id) is not None
        assert db.session.get(Entry, programs["kids"].id).program_id == source_id
    assert _found(app, filters={"program": ["Healthy Kids"]}) == [programs["kids"].id]


def test_merge_program_into_itself_or_an_unknown_one_is_422(app, users, login, programs):
    source = _id(app, Program, "Healthy Kids")
    client = login("cu")
    for target in (str(source), "99999", "nonsense"):
        response = client.post(f"/taxonomy/programs/{source}/merge", data={"target": target})
        assert response.status_code == 422, target
    with app.app_context():
        assert db.session.get(Entry, programs["kids"].id).program_id == source
    assert _audit(app, "program.merge") == []


def test_delete_a_program_in_use_is_409(app, users, login, programs):
    program_id = _id(app, Program, "Healthy Kids")
    response = login("cu").post(f"/taxonomy/programs/{program_id}/delete")
    assert response.status_code == 409
    assert "used by 1 entry and 1 user, so it cannot be deleted" in _text(response)
    assert _id(app, Program, "Healthy Kids") == program_id


def test_delete_an_unused_program(app, users, login, programs):
    program_id = _id(app, Program, "Old Program")
    response = login("ad").post(f"/taxonomy/programs/{program_id}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/taxonomy/programs"
    assert _id(app, Program, "Old Program") is None
    assert _audit(app, "program.delete") == [(users["ad"], program_id, {"name": "Old Program"})]


# --- peer departments -------------------------------------------------------------------------


def test_departments_create_edit_delete(app, users, login):
    with app.app_context():
        db.session.add(Department(name="Department of Wellness", abbreviation="DOW", is_demo=True))
        db.session.commit()
    client = login("cu")
    page = _text(client.get("/taxonomy/departments"))
    assert re.search(r"Department of Wellness</a>\s*<span class=\"badge badge-demo\">Demo", page)
    response = client.post(
        "/taxonomy/departments", data={"name": "Department of Finance", "abbreviation": "DOF"}
    )
    assert response.status_code == 303
    department_id = _id(app, Department, "Department of Finance")
    taken = client.post(
        f"/taxonomy/departments/{department_id}",
        data={"name": "department of wellness", "abbreviation": "X"},
    )
    assert taken.status_code == 409 and 'value="department of wellness"' in _text(taken)
    too_long = client.post(
        f"/taxonomy/departments/{department_id}",
        data={"name": "Department of Finance", "abbreviation": "X" * 33},
    )
    assert too_long.status_code == 422
    response = client.post(
        f"/taxonomy/departments/{department_id}",
        data={"name": "Department of Finance", "abbreviation": "FIN"},
    )
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Department, department_id).abbreviation == "FIN"
    response = client.post(f"/taxonomy/departments/{department_id}/delete")
    assert response.status_code == 303
    assert _id(app, Department, "Department of Finance") is None
    actions = [
        event.action
        for event in _all_audit(app)
        if event.object_type == "department" and event.object_id == department_id
    ]
    assert actions == ["department.create", "department.update", "department.delete"]


def _all_audit(app):
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        db.session.expunge_all()
        return events


def test_usage_is_found_from_the_schema(app, programs):
    """Do the delete checks see every table that refers to a row (not a hand-kept list)?"""
    with app.app_context():
        kids = db.session.scalar(select(Program).where(Program.name == "Healthy Kids"))
        assert services.references(db.session, kids) == {"entries": 1, "users": 1}
        assert services.describe_usage({"entries": 2, "users": 1, "bucps": 1}) == (
            "2 entries, 1 user and 1 bucps row"
        )


# --- CSRF -------------------------------------------------------------------------------------


def test_posts_need_the_csrf_token_and_a_failure_keeps_the_input(app, users, login):
    client = login("cu")
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/taxonomy/programs", data={"name": "Sneaky Program"})
    assert response.status_code == 400
    assert "The form had expired" in _text(response) and 'value="Sneaky Program"' in _text(response)
    assert _id(app, Program, "Sneaky Program") is None
    page = _text(client.get("/taxonomy/programs"))
    assert page.count('name="csrf_token"') == 1 and 'id="csrf_token"' not in page
    token = page.split('"X-CSRFToken": "')[1].split('"')[0]
    response = client.post(
        "/taxonomy/programs", data={"name": "Real Program"}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 303
    field = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/taxonomy/programs", data={"name": "Form Program", "csrf_token": field})
    assert response.status_code == 303
    assert _id(app, Program, "Real Program") and _id(app, Program, "Form Program")


def test_every_post_without_the_csrf_token_is_400_and_changes_nothing(app, users, login, ids):
    client = login("cu")
    app.config["WTF_CSRF_ENABLED"] = True
    for path, data in POST_PATHS:
        url = path.format(**ids)
        response = client.post(url, data={key: value.format(**ids) for key, value in data.items()})
        assert response.status_code == 400, url
        assert "The form had expired" in _text(response), url
    assert _taxonomy_audit_count(app) == 0


@pytest.mark.parametrize(
    "path", ["/taxonomy/tags/999", "/taxonomy/programs/999", "/taxonomy/departments/999/delete"]
)
def test_unknown_rows_are_404(users, login, path):
    client = login("cu")
    response = client.post(path) if path.endswith("/delete") else client.get(path)
    assert response.status_code == 404
