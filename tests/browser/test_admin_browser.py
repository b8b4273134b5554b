"""Admin and curator pages in a real browser: accounts, roles, the audit trail, the glossary."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Site
from tests.browser.conftest import serious_violations


@pytest.fixture(scope="module")
def admin_site(make_site: Callable[..., Site]) -> Site:
    """A separate app with the guidebook lessons and an admin account."""
    return make_site(users={"boss": "admin"})


def test_admin_creates_an_account_changes_its_role_and_finds_it_in_the_audit(
    open_page: Callable[..., Any], admin_site: Site
) -> None:
    page = open_page(admin_site.url, user="boss", to="/admin/users")
    assert serious_violations(page) == []

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
    assert serious_violations(page) == []

    page.goto("/glossary")
    expect(page.get_by_role("link", name="Add a term")).to_be_visible()
    assert serious_violations(page) == []
