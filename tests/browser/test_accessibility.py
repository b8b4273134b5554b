"""Automated accessibility checks (axe-core) on the main pages."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

PAGES = [
    "/",
    "/categories/statutory-legal",
    "/plays/6",
    "/entries/1",
    "/search?q=security",
    "/nowhere",
]


@pytest.mark.parametrize("path", PAGES)
def test_no_serious_accessibility_violations(page, path):
    response = page.goto(path)
    if path == "/nowhere":
        assert response.status == 404
        page.console_errors.clear()  # the browser reports the page's own 404 status
    results = Axe().run(page)
    serious = [
        f"{violation['id']}: {violation['help']} ({len(violation['nodes'])} element(s))"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == []
