"""The read API v1 and /healthz."""

from __future__ import annotations

import pytest

ENTRY_FIELDS = {
    "uid", "id", "kind", "title", "summary", "body", "benefit", "context", "clause_type",
    "position", "usage_notes", "citations", "categories", "plays", "tags", "program", "status",
    "source", "revision", "verified_at", "review_due", "created_at", "updated_at", "author", "url",
}  # fmt: skip


def test_taxonomy_lists_six_categories_and_eight_plays(client):
    data = client.get("/api/v1/taxonomy").get_json()
    assert [c["slug"] for c in data["categories"]][:2] == ["bucp-creation", "data-requests"]
    assert len(data["categories"]) == 6
    assert [p["number"] for p in data["plays"]] == list(range(1, 9))
    assert data["plays"][3]["parallel_with"] == [5]
    assert len(data["clause_types"]) == 20
    assert {"slug", "name", "group", "requirement", "description"} == set(data["clause_types"][0])
    assert [phase["slug"] for phase in data["phases"]] == ["improvements", "share", "receive"]


def test_entries_list_shape_and_lesson_count(client):
    data = client.get("/api/v1/entries?kind=lesson&per_page=100").get_json()
    assert set(data) == {"total", "page", "per_page", "results"}
    assert data["total"] == 29 and len(data["results"]) == 29
    entry = data["results"][0]
    assert set(entry) == ENTRY_FIELDS
    assert entry["kind"] == "lesson" and entry["status"] == "published"
    assert entry["url"].startswith("http://localhost/entries/")
    assert entry["author"] == "Knowledge Base"
    assert isinstance(entry["categories"], list) and isinstance(entry["plays"], list)


def test_entries_filters(client):
    snippets = client.get("/api/v1/entries?kind=snippet").get_json()
    assert snippets["total"] >= 12
    assert all(item["kind"] == "snippet" for item in snippets["results"])
    play6 = client.get("/api/v1/entries?play=6&per_page=100").get_json()
    assert play6["total"] >= 3 and all(6 in item["plays"] for item in play6["results"])
    legal = client.get("/api/v1/entries?category=statutory-legal&per_page=100").get_json()
    assert all("statutory-legal" in item["categories"] for item in legal["results"])
    tag = legal["results"][0]["tags"][0]
    tagged = client.get(f"/api/v1/entries?tag={tag}").get_json()
    assert tagged["total"] >= 1 and all(tag in item["tags"] for item in tagged["results"])
    future = client.get("/api/v1/entries?updated_since=2999-01-01").get_json()
    assert future["total"] == 0
    past = client.get("/api/v1/entries?updated_since=2000-01-01T00:00:00Z").get_json()
    assert past["total"] >= 41


def test_entries_pagination(client):
    first = client.get("/api/v1/entries?per_page=10").get_json()
    second = client.get("/api/v1/entries?per_page=10&page=2").get_json()
    assert first["page"] == 1 and second["page"] == 2 and first["per_page"] == 10
    assert not {e["id"] for e in first["results"]} & {e["id"] for e in second["results"]}


@pytest.mark.parametrize(
    "query",
    ["page=-3", "page=0", "per_page=100000", "per_page=abc", "kind=memo", "play=9", "play=x",
     "updated_since=yesterday"],
)  # fmt: skip
def test_bad_parameters_are_400_json(client, query):
    response = client.get(f"/api/v1/entries?{query}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == 400 and error["message"]


def test_one_entry(client):
    listed = client.get("/api/v1/entries?per_page=1").get_json()["results"][0]
    one = client.get(f"/api/v1/entries/{listed['id']}").get_json()
    assert one == listed


def test_missing_entry_is_404_json(client):
    response = client.get("/api/v1/entries/999999")
    assert response.status_code == 404
    assert response.get_json() == {"error": {"code": 404, "message": "no such entry"}}


def test_drafts_are_not_in_the_api(app, make_entry):
    draft = make_entry(status="draft")
    client = app.test_client()
    assert client.get(f"/api/v1/entries/{draft.id}").status_code == 404
    assert client.get("/api/v1/entries").get_json()["total"] == 0


def test_healthz_reports_database_and_index(client):
    response = client.get("/healthz")
    data = response.get_json()
    assert response.status_code == 200
    assert data["status"] == "ok"
    assert data["database"] == {"ok": True}
    assert data["index"]["ok"] is True
    assert data["index"]["documents"] == data["index"]["applied_seq"] == 49
