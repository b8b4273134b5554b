"""The notifications page."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import url_for
from flask.typing import ResponseReturnValue

from kb.auth.policy import require_role
from kb.auth.policy import viewer
from kb.extensions import db
from kb.htmx import render
from kb.notifications import services

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
@require_role("contributor")
def index() -> ResponseReturnValue:
    """Messages about the viewer's entries, and their entries due for review."""
    user = viewer()
    return render(
        "notifications/index.html",
        "notifications/_list.html",
        notifications=services.recent(db.session, user),
        due=services.due_for_review(db.session, user),
    )


@bp.post("/notifications/read")
@require_role("contributor")
def read_all() -> ResponseReturnValue:
    """Mark every message read."""
    services.mark_all_read(db.session, viewer())
    db.session.commit()
    flash("All notifications marked as read.")
    return redirect(url_for("notifications.index"), code=303)


@bp.app_context_processor
def _notification_count() -> dict[str, Callable[[], int]]:
    """The number beside "Notifications", counted only when a full page shows it."""

    def notification_count() -> int:
        user = viewer()
        return services.unread_count(db.session, user) if user else 0

    return {"notification_count": notification_count}
