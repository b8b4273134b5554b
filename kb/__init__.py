"""BUCP Knowledge Base: the application factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from kb.config import PROJECT_ROOT
from kb.config import data_dir_for
from kb.config import load_config


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: configuration, extensions, blueprints, CLI, errors, search."""
    from kb import admin
    from kb import api
    from kb import auth
    from kb import browse
    from kb import bucps
    from kb import cli
    from kb import entries
    from kb import errors
    from kb import feeds
    from kb import finder
    from kb import glossary
    from kb import imports
    from kb import metrics
    from kb import notifications
    from kb import procedures
    from kb import search
    from kb import taxonomy
    from kb import web
    from kb.extensions import csrf
    from kb.extensions import db
    from kb.extensions import migrate
    from kb.finder import searchlog

    app = Flask(
        __name__,
        instance_path=str(data_dir_for(config)),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    load_config(app, config)
    db.init_app(app)
    csrf.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "kb" / "migrations"))
    web.init_app(app)
    auth.init_app(app)
    blueprints = (
        browse,
        entries,
        bucps,
        procedures,
        finder,
        glossary,
        metrics,
        auth,
        notifications,
        admin,
        taxonomy,
        imports,
        feeds,
        api,
    )
    for blueprint in (package.bp for package in blueprints):
        app.register_blueprint(blueprint)
    csrf.exempt(api.bp)
    errors.init_app(app)
    cli.init_app(app)
    search.init_app(app)
    searchlog.init_app(app)
    return app
