"""Who may do what (DESIGN §7), in one place, with the status codes of DESIGN §6."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from typing import TypeVar

from flask import Request
from flask import abort
from flask import current_app
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException
from werkzeug.utils import redirect

from kb.models import User

F = TypeVar("F", bound=Callable[..., Any])
ROLE_RANK = {"contributor": 1, "curator": 2, "admin": 3}
#: Endpoints that stay open when KB_READ_ACCESS=login.
#: Open even when ``KB_READ_ACCESS=login``: signing in, static files, the health check, the
#: API's description (no secret), and the feed (it answers 401 itself, for feed readers).
PUBLIC_ENDPOINTS = frozenset(
    {"auth.login", "auth.logout", "static", "api.healthz", "api.openapi", "feeds.entries"}
)


def viewer() -> User | None:
    """The signed-in user, or ``None`` for an anonymous reader."""
    return current_user if current_user.is_authenticated else None  # type: ignore[return-value]


def presented_token(req: Request | None = None) -> str | None:
    """The API token a request presents, or ``None`` (then cookies and headers say who it is).

    ``Authorization: Bearer <token>`` under ``/api/``; ``?token=`` under ``/feeds/`` only
    (feed readers cannot send headers). A request that presents a token is authenticated by
    the token alone, needs no CSRF token, and gets no session cookie.
    """
    req = req or request
    if req.path.startswith("/api/"):
        scheme, _, value = req.headers.get("Authorization", "").strip().partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    if req.path.startswith("/feeds/") and "token" in req.args:
        return req.args.get("token", "")
    return None


def has_role(user: User | None, role: str) -> bool:
    """Whether ``user`` holds ``role`` or a higher one."""
    return user is not None and ROLE_RANK.get(user.role, 0) >= ROLE_RANK[role]


def is_curator(user: User | None) -> bool:
    """Curators and admins."""
    return has_role(user, "curator")


def sign_in_required() -> HTTPException:
    """The answer to an anonymous request that needs a sign-in: 401 JSON for the API, else 303."""
    if request.path.startswith("/api/"):
        return _abort_response(401, "Sign in (or send an API token) to use this.")
    target = url_for("auth.login", next=request.full_path.rstrip("?"))
    response = redirect(target, code=303)
    return HTTPException(response=response)


def _abort_response(code: int, message: str) -> HTTPException:
    try:
        abort(code, message)
    except HTTPException as exc:
        return exc
    raise AssertionError("abort() returned")  # pragma: no cover


def require_role(role: str) -> Callable[[F], F]:
    """Views decorated with this need a signed-in user holding ``role`` (else 303/401 or 403)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = viewer()
            if user is None:
                raise sign_in_required()
            if not has_role(user, role):
                abort(403, f"This needs the {role} role.")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def enforce_read_access() -> None:
    """With ``KB_READ_ACCESS=login`` every page and API call needs a signed-in user."""
    if current_app.config["READ_ACCESS"] != "login" or request.endpoint in PUBLIC_ENDPOINTS:
        return
    if viewer() is None:
        raise sign_in_required()
