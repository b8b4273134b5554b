"""Backups of a SQLite knowledge base: one ``.tar.gz`` with the database, attachments, manifest.

An archive holds ``manifest.json`` (first), ``kb.sqlite`` (a consistent copy made with SQLite's
online backup API while writes go on) and ``attachments/<stored name>``. Restoring checks all
of it in a staging folder before anything current is touched. PostgreSQL is backed up with
``pg_dump`` instead (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import gzip
import importlib.metadata
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any
from typing import BinaryIO

from sqlalchemy.engine import URL

from kb.config import PROJECT_ROOT

FORMAT = "kb-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "kb.sqlite"
ATTACHMENTS = "attachments"
SUFFIX = ".tar.gz"
MIGRATIONS = PROJECT_ROOT / "kb" / "migrations"
CHUNK = 1024 * 1024
#: Rows counted into the manifest (when the table exists in that schema revision).
COUNTED = ("entries", "revisions", "users", "bucps", "bucp_attachments", "procedures")

Progress = Callable[[int], None]


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message is one line for people."""


@dataclass
class Snapshot:
    """A consistent copy of the database in a work folder, with its manifest."""

    path: Path
    manifest: dict[str, Any]


@dataclass
class BackupReport:
    """What ``write_archive`` wrote."""

    path: Path
    size: int
    entries: int
    attachments: int
    revision: str | None
    #: Attachment files the database names but the attachments folder does not hold.
    missing: list[str]


@dataclass
class StagedBackup:
    """An archive unpacked and checked in a staging folder, ready to replace the current data."""

    source: Path
    folder: Path
    manifest: dict[str, Any]
    #: The schema revision in the archive, and the one the copy will have after migrating.
    revision: str
    head: str
    entries: int
    attachments: int

    @property
    def database(self) -> Path:
        """The unpacked database."""
        return self.folder / DATABASE

    @property
    def attachments_folder(self) -> Path:
        """The unpacked attachments."""
        return self.folder / ATTACHMENTS

    @property
    def needs_upgrade(self) -> bool:
        """Whether the archive's schema is older than this version of kb's."""
        return self.revision != self.head


def app_version() -> str:
    """This installation's version of kb (``unknown`` when not installed)."""
    try:
        return importlib.metadata.version("kb")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def sqlite_database_path(url: URL, command: str) -> Path:
    """The SQLite file behind ``url``; ``BackupError`` for PostgreSQL or an in-memory database."""
    if url.get_backend_name() != "sqlite":
        if command == "backup":
            advice = "back it up with pg_dump and copy the attachments folder"
        else:
            advice = "restore it with pg_restore, put back the attachments folder, then run "
            advice += "`kb index rebuild`"
        raise BackupError(
            f"kb {command} works on SQLite databases only; this one is "
            f"{url.get_backend_name()}: {advice} (see docs/operations.md)"
        )
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError(f"kb {command} needs a SQLite database file, not {url.database!r}")
    return Path(url.database).expanduser().resolve()


