"""Administration: accounts and roles as an admin changes them, and reading the audit trail."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from kb.auth import services as accounts
from kb.entries.services import audit
from kb.models import AuditEvent
from kb.models import User
from kb.pagination import Page
from kb.pagination import paginate


class ConflictError(accounts.AccountError):
    """A change that the account's current state does not allow (answered with 409)."""


# --- accounts -------------------------------------------------------------------------------


def list_accounts(session: Session, page: int, per_page: int) -> Page[User]:
    """One page of the people's accounts (not the system user), by user name."""
    statement = (
        select(User).where(User.is_system.is_(False)).order_by(func.lower(User.username), User.id)
    )
    return paginate(session, statement, page, per_page)


def get_account(session: Session, user_id: int) -> User | None:
    """A person's account by id; the system user is not an account an admin manages."""
    user = session.get(User, user_id)
    return None if user is None or user.is_system else user


def create_account(
    session: Session,
    username: str,
    *,
    role: str,
    password: str,
    display_name: str,
    actor: User,
) -> User:
    """A new local account, audited as created by ``actor``."""
    return accounts.create_user(
        session, username, role=role, password=password, display_name=display_name, actor=actor
    )


def _refuse_self(user: User, actor: User, what: str) -> None:
    if user.id == actor.id:
        raise ConflictError(f"You cannot {what} yourself; ask another admin.")


def change_role(session: Session, user: User, role: str, *, actor: User) -> bool:
    """Give ``user`` another role (audited); ``False`` when it already had it.

    :raises ConflictError: when admins try to change their own role.
    """
    _refuse_self(user, actor, "change the role of")
    if user.role == role:
        return False
    accounts.set_role(session, user, role, actor=actor)
    return True


def deactivate_account(session: Session, user: User, *, actor: User) -> None:
    """Stop ``user`` from signing in (audited); their entries stay."""
    _refuse_self(user, actor, "deactivate")
    if not user.active:
        raise ConflictError(f"{user.username} is already deactivated.")
    accounts.deactivate(session, user, actor=actor)


def reactivate_account(session: Session, user: User, *, actor: User) -> None:
    """Let a deactivated ``user`` sign in again (audited)."""
    if user.active:
        raise ConflictError(f"{user.username} is already active.")
    user.active = True
    audit(session, actor, "user.reactivate", user)


# --- the audit trail ------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    """What the audit trail is narrowed to; ``None`` means any. Dates are UTC and inclusive."""

    action: str | None = None
    actor: str | None = None
    object_type: str | None = None
    start: date | None = None
    end: date | None = None


@dataclass
class AuditRow:
    """One audit event as the page shows it."""

    event: AuditEvent
    detail: list[tuple[str, str]]
    object_label: str | None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _filtered(filters: AuditFilters) -> Select[tuple[AuditEvent]]:
    statement = select(AuditEvent)
    if filters.action:
        statement = statement.where(AuditEvent.action == filters.action)
    if filters.object_type:
        statement = statement.where(AuditEvent.object_type == filters.object_type)
    if filters.actor:
        named = select(User.id).where(func.lower(User.username) == filters.actor.lower())
        statement = statement.where(AuditEvent.actor_id.in_(named))
    if filters.start:
        statement = statement.where(AuditEvent.at >= _midnight(filters.start))
    if filters.end and filters.end < date.max:
        statement = statement.where(AuditEvent.at < _midnight(filters.end + timedelta(days=1)))
    return statement


def audit_page(session: Session, filters: AuditFilters, page: int, per_page: int) -> Page[AuditRow]:
    """One page of audit events matching ``filters``, newest first, ready to show."""
    statement = (
        _filtered(filters)
        .options(selectinload(AuditEvent.actor))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    events: Page[AuditEvent] = paginate(session, statement, page, per_page)
    names = _user_names(session, events.items)
    rows = [
        AuditRow(
            event=event,
            detail=detail_pairs(event.detail),
            object_label=names.get(event.object_id) if event.object_type == "user" else None,
        )
        for event in events.items
    ]
    return Page(items=rows, total=events.total, page=events.page, per_page=events.per_page)


def _user_names(session: Session, events: list[AuditEvent]) -> dict[int, str]:
    ids = {e.object_id for e in events if e.object_type == "user" and e.object_id is not None}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return {user_id: name for user_id, name in rows}


def detail_pairs(detail: dict[str, Any] | None) -> list[tuple[str, str]]:
    """An event's detail as readable ``(key, value)`` text pairs (the template escapes them)."""
    pairs = []
    for key, value in (detail or {}).items():
        if value is None or value == "":
            text = "—"
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, list):
            text = ", ".join(str(item) for item in value) or "—"
        elif isinstance(value, dict):
            text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        else:
            text = str(value)
        pairs.append((str(key).replace("_", " "), text))
    return pairs


def audit_choices(session: Session) -> tuple[list[str], list[str]]:
    """The actions and the object types that occur in the audit trail, sorted."""
    actions = session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action))
    types = session.scalars(
        select(AuditEvent.object_type).distinct().order_by(AuditEvent.object_type)
    )
    return list(actions), list(types)


def actor_names(session: Session) -> list[str]:
    """User names of everyone who appears as an actor (suggestions for the actor filter)."""
    named = select(AuditEvent.actor_id).where(AuditEvent.actor_id.is_not(None)).distinct()
    return list(
        session.scalars(select(User.username).where(User.id.in_(named)).order_by(User.username))
    )
