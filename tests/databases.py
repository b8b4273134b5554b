"""The test suite's databases: a SQLite file per app, or isolated schemas of one PostgreSQL
database when ``KB_TEST_DATABASE_URL`` names one.

On PostgreSQL every app a test makes gets a schema of its own (``search_path`` set in its URL),
so tests never see each other's rows and two apps of one test are two databases, as two SQLite
files are. Schemas are kept in a pool for the whole session: each is migrated to head once, the
fixed taxonomy installed and its rows remembered; after a test, the schemas it used are emptied,
their sequences restarted and the remembered rows put back, which costs a few milliseconds where
building a schema costs a second. A test that needs an empty database (the migrations, the
session's seeded app) asks for ``fresh_database_url`` instead. Schemas are dropped at exit.

Always import this module as ``tests.databases``: the state lives here, once.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import Pool

ENV = "KB_TEST_DATABASE_URL"


def configured_url() -> str | None:
    """The PostgreSQL database the tests use, or ``None`` for SQLite files."""
    url = os.environ.get(ENV) or None
    if url and make_url(url).get_backend_name() != "postgresql":
        raise pytest.UsageError(f"{ENV} must name a PostgreSQL database (or be unset), not {url}")
    return url


def is_postgres() -> bool:
    """Do the tests run on PostgreSQL?"""
    return configured_url() is not None


#: A test of SQLite itself (pragmas, files), skipped on PostgreSQL.
sqlite_only = pytest.mark.skipif(is_postgres(), reason="tests SQLite itself")


def database_url(data_dir: Path) -> str:
    """The database of an app whose data folder is ``data_dir``.

    SQLite: ``kb.sqlite`` in that folder. PostgreSQL: a schema of its own for this test, which
    already holds the tables and the fixed taxonomy (what ``db.create_all`` plus
    ``install_taxonomy``, or ``kb init``, make of a SQLite file; both are no-ops on it). The
    same folder gets the same database within a test.
    """
    if not is_postgres():
        data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{data_dir / 'kb.sqlite'}"
    return _pool().lease(str(data_dir.resolve()))


def fresh_database_url(data_dir: Path, *, session: bool = False) -> str:
    """An empty database (no tables): SQLite, a new file in ``data_dir``; PostgreSQL, a new
    schema, never handed out again, whose connections are closed after the test
    (``session=True``: at exit, for an app that lives as long as the session)."""
    if not is_postgres():
        data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{data_dir / 'kb.sqlite'}"
    return _pool().fresh(session=session)


def end_test() -> None:
    """After each test: close the test's connections, empty the schemas it used."""
    if _POOL is not None:
        _POOL.end_test()


def end_session() -> None:
    """At exit: drop every schema this session made.

    Run by ``atexit`` rather than at the end of the pytest session, so that it comes after
    the search logs the apps flush at exit (handlers run last-registered first).
    """
    global _POOL
    if _POOL is not None:
        _POOL.close()
        _POOL = None


_POOL: SchemaPool | None = None


def _pool() -> SchemaPool:
    global _POOL
    if _POOL is None:
        url = configured_url()
        assert url is not None
        _POOL = SchemaPool(url)
        atexit.register(end_session)
    return _POOL


