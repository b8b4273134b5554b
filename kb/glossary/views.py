"""``/glossary``: every reader sees the terms; curators add, change and remove them.

The CSRF check of the writes runs in the view, so a failed check re-renders the form with what
was typed (400) instead of an error page.
"""

from __future__ import annotations

from itertools import groupby

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue

from kb import search
from kb.auth.policy import is_curator
from kb.auth.policy import require_role
from kb.auth.policy import viewer
from kb.extensions import csrf
from kb.extensions import db
from kb.glossary import services
from kb.glossary.forms import TermForm
from kb.glossary.markup import entry_markdown
from kb.models import GlossaryTerm

bp = Blueprint("glossary", __name__)
CSRF_MESSAGE = "The form had expired. Nothing was lost: check it and save again."
FIX_MESSAGE = "Some fields need fixing; everything you typed is kept."


@bp.app_template_global()
def glossary_anchor(term: str) -> str:
    """The fragment id of a term on ``/glossary``."""
    return services.anchor(term)


bp.add_app_template_filter(entry_markdown, "entry_markdown")


@bp.get("/glossary")
def index() -> ResponseReturnValue:
    """All terms, A to Z, with a filter; a curator also sees the form to add one."""
    query = (request.args.get("q") or "")[:200]
    terms = services.list_terms(db.session, query)
    letters = [(letter, list(group)) for letter, group in groupby(terms, key=_letter)]
    return render_template(
        "glossary/index.html",
        terms=terms,
        letters=letters,
        query=query,
        may_edit=is_curator(viewer()),
        form=TermForm(formdata=None),
    )


def _letter(term: GlossaryTerm) -> str:
    first = term.term[:1].upper()
    return first if first.isalpha() else "#"


def _form_page(
    form: TermForm, term: GlossaryTerm | None, status: int = 200, message: str | None = None
) -> ResponseReturnValue:
    return render_template("glossary/form.html", form=form, term=term, message=message), status


def _refused(
    form: TermForm, exc: services.GlossaryError, term: GlossaryTerm | None
) -> ResponseReturnValue:
    db.session.rollback()
    for name, text in exc.fields.items():
        getattr(form, name).errors = [text]
    return _form_page(form, term, 422, FIX_MESSAGE)


@bp.get("/glossary/new")
@require_role("curator")
def new() -> ResponseReturnValue:
    """An empty form for a new term (a term may be prefilled from ``?term=``)."""
    term = (request.args.get("term") or "")[: services.MAX_TERM]
    return _form_page(TermForm(formdata=None, term=term), None)


@bp.post("/glossary")
@csrf.exempt
@require_role("curator")
def create() -> ResponseReturnValue:
    """Add a term → 303 to its place on the glossary page; 422 keeps the input."""
    form = TermForm()
    if not form.validate():
        return _form_page(form, None, 400, CSRF_MESSAGE)
    try:
        term = services.create_term(db.session, form.data, viewer())
    except services.GlossaryError as exc:
        return _refused(form, exc, None)
    db.session.commit()
    search.glossary_changed()  # the next search knows the new synonyms
    flash(f"Added “{term.term}” to the glossary.")
    return redirect(url_for("glossary.index", _anchor=services.anchor(term.term)), code=303)


@bp.get("/glossary/<int:term_id>/edit")
@require_role("curator")
def edit(term_id: int) -> ResponseReturnValue:
    """The term's form, filled."""
    term = db.session.get(GlossaryTerm, term_id) or abort(404)
    form = TermForm(
        formdata=None,
        term=term.term,
        definition=term.definition,
        synonyms="\n".join(term.synonyms or []),
    )
    return _form_page(form, term)


@bp.post("/glossary/<int:term_id>")
@csrf.exempt
@require_role("curator")
def update(term_id: int) -> ResponseReturnValue:
    """Change a term; 422 keeps the input."""
    term = db.session.get(GlossaryTerm, term_id) or abort(404)
    form = TermForm()
    if not form.validate():
        return _form_page(form, term, 400, CSRF_MESSAGE)
    try:
        services.update_term(db.session, term, form.data, viewer())
    except services.GlossaryError as exc:
        return _refused(form, exc, term)
    db.session.commit()
    search.glossary_changed()  # the next search knows the new synonyms
    flash(f"Saved “{term.term}”.")
    return redirect(url_for("glossary.index", _anchor=services.anchor(term.term)), code=303)


@bp.post("/glossary/<int:term_id>/delete")
@require_role("curator")
def delete(term_id: int) -> ResponseReturnValue:
    """Remove a term (the audit trail keeps its text)."""
    term = db.session.get(GlossaryTerm, term_id) or abort(404)
    name = term.term
    services.delete_term(db.session, term, viewer())
    db.session.commit()
    search.glossary_changed()  # the next search knows the new synonyms
    flash(f"Removed “{name}” from the glossary.")
    return redirect(url_for("glossary.index"), code=303)
