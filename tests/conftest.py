"""Fixtures: a seeded app built once per session through the real CLI, and fresh empty apps.

Each app gets a database of its own: a SQLite file in its data folder, or a PostgreSQL schema
when ``KB_TEST_DATABASE_URL`` is set (``tests/databases.py``; ``make test-postgres`` runs the
modules of ``POSTGRES_MODULES`` that way).
"""

from __future__ import annotations

import atexit
import gc
import shutil
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import ClassVar

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask.testing import FlaskCliRunner
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from werkzeug.routing import Rule

from kb import create_app
from kb.entries.services import create_entry
from kb.entries.validation import taxonomy_lookups
from kb.entries.validation import validate_record
from kb.extensions import db
from kb.models import Entry
from kb.models import User
from kb.seed import install_taxonomy
from kb.seed import system_user
from tests import databases

#: The database-facing test modules (models, services, workflow, search sync, import, API,
#: faults, migrations), which also run on PostgreSQL (marker ``postgres``). The rest runs on
#: SQLite only: browser, hostile-input, fuzz and relevance tests, pages and file formats, the
#: SQLite-specific ones (backup, concurrency) and views whose queries these modules cover.
POSTGRES_MODULES = frozenset(
    {
        "test_admin.py",
        "test_api.py",
        "test_api_write.py",
        "test_auth.py",
        "test_bucps.py",
        "test_bucps_files.py",
        "test_cli.py",
        "test_editing.py",
        "test_export.py",
        "test_factory.py",
        "test_faults.py",
        "test_feeds.py",
        "test_finder.py",
        "test_glossary.py",
        "test_history.py",
        "test_import_cli.py",
        "test_import_formats.py",
        "test_import_web.py",
        "test_metrics.py",
        "test_migrations.py",
        "test_models.py",
        "test_openapi.py",
        "test_pages.py",
        "test_procedures.py",
        "test_search.py",
        "test_search_cache.py",
        "test_search_glossary.py",
        "test_search_ranking.py",
        "test_seed.py",
        "test_taxonomy.py",
        "test_tokens.py",
        "test_upkeep.py",
        "test_workflow.py",
        "test_writing.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests of ``POSTGRES_MODULES`` with ``postgres``."""
    for item in items:
        if item.path.name in POSTGRES_MODULES and item.path.parent.name == "tests":
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(autouse=True)
def _clean_databases() -> Iterator[None]:
    """After each test, empty the PostgreSQL schemas it used (SQLite files simply go away)."""
    yield
    databases.end_test()


class _ExitHooks:
    """``atexit`` as ``kb.finder.searchlog`` sees it in the tests: hooks are registered for
    real, and remembered so that those of a test's own apps can be unregistered after it.

    Each app registers a hook that flushes its search log at exit, and the hook holds the
    app: without this, every app the session made (a thousand, each with its routes,
    templates, engine and index) would stay in memory to the end, and every full garbage
    collection would walk them all again.
    """

    def __init__(self) -> None:
        self.hooks: list[Callable[[], Any]] = []

    def register(self, hook: Callable[[], Any]) -> Callable[[], Any]:
        self.hooks.append(hook)
        return atexit.register(hook)

    def unregister(self, hook: Callable[[], Any]) -> None:
        atexit.unregister(hook)


@pytest.fixture(scope="session")
def _exit_hooks() -> Iterator[_ExitHooks]:
    from kb.finder import searchlog

    with pytest.MonkeyPatch.context() as patch:
        hooks = _ExitHooks()
        patch.setattr(searchlog, "atexit", hooks)
        yield hooks


def _forget_apps_made_since(hooks: _ExitHooks, before: int) -> None:
    for hook in hooks.hooks[before:]:
        hooks.unregister(hook)
    del hooks.hooks[before:]


@pytest.fixture(scope="module", autouse=True)
def _forget_apps_after_the_module(_exit_hooks: _ExitHooks) -> Iterator[None]:
    """After each module, unregister the exit hooks of the apps its module-scoped fixtures
    made, so that those apps can be garbage collected (see ``_forget_apps_after_the_test``).
    The session's apps keep theirs."""
    before = len(_exit_hooks.hooks)
    yield
    _forget_apps_made_since(_exit_hooks, before)


@pytest.fixture(autouse=True)
def _forget_apps_after_the_test(_exit_hooks: _ExitHooks) -> Iterator[None]:
    """After each test, unregister the exit hooks of the apps made during it (by the test
    or its function-scoped fixtures), so that those apps can be garbage collected: their
    search logs would only have been flushed at exit into databases no test reads again."""
    before = len(_exit_hooks.hooks)
    yield
    _forget_apps_made_since(_exit_hooks, before)


class _SharedBytecode(BytecodeCache):
    """Jinja's compiled templates, shared by every app of the session.

    Each app has a Jinja environment of its own, so without this every test compiled every
    template it rendered again (a quarter of a second per test). The apps' environments are
    configured alike (``kb.web``), and a bucket is only used while the template's source has
    the checksum it was compiled from, so an app still renders exactly what it would have
    compiled itself.
    """

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self.code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


class _SharedBuilderRule(Rule):
    """A URL rule whose URL-building function is compiled once per session, not per app.

    Werkzeug compiles two small Python functions for every rule it binds (each app binds its
    own ~560 rules), which was two thirds of the time ``create_app`` takes. The functions
    depend only on what the key below holds (the rule, its parsed parts, its defaults and
    converters) and reach the rule they build for through ``self`` when called, so two rules
    alike in all of that can share them and build exactly the same URLs.
    """

    _builders: ClassVar[dict[tuple[Any, ...], Callable[..., tuple[str, str]]]] = {}

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        key = (
            self.rule,
            tuple(self._trace),
            repr(sorted((self.defaults or {}).items())),
            tuple((name, type(self._converters[name])) for name in sorted(self._converters)),
            append_unknown,
        )
        builder = self._builders.get(key)
        if builder is None:
            builder = self._builders[key] = super()._compile_builder(append_unknown)
        return builder


@pytest.fixture(scope="session", autouse=True)
def _shared_compiled_code() -> Iterator[None]:
    """Every app made in the session (by a fixture or a test) shares compiled templates and
    URL builders."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            Flask, "jinja_options", {**Flask.jinja_options, "bytecode_cache": _SharedBytecode()}
        )
        patch.setattr(Flask, "url_rule_class", _SharedBuilderRule)
        yield


@pytest.fixture(scope="session", autouse=True)
def _fewer_full_garbage_collections() -> Iterator[None]:
    """Full garbage collections at most every 100 younger ones instead of every 10.

    Each test makes an app of tens of thousands of objects that live until its end, so the
    default thresholds ran a full collection, which walks every object of the session (a
    second each, late in the run), every few tests: a seventh of the suite's time. Garbage
    is still collected, and finalised, only a little later.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1], 100)
    yield
    gc.set_threshold(*thresholds)


