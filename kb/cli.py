"""The ``kb`` command line (also ``python -m kb`` and ``flask --app kb``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask import current_app
from flask.cli import FlaskGroup
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import select

from kb import search
from kb.auth import services as accounts
from kb.extensions import db
from kb.imports.services import FORMATS
from kb.imports.services import ImportFailed
from kb.imports.services import import_records
from kb.imports.services import read_jsonl
from kb.models import ROLES
from kb.models import User
from kb.seed import SeedReport
from kb.seed import install_taxonomy
from kb.seed import seed_content
from kb.seed import system_user


def _describe(report: SeedReport) -> str:
    added = ", ".join(f"{count} {kind}" for kind, count in report.added.items() if count)
    present = ", ".join(f"{count} {kind}" for kind, count in report.present.items() if count)
    if not report.changed:
        return f"Nothing to add: already present ({present or 'nothing'})."
    return f"Added {added}." + (f" Already present: {present}." if present else "")


def _catch_up_index() -> None:
    applied = search.catch_up(current_app, wait=30)
    state = search.status(current_app)
    click.echo(f"Search index: {state.get('documents', 0)} documents, {applied} changes applied.")


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the database, install the fixed taxonomy, create the index."""
    Path(current_app.instance_path).mkdir(parents=True, exist_ok=True)
    upgrade(directory=current_app.extensions["migrate"].directory)
    report = install_taxonomy(db.session)
    db.session.commit()
    click.echo(f"Database ready. Taxonomy: {_describe(report)}")
    _catch_up_index()


@click.command("seed")
@click.option("--demo", is_flag=True, help="Also add the fictional department's demo content.")
@with_appcontext
def seed_command(demo: bool) -> None:
    """Add the guidebook's lessons (and with --demo the demo content); never modifies items."""
    report = seed_content(db.session, demo=demo)
    db.session.commit()
    click.echo(_describe(report))
    _catch_up_index()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@with_appcontext
def serve_command(host: str, port: int, threads: int) -> None:
    """Serve the application with waitress (production-ready, single process)."""
    from waitress import serve

    _catch_up_index()
    click.echo(f"Serving the BUCP Knowledge Base on http://{host}:{port}/ (Ctrl+C to stop)")
    serve(current_app._get_current_object(), host=host, port=port, threads=threads)


@click.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Record format (default: from the file's extension).",
)
@click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
@click.option("--force", is_flag=True, help="Overwrite entries whose stored revision is newer.")
@with_appcontext
def import_command(file: click.utils.LazyFile, fmt: str | None, dry_run: bool, force: bool) -> None:
    """Import entry records, all or nothing (JSON Lines)."""
    fmt = fmt or Path(file.name).suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise click.ClickException(f"cannot tell the format of {file.name}; use --format jsonl")
    records, problems = read_jsonl(file)
    editor = system_user(db.session)
    try:
        with click.progressbar(length=len(records), label="Importing", file=sys.stderr) as bar:
            report = import_records(
                db.session,
                records,
                editor=editor,
                force=force,
                dry_run=dry_run,
                problems=problems,
                progress=bar.update,
            )
    except ImportFailed as exc:
        db.session.rollback()
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(str(exc)) from None
    if dry_run:
        db.session.rollback()
        click.echo(
            f"Dry run: {report.created} to create, {report.updated} to update; nothing written."
        )
        return
    db.session.commit()
    click.echo(f"Imported: {report.created} created, {report.updated} updated.")
    _catch_up_index()


@click.group("users")
def users_group() -> None:
    """Manage user accounts."""


@users_group.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="contributor", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--display-name", default="", help="The name shown on pages.")
@with_appcontext
def users_create(name: str, role: str, password: str, display_name: str) -> None:
    """Create a local account."""
    try:
        accounts.create_user(
            db.session, name, role=role, password=password, display_name=display_name
        )
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Created {role} {name}.")


@users_group.command("list")
@with_appcontext
def users_list() -> None:
    """List accounts: name, role, whether active, display name."""
    users = db.session.scalars(
        select(User).where(User.is_system.is_(False)).order_by(User.username)
    )
    rows = [
        (u.username, u.role, "active" if u.active else "inactive", u.display_name) for u in users
    ]
    if not rows:
        click.echo("No accounts yet. Create one with: kb users create NAME --role admin")
    for row in rows:
        click.echo("\t".join(row))


def _user(name: str) -> User:
    user = accounts.find_user(db.session, name)
    if user is None or user.is_system:
        raise click.ClickException(f"there is no user named {name!r}")
    return user


@users_group.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@with_appcontext
def users_set_role(name: str, role: str) -> None:
    """Change a user's role."""
    user = _user(name)
    accounts.set_role(db.session, user, role, actor=system_user(db.session))
    db.session.commit()
    click.echo(f"{user.username} is now {role}.")


@users_group.command("deactivate")
@click.argument("name")
@with_appcontext
def users_deactivate(name: str) -> None:
    """Stop a user from signing in; their entries stay."""
    user = _user(name)
    accounts.deactivate(db.session, user, actor=system_user(db.session))
    db.session.commit()
    click.echo(f"{user.username} can no longer sign in.")


@click.group("index")
def index_group() -> None:
    """Inspect and maintain the search index."""


@index_group.command("status")
@with_appcontext
def index_status() -> None:
    """Show how far the index is behind (exit 1 when behind or unusable)."""
    state = search.status(current_app)
    for key, value in state.items():
        click.echo(f"{key}: {value}")
    if "error" in state:
        click.echo(f"The search index is unusable: {state['error']}. Run `kb index rebuild`.")
        sys.exit(1)
    if not state["ok"]:
        click.echo(f"The search index is {state['behind']} change(s) behind. Run `kb index sync`.")
        sys.exit(1)
    click.echo("The search index is up to date.")


@index_group.command("sync")
@with_appcontext
def index_sync() -> None:
    """Apply pending changes to the index."""
    _catch_up_index()


@index_group.command("rebuild")
@with_appcontext
def index_rebuild() -> None:
    """Rebuild the index from the database."""
    with click.progressbar(length=search.entry_count(), label="Indexing", file=sys.stderr) as bar:
        count = search.rebuild(current_app, progress=bar.update)
    click.echo(f"Rebuilt the search index: {count} entries.")


COMMANDS = (init_command, seed_command, serve_command, import_command, users_group, index_group)


def init_app(app: Flask) -> None:
    """Register the commands on the app (so ``flask --app kb`` has them too)."""
    for command in COMMANDS:
        app.cli.add_command(command)


def main() -> None:
    """The ``kb`` console script."""
    from kb import create_app

    FlaskGroup(create_app=create_app, help="The BUCP Knowledge Base command line.")(prog_name="kb")
