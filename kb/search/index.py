"""Opening, creating, rebuilding and catching up the Whoosh index (file or in memory)."""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload
from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.filestore import RamStorage
from whoosh.index import Index
from whoosh.index import LockError
from whoosh.query import Term
from whoosh.writing import IndexWriter

from kb.models import Entry
from kb.models import IndexCounter
from kb.models import IndexEvent
from kb.search.cache import ResultCache
from kb.search.facets import DocSets
from kb.search.facets import FacetTable
from kb.search.schema import FACET_FIELDS
from kb.search.schema import META_KEY
from kb.search.schema import SCHEMA_VERSION
from kb.search.schema import build_schema
from kb.search.schema import entry_document
from kb.search.schema import entry_key
from kb.search.thesaurus import GlossaryThesaurus

log = logging.getLogger(__name__)

#: How long a web request waits for the writer lock before leaving the work to its holder.
WRITER_WAIT_SECONDS = 0.5
BATCH = 500
#: Memory for a writer's buffer of postings before it spills to disk.
WRITER_MB = 256
#: The buffer of a writer whose whole batch fits in it (see ``writer_mb``).
BULK_WRITER_MB = 2048
#: What an entry's postings count for in the buffer, by Whoosh's reckoning (about 300
#: postings: 50 KB on the bench corpus, plus a margin).
ENTRY_BUFFER_KB = 64


@dataclass
class SearchIndex:
    """The open index of one process: where it lives and the index object."""

    path: Path | None
    index: Index | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Set when the index was (re)created empty and must be filled from the database.
    needs_rebuild: bool = False
    #: ``time.monotonic()`` of the last pruning of old outbox events (never: -inf).
    pruned_at: float = float("-inf")
    #: Synonyms from the synonyms file and the glossary (set by ``init_app``).
    thesaurus: GlossaryThesaurus = field(default_factory=lambda: GlossaryThesaurus([], None))
    #: Facet values per document, rebuilt when the index changes.
    facet_table: FacetTable = field(default_factory=lambda: FacetTable(FACET_FIELDS))
    #: Filter results (visibility, facet values), cached per index state.
    docsets: DocSets = field(default_factory=DocSets)
    #: Recent search results, cached per index state (sized by ``init_app``).
    results: ResultCache = field(default_factory=lambda: ResultCache(0))
    _applied: tuple[int, int] | None = None

    def applied(self, index: Index) -> int:
        """``applied_seq(index)``, re-read only when the index has a new generation.

        Reading it opens a searcher; checking the generation only lists the index's files.
        """
        generation = index.latest_generation()
        with self.lock:
            cached = self._applied
        if cached is not None and cached[0] == generation:
            return cached[1]
        seq = applied_seq(index)
        with self.lock:
            self._applied = (generation, seq)
        return seq

    def open(self) -> Index:
        """Open the index, creating it (empty, flagged for rebuild) when missing or unusable."""
        with self.lock:
            if self.index is None:
                self.index = self._open_or_create()
            return self.index

    def reset(self, reason: str) -> None:
        """Forget the open index (it became unreadable): the next ``open`` recreates it."""
        log.warning("search index at %s is unusable (%s); rebuilding", self.path, reason)
        with self.lock:
            broken, self.index, self._applied = self.index, None, None
        if broken is not None:
            broken.close()

    def readable(self) -> bool:
        """Whether the index on disk can be opened and read now (an in-memory one always can)."""
        if self.path is None:
            return True
        if not self.path.is_dir():
            return False
        index = _open_existing(self.path, quiet=True)
        if index is None:
            return False
        index.close()
        return True

    def _open_or_create(self) -> Index:
        schema = build_schema()
        if self.path is None:
            self.needs_rebuild = True
            return _PrivateRamStorage().create_index(schema)
        self.path.mkdir(parents=True, exist_ok=True)
        if any(self.path.iterdir()):
            index = _open_existing(self.path)
            if index is not None:
                return index
            shutil.rmtree(self.path)
            self.path.mkdir(parents=True)
        else:
            log.info("creating search index at %s", self.path)
        self.needs_rebuild = True
        return whoosh_index.create_in(str(self.path), schema)


class _PrivateRamStorage(RamStorage):
    """In-memory storage whose writers keep their scratch files in a folder of its own.

    Whoosh puts an in-memory index's scratch files in ``<tmp>/MAIN.tmp``, one folder shared
    by every in-memory index on the machine, and a writer that finishes empties it: another
    writer's commit (in this process or another) then fails, and its lock is never released.
    """

    def __init__(self) -> None:
        super().__init__()
        self._scratch = tempfile.mkdtemp(prefix="kb-search-")
        weakref.finalize(self, shutil.rmtree, self._scratch, True)

    def temp_storage(self, name: str | None = None) -> FileStorage:
        folder = tempfile.mkdtemp(prefix=f"{name or 'writer'}-", dir=self._scratch)
        return FileStorage(folder).create()


