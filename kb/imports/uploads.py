"""Uploaded import files kept between the web import's steps.

Each upload is two files in ``<data dir>/imports/``: ``<token>.data`` (the bytes as uploaded)
and ``<token>.json`` (file name, format, uploader, column mapping, and after the import its
summary). The token is random (``secrets``), so names cannot be guessed, and nothing of the
file travels in the session cookie. Files older than ``KEEP`` are deleted whenever someone
opens the import page; the data file goes as soon as its import has been written.

Also two guards for any upload request (the web import and BUCP attachments):
``length_unknown()`` (a body whose size the server cannot bound, refused with 411) and
``track_spooled_files()`` / ``close_spooled_files()`` (no temporary file left open when
parsing stops half-way).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import IO
from typing import Any

from flask import g
from flask import request

KEEP_SECONDS = 24 * 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{24}$")
_SPOOLED = "kb_spooled_files"
LENGTH_REQUIRED = (
    "The upload did not say how large it is (no Content-Length header), so it was not read. "
    "Choose the file again and upload it from this page."
)


@dataclass
class Upload:
    """One uploaded file and what the curator chose for it so far."""

    token: str
    filename: str
    fmt: str
    user_id: int
    created: float
    size: int
    mapping: dict[str, str | None] | None = None
    #: CSV only: the kind of rows that give none (``lesson``, ``snippet``, or ``""``).
    default_kind: str = ""
    summary: dict[str, Any] | None = None
    folder: str = field(default="", repr=False)

    @property
    def data_path(self) -> Path:
        """Where the uploaded bytes are."""
        return Path(self.folder) / f"{self.token}.data"

    @property
    def meta_path(self) -> Path:
        """Where this record is kept."""
        return Path(self.folder) / f"{self.token}.json"

    def data(self) -> bytes:
        """The uploaded bytes."""
        return self.data_path.read_bytes()

    def column_mapping(self) -> dict[int, str | None] | None:
        """The CSV column mapping by column index (JSON keeps the keys as text)."""
        if self.mapping is None:
            return None
        return {int(index): name for index, name in self.mapping.items()}


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def save_meta(upload: Upload) -> None:
    """Store the upload's record (after a change of mapping or summary)."""
    record = {key: value for key, value in asdict(upload).items() if key != "folder"}
    _write_atomically(upload.meta_path, json.dumps(record).encode("utf-8"))


def save_upload(folder: Path, data: bytes, *, filename: str, fmt: str, user_id: int) -> Upload:
    """Keep an uploaded file under a new random name."""
    folder.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(18)
    upload = Upload(token, filename, fmt, user_id, time.time(), len(data), folder=str(folder))
    _write_atomically(upload.data_path, data)
    save_meta(upload)
    return upload


def load_upload(folder: Path, token: str, user_id: int) -> Upload | None:
    """The upload with this token, if it exists and belongs to ``user_id``."""
    if not _TOKEN.match(token):
        return None
    try:
        record = json.loads((folder / f"{token}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    upload = Upload(**record, folder=str(folder))
    return upload if upload.user_id == user_id else None


def discard_data(upload: Upload) -> None:
    """Delete the uploaded bytes (the record stays for the summary page until cleaned up)."""
    upload.data_path.unlink(missing_ok=True)


def clean_old(folder: Path, keep_seconds: float = KEEP_SECONDS) -> int:
    """Delete upload files older than ``keep_seconds``; returns how many files went."""
    if not folder.is_dir():
        return 0
    limit = time.time() - keep_seconds
    removed = 0
    for path in folder.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except OSError:  # another process removed it first
            continue
    return removed


# --- guards for upload requests ---------------------------------------------------------------


def length_unknown() -> bool:
    """Whether the request body's size cannot be known: it is sent with a ``Transfer-Encoding``
    (chunked) and no ``Content-Length``, and the server does not end the stream itself (no
    ``wsgi.input_terminated``, which servers that de-chunk set). Werkzeug then reads the body
    as empty, so the form would look blank (a CSRF failure); such uploads get 411. A request
    with neither header has no body (HTTP/1.1) and is left to the form checks."""
    if request.content_length is not None or "wsgi.input_terminated" in request.environ:
        return False  # Werkzeug checks the key's presence too
    return bool(request.headers.get("Transfer-Encoding"))


def track_spooled_files() -> None:
    """Remember every temporary file Werkzeug opens while parsing this request's upload, for
    ``close_spooled_files`` to close at the request's teardown.

    Werkzeug closes the files of a fully parsed form (``request.close()``), but when parsing
    stops half-way (a streamed body passing ``max_content_length`` raises
    ``RequestEntityTooLarge``) the file it was writing is dropped unclosed: a ResourceWarning
    and, past 500 KB, an open file descriptor until garbage collection.
    """
    opened: list[IO[bytes]] = g.setdefault(_SPOOLED, [])
    spool = request._get_file_stream  # Werkzeug's documented hook for upload streams

    def tracked(*args: Any, **kwargs: Any) -> IO[bytes]:
        stream = spool(*args, **kwargs)
        opened.append(stream)
        return stream

    request._get_file_stream = tracked  # type: ignore[method-assign]


def close_spooled_files(_exc: BaseException | None = None) -> None:
    """Close the files ``track_spooled_files`` saw (a teardown function; closing is idempotent)."""
    for stream in g.pop(_SPOOLED, []):
        stream.close()
