"""BUCP workspace: plain functions that take a session, flush, and never commit.

Who may see and edit a BUCP is decided here (``may_see``, ``may_edit``): its team and curators.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from typing import Any

from markupsafe import Markup
from sqlalchemy import Select
from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import Conflict
from werkzeug.exceptions import Forbidden
from werkzeug.exceptions import NotFound

from kb.auth.policy import is_curator
from kb.bucps import lifecycle
from kb.entries.history import diff_html
from kb.entries.services import audit
from kb.entries.services import get_or_create_program
from kb.models import Bucp
from kb.models import BucpDispute
from kb.models import BucpMember
from kb.models import BucpPlaceholder
from kb.models import BucpSection
from kb.models import ClauseType
from kb.models import Department
from kb.models import Entry
from kb.models import Revision
from kb.models import StageEvent
from kb.models import User
from kb.models import utcnow
from kb.pagination import Page
from kb.pagination import paginate
from kb.placeholders import gather

GROUPS = {"business": "Business case", "technical": "Technical", "administrative": "Administrative"}
REQUIREMENTS = {
    "required": "Required",
    "disputed": "Required when disputed",
    "optional": "Optional",
}
#: Statutory-restriction solutions a BUCP may record (Play 1 metric).
STATUTORY_SOLUTIONS = {
    "aggregation": "Aggregation",
    "de-identification": "De-identification",
    "small-cell-suppression": "Small-cell suppression",
    "limited-data-set": "Limited data set",
    "consent": "Consent or authorization of the individuals",
    "secure-environment": "Analysis in the provider's secure environment",
    "statutory-exception": "A statutory exception or amendment",
}
POSITION_ORDER = {"standard": 0, "fallback": 1, "avoid": 2}
MAX_TEXT = 20_000
MAX_NOTE = 2_000
MAX_VALUE = 2_000
BUCP_LOAD = (
    selectinload(Bucp.program),
    selectinload(Bucp.provider),
    selectinload(Bucp.members).selectinload(BucpMember.user),
    selectinload(Bucp.sections).selectinload(BucpSection.clause_type),
    selectinload(Bucp.sections).selectinload(BucpSection.snippet),
    selectinload(Bucp.events),
    selectinload(Bucp.placeholders),
)


class BucpInputError(ValueError):
    """Input a BUCP cannot take (answered with 422, the form re-rendered with the input kept)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class SectionConflict(Exception):
    """The section was saved by someone else since the form was opened (answered with 409)."""

    def __init__(self, theirs: str, version: int) -> None:
        super().__init__("the section changed since you opened it")
        self.theirs = theirs
        self.version = version


# --- who may see and edit -------------------------------------------------------------------


def is_member(user: User | None, bucp: Bucp) -> bool:
    """Whether ``user`` is on the BUCP's team."""
    return user is not None and any(member.user_id == user.id for member in bucp.members)


def may_see(user: User | None, bucp: Bucp) -> bool:
    """Team members and curators (in-flight BUCPs hold legal positions and security detail)."""
    return is_curator(user) or is_member(user, bucp)


def may_edit(user: User | None, bucp: Bucp) -> bool:
    """Team members and curators edit; the rule is the same as seeing, kept apart on purpose."""
    return may_see(user, bucp)


def _visible(statement: Select[Any], user: User | None) -> Select[Any]:
    if is_curator(user):
        return statement
    if user is None:
        return statement.where(False)
    team = select(BucpMember.bucp_id).where(BucpMember.user_id == user.id)
    return statement.where(Bucp.id.in_(team))


def list_bucps(
    session: Session, user: User | None, page: int, per_page: int, stage: str | None = None
) -> Page[Bucp]:
    """The BUCPs ``user`` may see, most recently updated first."""
    statement = _visible(select(Bucp), user).options(
        selectinload(Bucp.program), selectinload(Bucp.provider)
    )
    if stage in lifecycle.STAGES:
        statement = statement.where(Bucp.stage == stage)
    statement = statement.order_by(Bucp.updated_at.desc(), Bucp.id.desc())
    return paginate(session, statement, page, per_page)


