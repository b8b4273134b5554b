"""Wiring accounts into the app: user loaders, API tokens, trusted header, proxies, read access."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask import Request
from flask import Response
from flask import current_app
from flask import g
from flask import request
from flask.sessions import SecureCookieSession
from flask.sessions import SecureCookieSessionInterface
from flask_login import login_user
from flask_login import logout_user
from werkzeug.middleware.proxy_fix import ProxyFix

from kb.auth import policy
from kb.auth import services
from kb.auth import tokens
from kb.errors import error_response
from kb.extensions import db
from kb.extensions import login_manager
from kb.models import ApiToken
from kb.models import User

INVALID_TOKEN = (
    "The API token is not valid: it may be mistyped or revoked, or its account may no longer "
    "be active. Create a new one at /account/tokens."
)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.is_active else None


class _StatelessSession(SecureCookieSession):
    """The session of a request that presents a token: empty, and never saved."""


class TokenAwareSessionInterface(SecureCookieSessionInterface):
    """Cookie sessions, except that a request presenting an API token neither reads nor writes
    one: the token alone says who is asking, so a browser's session cannot mix into it."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if policy.presented_token(request) is not None:
            return _StatelessSession()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        if isinstance(session, _StatelessSession):
            return
        super().save_session(app, session, response)


def _request_token() -> ApiToken | None:
    """The active token this request presents (looked up once per request)."""
    if "kb_api_token" not in g:
        presented = policy.presented_token()
        g.kb_api_token = tokens.resolve(db.session, presented) if presented is not None else None
    return g.kb_api_token


@login_manager.request_loader
def _load_user_from_token(_request: Request) -> User | None:
    token = _request_token()
    return token.user if token is not None else None


def _check_token() -> Response | None:
    """A presented token must be valid: a wrong or revoked one is a 401, never anonymous."""
    if policy.presented_token() is None:
        return None
    token = _request_token()
    if token is None:
        if request.path.startswith("/api/"):
            response = error_response(401, INVALID_TOKEN)
        else:  # a feed reader shows plain text best
            response = Response(INVALID_TOKEN, 401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    if token in db.session.dirty:  # last_used_at moved (at most once a minute)
        db.session.commit()
    return None


def _trusted_header() -> None:
    """With ``KB_AUTH_HEADER`` the proxy says who the user is; unknown names become contributors."""
    header = current_app.config.get("AUTH_HEADER")
    if not header or policy.presented_token() is not None:
        return
    name = (request.headers.get(header) or "").strip()
    current = policy.viewer()
    if not name:
        if current is not None:
            logout_user()
        return
    if current is not None and current.username.lower() == name.lower():
        return
    user = services.header_user(db.session, name)
    db.session.commit()
    if user.is_active:
        login_user(user)


def init_app(app: Flask) -> None:
    """Sign-in, the trusted header, proxy headers and the read-access rule."""
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    app.session_interface = TokenAwareSessionInterface()
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config["SESSION_COOKIE_SECURE"])
    proxies = int(app.config.get("PROXY_FIX") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=proxies,
            x_proto=proxies,
            x_host=proxies,
            x_port=proxies,
            x_prefix=proxies,
        )
    app.before_request(_check_token)
    app.before_request(_trusted_header)
    app.before_request(policy.enforce_read_access)
    app.context_processor(lambda: {"viewer": policy.viewer(), "is_curator": policy.is_curator})
