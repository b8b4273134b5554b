"""The factory and configuration layering."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from kb import create_app
from kb.config import PROJECT_ROOT


def test_defaults_put_data_in_the_checkout_instance_folder(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("KB_DATA_DIR", raising=False)
    app = create_app({"SECRET_KEY": "x", "TESTING": True})
    assert app.instance_path == str(PROJECT_ROOT / "instance")
    assert (
        app.config["SQLALCHEMY_DATABASE_URI"]
        == f"sqlite:///{PROJECT_ROOT / 'instance' / 'kb.sqlite'}"
    )
    assert app.config["READ_ACCESS"] == "anonymous"
    assert app.config["WTF_CSRF_TIME_LIMIT"] is None


def test_layers_apply_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Defaults < instance/config.py < KB_* environment < the config argument."""
    (tmp_path / "config.py").write_text(
        "PER_PAGE = 7\nBASE_URL = 'http://file.example'\nPROXY_FIX = 1\nREAD_ACCESS = 'login'\n"
    )
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KB_BASE_URL", "http://env.example")
    monkeypatch.setenv("KB_PROXY_FIX", "2")
    app = create_app({"PROXY_FIX": 3, "SECRET_KEY": "x"})
    assert app.instance_path == str(tmp_path)
    assert app.config["PER_PAGE"] == 7  # from the instance file
    assert app.config["READ_ACCESS"] == "login"  # from the instance file
    assert app.config["BASE_URL"] == "http://env.example"  # environment beats the file
    assert app.config["PROXY_FIX"] == 3  # the argument beats the environment


def test_database_url_and_secret_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KB_DATABASE_URL", "sqlite:////tmp/elsewhere.sqlite")
    monkeypatch.setenv("KB_SECRET_KEY", "from-env")
    monkeypatch.setenv("KB_SESSION_COOKIE_SECURE", "true")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:////tmp/elsewhere.sqlite"
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert not (tmp_path / "secret_key").exists()


def test_secret_key_is_generated_once(tmp_path: Path):
    first = create_app({"DATA_DIR": str(tmp_path / "data")})
    second = create_app({"DATA_DIR": str(tmp_path / "data")})
    key_file = tmp_path / "data" / "secret_key"
    assert key_file.exists()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert len(first.config["SECRET_KEY"]) == 64
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert not list((tmp_path / "data").glob(".secret_key.*"))


def test_bad_read_access_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="KB_READ_ACCESS"):
        create_app({"DATA_DIR": str(tmp_path), "READ_ACCESS": "everyone", "SECRET_KEY": "x"})


def test_wsgi_module_builds_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path))
    wsgi = importlib.import_module("wsgi")
    assert wsgi.app.name == "kb"
    assert "browse.home" in {rule.endpoint for rule in wsgi.app.url_map.iter_rules()}
