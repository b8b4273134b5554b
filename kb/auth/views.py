"""Sign in and sign out."""

from __future__ import annotations

from flask import Blueprint
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_login import login_user
from flask_login import logout_user

from kb.auth import services
from kb.auth.forms import LoginForm
from kb.auth.forms import LogoutForm
from kb.auth.policy import viewer
from kb.extensions import csrf
from kb.extensions import db

bp = Blueprint("auth", __name__)
CSRF_MESSAGE = "The form had expired. Please sign in again."


def _address() -> str:
    return request.remote_addr or "unknown"


@bp.route("/login", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token, so a failure can re-render it with the input kept
def login() -> ResponseReturnValue:
    """Show the sign-in form; sign in (throttled after repeated failures)."""
    form = LoginForm(next=request.args.get("next", ""))
    if request.method == "GET":
        return render_template("auth/login.html", form=form)
    status, message = 200, None
    if not form.validate():
        status = 400 if "csrf_token" in form.errors else 422
        message = CSRF_MESSAGE if status == 400 else None
    else:
        blocked = services.throttle(db.session, form.username.data, _address())
        if blocked.blocked:
            minutes = (blocked.retry_after_seconds + 59) // 60
            message = f"Too many failed sign-ins. Try again in {minutes} minute(s)."
            response = render_template("auth/login.html", form=form, message=message)
            return response, 429, {"Retry-After": str(blocked.retry_after_seconds)}
        user = services.authenticate(db.session, form.username.data, form.password.data, _address())
        db.session.commit()
        if user is not None:
            login_user(user)
            return redirect(services.safe_next(form.next.data), code=303)
        status, message = 422, "Wrong user name or password, or the account is not active."
    form.password.data = ""
    return render_template("auth/login.html", form=form, message=message), status


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> ResponseReturnValue:
    """GET asks to confirm; POST signs out."""
    if request.method == "GET":
        return render_template("auth/logout.html", form=LogoutForm(), user=viewer())
    logout_user()
    return redirect(url_for("browse.home"), code=303)
