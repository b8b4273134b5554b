"""Curators import from the web: upload → (CSV) column mapping → preview → confirm → summary.

Every step is a plain form that works without JavaScript. The uploaded file stays on disk
between steps (``kb.imports.uploads``). The confirm step runs the same service as ``kb import``:
every record is validated, then everything is written in one transaction, or nothing.

The CSRF check runs here rather than before every request, so a failed check re-renders the
step with a clear message (400) instead of an error page, keeping the choices made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from kb.auth.policy import require_role
from kb.auth.policy import viewer
from kb.entries.validation import WRITABLE
from kb.entries.validation import taxonomy_lookups
from kb.extensions import csrf
from kb.extensions import db
from kb.imports import uploads
from kb.imports.csv_format import default_mapping
from kb.imports.csv_format import split_table
from kb.imports.formats import FORMATS
from kb.imports.formats import LABELS
from kb.imports.formats import decode_text
from kb.imports.formats import format_for
from kb.imports.formats import read_records
from kb.imports.services import ImportFailed
from kb.imports.services import Plan
from kb.imports.services import Problem
from kb.imports.services import import_records
from kb.imports.services import plan_import
from kb.models import Entry

bp = Blueprint("imports", __name__, url_prefix="/import")
csrf.exempt(bp)  # checked in _guard, see the module docstring
CSRF_FAILED = "kb_imports_csrf_failed"
CSRF_MESSAGE = "The form had expired or was incomplete. Please submit it again."
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
#: Room for the form's other fields and the multipart framing around the file.
FORM_OVERHEAD = 64 * 1024
#: Rows listed on the preview page (every problem is listed regardless).
PREVIEW_ROWS = 500
SAMPLE_ROWS = 3
IGNORE = ""
KINDS = {"lesson": "Lessons", "snippet": "Clauses (snippets)"}


def _max_bytes() -> int:
    return int(current_app.config.get("IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


def _too_large() -> ResponseReturnValue:
    limit = _max_bytes() / (1024 * 1024)
    message = f"The file is larger than the {limit:g} MB an import may be. Split it and try again."
    return _upload_page(status=413, message=message)


@bp.before_request
@require_role("curator")
def _guard() -> ResponseReturnValue | None:
    """Curators and admins only (303 to sign in, else 403); the size limit (413, or 411 when
    the size cannot be known); the CSRF check."""
    request.max_content_length = _max_bytes() + FORM_OVERHEAD
    if request.content_length and request.content_length > request.max_content_length:
        return _too_large()
    if request.method == "POST" and uploads.length_unknown():
        return _upload_page(status=411, message=uploads.LENGTH_REQUIRED)
    uploads.track_spooled_files()
    config = current_app.config
    if config["WTF_CSRF_ENABLED"] and request.method in config["WTF_CSRF_METHODS"]:
        try:
            csrf.protect()
        except CSRFError:
            g.setdefault(CSRF_FAILED, True)
        except RequestEntityTooLarge:
            return _too_large()
    return None


bp.teardown_request(uploads.close_spooled_files)


def _folder() -> Path:
    return Path(current_app.config["DATA_DIR"]) / "imports"


def _upload_or_404(token: str) -> uploads.Upload:
    user = viewer()
    found = uploads.load_upload(_folder(), token, user.id) if user else None
    return found or abort(404, "This upload is gone: uploads are kept for a day. Upload again.")


def _upload_page(status: int = 200, message: str | None = None, fmt: str = "") -> Any:
    page = render_template(
        "imports/upload.html",
        formats=[(name, LABELS[name]) for name in FORMATS],
        chosen=fmt,
        max_mb=_max_bytes() / (1024 * 1024),
        message=message,
    )
    return page, status


@bp.get("", endpoint="upload")
def upload_form() -> ResponseReturnValue:
    """Choose a file to import (old uploads are cleaned up here)."""
    uploads.clean_old(_folder())
    return _upload_page()


@bp.post("", endpoint="receive")
def receive() -> ResponseReturnValue:
    """Keep the uploaded file and go on to the column mapping (CSV) or the preview."""
    try:
        chosen = request.form.get("format", "")
        file = request.files.get("file")
    except RequestEntityTooLarge:
        return _too_large()
    if g.get(CSRF_FAILED):
        return _upload_page(400, CSRF_MESSAGE + " Choose the file again.", chosen)
    if file is None or not file.filename:
        return _upload_page(422, "Choose a file to import.", chosen)
    data = file.read(_max_bytes() + 1)
    if len(data) > _max_bytes():
        return _too_large()
    if not data.strip():
        return _upload_page(422, f"{file.filename} is empty.", chosen)
    fmt = chosen if chosen in FORMATS else format_for(file.filename)
    if fmt is None:
        message = f"Cannot tell the format of {file.filename} from its name; choose the format."
        return _upload_page(422, message, chosen)
    uploads.clean_old(_folder())
    user = viewer()
    saved = uploads.save_upload(
        _folder(), data, filename=file.filename, fmt=fmt, user_id=user.id if user else 0
    )
    step = "imports.columns" if fmt == "csv" else "imports.preview"
    return redirect(url_for(step, token=saved.token), code=303)


def _columns_page(
    upload: uploads.Upload,
    chosen: dict[int, str | None],
    default_kind: str,
    status: int = 200,
    message: str | None = None,
    errors: dict[int, str] | None = None,
) -> Any:
    table = split_table(decode_text(upload.data()))
    columns = [
        {
            "index": index,
            "name": name or f"(column {index + 1}, no name)",
            "samples": [
                cells[index] for _, cells in table.rows[:SAMPLE_ROWS] if index < len(cells)
            ],
            "chosen": chosen.get(index) or IGNORE,
            "error": (errors or {}).get(index),
        }
        for index, name in enumerate(table.header)
    ]
    page = render_template(
        "imports/columns.html",
        upload=upload,
        columns=columns,
        fields=WRITABLE,
        kinds=KINDS,
        default_kind=default_kind,
        rows=len(table.rows),
        delimiter={";": "semicolons", ",": "commas", "\t": "tabs"}[table.delimiter],
        message=message,
    )
    return page, status


@bp.get("/<token>/columns")
def columns(token: str) -> ResponseReturnValue:
    """Map each CSV column to an entry field or ignore it (pre-filled by matching names)."""
    upload = _upload_or_404(token)
    if upload.fmt != "csv":
        return redirect(url_for("imports.preview", token=token), code=303)
    chosen = upload.column_mapping()
    if chosen is None:
        chosen = default_mapping(split_table(decode_text(upload.data())).header)
    return _columns_page(upload, chosen, upload.default_kind if upload.mapping else "lesson")


@bp.post("/<token>/columns")
def save_columns(token: str) -> ResponseReturnValue:
    """Keep the mapping and go on to the preview; 422 when a field is chosen twice."""
    upload = _upload_or_404(token)
    header = split_table(decode_text(upload.data())).header
    chosen: dict[int, str | None] = {}
    errors: dict[int, str] = {}
    first: dict[str, int] = {}
    for index in range(len(header)):
        value = request.form.get(f"column-{index}", IGNORE)
        if value and value not in WRITABLE:
            errors[index] = f"{value!r} is not an entry field."
            value = IGNORE
        if value and value in first:
            errors[index] = f"{value} is already taken by column {first[value] + 1}."
        first.setdefault(value, index)
        chosen[index] = value or None
    default_kind = request.form.get("default_kind", "")
    if default_kind not in KINDS:
        default_kind = ""
    if g.get(CSRF_FAILED):
        return _columns_page(upload, chosen, default_kind, 400, CSRF_MESSAGE)
    if errors:
        message = "Each field can come from one column only."
        return _columns_page(upload, chosen, default_kind, 422, message, errors)
    upload.mapping = {str(index): name for index, name in chosen.items()}
    upload.default_kind = default_kind
    uploads.save_meta(upload)
    return redirect(url_for("imports.preview", token=token), code=303)


def _read(upload: uploads.Upload) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    """The upload's records, with the mapping and default kind chosen for a CSV file."""
    csv = upload.fmt == "csv"
    records, problems = read_records(
        upload.data(),
        upload.fmt,
        lookups=taxonomy_lookups(db.session),
        mapping=upload.column_mapping() if csv else None,
    )
    if csv and upload.default_kind:
        for _line, record in records:
            if not str(record.get("kind") or "").strip():
                record["kind"] = upload.default_kind
    return records, problems