def default_path(data_dir: Path, now: datetime | None = None) -> Path:
    """``<data dir>/backups/kb-<UTC timestamp>.tar.gz``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return data_dir / "backups" / f"kb-{stamp}{SUFFIX}"


def check_target(out: Path) -> Path:
    """Refuse an existing file or a missing folder before any work is done."""
    out = out.expanduser().absolute()
    if out.exists() or out.is_symlink():
        raise BackupError(f"{out} already exists; kb backup never overwrites a file")
    if not out.parent.is_dir():
        raise BackupError(f"the folder {out.parent} does not exist")
    return out


@contextlib.contextmanager
def work_folder(parent: Path) -> Iterator[Path]:
    """A private temporary folder inside ``parent`` (same disk, so files move by renaming)."""
    parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = Path(tempfile.mkdtemp(prefix=".kb-work-", dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- backup ----------------------------------------------------------------------------------


def snapshot_database(database: Path, folder: Path) -> Snapshot:
    """Copy the live database into ``folder`` with the online backup API and check the copy.

    One backup step copies every page inside a single read transaction: in WAL mode writers
    carry on meanwhile, and the copy is the database as of one commit.
    """
    if not database.is_file():
        raise BackupError(f"there is no database at {database}; run `kb init` first")
    copy = folder / DATABASE
    try:
        with (
            closing(sqlite3.connect(database, timeout=30)) as source,
            closing(sqlite3.connect(copy)) as target,
        ):
            source.backup(target, pages=-1)
            # A self-contained file: no -wal beside it, whatever the live database uses.
            target.execute("PRAGMA journal_mode = DELETE").fetchone()
            problem = _integrity_problem(target)
            if problem:
                raise BackupError(f"the database copy failed its integrity check: {problem}")
            manifest = _manifest(target)
    except sqlite3.Error as exc:
        raise BackupError(f"could not copy the database {database}: {exc}") from None
    manifest["database_bytes"] = copy.stat().st_size
    return Snapshot(path=copy, manifest=manifest)


def _integrity_problem(connection: sqlite3.Connection) -> str | None:
    rows = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    return None if rows == ["ok"] else "; ".join(str(row) for row in rows[:3])


def _tables(connection: sqlite3.Connection) -> set[str]:
    return {
        row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
    }


def _revision(connection: sqlite3.Connection) -> str | None:
    if "alembic_version" not in _tables(connection):
        return None
    row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def _counts(connection: sqlite3.Connection) -> dict[str, int]:
    tables = _tables(connection)
    return {
        # The names come from COUNTED, never from input.
        name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
        for name in COUNTED
        if name in tables
    }


def _manifest(connection: sqlite3.Connection) -> dict[str, Any]:
    counts = _counts(connection)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "app_version": app_version(),
        "alembic_revision": _revision(connection),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "entries": counts.get("entries", 0),
        "counts": counts,
    }


def attachment_files(data_dir: Path) -> list[Path]:
    """The files in ``<data dir>/attachments`` (regular files only, by name)."""
    folder = data_dir / ATTACHMENTS
    if not folder.is_dir():
        return []
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and not p.is_symlink()), key=lambda p: p.name
    )


def _referenced_attachments(database: Path) -> set[str]:
    with closing(sqlite3.connect(database)) as connection:
        if "bucp_attachments" not in _tables(connection):
            return set()
        return {row[0] for row in connection.execute("SELECT stored_name FROM bucp_attachments")}


def write_archive(
    out: Path, snapshot: Snapshot, files: list[Path], progress: Progress | None = None
) -> BackupReport:
    """Write the archive to a temporary file beside ``out``, then link it into place.

    List ``files`` *after* taking the snapshot: an attachment is written before the row naming
    it is committed, so every attachment the snapshot names is then on disk.
    """
    manifest = {
        **snapshot.manifest,
        "attachments": len(files),
        "attachments_bytes": sum(path.stat().st_size for path in files),
    }
    missing = sorted(_referenced_attachments(snapshot.path) - {path.name for path in files})
    fd, partial_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    partial = Path(partial_name)
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as packed,
            tarfile.open(fileobj=packed, mode="w|", format=tarfile.PAX_FORMAT) as tar,
        ):
            data = json.dumps(manifest, indent=2).encode("utf-8") + b"\n"
            _add_bytes(tar, MANIFEST, data)
            _add_file(tar, snapshot.path, DATABASE, progress)
            for path in files:
                _add_file(tar, path, f"{ATTACHMENTS}/{path.name}", progress)
        _link_into_place(partial, out)
    except OSError as exc:
        raise BackupError(f"could not write {out}: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return BackupReport(
        path=out,
        size=out.stat().st_size,
        entries=manifest["entries"],
        attachments=len(files),
        revision=manifest["alembic_revision"],
        missing=missing,
    )


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, _BytesReader(data))


class _BytesReader:
    """A minimal readable object over bytes (what ``TarFile.addfile`` needs)."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = len(self._data)
        chunk, self._data = self._data[:size], self._data[size:]
        return bytes(chunk)


def _add_file(tar: tarfile.TarFile, path: Path, name: str, progress: Progress | None) -> None:
    with path.open("rb") as handle:
        info = tar.gettarinfo(arcname=name, fileobj=handle)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mode = 0o600
        tar.addfile(info, _Counting(handle, progress))


class _Counting:
    """A reader that reports how many bytes went through."""

    def __init__(self, handle: BinaryIO, progress: Progress | None) -> None:
        self._handle = handle
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        if self._progress and data:
            self._progress(len(data))
        return data


