"""Administration pages (admins only): users and roles, the audit trail."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import abort
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue

from kb.admin import services
from kb.admin.forms import AuditFilterForm
from kb.admin.forms import CreateUserForm
from kb.admin.forms import RoleForm
from kb.auth.policy import require_role
from kb.auth.policy import viewer
from kb.auth.services import AccountError
from kb.extensions import csrf
from kb.extensions import db
from kb.htmx import render
from kb.models import ROLES
from kb.models import User
from kb.pagination import page_args

bp = Blueprint("admin", __name__, url_prefix="/admin")
CSRF_MESSAGE = "The form had expired. Please check it and submit it again."


def _admin() -> User:
    user = viewer()
    assert user is not None  # require_role("admin") let the request through
    return user


def _users_page(form: CreateUserForm, *, status: int = 200, message: str | None = None) -> Response:
    """The accounts page with the create form (``message`` says why it was refused)."""
    page, per_page = page_args(request.args)
    listed = services.list_accounts(db.session, page, per_page)
    rows = [(user, RoleForm(formdata=None, role=user.role)) for user in listed.items]
    return render(
        "admin/users.html",
        "admin/_users.html",
        status=status,
        accounts=listed,
        rows=rows,
        form=form,
        message=message,
        me=_admin(),
    )


def _back_to_list() -> Response:
    page = request.form.get("page", type=int)
    target = url_for("admin.users", page=page if page and page > 1 else None)
    return redirect(target, code=303)


def _account(user_id: int) -> User:
    return services.get_account(db.session, user_id) or abort(404)


@bp.get("/users")
@require_role("admin")
def users() -> ResponseReturnValue:
    """Every account (the system user aside) with forms to change roles and access."""
    return _users_page(CreateUserForm())


@bp.post("/users")
@require_role("admin")
@csrf.exempt  # the form checks its own token, so a failure can re-render it with the input kept
def create() -> ResponseReturnValue:
    """Create a local account (422 with the input kept, the password aside, when invalid)."""
    form = CreateUserForm()
    message = None
    if form.validate():
        try:
            user = services.create_account(
                db.session,
                form.username.data,
                role=form.role.data,
                password=form.password.data,
                display_name=form.display_name.data or "",
                actor=_admin(),
            )
        except AccountError as exc:
            db.session.rollback()
            message = f"The account was not created: {exc}."
        else:
            db.session.commit()
            flash(f"Created {user.username} ({user.role}). They can sign in now.")
            return redirect(url_for("admin.users"), code=303)
    status = 400 if "csrf_token" in form.errors else 422
    form.password.data = form.confirm.data = ""
    return _users_page(form, status=status, message=CSRF_MESSAGE if status == 400 else message)


@bp.post("/users/<int:user_id>/role")
@require_role("admin")
def change_role(user_id: int) -> ResponseReturnValue:
    """Give an account another role (409 for one's own account, 422 for an unknown role)."""
    user = _account(user_id)
    form = RoleForm(meta={"csrf": False})  # CSRFProtect has checked the token already
    if not form.validate():
        abort(422, f"Choose one of the roles {', '.join(ROLES)} for {user.username}.")
    try:
        changed = services.change_role(db.session, user, form.role.data, actor=_admin())
    except services.ConflictError as exc:
        abort(409, str(exc))
    db.session.commit()
    flash(f"{user.username} is {'now' if changed else 'already'} {user.role}.")
    return _back_to_list()


@bp.post("/users/<int:user_id>/<any(deactivate, reactivate):action>")
@require_role("admin")
def change_access(user_id: int, action: str) -> ResponseReturnValue:
    """Deactivate an account (its entries stay) or reactivate it (409 for one's own account)."""
    user = _account(user_id)
    if action == "deactivate":
        change, done = services.deactivate_account, "can no longer sign in"
    else:
        change, done = services.reactivate_account, "can sign in again"
    try:
        change(db.session, user, actor=_admin())
    except services.ConflictError as exc:
        abort(409, str(exc))
    db.session.commit()
    flash(f"{user.username} {done}.")
    return _back_to_list()


@bp.get("/audit")
@require_role("admin")
def audit() -> ResponseReturnValue:
    """The audit trail, newest first, filtered by action, actor, object type and dates."""
    form = AuditFilterForm(formdata=request.args)
    form.set_choices(*services.audit_choices(db.session))
    form.validate()
    problems = form.take_problems()
    page, per_page = page_args(request.args)
    events = services.audit_page(db.session, form.filters(), page, per_page)
    return render(
        "admin/audit.html",
        "admin/_audit.html",
        form=form,
        events=events,
        problems=problems,
        actors=services.actor_names(db.session),
    )
