"""Sign in and sign out; ``/account/tokens``, where users manage their API tokens."""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_login import login_user
from flask_login import logout_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length

from kb.auth import services
from kb.auth import tokens
from kb.auth.forms import LoginForm
from kb.auth.forms import LogoutForm
from kb.auth.policy import has_role
from kb.auth.policy import require_role
from kb.auth.policy import viewer
from kb.extensions import csrf
from kb.extensions import db
from kb.models import User

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


class NewTokenForm(FlaskForm):
    """The name of a new API token (the CSRF token comes with the form)."""

    name = StringField(
        "Name",
        validators=[Length(max=tokens.MAX_NAME_LENGTH)],
        render_kw={"maxlength": tokens.MAX_NAME_LENGTH, "autocomplete": "off"},
    )


def _me() -> User:
    user = viewer()
    assert user is not None  # require_role let the request through
    return user


def _tokens_page(form: NewTokenForm, status: int = 200, **context: object) -> ResponseReturnValue:
    user = _me()
    others = None
    if has_role(user, "admin"):
        active = tokens.list_tokens(db.session, include_revoked=False)
        others = [token for token in active if token.user_id != user.id]
    page = render_template(
        "auth/tokens.html",
        form=form,
        mine=tokens.list_tokens(db.session, user),
        others=others,
        **context,
    )
    # The page may show a new token: keep it out of caches and the back/forward cache.
    return page, status, {"Cache-Control": "no-store"}


@bp.get("/account/tokens")
@require_role("contributor")
def api_tokens() -> ResponseReturnValue:
    """The user's API tokens, a form to create one, and (admins) everyone's active tokens."""
    return _tokens_page(NewTokenForm())


@bp.post("/account/tokens")
@require_role("contributor")
def create_token() -> ResponseReturnValue:
    """Create a token and show its secret once (no redirect: it must not be stored anywhere)."""
    form = NewTokenForm()
    if not form.validate():
        return _tokens_page(form, 422)
    try:
        made = tokens.create_token(db.session, _me(), name=form.name.data or "")
    except tokens.TokenError as exc:
        db.session.rollback()
        return _tokens_page(form, 422, message=str(exc))
    db.session.commit()
    return _tokens_page(NewTokenForm(formdata=None), 201, new=made)


@bp.post("/account/tokens/<int:token_id>/revoke")
@require_role("contributor")
def revoke_token(token_id: int) -> ResponseReturnValue:
    """Revoke one of your tokens (admins: anyone's); it stops working at once."""
    token = tokens.get_token(db.session, token_id) or abort(404)
    if not tokens.may_revoke(_me(), token):
        abort(403, "Only the token's owner or an admin can revoke it.")
    try:
        tokens.revoke_token(db.session, token, actor=_me())
    except tokens.TokenError:
        flash(f"The token “{token.name}” ({token.prefix}…) was already revoked.")
        return redirect(url_for("auth.api_tokens"), code=303)
    db.session.commit()
    owner = "" if token.user_id == _me().id else f" of {token.user.username}"
    flash(f"Revoked the token “{token.name}” ({token.prefix}…){owner}: it no longer works.")
    return redirect(url_for("auth.api_tokens"), code=303)
