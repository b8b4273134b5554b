"""The review workflow in a real browser, end to end: a contributor submits a lesson through
the form; a curator finds it in the review queue and requests changes with a note; the
contributor reads the note, edits and resubmits; the curator publishes; an anonymous reader
finds it through active search."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Site

TITLE = "Ask the records officer about retention before the first transfer"
NOTE = "Say how long the extract may be kept, and who deletes it."


@pytest.fixture(scope="module")
def review_site(make_site: Callable[..., Site]) -> Site:
    """A separate app with the guidebook lessons, a contributor and a curator."""
    return make_site(users={"riley": "contributor", "quinn": "curator"})


def search_as_you_type(page: Any, words: str) -> Any:
    """Type ``words`` into the search page's box; the results list once it has settled."""
    page.goto("/search")
    page.get_by_label("Search lessons and clauses").press_sequentially(words, delay=20)
    results = page.locator("#results")
    expect(results).to_contain_text(f"“{words}”")
    return results


def test_submit_request_changes_resubmit_publish_and_find(
    open_page: Callable[..., Any], review_site: Site
) -> None:
    # The contributor writes a lesson and submits it with the form.
    author = open_page(review_site.url, user="riley", to="/entries/new")
    author.get_by_label("Title").fill(TITLE)
    author.get_by_label("Body (Markdown)").fill(
        "Records officers set the retention schedule; ask them before the data arrives."
    )
    author.get_by_label("Data Requests").check()
    author.get_by_role("button", name="Save and submit for review").click()
    author.wait_for_url(re.compile(r"/entries/\d+$"))
    entry_url = author.url
    expect(author.locator(".flash")).to_contain_text("Saved and submitted for review.")
    expect(author.locator("#entry .status")).to_have_text("In review")
    expect(author.get_by_role("button", name="Withdraw the submission")).to_be_visible()

    # Readers do not see a submission.
    reader = open_page(review_site.url)
    results = search_as_you_type(reader, "records officer retention")
    expect(results.get_by_role("link", name=TITLE)).to_have_count(0)

    # The curator finds it in the queue (the navigation says how many wait) and asks for changes.
    curator = open_page(review_site.url, user="quinn")
    review_link = curator.get_by_role("navigation", name="Your account and tools").get_by_role(
        "link", name=re.compile(r"^Review")
    )
    expect(review_link).to_contain_text("1 waiting")
    review_link.click()
    queue = curator.locator("#review-list table.queue")
    expect(queue.get_by_role("row", name=re.compile(re.escape(TITLE)))).to_contain_text("riley")
    queue.get_by_role("link", name=TITLE).click()
    curator.get_by_label("What should change?").fill(NOTE)
    curator.get_by_role("button", name="Request changes").click()
    expect(curator.locator(".flash")).to_contain_text("the author sees your note")
    expect(curator.locator("#entry .status")).to_have_text("Changes requested")
    curator.goto("/review")
    expect(curator.locator("#review-list")).to_contain_text("Nothing waits for review.")

    # The contributor is told, reads the note on the entry, edits and resubmits.
    author.goto("/notifications")
    expect(author.locator("main")).to_contain_text(f"Changes requested: {NOTE}")
    author.goto(entry_url)
    expect(author.locator("#entry [role=note]")).to_contain_text(f"Changes requested: {NOTE}")
    author.get_by_role("link", name="Edit", exact=True).click()
    body = author.get_by_label("Body (Markdown)")
    body.fill(
        "Records officers set the retention schedule; ask them before the data arrives. "
        "Write the retention period and who deletes the extract into the BUCP."
    )
    author.get_by_label("What changed (optional)").fill("Retention period and deletion added.")
    author.get_by_role("button", name="Save and submit for review").click()
    author.wait_for_url(entry_url)
    expect(author.locator(".flash")).to_contain_text("Saved and submitted for review.")
    expect(author.locator("#entry .status")).to_have_text("In review")
    expect(author.locator("#entry")).not_to_contain_text("Changes requested:")

    # The curator publishes the resubmission from the queue.
    curator.goto("/review")
    curator.locator("#review-list").get_by_role("link", name=TITLE).click()
    expect(curator.locator("#entry")).to_contain_text("who deletes the extract")
    curator.get_by_role("button", name="Publish", exact=True).click()
    expect(curator.locator(".flash")).to_contain_text("Published.")
    expect(curator.locator("#entry .status")).to_have_count(0)  # published shows no badge

    # An anonymous reader finds it by typing, and opens it.
    results = search_as_you_type(reader, "records officer retention")
    result = results.get_by_role("link", name=TITLE)
    expect(result).to_be_visible()
    result.click()
    expect(reader.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(reader.locator("#entry")).to_contain_text("who deletes the extract")
    expect(reader.get_by_role("button", name="Publish")).to_have_count(0)