def visible_bucp(session: Session, bucp_id: int, user: User | None) -> Bucp:
    """One BUCP (404 when there is none, 403 when ``user`` may not see it)."""
    bucp = session.scalar(select(Bucp).where(Bucp.id == bucp_id).options(*BUCP_LOAD))
    if bucp is None:
        raise NotFound("There is no such BUCP.")
    if not may_see(user, bucp):
        raise Forbidden("Only the BUCP's team and curators can see it.")
    return bucp


def editable_bucp(session: Session, bucp_id: int, user: User | None) -> Bucp:
    """One BUCP that ``user`` may edit (404, else 403)."""
    bucp = visible_bucp(session, bucp_id, user)
    if not may_edit(user, bucp):
        raise Forbidden("Only the BUCP's team and curators can change it.")
    return bucp


# --- creating and the header ----------------------------------------------------------------


def departments(session: Session) -> list[Department]:
    """The peer departments a BUCP can name as its data provider."""
    return list(session.scalars(select(Department).order_by(Department.name)))


def _header(session: Session, data: Mapping[str, Any]) -> dict[str, Any]:
    """Checked header fields (raises ``BucpInputError`` naming the field)."""
    title = " ".join(str(data.get("title") or "").split())
    if not title or len(title) > 200:
        raise BucpInputError("Give the BUCP a title (up to 200 characters).", "title")
    program_name = " ".join(str(data.get("program") or "").split())
    if not program_name or len(program_name) > 120:
        raise BucpInputError("Name the requesting program (up to 120 characters).", "program")
    provider = session.get(Department, data.get("provider_id") or 0)
    if provider is None:
        raise BucpInputError("Choose the department that provides the data.", "provider_id")
    clean: dict[str, Any] = {"title": title, "provider": provider, "program_name": program_name}
    for name in ("sponsor_role", "coordinator_role"):
        value = " ".join(str(data.get(name) or "").split())
        if len(value) > 200:
            raise BucpInputError("Up to 200 characters.", name)
        clean[name] = value
    solutions = list(data.get("statutory_solutions") or [])
    unknown = [s for s in solutions if s not in STATUTORY_SOLUTIONS]
    if unknown:
        raise BucpInputError(f"Unknown solution: {', '.join(unknown)}.", "statutory_solutions")
    clean["statutory_solutions"] = [s for s in STATUTORY_SOLUTIONS if s in solutions]
    clean["results"] = str(data.get("results") or "").strip()
    if len(clean["results"]) > MAX_TEXT:
        raise BucpInputError(f"Up to {MAX_TEXT:,} characters.", "results")
    return clean


def _apply_header(session: Session, bucp: Bucp, clean: Mapping[str, Any], is_demo: bool) -> None:
    bucp.title = clean["title"]
    bucp.program = get_or_create_program(session, clean["program_name"], is_demo=is_demo)
    bucp.provider = clean["provider"]
    bucp.sponsor_role = clean["sponsor_role"]
    bucp.coordinator_role = clean["coordinator_role"]
    bucp.statutory_solutions = clean["statutory_solutions"]
    bucp.results = clean["results"]


def create_bucp(
    session: Session,
    data: Mapping[str, Any],
    *,
    creator: User,
    started_on: date | None = None,
    note: str = "",
    now: datetime | None = None,
    is_demo: bool = False,
    uid: str | None = None,
) -> Bucp:
    """A new BUCP in ``draft`` with one empty section per BUCP form field.

    The creator joins the team (the system user, which seeds demo BUCPs, does not). The first
    stage event may be back-dated with ``started_on`` (and then needs a ``note``).
    """
    clean = _header(session, data)
    now = now or utcnow()
    at = _event_time(started_on, None, note, now)
    bucp = Bucp(
        created_by=creator,
        stage="draft",
        version=1,
        is_demo=is_demo,
        created_at=now,
        updated_at=now,
    )
    if uid:
        bucp.uid = uid
    with session.no_autoflush:
        _apply_header(session, bucp, clean, is_demo)
        types = session.scalars(select(ClauseType).order_by(ClauseType.position))
        bucp.sections = [BucpSection(clause_type=t, position=t.position, text="") for t in types]
        if not creator.is_system:
            bucp.members = [BucpMember(user=creator)]
        bucp.events = [
            StageEvent(
                from_stage=None,
                to_stage="draft",
                at=at,
                note=note.strip() or "",
                recorded_by=creator,
                recorded_at=now,
            )
        ]
    session.add(bucp)
    session.flush()
    audit(session, creator, "bucp.create", bucp, title=bucp.title)
    return bucp