def _commit(writer: IndexWriter) -> None:
    """Commit ``writer``; if that fails, release its lock so later writers are not stuck."""
    try:
        writer.commit()
    except BaseException:
        lock = getattr(writer, "writelock", None)
        if lock is not None and not getattr(writer, "is_closed", True):
            with contextlib.suppress(Exception):
                lock.release()
        raise


def collect_unclosed_files(failure: BaseException) -> None:
    """Close the files a failed read of a damaged index left open.

    Whoosh opens a file and raises before closing it when the file is garbage; the file would
    otherwise be closed at some later, random moment, with a ``ResourceWarning``.
    """
    frames = failure.__traceback__
    while frames is not None:
        for value in list(frames.tb_frame.f_locals.values()):
            for candidate in (value, getattr(value, "file", None)):
                if isinstance(candidate, io.IOBase) and not candidate.closed:
                    candidate.close()
        frames = frames.tb_next


def _open_existing(path: Path, *, quiet: bool = False) -> Index | None:
    """Open the index at ``path``; ``None`` when it is corrupt or has another schema.

    ``quiet``: only check, without the log lines that announce a rebuild.
    """
    try:
        index = whoosh_index.open_dir(str(path))
        if _stored_meta(index).get("schema_version") == SCHEMA_VERSION:
            return index
        if not quiet:
            log.warning("search index at %s has an old schema; rebuilding", path)
        index.close()
    except Exception as exc:  # a corrupt index is rebuilt, never fatal
        if not quiet:
            log.warning("search index at %s is unusable (%s); rebuilding", path, str(exc))
        collect_unclosed_files(exc)
    return None


def _stored_meta(index: Index) -> dict:
    with index.searcher() as searcher:
        return dict(searcher.document(key=META_KEY) or {})


def applied_seq(index: Index) -> int:
    """The last outbox sequence number applied to this index (0 when none)."""
    return int(_stored_meta(index).get("applied_seq") or 0)


def document_count(index: Index) -> int:
    """The number of searchable documents (the state document aside)."""
    with index.searcher() as searcher:
        has_meta = searcher.document(key=META_KEY) is not None
        return searcher.doc_count() - (1 if has_meta else 0)


def newest_seq(session: Session) -> int:
    """The newest outbox sequence number in the database."""
    return session.scalar(select(IndexCounter.seq).where(IndexCounter.id == 1)) or 0


def oldest_kept_seq(session: Session) -> int | None:
    """The oldest outbox event still kept (older ones were pruned)."""
    return session.scalar(select(func.min(IndexEvent.seq)))


def _write_meta(writer: IndexWriter, seq: int) -> None:
    writer.update_document(
        key=META_KEY, entity="meta", applied_seq=seq, schema_version=SCHEMA_VERSION
    )


def _load_entries(session: Session, ids: Iterable[int]) -> list[Entry]:
    return list(
        session.scalars(
            select(Entry)
            .where(Entry.id.in_(list(ids)))
            .options(
                selectinload(Entry.tags),
                selectinload(Entry.categories),
                selectinload(Entry.plays),
                selectinload(Entry.program),
                selectinload(Entry.clause_type),
            )
        )
    )


def writer_mb(entries: int) -> int:
    """The buffer memory (``limitmb``) for a writer about to write up to ``entries`` entries.

    Once Whoosh's buffer spills to disk, every posting of the batch is written out and read
    back at the commit, however large the buffer (a third of the CPU of a 20,000-entry
    import): a larger buffer only pays when it holds the whole batch. So a batch that fits
    in ``BULK_WRITER_MB`` may use that much; a larger one spills from ``WRITER_MB`` on.
    """
    return BULK_WRITER_MB if entries * ENTRY_BUFFER_KB <= BULK_WRITER_MB * 1024 else WRITER_MB


def entry_count(session: Session) -> int:
    """The number of entries in the database."""
    return session.scalar(select(func.count(Entry.id))) or 0


def rebuild(
    search_index: SearchIndex, session: Session, progress: Callable[[int], None] | None = None
) -> int:
    """Refill the index from the database; returns the number of documents written."""
    index = search_index.open()
    seq = newest_seq(session)
    writer = index.writer(timeout=30, limitmb=writer_mb(entry_count(session)))
    count = 0
    try:
        writer.delete_by_query(Term("entity", "entry"))
        last_id = 0
        while True:
            ids = list(
                session.scalars(
                    select(Entry.id).where(Entry.id > last_id).order_by(Entry.id).limit(BATCH)
                )
            )
            if not ids:
                break
            for entry in _load_entries(session, ids):
                writer.add_document(**entry_document(entry))
                count += 1
            if progress:
                progress(len(ids))
            last_id = ids[-1]
            session.expunge_all()
        _write_meta(writer, seq)
    except BaseException:
        writer.cancel()
        raise
    _commit(writer)
    search_index.needs_rebuild = False
    return count


