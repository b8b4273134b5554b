"""The ``kb`` command line (also ``python -m kb`` and ``flask --app kb``)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import click
from flask import Flask
from flask import current_app
from flask.cli import FlaskGroup
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import func
from sqlalchemy import select

from kb import backup
from kb import search
from kb.auth import services as accounts
from kb.auth import tokens as api_tokens
from kb.entries.validation import taxonomy_lookups
from kb.extensions import db
from kb.imports.exports import EXPORT_FORMATS
from kb.imports.exports import write_export
from kb.imports.formats import FORMATS
from kb.imports.formats import format_for
from kb.imports.formats import read_records
from kb.imports.services import ImportFailed
from kb.imports.services import ImportReport
from kb.imports.services import import_records
from kb.models import ROLES
from kb.models import Entry
from kb.models import User
from kb.seed import SeedReport
from kb.seed import install_taxonomy
from kb.seed import seed_content
from kb.seed import system_user
from kb.web import external_url


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
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="json, jsonl, csv or md (default: from the file's extension).",
)
@click.option("--dry-run", is_flag=True, help="Validate, report, flag duplicates; write nothing.")
@click.option("--force", is_flag=True, help="Overwrite entries whose stored revision is newer.")
@with_appcontext
def import_command(file: str, fmt: str | None, dry_run: bool, force: bool) -> None:
    """Import entry records from FILE, all or nothing (JSON, JSON Lines, CSV, Markdown tables)."""
    fmt = fmt or (None if file == "-" else format_for(file))
    if fmt is None:
        raise click.ClickException(
            f"cannot tell the format of {file} from its extension; use --format json, jsonl, "
            "csv or md"
        )
    data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    records, problems = read_records(data, fmt, lookups=taxonomy_lookups(db.session))
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
        click.echo(_import_summary(exc.report, failed=True), err=True)
        raise click.ClickException(str(exc)) from None
    for duplicate in report.duplicates:
        click.echo(str(duplicate))
    if dry_run:
        db.session.rollback()
        click.echo(_import_summary(report))
        return
    db.session.commit()
    click.echo(_import_summary(report))
    _catch_up_index()


def _import_summary(report: ImportReport, failed: bool = False) -> str:
    if failed:
        counts = ", ".join(f"{number} {name}" for name, number in report.counts().items())
        return f"Checked: {counts}."
    rest = f"Unchanged: {report.unchanged}, refused: {report.refused}"
    if report.dry_run:
        return (
            f"Dry run: {report.created} to create, {report.updated} to update; nothing written. "
            f"{rest}, likely duplicates: {len(report.duplicates)}."
        )
    return f"Imported: {report.created} created, {report.updated} updated. {rest}."


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    default="jsonl",
    show_default=True,
    help="md is a readable document, not an import format.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write to this file (default: standard output).",
)
@with_appcontext
def export_command(fmt: str, out: Path | None) -> None:
    """Export every entry (all statuses) as import records, or as a readable document (md)."""
    url_for_entry = None
    context = contextlib.nullcontext()
    if current_app.config.get("BASE_URL"):
        # Entry URLs need a request context; KB_BASE_URL makes them absolute and correct.
        context = current_app.test_request_context("/")  # type: ignore[assignment]

        def url_for_entry(entry: Entry) -> str:
            return external_url("entries.detail", entry_id=entry.id)

    total = db.session.scalar(select(func.count(Entry.id))) or 0
    bar = click.progressbar(length=total, label="Exporting", file=sys.stderr)
    with context, _export_target(out) as stream, bar:
        count = write_export(
            db.session, fmt, stream, url_for_entry=url_for_entry, progress=bar.update
        )
    where = f" to {out}" if out else ""
    click.echo(f"Exported {count} entries ({fmt}){where}.", err=True)


@contextlib.contextmanager
def _export_target(out: Path | None) -> Iterator[TextIO]:
    """UTF-8 text to ``out`` (written to a temporary file, then moved into place) or stdout."""
    if out is None:
        binary = getattr(sys.stdout, "buffer", None)
        if binary is None:  # pragma: no cover - a text-only stdout (embedded use)
            yield sys.stdout
            return
        sys.stdout.flush()
        stream = io.TextIOWrapper(binary, "utf-8", newline="")
        try:
            yield stream
        finally:
            stream.flush()
            stream.detach()
        return
    partial = out.with_name(f".{out.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


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


@click.group("tokens")
def tokens_group() -> None:
    """Manage API tokens (Authorization: Bearer)."""


@tokens_group.command("create")
@click.argument("user")
@click.option("--name", default="", help="What the token is for (shown on lists).")
@with_appcontext
def tokens_create(user: str, name: str) -> None:
    """Create a token for USER; prints it once (only a hash is kept)."""
    owner = _user(user)
    try:
        made = api_tokens.create_token(db.session, owner, name=name, actor=system_user(db.session))
    except api_tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(
        f"Created API token {made.token.id} ({made.token.name}) for {owner.username}:", err=True
    )
    click.echo(made.secret)
    click.echo("Store it now, e.g. in a password manager: it cannot be shown again.", err=True)


@tokens_group.command("list")
@click.argument("user", required=False)
@with_appcontext
def tokens_list(user: str | None) -> None:
    """List tokens (of USER, or everyone's): id, user, name, prefix, created, last used, state."""
    found = api_tokens.list_tokens(db.session, _user(user) if user else None)
    if not found:
        click.echo("No API tokens. Create one with: kb tokens create USER --name NAME")
    for token in found:
        used = token.last_used_at.isoformat(timespec="minutes") if token.last_used_at else "never"
        state = "revoked" if token.revoked_at else "active"
        created = token.created_at.isoformat(timespec="minutes")
        row = (str(token.id), token.user.username, token.name, token.prefix, created, used, state)
        click.echo("\t".join(row))


@tokens_group.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
@with_appcontext
def tokens_revoke(token_id: int) -> None:
    """Revoke the token with this ID (see kb tokens list); it stops working at once."""
    token = api_tokens.get_token(db.session, token_id)
    if token is None:
        raise click.ClickException(f"there is no API token with id {token_id}")
    try:
        api_tokens.revoke_token(db.session, token, actor=system_user(db.session))
    except api_tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Revoked API token {token.id} ({token.prefix}…) of {token.user.username}.")


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
    if state.get("ahead"):
        click.echo(
            f"The search index is {state['ahead']} change(s) ahead of the database (restored "
            "from a backup?). Run `kb index rebuild`."
        )
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


@click.command("backup")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the archive here (default: <data dir>/backups/kb-<UTC time>.tar.gz).",
)
@with_appcontext
def backup_command(out: Path | None) -> None:
    """Back up the SQLite database (online) and the attachments into one .tar.gz."""
    data_dir = Path(current_app.config["DATA_DIR"])
    try:
        database = backup.sqlite_database_path(db.engine.url, "backup")
        if out is None:
            out = backup.default_path(data_dir)
            out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        out = backup.check_target(out)
        with backup.work_folder(out.parent) as work:
            click.echo(f"Copying the database {database} (SQLite backup API)…", err=True)
            snapshot = backup.snapshot_database(database, work)
            files = backup.attachment_files(data_dir)
            total = snapshot.path.stat().st_size + sum(f.stat().st_size for f in files)
            bar = click.progressbar(length=total, label="Writing the archive", file=sys.stderr)
            with bar:
                report = backup.write_archive(out, snapshot, files, progress=bar.update)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    if report.missing:
        click.echo(
            f"Warning: {len(report.missing)} attachment(s) named in the database are missing "
            f"from {data_dir / backup.ATTACHMENTS}: {', '.join(report.missing[:5])}",
            err=True,
        )
    click.echo(
        f"Backed up {report.entries} entries and {report.attachments} attachment(s) "
        f"(schema {report.revision}) to {report.path} ({report.size:,} bytes)."
    )


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the current data.")
@with_appcontext
def restore_command(path: Path, yes: bool) -> None:
    """Replace the database and attachments with a kb backup, then rebuild the search index."""
    data_dir = Path(current_app.config["DATA_DIR"])
    try:
        database = backup.sqlite_database_path(db.engine.url, "restore")
        with backup.work_folder(data_dir) as work:
            click.echo(f"Checking {path}…", err=True)
            staged = backup.unpack(path.expanduser().absolute(), work)
            manifest = staged.manifest
            click.echo(
                f"Backup made {manifest.get('created_at')} by kb {manifest.get('app_version')}: "
                f"{staged.entries} entries, {staged.attachments} attachment(s), "
                f"schema {staged.revision}."
            )
            if staged.needs_upgrade:
                click.echo(f"Upgrading the copy's schema to {staged.head}…", err=True)
                backup.upgrade_copy(staged)
            if not yes:
                click.confirm(
                    f"Replace the database {database} and the attachments in {data_dir} "
                    "with this backup?",
                    abort=True,
                )
            db.session.remove()
            db.engine.dispose()
            backup.replace_current(staged, database, data_dir)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"restore failed: {exc}") from None
    with click.progressbar(length=search.entry_count(), label="Indexing", file=sys.stderr) as bar:
        count = search.rebuild(current_app, progress=bar.update)
    migrated = f", upgraded from schema {staged.revision}" if staged.needs_upgrade else ""
    click.echo(
        f"Restored {staged.entries} entries and {staged.attachments} attachment(s) from "
        f"{path}{migrated}; search index rebuilt ({count} entries)."
    )


COMMANDS = (
    init_command,
    seed_command,
    serve_command,
    import_command,
    export_command,
    users_group,
    tokens_group,
    index_group,
    backup_command,
    restore_command,
)


def init_app(app: Flask) -> None:
    """Register the commands on the app (so ``flask --app kb`` has them too)."""
    for command in COMMANDS:
        app.cli.add_command(command)


def main() -> None:
    """The ``kb`` console script."""
    from kb import create_app
    from kb.errors import cli_errors

    with cli_errors():
        FlaskGroup(create_app=create_app, help="The BUCP Knowledge Base command line.")(
            prog_name="kb"
        )
