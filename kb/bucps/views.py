"""BUCP workspace pages: the list, the BUCP page with its panels, section editing, exports.

Every route needs a sign-in (303 to /login otherwise); a BUCP is seen and changed only by its
team and curators (403). Panel forms post with or without htmx: with it, the panel named by
``HX-Target`` is re-rendered in place (with the real status code); without, the browser is
redirected back to the page (303), or the page is re-rendered with the error.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import send_file
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import Conflict
from werkzeug.exceptions import RequestEntityTooLarge

from kb.auth.policy import require_role
from kb.auth.policy import viewer
from kb.bucps import attachments
from kb.bucps import exports
from kb.bucps import lifecycle
from kb.bucps import services
from kb.bucps.forms import AttachmentForm
from kb.bucps.forms import BucpForm
from kb.bucps.forms import DisputeForm
from kb.bucps.forms import LessonForm
from kb.bucps.forms import MemberForm
from kb.bucps.forms import ResolveForm
from kb.bucps.forms import SectionForm
from kb.bucps.forms import TransitionForm
from kb.bucps.placeholders import filled_html
from kb.extensions import csrf
from kb.extensions import db
from kb.htmx import is_htmx
from kb.htmx import render
from kb.imports import uploads
from kb.models import Bucp
from kb.models import Entry
from kb.models import Program
from kb.pagination import page_args

bp = Blueprint("bucps", __name__, url_prefix="/bucps")
CSRF_MESSAGE = "The form had expired. Nothing was lost: check it and save again."
FIX_MESSAGE = "Some fields need fixing; everything you typed is kept."
#: ``HX-Target`` → the fragment that re-renders that panel of the BUCP page.
PANELS = {
    "bucp-stage": "bucps/_stage.html",
    "bucp-team": "bucps/_team.html",
    "bucp-placeholders": "bucps/_placeholders.html",
    "bucp-disputes": "bucps/_disputes.html",
    "bucp-lessons": "bucps/_lessons.html",
}


@bp.before_request
@require_role("contributor")
def _guard() -> None:
    """Every BUCP page needs a signed-in user (303 to sign in)."""


@bp.app_context_processor
def _where_used() -> dict[str, Any]:
    """``snippet_uses(entry)`` for the snippet page: the BUCPs (the viewer may see) using it."""

    def snippet_uses(entry: Entry) -> services.WhereUsed:
        return services.where_used(db.session, entry, viewer())

    return {"snippet_uses": snippet_uses}


# --- list and create ------------------------------------------------------------------------


@bp.get("")
def index() -> ResponseReturnValue:
    """The BUCPs the viewer may see (their team's; curators all), newest activity first."""
    page, per_page = page_args(request.args)
    stage = request.args.get("stage") or None
    bucps = services.list_bucps(db.session, viewer(), page, per_page, stage)
    return render(
        "bucps/index.html", "bucps/_list.html", bucps=bucps, stage=stage, stages=lifecycle.STAGES
    )


def _header_form_page(
    form: BucpForm, status: int = 200, bucp: Bucp | None = None, message: str | None = None
) -> ResponseReturnValue:
    form.set_departments(services.departments(db.session))
    programs = db.session.scalars(db.select(Program.name).order_by(Program.name)).all()
    return (
        render_template(
            "bucps/form.html", form=form, bucp=bucp, programs=programs, message=message
        ),
        status,
    )


def _posted_header() -> BucpForm:
    form = BucpForm()
    form.set_departments(services.departments(db.session))
    form.validate()
    return form


def _header_error(form: BucpForm, exc: services.BucpInputError) -> None:
    db.session.rollback()
    field = getattr(form, exc.field or "", None) or form.title
    field.errors = [*(field.errors or []), exc.message]


@bp.get("/new")
def new() -> ResponseReturnValue:
    """An empty BUCP form."""
    return _header_form_page(BucpForm())


@bp.post("")
@csrf.exempt  # the form checks its own token, so a failure re-renders it with the input kept
def create() -> ResponseReturnValue:
    """Create a BUCP in draft (its creator joins the team); 422 keeps the input."""
    form = _posted_header()
    if form.errors.get("csrf_token"):
        return _header_form_page(form, 400, message=CSRF_MESSAGE)
    if form.errors:
        return _header_form_page(form, 422, message=FIX_MESSAGE)
    try:
        bucp = services.create_bucp(
            db.session,
            form.data_for_service(),
            creator=viewer(),
            started_on=form.started_on.data,
            note=form.note.data or "",
        )
    except services.BucpInputError as exc:
        _header_error(form, exc)
        return _header_form_page(form, 422, message=FIX_MESSAGE)
    db.session.commit()
    flash("BUCP created. Assemble its sections from the clause library.")
    return redirect(url_for("bucps.detail", bucp_id=bucp.id), code=303)


@bp.get("/<int:bucp_id>/edit")
def edit(bucp_id: int) -> ResponseReturnValue:
    """The header form, filled, carrying the BUCP's ``version``."""
    bucp = services.editable_bucp(db.session, bucp_id, viewer())
    form = BucpForm(
        data={
            "version": bucp.version,
            "title": bucp.title,
            "program": bucp.program.name,
            "provider_id": str(bucp.provider_id),
            "sponsor_role": bucp.sponsor_role,
            "coordinator_role": bucp.coordinator_role,
            "statutory_solutions": bucp.statutory_solutions,
            "results": bucp.results,
        }
    )
    return _header_form_page(form, bucp=bucp)


@bp.post("/<int:bucp_id>")
@csrf.exempt  # the form checks its own token, so a failure re-renders it with the input kept
def update(bucp_id: int) -> ResponseReturnValue:
    """Save the header: 409 when it changed meanwhile (the current values shown), 422 to fix."""
    bucp = services.editable_bucp(db.session, bucp_id, viewer())
    form = _posted_header()
    if form.errors.get("csrf_token"):
        return _header_form_page(form, 400, bucp=bucp, message=CSRF_MESSAGE)
    version = int(form.version.data) if str(form.version.data or "").isdigit() else -1
    try:
        services.update_header(
            db.session, bucp, form.data_for_service(), version=version, actor=viewer()
        )
    except services.BucpInputError as exc:
        _header_error(form, exc)
        return _header_form_page(form, 422, bucp=bucp, message=FIX_MESSAGE)
    except Conflict as exc:
        return _header_form_page(form, 409, bucp=bucp, message=exc.description)
    db.session.commit()
    flash("Details saved.")
    return redirect(url_for("bucps.detail", bucp_id=bucp.id), code=303)


# --- the BUCP page and its panels -----------------------------------------------------------


def _context(bucp: Bucp, **extra: Any) -> dict[str, Any]:
    session, user = db.session, viewer()
    values = services.placeholder_values(bucp)
    names = services.placeholder_names(bucp)
    forms: dict[str, Any] = {
        "transition_form": TransitionForm(formdata=None),
        "member_form": MemberForm(formdata=None),
        "dispute_form": DisputeForm(formdata=None),
        "resolve_form": ResolveForm(formdata=None),
        "lesson_form": LessonForm(formdata=None),
        "attachment_form": AttachmentForm(formdata=None),
    }
    forms.update({k: v for k, v in extra.items() if k.endswith("_form")})
    forms["transition_form"].set_stages(bucp.stage)
    forms["lesson_form"].entry_id.choices = [("", "Choose a lesson")] + [
        (str(e.id), e.title) for e in services.lesson_choices(session, bucp)
    ]
    return {
        "bucp": bucp,
        "groups": services.grouped_sections(bucp),
        "previews": {s.id: filled_html(s.text, values) for s in bucp.sections},
        "newer": {s.id: services.newer_revision(s) for s in bucp.sections},
        "values": values,
        "placeholder_names": names,
        "unfilled": [name for name in names if not values.get(name, "").strip()],
        "may_edit": services.may_edit(user, bucp),
        "stage_label": lifecycle.label,
        "final": bucp.stage in lifecycle.FINAL_STAGES,
        "solutions": services.STATUTORY_SOLUTIONS,
        "requirements": services.REQUIREMENTS,
        "attachment_limit": attachments.human_size(_attachment_limit()),
        "messages": extra.get("messages", {}),
        # the placeholder values as posted, when refused: the form shows them again
        "typed_values": extra.get("typed_values", {}),
        # the dispute form refused ("new", or the id of the dispute being resolved): it is
        # shown open, and only it holds what was typed
        "refused_dispute": extra.get("refused_dispute"),
        **forms,
    }


def _page(bucp: Bucp, status: int = 200, **extra: Any) -> ResponseReturnValue:
    """The BUCP page, or (htmx) the panel named by ``HX-Target``."""
    fragment = PANELS.get(request.headers.get("HX-Target", ""), "bucps/_detail.html")
    return render("bucps/detail.html", fragment, status, **_context(bucp, **extra))


def _done(bucp: Bucp, panel: str, message: str) -> ResponseReturnValue:
    """Commit; then the fresh panel (htmx) or a redirect back to it (303)."""
    db.session.commit()
    if is_htmx():
        return _page(bucp, messages={panel: message})
    flash(message)
    return redirect(url_for("bucps.detail", bucp_id=bucp.id, _anchor=panel), code=303)


def _refused(bucp: Bucp, panel: str, status: int, message: str, **forms: Any) -> Any:
    """Roll back and show the panel's problem with the input kept."""
    db.session.rollback()
    return _page(bucp, status, messages={panel: message}, **forms)


@bp.get("/<int:bucp_id>")
def detail(bucp_id: int) -> ResponseReturnValue:
    """One BUCP: header, team, stage, sections (filled preview), placeholders, documents."""
    return _page(services.visible_bucp(db.session, bucp_id, viewer()))


@bp.post("/<int:bucp_id>/stage")
def transition(bucp_id: int) -> ResponseReturnValue:
    """Move to another stage (409 when the life cycle does not allow it; 422 for bad dates)."""
    bucp = services.editable_bucp(db.session, bucp_id, viewer())
    form = TransitionForm()
    form.set_stages(bucp.stage)
    if not form.validate():
        return _refused(bucp, "bucp-stage", 422, FIX_MESSAGE, transition_form=form)
    try:
        event = services.record_transition(
            db.session,
            bucp,
            form.to_stage.data or "",
            actor=viewer(),
            on=form.on.data,
            note=form.note.data or "",
        )
    except lifecycle.TransitionRefused as exc:
        return _refused(bucp, "bucp-stage", 409, str(exc), transition_form=form)
    except services.BucpInputError as exc:
        getattr(form, exc.field or "note").errors = [exc.message]
        return _refused(bucp, "bucp-stage", 422, exc.message, transition_form=form)
    return _done(bucp, "bucp-stage", f"Moved to {lifecycle.label(event.to_stage).lower()}.")


@bp.post("/<int:bucp_id>/team")
def add_member(bucp_id: int) -> ResponseReturnValue:
    """Add someone to the team by user name."""
    bucp = services.editable_bucp(db.session, bucp_id, viewer())
    form = MemberForm()
    try:
        member = services.add_member(db.session, bucp, form.username.data or "", actor=viewer())
    except services.BucpInputError as exc:
        form.username.errors = [exc.message]
        return _refused(bucp, "bucp-team", 422, exc.message, member_form=form)
    return _done(bucp, "bucp-team", f"{member.user.label} joined the team.")


@bp.post("/<int:bucp_id>/team/<int:user_id>/remove")
def remove_member(bucp_id: int, user_id: int) -> ResponseReturnValue:
    """Take someone off the team (409 for the last member)."""
    bucp = services.editable_bucp(db.session, bucp_id, viewer())
    try:
        services.remove_member(db.session, bucp, user_id, actor=viewer())
    except Conflict as exc:
        return _refused(bucp, "bucp-team", 409, exc.description)
    return _done(bucp, "bucp-team", "Removed from the team.")


@bp.post("/<int:bucp_id>/placeholders")
def placeholders(bucp_id: int) -> ResponseReturnValue:
    """Save the values of the BUCP's placeholders (fields named ``value-<placeholder>``)."""
    bucp = services.editable_bucp(db.session, bucp_id, viewer())
    values = {
        key.removeprefix("value-"): value
        for key, value in request.form.items()
        if key.startswith("value-")
    }
    try:
        services.save_placeholders(db.session, bucp, values, actor=viewer())
    except services.BucpInputError as exc:
        return _refused(bucp, "bucp-placeholders", 422, exc.message, typed_values=values)
    return _done(bucp, "bucp-placeholders", "Placeholder values saved.")


@bp.post("/<int:bucp_id>/disputes")
def raise_dispute(bucp_id: int) -> ResponseReturnValue:
    """Record a dispute."""
    bucp = services.editable_bucp(db.session, bucp_id, viewer())
    form = DisputeForm()
    try:
        if not form.validate():
            raise services.BucpInputError(FIX_MESSAGE)
        services.raise_dispute(
            db.session,
            bucp,
            description=form.description.data or "",
            on=form.on.data,
            actor=viewer(),
        )
    except services.BucpInputError as exc:
        return _refused(
            bucp, "bucp-disputes", 422, exc.message, dispute_form=form, refused_dispute="new"
        )
    return _done(bucp, "bucp-disputes", "Dispute recorded.")


@bp.post("/<int:bucp_id>/disputes/<int:dispute_id>/resolve")
def resolve_dispute(bucp_id: int, dispute_id: int) -> ResponseReturnValue:
    """Record how a dispute was resolved."""
    bucp = services.editable_bucp(db.session, bucp_id, viewer())
    form = ResolveForm()
    try:
        if not form.validate():
            raise services.BucpInputError(FIX_MESSAGE)
        services.resolve_dispute(
            db.session,
            bucp,
            dispute_id,
            resolution=form.resolution.data or "",
            on=form.on.data,
            actor=viewer(),
        )
    except services.BucpInputError as exc:
        return _refused(
            bucp, "bucp-disputes", 422, exc.message, resolve_form=form, refused_dispute=dispute_id
        )
    except Conflict as exc:
        return _refused(bucp, "bucp-disputes", 409, exc.description)
    return _done(bucp, "bucp-disputes", "Resolution recorded.")


@bp.post("/<int:bucp_id>/lessons")
def add_lesson(bucp_id: int) -> ResponseReturnValue:
    """Link a lesson the team applied."""
    bucp = services.editable_bucp(db.session, bucp_id, viewer())
    entry_id = request.form.get("entry_id", type=int) or 0
    try:
        lesson = services.add_lesson(db.session, bucp, entry_id)
    except services.BucpInputError as exc:
        return _refused(bucp, "bucp-lessons", 422, exc.message)
    return _done(bucp, "bucp-lessons", f"Linked “{lesson.title}”.")


@bp.post("/<int:bucp_id>/lessons/<int:entry_id>/remove")
def remove_lesson(bucp_id: int, entry_id: int) -> ResponseReturnValue:
    """Unlink a lesson."""
    bucp = services.editable_bucp(db.session, bucp_id, viewer())
    services.remove_lesson(db.session, bucp, entry_id)
    return _done(bucp, "bucp-lessons", "Lesson unlinked.")


# --- sections -------------------------------------------------------------------------------


def _section_page(
    bucp: Bucp, slug: str, status: int = 200, form: SectionForm | None = None, **extra: Any
) -> ResponseReturnValue:
    section = services.get_section(bucp, slug)
    q = request.args.get("q", "")[:200]
    form = form or SectionForm(
        formdata=None, data={"text": section.text, "version": section.version}
    )
    values = services.placeholder_values(bucp)
    return render(
        "bucps/section.html",
        "bucps/_snippets.html",
        status,
        bucp=bucp,
        section=section,
        form=form,
        q=q,
        snippets=services.snippet_choices(db.session, section.clause_type, q),
        deviation=services.deviation(db.session, section),
        newer=services.newer_revision(section),
        change=services.revision_change(db.session, section),
        preview=filled_html(section.text, values),
        requirements=services.REQUIREMENTS,
        **extra,
    )


@bp.get("/<int:bucp_id>/sections/<slug>")
def section(bucp_id: int, slug: str) -> ResponseReturnValue:
    """Edit one section: its text, the clauses of its type to insert, the diff to the clause."""
    return _section_page(services.editable_bucp(db.session, bucp_id, viewer()), slug)


@bp.post("/<int:bucp_id>/sections/<slug>")
@csrf.exempt  # the form checks its own token, so a failure re-renders it with the input kept
def save_section(bucp_id: int, slug: str) -> ResponseReturnValue:
    """Save a section's text (409 with the saved text when it changed meanwhile)."""
    bucp = services.editable_bucp(db.session, bucp_id, viewer())
    section = services.get_section(bucp, slug)
    form = SectionForm()
    if not form.validate() and form.errors.get("csrf_token"):
        return _section_page(bucp, slug, 400, form, message=CSRF_MESSAGE)
    version = int(form.version.data) if str(form.version.data or "").isdigit() else -1
    try:
        services.save_section(
            db.session, section, text=form.text.data or "", version=version, actor=viewer()
        )
    except services.BucpInputError as exc:
        db.session.rollback()
        form.text.errors = [exc.message]
        return _section_page(bucp, slug, 422, form, message=FIX_MESSAGE)
    except services.SectionConflict as conflict:
        form.version.data = str(conflict.version)
        return _section_page(bucp, slug, 409, form, theirs=conflict.theirs)
    db.session.commit()
    flash(f"“{section.clause_type.name}” saved.")
    return redirect(url_for("bucps.detail", bucp_id=bucp.id, _anchor=f"section-{slug}"), 303)


@bp.post("/<int:bucp_id>/sections/<slug>/insert")
def insert(bucp_id: int, slug: str) -> ResponseReturnValue:
    """Insert a published clause into the section, pinned at its published revision."""
    bucp = services.editable_bucp(db.session, bucp_id, viewer())
    section = services.get_section(bucp, slug)
    snippet_id = request.form.get("snippet_id", type=int) or 0
    try:
        services.insert_snippet(db.session, section, snippet_id, actor=viewer())
    except services.BucpInputError as exc:
        db.session.rollback()
        return _section_page(bucp, slug, 422, message=exc.message)
    db.session.commit()
    flash(f"Inserted “{section.snippet.title}” (revision {section.snippet_revision}).")
    return redirect(url_for("bucps.section", bucp_id=bucp.id, slug=slug), code=303)


@bp.post("/<int:bucp_id>/sections/<slug>/update")
def update_snippet(bucp_id: int, slug: str) -> ResponseReturnValue:
    """Move the section to the clause's newer published revision (409 when it cannot)."""
    bucp = services.editable_bucp(db.session, bucp_id, viewer())
    section = services.get_section(bucp, slug)
    try:
        services.update_to_revision(
            db.session,
            section,
            revision=request.form.get("revision", type=int) or 0,
            actor=viewer(),
            replace_edits=request.form.get("replace_edits") == "1",
        )
    except Conflict as exc:
        db.session.rollback()
        return _section_page(bucp, slug, 409, message=exc.description)
    db.session.commit()
    flash(f"Updated to revision {section.snippet_revision} of “{section.snippet.title}”.")
    return redirect(url_for("bucps.section", bucp_id=bucp.id, slug=slug), code=303)


# --- attachments and exports ----------------------------------------------------------------


def _attachment_limit() -> int:
    return int(current_app.config["BUCP_ATTACHMENT_MAX_BYTES"])


@bp.post("/<int:bucp_id>/attachments")
@csrf.exempt  # checked below, after the request size limit is set
def upload(bucp_id: int) -> ResponseReturnValue:
    """Attach a document (413 when too large, 422 for a type that is not allowed)."""
    bucp = services.editable_bucp(db.session, bucp_id, viewer())
    limit = _attachment_limit()
    too_large = f"The file is larger than the {attachments.human_size(limit)} limit."
    request.max_content_length = limit + 64 * 1024  # room for the form around the file
    if uploads.length_unknown():
        return _refused(bucp, "bucp-attachments", 411, uploads.LENGTH_REQUIRED)
    uploads.track_spooled_files()
    try:
        if current_app.config["WTF_CSRF_ENABLED"]:
            csrf.protect()
        upload = request.files.get("file")
        attachments.store(
            db.session,
            bucp,
            filename=(upload.filename or "") if upload else "",
            stream=upload.stream if upload else io.BytesIO(),
            data_dir=current_app.config["DATA_DIR"],
            limit=limit,
            actor=viewer(),
        )
    except (RequestEntityTooLarge, attachments.TooLarge):
        return _refused(bucp, "bucp-attachments", 413, too_large)
    except CSRFError:
        return _refused(bucp, "bucp-attachments", 400, CSRF_MESSAGE)
    except services.BucpInputError as exc:
        return _refused(bucp, "bucp-attachments", 422, exc.message)
    return _done(bucp, "bucp-attachments", "Document attached.")


bp.teardown_request(uploads.close_spooled_files)


@bp.get("/<int:bucp_id>/attachments/<int:attachment_id>")
def download(bucp_id: int, attachment_id: int) -> ResponseReturnValue:
    """Download an attachment (those who may see the BUCP only)."""
    bucp = services.visible_bucp(db.session, bucp_id, viewer())
    attachment = attachments.get(bucp, attachment_id)
    return send_file(
        attachments.path_of(attachment, current_app.config["DATA_DIR"]),
        mimetype=attachment.content_type,
        as_attachment=True,
        download_name=attachments.download_name(attachment),
    )


@bp.get("/<int:bucp_id>/export")
def export(bucp_id: int) -> ResponseReturnValue:
    """The assembled proposal as ``format=docx`` (Word) or ``format=md`` (Markdown)."""
    bucp = services.visible_bucp(db.session, bucp_id, viewer())
    kind = request.args.get("format", "docx")
    if kind not in exports.FORMATS:
        abort(400, "Choose format=docx or format=md.")
    data = exports.to_docx(bucp) if kind == "docx" else exports.to_markdown(bucp).encode()
    return send_file(
        io.BytesIO(data),
        mimetype=exports.FORMATS[kind],
        as_attachment=True,
        download_name=exports.filename(bucp, kind),
    )
