"""Taxonomy upkeep pages (curators): tags, programs and peer departments.

Every route needs the curator role. The CSRF check runs here rather than before every request,
so a failed check re-renders the form with what was typed (400) instead of an error page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError

from kb.auth.policy import require_role
from kb.auth.policy import viewer
from kb.extensions import csrf
from kb.extensions import db
from kb.htmx import render
from kb.models import Department
from kb.models import Program
from kb.models import Tag
from kb.pagination import page_args
from kb.taxonomy import services
from kb.taxonomy.forms import ConfirmForm
from kb.taxonomy.forms import DepartmentForm
from kb.taxonomy.forms import MergeProgramForm
from kb.taxonomy.forms import MergeTagForm
from kb.taxonomy.forms import ProgramForm
from kb.taxonomy.forms import RenameTagForm
from kb.taxonomy.forms import TagFilterForm

bp = Blueprint("taxonomy", __name__, url_prefix="/taxonomy")
csrf.exempt(bp)  # checked in _guard, see the module docstring
CSRF_FAILED = "kb_taxonomy_csrf_failed"
CSRF_MESSAGE = "The form had expired or was incomplete. Please submit it again."


@bp.before_request
@require_role("curator")
def _guard() -> None:
    """Curators and admins only (303 to sign in, else 403); then the CSRF check."""
    config = current_app.config
    if config["WTF_CSRF_ENABLED"] and request.method in config["WTF_CSRF_METHODS"]:
        try:
            csrf.protect()
        except CSRFError:
            g.setdefault(CSRF_FAILED, True)


def _problem(form: FlaskForm) -> int | None:
    """``None`` when the posted form may be acted on; else 400 (CSRF) or 422 (invalid)."""
    valid = form.validate()
    if g.get(CSRF_FAILED) or "csrf_token" in form.errors:
        return 400
    return None if valid else 422


def _refused(form: FlaskForm, exc: services.TaxonomyError) -> str | None:
    """Roll back; show the message under its field (422), else return it for the page."""
    db.session.rollback()
    field = form._fields.get(exc.field or "")
    if field is not None and exc.status == 422:
        field.errors = [*field.errors, exc.message]
        return None
    return exc.message


def _message(status: int | None) -> str | None:
    return CSRF_MESSAGE if status == 400 else None


def _get(model: type[Any], object_id: int) -> Any:
    return db.session.get(model, object_id) or abort(404)


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


def _usage_text(counts: dict[str, int]) -> str | None:
    return services.describe_usage(counts) if counts else None


def _back(endpoint: str, **values: Any) -> ResponseReturnValue:
    return redirect(url_for(endpoint, **values), code=303)


@bp.get("/")
def index() -> ResponseReturnValue:
    """What curators can keep tidy here, and what only migrations change."""
    return render_template("taxonomy/index.html")


# --- tags -------------------------------------------------------------------------------------


@bp.get("/tags")
def tags() -> ResponseReturnValue:
    """Every tag with its number of entries, filtered by a name prefix, one page at a time."""
    form = TagFilterForm(request.args)
    page, per_page = page_args(request.args)
    prefix = form.q.data if form.validate() else ""
    listing = services.tag_usage(
        db.session, prefix=prefix or "", sort=form.sort.data, page=page, per_page=per_page
    )
    return render("taxonomy/tags.html", "taxonomy/_tag_list.html", form=form, listing=listing)


def _tag_page(
    tag: Tag,
    *,
    status: int = 200,
    message: str | None = None,
    rename: RenameTagForm | None = None,
    merge: MergeTagForm | None = None,
) -> ResponseReturnValue:
    entries = len(services.tag_entry_ids(db.session, tag))
    page = render_template(
        "taxonomy/tag.html",
        tag=tag,
        entries=entries,
        message=message,
        rename=rename or RenameTagForm(formdata=None, name=tag.name),
        merge=merge or MergeTagForm(formdata=None),
        delete=ConfirmForm(formdata=None),
    )
    return page, status


@bp.get("/tags/<int:tag_id>")
def tag(tag_id: int) -> ResponseReturnValue:
    """One tag: how many entries carry it, and rename, merge and delete."""
    return _tag_page(_get(Tag, tag_id))


@bp.post("/tags/<int:tag_id>/rename")
def rename_tag(tag_id: int) -> ResponseReturnValue:
    """Rename a tag; 409 offering a merge when another tag has the name already."""
    tag, form = _get(Tag, tag_id), RenameTagForm()
    if status := _problem(form):
        return _tag_page(tag, rename=form, status=status, message=_message(status))
    old = tag.name
    try:
        changed = services.rename_tag(db.session, tag, form.name.data, actor=viewer())
    except services.NameTaken as exc:
        offer = MergeTagForm(formdata=None, target=exc.existing.name)
        message = f"{exc.message} Merge “{old}” into it instead?"
        db.session.rollback()
        return _tag_page(tag, rename=form, merge=offer, status=409, message=message)
    except services.TaxonomyError as exc:
        return _tag_page(tag, rename=form, status=exc.status, message=_refused(form, exc))
    db.session.commit()
    flash(f"Renamed “{old}” to “{tag.name}”." if changed else "Same name; nothing changed.")
    return _back("taxonomy.tag", tag_id=tag.id)


@bp.post("/tags/<int:tag_id>/merge")
def merge_tag(tag_id: int) -> ResponseReturnValue:
    """Merge a tag into another: its entries get the other tag, and it is deleted."""
    source, form = _get(Tag, tag_id), MergeTagForm()
    if status := _problem(form):
        return _tag_page(source, merge=form, status=status, message=_message(status))
    name = source.name
    try:
        target = services.existing_tag(db.session, form.target.data)
        moved = services.merge_tags(db.session, source, target, actor=viewer())
    except services.TaxonomyError as exc:
        return _tag_page(source, merge=form, status=exc.status, message=_refused(form, exc))
    db.session.commit()
    flash(f"Merged “{name}” into “{target.name}”: {_count(moved, 'entry', 'entries')} moved.")
    return _back("taxonomy.tag", tag_id=target.id)


@bp.post("/tags/<int:tag_id>/delete")
def delete_tag(tag_id: int) -> ResponseReturnValue:
    """Delete a tag no entry carries (409 otherwise)."""
    tag, form = _get(Tag, tag_id), ConfirmForm()
    if status := _problem(form):
        return _tag_page(tag, status=status, message=_message(status))
    name = tag.name
    try:
        services.delete_tag(db.session, tag, actor=viewer())
    except services.TaxonomyError as exc:
        return _tag_page(tag, status=exc.status, message=_refused(form, exc))
    db.session.commit()
    flash(f"Deleted the tag “{name}”.")
    return _back("taxonomy.tags")


# --- programs ---------------------------------------------------------------------------------


def _programs_page(
    form: ProgramForm, status: int = 200, message: str | None = None
) -> ResponseReturnValue:
    rows = services.program_usage(db.session)
    return render_template("taxonomy/programs.html", rows=rows, form=form, message=message), status


@bp.get("/programs")
def programs() -> ResponseReturnValue:
    """Every program with its entries and users, and a form to add one."""
    return _programs_page(ProgramForm(formdata=None))


@bp.post("/programs")
def create_program() -> ResponseReturnValue:
    """Add a program (409 when the name is taken)."""
    form = ProgramForm()
    if status := _problem(form):
        return _programs_page(form, status, _message(status))
    try:
        program = services.create_program(
            db.session, form.name.data, form.description.data, actor=viewer()
        )
    except services.TaxonomyError as exc:
        return _programs_page(form, exc.status, _refused(form, exc))
    db.session.commit()
    flash(f"Added the program “{program.name}”.")
    return _back("taxonomy.programs")


def _program_page(
    program: Program,
    *,
    status: int = 200,
    message: str | None = None,
    edit: ProgramForm | None = None,
    merge: MergeProgramForm | None = None,
) -> ResponseReturnValue:
    merge = (merge or MergeProgramForm(formdata=None)).offer(
        services.other_programs(db.session, program)
    )
    page = render_template(
        "taxonomy/program.html",
        program=program,
        usage=_usage_text(services.references(db.session, program)),
        message=message,
        edit=edit or ProgramForm(formdata=None, obj=program),
        merge=merge,
        delete=ConfirmForm(formdata=None),
    )
    return page, status


@bp.get("/programs/<int:program_id>")
def program(program_id: int) -> ResponseReturnValue:
    """One program: edit, merge into another, delete when unused."""
    return _program_page(_get(Program, program_id))


@bp.post("/programs/<int:program_id>")
def update_program(program_id: int) -> ResponseReturnValue:
    """Save a program's name and description (409 offering a merge when the name is taken)."""
    program, form = _get(Program, program_id), ProgramForm()
    if status := _problem(form):
        return _program_page(program, edit=form, status=status, message=_message(status))
    try:
        changed = services.update_program(
            db.session,
            program,
            name=form.name.data,
            description=form.description.data,
            actor=viewer(),
        )
    except services.NameTaken as exc:
        offer = MergeProgramForm(formdata=None, target=exc.existing.id)
        db.session.rollback()
        message = f"{exc.message} Merge this program into it instead?"
        return _program_page(program, edit=form, merge=offer, status=409, message=message)
    except services.TaxonomyError as exc:
        return _program_page(program, edit=form, status=exc.status, message=_refused(form, exc))
    db.session.commit()
    flash(f"Saved “{program.name}”." if changed else "Nothing changed.")
    return _back("taxonomy.program", program_id=program.id)


