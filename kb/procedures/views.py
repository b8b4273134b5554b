"""Procedure pages: the list, the procedure (the published view), the editor, citing, exports.

Reading follows ``KB_READ_ACCESS`` (anonymous readers see published procedures); every write
needs a signed-in contributor (303 to sign in), and the owner or a curator (403). A draft that
the viewer may not read answers 404. Step forms post with or without htmx: with it, the steps
list is re-rendered in place (with the real status code); without, the browser is redirected
back to the editor (303), or the editor is re-rendered with the error.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import send_file
from flask import url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import Conflict

from kb.auth.policy import require_role
from kb.auth.policy import viewer
from kb.extensions import csrf
from kb.extensions import db
from kb.htmx import is_htmx
from kb.htmx import render
from kb.models import Entry
from kb.models import Procedure
from kb.models import ProcedureStep
from kb.pagination import page_args
from kb.procedures import exports
from kb.procedures import services
from kb.procedures.forms import ProcedureForm
from kb.procedures.forms import StepForm
from kb.web import external_url

bp = Blueprint("procedures", __name__, url_prefix="/procedures")
CSRF_MESSAGE = "The form had expired. Nothing was lost: check it and save again."
FIX_MESSAGE = "Some fields need fixing; everything you typed is kept."
CONFLICT_MESSAGE = (
    "Someone saved this procedure's details after you opened the form. Their version is shown; "
    "yours is kept in the form. Merge what you need and save again."
)


@bp.app_context_processor
def _cited_in() -> dict[str, Any]:
    """``procedures_citing(entry)`` for the entry page: the procedures that cite it."""

    def procedures_citing(entry: Entry) -> services.CitedIn:
        return services.cited_in(db.session, entry, viewer())

    return {"procedures_citing": procedures_citing}


def _link(entry: Entry) -> str:
    return external_url("entries.detail", entry_id=entry.id)


def _step_form(step: ProcedureStep) -> StepForm:
    return StepForm(
        formdata=None,
        prefix=f"step-{step.id}",
        data={"heading": step.heading, "instructions": step.instructions},
    )


# --- list and create ------------------------------------------------------------------------


@bp.get("")
def index() -> ResponseReturnValue:
    """The procedures the viewer may read, by title; ``q`` searches the titles."""
    page, per_page = page_args(request.args)
    q = request.args.get("q", "")[: services.MAX_QUERY]
    procedures = services.list_procedures(db.session, viewer(), q, page, per_page)
    return render("procedures/index.html", "procedures/_list.html", procedures=procedures, q=q)


def _form_page(form: ProcedureForm, status: int = 200, message: str | None = None) -> Any:
    return render_template("procedures/form.html", form=form, message=message), status


@bp.get("/new")
@require_role("contributor")
def new() -> ResponseReturnValue:
    """An empty procedure form."""
    return _form_page(ProcedureForm())


@bp.post("")
@csrf.exempt  # the form checks its own token, so a failure re-renders it with the input kept
@require_role("contributor")
def create() -> ResponseReturnValue:
    """Create a draft procedure owned by the viewer; 422 keeps the input."""
    form = ProcedureForm()
    if not form.validate() and form.errors.get("csrf_token"):
        return _form_page(form, 400, CSRF_MESSAGE)
    try:
        procedure = services.create_procedure(db.session, form.data_for_service(), owner=viewer())
    except services.ProcedureInputError as exc:
        db.session.rollback()
        getattr(form, exc.field or "title").errors = [exc.message]
        return _form_page(form, 422, FIX_MESSAGE)
    db.session.commit()
    flash("Procedure created as a draft. Add its steps.")
    return redirect(url_for("procedures.edit", procedure_id=procedure.id), code=303)


# --- reading --------------------------------------------------------------------------------


@bp.get("/<int:procedure_id>")
def detail(procedure_id: int) -> ResponseReturnValue:
    """The procedure as readers see it; ``preview=1`` hides the owner's controls."""
    user = viewer()
    procedure = services.readable_procedure(db.session, procedure_id, user)
    preview = request.args.get("preview") == "1"
    citations = services.citations(db.session, procedure, _link)
    return render(
        "procedures/detail.html",
        "procedures/_procedure.html",
        procedure=procedure,
        citations=citations,
        outdated=sum(1 for cited in citations.values() if cited.newer),
        may_edit=services.may_edit(user, procedure) and not preview,
        preview=preview,
    )