def update_header(
    session: Session, bucp: Bucp, data: Mapping[str, Any], *, version: int, actor: User
) -> Bucp:
    """Save the header; ``Conflict`` when someone saved it since the form was opened."""
    if version != bucp.version:
        raise Conflict(
            "Someone changed this BUCP's details after you opened the form. "
            "The current details are shown; make your change again."
        )
    clean = _header(session, data)
    _apply_header(session, bucp, clean, bucp.is_demo)
    bucp.version += 1
    bucp.updated_at = utcnow()
    session.flush()
    audit(session, actor, "bucp.update", bucp, version=bucp.version)
    return bucp


# --- the team -------------------------------------------------------------------------------


def add_member(session: Session, bucp: Bucp, username: str, *, actor: User) -> BucpMember:
    """Add a person to the team by user name (422 for an unknown or inactive account)."""
    name = username.strip().lower()
    user = session.scalar(select(User).where(func.lower(User.username) == name))
    if user is None or not user.is_active:
        raise BucpInputError(f"There is no active account named “{username.strip()}”.", "username")
    if is_member(user, bucp):
        raise BucpInputError(f"{user.label} is already on the team.", "username")
    member = BucpMember(user=user)
    bucp.members.append(member)
    bucp.updated_at = utcnow()
    session.flush()
    audit(session, actor, "bucp.team.add", bucp, user=user.username)
    return member


def remove_member(session: Session, bucp: Bucp, user_id: int, *, actor: User) -> None:
    """Take a person off the team (the last member stays: 409)."""
    member = next((m for m in bucp.members if m.user_id == user_id), None)
    if member is None:
        raise NotFound("That person is not on the team.")
    if len(bucp.members) == 1:
        raise Conflict("A BUCP keeps at least one team member; add someone else first.")
    bucp.members.remove(member)
    bucp.updated_at = utcnow()
    session.flush()
    audit(session, actor, "bucp.team.remove", bucp, user=member.user.username)


# --- sections -------------------------------------------------------------------------------


@dataclass
class SectionGroup:
    """The sections of one group of the BUCP form (business case, technical, administrative)."""

    slug: str
    label: str
    sections: list[BucpSection]


def grouped_sections(bucp: Bucp) -> list[SectionGroup]:
    """The sections in the form's order, grouped."""
    groups = [SectionGroup(slug, label, []) for slug, label in GROUPS.items()]
    by_slug = {group.slug: group for group in groups}
    for section in sorted(bucp.sections, key=lambda s: s.position):
        by_slug.setdefault(
            section.clause_type.group,
            SectionGroup(section.clause_type.group, section.clause_type.group.title(), []),
        ).sections.append(section)
    return [group for group in by_slug.values() if group.sections]


def get_section(bucp: Bucp, slug: str) -> BucpSection:
    """The BUCP's section for one clause type (404 for an unknown slug)."""
    for section in bucp.sections:
        if section.clause_type.slug == slug:
            return section
    raise NotFound("The BUCP form has no such section.")


def _clean_text(text: str) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT:
        raise BucpInputError(f"A section holds up to {MAX_TEXT:,} characters.", "text")
    return text


def _touch(section: BucpSection, actor: User) -> None:
    section.version += 1
    section.updated_at = utcnow()
    section.updated_by = actor
    section.bucp.updated_at = section.updated_at


def save_section(
    session: Session, section: BucpSection, *, text: str, version: int, actor: User
) -> BucpSection:
    """Save a section's text; ``SectionConflict`` when it changed since the form was opened."""
    if version != section.version:
        raise SectionConflict(section.text, section.version)
    section.text = _clean_text(text)
    _touch(section, actor)
    session.flush()
    return section


