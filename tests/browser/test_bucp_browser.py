"""The BUCP workspace in a real browser: assemble a BUCP from two clauses, fill a placeholder,
copy a clause, download the Word document."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import docx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Site


@pytest.fixture(scope="module")
def bucp_site(make_site: Callable[..., Site]) -> Site:
    """A separate app with the demo content (departments and clauses) and one contributor."""
    return make_site(demo=True, users={"author": "contributor"})


@pytest.fixture
def author_page(open_page: Callable[..., Any], bucp_site: Site) -> Any:
    """The contributor signed in on the BUCP list; the clipboard is allowed, as a user's click
    would allow it."""
    return open_page(
        bucp_site.url,
        user="author",
        to="/bucps",
        accept_downloads=True,
        permissions=("clipboard-read", "clipboard-write"),
    )


def insert_clause(page, slug: str, section: str, clause: str) -> None:
    page.locator(f"#section-{slug}").get_by_role("link", name="Write or insert a clause").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(section)
    page.get_by_role("button", name=f"Insert “{clause}”").click()
    expect(page.locator(".flash")).to_contain_text(f"Inserted “{clause}” (revision 1)")
    page.get_by_role("link", name="Back to the BUCP").click()


def test_assemble_a_bucp_and_download_the_word_document(author_page, tmp_path):
    page = author_page
    page.get_by_role("link", name="New BUCP", exact=True).click()
    page.get_by_label("Title").fill("Walk2Work and trail use")
    page.get_by_label("Requesting program").fill("Walk2Work (W2W)")
    page.get_by_label("Data provider (peer department)").select_option(
        label="Department of Outdoor Recreation"
    )
    page.get_by_label("Use case sponsor (a role, not a name)").fill("Walk2Work program lead")
    page.get_by_role("button", name="Create BUCP").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Walk2Work and trail use")

    insert_clause(
        page,
        "use-case-description",
        "Use case description / purpose",
        "Purpose statement for a program evaluation",
    )
    insert_clause(
        page,
        "data-transfer-management",
        "Data transfer / management",
        "Transfer through CDT SAFE using SFTP",
    )

    panel = page.locator("#bucp-placeholders")
    expect(panel.locator("input[name^='value-']").first).to_be_visible()
    panel.get_by_label(re.compile(r"^Program name")).fill("Walk2Work")
    panel.get_by_role("button", name="Save values").click()
    expect(page.locator("#bucp-placeholders")).to_contain_text("Placeholder values saved.")
    # htmx swapped the panel in place: the page around it is the same document
    assert page.evaluate("window.htmx !== undefined")
    page.reload()
    purpose = page.locator("#section-use-case-description .section-text")
    expect(purpose.locator("mark.ph-filled").first).to_be_visible()
    expect(purpose).to_contain_text("Walk2Work program asks")
    expect(purpose.locator("mark.ph-missing").first).to_contain_text("{{ requesting_department }}")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download Word (.docx)").click()
    download = info.value
    assert re.fullmatch(r"bucp-\d+-walk2work-and-trail-use\.docx", download.suggested_filename)
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    document = docx.Document(str(path))
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 2"]
    purpose_at = headings.index("Use case description / purpose")
    assert purpose_at < headings.index("Data transfer / management")
    body = "\n".join(p.text for p in document.paragraphs)
    assert "Walk2Work program asks" in body and "{{ program_name }}" not in body


def test_copy_a_clause_to_the_clipboard(author_page):
    page = author_page
    page.get_by_role("link", name="New BUCP", exact=True).click()
    page.get_by_label("Title").fill("Copy test")
    page.get_by_label("Requesting program").fill("Healthy Habits")
    page.get_by_label("Data provider (peer department)").select_option(index=1)
    page.get_by_role("button", name="Create BUCP").click()
    section = page.locator("#section-data-transfer-management")
    section.get_by_role("link", name="Write or insert a clause").click()
    card = page.locator(".snippet").filter(has_text="Transfer through CDT SAFE using SFTP")
    card.get_by_role("button", name="Copy text").click()
    expect(card.locator(".copy-status")).to_have_text("Copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "{{ transfer_method }}" in copied and "SAFE" in copied
