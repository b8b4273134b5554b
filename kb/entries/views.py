"""Entry pages and the review workflow's routes."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint
from flask import abort
from flask import flash
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import DBAPIError

from kb.auth.policy import has_role
from kb.auth.policy import is_curator
from kb.auth.policy import require_role
from kb.auth.policy import viewer
from kb.entries import editing
from kb.entries import history as entry_history
from kb.entries import upkeep
from kb.entries import workflow
from kb.entries import writing
from kb.entries.forms import FORM_TEXT_FIELDS
from kb.entries.forms import EntryForm
from kb.entries.services import get_readable_entry
from kb.entries.validation import RecordError
from kb.errors import retry_after
from kb.extensions import csrf
from kb.extensions import database_busy
from kb.extensions import db
from kb.finder import searchlog
from kb.finder.services import related_entries
from kb.htmx import render
from kb.models import ENTRY_KINDS
from kb.models import Entry
from kb.pagination import page_args

bp = Blueprint("entries", __name__)
CSRF_MESSAGE = "The form had expired. Nothing was lost: check it and save again."
FIX_MESSAGE = "Some fields need fixing; everything you typed is kept."
PREVIEW_MESSAGE = "Not saved yet: the preview and the writing checks are beside the form."
CONFLICT_MESSAGE = (
    "Someone saved this entry after you opened it. Their version is shown below; "
    "your text is kept in the form. Merge what you need and save again."
)
BUSY_MESSAGE = (
    "Nothing was saved: the knowledge base was busy saving other changes. Everything you "
    "typed is kept in the form; save again in a moment."
)
DONE = {
    "submit": "Submitted for review. A curator will look at it.",
    "withdraw": "Withdrawn: the entry is a draft again.",
    "publish": "Published.",
    "request-changes": "Changes requested; the author sees your note.",
    "archive": "Archived: readers no longer see it.",
}


def _form_page(form: EntryForm, status: int = 200, **context: object) -> ResponseReturnValue:
    form.set_choices(editing.taxonomy_choices(db.session))
    entry = context.get("entry")
    help = writing.writing_help(
        db.session, form.record(), viewer(), entry.id if isinstance(entry, Entry) else None
    )
    return render_template("entries/form.html", form=form, help=help, **context), status


def _posted_form() -> EntryForm:
    """The submitted form, checked for its CSRF token (the record rules check the rest)."""
    form = EntryForm()
    form.set_choices(editing.taxonomy_choices(db.session))
    form.validate()
    return form


def _busy_form(form: EntryForm, exc: DBAPIError, **context: object) -> ResponseReturnValue:
    """The form again, with the input kept, when the database stayed locked (503)."""
    if not database_busy(exc):
        raise exc
    db.session.rollback()
    return retry_after(make_response(_form_page(form, 503, message=BUSY_MESSAGE, **context)))


def _field_errors(form: EntryForm, exc: RecordError) -> None:
    for name, message in exc.fields.items():
        field = getattr(form, name, None)
        target = field if field is not None and name != "kind" else form.title
        target.errors = [
            *(target.errors or []),
            message if field is not None else f"{name}: {message}",
        ]


@bp.get("/entries/new")
@require_role("contributor")
def new() -> ResponseReturnValue:
    """An empty form for a lesson (default) or a snippet (``?kind=snippet``)."""
    kind = request.args.get("kind") if request.args.get("kind") in ENTRY_KINDS else "lesson"
    title = (request.args.get("title") or "")[:200]  # e.g. from a search that found nothing
    return _form_page(EntryForm(kind=kind, title=title), entry=None)


@bp.post("/entries")
@csrf.exempt  # the form checks its own token, so a failure re-renders it with the input kept
@require_role("contributor")
def create() -> ResponseReturnValue:
    """Create a draft (and with ``action=submit`` send it for review); 422 keeps the input."""
    form = _posted_form()
    if form.errors.get("csrf_token"):
        return _form_page(form, 400, entry=None, message=CSRF_MESSAGE)
    if request.form.get("action") == "preview":
        return _form_page(form, entry=None, message=PREVIEW_MESSAGE)
    try:
        entry = editing.create(db.session, form.record(), author=viewer())
        if request.form.get("action") == "submit":
            workflow.transition(db.session, entry, "submit", actor=viewer())
        db.session.commit()
    except RecordError as exc:
        db.session.rollback()
        _field_errors(form, exc)
        return _form_page(form, 422, entry=None, message=FIX_MESSAGE)
    except DBAPIError as exc:
        return _busy_form(form, exc, entry=None)
    flash("Saved and submitted for review." if entry.status == "in_review" else "Draft saved.")
    return redirect(url_for("entries.detail", entry_id=entry.id), code=303)


@bp.get("/entries/<int:entry_id>/edit")
@require_role("contributor")
def edit(entry_id: int) -> ResponseReturnValue:
    """The form filled with the entry (or its pending revision), carrying its ``version``."""
    user = viewer()
    entry = get_readable_entry(db.session, entry_id, user) or abort(404)
    if not editing.may_edit(user, entry):
        abort(403, "Only the entry's author or a curator can edit it.")
    content = editing.current_content(entry, user)
    form = EntryForm(
        data={
            **content,
            "kind": entry.kind,
            "version": entry.version,
            "plays": [str(n) for n in content.get("plays") or []],
            "citations": "\n".join(content.get("citations") or []),
            "tags": ", ".join(content.get("tags") or []),
        }
    )
    return _form_page(form, entry=entry)


@bp.post("/entries/<int:entry_id>")
@csrf.exempt  # the form checks its own token, so a failure re-renders it with the input kept
@require_role("contributor")
def update(entry_id: int) -> ResponseReturnValue:
    """Save an edit: 409 with both versions when it changed meanwhile; 422 keeps the input."""
    user = viewer()
    entry = get_readable_entry(db.session, entry_id, user) or abort(404)
    form = _posted_form()
    if form.errors.get("csrf_token"):
        return _form_page(form, 400, entry=entry, message=CSRF_MESSAGE)
    if request.form.get("action") == "preview":
        return _form_page(form, entry=entry, message=PREVIEW_MESSAGE)
    version = int(form.version.data) if (form.version.data or "").isdigit() else -1
    try:
        saved = editing.update(
            db.session,
            entry,
            form.record(),
            editor=user,
            version=version,
            note=form.note.data or "",
        )
        if request.form.get("action") == "submit" and entry.status in (
            "draft",
            "changes_requested",
        ):
            workflow.transition(db.session, entry, "submit", actor=user)
        db.session.commit()
    except RecordError as exc:
        db.session.rollback()
        _field_errors(form, exc)
        return _form_page(form, 422, entry=entry, message=FIX_MESSAGE)
    except editing.EditConflict as conflict:
        db.session.rollback()
        form.version.data = str(conflict.version)
        return _form_page(form, 409, entry=entry, theirs=conflict.theirs, message=CONFLICT_MESSAGE)
    except DBAPIError as exc:
        return _busy_form(form, exc, entry=entry)
    submitted = request.form.get("action") == "submit" and entry.status == "in_review"
    flash(
        "Your changes wait for a curator's approval; readers see the published text until then."
        if saved.pending
        else "Saved and submitted for review."
        if submitted
        else "Saved."
    )
    return redirect(url_for("entries.detail", entry_id=entry.id), code=303)


@bp.post("/entries/<int:entry_id>/approve")
@require_role("curator")
def approve(entry_id: int) -> ResponseReturnValue:
    """Publish an entry's pending revision."""
    entry = get_readable_entry(db.session, entry_id, viewer()) or abort(404)
    editing.approve(db.session, entry, actor=viewer())
    db.session.commit()
    flash("The pending revision is published.")
    return redirect(url_for("entries.detail", entry_id=entry.id), code=303)


