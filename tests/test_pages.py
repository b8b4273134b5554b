"""Pages: status and content of every page, fragments for htmx, pagination, errors."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kb.extensions import db
from kb.models import Entry


def _text(response) -> str:
    return response.get_data(as_text=True)


def _first_lesson(app, **where) -> Entry:
    with app.app_context():
        statement = select(Entry).where(Entry.kind == "lesson").order_by(Entry.id)
        for name, value in where.items():
            statement = statement.where(getattr(Entry, name) == value)
        return db.session.scalars(statement).first()


def test_home_lists_categories_plays_and_recent_entries(client):
    response = client.get("/")
    page = _text(response)
    assert response.status_code == 200
    assert "What has your department learned about sharing data?" in page
    assert 'action="/search"' in page
    for slug in ("bucp-creation", "data-requests", "statutory-legal", "security-reviews",
                 "data-fulfillment", "process-improvement"):  # fmt: skip
        assert f'href="/categories/{slug}"' in page
    assert re.search(r"BUCP Creation</span>\s*<span class=\"tile-count\">1\d entries", page)
    for number in range(1, 9):
        assert f'href="/plays/{number}"' in page
    assert (
        page.index("Data-sharing improvements")
        < page.index("Share data")
        < page.index("Receive data")
    )
    assert "Recently updated" in page
    assert page.count('class="card"') == 8
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_category_page_lists_its_lessons(client):
    response = client.get("/categories/security-reviews")
    page = _text(response)
    assert response.status_code == 200
    assert "<h1>Security Reviews</h1>" in page
    assert re.search(r"\d+ entries", page)
    assert page.count('class="card"') >= 2


def test_play_page(client):
    page = _text(client.get("/plays/6"))
    assert "Play 6: Describe Your Data" in page
    assert 'href="/plays/5"' in page and 'href="/plays/7"' in page
    assert page.count('class="card"') >= 3


def test_play_without_entries_shows_an_empty_state(client):
    response = client.get("/plays/2")
    assert response.status_code == 200
    assert "No lesson or clause points to this play yet." in _text(response)


def test_tag_page_and_unknown_tag(client, seeded_app):
    with seeded_app.app_context():
        entry = db.session.scalars(select(Entry).where(Entry.tags.any())).first()
        tag = entry.tags[0].name
    page = _text(client.get(f"/tags/{tag}"))
    assert f"#{tag}" in page and 'class="card"' in page
    response = client.get("/tags/No Such Tag")
    assert response.status_code == 200
    assert "#no-such-tag" in _text(response)
    assert "Nothing carries this tag yet." in _text(response)


def test_entry_page_shows_a_lesson(client, seeded_app):
    lesson = _first_lesson(seeded_app)
    response = client.get(f"/entries/{lesson.id}")
    page = _text(response)
    assert response.status_code == 200
    assert f"<h1>{lesson.title.replace(chr(39), '&#39;')}</h1>" in page
    assert "Why it helps" in page
    assert "Adapted from the CalHHS Data-Sharing Guidebook, Lessons Learned" in page
    assert 'href="/categories/bucp-creation"' in page


def test_entry_page_shows_a_snippet_with_citations(client, seeded_app):
    with seeded_app.app_context():
        # JSON has no equality on PostgreSQL: pick the first snippet with citations in Python.
        snippets = db.session.scalars(
            select(Entry).where(Entry.kind == "snippet").order_by(Entry.id)
        )
        snippet = next(entry for entry in snippets if entry.citations)
        citation = snippet.citations[0]
        clause_type = snippet.clause_type.name
    page = _text(client.get(f"/entries/{snippet.id}"))
    assert "Clause text" in page and "Legal citations" in page
    assert citation.replace("'", "&#39;") in page
    assert clause_type in page
    assert "Demo content" in page


def test_draft_entries_are_not_shown_to_readers(app, make_entry):
    draft = make_entry(status="draft", title="Secret draft")
    client = app.test_client()
    assert client.get(f"/entries/{draft.id}").status_code == 404
    assert "Secret draft" not in _text(client.get("/"))


def test_hostile_markdown_in_an_entry_is_sanitised(app, make_entry):
    entry = make_entry(
        body="<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>"
    )
    page = _text(app.test_client().get(f"/entries/{entry.id}"))
    assert "<script>alert" not in page
    assert 'href="javascript:' not in page
    assert "<img src=x onerror" not in page
    assert "&lt;script&gt;" in page


@pytest.mark.parametrize(
    "url", ["/entries/999999", "/categories/nope", "/plays/9", "/plays/0", "/nowhere"]
)
def test_unknown_pages_are_404_pages(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert "Page not found" in _text(response)
    assert "Traceback" not in _text(response)


def test_404_for_htmx_is_a_fragment(htmx):
    response = htmx.get("/entries/999999")
    assert response.status_code == 404
    assert _text(response).lstrip().startswith('<section id="error"')


def test_htmx_request_gets_the_fragment_and_vary(client, htmx):
    full = client.get("/categories/data-requests")
    fragment = htmx.get("/categories/data-requests")
    assert "<html" in _text(full) and "<html" not in _text(fragment)
    assert _text(fragment).lstrip().startswith('<section id="entry-list"')
    assert "HX-Request" in full.headers["Vary"] and "HX-Request" in fragment.headers["Vary"]


def test_boosted_and_history_restore_requests_get_the_full_page(htmx):
    boosted = htmx.get("/categories/data-requests", headers={"HX-Boosted": "true"})
    restore = htmx.get("/categories/data-requests", headers={"HX-History-Restore-Request": "true"})
    assert "<html" in _text(boosted) and "<html" in _text(restore)


def test_pagination_and_clamping(client):
    first = client.get("/categories/bucp-creation?per_page=5")
    assert "page 1 of" in _text(first)
    assert 'rel="next"' in _text(first)
    assert _text(first).count('class="card"') == 5
    last = client.get("/categories/bucp-creation?per_page=5&page=999")
    assert last.status_code == 200
    assert 'rel="next"' not in _text(last) and 'rel="prev"' in _text(last)
    for query in ("page=-3", "per_page=100000", "page=abc", "per_page=0"):
        assert client.get(f"/categories/bucp-creation?{query}").status_code == 200


def test_search_page(client):
    response = client.get("/search?q=SAFE+transfer")
    assert response.status_code == 200
    assert "result" in _text(response)
    empty = client.get("/search?q=zzzzqqqq")
    assert "Nothing matches" in _text(empty)


def test_control_characters_are_stripped_from_input(client):
    response = client.get("/search?q=secur%00ity%07")
    assert response.status_code == 200
    assert 'value="security"' in _text(response)


def test_vendored_htmx_matches_its_integrity_hash(client):
    import base64
    import hashlib

    page = _text(client.get("/"))
    src, integrity = re.search(r'<script src="([^"]+)" integrity="sha384-([^"]+)"', page).groups()
    response = client.get(src)
    body = response.data
    response.close()
    assert base64.b64encode(hashlib.sha384(body).digest()).decode() == integrity
    assert b"2.0.11" in body


def test_server_errors_are_friendly_pages_without_a_trace(app):
    def boom():
        raise RuntimeError("secret internal detail")

    app.add_url_rule("/boom", "boom", boom)
    app.add_url_rule("/api/v1/boom", "api_boom", boom)
    client = app.test_client()
    page = client.get("/boom")
    assert page.status_code == 500
    assert "Something went wrong" in _text(page) and "<html" in _text(page)
    assert "secret internal detail" not in _text(page) and "Traceback" not in _text(page)
    fragment = client.get("/boom", headers={"HX-Request": "true"})
    assert fragment.status_code == 500 and "<html" not in _text(fragment)
    api = client.get("/api/v1/boom")
    assert api.status_code == 500 and api.get_json()["error"]["code"] == 500


def test_wrong_method_is_405(client):
    response = client.post("/api/v1/taxonomy")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == 405
