"""Procedures: plain functions that take a session, flush, and never commit.

Who may read and edit a procedure is decided here (``may_read``, ``may_edit``): a published
procedure is read by every reader, a draft only by its owner and curators; the owner and
curators edit. A citation pins an entry at the published revision it had when it was cited.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from markupsafe import Markup
from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import Conflict
from werkzeug.exceptions import Forbidden
from werkzeug.exceptions import NotFound

from kb.auth.policy import is_curator
from kb.entries.history import diff_html
from kb.entries.services import audit
from kb.finder.services import SearchArgs
from kb.finder.services import find
from kb.models import Entry
from kb.models import Procedure
from kb.models import ProcedureStep
from kb.models import Revision
from kb.models import User
from kb.models import utcnow
from kb.pagination import Page
from kb.pagination import paginate

MAX_TITLE = 200
MAX_AUDIENCE = 200
MAX_TEXT = 20_000
MAX_STEPS = 200
MAX_QUERY = 200
#: The parts of a cited entry's revision that a procedure shows, exports and compares.
CITED_FIELDS = {"body": "Text", "benefit": "Why it helps"}
PROCEDURE_LOAD = (
    selectinload(Procedure.owner),
    selectinload(Procedure.steps).selectinload(ProcedureStep.cited_entry),
)


class ProcedureInputError(ValueError):
    """Input a procedure cannot take (answered with 422, the form re-rendered with the input)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class HeaderConflict(Exception):
    """The header was saved by someone else since the form was opened (answered with 409)."""

    def __init__(self, procedure: Procedure) -> None:
        super().__init__("the procedure changed since you opened it")
        self.theirs = {
            "title": procedure.title,
            "purpose": procedure.purpose,
            "audience": procedure.audience,
        }
        self.version = procedure.version


# --- who may read and edit ------------------------------------------------------------------


def may_edit(user: User | None, procedure: Procedure) -> bool:
    """The owner and curators (admins included)."""
    return user is not None and (is_curator(user) or procedure.owner_id == user.id)


def may_read(user: User | None, procedure: Procedure) -> bool:
    """Everyone who may read sees a published procedure; a draft only those who may edit it."""
    return procedure.status == "published" or may_edit(user, procedure)


def _readable(statement: Select[Any], user: User | None) -> Select[Any]:
    if is_curator(user):
        return statement
    if user is None:
        return statement.where(Procedure.status == "published")
    return statement.where((Procedure.status == "published") | (Procedure.owner_id == user.id))


def list_procedures(
    session: Session, user: User | None, q: str, page: int, per_page: int
) -> Page[Procedure]:
    """The procedures ``user`` may read whose titles hold every word of ``q``, by title."""
    statement = _readable(select(Procedure), user).options(selectinload(Procedure.owner))
    for word in q.split()[:8]:
        statement = statement.where(Procedure.title.ilike(f"%{word[:64]}%"))
    statement = statement.order_by(func.lower(Procedure.title), Procedure.id)
    return paginate(session, statement, page, per_page)


def readable_procedure(session: Session, procedure_id: int, user: User | None) -> Procedure:
    """One procedure ``user`` may read; 404 otherwise (a draft's existence is not revealed)."""
    procedure = session.scalar(
        select(Procedure).where(Procedure.id == procedure_id).options(*PROCEDURE_LOAD)
    )
    if procedure is None or not may_read(user, procedure):
        raise NotFound("There is no such procedure, or it is a draft you cannot see.")
    return procedure


def editable_procedure(session: Session, procedure_id: int, user: User | None) -> Procedure:
    """One procedure ``user`` may edit (404 when they cannot read it, else 403)."""
    procedure = readable_procedure(session, procedure_id, user)
    if not may_edit(user, procedure):
        raise Forbidden("Only the procedure's owner and curators can change it.")
    return procedure


# --- the header and status ------------------------------------------------------------------