@bp.get("/<int:procedure_id>/export")
def export(procedure_id: int) -> ResponseReturnValue:
    """The procedure as ``format=docx`` (Word) or ``format=md`` (Markdown); else 400."""
    procedure = services.readable_procedure(db.session, procedure_id, viewer())
    kind = request.args.get("format", "")
    if kind not in exports.FORMATS:
        abort(400, "Choose format=docx or format=md.")
    citations = services.citations(db.session, procedure, _link)
    if kind == "docx":
        data = exports.to_docx(procedure, citations)
    else:
        data = exports.to_markdown(procedure, citations).encode()
    return send_file(
        io.BytesIO(data),
        mimetype=exports.FORMATS[kind],
        as_attachment=True,
        download_name=exports.filename(procedure, kind),
    )


# --- the editor -----------------------------------------------------------------------------


def _editor(procedure: Procedure, status: int = 200, **extra: Any) -> ResponseReturnValue:
    """The editor page, or (htmx) the steps list; ``extra`` overrides forms and messages."""
    step_forms = {step.id: _step_form(step) for step in procedure.steps}
    step_forms.update(extra.pop("step_forms", {}))
    header = extra.pop("header_form", None) or ProcedureForm(
        formdata=None,
        data={
            "version": procedure.version,
            "title": procedure.title,
            "purpose": procedure.purpose,
            "audience": procedure.audience,
        },
    )
    context = {
        "procedure": procedure,
        "header_form": header,
        "step_forms": step_forms,
        "add_form": extra.pop("add_form", None) or StepForm(formdata=None, prefix="new"),
        "citations": services.citations(db.session, procedure, _link),
        "open_step": None,
        "message": None,
        "error": None,
        **extra,
    }
    return render("procedures/edit.html", "procedures/_steps.html", status, **context)


def _step_done(procedure: Procedure, message: str, step_id: int | None = None) -> Any:
    """Commit; then the fresh steps list (htmx) or a redirect back to the step (303)."""
    db.session.commit()
    if is_htmx():
        return _editor(procedure, message=message)
    flash(message)
    anchor = f"step-{step_id}" if step_id else "procedure-steps"
    page = "procedures.detail" if request.form.get("back") == "detail" else "procedures.edit"
    return redirect(url_for(page, procedure_id=procedure.id, _anchor=anchor), code=303)


def _step_refused(procedure: Procedure, status: int, message: str, **extra: Any) -> Any:
    """Roll back and show the steps with the problem, the input kept."""
    db.session.rollback()
    return _editor(procedure, status, error=message, **extra)


@bp.get("/<int:procedure_id>/edit")
@require_role("contributor")
def edit(procedure_id: int) -> ResponseReturnValue:
    """The editor: header form (with its ``version``), the steps, citing, publishing."""
    return _editor(services.editable_procedure(db.session, procedure_id, viewer()))


