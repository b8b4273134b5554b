"""Wiring accounts into the app: the user loader, the trusted header, proxies, read access."""

from __future__ import annotations

from flask import Flask
from flask import current_app
from flask import request
from flask_login import login_user
from flask_login import logout_user
from werkzeug.middleware.proxy_fix import ProxyFix

from kb.auth import policy
from kb.auth import services
from kb.extensions import db
from kb.extensions import login_manager
from kb.models import User


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.is_active else None


def _trusted_header() -> None:
    """With ``KB_AUTH_HEADER`` the proxy says who the user is; unknown names become contributors."""
    header = current_app.config.get("AUTH_HEADER")
    if not header:
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
    app.before_request(_trusted_header)
    app.before_request(policy.enforce_read_access)
    app.context_processor(lambda: {"viewer": policy.viewer(), "is_curator": policy.is_curator})