@bp.post("/programs/<int:program_id>/merge")
def merge_program(program_id: int) -> ResponseReturnValue:
    """Move a program's entries and users to another program and delete it."""
    source = _get(Program, program_id)
    form = MergeProgramForm().offer(services.other_programs(db.session, source))
    if status := _problem(form):
        return _program_page(source, merge=form, status=status, message=_message(status))
    name, target = source.name, _get(Program, form.target.data)
    try:
        entries, users = services.merge_programs(db.session, source, target, actor=viewer())
    except services.TaxonomyError as exc:
        return _program_page(source, merge=form, status=exc.status, message=_refused(form, exc))
    db.session.commit()
    moved = f"{_count(entries, 'entry', 'entries')} and {_count(users, 'user', 'users')}"
    flash(f"Merged “{name}” into “{target.name}”: {moved} moved.")
    return _back("taxonomy.program", program_id=target.id)


@bp.post("/programs/<int:program_id>/delete")
def delete_program(program_id: int) -> ResponseReturnValue:
    """Delete a program nothing refers to (409 otherwise)."""
    program, form = _get(Program, program_id), ConfirmForm()
    if status := _problem(form):
        return _program_page(program, status=status, message=_message(status))
    name = program.name
    try:
        services.delete_program(db.session, program, actor=viewer())
    except services.TaxonomyError as exc:
        return _program_page(program, status=exc.status, message=_refused(form, exc))
    db.session.commit()
    flash(f"Deleted the program “{name}”.")
    return _back("taxonomy.programs")


# --- peer departments -------------------------------------------------------------------------


def _departments_page(
    form: DepartmentForm, status: int = 200, message: str | None = None
) -> ResponseReturnValue:
    rows = services.departments(db.session)
    page = render_template("taxonomy/departments.html", rows=rows, form=form, message=message)
    return page, status


@bp.get("/departments")
def departments() -> ResponseReturnValue:
    """Every peer department, and a form to add one."""
    return _departments_page(DepartmentForm(formdata=None))


@bp.post("/departments")
def create_department() -> ResponseReturnValue:
    """Add a peer department (409 when the name is taken)."""
    form = DepartmentForm()
    if status := _problem(form):
        return _departments_page(form, status, _message(status))
    try:
        department = services.create_department(
            db.session, form.name.data, form.abbreviation.data, actor=viewer()
        )
    except services.TaxonomyError as exc:
        return _departments_page(form, exc.status, _refused(form, exc))
    db.session.commit()
    flash(f"Added the department “{department.name}”.")
    return _back("taxonomy.departments")


def _department_page(
    department: Department,
    *,
    status: int = 200,
    message: str | None = None,
    edit: DepartmentForm | None = None,
) -> ResponseReturnValue:
    page = render_template(
        "taxonomy/department.html",
        department=department,
        usage=_usage_text(services.references(db.session, department)),
        message=message,
        edit=edit or DepartmentForm(formdata=None, obj=department),
        delete=ConfirmForm(formdata=None),
    )
    return page, status


@bp.get("/departments/<int:department_id>")
def department(department_id: int) -> ResponseReturnValue:
    """One peer department: edit, delete when unused."""
    return _department_page(_get(Department, department_id))


@bp.post("/departments/<int:department_id>")
def update_department(department_id: int) -> ResponseReturnValue:
    """Save a department's name and abbreviation (409 when the name is taken)."""
    department, form = _get(Department, department_id), DepartmentForm()
    if status := _problem(form):
        return _department_page(department, edit=form, status=status, message=_message(status))
    try:
        changed = services.update_department(
            db.session,
            department,
            name=form.name.data,
            abbreviation=form.abbreviation.data,
            actor=viewer(),
        )
    except services.TaxonomyError as exc:
        message = _refused(form, exc)
        return _department_page(department, edit=form, status=exc.status, message=message)
    db.session.commit()
    flash(f"Saved “{department.name}”." if changed else "Nothing changed.")
    return _back("taxonomy.department", department_id=department.id)


@bp.post("/departments/<int:department_id>/delete")
def delete_department(department_id: int) -> ResponseReturnValue:
    """Delete a peer department nothing refers to (409 otherwise)."""
    department, form = _get(Department, department_id), ConfirmForm()
    if status := _problem(form):
        return _department_page(department, status=status, message=_message(status))
    name = department.name
    try:
        services.delete_department(db.session, department, actor=viewer())
    except services.TaxonomyError as exc:
        return _department_page(department, status=exc.status, message=_refused(form, exc))
    db.session.commit()
    flash(f"Deleted the department “{name}”.")
    return _back("taxonomy.departments")