@bp.post("/<int:procedure_id>")
@csrf.exempt  # the form checks its own token, so a failure re-renders it with the input kept
@require_role("contributor")
def update(procedure_id: int) -> ResponseReturnValue:
    """Save the header: 409 with both versions when it changed meanwhile, 422 to fix."""
    procedure = services.editable_procedure(db.session, procedure_id, viewer())
    form = ProcedureForm()
    if not form.validate() and form.errors.get("csrf_token"):
        return _editor(procedure, 400, header_form=form, header_message=CSRF_MESSAGE)
    try:
        services.update_header(
            db.session,
            procedure,
            form.data_for_service(),
            version=form.posted_version(),
            actor=viewer(),
        )
    except services.ProcedureInputError as exc:
        db.session.rollback()
        getattr(form, exc.field or "title").errors = [exc.message]
        return _editor(procedure, 422, header_form=form, header_message=FIX_MESSAGE)
    except services.HeaderConflict as conflict:
        form.version.data = str(conflict.version)
        return _editor(
            procedure,
            409,
            header_form=form,
            header_message=CONFLICT_MESSAGE,
            theirs=conflict.theirs,
        )
    db.session.commit()
    flash("Details saved.")
    return redirect(url_for("procedures.edit", procedure_id=procedure.id), code=303)


@bp.post("/<int:procedure_id>/<any(publish, unpublish):action>")
@require_role("contributor")
def change_status(procedure_id: int, action: str) -> ResponseReturnValue:
    """Publish (every reader sees it) or take back to draft; 409 when not possible now."""
    procedure = services.editable_procedure(db.session, procedure_id, viewer())
    change = services.publish if action == "publish" else services.unpublish
    try:
        change(db.session, procedure, actor=viewer())
    except Conflict as exc:
        db.session.rollback()
        return _editor(procedure, 409, header_message=exc.description)
    db.session.commit()
    flash("Published: every reader can see it." if action == "publish" else "Back to draft.")
    return redirect(url_for("procedures.detail", procedure_id=procedure.id), code=303)


# --- steps ----------------------------------------------------------------------------------


def _posted_step(prefix: str) -> tuple[StepForm, str | None]:
    """The posted step form, and the message when its CSRF token failed."""
    form = StepForm(prefix=prefix)
    if not form.validate() and form.errors.get("csrf_token"):
        return form, CSRF_MESSAGE
    return form, None


@bp.post("/<int:procedure_id>/steps")
@csrf.exempt  # the form checks its own token, so a failure re-renders it with the input kept
@require_role("contributor")
def add_step(procedure_id: int) -> ResponseReturnValue:
    """Append a step; 422 keeps what was typed."""
    procedure = services.editable_procedure(db.session, procedure_id, viewer())
    form, csrf_failed = _posted_step("new")
    if csrf_failed:
        return _step_refused(procedure, 400, csrf_failed, add_form=form)
    try:
        step = services.add_step(db.session, procedure, form.data_for_service(), actor=viewer())
    except services.ProcedureInputError as exc:
        getattr(form, exc.field or "heading").errors = [exc.message]
        return _step_refused(procedure, 422, exc.message, add_form=form)
    return _step_done(procedure, f"Added step {step.position}, “{step.heading}”.", step.id)


@bp.post("/<int:procedure_id>/steps/<int:step_id>")
@csrf.exempt  # the form checks its own token, so a failure re-renders it with the input kept
@require_role("contributor")
def edit_step(procedure_id: int, step_id: int) -> ResponseReturnValue:
    """Save a step's heading and instructions; 422 keeps what was typed."""
    procedure = services.editable_procedure(db.session, procedure_id, viewer())
    step = services.get_step(procedure, step_id)
    form, csrf_failed = _posted_step(f"step-{step.id}")
    extra = {"step_forms": {step.id: form}, "open_step": step.id}
    if csrf_failed:
        return _step_refused(procedure, 400, csrf_failed, **extra)
    try:
        services.edit_step(db.session, step, form.data_for_service(), actor=viewer())
    except services.ProcedureInputError as exc:
        getattr(form, exc.field or "heading").errors = [exc.message]
        return _step_refused(procedure, 422, exc.message, **extra)
    return _step_done(procedure, f"Step {step.position} saved.", step.id)


