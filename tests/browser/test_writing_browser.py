"""Writing a lesson in a real browser: field checks, the live preview, suggestions, submit."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Site


@pytest.fixture(scope="module")
def writing_site(make_site: Callable[..., Site]) -> Site:
    """A separate app with the guidebook lessons and glossary, and one contributor."""
    return make_site(users={"writer": "contributor"})


def test_typing_a_lesson_shows_checks_preview_and_similar_entries(
    open_page: Callable[..., Any], writing_site: Site
) -> None:
    page = open_page(writing_site.url, user="writer", to="/entries/new")

    title = page.get_by_label("Title")
    feedback = page.locator("#title-feedback")
    title.focus()
    page.keyboard.press("Tab")  # leave the empty title
    expect(feedback).to_have_text("is required")
    title.fill("Bring the security office into the BUCP early")
    page.keyboard.press("Tab")
    expect(feedback).to_have_text("")

    page.get_by_label("Body (Markdown)").fill(
        "Invite **information security** to the first meeting about the BUCP; the XQZ "
        "review takes weeks when they hear about it late."
    )
    help_panel = page.locator("#writing-help")
    expect(help_panel.locator(".preview strong")).to_have_text("information security")
    expect(help_panel.locator(".advice")).to_contain_text("“XQZ” is not in the glossary")
    expect(help_panel.locator(".similar")).to_contain_text(re.compile("security", re.I))

    page.get_by_label("Security Reviews").check()
    page.get_by_role("button", name="Save and submit for review").click()
    page.wait_for_url(re.compile(r"/entries/\d+$"))
    expect(page.locator(".flash")).to_contain_text("Saved and submitted for review.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Bring the security office")
