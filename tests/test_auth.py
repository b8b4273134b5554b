"""Accounts: sign-in, next-redirect safety, throttling, CSRF, read access, SSO header, proxies."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlalchemy import select

from kb import create_app
from kb.auth.services import MAX_FAILURES_PER_NAME
from kb.auth.services import safe_next
from kb.entries.services import create_entry
from kb.entries.validation import taxonomy_lookups
from kb.entries.validation import validate_record
from kb.extensions import db
from kb.models import AuditEvent
from kb.models import User
from kb.seed import install_taxonomy
from kb.seed import system_user
from tests.conftest import PASSWORD
from tests.conftest import _test_config


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_sign_in_and_out(app, users):
    client = app.test_client()
    form = client.get("/login?next=/review")
    assert form.status_code == 200 and 'name="next" type="hidden" value="/review"' in _text(form)
    response = client.post(
        "/login", data={"username": "CU", "password": PASSWORD, "next": "/review"}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/review"
    assert "Sign out" in _text(client.get("/"))
    confirm = client.get("/logout")
    assert confirm.status_code == 200 and "You are signed in as <strong>cu</strong>" in _text(
        confirm
    )
    out = client.post("/logout")
    assert out.status_code == 303 and out.headers["Location"] == "/"
    assert client.get("/review").status_code == 303


def test_get_logout_does_not_sign_out(app, users, login):
    client = login("cu")
    client.get("/logout")
    assert client.get("/review").status_code == 200


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/entries/3?x=1", "/entries/3?x=1"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
        ("entries/3", "/"),
        ("/%0d%0aSet-Cookie:x", "/%0d%0aSet-Cookie:x"),
        ("\t//evil.example", "/"),
    ],
)
def test_next_is_same_site_only(target, expected):
    assert safe_next(target) == expected


def test_unsafe_next_redirects_home(app, users):
    client = app.test_client()
    response = client.post(
        "/login", data={"username": "cora", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response.headers["Location"] == "/"


def test_wrong_password_keeps_the_user_name_and_is_audited(app, users):
    response = app.test_client().post("/login", data={"username": "cora", "password": "nope-nope"})
    assert response.status_code == 422
    page = _text(response)
    assert "Wrong user name or password" in page
    assert 'value="cora"' in page and "nope-nope" not in page
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.failure"))
        assert event.detail["username"] == "cora" and event.object_id == users["cora"]


def test_missing_fields_are_422(app):
    response = app.test_client().post("/login", data={"username": "", "password": ""})
    assert response.status_code == 422
    assert "This field is required." in _text(response)


def test_repeated_failures_are_throttled(app, users):
    client = app.test_client()
    for _ in range(MAX_FAILURES_PER_NAME):
        assert (
            client.post("/login", data={"username": "cora", "password": "bad-guess"}).status_code
            == 422
        )
    blocked = client.post("/login", data={"username": "cora", "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 60
    assert "Too many failed sign-ins" in _text(blocked)
    assert client.post("/login", data={"username": "cal", "password": PASSWORD}).status_code == 303


def test_inactive_users_cannot_sign_in(app, users, runner):
    assert runner.invoke(args=["users", "deactivate", "cal"]).exit_code == 0
    response = app.test_client().post("/login", data={"username": "cal", "password": PASSWORD})
    assert response.status_code == 422


def test_system_user_cannot_sign_in(app):
    response = app.test_client().post("/login", data={"username": "kb", "password": "anything!"})
    assert response.status_code == 422


def test_login_csrf_failure_keeps_the_input(tmp_path, users):
    app = create_app(
        _test_config(tmp_path / "csrf", WTF_CSRF_ENABLED=True, SEARCH_INDEX_IN_MEMORY=True)
    )
    with app.app_context():
        db.create_all()
        install_taxonomy(db.session)
        db.session.commit()
    client = app.test_client()
    response = client.post("/login", data={"username": "cora", "password": PASSWORD})
    assert response.status_code == 400
    assert "The form had expired" in _text(response) and 'value="cora"' in _text(response)
    with app.app_context():
        db.engine.dispose()


def test_csrf_is_required_for_posts_and_the_header_is_accepted(tmp_path):
    app = create_app(
        _test_config(tmp_path / "csrf2", WTF_CSRF_ENABLED=True, SEARCH_INDEX_IN_MEMORY=True)
    )
    with app.app_context():
        db.create_all()
        install_taxonomy(db.session)
        db.session.commit()
    client = app.test_client()
    assert client.post("/logout").status_code == 400
    page = _text(client.get("/"))
    token = page.split('"X-CSRFToken": "')[1].split('"')[0]
    assert client.post("/logout", headers={"X-CSRFToken": token}).status_code == 303
    with app.app_context():
        db.engine.dispose()


def test_read_access_login(tmp_path):
    app = create_app(
        _test_config(tmp_path / "closed", READ_ACCESS="login", SEARCH_INDEX_IN_MEMORY=True)
    )
    with app.app_context():
        db.create_all()
        install_taxonomy(db.session)
        db.session.commit()
    client = app.test_client()
    page = client.get("/search?q=data")
    assert page.status_code == 303 and page.headers["Location"] == "/login?next=/search?q%3Ddata"
    api = client.get("/api/v1/entries")
    assert api.status_code == 401 and api.get_json()["error"]["code"] == 401
    assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 200
    static = client.get("/static/css/kb.css")
    assert static.status_code == 200
    static.close()
    with app.app_context():
        db.engine.dispose()


def test_trusted_header_signs_in_and_creates_contributors(tmp_path):
    app = create_app(
        _test_config(tmp_path / "sso", AUTH_HEADER="X-Remote-User", SEARCH_INDEX_IN_MEMORY=True)
    )
    with app.app_context():
        db.create_all()
        install_taxonomy(db.session)
        db.session.commit()
    client = app.test_client()
    page = client.get("/", headers={"X-Remote-User": "dana"})
    assert "Sign out" in _text(page)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "dana"))
        assert user.role == "contributor" and user.password_hash is None
    assert "Sign in" in _text(client.get("/"))  # no header: not signed in
    client.get("/", headers={"X-Remote-User": "dana"})
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id)).where(User.username == "dana")) == 1
        db.engine.dispose()


def test_proxy_fix_uses_forwarded_headers(tmp_path):
    app = create_app(_test_config(tmp_path / "proxy", PROXY_FIX=1, SEARCH_INDEX_IN_MEMORY=True))
    with app.app_context():
        db.create_all()
        install_taxonomy(db.session)
        record = {
            "kind": "lesson",
            "title": "T",
            "body": "B",
            "categories": ["data-requests"],
            "status": "published",
        }
        create_entry(
            db.session,
            validate_record(record, taxonomy_lookups(db.session)),
            author=system_user(db.session),
        )
        db.session.commit()
    client = app.test_client()
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "kb.example.gov"}
    [entry] = client.get("/api/v1/entries", headers=headers).get_json()["results"]
    assert entry["url"].startswith("https://kb.example.gov/entries/")
    [plain] = client.get("/api/v1/entries").get_json()["results"]
    assert plain["url"].startswith("http://localhost/entries/")
    app.config["BASE_URL"] = "https://intranet.example.gov/kb/"
    [based] = client.get("/api/v1/entries").get_json()["results"]
    assert based["url"].startswith("https://intranet.example.gov/kb/entries/")
    with app.app_context():
        db.engine.dispose()


def test_users_cli_list_set_role_deactivate(app, users, runner):
    listed = runner.invoke(args=["users", "list"])
    assert "cora\tcontributor\tactive" in listed.output and "kb\t" not in listed.output
    assert runner.invoke(args=["users", "set-role", "cora", "curator"]).exit_code == 0
    assert runner.invoke(args=["users", "set-role", "nobody", "curator"]).exit_code == 1
    assert runner.invoke(args=["users", "set-role", "kb", "contributor"]).exit_code == 1
    with app.app_context():
        assert db.session.get(User, users["cora"]).role == "curator"
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.set_role"))
        assert event.detail == {"old": "contributor", "new": "curator"}