def _link_into_place(partial: Path, out: Path) -> None:
    """Give the finished file its name, refusing (atomically) to replace one that appeared."""
    try:
        os.link(partial, out)
    except FileExistsError:
        raise BackupError(f"{out} already exists; kb backup never overwrites a file") from None
    except OSError:  # a file system without hard links
        if out.exists():
            raise BackupError(f"{out} already exists; kb backup never overwrites a file") from None
        os.replace(partial, out)


# --- restore ---------------------------------------------------------------------------------


def unpack(path: Path, folder: Path) -> StagedBackup:
    """Unpack the archive at ``path`` into ``folder`` and check it; nothing current is touched.

    Checks: a gzip-compressed tar with only the expected members, intact to its last byte; a
    manifest of this format; a database that passes ``PRAGMA integrity_check``, whose schema
    revision this version of kb knows, holding as many entries as the manifest says.
    """
    if not path.is_file():
        raise BackupError(f"there is no backup file at {path}")
    (folder / ATTACHMENTS).mkdir()
    _extract(path, folder)
    manifest = _read_manifest(path, folder)
    if not (folder / DATABASE).is_file():
        raise BackupError(f"{path} holds no database ({DATABASE}); it is not a kb backup")
    revision, entries = _check_database(path, folder / DATABASE)
    known, head = _known_revisions()
    if revision not in known:
        raise BackupError(
            f"the database in {path} has schema revision {revision}, which this version of kb "
            f"does not know (newest: {head}); restore it with the kb version that made it"
        )
    if entries != manifest.get("entries"):
        raise BackupError(
            f"{path} is inconsistent: its manifest lists {manifest.get('entries')} entries but "
            f"its database holds {entries}"
        )
    attachments = sum(1 for _ in (folder / ATTACHMENTS).iterdir())
    if attachments != manifest.get("attachments"):
        raise BackupError(
            f"{path} is incomplete: its manifest lists {manifest.get('attachments')} "
            f"attachments but it holds {attachments}"
        )
    return StagedBackup(
        source=path,
        folder=folder,
        manifest=manifest,
        revision=revision,
        head=head,
        entries=entries,
        attachments=attachments,
    )


def _extract(path: Path, folder: Path) -> None:
    """Stream the members out one by one (never ``extractall``: names are checked first)."""
    seen = [0]
    try:
        with gzip.open(path, "rb") as packed, tarfile.open(fileobj=packed, mode="r|") as tar:
            _extract_members(path, tar, folder, seen)
            # Read to the very end, so gzip checks its length and CRC trailer.
            while packed.read(CHUNK):
                pass
    except EOFError:
        raise BackupError(f"{path} is truncated: the archive ends early") from None
    except (tarfile.TarError, gzip.BadGzipFile, zlib.error) as exc:
        if not seen[0]:
            raise BackupError(
                f"{path} is not a kb backup (expected a .tar.gz made by kb backup)"
            ) from None
        raise BackupError(f"{path} is damaged: {exc}") from None
    except FileExistsError:
        raise BackupError(f"{path} holds a file twice; it is not a kb backup") from None
    except OSError as exc:
        raise BackupError(f"could not unpack {path}: {exc}") from None
    if not seen[0]:
        raise BackupError(f"{path} is not a kb backup: the archive is empty")


def _extract_members(path: Path, tar: tarfile.TarFile, folder: Path, seen: list[int]) -> None:
    for member in tar:
        target = _member_target(path, member, folder)
        seen[0] += 1
        if target is None:
            continue
        source = tar.extractfile(member)
        if source is None:  # pragma: no cover - regular files always have data
            raise BackupError(f"{path}: cannot read {member.name}")
        with source, target.open("xb") as out:
            shutil.copyfileobj(source, out, CHUNK)


def _member_target(path: Path, member: tarfile.TarInfo, folder: Path) -> Path | None:
    """Where a member goes in the staging folder (``None``: skip it); refuses anything else."""
    name = member.name.removeprefix("./")
    if name in (MANIFEST, DATABASE) and member.isfile():
        return folder / name
    if name.rstrip("/") == ATTACHMENTS and member.isdir():
        return None
    directory, _, base = name.partition("/")
    if (
        directory == ATTACHMENTS
        and member.isfile()
        and base
        and "/" not in base
        and "\\" not in base
        and base not in (".", "..")
        and not base.startswith(".")
    ):
        return folder / ATTACHMENTS / base
    raise BackupError(f"{path} holds an unexpected member {member.name!r}; it is not a kb backup")


