"""The main paths by keyboard alone (Tab, Shift+Tab, Enter, Space and typing; no clicks):
the skip link, searching and opening a result, signing in, submitting a lesson, a curator
publishing it. Every element the keyboard reaches must show where the focus is."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Site
from tests.browser.conftest import password

FOCUSED = """() => {
  const element = document.activeElement;
  if (!element || element === document.body) return null;
  const style = getComputedStyle(element);
  return {
    tag: element.tagName.toLowerCase(),
    id: element.id,
    text: (element.innerText || element.value || "").trim().slice(0, 80),
    outline: style.outlineStyle === "none" ? "none" : style.outlineWidth,
    shadow: style.boxShadow,
  };
}"""


def focused(page: Any) -> dict[str, str] | None:
    """What has the focus, and its focus ring (outline width or ``none``, box-shadow)."""
    return page.evaluate(FOCUSED)


def assert_focus_visible(page: Any) -> dict[str, str]:
    """The focused element shows a focus ring: an outline or a box-shadow."""
    element = focused(page)
    assert element is not None, "nothing has the focus"
    visible = element["outline"] not in ("none", "0px") or element["shadow"] != "none"
    assert visible, f"no visible focus on {element}"
    return element


def tab_to(page: Any, selector: str, *, limit: int = 80, back: bool = False) -> dict[str, str]:
    """Press Tab (``back``: Shift+Tab) until ``selector`` has the focus; every stop on the way
    must show its focus."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if focused(page) is None:
            continue  # past the last element the focus leaves the page, then wraps around
        element = assert_focus_visible(page)
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return element
    raise AssertionError(f"{limit} presses of Tab never reached {selector}")


def sign_in_by_keyboard(page: Any, name: str, to: str) -> None:
    page.goto(f"/login?next={to}")
    assert focused(page)["id"] == "username", "the sign-in form starts in its first field"
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "password"
    page.keyboard.type(password(name))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"^https?://[^/?]+" + re.escape(to) + "$"))


@pytest.fixture(scope="module")
def keyboard_site(make_site: Callable[..., Site]) -> Site:
    """A separate app with the guidebook lessons, a contributor and a curator."""
    return make_site(users={"kim": "contributor", "kurt": "curator"})


def test_the_skip_link_moves_the_focus_to_the_main_content(page):
    page.goto("/categories/data-requests")
    page.keyboard.press("Tab")
    skip = assert_focus_visible(page)
    assert skip["text"] == "Skip to content"
    box = page.locator(".skip-link").bounding_box()
    assert box is not None and box["y"] >= 0, "the focused skip link is on screen"
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "main"
    page.keyboard.press("Tab")  # the next stop is inside the main content, not the header
    assert page.evaluate("document.querySelector('main').contains(document.activeElement)")
    assert_focus_visible(page)


#: What the search does 1.5 s after typing stops: fetch the results again and swap them in.
RESETTLE = """() => htmx.ajax("GET", location.pathname + location.search,
  {source: "#search-settle", target: "#results", swap: "outerHTML"})"""


def settled(response: Any) -> bool:
    """The search after a pause in typing (logged, with facets) came back."""
    return response.request.headers.get("hx-trigger") == "search-settle"


def test_search_and_open_a_result_by_keyboard(page):
    """Type, see results while typing, Tab into them, Enter opens the entry; when the page
    swaps the results in again on its own (as a settling search does), the focus stays."""
    page.goto("/search")
    tab_to(page, "#q")
    with page.expect_response(settled, timeout=15_000):
        page.keyboard.type("transfer", delay=30)
        expect(page.locator("#results .count")).to_contain_text("for “transfer”")
        expect(page).to_have_url(re.compile(r"q=transfer"))
        assert focused(page)["id"] == "q", "the results swapped in without taking the focus"
    result = tab_to(page, "#results .card-title a")
    page.evaluate(RESETTLE)
    assert focused(page) is not None, "the swap threw the focus out of the page"
    assert focused(page)["text"] == result["text"], "the swap moved the focus"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/entries/\d+"))
    expect(page.get_by_role("heading", level=1)).to_have_text(result["text"])


def test_submit_a_lesson_and_publish_it_by_keyboard(
    open_page: Callable[..., Any], keyboard_site: Site
) -> None:
    title = "Keep the signed BUCP where the whole team can find it"
    author = open_page(keyboard_site.url)
    sign_in_by_keyboard(author, "kim", "/entries/new")
    tab_to(author, "#title")
    author.keyboard.type(title)
    tab_to(author, "#body")
    author.keyboard.type("Store the signed copy in the shared BUCP folder, not in one inbox.")
    category = author.get_by_label("BUCP Creation")
    tab_to(author, f"#{category.get_attribute('id')}")
    author.keyboard.press("Space")
    expect(category).to_be_checked()
    tab_to(author, "button[value=submit]")
    author.keyboard.press("Enter")
    author.wait_for_url(re.compile(r"/entries/\d+$"))
    expect(author.locator(".flash")).to_contain_text("Saved and submitted for review.")
    expect(author.get_by_role("heading", level=1)).to_have_text(title)

    curator = open_page(keyboard_site.url)
    sign_in_by_keyboard(curator, "kurt", "/review")
    tab_to(curator, "#review-list a")
    assert focused(curator)["text"] == title
    curator.keyboard.press("Enter")
    curator.wait_for_url(author.url)
    publish = tab_to(curator, "#entry .actions button")
    while publish["text"] != "Publish":
        publish = tab_to(curator, "#entry .actions button")
    curator.keyboard.press("Enter")
    expect(curator.locator(".flash")).to_contain_text("Published.")
    expect(curator.locator("#entry .status")).to_have_count(0)
