"""Writing a lesson in a real browser: field checks, the live preview, suggestions, submit."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_typing_a_lesson_shows_checks_preview_and_similar_entries(browser, writable_server):
    context = browser.new_context(base_url=writable_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/login?next=/entries/new")
    page.get_by_label("User name").fill("writer")
    page.get_by_label("Password").fill("writer-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/entries/new")

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
    context.close()
    assert errors == []