def _line(data: Mapping[str, Any], name: str) -> str:
    return " ".join(str(data.get(name) or "").split())


def _markdown(value: Any, label: str, name: str) -> str:
    text = str(value or "").replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT:
        raise ProcedureInputError(f"{label} holds up to {MAX_TEXT:,} characters.", name)
    return text


def _header(data: Mapping[str, Any]) -> dict[str, str]:
    """Checked header fields (raises ``ProcedureInputError`` naming the field)."""
    title = _line(data, "title")
    if not title or len(title) > MAX_TITLE:
        raise ProcedureInputError(
            f"Give the procedure a title (up to {MAX_TITLE} characters).", "title"
        )
    audience = _line(data, "audience")
    if len(audience) > MAX_AUDIENCE:
        raise ProcedureInputError(f"Up to {MAX_AUDIENCE} characters.", "audience")
    purpose = _markdown(data.get("purpose"), "The purpose", "purpose")
    return {"title": title, "purpose": purpose, "audience": audience}


def create_procedure(
    session: Session,
    data: Mapping[str, Any],
    *,
    owner: User,
    is_demo: bool = False,
    uid: str | None = None,
) -> Procedure:
    """A new draft procedure owned by ``owner``, without steps."""
    clean = _header(data)
    now = utcnow()
    procedure = Procedure(
        **clean,
        owner=owner,
        status="draft",
        version=1,
        is_demo=is_demo,
        created_at=now,
        updated_at=now,
    )
    if uid:
        procedure.uid = uid
    session.add(procedure)
    session.flush()
    audit(session, owner, "procedure.create", procedure, title=procedure.title)
    return procedure


def update_header(
    session: Session, procedure: Procedure, data: Mapping[str, Any], *, version: int, actor: User
) -> Procedure:
    """Save title, purpose and audience; ``HeaderConflict`` when saved since the form opened."""
    if version != procedure.version:
        raise HeaderConflict(procedure)
    clean = _header(data)
    for name, value in clean.items():
        setattr(procedure, name, value)
    procedure.version += 1
    procedure.updated_at = utcnow()
    session.flush()
    audit(session, actor, "procedure.update", procedure, version=procedure.version)
    return procedure


def publish(session: Session, procedure: Procedure, *, actor: User) -> Procedure:
    """Make the procedure readable by every reader (409 when published or without steps)."""
    if procedure.status == "published":
        raise Conflict("This procedure is already published.")
    if not procedure.steps:
        raise Conflict("Add at least one step before publishing the procedure.")
    procedure.status = "published"
    procedure.updated_at = utcnow()
    session.flush()
    audit(session, actor, "procedure.publish", procedure)
    return procedure


def unpublish(session: Session, procedure: Procedure, *, actor: User) -> Procedure:
    """Back to draft: only the owner and curators see it again (409 when it is a draft)."""
    if procedure.status != "published":
        raise Conflict("This procedure is a draft already.")
    procedure.status = "draft"
    procedure.updated_at = utcnow()
    session.flush()
    audit(session, actor, "procedure.unpublish", procedure)
    return procedure


# --- steps ----------------------------------------------------------------------------------


def get_step(procedure: Procedure, step_id: int) -> ProcedureStep:
    """One step of the procedure (404 when it has no such step)."""
    for step in procedure.steps:
        if step.id == step_id:
            return step
    raise NotFound("This procedure has no such step.")


def _step_fields(data: Mapping[str, Any]) -> dict[str, str]:
    heading = _line(data, "heading")
    if not heading or len(heading) > MAX_TITLE:
        raise ProcedureInputError(
            f"Give the step a heading (up to {MAX_TITLE} characters).", "heading"
        )
    instructions = _markdown(data.get("instructions"), "The instructions", "instructions")
    return {"heading": heading, "instructions": instructions}


def _renumber(procedure: Procedure, ordered: list[ProcedureStep]) -> None:
    procedure.steps = ordered
    for number, step in enumerate(ordered, start=1):
        step.position = number
    procedure.updated_at = utcnow()


