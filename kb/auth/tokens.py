"""Personal API tokens: create (the secret is shown once), list, revoke, and resolve to a user.

A token is ``kb_`` followed by 43 URL-safe characters (32 random bytes). Only its SHA-256 digest
is stored (see ``ApiToken``), with the first characters as a display prefix. A token acts as its
user with that user's current role; revoked tokens, and tokens of inactive or system users,
never authenticate.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from kb.auth.policy import has_role
from kb.entries.services import audit
from kb.models import ApiToken
from kb.models import User
from kb.models import utcnow

TOKEN_PREFIX = "kb_"
#: Characters of the token shown on lists (``kb_`` and 8 more): enough to tell tokens apart.
DISPLAY_LENGTH = 11
MAX_NAME_LENGTH = 100
#: ``last_used_at`` is written at most this often per token (not a write on every request).
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: Anything longer is not one of ours; no need to hash it.
MAX_PRESENTED_LENGTH = 200


class TokenError(ValueError):
    """A token request that cannot be carried out (the message says why)."""


@dataclass
class NewToken:
    """A token just created: the stored row and the secret, which is never shown again."""

    token: ApiToken
    secret: str


def hash_token(secret: str) -> str:
    """The stored form of a token: its SHA-256 hex digest."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(
    session: Session, user: User, *, name: str = "", actor: User | None = None
) -> NewToken:
    """A new token for ``user`` (audited); the secret is in the result and nowhere else."""
    if user.is_system or not user.active:
        raise TokenError(f"{user.username} cannot have API tokens: the account cannot sign in")
    name = " ".join(name.split())
    if len(name) > MAX_NAME_LENGTH:
        raise TokenError(f"the name must be at most {MAX_NAME_LENGTH} characters long")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name or "API token",
        token_hash=hash_token(secret),
        prefix=secret[:DISPLAY_LENGTH],
        created_at=utcnow(),
    )
    session.add(token)
    session.flush()
    audit(session, actor or user, "token.create", token, user=user.username, name=token.name)
    return NewToken(token, secret)


def list_tokens(
    session: Session, user: User | None = None, *, include_revoked: bool = True
) -> list[ApiToken]:
    """Tokens of ``user`` (everyone's when ``None``), newest first."""
    statement = select(ApiToken).options(selectinload(ApiToken.user))
    if user is not None:
        statement = statement.where(ApiToken.user_id == user.id)
    if not include_revoked:
        statement = statement.where(ApiToken.revoked_at.is_(None))
    return list(session.scalars(statement.order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def get_token(session: Session, token_id: int) -> ApiToken | None:
    """A token by id."""
    return session.get(ApiToken, token_id)


def may_revoke(actor: User | None, token: ApiToken) -> bool:
    """Owners revoke their own tokens; admins anyone's (DESIGN §7)."""
    return actor is not None and (actor.id == token.user_id or has_role(actor, "admin"))


def revoke_token(session: Session, token: ApiToken, *, actor: User) -> None:
    """Stop a token from working, at once and for good (audited)."""
    if token.revoked_at is not None:
        raise TokenError(f"token {token.id} ({token.prefix}…) was already revoked")
    token.revoked_at = utcnow()
    audit(session, actor, "token.revoke", token, user=token.user.username, name=token.name)


def resolve(session: Session, presented: str) -> ApiToken | None:
    """The active token ``presented`` stands for, if its user may act; else ``None``.

    Marks the token used (at most once per ``LAST_USED_RESOLUTION``); the caller commits.
    """
    presented = presented.strip()
    if not presented.startswith(TOKEN_PREFIX) or len(presented) > MAX_PRESENTED_LENGTH:
        return None
    token = session.scalar(
        select(ApiToken)
        .where(ApiToken.token_hash == hash_token(presented))
        .options(selectinload(ApiToken.user))
    )
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
    return token
