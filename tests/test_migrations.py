"""Migrations: the models and the migrations agree, and `kb init` upgrades without data loss."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import func
from sqlalchemy import select

from kb import create_app
from kb.extensions import db
from kb.models import Entry
from tests.databases import fresh_database_url


def _config(tmp_path, **extra):
    database = fresh_database_url(tmp_path)
    return {
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": "x",
        "SQLALCHEMY_DATABASE_URI": database,
        **extra,
    }


def test_models_match_migrations(tmp_path):
    app = create_app(_config(tmp_path, SEARCH_INDEX_IN_MEMORY=True))
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
        assert differences == []


def test_init_twice_keeps_data(tmp_path):
    app = create_app(_config(tmp_path))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init"]).exit_code == 0
    assert runner.invoke(args=["seed"]).exit_code == 0
    result = runner.invoke(args=["init"])
    assert result.exit_code == 0, result.output
    assert "Nothing to add" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Entry.id))) == 29