def snippet_choices(session: Session, clause_type: ClauseType, q: str = "") -> list[Entry]:
    """Published snippets of a clause type: standard first, then fallback, then avoid."""
    statement = select(Entry).where(
        Entry.kind == "snippet",
        Entry.status == "published",
        Entry.clause_type_id == clause_type.id,
    )
    for word in q.split()[:8]:
        pattern = f"%{word[:64]}%"
        statement = statement.where(
            or_(
                Entry.title.ilike(pattern),
                Entry.summary.ilike(pattern),
                Entry.body.ilike(pattern),
            )
        )
    order = case(POSITION_ORDER, value=Entry.position, else_=3)
    return list(session.scalars(statement.order_by(order, Entry.title).limit(50)))


def published_text(session: Session, snippet: Entry, number: int | None = None) -> str:
    """A snippet's clause text at revision ``number`` (default: the published one)."""
    number = number or snippet.published_revision
    revision = session.scalar(
        select(Revision).where(Revision.entry_id == snippet.id, Revision.number == number)
    )
    return str((revision.snapshot or {}).get("body") or "") if revision else ""


def _published_snippet(session: Session, snippet_id: int, clause_type: ClauseType) -> Entry:
    snippet = session.get(Entry, snippet_id)
    if (
        snippet is None
        or snippet.kind != "snippet"
        or snippet.status != "published"
        or not snippet.published_revision
    ):
        raise BucpInputError("Choose a published clause.", "snippet_id")
    if snippet.clause_type_id != clause_type.id:
        raise BucpInputError(f"That clause is not a “{clause_type.name}” clause.", "snippet_id")
    return snippet


def insert_snippet(
    session: Session, section: BucpSection, snippet_id: int, *, actor: User
) -> BucpSection:
    """Put a published snippet's text into the section and pin it at its published revision.

    An empty section takes the text; a section with text gets it appended after a blank line.
    """
    snippet = _published_snippet(session, snippet_id, section.clause_type)
    text = published_text(session, snippet)
    section.text = _clean_text(f"{section.text}\n\n{text}" if section.text.strip() else text)
    section.snippet = snippet
    section.snippet_revision = snippet.published_revision
    _touch(section, actor)
    session.flush()
    return section


def pinned_text(session: Session, section: BucpSection) -> str | None:
    """The text of the snippet revision the section is pinned to (``None`` when not pinned)."""
    if section.snippet is None or not section.snippet_revision:
        return None
    return published_text(session, section.snippet, section.snippet_revision)


def deviation(session: Session, section: BucpSection) -> Markup | None:
    """Where the section's text departs from its pinned snippet revision (``None``: it doesn't)."""
    pinned = pinned_text(session, section)
    if pinned is None or pinned.strip() == section.text.strip():
        return None
    return diff_html(pinned, section.text)


def newer_revision(section: BucpSection) -> int | None:
    """The snippet's published revision when it is newer than the pinned one."""
    snippet = section.snippet
    if snippet is None or snippet.status != "published" or not snippet.published_revision:
        return None
    if section.snippet_revision and snippet.published_revision > section.snippet_revision:
        return snippet.published_revision
    return None


def revision_change(session: Session, section: BucpSection) -> Markup | None:
    """What changed in the snippet between the pinned and the newer published revision."""
    newer = newer_revision(section)
    if newer is None or section.snippet is None:
        return None
    old = pinned_text(session, section) or ""
    return diff_html(old, published_text(session, section.snippet, newer))


def update_to_revision(
    session: Session,
    section: BucpSection,
    *,
    revision: int,
    actor: User,
    replace_edits: bool = False,
) -> BucpSection:
    """Move a section to the snippet's newer published revision.

    The pinned text is swapped for the new one where the section still holds it word for word;
    a section edited since can only take the new text in full (``replace_edits``), else 409.
    """
    newer = newer_revision(section)
    if newer is None or newer != revision or section.snippet is None:
        raise Conflict("There is no newer revision of this clause to update to.")
    old = pinned_text(session, section) or ""
    new = published_text(session, section.snippet, newer)
    if old and old in section.text:
        section.text = _clean_text(section.text.replace(old, new, 1))
    elif replace_edits:
        section.text = _clean_text(new)
    else:
        raise Conflict(
            "This section was edited since the clause was inserted, so the new revision cannot "
            "be merged in. Replace the text with the new revision, or edit it by hand."
        )
    section.snippet_revision = newer
    _touch(section, actor)
    session.flush()
    return section