def add_step(
    session: Session, procedure: Procedure, data: Mapping[str, Any], *, actor: User
) -> ProcedureStep:
    """Append a step (heading required, Markdown instructions)."""
    if len(procedure.steps) >= MAX_STEPS:
        raise ProcedureInputError(f"A procedure holds up to {MAX_STEPS} steps.", "heading")
    step = ProcedureStep(**_step_fields(data))
    _renumber(procedure, [*procedure.steps, step])
    session.flush()
    return step


def edit_step(
    session: Session, step: ProcedureStep, data: Mapping[str, Any], *, actor: User
) -> ProcedureStep:
    """Change a step's heading and instructions (its citation stays)."""
    for name, value in _step_fields(data).items():
        setattr(step, name, value)
    step.procedure.updated_at = utcnow()
    session.flush()
    return step


def remove_step(session: Session, step: ProcedureStep, *, actor: User) -> None:
    """Delete a step; the others are numbered again."""
    procedure = step.procedure
    _renumber(procedure, [other for other in procedure.steps if other is not step])
    session.flush()


def move_step(session: Session, step: ProcedureStep, direction: str, *, actor: User) -> bool:
    """Move a step one place ``up`` or ``down``; ``False`` when it is already at that end."""
    if direction not in ("up", "down"):
        raise ProcedureInputError("Move a step up or down.", "direction")
    ordered = list(step.procedure.steps)
    at = ordered.index(step)
    to = at - 1 if direction == "up" else at + 1
    if not 0 <= to < len(ordered):
        return False
    ordered[at], ordered[to] = ordered[to], ordered[at]
    _renumber(step.procedure, ordered)
    session.flush()
    return True


# --- citations ------------------------------------------------------------------------------


def citation_candidates(session: Session, q: str, user: User | None) -> list[Entry]:
    """Published entries matching ``q`` in the search, best first (none for an empty query)."""
    q = q.strip()[:MAX_QUERY]
    if not q:
        return []
    found = find(session, SearchArgs(q=q, per_page=10, facets=False, live=True), user)
    return [entry for entry in found.entries if entry.status == "published"]


def cite(session: Session, step: ProcedureStep, entry_id: int, *, actor: User) -> ProcedureStep:
    """Cite a published entry in the step, pinned at its published revision."""
    entry = session.get(Entry, entry_id)
    if entry is None or entry.status != "published" or not entry.published_revision:
        raise ProcedureInputError("Only a published lesson or clause can be cited.", "entry_id")
    step.cited_entry = entry
    step.cited_revision = entry.published_revision
    step.procedure.updated_at = utcnow()
    session.flush()
    audit(
        session,
        actor,
        "procedure.cite",
        step.procedure,
        step=step.id,
        entry=entry.id,
        revision=entry.published_revision,
    )
    return step


def uncite(session: Session, step: ProcedureStep, *, actor: User) -> None:
    """Remove the step's citation."""
    step.cited_entry = None
    step.cited_revision = None
    step.procedure.updated_at = utcnow()
    session.flush()


def newer_revision(step: ProcedureStep) -> int | None:
    """The cited entry's published revision when it is newer than the pinned one."""
    entry = step.cited_entry
    if entry is None or entry.status != "published" or not entry.published_revision:
        return None
    if step.cited_revision and entry.published_revision > step.cited_revision:
        return entry.published_revision
    return None


def _revision(session: Session, entry_id: int, number: int) -> Revision | None:
    return session.scalar(
        select(Revision).where(Revision.entry_id == entry_id, Revision.number == number)
    )