@bp.get("/entries/<int:entry_id>")
def detail(entry_id: int) -> ResponseReturnValue:
    """One entry, its Markdown rendered and sanitised, with the actions the viewer may take."""
    user = viewer()
    entry = get_readable_entry(db.session, entry_id, user) or abort(404)
    searchlog.record_opened(request.args)  # a result opened from an unlogged search settles it
    return render(
        "entries/detail.html",
        "entries/_entry.html",
        entry=entry,
        related=related_entries(db.session, entry, user),
        actions=workflow.available(user, entry),
        may_verify=upkeep.may_verify(user, entry),
        may_edit=editing.may_edit(user, entry),
        pending=editing.pending_revision(entry) if editing.may_edit(user, entry) else None,
        flags=upkeep.open_flags(db.session, entry) if is_curator(user) else [],
    )


@bp.post(
    "/entries/<int:entry_id>/<any(submit, withdraw, publish, 'request-changes', archive):action>"
)
@require_role("contributor")
def change_status(entry_id: int, action: str) -> ResponseReturnValue:
    """Move an entry along the workflow (403 without the role, 409 from the wrong status)."""
    user = viewer()
    entry = get_readable_entry(db.session, entry_id, user) or abort(404)
    workflow.transition(db.session, entry, action, actor=user, note=request.form.get("note", ""))
    db.session.commit()
    flash(DONE[action])
    return redirect(url_for("entries.detail", entry_id=entry.id), code=303)


@bp.get("/entries/<int:entry_id>/history")
def history(entry_id: int) -> ResponseReturnValue:
    """Every revision the viewer may see, and a word-by-word diff of any two (``a``, ``b``)."""
    user = viewer()
    entry = get_readable_entry(db.session, entry_id, user) or abort(404)
    revisions = entry_history.visible_revisions(entry, user)
    numbers = [revision.number for revision in revisions]
    a = request.args.get("a", type=int) or (numbers[-2] if len(numbers) > 1 else None)
    b = request.args.get("b", type=int) or (numbers[-1] if numbers else None)
    changes = None
    if a in numbers and b in numbers and a != b:
        older, newer = (revisions[numbers.index(n)] for n in sorted((a, b)))
        changes = entry_history.diff(older, newer)
    return render(
        "entries/history.html",
        "entries/_history.html",
        entry=entry,
        revisions=revisions,
        a=a,
        b=b,
        changes=changes,
        may_restore=entry_history.may_restore(user, entry),
        may_redact=has_role(user, "admin"),
    )


