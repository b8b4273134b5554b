"""Smoke tests in a real browser: pages load, links work, htmx swaps under the CSP."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_home_then_follow_a_category_link(page):
    page.goto("/")
    expect(page).to_have_title("BUCP Knowledge Base")
    expect(page.get_by_role("heading", level=1)).to_contain_text("sharing data")
    expect(page.locator("#categories .tile")).to_have_count(6)
    page.locator("#categories").get_by_role("link", name="Security Reviews").click()
    expect(page).to_have_url(re.compile(r"/categories/security-reviews$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Security Reviews")
    expect(page.locator("#entry-list .card").first).to_be_visible()


def test_skip_link_is_the_first_stop_for_the_keyboard(page):
    page.goto("/categories/data-requests")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent").strip() == "Skip to content"


def test_pagination_swaps_the_list_with_htmx(page):
    page.goto("/categories/bucp-creation?per_page=5")
    first_titles = page.locator("#entry-list .card-title a").all_inner_texts()
    page.get_by_role("link", name="Next →").click()
    expect(page.locator("#entry-list .count")).to_contain_text("page 2 of")
    expect(page).to_have_url(re.compile(r"page=2"))
    assert page.locator("#entry-list .card-title a").all_inner_texts() != first_titles
    # htmx swapped the fragment: the page around it is the same document
    assert page.evaluate("window.htmx !== undefined")
    expect(page.get_by_role("heading", level=1)).to_have_text("BUCP Creation")


def test_active_search_updates_results_while_typing(page):
    page.goto("/search")
    page.get_by_label("Search lessons and clauses").fill("SAFE")
    expect(page.locator("#results .count")).to_contain_text("for “SAFE”")
    expect(page).to_have_url(re.compile(r"q=SAFE"))


def test_typing_replaces_the_url_submitting_pushes_and_back_restores(page):
    """Active search and history: typing changes the results and the URL; each search gets
    one history entry (not one per keystroke, and submitting a typed query adds no second);
    Back brings the earlier query, its results and the text in the box back."""

    def submitted(response) -> bool:
        return response.request.headers.get("hx-trigger") == "search-form"

    page.goto("/search")
    box = page.get_by_label("Search lessons and clauses")
    box.press_sequentially("security", delay=20)
    expect(page.locator("#results .count")).to_contain_text("for “security”")
    expect(page).to_have_url(re.compile(r"/search\?q=security$"))
    with page.expect_response(submitted):
        box.press("Enter")
    first_count = page.locator("#results .count").inner_text()
    length = page.evaluate("history.length")

    box.fill("")
    box.press_sequentially("SAFE", delay=20)
    expect(page.locator("#results .count")).to_contain_text("for “SAFE”")
    expect(page).to_have_url(re.compile(r"/search\?q=SAFE$"))
    assert page.evaluate("history.length") == length + 1, "one entry for the typed search"
    with page.expect_response(submitted):
        box.press("Enter")
    assert page.evaluate("history.length") == length + 1, "submitting it adds no second entry"

    page.go_back()
    expect(page).to_have_url(re.compile(r"/search\?q=security$"))
    expect(page.locator("#results .count")).to_have_text(first_count)
    expect(page.get_by_label("Search lessons and clauses")).to_have_value("security")
    page.go_forward()
    expect(page).to_have_url(re.compile(r"/search\?q=SAFE$"))
    expect(page.locator("#results .count")).to_contain_text("for “SAFE”")


def test_entry_page_on_a_phone(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto("/")
    page.locator("#recent-title ~ .cards .card-title a").first.click()
    expect(page.locator("article.entry h1")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways on a phone ({width}px)"
    context.close()


def test_facets_filter_and_back_restores(page):
    page.goto("/search?q=security")
    total = page.locator("#results .count").inner_text()
    page.locator("#facets").get_by_role("link", name=re.compile("^Clauses")).click()
    expect(page).to_have_url(re.compile(r"kind=snippet"))
    expect(page.locator("#results .active-filters")).to_contain_text("Kind: snippet")
    expect(page.locator("#results .badge-lesson")).to_have_count(0)
    # the form's hidden filter moved along, so typing keeps the filter
    expect(page.locator('#search-filters input[name="kind"]')).to_have_value("snippet")
    page.go_back()
    expect(page).to_have_url(re.compile(r"/search\?q=security$"))
    expect(page.locator("#results .count")).to_have_text(total)


def test_typing_settles_into_a_logged_search_with_facets(page):
    page.goto("/search")
    page.get_by_label("Search lessons and clauses").press_sequentially("encryption", delay=30)
    expect(page.locator("#results .count")).to_contain_text("encryption")
    expect(page.locator("#facets .facet").first).to_be_visible(timeout=5000)
    expect(page).to_have_url(re.compile(r"q=encryption"))
