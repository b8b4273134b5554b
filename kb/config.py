"""Configuration: safe defaults, then instance/config.py, then KB_* environment, then overrides."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

#: The checkout's root (the folder holding kb/, templates/, static/, seed/).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

READ_ACCESS_MODES = ("anonymous", "login")


class DefaultConfig:
    """Safe defaults only; no secrets."""

    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {}
    WTF_CSRF_TIME_LIMIT = None
    SEARCH_INDEX_IN_MEMORY = False
    READ_ACCESS = "anonymous"
    AUTH_HEADER: str | None = None
    BASE_URL: str | None = None
    PROXY_FIX = 0
    SESSION_COOKIE_SECURE = False
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    INDEX_EVENT_RETENTION_DAYS = 30
    SEARCH_LOG_RETENTION_DAYS = 90
    PASSWORD_HASH_METHOD = "scrypt"
    PER_PAGE = 20
    MAX_PER_PAGE = 100
    JSON_SORT_KEYS = False
    BUCP_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024


def data_dir_for(overrides: Mapping[str, Any] | None) -> Path:
    """The data folder: the override, else ``KB_DATA_DIR``, else the checkout's ``instance/``."""
    chosen = (overrides or {}).get("DATA_DIR") or os.environ.get("KB_DATA_DIR")
    path = Path(chosen) if chosen else PROJECT_ROOT / "instance"
    return path.expanduser().resolve()


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Layer the configuration onto ``app`` (defaults, instance file, environment, overrides)."""
    app.config.from_object(DefaultConfig)
    app.config.from_pyfile(str(Path(app.instance_path) / "config.py"), silent=True)
    app.config.from_prefixed_env("KB")
    if overrides:
        app.config.from_mapping(overrides)
    data_dir = Path(app.instance_path)
    data_dir.mkdir(parents=True, exist_ok=True)
    app.config["DATA_DIR"] = str(data_dir)
    if "DATABASE_URL" in app.config and not (overrides and "SQLALCHEMY_DATABASE_URI" in overrides):
        app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    app.config.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{data_dir / 'kb.sqlite'}")
    app.config.setdefault("SEARCH_INDEX_DIR", str(data_dir / "search-index"))
    if app.config["READ_ACCESS"] not in READ_ACCESS_MODES:
        raise ValueError(
            f"KB_READ_ACCESS must be one of {', '.join(READ_ACCESS_MODES)}, "
            f"not {app.config['READ_ACCESS']!r}"
        )
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = ensure_secret_key(data_dir)


def ensure_secret_key(data_dir: Path) -> str:
    """Read ``<data_dir>/secret_key``, creating it once, atomically, when missing.

    Two processes starting at once both end up with the same key: each writes a
    private temporary file and links it into place; the loser reads the winner's.
    """
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
            os.chmod(tmp, 0o600)
            with contextlib.suppress(FileExistsError):  # another process won the race
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return path.read_text().strip()
