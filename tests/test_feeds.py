"""The Atom feed: validity, order, filters, absolute URLs, read access, links from pages."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import select

from kb.entries import editing
from kb.entries import history
from kb.entries import workflow
from kb.extensions import db
from kb.models import Entry
from kb.models import Revision
from kb.models import User
from kb.models import utcnow

NS = {"a": "http://www.w3.org/2005/Atom"}
FEED = "/feeds/entries.atom"


def _feed(client, query: str = "", status: int = 200) -> ET.Element:
    response = client.get(FEED + query)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/atom+xml"
    return ET.fromstring(response.data)


def _titles(feed: ET.Element) -> list[str]:
    return [entry.findtext("a:title", namespaces=NS) for entry in feed.findall("a:entry", NS)]


def _age(app, entry_id: int, days: int) -> None:
    with app.app_context():
        db.session.get(Entry, entry_id).updated_at = utcnow() - timedelta(days=days)
        db.session.commit()


@pytest.fixture
def entries(app, make_entry):
    """Three published entries of different ages, a draft, and a clause."""
    old = make_entry(title="Old security lesson", plays=[7], tags=["sftp"], summary="Short.")
    mid = make_entry(title="Data steward list", categories=["data-requests"], plays=[2])
    new = make_entry(
        title="Quarterly transfer clause",
        kind="snippet",
        clause_type="data-transfer-management",
        categories=[],
        body="Files move every quarter by **SFTP**.",
    )
    make_entry(title="Unpublished draft lesson", status="draft")
    _age(app, old.id, 30)
    _age(app, mid.id, 10)
    _age(app, new.id, 1)
    return {"old": old, "mid": mid, "new": new}


def test_feed_is_valid_atom_with_absolute_urls(app, entries):
    app.config["BASE_URL"] = "https://intranet.example.gov/kb"
    feed = _feed(app.test_client())
    assert feed.tag == "{http://www.w3.org/2005/Atom}feed"
    for name in ("id", "title", "updated"):
        assert feed.findtext(f"a:{name}", namespaces=NS)
    assert feed.find("a:author/a:name", NS).text == "BUCP Knowledge Base"
    links = {link.get("rel"): link for link in feed.findall("a:link", NS)}
    assert links["self"].get("href") == "https://intranet.example.gov/kb/feeds/entries.atom"
    assert links["self"].get("type") == "application/atom+xml"
    assert links["alternate"].get("href") == "https://intranet.example.gov/kb/"
    items = feed.findall("a:entry", NS)
    assert len(items) == 3
    first = items[0]
    assert first.findtext("a:id", namespaces=NS) == f"urn:uuid:{entries['new'].uid}"
    link = first.find("a:link", NS)
    assert link.get("rel") == "alternate"
    assert link.get("href") == f"https://intranet.example.gov/kb/entries/{entries['new'].id}"
    content = first.find("a:content", NS)
    assert content.get("type") == "html"
    assert "<strong>SFTP</strong>" in content.text
    assert "Clause type: Data transfer / management" in content.text
    assert first.findtext("a:author/a:name", namespaces=NS)
    for item in items:
        for name in ("id", "title", "updated", "published"):
            assert item.findtext(f"a:{name}", namespaces=NS), name
    last = items[-1]
    assert last.find("a:summary", NS).text == "Short."
    terms = {c.get("term") for c in last.findall("a:category", NS)}
    assert terms == {"security-reviews", "play-7", "sftp"}


def test_feed_is_newest_first_and_a_new_publication_counts_as_new(app, entries, users):
    assert _titles(_feed(app.test_client())) == [
        "Quarterly transfer clause",
        "Data steward list",
        "Old security lesson",
    ]
    with app.app_context():
        draft = db.session.scalar(select(Entry).where(Entry.status == "draft"))
        draft.updated_at = utcnow() - timedelta(days=100)
        curator = db.session.get(User, users["cu"])
        workflow.transition(db.session, draft, "publish", actor=curator)
        db.session.commit()
    titles = _titles(_feed(app.test_client()))
    assert titles[0] == "Unpublished draft lesson" and len(titles) == 4


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("?category=data-requests", ["Data steward list"]),
        ("?play=7", ["Old security lesson"]),
        ("?play=2&play=7", ["Data steward list", "Old security lesson"]),
        ("?tag=sftp", ["Old security lesson"]),
        ("?kind=snippet", ["Quarterly transfer clause"]),
        ("?clause_type=data-transfer-management", ["Quarterly transfer clause"]),
        ("?q=steward", ["Data steward list"]),
        ("?q=draft", []),
        ("?q=lesson&category=security-reviews", ["Old security lesson"]),
    ],
)
def test_feed_filters_narrow_it_like_search(app, entries, query, titles):
    feed = _feed(app.test_client(), query)
    assert _titles(feed) == titles
    self_link = next(link for link in feed.findall("a:link", NS) if link.get("rel") == "self")
    assert self_link.get("href").startswith("http://localhost/feeds/entries.atom?")


def test_feed_title_and_alternate_describe_the_filters(app, entries):
    feed = _feed(app.test_client(), "?category=data-requests&q=steward")
    assert feed.findtext("a:title", namespaces=NS).endswith("(“steward”; Category: data-requests)")
    alternate = next(link for link in feed.findall("a:link", NS) if link.get("rel") == "alternate")
    assert alternate.get("href").startswith("http://localhost/search?")
    assert "category=data-requests" in alternate.get("href")


def test_feed_answers_conditional_requests(app, entries):
    client = app.test_client()
    first = client.get(FEED)
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    again = client.get(FEED, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_feed_with_login_read_access(app, entries, users, login):
    app.config["READ_ACCESS"] = "login"
    response = app.test_client().get(FEED)
    assert response.status_code == 401
    assert "feed readers cannot sign in: add ?token=" in response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert app.test_client().get("/categories/data-requests").status_code == 303  # pages: sign in
    assert app.test_client().get(FEED + "?token=not-a-token").status_code == 401
    assert _titles(_feed(login("cora")))[0] == "Quarterly transfer clause"


def test_feed_never_shows_a_redacted_revision(app, make_entry, users):
    published = make_entry(title="Ask the steward", body="Phone Jane Roe at 555-0100.")
    with app.app_context():
        entry = db.session.get(Entry, published.id)
        contributor = db.session.get(User, users["cora"])
        entry.author_id = contributor.id
        db.session.flush()
        record = {"title": "Ask the steward", "body": "Ask.", "categories": ["security-reviews"]}
        editing.update(db.session, entry, record, editor=contributor, version=entry.version)
        revision = db.session.scalar(select(Revision).where(Revision.number == 1))
        admin = db.session.get(User, users["ad"])
        history.redact(db.session, entry, revision, actor=admin, reason="A name")
        db.session.commit()
    text = app.test_client().get(FEED).get_data(as_text=True)
    assert "555-0100" not in text and history.REDACTED_TEXT in text


@pytest.mark.parametrize(
    ("page", "feed"),
    [
        ("/categories/data-requests", "/feeds/entries.atom?category=data-requests"),
        ("/plays/7", "/feeds/entries.atom?play=7"),
        ("/tags/sftp", "/feeds/entries.atom?tag=sftp"),
        ("/search?q=steward&amp;category=data-requests", None),
    ],
)
def test_pages_link_their_feed(app, entries, page, feed):
    text = app.test_client().get(page.replace("&amp;", "&")).get_data(as_text=True)
    if feed is None:
        feed = "/feeds/entries.atom?q=steward&amp;category=data-requests"
    head = text.split("</head>")[0]
    assert '<link rel="alternate" type="application/atom+xml"' in head
    assert f'href="{feed}"' in head
    assert f'<a href="{feed}" type="application/atom+xml">Follow (Atom feed)</a>' in text
