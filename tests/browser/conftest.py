"""Real-browser fixtures: the seeded app on a local port, driven by Playwright and chromium.

Without a chromium these tests skip with a reason; with ``CI=true`` a missing browser fails.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str | None:
    return (
        os.environ.get("KB_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


def _serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yields the base URL, then stops."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def live_server(seeded_app: Flask) -> Iterator[str]:
    """The seeded app served on a free loopback port; yields its base URL."""
    yield from _serve(seeded_app)


@pytest.fixture(scope="module")
def writable_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """A separate seeded app for browser tests that write (the shared one stays untouched)."""
    from kb import create_app
    from tests.conftest import _test_config

    app = create_app(_test_config(tmp_path_factory.mktemp("writable")))
    runner = app.test_cli_runner()
    for args in (
        ["init"],
        ["seed"],
        ["users", "create", "writer", "--password", "writer-password"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    return app


@pytest.fixture(scope="module")
def writable_server(writable_app: Flask) -> Iterator[str]:
    """The writable app served on a free loopback port; yields its base URL."""
    yield from _serve(writable_app)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless chromium (Debian's package; Playwright cannot download browsers here)."""
    executable = _chromium()
    if executable is None:
        reason = "chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI must run the browser tests")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server: str) -> Iterator[object]:
    """A fresh page; fails the test on any console error (a CSP violation, a script error)."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.console_errors = errors  # a test expecting an error status may clear it
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"browser console errors: {errors}"
