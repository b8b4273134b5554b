"""Procedures in a real browser: build a three-step procedure, cite a lesson through the inline
search, reorder the steps with the keyboard-accessible buttons, and read the result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Site
from tests.browser.conftest import serious_violations


@pytest.fixture(scope="module")
def procedure_site(make_site: Callable[..., Site]) -> Site:
    """A separate app with the guidebook lessons and one contributor (a trainer)."""
    return make_site(users={"trainer": "contributor"})


@pytest.fixture
def trainer_page(open_page: Callable[..., Any], procedure_site: Site) -> Any:
    """The trainer signed in on the procedures list."""
    return open_page(procedure_site.url, user="trainer", to="/procedures")


def add_step(page, heading: str, instructions: str) -> None:
    form = page.locator("form.add-step")
    form.get_by_label("Heading").fill(heading)
    form.get_by_label("Instructions (Markdown)").fill(instructions)
    form.get_by_role("button", name="Add the step").click()
    expect(page.locator("#procedure-steps [role=status]")).to_contain_text(f"“{heading}”")


def test_build_cite_and_reorder_a_procedure(trainer_page):
    page = trainer_page
    page.get_by_role("link", name="New procedure", exact=True).click()
    page.get_by_label("Title").fill("Security review checklist")
    page.get_by_label("Audience").fill("BUCP coordinators")
    page.get_by_role("button", name="Create the procedure").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Security review checklist")

    add_step(page, "Record the outcome", "Move the BUCP to its next stage.")
    add_step(page, "Invite security early", "Add the security office to the kickoff.")
    add_step(page, "Choose the transfer method", "Agree on SFTP or HTTPS.")
    # htmx swapped the steps in place: the page around them is the same document
    assert page.evaluate("window.htmx !== undefined")
    steps = page.locator("#procedure-steps li.procedure-step")
    expect(steps).to_have_count(3)

    second = steps.nth(1)
    second.get_by_label("Cite a lesson or clause").fill("information security team")
    cite = second.get_by_role("button", name="Cite “Bring your information security team in early”")
    expect(cite).to_be_visible()
    cite.click()
    status = page.locator("#procedure-steps [role=status]")
    expect(status).to_contain_text(
        "Step 2 cites “Bring your information security team in early” (revision 1)."
    )
    expect(steps.nth(1).locator(".citation")).to_contain_text("Lesson cited")

    # Keyboard: focus the second step's "Move up" and press Enter; then the third step's.
    move_up = steps.nth(1).get_by_role("button", name="Move up “Invite security early”")
    move_up.focus()
    page.keyboard.press("Enter")
    expect(status).to_contain_text("Moved “Invite security early” to step 1.")
    headings = page.locator("#procedure-steps li.procedure-step h3")
    expect(headings).to_have_text(
        [
            "Step 1. Invite security early",
            "Step 2. Record the outcome",
            "Step 3. Choose the transfer method",
        ]
    )
    # focus stays on the moved step's button, so the keyboard user can keep going
    focused = page.evaluate("document.activeElement && document.activeElement.textContent")
    assert focused.startswith("Move up")
    move_up = steps.nth(2).get_by_role("button", name="Move up “Choose the transfer method”")
    move_up.focus()
    page.keyboard.press("Enter")
    expect(headings).to_have_text(
        [
            "Step 1. Invite security early",
            "Step 2. Choose the transfer method",
            "Step 3. Record the outcome",
        ]
    )

    assert serious_violations(page) == []

    page.get_by_role("link", name="Preview").click()
    expect(page.locator(".preview-notice")).to_be_visible()
    article = page.locator("#procedure")
    expect(article.locator(".procedure-step h3")).to_have_text(
        [
            "Step 1. Invite security early",
            "Step 2. Choose the transfer method",
            "Step 3. Record the outcome",
        ]
    )
    expect(article.locator(".procedure-step").first.locator(".citation")).to_contain_text(
        "information security"
    )
    assert serious_violations(page) == []
