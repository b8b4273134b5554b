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


def test_the_entry_form_is_accessible_and_creates_a_draft(browser, writable_server):
    """Sign in, check the new-entry form with axe, save a lesson as a draft."""
    context = browser.new_context(base_url=writable_server)
    page = context.new_page()
    page.goto("/login?next=/entries/new")
    page.get_by_label("User name").fill("writer")
    page.get_by_label("Password").fill("writer-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/entries/new")
    results = Axe().run(page)
    serious = [
        v["id"] for v in results.response["violations"] if v["impact"] in ("serious", "critical")
    ]
    assert serious == []
    page.get_by_label("Title").fill("Browser-written lesson about SFTP keys")
    page.get_by_label("Body (Markdown)").fill("Rotate the SFTP keys before the first transfer.")
    page.get_by_label("BUCP Creation").check()
    page.get_by_role("button", name="Save as draft").click()
    page.wait_for_url("**/entries/*")
    assert "Draft saved." in page.content()
    assert "Browser-written lesson" in page.locator("h1").inner_text()
    context.close()