@bp.post("/entries/<int:entry_id>/revisions/<int:number>/<any(restore, redact):action>")
@require_role("contributor")
def revision_action(entry_id: int, number: int, action: str) -> ResponseReturnValue:
    """Restore an older revision as the newest, or (admins) redact one."""
    user = viewer()
    entry = get_readable_entry(db.session, entry_id, user) or abort(404)
    revision = entry_history.get_revision(db.session, entry, number)
    if action == "restore":
        entry_history.restore(db.session, entry, revision, actor=user)
        flash(f"Revision {number} restored as revision {entry.version}.")
    else:
        entry_history.redact(
            db.session, entry, revision, actor=user, reason=request.form.get("reason", "")
        )
        flash(f"Revision {number} redacted.")
    db.session.commit()
    return redirect(url_for("entries.history", entry_id=entry.id), code=303)


@bp.post("/entries/<int:entry_id>/verify")
@require_role("contributor")
def verify(entry_id: int) -> ResponseReturnValue:
    """Mark a published entry as still right (its author or a curator)."""
    user = viewer()
    entry = get_readable_entry(db.session, entry_id, user) or abort(404)
    upkeep.verify(db.session, entry, actor=user)
    db.session.commit()
    flash("Marked as verified; the next review is due in twelve months.")
    return redirect(url_for("entries.detail", entry_id=entry.id), code=303)


@bp.post("/entries/<int:entry_id>/flag")
@require_role("contributor")
def flag(entry_id: int) -> ResponseReturnValue:
    """Report a published entry as outdated (any signed-in user)."""
    user = viewer()
    entry = get_readable_entry(db.session, entry_id, user) or abort(404)
    upkeep.flag(db.session, entry, actor=user, reason=request.form.get("reason", ""))
    db.session.commit()
    flash("Thank you: a curator will look at it.")
    return redirect(url_for("entries.detail", entry_id=entry.id), code=303)


@bp.post("/entries/<int:entry_id>/flags/<int:flag_id>/resolve")
@require_role("curator")
def resolve_flag(entry_id: int, flag_id: int) -> ResponseReturnValue:
    """Close an outdated flag."""
    entry = get_readable_entry(db.session, entry_id, viewer()) or abort(404)
    upkeep.resolve_flag(db.session, entry, flag_id, actor=viewer())
    db.session.commit()
    flash("Flag resolved.")
    return redirect(url_for("entries.detail", entry_id=entry.id), code=303)


@bp.get("/review")
@require_role("curator")
def review() -> ResponseReturnValue:
    """The curators' queue: submissions waiting for review, oldest first."""
    page, per_page = page_args(request.args)
    queue = workflow.review_queue(db.session, page, per_page)
    return render(
        "entries/review.html",
        "entries/_review.html",
        queue=queue,
        flags=upkeep.open_flags(db.session),
        stale=upkeep.stale_entries(db.session),
        pending=editing.pending_entries(db.session),
    )


@bp.app_context_processor
def _review_count() -> dict[str, Callable[[], int]]:
    """The number beside "Review" in the navigation (curators only), counted only when shown."""

    def review_count() -> int:
        return workflow.review_count(db.session) if is_curator(viewer()) else 0

    return {"review_count": review_count}


# --- help while writing (nothing here saves) -------------------------------------------------

CHECKED_FIELDS = ", ".join(
    (
        *FORM_TEXT_FIELDS,
        "clause_type",
        "position",
        "citations",
        "categories",
        "plays",
        "tags",
        "program",
    )
)


@bp.post(f"/entries/check/<any({CHECKED_FIELDS}):name>")
@require_role("contributor")
def check_field(name: str) -> ResponseReturnValue:
    """The record rules' message for one field as the user leaves it (an htmx fragment)."""
    form = _posted_form()
    message = writing.field_error(db.session, form.record(), name)
    return render_template("entries/_feedback.html", field_id=name, message=message)


@bp.post("/entries/help")
@require_role("contributor")
def writing_help() -> ResponseReturnValue:
    """The writing panel for the form as typed: previews, writing checks, placeholders."""
    form = _posted_form()
    editing_id = request.args.get("entry", type=int)
    help = writing.writing_help(db.session, form.record(), viewer(), editing_id)
    return render_template("entries/_help.html", help=help)


@bp.get("/entries/tag-suggestions")
@require_role("contributor")
def tag_suggestions() -> ResponseReturnValue:
    """Existing tags completing the last one typed, as the options of a ``<datalist>``."""
    options = writing.tag_suggestions(db.session, request.args.get("tags", "")[:2000])
    return render_template("entries/_tag_options.html", options=options)
