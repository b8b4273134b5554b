"""Real-browser fixtures: apps served on local ports, driven by Playwright and chromium.

- ``live_server`` and ``page``: the shared seeded app (``kb seed --demo``), read-only.
- ``make_site``: a separate app for tests that write, seeded through the real CLI with the
  accounts a module needs (each account's password is ``password(name)``).
- ``open_page``: a fresh browser context on any site, optionally signed in; like ``page``, it
  fails the test on any console error (a CSP violation, a script error, a missing htmx target).

Without a chromium these tests skip with a reason; with ``CI=true`` a missing browser fails.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import ExitStack
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

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
VIEWPORT = {"width": 1280, "height": 900}


def _chromium() -> str | None:
    return (
        os.environ.get("KB_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yields the base URL, then stops."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def password(name: str) -> str:
    """The password ``make_site`` gives the account ``name``."""
    return f"{name}-password"


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{violation['id']}: {violation['help']} ({len(violation['nodes'])} element(s))"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def live_server(seeded_app: Flask) -> Iterator[str]:
    """The shared seeded app served on a free loopback port; yields its base URL."""
    with serving(seeded_app) as url:
        yield url


@dataclass(frozen=True)
class Site:
    """A separate app served for one test module: the app and its base URL."""

    app: Flask
    url: str

    def cli(self, *args: str) -> None:
        """Run a ``kb`` command against the site's database; it must succeed."""
        run_cli(self.app, *args)


def run_cli(app: Flask, *args: str) -> None:
    """Run a ``kb`` command against ``app``'s database; it must succeed."""
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def make_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Site]]:
    """Build and serve separate apps for a module's writing tests.

    ``make_site(demo=False, users={"writer": "contributor"})`` runs ``kb init``, ``kb seed``
    (``--demo`` for the fictional department's clauses, BUCPs and procedures) and
    ``kb users create`` for each name → role, with the password ``password(name)``; the
    servers stop when the module is done.
    """
    from kb import create_app
    from tests.conftest import _test_config

    with ExitStack() as servers:

        def make(*, demo: bool = False, users: dict[str, str] | None = None) -> Site:
            app = create_app(_test_config(tmp_path_factory.mktemp("site")))
            run_cli(app, "init")
            run_cli(app, "seed", *(["--demo"] if demo else []))
            for name, role in (users or {}).items():
                run_cli(app, "users", "create", name, "--role", role, "--password", password(name))
            return Site(app, servers.enter_context(serving(app)))

        yield make


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless chromium (Debian's package; Playwright cannot download browsers here)."""
    executable = _chromium()
    if executable is None:
        reason = "chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI must run the browser tests")
        pytest.skip(reason)
    from playwright.sync_api import expect
    from playwright.sync_api import sync_playwright

    expect.set_options(timeout=10_000)  # room for a busy CI machine (the default is 5 s)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def sign_in(page: Any, name: str, to: str = "/") -> None:
    """Sign ``name`` in through the form and wait for the page ``to`` it leads to."""
    page.goto(f"/login?next={to}")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password(name))
    page.get_by_role("button", name="Sign in").click()
    base = re.match(r"https?://[^/]+", page.url)
    assert base is not None
    page.wait_for_url(re.compile(re.escape(base.group(0) + to) + "$"))


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open pages in fresh browser contexts, each failing the test on a console error.

    ``open_page(base_url, user=None, to="/", permissions=(), **context_options)`` signs
    ``user`` in when given and lands on ``to``. A test expecting an error status may clear
    ``page.console_errors``.
    """
    opened: list[tuple[Any, Any]] = []

    def open_(
        base_url: str,
        *,
        user: str | None = None,
        to: str = "/",
        permissions: tuple[str, ...] = (),
        **options: Any,
    ) -> Any:
        context = browser.new_context(base_url=base_url, viewport=VIEWPORT, **options)
        if permissions:
            context.grant_permissions(list(permissions))
        page = context.new_page()
        errors: list[str] = []
        page.console_errors = errors
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        opened.append((context, page))
        if user:
            sign_in(page, user, to)
        return page

    yield open_
    errors = []
    for context, page in opened:
        context.close()
        errors.extend(page.console_errors)
    assert errors == [], f"browser console errors: {errors}"


@pytest.fixture
def page(open_page: Callable[..., Any], live_server: str) -> Any:
    """A fresh anonymous page on the shared seeded app."""
    return open_page(live_server)
