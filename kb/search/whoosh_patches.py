"""Two small changes to Whoosh-Reloaded 2.7.5 for speed, applied once when ``kb.search`` loads.

1. **No copy of every index file at each searcher open.** A segment is one memory-mapped
   compound file; Whoosh opens each part of it as a ``BufferFile``, which copies the part into
   a ``BytesIO`` at once, although the codec reads postings, columns and stored fields by
   position straight from the memory map. At 20,000 entries that copy was about 50 ms of
   every search (most of the time of a rare word's search). Sequential reads now go through
   a small reader over the memory map that copies only the bytes read.
2. **No file-system check per posting while indexing.** When a segment is written, the length
   of each posting's field is looked up; for a field that keeps no lengths (keyword fields)
   the "no such column" answer was not remembered, so every posting of such a field asked the
   file system again (372,000 ``stat`` calls for 2,000 entries).

Both keep Whoosh's behaviour; ``tests/test_search.py`` and the benchmark run with them.
"""

from __future__ import annotations

from typing import Any

from whoosh.codec import whoosh3
from whoosh.filedb import structfile

_APPLIED = False


class _ViewReader:
    """A read-only file over a memory view: reads copy only the bytes asked for."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._pos = 0

    def read(self, size: int | None = -1) -> bytes:
        length = len(self._view)
        end = length if size is None or size < 0 else min(self._pos + size, length)
        data = bytes(self._view[self._pos : end])
        self._pos = max(end, self._pos)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        length = len(self._view)
        limit = length if size is None or size < 0 else min(self._pos + size, length)
        end = self._pos
        while end < limit:
            chunk = bytes(self._view[end : min(end + 256, limit)])
            found = chunk.find(b"\n")
            if found >= 0:
                end += found + 1
                break
            end += len(chunk)
        data = bytes(self._view[self._pos : end])
        self._pos = end
        return data

    def __iter__(self) -> Any:
        while line := self.readline():
            yield line

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._pos = 0


def _buffer_init(self: Any, buf: Any, name: str | None = None, onclose: Any = None) -> None:
    self._buf = buf
    self._name = name
    self.file = _ViewReader(memoryview(buf))
    self.onclose = onclose
    self.is_real = False
    self.is_closed = False


def _cached_reader(self: Any, fieldname: str, column: Any) -> Any:
    readers = self._readers
    if fieldname in readers:
        return readers[fieldname]
    reader = self.column_reader(fieldname, column) if self.has_column(fieldname) else None
    readers[fieldname] = reader
    return reader


def apply() -> None:
    """Install the changes (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    structfile.BufferFile.__init__ = _buffer_init
    whoosh3.W3PerDocReader._cached_reader = _cached_reader
    _APPLIED = True
