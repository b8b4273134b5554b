"""API writes: ``POST /api/v1/entries`` and ``PATCH /api/v1/entries/<id>``.

Same roles, validation and pending revisions as the forms (``kb.entries.editing``). A request
with a bearer token needs no CSRF token; one authenticated by the session cookie does (the API
blueprint is exempt from the global check, so it is made here for cookie writes).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response
from flask import abort
from flask import current_app
from flask import jsonify
from flask import request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from kb.api.views import VERSION_HEADER
from kb.api.views import bp
from kb.auth.policy import is_curator
from kb.auth.policy import presented_token
from kb.auth.policy import require_role
from kb.auth.policy import viewer
from kb.entries import editing
from kb.entries import workflow
from kb.entries.services import entry_record
from kb.entries.services import get_readable_entry
from kb.entries.validation import RecordError
from kb.extensions import csrf
from kb.extensions import db
from kb.models import Entry
from kb.models import User
from kb.web import external_url
from kb.web import strip_controls

#: Statuses a new entry may be created in, and the workflow step that gets it there.
CREATE_STEPS = {"draft": None, "in_review": "submit", "published": "publish", "archived": "archive"}
CSRF_MESSAGE = (
    "The CSRF token is missing or invalid. Browser sessions send it in the X-CSRFToken "
    "header; programs should use an API token (Authorization: Bearer) instead."
)


def error(code: int, message: str, **extra: Any) -> Response:
    """``{"error": {"code", "message", …}}`` with ``code`` as the status."""
    response = jsonify(error={"code": code, "message": message, **extra})
    response.status_code = code
    return response


@bp.errorhandler(CSRFError)
def _csrf_failed(_exc: CSRFError) -> ResponseReturnValue:
    return error(400, CSRF_MESSAGE)


@bp.errorhandler(RecordError)
def _invalid_record(exc: RecordError) -> ResponseReturnValue:
    db.session.rollback()
    return error(422, "The entry is not valid: see fields.", fields=exc.fields)


def _check_csrf() -> None:
    """Cookie-session writes need the CSRF token; bearer requests never do."""
    if presented_token() is None and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


def _json_object() -> dict[str, Any]:
    """The request body as a JSON object, else a 400."""
    if not request.is_json:
        abort(400, "Send a JSON object with Content-Type: application/json.")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "The body must be a JSON object (it is not valid JSON, or not an object).")
    return _clean(body)


def _clean(value: Any) -> Any:
    """Control characters stripped from every string, as ``kb.web`` does for forms."""
    if isinstance(value, str):
        return strip_controls(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {strip_controls(str(key)): _clean(item) for key, item in value.items()}
    return value


def _entry_response(entry: Entry, status: int) -> Response:
    url = external_url("entries.detail", entry_id=entry.id)
    response = jsonify(entry_record(entry, url=url))
    response.status_code = status
    response.headers[VERSION_HEADER] = str(entry.version)
    return response


def _initial_status(body: dict[str, Any], user: User) -> str:
    status = body.pop("status", None) or "draft"
    if not isinstance(status, str) or status not in CREATE_STEPS:
        choices = ", ".join(CREATE_STEPS)
        raise RecordError({"status": f"{status!r} cannot be set on a new entry; use {choices}"})
    if status in ("published", "archived") and not is_curator(user):
        abort(403, f"Only a curator can create an entry as {status}; send draft or in_review.")
    return status


def _unused_uid(uid: Any) -> None:
    """A new entry may bring its own uid, but not one in use (the importer updates by uid)."""
    try:
        value = str(uuid.UUID(str(uid))) if uid else None
    except ValueError:
        return  # validation names the bad uid
    if value and db.session.scalar(select(Entry.id).where(Entry.uid == value)):
        raise RecordError({"uid": "another entry already has this uid"})


@bp.post("/api/v1/entries")
@require_role("contributor")
def create_entry() -> ResponseReturnValue:
    """Create an entry from a record: a draft, or in review / published / archived if allowed."""
    _check_csrf()
    body = _json_object()
    user = viewer()
    assert user is not None  # require_role
    status = _initial_status(body, user)
    _unused_uid(body.get("uid"))
    entry = editing.create(db.session, body, author=user)
    step = CREATE_STEPS[status]
    if step:
        workflow.transition(db.session, entry, step, actor=user)
    db.session.flush()
    # The answer describes what this request wrote: built before the commit, because
    # afterwards the entry is read again and may already show someone else's next edit.
    response = _entry_response(entry, 201)
    response.headers["Location"] = external_url("api.entry", entry_id=entry.id)
    db.session.commit()
    return response


def _version(body: dict[str, Any]) -> int:
    version = body.pop("version", None)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RecordError({"version": "is required: the entry's version (a whole number from 1)"})
    return version


def _patch_record(entry: Entry, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """The content the edit starts from (as the form does) with the sent fields on top."""
    fixed = {"kind": entry.kind, "uid": entry.uid, "status": entry.status}
    wrong = {
        name: f"cannot be changed here (it is {value!r})"
        for name, value in fixed.items()
        if name in body and body[name] not in (None, value)
    }
    if wrong:
        raise RecordError(wrong)
    for name in fixed:
        body.pop(name, None)
    return {**editing.current_content(entry, user), **body}


@bp.patch("/api/v1/entries/<int:entry_id>")
@require_role("contributor")
def update_entry(entry_id: int) -> ResponseReturnValue:
    """Change some fields (with ``version``): 200 applied, 202 waiting for a curator, 409 stale."""
    _check_csrf()
    user = viewer()
    assert user is not None  # require_role
    entry = get_readable_entry(db.session, entry_id, user) or abort(404, "no such entry")
    if not editing.may_edit(user, entry):
        abort(403, "Only the entry's author or a curator can edit it.")
    body = _json_object()
    version = _version(body)
    note = body.pop("note", "")
    if not isinstance(note, str):
        raise RecordError({"note": "must be text"})
    record = _patch_record(entry, user, body)
    try:
        saved = editing.update(db.session, entry, record, editor=user, version=version, note=note)
    except editing.EditConflict as conflict:
        db.session.rollback()
        message = (
            f"The entry changed since version {version}: it is now at version "
            f"{conflict.version}. Read it again, reapply your change, and send that version."
        )
        return error(409, message, version=conflict.version)
    db.session.flush()
    # Built before the commit: its Entry-Version must be the version this edit made, not a
    # later one another writer committed meanwhile (sending that back would overwrite it).
    response = _entry_response(saved.entry, 202 if saved.pending else 200)
    db.session.commit()
    return response
