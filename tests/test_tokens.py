"""API tokens: stored hashed, the CLI, bearer and feed-token sign-in, the account page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from kb import create_app
from kb.auth.policy import viewer
from kb.auth.tokens import create_token
from kb.auth.tokens import hash_token
from kb.extensions import db
from kb.models import ApiToken
from kb.models import AuditEvent
from kb.models import User
from kb.models import utcnow
from kb.seed import install_taxonomy
from tests.conftest import _test_config


def bearer(app: Flask, user_id: int, name: str = "test") -> dict[str, str]:
    """The ``Authorization`` header of a new token of this user."""
    with app.app_context():
        made = create_token(db.session, db.session.get(User, user_id), name=name)
        db.session.commit()
        return {"Authorization": f"Bearer {made.secret}"}


def _token(app: Flask, headers: dict[str, str]) -> ApiToken:
    secret = headers["Authorization"].split()[1]
    with app.app_context():
        token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
        db.session.expunge(token)
        return token


def _text(response) -> str:
    return response.get_data(as_text=True)


# --- the service ------------------------------------------------------------------------------


def test_only_a_hash_and_a_display_prefix_are_stored(app, users):
    headers = bearer(app, users["cora"], name="  Team   dashboard ")
    secret = headers["Authorization"].split()[1]
    assert secret.startswith("kb_") and len(secret) == 3 + 43
    with app.app_context():
        [token] = db.session.scalars(select(ApiToken)).all()
        assert token.token_hash == hash_token(secret) and secret not in token.token_hash
        assert token.prefix == secret[:11] and token.name == "Team dashboard"
        assert token.last_used_at is None and token.revoked_at is None
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "token.create"))
        assert event.object_id == token.id and event.detail["user"] == "cora"


def test_two_tokens_differ(app, users):
    assert bearer(app, users["cora"]) != bearer(app, users["cora"])


# --- the command line -------------------------------------------------------------------------


def test_cli_create_list_revoke(app, users, runner):
    created = runner.invoke(args=["tokens", "create", "cora", "--name", "nightly sync"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("kb_") and "\n" not in secret  # stdout: the token alone
    assert "cannot be shown again" in created.stderr
    listed = runner.invoke(args=["tokens", "list"])
    [row] = listed.output.strip().splitlines()
    fields = row.split("\t")
    assert fields[1:4] == ["cora", "nightly sync", secret[:11]] and fields[-1] == "active"
    assert fields[-2] == "never" and secret not in listed.output
    headers = {"Authorization": f"Bearer {secret}"}
    assert app.test_client().get("/api/v1/metrics", headers=headers).status_code == 200
    used = runner.invoke(args=["tokens", "list"]).output.split("\t")[-2]
    assert used.startswith(str(utcnow().year))
    assert runner.invoke(args=["tokens", "list", "cal"]).output.startswith("No API tokens")
    revoked = runner.invoke(args=["tokens", "revoke", fields[0]])
    assert revoked.exit_code == 0 and "Revoked API token" in revoked.output
    assert runner.invoke(args=["tokens", "list", "cora"]).output.strip().endswith("revoked")
    again = runner.invoke(args=["tokens", "revoke", fields[0]])
    assert again.exit_code == 1 and "already revoked" in again.output
    assert len(again.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tokens", "create", "nobody"], "there is no user named 'nobody'"),
        (["tokens", "create", "kb"], "there is no user named 'kb'"),
        (["tokens", "revoke", "999"], "there is no API token with id 999"),
        (["tokens", "list", "nobody"], "there is no user named 'nobody'"),
    ],
)
def test_cli_failures_exit_non_zero_with_one_line(users, runner, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {message}"


def test_cli_refuses_tokens_for_inactive_users(users, runner):
    assert runner.invoke(args=["users", "deactivate", "cal"]).exit_code == 0
    result = runner.invoke(args=["tokens", "create", "cal"])
    assert result.exit_code == 1 and "cannot have API tokens" in result.output


# --- bearer requests ----------------------------------------------------------------------------


def test_bearer_token_signs_in_api_requests(app, users):
    client = app.test_client()
    assert client.get("/api/v1/metrics").status_code == 401
    response = client.get("/api/v1/metrics", headers=bearer(app, users["cora"]))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers  # stateless: no session is started


def test_the_token_acts_with_its_users_role(app, users):
    contributor = app.test_client().get("/api/v1/metrics", headers=bearer(app, users["cora"]))
    curator = app.test_client().get("/api/v1/metrics", headers=bearer(app, users["cu"]))
    assert "top_queries" not in contributor.get_json()["search"]  # raw queries: curators only
    assert "top_queries" in curator.get_json()["search"]


@pytest.mark.parametrize("value", ["Bearer kb_wrong", "Bearer nonsense", "Bearer ", "bearer kb_x"])
def test_a_bad_token_is_401_not_anonymous(app, users, make_entry, value):
    make_entry()
    response = app.test_client().get("/api/v1/entries", headers={"Authorization": value})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    error = response.get_json()["error"]
    assert error["code"] == 401 and "token is not valid" in error["message"]


def test_other_authorization_schemes_are_ignored(app, users, make_entry):
    make_entry()
    response = app.test_client().get("/api/v1/entries", headers={"Authorization": "Basic eDp5"})
    assert response.status_code == 200 and response.get_json()["total"] == 1


def test_revoked_tokens_and_inactive_users_never_authenticate(app, users, runner):
    revoked = bearer(app, users["cora"])
    inactive = bearer(app, users["cal"])
    client = app.test_client()
    assert client.get("/api/v1/metrics", headers=revoked).status_code == 200
    token_id = _token(app, revoked).id
    assert runner.invoke(args=["tokens", "revoke", str(token_id)]).exit_code == 0
    assert client.get("/api/v1/metrics", headers=revoked).status_code == 401
    assert runner.invoke(args=["users", "deactivate", "cal"]).exit_code == 0
    assert client.get("/api/v1/metrics", headers=inactive).status_code == 401


def test_the_token_wins_over_a_session_cookie(app, users, login):
    client = login("cu")  # a curator's browser session …
    headers = bearer(app, users["cora"])  # … sending a contributor's token
    data = client.get("/api/v1/metrics", headers=headers).get_json()
    assert "top_queries" not in data["search"]  # acted as the token's user
    bad = client.get("/api/v1/metrics", headers={"Authorization": "Bearer kb_wrong"})
    assert bad.status_code == 401  # not the session's user either
    assert "top_queries" in client.get("/api/v1/metrics").get_json()["search"]  # session intact


def test_last_used_is_recorded_at_most_once_a_minute(app, users):
    headers = bearer(app, users["cora"])
    client = app.test_client()
    client.get("/api/v1/metrics", headers=headers)
    first = _token(app, headers).last_used_at
    assert first is not None and utcnow() - first < timedelta(seconds=30)
    with app.app_context():
        token = db.session.get(ApiToken, _token(app, headers).id)
        token.last_used_at = first - timedelta(seconds=30)
        db.session.commit()
    client.get("/api/v1/metrics", headers=headers)
    assert _token(app, headers).last_used_at == first - timedelta(seconds=30)  # not rewritten
    with app.app_context():
        db.session.get(ApiToken, _token(app, headers).id).last_used_at = first - timedelta(hours=1)
        db.session.commit()
    client.get("/api/v1/metrics", headers=headers)
    assert _token(app, headers).last_used_at > first - timedelta(seconds=1)


# --- KB_READ_ACCESS=login: the API takes bearer tokens, feeds take ?token= ----------------------


@pytest.fixture
def closed_app(tmp_path) -> Flask:
    """An app that needs a sign-in to read, with a /feeds/ route that says who is reading."""
    app = create_app(
        _test_config(tmp_path / "closed", READ_ACCESS="login", SEARCH_INDEX_IN_MEMORY=True)
    )

    def whoami() -> str:
        user = viewer()
        return user.username if user else "anonymous"

    app.add_url_rule("/feeds/whoami", "feeds_whoami", whoami)
    with app.app_context():
        db.create_all()
        install_taxonomy(db.session)
        rita = User(username="rita", role="contributor")
        db.session.add(rita)
        db.session.commit()
        app.config["TEST_USER_ID"] = rita.id
    yield app
    with app.app_context():
        db.engine.dispose()


def test_closed_instance_reads_with_a_bearer_token(closed_app):
    headers = bearer(closed_app, closed_app.config["TEST_USER_ID"])
    client = closed_app.test_client()
    assert client.get("/api/v1/entries").status_code == 401
    response = client.get("/api/v1/entries", headers=headers)
    assert response.status_code == 200 and response.get_json()["total"] == 0
    assert client.get("/api/v1/taxonomy", headers=headers).status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200  # the description is public


def test_feed_paths_take_token_parameters_and_nothing_else_does(closed_app):
    rita = closed_app.config["TEST_USER_ID"]
    secret = bearer(closed_app, rita)["Authorization"].split()[1]
    client = closed_app.test_client()
    assert _text(client.get(f"/feeds/whoami?token={secret}")) == "rita"
    wrong = client.get("/feeds/whoami?token=kb_wrong")
    assert wrong.status_code == 401 and wrong.mimetype == "text/plain"
    assert "token is not valid" in _text(wrong)
    assert client.get(f"/api/v1/entries?token={secret}").status_code == 401  # API: header only
    assert client.get(f"/search?token={secret}").status_code == 303  # pages: sign in
    assert client.get("/feeds/whoami", headers=bearer(closed_app, rita)).status_code == 303


# --- the account page ---------------------------------------------------------------------------


def test_tokens_page_needs_a_sign_in_and_is_linked_from_the_navigation(app, users, login):
    response = app.test_client().get("/account/tokens")
    assert response.status_code == 303 and "/login?next=/account/tokens" in response.location
    page = _text(login("cora").get("/"))
    assert 'href="/account/tokens"' in page


def test_create_shows_the_token_once(app, users, login):
    client = login("cora")
    created = client.post("/account/tokens", data={"name": "Team dashboard"})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    page = _text(created)
    secret = page.split('<code id="new-token">')[1].split("</code>")[0]
    assert secret.startswith("kb_") and "shown only this once" in page
    assert 'data-copy="new-token"' in page
    mine = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/metrics", headers=mine).status_code == 200
    later = _text(client.get("/account/tokens"))
    assert secret not in later and secret[:11] in later and "Team dashboard" in later


def test_create_refuses_a_long_name(app, users, login):
    response = login("cora").post("/account/tokens", data={"name": "x" * 101})
    assert response.status_code == 422 and "was not created" in _text(response)
    with app.app_context():
        assert db.session.scalar(select(ApiToken)) is None


def test_revoke_own_token(app, users, login):
    headers = bearer(app, users["cora"], name="old script")
    token_id = _token(app, headers).id
    client = login("cora")
    response = client.post(f"/account/tokens/{token_id}/revoke")
    assert response.status_code == 303 and response.location.endswith("/account/tokens")
    page = _text(client.get("/account/tokens"))
    assert "Revoked the token “old script”" in page and "revoked" in page
    assert app.test_client().get("/api/v1/metrics", headers=headers).status_code == 401
    again = client.post(f"/account/tokens/{token_id}/revoke", follow_redirects=True)
    assert "was already revoked" in _text(again)


def test_only_owners_and_admins_revoke(app, users, login):
    headers = bearer(app, users["cora"], name="cora's script")
    token_id = _token(app, headers).id
    assert login("cal").post(f"/account/tokens/{token_id}/revoke").status_code == 403
    assert login("cu").post(f"/account/tokens/{token_id}/revoke").status_code == 403
    assert "cora" not in _text(login("cu").get("/account/tokens"))  # curators see their own
    admin = login("ad")
    listing = _text(admin.get("/account/tokens"))
    assert "Other users’ active tokens" in listing and "cora&#39;s script" in listing
    assert admin.post(f"/account/tokens/{token_id}/revoke").status_code == 303
    assert "of cora" in _text(admin.get("/account/tokens"))
    assert app.test_client().get("/api/v1/metrics", headers=headers).status_code == 401
    assert admin.post("/account/tokens/999/revoke").status_code == 404


def test_token_page_posts_need_the_csrf_token(tmp_path, users):
    app = create_app(
        _test_config(tmp_path / "csrf", WTF_CSRF_ENABLED=True, SEARCH_INDEX_IN_MEMORY=True)
    )
    with app.app_context():
        db.create_all()
        install_taxonomy(db.session)
        rita = User(username="rita", role="contributor")
        db.session.add(rita)
        db.session.commit()
        rita_id = str(rita.id)
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = rita_id
        session["_fresh"] = True
    assert client.post("/account/tokens", data={"name": "x"}).status_code == 400
    page = _text(client.get("/account/tokens"))
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post("/account/tokens", data={"name": "x", "csrf_token": csrf}).status_code == 201
    with app.app_context():
        db.engine.dispose()
