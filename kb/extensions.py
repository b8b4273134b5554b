"""Unbound Flask extensions, initialised by the factory."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import current_app
from flask import has_app_context
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention (stable migration names)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
csrf = CSRFProtect()
login_manager = LoginManager()
migrate = Migrate(render_as_batch=True, compare_type=True)

#: How long a SQLite statement waits for another writer's lock before failing (milliseconds);
#: ``KB_SQLITE_BUSY_TIMEOUT_MS`` changes it. SQLite's busy handler retries within this time.
SQLITE_BUSY_TIMEOUT_MS = 10_000

#: SQLite primary result codes: SQLITE_BUSY (another connection holds the lock) and
#: SQLITE_LOCKED (a conflict inside a shared cache). Extended codes keep these in the low byte.
_SQLITE_BUSY_CODES = {5, 6}
#: PostgreSQL SQLSTATEs meaning "another transaction was in the way; run yours again":
#: serialization_failure, deadlock_detected, lock_not_available (lock_timeout, NOWAIT).
_POSTGRES_BUSY_STATES = {"40001", "40P01", "55P03"}
_BUSY_WORDS = ("database is locked", "database table is locked", "database is busy")


def busy_timeout_ms() -> int:
    """The busy timeout of the current app (``SQLITE_BUSY_TIMEOUT_MS``), else the default."""
    if has_app_context():
        return int(current_app.config.get("SQLITE_BUSY_TIMEOUT_MS", SQLITE_BUSY_TIMEOUT_MS))
    return SQLITE_BUSY_TIMEOUT_MS


def database_busy(exc: BaseException) -> bool:
    """Whether ``exc`` means the database was locked by another writer for too long.

    The one place that recognises lock contention: SQLite's "database is locked" (SQLITE_BUSY
    or SQLITE_LOCKED, after the busy timeout ran out), and PostgreSQL's lock timeouts,
    deadlocks and serialization failures. Such a transaction was rolled back and can simply
    be tried again later; any other database error is a real fault.
    """
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    if original is None:
        return False
    code = getattr(original, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_BUSY_CODES
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if isinstance(state, str):
        return state in _POSTGRES_BUSY_STATES
    if isinstance(original, sqlite3.OperationalError):  # no error code: match the message
        return str(original).lower().startswith(_BUSY_WORDS)
    return False


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Make SQLite concurrent-friendly: WAL journal, a busy timeout, enforced foreign keys."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {max(busy_timeout_ms(), 0)}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()