def _ahead_of_database(index: Index, session: Session) -> bool:
    """Whether the index has applied changes the database does not have (the database was
    restored from a backup): its documents cannot be trusted, it must be rebuilt.

    The database is read again after the index, in a new transaction: another process may
    have committed and applied changes since this session's snapshot began.
    """
    applied = applied_seq(index)
    if applied <= newest_seq(session):
        return False
    session.rollback()
    return applied > newest_seq(session)


@dataclass
class PendingChanges:
    """The outbox events after the index's sequence number, reduced to one change per entry."""

    #: Each entry's last operation ("upsert" or "delete"), in the order entries first appear.
    latest: dict[int, str]
    #: How many events were read (of every entity).
    events: int
    #: The sequence number of the last event read.
    last_seq: int


def _pending_changes(session: Session, after: int) -> PendingChanges:
    """Read every outbox event after ``after`` (a few small columns each) and keep each
    entry's last operation.

    All at once rather than batch by batch, so that an entry changed several times is written
    once per writer: Whoosh's ``update_document`` and ``delete_by_term`` only see committed
    segments, so a second write of an entry this writer had already added would have indexed
    it twice.
    """
    latest: dict[int, str] = {}
    events, last_seq = 0, after
    rows = session.execute(
        select(IndexEvent.seq, IndexEvent.entity, IndexEvent.entity_id, IndexEvent.op)
        .where(IndexEvent.seq > after)
        .order_by(IndexEvent.seq)
    )
    for seq, entity, entity_id, op in rows:
        if entity == "entry":
            latest[entity_id] = op
        events, last_seq = events + 1, seq
    return PendingChanges(latest, events, last_seq)


def _apply(writer: IndexWriter, session: Session, latest: dict[int, str]) -> None:
    """Write each entry's latest state: loaded ``BATCH`` entries at a time; deleted or missing
    entries lose their document.

    An entry whose key is not in the committed index is added with ``add_document``, without
    the search of every segment for its key that ``update_document`` makes first: there is no
    document to replace, as this writer's own additions are not in the committed index and
    ``latest`` names each entry once (``_pending_changes``).
    """
    ids = list(latest)
    with writer.reader() as committed:
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            upserts = [entity_id for entity_id in chunk if latest[entity_id] != "delete"]
            found = {entry.id: entry for entry in _load_entries(session, upserts)}
            for entity_id in chunk:
                entry = found.get(entity_id)
                key = entry_key(entity_id)
                if entry is None:  # deleted, or gone since the event was written
                    writer.delete_by_term("key", key)
                elif ("key", key) in committed:
                    writer.update_document(**entry_document(entry))
                else:
                    writer.add_document(**entry_document(entry))
            session.expunge_all()


def catch_up(
    search_index: SearchIndex, session: Session, *, wait: float = WRITER_WAIT_SECONDS
) -> int:
    """Apply outbox events newer than the index's own sequence number.

    Returns the number of events applied; 0 when there was nothing to do or another
    process holds the writer lock (it applies everything before releasing it).
    """
    index = search_index.open()
    oldest = oldest_kept_seq(session)
    if (
        search_index.needs_rebuild
        or (oldest is not None and applied_seq(index) < oldest - 1)
        or _ahead_of_database(index, session)
    ):
        rebuild(search_index, session)
    applied = 0
    while (backlog := newest_seq(session) - applied_seq(index)) > 0:
        try:
            writer = index.writer(timeout=wait, limitmb=writer_mb(backlog))
        except LockError:
            return applied
        try:
            start = seq = applied_seq(index)
            session.rollback()  # read the counter afresh, after the lock was ours
            if newest_seq(session) <= start:
                # While we waited for the lock, its holder (another process) applied them.
                writer.cancel()
                return applied
            pending = _pending_changes(session, start)
            if pending.events:
                _apply(writer, session, pending.latest)
                seq = pending.last_seq
                applied += pending.events
                _write_meta(writer, seq)
        except BaseException:
            writer.cancel()
            raise
        if seq == start:
            # The counter is ahead but its events are gone (pruned): start afresh. (Not when
            # another process applied them while we waited for the lock: checked above.)
            writer.cancel()
            rebuild(search_index, session)
            return applied
        _commit(writer)
        # The session may have read an older snapshot; end it so the next check is fresh.
        session.rollback()
    return applied