class SchemaPool:
    """Schemas of one PostgreSQL database, handed out per test and cleaned after it."""

    def __init__(self, url: str) -> None:
        self.base = make_url(url)
        self.admin = create_engine(self.base, pool_size=1, max_overflow=0)
        self.prefix = f"kbt{os.getpid()}_"
        self.numbers = itertools.count(1)
        self.free: list[str] = []
        self.leased: dict[str, str] = {}
        #: Schemas not to hand out again (fresh ones, damaged ones), dropped at exit.
        self.spent: list[str] = []
        #: Fresh schemas made for this test only (``fresh_database_url``).
        self.fresh_now: list[str] = []
        self.rows: dict[str, list[dict[str, Any]]] | None = None
        #: Engines that connected since the last cleanup (the apps' engines, to dispose).
        self.engines: weakref.WeakSet[Engine] = weakref.WeakSet()
        #: Every connection the apps opened, by schema. A test that disposes an engine while
        #: a session still holds a connection orphans it (it goes back to the discarded pool)
        #: and the garbage collector would close it later, with a ResourceWarning in some other
        #: test; these references close such connections after their own test instead.
        self.connections: dict[str, list[Any]] = {}
        event.listen(Engine, "engine_connect", self._remember_engine)
        event.listen(Pool, "connect", self._remember_connection)
        self._drop_orphans()

    def _remember_engine(self, connection: Connection) -> None:
        if connection.engine is not self.admin:
            self.engines.add(connection.engine)

    def _remember_connection(self, dbapi_connection: Any, _record: Any) -> None:
        options = getattr(getattr(dbapi_connection, "info", None), "get_parameters", dict)()
        found = re.search(r"search_path=(\S+)", options.get("options", ""))
        if found and found.group(1).startswith(self.prefix):
            known = self.connections.get(found.group(1), [])
            self.connections[found.group(1)] = [
                *(connection for connection in known if not connection.closed),
                dbapi_connection,
            ]

    def _close_connections(self, schemas: Iterable[str]) -> None:
        for schema in schemas:
            for connection in self.connections.pop(schema, []):
                connection.close()

    def url(self, schema: str) -> str:
        """The base URL with ``search_path`` set to ``schema`` (also for child processes)."""
        options = self.base.query.get("options", "")
        if isinstance(options, tuple):
            options = " ".join(options)
        search_path = f"-csearch_path={schema}"
        query = {"options": f"{options} {search_path}".strip()}
        return self.base.update_query_dict(query).render_as_string(hide_password=False)

    # --- handing schemas out --------------------------------------------------------------

    def lease(self, key: str) -> str:
        """The schema of data folder ``key`` in this test: a clean one from the pool."""
        if key not in self.leased:
            self.leased[key] = self.free.pop() if self.free else self._prepared()
        return self.url(self.leased[key])

    def fresh(self, *, session: bool) -> str:
        """A new empty schema."""
        schema = self._create_schema()
        self.spent.append(schema)
        if not session:
            self.fresh_now.append(schema)
        return self.url(schema)

    def _create_schema(self) -> str:
        schema = f"{self.prefix}{next(self.numbers)}"
        with self.admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        return schema

    def _prepared(self) -> str:
        """A new schema migrated to head with the fixed taxonomy, as ``kb init`` leaves it."""
        import tempfile

        from flask_migrate import upgrade

        from kb import create_app
        from kb.extensions import db
        from kb.seed import install_taxonomy

        schema = self._create_schema()
        with tempfile.TemporaryDirectory(prefix="kb-schema-") as data_dir:
            app = create_app(
                {
                    "DATA_DIR": data_dir,
                    "SECRET_KEY": "x",
                    "SEARCH_INDEX_IN_MEMORY": True,
                    "SQLALCHEMY_DATABASE_URI": self.url(schema),
                }
            )
            with app.app_context():
                upgrade(directory=app.extensions["migrate"].directory)
                install_taxonomy(db.session)
                db.session.commit()
                db.session.remove()
                db.engine.dispose()
        if self.rows is None:
            self.rows = self._read_rows(schema)
        return schema

    # --- cleaning up ----------------------------------------------------------------------

    def end_test(self) -> None:
        for engine in list(self.engines):
            engine.dispose()
        self.engines.clear()
        self._close_connections([*self.leased.values(), *self.fresh_now])
        self.fresh_now.clear()
        for schema in self.leased.values():
            if self._reset(schema):
                self.free.append(schema)
            else:  # dropped at exit, not now: apps flush their search logs at exit
                self.spent.append(schema)
        self.leased.clear()

    def close(self) -> None:
        for engine in list(self.engines):
            engine.dispose()
        self._close_connections(list(self.connections))
        event.remove(Engine, "engine_connect", self._remember_engine)
        event.remove(Pool, "connect", self._remember_connection)
        self._drop([*self.free, *self.leased.values(), *self.spent])
        self.admin.dispose()

    @staticmethod
    def _tables() -> list[Any]:
        from kb.extensions import db

        return list(db.metadata.sorted_tables)

    def _read_rows(self, schema: str) -> dict[str, list[dict[str, Any]]]:
        """Every row of a freshly prepared schema (the fixed taxonomy), per table."""
        rows = {}
        with self.admin.connect() as connection:
            translated = connection.execution_options(schema_translate_map={None: schema})
            for table in self._tables():
                found = [dict(row) for row in translated.execute(select(table)).mappings()]
                if found:
                    rows[table.name] = found
        return rows

    def _reset(self, schema: str) -> bool:
        """Empty every table, put the prepared rows back and their sequences after them;
        ``False`` when the test changed the schema itself (dropped a table), so it cannot be
        reused."""
        try:
            try:
                self._restore(schema)
            except OperationalError:
                # A connection the test left inside a transaction holds a lock: end it, retry.
                self._terminate_lock_holders(schema)
                self._restore(schema)
        except ProgrammingError:
            return False
        return True

    def _restore(self, schema: str) -> None:
        # DELETE, not TRUNCATE: on tables this small it is a hundred times faster (TRUNCATE
        # makes new files for every table and index).
        tables = self._tables()
        rows = self.rows or {}
        deletes = "; ".join(f'DELETE FROM "{schema}"."{table.name}"' for table in reversed(tables))
        sequences = ", ".join(
            f'setval(pg_get_serial_sequence(\'"{schema}"."{table.name}"\', '
            f"'{table.autoincrement_column.name}'), "
            + (
                f'(SELECT max("{table.autoincrement_column.name}") '
                f'FROM "{schema}"."{table.name}"), true)'
                if table.name in rows
                else "1, false)"
            )
            for table in tables
            if table.autoincrement_column is not None
        )
        with self.admin.begin() as connection:
            connection.execute(text("SET LOCAL lock_timeout = '3s'"))
            connection.exec_driver_sql(deletes)
            translated = connection.execution_options(schema_translate_map={None: schema})
            for table in tables:
                if table.name in rows:
                    translated.execute(insert(table), rows[table.name])
            connection.exec_driver_sql(f"SELECT {sequences}")

    def _terminate_lock_holders(self, schema: str) -> None:
        with self.admin.begin() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(l.pid) FROM pg_locks l "
                    "JOIN pg_class c ON c.oid = l.relation "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = :schema AND l.pid <> pg_backend_pid()"
                ),
                {"schema": schema},
            )

    def _drop(self, schemas: list[str]) -> None:
        for schema in schemas:
            try:
                self._drop_one(schema)
            except OperationalError:
                self._terminate_lock_holders(schema)
                self._drop_one(schema)

    def _drop_one(self, schema: str) -> None:
        with self.admin.begin() as connection:
            connection.execute(text("SET LOCAL lock_timeout = '3s'"))
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))

    def _drop_orphans(self) -> None:
        """Drop schemas left by test sessions that died (their process is gone)."""
        with self.admin.connect() as connection:
            names = connection.scalars(
                text(r"SELECT nspname FROM pg_namespace WHERE nspname ~ '^kbt[0-9]+_[0-9]+$'")
            ).all()
        orphans = []
        for name in names:
            pid = int(name[3:].split("_")[0])
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                orphans.append(name)
            except PermissionError:  # alive, someone else's
                pass
        self._drop(orphans)