@dataclass
class Use:
    """A BUCP section that uses a snippet, and the revision it is pinned to."""

    bucp: Bucp
    section: BucpSection
    newer: int | None


@dataclass
class WhereUsed:
    """The uses of a snippet the viewer may see, and how many others there are."""

    uses: list[Use]
    hidden: int


def where_used(session: Session, snippet: Entry, user: User | None) -> WhereUsed:
    """The BUCPs whose sections are pinned to ``snippet`` (those ``user`` may see, by title)."""
    sections = session.scalars(
        select(BucpSection)
        .where(BucpSection.snippet_id == snippet.id)
        .options(selectinload(BucpSection.bucp).selectinload(Bucp.members))
    ).all()
    uses = [
        Use(section.bucp, section, newer_revision(section))
        for section in sections
        if may_see(user, section.bucp)
    ]
    uses.sort(key=lambda use: (use.bucp.title.lower(), use.section.position))
    return WhereUsed(uses, len(sections) - len(uses))


# --- placeholders ---------------------------------------------------------------------------


def placeholder_values(bucp: Bucp) -> dict[str, str]:
    """The filled values by placeholder name."""
    return {row.name: row.value for row in bucp.placeholders}


def placeholder_names(bucp: Bucp) -> list[str]:
    """The placeholders of all the BUCP's sections, in the form's order."""
    return gather(s.text for s in sorted(bucp.sections, key=lambda s: s.position))


def save_placeholders(
    session: Session, bucp: Bucp, values: Mapping[str, str], *, actor: User
) -> None:
    """Store the values of the BUCP's placeholders (names its sections do not use are refused)."""
    known = set(placeholder_names(bucp))
    unknown = sorted(set(values) - known)
    if unknown:
        raise BucpInputError(f"The sections have no placeholder {', '.join(unknown)}.")
    # The name column's length, which PostgreSQL enforces (SQLite would store any name).
    max_name = BucpPlaceholder.__table__.c.name.type.length
    long_names = [name for name in values if len(name) > max_name]
    if long_names:
        raise BucpInputError(
            f"A placeholder name holds up to {max_name} characters; shorten "
            f"{{{{ {long_names[0]} }}}} in the section.",
            long_names[0],
        )
    too_long = [name for name, value in values.items() if len(value) > MAX_VALUE]
    if too_long:
        raise BucpInputError(f"A value holds up to {MAX_VALUE:,} characters.", too_long[0])
    rows = {row.name: row for row in bucp.placeholders}
    for name, value in values.items():
        value = " ".join(value.split()) if "\n" not in value else value.strip()
        if name in rows:
            rows[name].value = value
        else:
            bucp.placeholders.append(BucpPlaceholder(name=name, value=value))
    bucp.updated_at = utcnow()
    session.flush()


# --- life cycle -----------------------------------------------------------------------------


def _event_time(on: date | None, previous: datetime | None, note: str, now: datetime) -> datetime:
    """When a stage event happened: now, or noon (UTC) of an earlier day with a note."""
    today = now.astimezone(UTC).date()
    if on is None or on == today:
        at = now
    elif on > today:
        raise BucpInputError("The date cannot be in the future.", "on")
    else:
        if not note.strip():
            raise BucpInputError(
                "Say why the date is earlier than today (for example: entered from the paper "
                "file).",
                "note",
            )
        at = datetime.combine(on, time(12), tzinfo=UTC)
    if previous is not None:
        if at.date() < previous.astimezone(UTC).date():
            raise BucpInputError(
                "The date cannot be before the previous stage change "
                f"({previous.strftime('%-d %B %Y')}).",
                "on",
            )
        at = max(at, previous)
    return at