def _plan(upload: uploads.Upload, force: bool) -> Plan:
    records, problems = _read(upload)
    return plan_import(db.session, records, force=force, problems=problems, duplicates=True)


def _preview_page(
    upload: uploads.Upload, force: bool, status: int = 200, message: str | None = None
) -> Any:
    plan = _plan(upload, force)
    db.session.rollback()  # the plan wrote nothing; leave the session clean
    by_line: dict[int, list[str]] = {}
    for problem in plan.problems:
        by_line.setdefault(problem.line, []).append(problem.details)
    duplicates = {duplicate.line: duplicate.target for duplicate in plan.report.duplicates}
    rows = [
        {
            "line": item.line,
            "title": item.record["title"],
            "kind": item.record["kind"],
            "action": item.action,
            "problems": by_line.get(item.line, []),
            "duplicate": duplicates.get(item.line),
        }
        for item in plan.items
    ]
    listed = {item.line for item in plan.items}
    invalid = [(line, found) for line, found in sorted(by_line.items()) if line not in listed]
    page = render_template(
        "imports/preview.html",
        upload=upload,
        rows=rows[:PREVIEW_ROWS],
        more=max(0, len(rows) - PREVIEW_ROWS),
        invalid=invalid,
        report=plan.report,
        can_import=not plan.problems and bool(plan.items),
        force=force,
        message=message,
    )
    return page, status