def _read_manifest(path: Path, folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{path} has no {MANIFEST}; it is not a kb backup") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BackupError(f"{path} has an unreadable {MANIFEST}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} has a {MANIFEST} of another kind; it is not a kb backup")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BackupError(
            f"{path} is a kb backup of format {version!r}, newer than this version of kb reads "
            f"({FORMAT_VERSION})"
        )
    return manifest


def _check_database(path: Path, database: Path) -> tuple[str, int]:
    """``(schema revision, entry count)`` of an unpacked database that passes its checks."""
    try:
        with closing(sqlite3.connect(database)) as connection:
            problem = _integrity_problem(connection)
            if problem:
                raise BackupError(f"the database in {path} is damaged: {problem}")
            revision = _revision(connection)
            if revision is None:
                raise BackupError(
                    f"the database in {path} has no schema revision; it was not made by kb init"
                )
            entries = connection.execute("SELECT count(*) FROM entries").fetchone()[0]
    except sqlite3.Error as exc:
        raise BackupError(f"the database in {path} is damaged: {exc}") from None
    return revision, entries


def _known_revisions() -> tuple[set[str], str]:
    """Every migration revision this version of kb has, and the newest."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    return {rev.revision for rev in script.walk_revisions()}, script.get_current_head() or ""


def upgrade_copy(staged: StagedBackup) -> None:
    """Run the migrations on the unpacked database (before it replaces anything)."""
    from flask_migrate import upgrade

    from kb import create_app
    from kb.extensions import db

    app = create_app(
        {
            "DATA_DIR": str(staged.folder / "app"),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{staged.database}",
            "SECRET_KEY": "kb-restore",
            "SEARCH_INDEX_IN_MEMORY": True,
        }
    )
    try:
        with app.app_context():
            try:
                upgrade(directory=str(MIGRATIONS))
            finally:
                db.session.remove()
                db.engine.dispose()
    except Exception as exc:  # the current data is untouched; say why in one line
        raise BackupError(
            f"could not upgrade the backup's schema from {staged.revision} to {staged.head}: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    with closing(sqlite3.connect(staged.database)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        connection.execute("PRAGMA journal_mode = DELETE").fetchone()
        staged.entries = connection.execute("SELECT count(*) FROM entries").fetchone()[0]
        revision = _revision(connection)
    if revision != staged.head:
        raise BackupError(f"the upgraded copy is at schema {revision}, not {staged.head}")


def replace_current(staged: StagedBackup, database: Path, data_dir: Path) -> None:
    """Put the staged database and attachments in place of the current ones.

    Close every connection of this process first (``engine.dispose()``) and stop the other
    processes using the database. The old database's write-ahead log is checkpointed and
    emptied first (refused when another connection is still reading or writing), so it cannot
    be replayed into the new file; the new file is renamed into place (atomic), and the old
    ``-wal``/``-shm`` files are removed.
    """
    _quiesce(database)
    current = data_dir / ATTACHMENTS
    previous = staged.folder / "attachments-before-restore"
    had_attachments = current.exists()
    if had_attachments:
        os.replace(current, previous)
    os.replace(staged.attachments_folder, current)
    try:
        _replace_database(staged.database, database)
    except BaseException:
        shutil.rmtree(current, ignore_errors=True)
        if had_attachments:
            os.replace(previous, current)
        raise


def _quiesce(database: Path) -> None:
    """Fold the current database's write-ahead log into it and empty the log."""
    if not database.exists():
        return
    try:
        with closing(sqlite3.connect(database, timeout=5)) as old:
            busy = old.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    except sqlite3.Error as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            busy = 1
        else:  # a damaged current database is replaced all the same
            return
    if busy:
        raise BackupError(
            f"the database {database} is in use by another process; stop the app servers "
            "(and any kb command) and run kb restore again"
        )


def _replace_database(new: Path, database: Path) -> None:
    database.parent.mkdir(parents=True, exist_ok=True)
    incoming = database.with_name(f".{database.name}.restoring")
    try:
        shutil.move(new, incoming)
        if database.exists():
            shutil.copymode(database, incoming)
        os.replace(incoming, database)
    finally:
        incoming.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