def update_citation(
    session: Session, step: ProcedureStep, *, revision: int, actor: User
) -> ProcedureStep:
    """Pin the step's citation to the entry's newer published revision ``revision`` (else 409)."""
    newer = newer_revision(step)
    if newer is None or newer != revision:
        raise Conflict("There is no newer revision of the cited entry to update to.")
    old = step.cited_revision
    step.cited_revision = newer
    step.procedure.updated_at = utcnow()
    session.flush()
    audit(
        session,
        actor,
        "procedure.citation.update",
        step.procedure,
        step=step.id,
        entry=step.cited_entry_id,
        revision=newer,
        previous=old,
    )
    return step


@dataclass
class FieldChange:
    """One changed part of the cited entry, as a word diff."""

    label: str
    html: Markup


@dataclass
class Citation:
    """A step's cited entry as pinned: the revision's content, its source and any newer one."""

    step: ProcedureStep
    entry: Entry
    revision: int
    kind: str
    title: str
    texts: dict[str, str]
    url: str
    newer: int | None = None
    changes: list[FieldChange] = field(default_factory=list)

    @property
    def parts(self) -> list[tuple[str, str]]:
        """The pinned texts with their labels: the main text first, unlabelled."""
        return [
            ("" if name == "body" else label, self.texts[name])
            for name, label in CITED_FIELDS.items()
            if name in self.texts
        ]

    @property
    def is_current(self) -> bool:
        """Whether the entry is still published (an archived entry keeps its pinned text)."""
        return self.entry.status == "published"


def _pinned_content(revision: Revision | None, entry: Entry) -> tuple[str, dict[str, str]]:
    snapshot = revision.snapshot if revision is not None else {}
    title = str(snapshot.get("title") or entry.title)
    texts = {name: str(snapshot.get(name) or "") for name in CITED_FIELDS}
    return title, {name: text for name, text in texts.items() if text.strip()}


def citation(
    session: Session, step: ProcedureStep, link: Callable[[Entry], str]
) -> Citation | None:
    """The step's citation as pinned (``None`` without one); ``link`` makes the source URL."""
    entry = step.cited_entry
    if entry is None or not step.cited_revision:
        return None
    pinned = _revision(session, entry.id, step.cited_revision)
    title, texts = _pinned_content(pinned, entry)
    found = Citation(step, entry, step.cited_revision, entry.kind, title, texts, link(entry))
    found.newer = newer_revision(step)
    if found.newer is not None and pinned is not None:
        current = _revision(session, entry.id, found.newer)
        if current is not None:
            found.changes = _changes(pinned, current)
    return found


def _changes(older: Revision, newer: Revision) -> list[FieldChange]:
    labels = {"title": "Title", **CITED_FIELDS}
    changes = []
    for name, label in labels.items():
        old, new = str(older.snapshot.get(name) or ""), str(newer.snapshot.get(name) or "")
        if old != new:
            changes.append(FieldChange(label, diff_html(old, new)))
    return changes


def citations(
    session: Session, procedure: Procedure, link: Callable[[Entry], str]
) -> dict[int, Citation]:
    """The citations of the procedure's steps, by step id."""
    found = {}
    for step in procedure.steps:
        pinned = citation(session, step, link)
        if pinned is not None:
            found[step.id] = pinned
    return found


# --- backlinks ------------------------------------------------------------------------------


@dataclass
class CitedIn:
    """The procedures citing an entry: those the viewer may read, and the count of the others."""

    procedures: list[Procedure]
    hidden: int

    @property
    def total(self) -> int:
        """Every procedure citing the entry."""
        return len(self.procedures) + self.hidden


def cited_in(session: Session, entry: Entry, user: User | None) -> CitedIn:
    """The procedures whose steps cite ``entry`` (the readable ones listed, by title)."""
    citing = select(ProcedureStep.procedure_id).where(ProcedureStep.cited_entry_id == entry.id)
    procedures = session.scalars(select(Procedure).where(Procedure.id.in_(citing))).all()
    readable = sorted(
        (p for p in procedures if may_read(user, p)), key=lambda p: (p.title.lower(), p.id)
    )
    return CitedIn(readable, len(procedures) - len(readable))
