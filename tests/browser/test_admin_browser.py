"""Admin and curator pages in a real browser: accounts, roles, the audit trail, the glossary."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect


@pytest.fixture(scope="module")
def admin_server(writable_app, writable_server):
    """The writable app with an admin account."""
    result = writable_app.test_cli_runner().invoke(
        args=["users", "create", "boss", "--role", "admin", "--password", "boss-password"]
    )
    assert result.exit_code == 0, result.output
    return writable_server


def _serious(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({len(v['nodes'])})"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_admin_creates_an_account_changes_its_role_and_finds_it_in_the_audit(browser, admin_server):
    context = browser.new_context(base_url=admin_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/login?next=/admin/users")
    page.get_by_label("User name").fill("boss")
    page.get_by_label("Password").fill("boss-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/users")
    assert _serious(page) == []

    create = page.locator(".admin-create")
    create.get_by_label("User name").fill("newcurator")
    create.get_by_label("Display name").fill("New Curator")
    create.get_by_label("Password", exact=True).fill("a-long-password")
    create.get_by_label("Password again").fill("a-long-password")
    create.get_by_role("button", name="Create the account").click()
    row = page.get_by_role("row", name=re.compile("newcurator"))
    expect(row).to_contain_text("contributor")

    row.get_by_label("Role of newcurator").select_option("curator")
    row.get_by_role("button", name="Change the role of newcurator").click()
    expect(page.get_by_role("row", name=re.compile("newcurator"))).to_contain_text("curator")

    page.goto("/admin/audit")
    expect(page.locator("main")).to_contain_text("newcurator")
    assert _serious(page) == []

    page.goto("/glossary")
    expect(page.get_by_role("link", name="Add a term")).to_be_visible()
    assert _serious(page) == []
    context.close()
    assert errors == []
