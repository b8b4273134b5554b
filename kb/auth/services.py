"""Accounts: authentication, sign-in throttling, users and roles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from kb.entries.services import audit
from kb.models import ROLES
from kb.models import AuditEvent
from kb.models import LoginFailure
from kb.models import User
from kb.models import utcnow

#: Failed sign-ins allowed within the window, per user name and per address.
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_ADDRESS = 20
THROTTLE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8
#: Compared against when the user does not exist, so both paths take as long.
_DUMMY_HASH = generate_password_hash("not a password")


class AccountError(ValueError):
    """A request about accounts that cannot be carried out (the message says why)."""


@dataclass
class Throttle:
    """Whether sign-ins are refused for a while, and for how long."""

    blocked: bool
    retry_after_seconds: int = 0


def hash_password(password: str) -> str:
    """A strong salted hash (scrypt unless ``PASSWORD_HASH_METHOD`` says otherwise, as in tests)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def find_user(session: Session, username: str) -> User | None:
    """A user by name (case-insensitive)."""
    return session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def throttle(session: Session, username: str, address: str) -> Throttle:
    """Refuse sign-ins after repeated failures for this user name or from this address."""
    since = utcnow() - THROTTLE_WINDOW
    recent = select(func.count(LoginFailure.id), func.min(LoginFailure.at)).where(
        LoginFailure.at >= since
    )
    by_name = session.execute(recent.where(func.lower(LoginFailure.username) == username.lower()))
    by_address = session.execute(recent.where(LoginFailure.address == address))
    for (count, first), limit in (
        (by_name.one(), MAX_FAILURES_PER_NAME),
        (by_address.one(), MAX_FAILURES_PER_ADDRESS),
    ):
        if count >= limit:
            first = first if first.tzinfo else first.replace(tzinfo=utcnow().tzinfo)
            wait = first + THROTTLE_WINDOW - utcnow()
            return Throttle(True, max(60, int(wait.total_seconds())))
    return Throttle(False)


def authenticate(session: Session, username: str, password: str, address: str) -> User | None:
    """The user if the password is right and the account active; failures are recorded."""
    user = find_user(session, username)
    valid = check_password_hash(
        user.password_hash if user and user.password_hash else _DUMMY_HASH, password
    )
    if user is not None and valid and user.is_active:
        audit(session, user, "auth.login", user)
        return user
    session.add(LoginFailure(username=username[:80], address=address[:64]))
    detail = {"username": username[:80], "address": address[:64]}
    session.add(
        AuditEvent(
            action="auth.failure",
            object_type="user",
            object_id=user.id if user else None,
            detail=detail,
        )
    )
    return None


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site: no scheme, no host, no ``//`` or backslash tricks."""
    if not target:
        return default
    target = target.strip()
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(char) < 32 for char in target):
        return default
    return target


def create_user(
    session: Session,
    username: str,
    *,
    role: str,
    password: str | None,
    display_name: str = "",
    actor: User | None = None,
) -> User:
    """A new local account (``password`` may be ``None`` for header-authenticated users)."""
    username = username.strip()
    if not username or len(username) > 80:
        raise AccountError("the user name must be 1 to 80 characters long")
    if role not in ROLES:
        raise AccountError(f"the role must be one of {', '.join(ROLES)}")
    if find_user(session, username):
        raise AccountError(f"a user named {username!r} already exists")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    user = User(
        username=username,
        role=role,
        display_name=display_name,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    session.flush()
    audit(session, actor, "user.create", user, role=role)
    return user


def set_role(session: Session, user: User, role: str, *, actor: User | None) -> None:
    """Change a user's role (audited)."""
    if role not in ROLES:
        raise AccountError(f"the role must be one of {', '.join(ROLES)}")
    if user.is_system:
        raise AccountError("the system user's role cannot change")
    audit(session, actor, "user.set_role", user, old=user.role, new=role)
    user.role = role


def deactivate(session: Session, user: User, *, actor: User | None) -> None:
    """Stop a user from signing in (audited); their entries stay."""
    if user.is_system:
        raise AccountError("the system user cannot be deactivated")
    user.active = False
    audit(session, actor, "user.deactivate", user)


def header_user(session: Session, username: str) -> User:
    """The user a trusted proxy header names, created as a contributor on first sight."""
    user = find_user(session, username)
    if user is None:
        user = create_user(session, username, role="contributor", password=None)
    return user
