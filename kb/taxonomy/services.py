"""Taxonomy upkeep: rename, merge and delete tags; manage programs and peer departments.

Every function flushes and never commits; each change is audited, and every entry whose
search document changes is recorded with ``enqueue_index`` in the same transaction.
The fixed taxonomy (categories, plays, clause types) is changed only by migrations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from kb.entries.services import audit
from kb.entries.validation import MAX_TAG_CHARS
from kb.entries.validation import normalise_tag
from kb.models import Department
from kb.models import Entry
from kb.models import Program
from kb.models import Tag
from kb.models import User
from kb.models import entry_tags
from kb.pagination import Page
from kb.search import enqueue_index

PROGRAM_NAME_CHARS = 120
DEPARTMENT_NAME_CHARS = 200
ABBREVIATION_CHARS = 32
DESCRIPTION_CHARS = 2000
TAG_SORTS = ("name", "most", "least")
#: How a table that refers to a taxonomy row is named in messages (singular, plural).
USAGE_NOUNS = {
    "entries": ("entry", "entries"),
    "entry_tags": ("entry", "entries"),
    "users": ("user", "users"),
}


class TaxonomyError(ValueError):
    """A change that cannot be made; ``status`` is its HTTP status, ``field`` the form field."""

    status = 422

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NameTaken(TaxonomyError):
    """Another row already has this name (merge instead); ``existing`` is that row."""

    status = 409

    def __init__(self, message: str, existing: Any, *, field: str = "name") -> None:
        super().__init__(message, field=field)
        self.existing = existing


class InUse(TaxonomyError):
    """The row is still referred to, so it cannot be deleted."""

    status = 409


@dataclass(frozen=True)
class TagUsage:
    """A tag and the number of entries (of any status) that carry it."""

    id: int
    name: str
    entries: int


@dataclass(frozen=True)
class ProgramUsage:
    """A program with the number of its entries and users."""

    program: Program
    entries: int
    users: int


# --- references -------------------------------------------------------------------------------


def _referring_columns(table: Table) -> list[tuple[Table, Any]]:
    """Every (table, column) of the schema with a foreign key to ``table``."""
    return [
        (other, fk.parent)
        for other in table.metadata.sorted_tables
        for fk in other.foreign_keys
        if fk.references(table)
    ]


def references(session: Session, obj: Any) -> dict[str, int]:
    """How many rows of each table refer to ``obj`` (found from the schema's foreign keys)."""
    counts: dict[str, int] = {}
    for table, column in _referring_columns(obj.__table__):
        count = session.scalar(select(func.count()).select_from(table).where(column == obj.id))
        if count:
            counts[table.name] = counts.get(table.name, 0) + count
    return counts


def describe_usage(counts: dict[str, int]) -> str:
    """``{"entries": 3, "users": 1}`` → ``3 entries and 1 user``."""
    known = list(USAGE_NOUNS)
    order = sorted(counts, key=lambda table: (known.index(table) if table in known else 99, table))
    parts = []
    for table in order:
        count = counts[table]
        singular, plural = USAGE_NOUNS.get(table, (f"{table} row", f"{table} rows"))
        parts.append(f"{count} {singular if count == 1 else plural}")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _move_references(
    session: Session, table: Table, source_id: int, target_id: int, *, skip: set[str]
) -> None:
    """Point every foreign key to ``source_id`` at ``target_id`` (tables in ``skip`` aside)."""
    for other, column in _referring_columns(table):
        if other.name not in skip:
            session.execute(
                update(other).where(column == source_id).values({column.name: target_id})
            )


def _refuse_if_used(session: Session, obj: Any, label: str, advice: str) -> None:
    counts = references(session, obj)
    if counts:
        message = f"{label} is used by {describe_usage(counts)}, so it cannot be deleted."
        raise InUse(f"{message} {advice}".strip())


# --- tags -------------------------------------------------------------------------------------


def tag_usage(
    session: Session, *, prefix: str = "", sort: str = "name", page: int = 1, per_page: int = 20
) -> Page[TagUsage]:
    """One page of tags with their entry counts (one grouped query), by name prefix."""
    prefix = normalise_tag(prefix)
    where = [Tag.name.startswith(prefix, autoescape=True)] if prefix else []
    total = session.scalar(select(func.count(Tag.id)).where(*where)) or 0
    page = min(max(1, page), max(1, -(-total // per_page)))
    count = func.count(entry_tags.c.entry_id)
    order = {
        "most": (count.desc(), Tag.name),
        "least": (count, Tag.name),
    }.get(sort, (Tag.name,))
    rows = session.execute(
        select(Tag.id, Tag.name, count)
        .outerjoin(entry_tags, entry_tags.c.tag_id == Tag.id)
        .where(*where)
        .group_by(Tag.id, Tag.name)
        .order_by(*order)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    items = [TagUsage(id=row[0], name=row[1], entries=row[2]) for row in rows]
    return Page(items=items, total=total, page=page, per_page=per_page)


def tag_entry_ids(session: Session, tag: Tag) -> list[int]:
    """Ids of the entries (any status) that carry ``tag``."""
    statement = select(entry_tags.c.entry_id).where(entry_tags.c.tag_id == tag.id)
    return list(session.scalars(statement.order_by(entry_tags.c.entry_id)))


def tag_by_name(session: Session, name: str) -> Tag | None:
    """The tag of this name once normalised, if any."""
    name = normalise_tag(name)
    return session.scalar(select(Tag).where(Tag.name == name)) if name else None


def existing_tag(session: Session, name: str, *, field: str = "target") -> Tag:
    """The tag of this name; ``TaxonomyError`` (422) when there is none."""
    tag = tag_by_name(session, name)
    if tag is None:
        shown = normalise_tag(name) or name
        raise TaxonomyError(
            f"There is no tag “{shown}”. To give this tag that name, rename it instead.",
            field=field,
        )
    return tag


def clean_tag_name(text: str) -> str:
    """The normalised tag name, or ``TaxonomyError`` (422) when nothing usable is left."""
    name = normalise_tag(text or "")
    if not name:
        raise TaxonomyError("A tag needs at least one letter or digit.", field="name")
    if len(name) > MAX_TAG_CHARS:
        raise TaxonomyError(f"A tag has at most {MAX_TAG_CHARS} characters.", field="name")
    return name


def rename_tag(session: Session, tag: Tag, new_name: str, *, actor: User) -> bool:
    """Give ``tag`` a new (normalised) name; False when the name does not change.

    Raises ``NameTaken`` (409) when another tag has that name: merge into it instead.
    """
    name = clean_tag_name(new_name)
    if name == tag.name:
        return False
    existing = tag_by_name(session, name)
    if existing is not None:
        raise NameTaken(f"There is already a tag “{name}”.", existing)
    old = tag.name
    tag.name = name
    audit(session, actor, "tag.rename", tag, **{"from": old, "to": name})
    enqueue_index(session, "entry", tag_entry_ids(session, tag))
    session.flush()
    return True


def merge_tags(session: Session, source: Tag, target: Tag, *, actor: User) -> int:
    """Give every entry of ``source`` the ``target`` tag (once) and delete ``source``.

    Returns the number of entries that carried ``source``.
    """
    if source.id == target.id:
        raise TaxonomyError("A tag cannot be merged into itself.", field="target")
    session.flush()
    moved = tag_entry_ids(session, source)
    has_target = set(tag_entry_ids(session, target))
    missing = [entry_id for entry_id in moved if entry_id not in has_target]
    if missing:
        rows = [{"entry_id": entry_id, "tag_id": target.id} for entry_id in missing]
        session.execute(insert(entry_tags), rows)
    session.execute(delete(entry_tags).where(entry_tags.c.tag_id == source.id))
    _move_references(session, Tag.__table__, source.id, target.id, skip={"entry_tags"})
    audit(
        session,
        actor,
        "tag.merge",
        target,
        source=source.name,
        source_id=source.id,
        entries=len(moved),
        added=len(missing),
    )
    enqueue_index(session, "entry", moved)
    _forget_loaded_tags(session, moved)
    session.delete(source)
    session.flush()
    return len(moved)


def _forget_loaded_tags(session: Session, entry_ids: list[int]) -> None:
    """Entries already loaded in the session reload their tags (they changed underneath)."""
    wanted = set(entry_ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Entry) and obj.id in wanted:
            session.expire(obj, ["tags"])


def delete_tag(session: Session, tag: Tag, *, actor: User) -> None:
    """Delete a tag no entry carries; ``InUse`` (409) otherwise."""
    _refuse_if_used(
        session, tag, f"The tag “{tag.name}”", "Merge it into another tag to retire it."
    )
    audit(session, actor, "tag.delete", tag, name=tag.name)
    session.delete(tag)
    session.flush()


# --- programs ---------------------------------------------------------------------------------


def clean_name(text: str, limit: int) -> str:
    """Whitespace collapsed; ``TaxonomyError`` (422) when empty or too long."""
    name = " ".join((text or "").split())
    if not name:
        raise TaxonomyError("A name is required.", field="name")
    if len(name) > limit:
        raise TaxonomyError(f"A name has at most {limit} characters.", field="name")
    return name


def _same_name(session: Session, model: type[Any], name: str, *, other_than: int | None) -> Any:
    """The row of ``model`` with this name, ignoring case (``other_than`` excluded)."""
    statement = select(model).where(func.lower(model.name) == name.lower())
    if other_than is not None:
        statement = statement.where(model.id != other_than)
    return session.scalar(statement)


def program_usage(session: Session) -> list[ProgramUsage]:
    """Every program by name, with how many entries and users it has (one query)."""
    entries = (
        select(Entry.program_id, func.count(Entry.id).label("n"))
        .group_by(Entry.program_id)
        .subquery()
    )
    users = (
        select(User.program_id, func.count(User.id).label("n")).group_by(User.program_id).subquery()
    )
    rows = session.execute(
        select(Program, func.coalesce(entries.c.n, 0), func.coalesce(users.c.n, 0))
        .outerjoin(entries, entries.c.program_id == Program.id)
        .outerjoin(users, users.c.program_id == Program.id)
        .order_by(func.lower(Program.name), Program.id)
    )
    return [ProgramUsage(program=row[0], entries=row[1], users=row[2]) for row in rows]


def other_programs(session: Session, program: Program) -> list[Program]:
    """Every program but this one, by name (the choices of a merge)."""
    statement = select(Program).where(Program.id != program.id).order_by(func.lower(Program.name))
    return list(session.scalars(statement))


def program_entry_ids(session: Session, program: Program) -> list[int]:
    """Ids of the entries (any status) of ``program``."""
    statement = select(Entry.id).where(Entry.program_id == program.id).order_by(Entry.id)
    return list(session.scalars(statement))


def create_program(session: Session, name: str, description: str = "", *, actor: User) -> Program:
    """Add a program; ``NameTaken`` (409) when one has this name (ignoring case)."""
    name = clean_name(name, PROGRAM_NAME_CHARS)
    existing = _same_name(session, Program, name, other_than=None)
    if existing is not None:
        raise NameTaken(f"There is already a program “{existing.name}”.", existing)
    program = Program(name=name, description=(description or "").strip())
    session.add(program)
    session.flush()
    audit(session, actor, "program.create", program, name=name)
    session.flush()
    return program


def update_program(
    session: Session, program: Program, *, name: str, description: str, actor: User
) -> bool:
    """Change a program's name and description; False when nothing changes.

    A new name is re-indexed on the program's entries (the program facet and ``program:``).
    """
    name = clean_name(name, PROGRAM_NAME_CHARS)
    description = (description or "").strip()
    existing = _same_name(session, Program, name, other_than=program.id)
    if existing is not None:
        raise NameTaken(f"There is already a program “{existing.name}”.", existing)
    changes = _changes(program, name=name, description=description)
    if not changes:
        return False
    program.name, program.description = name, description
    audit(session, actor, "program.update", program, **changes)
    if "name" in changes:
        enqueue_index(session, "entry", program_entry_ids(session, program))
    session.flush()
    return True


def merge_programs(
    session: Session, source: Program, target: Program, *, actor: User
) -> tuple[int, int]:
    """Move every entry and user (and any other reference) of ``source`` to ``target``.

    ``source`` is deleted; returns the numbers of entries and users moved.
    """
    if source.id == target.id:
        raise TaxonomyError("A program cannot be merged into itself.", field="target")
    session.flush()
    moved = program_entry_ids(session, source)
    users = session.scalar(select(func.count(User.id)).where(User.program_id == source.id)) or 0
    _move_references(session, Program.__table__, source.id, target.id, skip=set())
    audit(
        session,
        actor,
        "program.merge",
        target,
        source=source.name,
        source_id=source.id,
        entries=len(moved),
        users=users,
    )
    enqueue_index(session, "entry", moved)
    session.flush()
    # The bulk updates bypassed loaded objects: reload them before anything reads them.
    session.expire_all()
    session.delete(source)
    session.flush()
    return len(moved), users


def delete_program(session: Session, program: Program, *, actor: User) -> None:
    """Delete a program nothing refers to; ``InUse`` (409) otherwise."""
    _refuse_if_used(
        session,
        program,
        f"The program “{program.name}”",
        "Merge it into another program to retire it.",
    )
    audit(session, actor, "program.delete", program, name=program.name)
    session.delete(program)
    session.flush()


# --- peer departments -------------------------------------------------------------------------


def departments(session: Session) -> list[Department]:
    """Every peer department by name."""
    statement = select(Department).order_by(func.lower(Department.name), Department.id)
    return list(session.scalars(statement))


def _clean_abbreviation(text: str) -> str:
    abbreviation = " ".join((text or "").split())
    if len(abbreviation) > ABBREVIATION_CHARS:
        raise TaxonomyError(
            f"An abbreviation has at most {ABBREVIATION_CHARS} characters.", field="abbreviation"
        )
    return abbreviation


def create_department(
    session: Session, name: str, abbreviation: str = "", *, actor: User
) -> Department:
    """Add a peer department; ``NameTaken`` (409) when one has this name (ignoring case)."""
    name = clean_name(name, DEPARTMENT_NAME_CHARS)
    abbreviation = _clean_abbreviation(abbreviation)
    existing = _same_name(session, Department, name, other_than=None)
    if existing is not None:
        raise NameTaken(f"There is already a department “{existing.name}”.", existing)
    department = Department(name=name, abbreviation=abbreviation)
    session.add(department)
    session.flush()
    audit(session, actor, "department.create", department, name=name)
    session.flush()
    return department


def update_department(
    session: Session, department: Department, *, name: str, abbreviation: str, actor: User
) -> bool:
    """Change a department's name and abbreviation; False when nothing changes."""
    name = clean_name(name, DEPARTMENT_NAME_CHARS)
    abbreviation = _clean_abbreviation(abbreviation)
    existing = _same_name(session, Department, name, other_than=department.id)
    if existing is not None:
        raise NameTaken(f"There is already a department “{existing.name}”.", existing)
    changes = _changes(department, name=name, abbreviation=abbreviation)
    if not changes:
        return False
    department.name, department.abbreviation = name, abbreviation
    audit(session, actor, "department.update", department, **changes)
    session.flush()
    return True


def delete_department(session: Session, department: Department, *, actor: User) -> None:
    """Delete a peer department nothing refers to; ``InUse`` (409) otherwise."""
    _refuse_if_used(session, department, f"The department “{department.name}”", "")
    audit(session, actor, "department.delete", department, name=department.name)
    session.delete(department)
    session.flush()


def _changes(obj: Any, **values: str) -> dict[str, list[str]]:
    """``{field: [old, new]}`` for the values that differ from ``obj``'s."""
    return {
        name: [getattr(obj, name), value]
        for name, value in values.items()
        if getattr(obj, name) != value
    }
