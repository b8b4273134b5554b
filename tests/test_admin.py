"""Administration: the users-and-roles page and the audit trail browser (admins only)."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime

import pytest
from sqlalchemy import select

from kb.admin.services import detail_pairs
from kb.extensions import db
from kb.models import AuditEvent
from kb.models import User
from kb.seed import system_user
from tests.conftest import PASSWORD

ROLE_STATUS = {None: "login", "cora": 403, "cu": 403, "ad": 200}


def _text(response) -> str:
    return response.get_data(as_text=True)


def _user(app, name: str) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == name))
        db.session.expunge(user)
        return user


def _events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )
        db.session.expunge_all()
        return events


def _add_event(app, action: str, at: datetime, *, actor: str | None = None, **fields) -> None:
    with app.app_context():
        actor_id = _user(app, actor).id if actor else None
        fields.setdefault("object_type", "entry")
        fields.setdefault("object_id", 1)
        db.session.add(AuditEvent(action=action, at=at, actor_id=actor_id, **fields))
        db.session.commit()


def _rows(page: str) -> str:
    """The audit table's body (so that the filter form's choices do not count as matches)."""
    return page.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in page else ""


# --- who may come in -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/users", "/admin/audit"])
@pytest.mark.parametrize(("role", "expected"), ROLE_STATUS.items())
def test_admin_pages_need_the_admin_role(app, users, login, path, role, expected):
    response = login(role).get(path)
    if expected == "login":
        assert response.status_code == 303
        assert response.headers["Location"] == f"/login?next={path}"
    else:
        assert response.status_code == expected, _text(response)


@pytest.mark.parametrize(
    "path", ["/admin/users", "/admin/users/{cal}/role", "/admin/users/{cal}/deactivate"]
)
@pytest.mark.parametrize(("role", "expected"), [(None, "login"), ("cora", 403), ("cu", 403)])
def test_admin_writes_need_the_admin_role(app, users, login, path, role, expected):
    response = login(role).post(
        path.format(cal=users["cal"]),
        data={"username": "mallory", "role": "admin", "password": "x" * 10, "confirm": "x" * 10},
    )
    if expected == "login":
        assert response.status_code == 303
        assert response.headers["Location"].startswith("/login?next=/admin/users")
    else:
        assert response.status_code == expected
    cal = _user(app, "cal")
    assert (cal.role, cal.active) == ("contributor", True)
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "mallory")) is None


# --- users and roles -------------------------------------------------------------------------


def test_users_page_lists_accounts_but_not_the_system_user(app, users, login):
    with app.app_context():
        system_user(db.session)
        db.session.commit()
    page = _text(login("ad").get("/admin/users"))
    names = re.findall(r'<th scope="row">([^<\s]+)', page)
    assert names == ["ad", "cal", "cora", "cu"]
    assert "4 accounts" in page
    assert 'name="csrf_token"' in page
    assert f'action="/admin/users/{users["cora"]}/role"' in page
    assert f'action="/admin/users/{users["cora"]}/deactivate"' in page
    # No forms for one's own account.
    assert f"/admin/users/{users['ad']}/" not in page


def test_users_page_is_paginated(app, users, login):
    client = login("ad")
    for number in range(4):
        response = client.post(
            "/admin/users",
            data={
                "username": f"user{number}",
                "role": "contributor",
                "password": PASSWORD,
                "confirm": PASSWORD,
            },
        )
        assert response.status_code == 303
    first = _text(client.get("/admin/users?per_page=3"))
    second = _text(client.get("/admin/users?per_page=3&page=3"))
    assert "8 accounts, page 1 of 3" in first
    assert re.findall(r'<th scope="row">([^<\s]+)', first) == ["ad", "cal", "cora"]
    assert re.findall(r'<th scope="row">([^<\s]+)', second) == ["user2", "user3"]
    assert 'rel="next" href="/admin/users?per_page=3&amp;page=2"' in first
    fragment = client.get("/admin/users?per_page=3&page=2", headers={"HX-Request": "true"})
    assert 'id="user-list"' in _text(fragment) and "<html" not in _text(fragment)
    assert "HX-Request" in fragment.headers["Vary"]


def test_admin_creates_a_user(app, users, login):
    client = login("ad")
    response = client.post(
        "/admin/users",
        data={
            "username": " dana ",
            "display_name": "Dana Ortiz",
            "role": "curator",
            "password": "long enough",
            "confirm": "long enough",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/users"
    assert "Created dana (curator)" in _text(client.get("/admin/users"))
    dana = _user(app, "dana")
    assert (dana.display_name, dana.role, dana.active) == ("Dana Ortiz", "curator", True)
    [created] = [event for event in _events(app, "user.create") if event.object_id == dana.id]
    assert created.actor_id == users["ad"]
    signed_in = app.test_client().post(
        "/login", data={"username": "dana", "password": "long enough"}
    )
    assert signed_in.status_code == 303


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"confirm": "something else"}, "The passwords do not match."),
        ({"password": "short", "confirm": "short"}, "Use at least 8 characters."),
        ({"username": "CORA"}, "A user named “CORA” already exists."),
        ({"username": "   "}, "This field is required."),
        ({"role": "owner"}, "Not a valid choice."),
    ],
)
def test_invalid_new_user_is_refused_with_the_input_kept(app, users, login, changes, error):
    data = {
        "username": "erin",
        "display_name": "Erin <Ng>",
        "role": "curator",
        "password": "a secret pass",
        "confirm": "a secret pass",
        **changes,
    }
    response = login("ad").post("/admin/users", data=data)
    page = _text(response)
    assert response.status_code == 422
    assert error in page
    assert "The account was not created" in page
    assert 'value="Erin &lt;Ng&gt;"' in page
    if data["username"].strip():
        assert f'value="{data["username"]}"' in page
    if data["role"] == "curator":
        assert '<option selected value="curator">' in page
    assert data["password"] not in page and data["confirm"] not in page
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "erin")) is None


def test_create_form_with_an_expired_token_keeps_the_input(app, users, login):
    client = login("ad")
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(
        "/admin/users",
        data={"username": "fay", "role": "contributor", "password": PASSWORD, "confirm": PASSWORD},
    )
    assert response.status_code == 400
    assert "The form had expired" in _text(response) and 'value="fay"' in _text(response)
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "fay")) is None


def test_row_forms_need_the_csrf_token(app, users, login):
    client = login("ad")
    app.config["WTF_CSRF_ENABLED"] = True
    path = f"/admin/users/{users['cora']}/role"
    assert client.post(path, data={"role": "curator"}).status_code == 400
    assert _user(app, "cora").role == "contributor"
    page = _text(client.get("/admin/users"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(path, data={"role": "curator", "csrf_token": token}).status_code == 303
    assert _user(app, "cora").role == "curator"


def test_admin_changes_a_role_and_it_is_audited(app, users, login):
    client = login("ad")
    response = client.post(f"/admin/users/{users['cora']}/role", data={"role": "curator"})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/users"
    assert _user(app, "cora").role == "curator"
    [event] = _events(app, "user.set_role")
    assert (event.actor_id, event.object_type, event.object_id) == (
        users["ad"],
        "user",
        users["cora"],
    )
    assert event.detail == {"old": "contributor", "new": "curator"}
    assert "cora is now curator." in _text(client.get("/admin/users"))
    assert login("cora").get("/review").status_code == 200


def test_setting_the_same_role_changes_nothing(app, users, login):
    client = login("ad")
    response = client.post(
        f"/admin/users/{users['cu']}/role", data={"role": "curator", "page": "2"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/users?page=2"
    assert _events(app, "user.set_role") == []
    assert "cu is already curator." in _text(client.get("/admin/users"))


def test_an_unknown_role_is_refused(app, users, login):
    response = login("ad").post(f"/admin/users/{users['cora']}/role", data={"role": "owner"})
    assert response.status_code == 422
    assert "Choose one of the roles contributor, curator, admin for cora." in _text(response)
    assert _user(app, "cora").role == "contributor"


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("role", {"role": "curator"}, "You cannot change the role of yourself"),
        ("deactivate", {}, "You cannot deactivate yourself"),
    ],
)
def test_admins_cannot_demote_or_deactivate_themselves(app, users, login, path, data, message):
    response = login("ad").post(f"/admin/users/{users['ad']}/{path}", data=data)
    assert response.status_code == 409
    assert message in _text(response)
    admin = _user(app, "ad")
    assert (admin.role, admin.active) == ("admin", True)
    assert _events(app, "user.set_role") == _events(app, "user.deactivate") == []


def test_admin_deactivates_and_reactivates_an_account(app, users, login):
    client, cora_client = login("ad"), login("cora")
    response = client.post(f"/admin/users/{users['cora']}/deactivate")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/users"
    assert _user(app, "cora").active is False
    page = _text(client.get("/admin/users"))
    assert "cora can no longer sign in." in page
    assert f'action="/admin/users/{users["cora"]}/reactivate"' in page
    # Signed out at once (an active contributor would get 404 here), and cannot sign in again.
    submit = cora_client.post("/entries/1/submit")
    assert submit.status_code == 303 and submit.headers["Location"].startswith("/login")
    failed = app.test_client().post("/login", data={"username": "cora", "password": PASSWORD})
    assert failed.status_code == 422
    again = client.post(f"/admin/users/{users['cora']}/deactivate")
    assert again.status_code == 409 and "cora is already deactivated." in _text(again)

    response = client.post(f"/admin/users/{users['cora']}/reactivate")
    assert response.status_code == 303
    assert _user(app, "cora").active is True
    assert "cora can sign in again." in _text(client.get("/admin/users"))
    assert login("cora").get("/").status_code == 200
    assert [e.actor_id for e in _events(app, "user.deactivate")] == [users["ad"]]
    assert [e.object_id for e in _events(app, "user.reactivate")] == [users["cora"]]
    again = client.post(f"/admin/users/{users['cora']}/reactivate")
    assert again.status_code == 409 and "cora is already active." in _text(again)


@pytest.mark.parametrize("action", ["role", "deactivate", "reactivate"])
def test_unknown_and_system_accounts_are_not_found(app, users, login, action):
    with app.app_context():
        kb_id = system_user(db.session).id
        db.session.commit()
    client = login("ad")
    for user_id in (kb_id, 9999):
        response = client.post(f"/admin/users/{user_id}/{action}", data={"role": "curator"})
        assert response.status_code == 404
    with app.app_context():
        assert db.session.get(User, kb_id).active is True


# --- the audit trail -------------------------------------------------------------------------


@pytest.fixture
def trail(app, users):
    """Five events of known actions, actors and times (besides the sign-ins and user.create)."""
    for mark, action, at, actor, object_type in (
        ("m-jan10", "test.alpha", datetime(2024, 1, 10, 12, 0, tzinfo=UTC), "cu", "entry"),
        ("m-jan20", "test.alpha", datetime(2024, 1, 20, 23, 59, 59, tzinfo=UTC), "cora", "entry"),
        ("m-jan21", "test.beta", datetime(2024, 1, 21, 0, 0, 0, tzinfo=UTC), "cu", "revision"),
        ("m-feb01", "test.beta", datetime(2024, 2, 1, 8, 0, tzinfo=UTC), None, "entry"),
        ("m-mar01", "test.alpha", datetime(2024, 3, 1, 8, 0, tzinfo=UTC), "cal", "entry"),
    ):
        _add_event(app, action, at, actor=actor, object_type=object_type, detail={"mark": mark})


def _marks(response) -> list[str]:
    return re.findall(r"m-[a-z]{3}\d\d", _rows(_text(response)))


def test_audit_lists_events_newest_first_with_readable_detail(app, trail, login):
    _add_event(
        app,
        "test.gamma",
        datetime(2024, 4, 1, tzinfo=UTC),
        actor="ad",
        object_type="user",
        object_id=_user(app, "cora").id,
        detail={"reason": "<script>alert(1)</script>", "tags": ["a", "b"], "note": ""},
    )
    response = login("ad").get("/admin/audit")
    page = _text(response)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert _marks(response) == ["m-mar01", "m-feb01", "m-jan21", "m-jan20", "m-jan10"]
    rows = _rows(page)
    # Sign-ins and account creation (now) come before the 2024 events.
    assert rows.index("auth.login") < rows.index("test.gamma") < rows.index("m-mar01")
    assert "<dt>reason:</dt><dd>&lt;script&gt;alert(1)&lt;/script&gt;</dd>" in rows
    assert "<dt>tags:</dt><dd>a, b</dd>" in rows
    assert "<script>alert" not in page
    assert "user cora" in rows
    assert '<a href="/entries/1">entry 1</a>' in rows
    assert '<time datetime="2024-01-20T23:59:59+00:00">2024-01-20 23:59:59</time>' in rows
    # The filter choices are the actions and object types that occur.
    assert '<option value="test.beta">test.beta</option>' in page
    assert '<option value="revision">revision</option>' in page
    assert '<option value="cora">' in page  # actor suggestions


def test_audit_filters_by_action_actor_and_object_type(app, trail, login):
    client = login("ad")
    assert _marks(client.get("/admin/audit?action=test.beta")) == ["m-feb01", "m-jan21"]
    assert _marks(client.get("/admin/audit?actor=CU")) == ["m-jan21", "m-jan10"]
    assert _marks(client.get("/admin/audit?object_type=revision")) == ["m-jan21"]
    assert _marks(client.get("/admin/audit?action=test.alpha&actor=cora")) == ["m-jan20"]
    page = _text(client.get("/admin/audit?action=test.beta&actor=nobody"))
    assert "No events match these filters." in page
    selected = _text(client.get("/admin/audit?action=test.beta"))
    assert '<option selected value="test.beta">test.beta</option>' in selected


def test_audit_filters_by_an_inclusive_date_range(app, trail, login):
    client = login("ad")
    in_range = client.get("/admin/audit?date_from=2024-01-11&date_to=2024-01-20")
    assert _marks(in_range) == ["m-jan20"]
    assert _marks(client.get("/admin/audit?date_from=2024-01-21&date_to=2024-02-01")) == [
        "m-feb01",
        "m-jan21",
    ]
    assert _marks(client.get("/admin/audit?date_to=2024-01-20")) == ["m-jan20", "m-jan10"]
    assert 'value="2024-01-11"' in _text(in_range)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date_from=2024-13-45", "The “From” date “2024-13-45” could not be read"),
        ("date_to=yesterday", "The “To” date “yesterday” could not be read"),
        ("date_from=2024-02-01&date_to=2024-01-01", "“To” is before “From”"),
    ],
)
def test_audit_bad_dates_are_reported_and_ignored(app, trail, login, query, message):
    response = login("ad").get(f"/admin/audit?action=test.alpha&{query}")
    assert response.status_code == 200
    assert message in _text(response)
    assert _marks(response) == ["m-mar01", "m-jan20", "m-jan10"]


def test_audit_bad_date_keeps_a_good_one(app, trail, login):
    response = login("ad").get("/admin/audit?date_from=2024-02-01&date_to=31/12/2024")
    assert "could not be read" in _text(response)
    assert _marks(response) == ["m-mar01", "m-feb01"]


def test_audit_is_paginated_and_pages_keep_the_filters(app, trail, login):
    client = login("ad")
    first = client.get("/admin/audit?action=test.alpha&per_page=2")
    assert _marks(first) == ["m-mar01", "m-jan20"]
    assert "3 events, page 1 of 2" in _text(first)
    assert 'href="/admin/audit?action=test.alpha&amp;per_page=2&amp;page=2"' in _text(first)
    second = client.get("/admin/audit?action=test.alpha&per_page=2&page=2")
    assert _marks(second) == ["m-jan10"]
    assert _marks(client.get("/admin/audit?action=test.alpha&per_page=2&page=99")) == ["m-jan10"]


def test_audit_htmx_request_gets_the_fragment(app, trail, login):
    response = login("ad").get(
        "/admin/audit?action=test.beta&date_from=nope", headers={"HX-Request": "true"}
    )
    page = _text(response)
    assert response.status_code == 200
    assert page.lstrip().startswith('<section id="audit-list"')
    assert "<html" not in page and 'id="audit-filters"' not in page
    assert "could not be read" in page
    assert _marks(response) == ["m-feb01", "m-jan21"]
    full = _text(login("ad").get("/admin/audit?action=test.beta"))
    assert "<html" in full and 'id="audit-filters"' in full and 'hx-get="/admin/audit"' in full


def test_detail_pairs_are_readable_text():
    assert detail_pairs({"old": "contributor", "flag_id": 3, "ok": True, "none": None}) == [
        ("old", "contributor"),
        ("flag id", "3"),
        ("ok", "yes"),
        ("none", "—"),
    ]
    assert detail_pairs({"filters": {"b": 1, "a": [2]}}) == [("filters", '{"a": [2], "b": 1}')]
    assert detail_pairs(None) == []
