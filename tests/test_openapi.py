"""The OpenAPI document: valid OpenAPI 3.1, complete, and true of real responses."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry
from referencing import Resource
from referencing.jsonschema import DRAFT202012

from kb.entries import workflow
from kb.extensions import db
from kb.models import Entry
from kb.models import User
from tests.test_api_write import LESSON
from tests.test_tokens import bearer

DOC_URI = "urn:kb:openapi"


@pytest.fixture(scope="module")
def doc(seeded_app) -> dict[str, Any]:
    """The document as served."""
    response = seeded_app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref``s inside the document (``#/components/responses/…``)."""
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def check(doc: dict[str, Any], response, path: str, method: str = "get") -> Any:
    """Validate a real response against the schema documented for its path, method and status."""
    operation = doc["paths"][path][method]
    documented = operation["responses"].get(str(response.status_code))
    assert documented, f"{method.upper()} {path} does not document {response.status_code}"
    documented = _resolve(doc, documented)
    schema = documented["content"]["application/json"]["schema"]
    for header in documented.get("headers", {}):
        if header != "WWW-Authenticate":
            assert header in response.headers, f"{header} is documented but missing"
    registry = Registry().with_resource(DOC_URI, Resource(doc, DRAFT202012))
    wrapped = {"$ref": DOC_URI + "#" + _pointer(schema)} if "$ref" in schema else schema
    validator = Draft202012Validator(
        wrapped, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    data = response.get_json()
    errors = sorted(validator.iter_errors(data), key=lambda error: list(error.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    return data


def _pointer(schema: dict[str, Any]) -> str:
    return schema["$ref"].removeprefix("#")


# --- the document -------------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(doc):
    validate(doc)
    assert doc["openapi"].startswith("3.1") and doc["servers"] == [{"url": "http://localhost"}]
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal API token (`kb_…`).",
    }


def test_every_api_route_is_described(seeded_app, doc):
    routes = set()
    for rule in seeded_app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") or rule.rule == "/healthz":
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    described = {
        (path, method)
        for path, item in doc["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert routes == described


def test_every_schema_is_a_valid_json_schema(doc):
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
        assert schema, name


def test_the_entry_schema_catches_drift(doc):
    """The check below is strict enough to fail on a missing or an extra field."""
    registry = Registry().with_resource(DOC_URI, Resource(doc, DRAFT202012))
    validator = Draft202012Validator(
        {"$ref": DOC_URI + "#/components/schemas/Entry"}, registry=registry
    )
    assert not validator.is_valid({"id": 1})
    entry = {name: None for name in doc["components"]["schemas"]["Entry"]["required"]}
    assert not validator.is_valid({**entry, "extra": 1})


# --- real responses of every endpoint -------------------------------------------------------------


def test_read_responses_match(client, doc):
    listed = check(doc, client.get("/api/v1/entries?kind=lesson&per_page=100"), "/api/v1/entries")
    assert listed["total"] == 29
    check(doc, client.get("/api/v1/entries?kind=snippet&play=6"), "/api/v1/entries")
    check(doc, client.get("/api/v1/entries?updated_since=2000-01-01"), "/api/v1/entries")
    check(doc, client.get("/api/v1/entries?page=99"), "/api/v1/entries")
    one = client.get(f"/api/v1/entries/{listed['results'][0]['id']}")
    check(doc, one, "/api/v1/entries/{entry_id}")
    snippet = client.get("/api/v1/entries?kind=snippet&per_page=1").get_json()["results"][0]
    check(doc, client.get(f"/api/v1/entries/{snippet['id']}"), "/api/v1/entries/{entry_id}")
    check(doc, client.get("/api/v1/taxonomy"), "/api/v1/taxonomy")
    check(doc, client.get("/api/v1/openapi.json"), "/api/v1/openapi.json")
    check(doc, client.get("/healthz"), "/healthz")


@pytest.mark.parametrize(
    "query",
    ["q=data", "q=secuirty", "q=data&facets=false", "q=&kind=snippet&sort=newest&per_page=3",
     "q=security&category=security-reviews&play=6&tag=statutes&page=2", "q=%22unbalanced"],
)  # fmt: skip
def test_search_responses_match(client, doc, query):
    data = check(doc, client.get(f"/api/v1/search?{query}"), "/api/v1/search")
    if "facets=false" in query:
        assert data["facets"] == {}


def test_error_responses_match(client, doc):
    check(doc, client.get("/api/v1/entries?per_page=1000"), "/api/v1/entries")
    check(doc, client.get("/api/v1/search?sort=sideways"), "/api/v1/search")
    check(doc, client.get("/api/v1/entries/999999"), "/api/v1/entries/{entry_id}")
    check(doc, client.get("/api/v1/metrics"), "/api/v1/metrics")
    bad = client.get("/api/v1/taxonomy", headers={"Authorization": "Bearer kb_nope"})
    check(doc, bad, "/api/v1/taxonomy")


def test_metrics_responses_match(app, users, doc):
    client = app.test_client()
    for name in ("cora", "cu"):
        check(
            doc, client.get("/api/v1/metrics", headers=bearer(app, users[name])), "/api/v1/metrics"
        )
    bad = client.get("/api/v1/metrics?demo=maybe", headers=bearer(app, users["cu"]))
    check(doc, bad, "/api/v1/metrics")


def test_write_responses_match(app, users, doc):
    client = app.test_client()
    cora, cal = bearer(app, users["cora"]), bearer(app, users["cal"])
    curator = bearer(app, users["cu"])
    created = check(
        doc, client.post("/api/v1/entries", json=LESSON, headers=cora), "/api/v1/entries", "post"
    )
    url, path = f"/api/v1/entries/{created['id']}", "/api/v1/entries/{entry_id}"
    for response, where, method in (
        (
            client.post("/api/v1/entries", json={"kind": "x"}, headers=cora),
            "/api/v1/entries",
            "post",
        ),
        (client.post("/api/v1/entries", data="x", headers=cora), "/api/v1/entries", "post"),
        (client.post("/api/v1/entries", json=LESSON), "/api/v1/entries", "post"),
        (
            client.post("/api/v1/entries", json={**LESSON, "status": "published"}, headers=cora),
            "/api/v1/entries",
            "post",
        ),
        (client.patch(url, json={"title": "B", "version": 1}, headers=cora), path, "patch"),
        (client.patch(url, json={"title": "C", "version": 1}, headers=cora), path, "patch"),
        (client.patch(url, json={"title": "D"}, headers=cora), path, "patch"),
        (client.patch(url, json={"title": "E", "version": 2}, headers=cal), path, "patch"),
        (client.patch("/api/v1/entries/999", json={"version": 1}, headers=cora), path, "patch"),
    ):
        check(doc, response, where, method)
    published = client.post(
        "/api/v1/entries", json={**LESSON, "status": "published"}, headers=curator
    )
    check(doc, published, "/api/v1/entries", "post")
    others = f"/api/v1/entries/{published.get_json()['id']}"
    forbidden = client.patch(others, json={"title": "G", "version": 1}, headers=cal)
    assert forbidden.status_code == 403
    check(doc, forbidden, path, "patch")
    with app.app_context():  # cora's entry is published: her edits now wait for a curator
        entry = db.session.get(Entry, created["id"])
        workflow.transition(db.session, entry, "publish", actor=db.session.get(User, users["cu"]))
        db.session.commit()
    pending = client.patch(url, json={"title": "F", "version": 2}, headers=cora)
    assert pending.status_code == 202
    check(doc, pending, path, "patch")
