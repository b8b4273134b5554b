"""The search page and the search API: parameters, facets, history headers, the search log."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kb.extensions import db
from kb.finder import searchlog
from kb.models import SearchLog

RESULT_FIELDS = {"id", "uid", "kind", "title", "summary", "url", "score", "highlights"}
FACET_KEYS = {"kind", "category", "play", "clause_type", "program", "tag"}


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_api_search_shape(client):
    data = client.get("/api/v1/search?q=security&per_page=5").get_json()
    assert set(data) == {
        "query",
        "match",
        "total",
        "page",
        "per_page",
        "sort",
        "results",
        "facets",
        "suggestion",
    }
    assert data["query"] == "security" and data["match"] == "all" and data["sort"] == "relevance"
    assert data["total"] >= 5 and len(data["results"]) == 5 and data["page"] == 1
    first = data["results"][0]
    assert set(first) == RESULT_FIELDS
    assert first["url"].endswith(f"/entries/{first['id']}")
    assert any("<mark" in passage for result in data["results"] for passage in result["highlights"])
    assert set(data["facets"]) == FACET_KEYS
    kinds = {item["value"]: item for item in data["facets"]["kind"]}
    assert kinds["lesson"]["label"] == "Lessons" and kinds["lesson"]["selected"] is False
    assert sum(item["count"] for item in data["facets"]["kind"]) == data["total"]
    assert data["suggestion"] is None
    scores = [result["score"] for result in data["results"]]
    assert scores == sorted(scores, reverse=True)


def test_api_search_filters_and_facet_labels(client):
    data = client.get("/api/v1/search?q=data&kind=snippet&play=8").get_json()
    assert data["total"] >= 1
    plays = {item["value"]: item for item in data["facets"]["play"]}
    assert plays["8"]["selected"] and plays["8"]["label"] == "Play 8: Prepare to Receive Data"
    for result in data["results"]:
        assert result["kind"] == "snippet"
    programs = client.get("/api/v1/search?q=data").get_json()["facets"]["program"]
    assert {"walk2work (w2w)", "healthy habits"} & {item["value"] for item in programs}
    assert any(item["label"] == "Healthy Habits" for item in programs)


def test_api_search_without_facets_and_sorts(client):
    data = client.get("/api/v1/search?q=data&facets=false&sort=newest").get_json()
    assert data["facets"] == {} and data["sort"] == "newest"
    assert client.get("/api/v1/search?sort=verified").status_code == 200


def test_api_search_match_any_and_suggestion(client):
    anyway = client.get("/api/v1/search?q=security+zebras").get_json()
    assert anyway["match"] == "any" and anyway["total"] > 0
    typo = client.get("/api/v1/search?q=secuirty").get_json()
    assert typo["suggestion"] == "security" and typo["total"] > 0


@pytest.mark.parametrize(
    "query",
    ["page=0", "per_page=101", "sort=best", "facets=maybe", "kind=memo", "play=9", "play=two"],
)
def test_api_search_bad_parameters_are_400(client, query):
    response = client.get(f"/api/v1/search?q=data&{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == 400


MALFORMED = [
    '"unbalanced',
    "((data",
    "data))",
    "AND",
    "OR OR",
    "-",
    "NOT",
    "kind:",
    "type:",
    "*",
    "?",
    "title:",
    '"',
    "a" * 5000,
    "data\x00\x07 sharing",
    "{}[]",
    "play:99",
    "category:nope",
    "tag:",
    "^^^",
    "\\",
    "%",
    "data~2",
    "'",
]


@pytest.mark.parametrize("query", MALFORMED)
def test_malformed_queries_never_fail(client, query):
    page = client.get("/search", query_string={"q": query})
    api = client.get("/api/v1/search", query_string={"q": query})
    assert page.status_code == 200 and api.status_code == 200
    assert len(api.get_json()["query"]) <= 256


def test_long_query_is_capped_and_the_page_says_so(client):
    response = client.get("/search", query_string={"q": " ".join(["security"] * 30)})
    assert "Your query was shortened to 256 characters and 16 words." in _text(response)


def test_search_page_without_javascript(client):
    page = _text(client.get("/search?q=security&kind=lesson"))
    assert '<form id="search-form"' in page and 'action="/search" method="get"' in page
    assert 'name="kind" value="lesson"' in page  # the filter survives a plain form submit
    assert re.search(r"\d+ results? for “security”", page)
    assert '<mark class="match term0">' in page
    assert 'aria-label="Filter results"' in page and "facet-count" in page
    assert "Search tips" in page and "kind:snippet" in page


def test_facet_links_toggle_values(client):
    page = _text(client.get("/search?q=security"))
    assert 'href="/search?kind=lesson&amp;q=security"' in page
    selected = _text(client.get("/search?q=security&kind=lesson"))
    assert 'href="/search?q=security" hx-get="/search?q=security"' in selected  # removes it


def test_fragment_and_history_headers(htmx):
    typing = htmx.get("/search?q=secur&live=1", headers={"HX-Trigger": "q"})
    assert _text(typing).lstrip().startswith('<section id="results"')
    assert typing.headers["HX-Replace-Url"] == "/search?q=secur"
    # As-you-type requests skip facet counting: the filters of the search before give way
    # (their counts and links belong to the old words) until the search settles.
    assert 'class="facets facets-pending" aria-label="Filter results" hx-swap-oob="true"' in (
        _text(typing)
    )
    assert "facet-count" not in _text(typing)
    submitted = htmx.get("/search?q=security&sort=newest", headers={"HX-Trigger": "search-form"})
    assert submitted.headers["HX-Push-Url"] == "/search?q=security&sort=newest"
    assert 'id="facets" class="facets" aria-label="Filter results" hx-swap-oob="true"' in _text(
        submitted
    )
    assert 'id="search-filters" hx-swap-oob="true"' in _text(submitted)
    assert "HX-Request" in submitted.headers["Vary"]


def test_zero_results_state(client):
    page = _text(client.get("/search?q=zzqqxx&kind=snippet"))
    assert "Nothing matches “zzqqxx” with these filters." in page
    assert 'href="/search?q=zzqqxx">Search without filters' in page


def test_pagination_keeps_query_and_filters(client):
    page = _text(client.get("/search?q=data&per_page=5"))
    assert 'href="/search?q=data&amp;per_page=5&amp;page=2"' in page
    last = client.get("/search?q=data&per_page=5&page=999")
    assert last.status_code == 200 and 'rel="next"' not in _text(last)


def test_related_entries_on_the_entry_page(client):
    page = _text(client.get("/entries/20"))
    assert "Related entries" in page
    related = re.findall(r'<aside class="related".*?</aside>', page, re.S)[0]
    assert 1 <= related.count("<li>") <= 5
    assert 'href="/entries/20"' not in related


def test_settled_searches_are_logged_and_typing_is_not(app, make_entry):
    make_entry()
    client = app.test_client()
    client.get("/search?q=secur&live=1", headers={"HX-Request": "true", "HX-Trigger": "q"})
    client.get("/search?q=security&kind=lesson")
    client.get("/search?q=zzqqxx")
    client.get("/search")  # browsing without a query is not a search
    assert searchlog.flush(app) == 2
    with app.app_context():
        rows = db.session.scalars(select(SearchLog).order_by(SearchLog.id)).all()
        assert [(r.query, r.filters, r.results) for r in rows] == [
            ("security", {"kind": ["lesson"]}, 1),
            ("zzqqxx", {}, 0),
        ]
        assert not hasattr(SearchLog, "user_id")


def test_search_log_flushes_in_batches_after_the_response(app):
    client = app.test_client()
    for n in range(searchlog.BATCH_SIZE - 1):
        client.get(f"/search?q=word{n}")
    with app.app_context():
        assert db.session.scalar(select(SearchLog.id).limit(1)) is None  # still buffered
    client.get("/search?q=last").close()
    with app.app_context():
        assert len(db.session.scalars(select(SearchLog)).all()) == searchlog.BATCH_SIZE


def test_old_search_log_rows_are_purged(app):
    from datetime import timedelta

    from kb.models import utcnow

    with app.app_context():
        db.session.add(SearchLog(query="old", at=utcnow() - timedelta(days=91)))
        db.session.add(SearchLog(query="recent", at=utcnow() - timedelta(days=89)))
        db.session.commit()
    searchlog.flush(app)
    with app.app_context():
        assert db.session.scalars(select(SearchLog.query)).all() == ["recent"]


def test_typo_correction_is_shown_on_the_page(client):
    page = _text(client.get("/search?q=secuirty"))
    assert "Showing results for" in page and "<strong>security</strong>" in page
    assert "the closest words to “secuirty”" in page


def test_a_result_opened_from_the_as_you_type_list_settles_its_search(app, make_entry):
    """Typing is not logged; opening one of its results logs that search, once."""
    entry = make_entry()
    client = app.test_client()
    live = _text(
        client.get(
            "/search?q=security&kind=lesson&live=1",
            headers={"HX-Request": "true", "HX-Trigger": "q"},
        )
    )
    [href] = re.findall(rf'href="(/entries/{entry.id}\?[^"]*)"', live)
    href = href.replace("&amp;", "&")
    assert "from=search" in href and "q=security" in href and "kind=lesson" in href
    assert searchlog.flush(app) == 0  # typing logged nothing
    assert client.get(href).status_code == 200
    assert client.get(f"/entries/{entry.id}").status_code == 200  # a plain visit: no search
    assert client.get(f"/entries/{entry.id}?from=search").status_code == 200  # nothing searched
    assert searchlog.flush(app) == 1
    with app.app_context():
        row = db.session.scalars(select(SearchLog)).one()
        assert (row.query, row.filters, row.results) == ("security", {"kind": ["lesson"]}, 1)


def test_results_of_a_logged_search_link_plainly(app, make_entry):
    entry = make_entry()
    client = app.test_client()
    page = _text(client.get("/search?q=security"))
    assert f'href="/entries/{entry.id}"' in page
    assert "from=search" not in page
    client.get(f"/entries/{entry.id}")
    assert searchlog.flush(app) == 1  # the submitted search only, not the opening
