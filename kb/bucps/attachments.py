"""BUCP attachments: checked uploads stored under ``<KB_DATA_DIR>/attachments/`` by generated name.

A file is accepted when its extension is allowed, it is within the size limit
(``KB_BUCP_ATTACHMENT_MAX_BYTES``) and its first bytes look like that kind of file.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import IO

from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound
from werkzeug.utils import secure_filename

from kb.bucps.services import BucpInputError
from kb.entries.services import audit
from kb.models import Bucp
from kb.models import BucpAttachment
from kb.models import User

ZIP = (b"PK\x03\x04",)
OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)
#: Extension → (content type, the signatures its first bytes must start with; () for text).
ALLOWED = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ZIP),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ZIP),
    "doc": ("application/msword", OLE),
    "txt": ("text/plain", ()),
    "md": ("text/markdown", ()),
    "csv": ("text/csv", ()),
}
CHUNK = 64 * 1024


class TooLarge(Exception):
    """The file is larger than the configured limit (answered with 413)."""


def folder(data_dir: str | Path) -> Path:
    """Where attachments are stored."""
    path = Path(data_dir) / "attachments"
    path.mkdir(parents=True, exist_ok=True)
    return path


def human_size(size: int) -> str:
    """A byte count for people (``10 MB``)."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:.3g} {unit}"
        size /= 1024
    return ""  # pragma: no cover


def _extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def _looks_right(extension: str, head: bytes) -> bool:
    signatures = ALLOWED[extension][1]
    if signatures:
        return head.startswith(signatures)
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a character cut at the end of the sample is fine
        return exc.start >= len(head) - 3
    return True


def store(
    session: Session,
    bucp: Bucp,
    *,
    filename: str,
    stream: IO[bytes],
    data_dir: str | Path,
    limit: int,
    actor: User,
) -> BucpAttachment:
    """Check and store an uploaded file (``BucpInputError``: 422; ``TooLarge``: 413)."""
    name = " ".join(Path(filename.replace("\\", "/")).name.split())[:200]
    extension = _extension(name)
    if not name:
        raise BucpInputError("Choose a file to upload.", "file")
    if extension not in ALLOWED:
        kinds = ", ".join(sorted(ALLOWED))
        raise BucpInputError(f"Only these kinds of file can be attached: {kinds}.", "file")
    head = stream.read(4096)
    if not head:
        raise BucpInputError("The file is empty.", "file")
    if not _looks_right(extension, head):
        raise BucpInputError(f"The file does not look like a .{extension} file.", "file")
    stored_name = f"{secrets.token_hex(16)}.{extension}"
    target = folder(data_dir) / stored_name
    try:
        if len(head) > limit:
            raise TooLarge
        with target.open("xb") as out:
            out.write(head)
        size = len(head) + _append(stream, target, limit - len(head))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    attachment = BucpAttachment(
        filename=name,
        stored_name=stored_name,
        content_type=ALLOWED[extension][0],
        size=size,
        uploaded_by=actor,
    )
    bucp.attachments.append(attachment)
    session.flush()
    audit(session, actor, "bucp.attach", bucp, filename=name, size=size)
    return attachment


def _append(stream: IO[bytes], target: Path, limit: int) -> int:
    size = 0
    with target.open("ab") as out:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise TooLarge
            out.write(chunk)
    return size


def get(bucp: Bucp, attachment_id: int) -> BucpAttachment:
    """One of the BUCP's attachments (404 otherwise)."""
    for attachment in bucp.attachments:
        if attachment.id == attachment_id:
            return attachment
    raise NotFound("This BUCP has no such attachment.")


def path_of(attachment: BucpAttachment, data_dir: str | Path) -> Path:
    """The stored file (404 when it has gone missing from the disk)."""
    path = folder(data_dir) / attachment.stored_name
    if not path.is_file():
        raise NotFound("The attachment's file is missing; ask an administrator to restore it.")
    return path


def download_name(attachment: BucpAttachment) -> str:
    """A safe name for the download (the uploaded name, cleaned; never a path)."""
    extension = attachment.stored_name.rsplit(".", 1)[-1]
    stem = attachment.filename.rsplit(".", 1)[0]
    safe = secure_filename(stem)[:120] or "attachment"
    return f"{safe}.{extension}"