@bp.get("/<token>/preview")
def preview(token: str) -> ResponseReturnValue:
    """Every record with what would happen to it, its problems and likely duplicates."""
    upload = _upload_or_404(token)
    return _preview_page(upload, force=request.args.get("force") == "1")


@bp.post("/<token>/confirm")
def confirm(token: str) -> ResponseReturnValue:
    """Import the file, all or nothing, then show the summary."""
    upload = _upload_or_404(token)
    force = request.form.get("force") == "1"
    if g.get(CSRF_FAILED):
        return _preview_page(upload, force, 400, CSRF_MESSAGE)
    user = viewer()
    records, problems = _read(upload)
    try:
        report = import_records(
            db.session,
            records,
            editor=user,
            force=force,
            problems=problems,  # type: ignore[arg-type]
        )
    except ImportFailed as exc:
        db.session.rollback()
        return _preview_page(upload, force, 422, f"Nothing was imported: {exc}.")
    db.session.commit()
    upload.summary = {**report.counts(), "entry_ids": report.entry_ids[:PREVIEW_ROWS]}
    uploads.save_meta(upload)
    uploads.discard_data(upload)
    return redirect(url_for("imports.done", token=token), code=303)


@bp.get("/<token>/done")
def done(token: str) -> ResponseReturnValue:
    """What the import wrote."""
    upload = _upload_or_404(token)
    if upload.summary is None:
        return redirect(url_for("imports.preview", token=token), code=303)
    ids = upload.summary.get("entry_ids", [])
    titles = dict(db.session.execute(select(Entry.id, Entry.title).where(Entry.id.in_(ids))).all())
    entries = [(entry_id, titles[entry_id]) for entry_id in ids if entry_id in titles]
    return render_template(
        "imports/done.html", upload=upload, summary=upload.summary, entries=entries
    )