def record_transition(
    session: Session,
    bucp: Bucp,
    to_stage: str,
    *,
    actor: User,
    on: date | None = None,
    note: str = "",
    now: datetime | None = None,
) -> StageEvent:
    """Move the BUCP to ``to_stage`` on a date (today, or back-dated with a note).

    Raises ``lifecycle.TransitionRefused`` (409) for a move the life cycle does not allow, and
    ``BucpInputError`` (422) for a date in the future or before the previous stage change.
    """
    lifecycle.check(bucp.stage, to_stage)
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise BucpInputError(f"A note holds up to {MAX_NOTE:,} characters.", "note")
    now = now or utcnow()
    previous = bucp.events[-1].at if bucp.events else None
    at = _event_time(on, previous, note, now)
    event = StageEvent(
        from_stage=bucp.stage,
        to_stage=to_stage,
        at=at,
        note=note,
        recorded_by=actor,
        recorded_at=now,
    )
    bucp.events.append(event)
    bucp.stage = to_stage
    if to_stage in lifecycle.OUTCOMES:
        bucp.outcome = lifecycle.OUTCOMES[to_stage]
    bucp.updated_at = now
    session.flush()
    audit(
        session,
        actor,
        "bucp.stage",
        bucp,
        from_stage=event.from_stage,
        to_stage=to_stage,
        at=at.isoformat(),
    )
    return event


# --- disputes and lessons -------------------------------------------------------------------


def _day(on: date | None, now: datetime) -> datetime:
    if on is None or on == now.astimezone(UTC).date():
        return now
    if on > now.astimezone(UTC).date():
        raise BucpInputError("The date cannot be in the future.", "on")
    return datetime.combine(on, time(12), tzinfo=UTC)


def raise_dispute(
    session: Session,
    bucp: Bucp,
    *,
    description: str,
    actor: User,
    on: date | None = None,
    now: datetime | None = None,
) -> BucpDispute:
    """Record a dispute over the BUCP (what is disputed, and when it was raised)."""
    description = description.strip()
    if not description:
        raise BucpInputError("Describe what is disputed.", "description")
    if len(description) > MAX_TEXT:
        raise BucpInputError(f"A description holds up to {MAX_TEXT:,} characters.", "description")
    dispute = BucpDispute(
        raised_at=_day(on, now or utcnow()), description=description, recorded_by=actor
    )
    bucp.disputes.append(dispute)
    session.flush()
    audit(session, actor, "bucp.dispute", bucp, dispute=dispute.id)
    return dispute


def resolve_dispute(
    session: Session,
    bucp: Bucp,
    dispute_id: int,
    *,
    resolution: str,
    actor: User,
    on: date | None = None,
    now: datetime | None = None,
) -> BucpDispute:
    """Record how a dispute was resolved (409 when it already was)."""
    dispute = next((d for d in bucp.disputes if d.id == dispute_id), None)
    if dispute is None:
        raise NotFound("This BUCP has no such dispute.")
    if dispute.resolved_at is not None:
        raise Conflict("This dispute is already resolved.")
    resolution = resolution.strip()
    if not resolution:
        raise BucpInputError("Say how the dispute was resolved.", "resolution")
    if len(resolution) > MAX_TEXT:
        raise BucpInputError(f"A resolution holds up to {MAX_TEXT:,} characters.", "resolution")
    at = _day(on, now or utcnow())
    if at.date() < dispute.raised_at.date():
        raise BucpInputError("A dispute cannot be resolved before it was raised.", "on")
    dispute.resolution = resolution
    dispute.resolved_at = max(at, dispute.raised_at)
    session.flush()
    audit(session, actor, "bucp.dispute.resolve", bucp, dispute=dispute.id)
    return dispute


def lesson_choices(session: Session, bucp: Bucp) -> list[Entry]:
    """Published lessons not yet linked to the BUCP, by title."""
    linked = {lesson.id for lesson in bucp.lessons}
    lessons = session.scalars(
        select(Entry)
        .where(Entry.kind == "lesson", Entry.status == "published")
        .order_by(Entry.title)
    )
    return [lesson for lesson in lessons if lesson.id not in linked]


def add_lesson(session: Session, bucp: Bucp, entry_id: int) -> Entry:
    """Link a published lesson the team applied."""
    lesson = session.get(Entry, entry_id)
    if lesson is None or lesson.kind != "lesson" or lesson.status != "published":
        raise BucpInputError("Choose a published lesson.", "entry_id")
    if lesson not in bucp.lessons:
        bucp.lessons.append(lesson)
    session.flush()
    return lesson


def remove_lesson(session: Session, bucp: Bucp, entry_id: int) -> None:
    """Unlink a lesson."""
    bucp.lessons = [lesson for lesson in bucp.lessons if lesson.id != entry_id]
    session.flush()
