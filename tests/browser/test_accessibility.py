"""Automated accessibility checks (axe-core) on the main pages: none may have a serious or
critical violation. Public pages on the shared seeded app; signed-in pages (the review queue,
metrics, BUCPs, the import and token pages, forms with their errors shown) on a separate app."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Site
from tests.browser.conftest import serious_violations

PAGES = [
    "/",
    "/categories/statutory-legal",
    "/plays/6",
    "/entries/1",
    "/entries/1/history",
    "/search?q=security",
    "/search?q=zzqqxxy",
    "/glossary",
    "/procedures",
    "/procedures/1",
    "/login",
    "/nowhere",
]

#: (account, page) signed in on ``a11y_site``.
SIGNED_IN = [
    ("curator", "/review"),
    ("curator", "/metrics"),
    ("curator", "/import"),
    ("curator", "/taxonomy/"),
    ("curator", "/bucps"),
    ("curator", "/bucps/1"),
    ("curator", "/bucps/1/sections/data-transfer-management"),
    ("writer", "/account/tokens"),
    ("writer", "/notifications"),
    ("writer", "/procedures/new"),
    ("writer", "/logout"),
]


def forget_own_status(page: Any, status: int) -> None:
    """Drop the console message in which the browser reports the page's own error status
    (it may arrive late, so this runs at the end of the test)."""
    if status >= 400:
        own = f"status of {status} "
        page.console_errors[:] = [e for e in page.console_errors if own not in e]


@pytest.fixture(scope="module")
def a11y_site(make_site: Callable[..., Site], tmp_path_factory: pytest.TempPathFactory) -> Site:
    """A separate app with the demo content, a contributor, a curator and one submission
    waiting in the review queue."""
    site = make_site(demo=True, users={"writer": "contributor", "curator": "curator"})
    submission = {
        "kind": "lesson",
        "title": "Label every column in the extract",
        "body": "Send a data dictionary with every extract so reviewers can check each field.",
        "categories": ["data-requests"],
        "status": "in_review",
    }
    path = Path(tmp_path_factory.mktemp("a11y-import")) / "submission.json"
    path.write_text(json.dumps([submission]), encoding="utf-8")
    site.cli("import", str(path))
    return site


@pytest.mark.parametrize("path", PAGES)
def test_no_serious_accessibility_violations(page, path):
    response = page.goto(path)
    assert response.status == (404 if path == "/nowhere" else 200)
    assert serious_violations(page) == []
    forget_own_status(page, response.status)


@pytest.mark.parametrize(("user", "path"), SIGNED_IN)
def test_no_serious_violations_on_signed_in_pages(open_page, a11y_site, user, path):
    page = open_page(a11y_site.url, user=user, to=path)
    if path == "/review":
        expect(page.locator("#review-list")).to_contain_text("Label every column")
    assert serious_violations(page) == []


def test_the_entry_form_is_accessible_and_creates_a_draft(open_page, a11y_site):
    """Sign in, check the new-entry form with axe, save a lesson as a draft."""
    page = open_page(a11y_site.url, user="writer", to="/entries/new")
    assert serious_violations(page) == []
    page.get_by_label("Title").fill("Browser-written lesson about SFTP keys")
    page.get_by_label("Body (Markdown)").fill("Rotate the SFTP keys before the first transfer.")
    page.get_by_label("BUCP Creation").check()
    page.get_by_role("button", name="Save as draft").click()
    page.wait_for_url(re.compile(r"/entries/\d+$"))
    expect(page.locator(".flash")).to_contain_text("Draft saved.")
    expect(page.locator("h1")).to_contain_text("Browser-written lesson")


def test_an_edit_form_with_its_errors_shown_is_accessible(open_page: Any, a11y_site: Site):
    """A curator empties a published lesson's title and body: 422, the errors beside the
    fields (and announced), still no serious violation."""
    page = open_page(a11y_site.url, user="curator", to="/entries/2/edit")
    page.get_by_label("Title").fill("")
    page.get_by_label("Body (Markdown)").fill("")
    with page.expect_response(re.compile(r"/entries/2$")) as answer:
        page.get_by_role("button", name="Save", exact=True).click()
    assert answer.value.status == 422
    expect(page.locator(".form-message")).to_contain_text("Some fields need fixing")
    expect(page.get_by_label("Title")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#title-feedback")).to_contain_text("required")
    assert serious_violations(page) == []
    forget_own_status(page, 422)