def _test_config(data_dir: Path, **extra: Any) -> dict[str, Any]:
    config = {
        "TESTING": True,
        "DATA_DIR": str(data_dir),
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        # Fast hashing in tests only; the default is scrypt.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        **extra,
    }
    if "SQLALCHEMY_DATABASE_URI" not in config:
        config["SQLALCHEMY_DATABASE_URI"] = databases.database_url(data_dir)
    return config


@pytest.fixture(scope="session")
def seeded_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """An app whose database was made by ``kb init`` and ``kb seed --demo`` (read-only tests)."""
    data_dir = tmp_path_factory.mktemp("seeded")
    database = databases.fresh_database_url(data_dir, session=True)
    app = create_app(_test_config(data_dir, SQLALCHEMY_DATABASE_URI=database))
    runner = app.test_cli_runner()
    for args in (["init"], ["seed", "--demo"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    return app


@pytest.fixture
def client(seeded_app: Flask) -> FlaskClient:
    """A client of the seeded app."""
    return seeded_app.test_client()


@pytest.fixture
def htmx(seeded_app: Flask) -> FlaskClient:
    """A client of the seeded app that sends the headers of an htmx swap request."""
    test_client = seeded_app.test_client()
    test_client.environ_base["HTTP_HX_REQUEST"] = "true"
    return test_client


@pytest.fixture(scope="session")
def _empty_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """SQLite: a database file holding what ``db.create_all`` and ``install_taxonomy`` make,
    built once and copied for each fresh app (PostgreSQL: ``None``, its pooled schemas
    already hold the same)."""
    if databases.is_postgres():
        return None
    data_dir = tmp_path_factory.mktemp("empty")
    app = create_app(_test_config(data_dir, SEARCH_INDEX_IN_MEMORY=True))
    with app.app_context():
        db.create_all()
        install_taxonomy(db.session)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    database = data_dir / "kb.sqlite"
    assert [path.name for path in data_dir.iterdir()] == ["kb.sqlite"]  # no -wal, -shm left
    return database


def _empty_app(empty_sqlite: Path | None, data_dir: Path, **extra: Any) -> Flask:
    """A fresh app with the tables and the fixed taxonomy (a copy of ``_empty_sqlite``)."""
    if empty_sqlite is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(empty_sqlite, data_dir / "kb.sqlite")
    app = create_app(_test_config(data_dir, **extra))
    if empty_sqlite is None:
        with app.app_context():
            db.create_all()
            install_taxonomy(db.session)
            db.session.commit()
    return app


@pytest.fixture
def app(_empty_sqlite: Path | None, tmp_path: Path) -> Iterator[Flask]:
    """A fresh app with an empty database (tables and taxonomy only) and an in-memory index."""
    app = _empty_app(_empty_sqlite, tmp_path, SEARCH_INDEX_IN_MEMORY=True)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A CLI runner for the fresh app."""
    return app.test_cli_runner()


@pytest.fixture
def make_entry(app: Flask) -> Callable[..., Entry]:
    """Create (and commit) an entry in the fresh app; keyword arguments override the record."""

    def make(**overrides: Any) -> Entry:
        record = {
            "kind": "lesson",
            "title": "Start the security review early",
            "body": "Invite the information security office to the kickoff.",
            "categories": ["security-reviews"],
            "status": "published",
            **overrides,
        }
        author_id = record.pop("author_id", None)
        with app.app_context():
            clean = validate_record(record, taxonomy_lookups(db.session))
            author = db.session.get(User, author_id) if author_id else system_user(db.session)
            entry = create_entry(db.session, clean, author=author)
            db.session.commit()
            db.session.refresh(entry)
            db.session.expunge(entry)
            return entry

    return make


PASSWORD = "correct horse battery"


@pytest.fixture
def users(app: Flask) -> dict[str, int]:
    """Accounts in the fresh app: two contributors, a curator and an admin (name → id)."""
    from kb.auth.services import create_user

    with app.app_context():
        made = {
            name: create_user(db.session, name, role=role, password=PASSWORD).id
            for name, role in (
                ("cora", "contributor"),
                ("cal", "contributor"),
                ("cu", "curator"),
                ("ad", "admin"),
            )
        }
        db.session.commit()
    return made


@pytest.fixture
def login(app: Flask) -> Callable[[str | None], FlaskClient]:
    """A client signed in as the named user (``None``: anonymous)."""

    def sign_in(name: str | None) -> FlaskClient:
        client = app.test_client()
        if name:
            response = client.post("/login", data={"username": name, "password": PASSWORD})
            assert response.status_code == 303, response.get_data(as_text=True)
        return client

    return sign_in


@pytest.fixture
def csrf_app(_empty_sqlite: Path | None, tmp_path: Path) -> Iterator[Flask]:
    """A fresh app with CSRF protection on (as in production) and one contributor, ``cora``
    (password ``correct horse``)."""
    from kb.auth.services import create_user

    app = _empty_app(
        _empty_sqlite, tmp_path / "csrf", WTF_CSRF_ENABLED=True, SEARCH_INDEX_IN_MEMORY=True
    )
    with app.app_context():
        create_user(db.session, "cora", role="contributor", password="correct horse")
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()