@bp.post("/<int:procedure_id>/steps/<int:step_id>/remove")
@require_role("contributor")
def remove_step(procedure_id: int, step_id: int) -> ResponseReturnValue:
    """Remove a step; the others are numbered again."""
    procedure = services.editable_procedure(db.session, procedure_id, viewer())
    step = services.get_step(procedure, step_id)
    heading = step.heading
    services.remove_step(db.session, step, actor=viewer())
    return _step_done(procedure, f"Removed the step “{heading}”.")


@bp.post("/<int:procedure_id>/steps/<int:step_id>/move")
@require_role("contributor")
def move_step(procedure_id: int, step_id: int) -> ResponseReturnValue:
    """Move a step one place up or down (``direction``); at an end, say so."""
    procedure = services.editable_procedure(db.session, procedure_id, viewer())
    step = services.get_step(procedure, step_id)
    direction = request.form.get("direction", "")
    try:
        moved = services.move_step(db.session, step, direction, actor=viewer())
    except services.ProcedureInputError as exc:
        return _step_refused(procedure, 422, exc.message)
    if moved:
        message = f"Moved “{step.heading}” to step {step.position}."
    else:
        message = f"“{step.heading}” is already {'first' if direction == 'up' else 'last'}."
    return _step_done(procedure, message, step.id)


# --- citing ---------------------------------------------------------------------------------


@bp.get("/<int:procedure_id>/steps/<int:step_id>/cite")
@require_role("contributor")
def cite_search(procedure_id: int, step_id: int) -> ResponseReturnValue:
    """Find a published entry to cite in a step: the page, or (htmx) the results."""
    procedure = services.editable_procedure(db.session, procedure_id, viewer())
    step = services.get_step(procedure, step_id)
    q = request.args.get("q", "")[: services.MAX_QUERY]
    return render(
        "procedures/cite.html",
        "procedures/_cite_results.html",
        procedure=procedure,
        step=step,
        q=q,
        candidates=services.citation_candidates(db.session, q, viewer()),
        is_htmx=is_htmx(),
    )


@bp.post("/<int:procedure_id>/steps/<int:step_id>/cite")
@require_role("contributor")
def cite(procedure_id: int, step_id: int) -> ResponseReturnValue:
    """Cite a published entry in the step, pinned at its published revision."""
    procedure = services.editable_procedure(db.session, procedure_id, viewer())
    step = services.get_step(procedure, step_id)
    entry_id = request.form.get("entry_id", type=int) or 0
    try:
        services.cite(db.session, step, entry_id, actor=viewer())
    except services.ProcedureInputError as exc:
        return _step_refused(procedure, 422, exc.message, open_step=step.id)
    title, revision = step.cited_entry.title, step.cited_revision
    message = f"Step {step.position} cites “{title}” (revision {revision})."
    return _step_done(procedure, message, step.id)


@bp.post("/<int:procedure_id>/steps/<int:step_id>/uncite")
@require_role("contributor")
def uncite(procedure_id: int, step_id: int) -> ResponseReturnValue:
    """Remove a step's citation."""
    procedure = services.editable_procedure(db.session, procedure_id, viewer())
    step = services.get_step(procedure, step_id)
    services.uncite(db.session, step, actor=viewer())
    return _step_done(procedure, f"Step {step.position} no longer cites an entry.", step.id)


@bp.post("/<int:procedure_id>/steps/<int:step_id>/citation")
@require_role("contributor")
def update_citation(procedure_id: int, step_id: int) -> ResponseReturnValue:
    """Pin the step's citation to the entry's newer published revision (409 when there is none)."""
    procedure = services.editable_procedure(db.session, procedure_id, viewer())
    step = services.get_step(procedure, step_id)
    revision = request.form.get("revision", type=int) or 0
    try:
        services.update_citation(db.session, step, revision=revision, actor=viewer())
    except Conflict as exc:
        return _step_refused(procedure, 409, exc.description)
    return _step_done(procedure, f"Step {step.position} now cites revision {revision}.", step.id)
