"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 description of the JSON API v1, written by hand.

tests/test_openapi.py validates this document and checks real responses of every endpoint
against its schemas, so the description cannot drift from what the API sends.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from kb.api.views import VERSION_HEADER
from kb.api.views import bp
from kb.models import ENTRY_KINDS
from kb.models import ENTRY_STATUSES
from kb.models import POSITIONS
from kb.pagination import MAX_PER_PAGE
from kb.web import external_url

JSON = "application/json"


def ref(name: str) -> dict[str, str]:
    """A reference to a schema of this document."""
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(ref("Error"), description)


def _object(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A closed object whose properties are all required."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
        **extra,
    }


def _query(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema, **extra}


def _repeatable(name: str, description: str, items: dict[str, Any]) -> dict[str, Any]:
    return _query(
        name,
        description + " Repeat the parameter for several values (they combine with OR).",
        {"type": "array", "items": items},
        style="form",
        explode=True,
    )


TEXT = {"type": "string"}
MARKDOWN = {"type": "string", "description": "Markdown (raw HTML is not rendered)."}
DATE_TIME = {"type": "string", "format": "date-time"}
TEXT_LIST = {"type": "array", "items": TEXT}
PLAY = {"type": "integer", "minimum": 1, "maximum": 8}
#: On input, lists may also be one string: ``;``-separated (``\n`` for citations, as in CSV).
TEXT_LIST_INPUT = {"oneOf": [TEXT_LIST, TEXT]}

ENTRY_PROPERTIES: dict[str, Any] = {
    "uid": {"type": "string", "format": "uuid", "description": "Stable across instances."},
    "id": {"type": "integer", "description": "Local id; page URLs use it."},
    "kind": {"type": "string", "enum": list(ENTRY_KINDS)},
    "title": {**TEXT, "maxLength": 200},
    "summary": {**TEXT, "maxLength": 500},
    "body": {**MARKDOWN, "maxLength": 20_000},
    "benefit": {**MARKDOWN, "maxLength": 5_000},
    "context": MARKDOWN,
    "clause_type": _nullable({**TEXT, "description": "Clause type slug (snippets)."}),
    "position": {"type": "string", "enum": list(POSITIONS)},
    "usage_notes": MARKDOWN,
    "citations": TEXT_LIST,
    "categories": {**TEXT_LIST, "description": "Category slugs."},
    "plays": {"type": "array", "items": PLAY},
    "tags": {**TEXT_LIST, "description": "Normalised: lower case, words joined by hyphens."},
    "program": _nullable(TEXT),
    "status": {"type": "string", "enum": list(ENTRY_STATUSES)},
    "source": TEXT,
    "revision": {"type": "integer", "description": "The published (or newest) revision."},
    "verified_at": _nullable(DATE_TIME),
    "review_due": _nullable(DATE_TIME),
    "created_at": DATE_TIME,
    "updated_at": DATE_TIME,
    "author": _nullable(TEXT),
    "url": _nullable({"type": "string", "format": "uri", "description": "The entry's page."}),
}
#: What a record may send (DESIGN §6); generated fields are accepted and ignored.
INPUT_PROPERTIES: dict[str, Any] = {
    **{name: {} for name in ENTRY_PROPERTIES},
    "uid": ENTRY_PROPERTIES["uid"],
    "kind": ENTRY_PROPERTIES["kind"],
    **{name: ENTRY_PROPERTIES[name] for name in ("title", "summary", "body", "benefit")},
    **{name: ENTRY_PROPERTIES[name] for name in ("context", "position", "usage_notes")},
    "clause_type": _nullable({**TEXT, "description": "Clause type slug or name."}),
    "citations": {**TEXT_LIST_INPUT, "description": "A list, or one string with one per line."},
    "categories": {**TEXT_LIST_INPUT, "description": "Slugs or names; lessons need one."},
    "plays": {"oneOf": [{"type": "array", "items": {"type": ["integer", "string"]}}, TEXT]},
    "tags": {**TEXT_LIST_INPUT, "description": "Created on first use."},
    "program": _nullable({**TEXT, "maxLength": 120, "description": "Created on first use."}),
    "source": {**TEXT, "maxLength": 500},
    "status": ENTRY_PROPERTIES["status"],
    "revision": {"type": ["integer", "null"], "minimum": 1},
}
SEARCH_FIELDS = ("query", "match", "total", "page", "per_page", "sort", "results", "facets")
SEARCH_FIELDS += ("suggestion",)
SCHEMAS: dict[str, Any] = {
    "Entry": {
        "type": "object",
        "description": "An entry with every field of DESIGN §6 (readers see published content).",
        "properties": ENTRY_PROPERTIES,
        "required": list(ENTRY_PROPERTIES),
        "additionalProperties": False,
    },
    "EntryCreate": {
        "type": "object",
        "description": (
            "An import record. `status`: draft (default) or in_review for contributors; "
            "published and archived too for curators. Unknown fields are refused by name."
        ),
        "properties": INPUT_PROPERTIES,
        "required": ["kind", "title", "body"],
        "additionalProperties": False,
    },
    "EntryPatch": {
        "type": "object",
        "description": (
            "Only the fields to change, plus `version`. `kind`, `uid` and `status` cannot change "
            "here (sending their current value is fine); generated fields are ignored."
        ),
        "properties": {
            **INPUT_PROPERTIES,
            "version": {
                "type": "integer",
                "minimum": 1,
                "description": f"The entry's version, from the `{VERSION_HEADER}` header.",
            },
            "note": {**TEXT, "maxLength": 500, "description": "The revision note."},
        },
        "required": ["version"],
        "additionalProperties": False,
    },
    "EntryList": {
        "type": "object",
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
            "results": {"type": "array", "items": ref("Entry")},
        },
        "required": ["total", "page", "per_page", "results"],
        "additionalProperties": False,
    },
    "SearchResult": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "uid": {"type": "string", "format": "uuid"},
            "kind": {"type": "string", "enum": list(ENTRY_KINDS)},
            "title": TEXT,
            "summary": TEXT,
            "url": {"type": "string", "format": "uri"},
            "score": {"type": "number"},
            "highlights": {
                "type": "array",
                "items": {**TEXT, "description": "HTML; everything escaped except <mark>."},
            },
        },
        "required": ["id", "uid", "kind", "title", "summary", "url", "score", "highlights"],
        "additionalProperties": False,
    },
    "FacetValue": {
        "type": "object",
        "properties": {
            "value": TEXT,
            "label": TEXT,
            "count": {"type": "integer", "minimum": 0},
            "selected": {"type": "boolean"},
        },
        "required": ["value", "label", "count", "selected"],
        "additionalProperties": False,
    },
    "Facets": {
        "type": "object",
        "description": "Counts per facet (empty when `facets=false`).",
        "propertyNames": {"enum": ["kind", "category", "play", "clause_type", "program", "tag"]},
        "additionalProperties": {"type": "array", "items": ref("FacetValue")},
    },
    "SearchResponse": {
        "type": "object",
        "properties": {
            "query": TEXT,
            "match": {"type": "string", "enum": ["all", "any"]},
            "total": {"type": "integer", "minimum": 0},
            "page": {
                "type": "integer",
                "minimum": 0,
                "description": "The page shown (past the end: the last; 0 when nothing matched).",
            },
            "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
            "sort": {"type": "string", "enum": ["relevance", "newest", "verified"]},
            "results": {"type": "array", "items": ref("SearchResult")},
            "facets": ref("Facets"),
            "suggestion": _nullable({**TEXT, "description": "A corrected query."}),
        },
        "required": [
            "query",
            "match",
            "total",
            "page",
            "per_page",
            "sort",
            "results",
            "facets",
            "suggestion",
        ],
        "additionalProperties": False,
    },
    "Taxonomy": {
        "type": "object",
        "properties": {
            "categories": {
                "type": "array",
                "items": _object({"slug": TEXT, "name": TEXT, "description": TEXT}),
            },
            "phases": {
                "type": "array",
                "items": _object({"slug": TEXT, "name": TEXT, "description": TEXT}),
            },
            "plays": {
                "type": "array",
                "items": _object(
                    {
                        "number": PLAY,
                        "title": TEXT,
                        "phase": TEXT,
                        "summary": TEXT,
                        "parallel_with": {"type": "array", "items": PLAY},
                    }
                ),
            },
            "clause_types": {
                "type": "array",
                "items": _object(
                    {
                        "slug": TEXT,
                        "name": TEXT,
                        "group": TEXT,
                        "requirement": TEXT,
                        "description": TEXT,
                    }
                ),
            },
        },
        "required": ["categories", "phases", "plays", "clause_types"],
        "additionalProperties": False,
    },
    "Metrics": {
        "type": "object",
        "description": "The metrics dashboard's numbers; docs/metrics.md describes each one.",
        "properties": {
            "filters": _object(
                {
                    "from": _nullable({"type": "string", "format": "date"}),
                    "to": _nullable({"type": "string", "format": "date"}),
                    "program": _nullable(TEXT),
                    "include_demo": {"type": "boolean"},
                }
            ),
            "generated_at": DATE_TIME,
            "bucps": {"type": "object"},
            "entries": {"type": "object"},
            "search": {"type": "object"},
        },
        "required": ["filters", "generated_at", "bucps", "entries", "search"],
    },
    "Health": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ok", "error"]},
            "database": {
                "type": "object",
                "properties": {"ok": {"type": "boolean"}, "error": TEXT},
                "required": ["ok"],
            },
            "index": {"type": "object", "description": "Search index state."},
        },
        "required": ["status", "database", "index"],
    },
    "Error": _object(
        {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "integer", "minimum": 400, "maximum": 599},
                    "message": TEXT,
                    "fields": {
                        "type": "object",
                        "description": "422: a message per field to fix.",
                        "additionalProperties": TEXT,
                    },
                    "version": {
                        "type": "integer",
                        "description": "409 on PATCH: the entry's current version.",
                    },
                },
                "required": ["code", "message"],
                "additionalProperties": False,
            }
        }
    ),
}

PARAMETERS: dict[str, Any] = {
    "page": _query("page", "Page number, from 1.", {"type": "integer", "minimum": 1, "default": 1}),
    "per_page": _query(
        "per_page",
        "Results per page.",
        {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": 20},
    ),
    "kind": _repeatable("kind", "Entry kind.", {"type": "string", "enum": list(ENTRY_KINDS)}),
    "category": _repeatable("category", "Category slug.", TEXT),
    "play": _repeatable("play", "Play number.", PLAY),
    "tag": _repeatable("tag", "Tag.", TEXT),
    "clause_type": _repeatable("clause_type", "Clause type slug.", TEXT),
    "program": _repeatable("program", "Program name.", TEXT),
    "updated_since": _query(
        "updated_since",
        "Only entries changed (edited, published, approved, archived, verified …) at or after "
        "this ISO 8601 date or time (UTC unless an offset is given). For syncing: remember when "
        "you started, then ask again with that time.",
        {"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]},
    ),
    "q": _query("q", "Query text (never fails; capped at 256 characters).", TEXT),
    "sort": _query(
        "sort", "Order.", {"type": "string", "enum": ["relevance", "newest", "verified"]}
    ),
    "facets": _query(
        "facets", "Count facets (false: faster).", {"type": "boolean", "default": True}
    ),
    "entry_id": {
        "name": "entry_id",
        "in": "path",
        "required": True,
        "description": "The entry's id.",
        "schema": {"type": "integer"},
    },
}

RESPONSES: dict[str, Any] = {
    "BadRequest": _error("A parameter or the body cannot be used (the message says which)."),
    "Unauthorized": {
        **_error("A sign-in or a valid API token is needed (a wrong or revoked token is a 401)."),
        "headers": {"WWW-Authenticate": {"schema": TEXT}},
    },
    "Forbidden": _error("The user's role does not allow this."),
    "NotFound": _error("No such entry, or not one the user may read."),
}
VERSION = {
    VERSION_HEADER: {
        "description": "The entry's version: send it as `version` with PATCH.",
        "schema": {"type": "integer"},
    }
}


def _param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _response(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


READ_SECURITY = [{}, {"bearer": []}, {"session": []}]
WRITE_SECURITY = [{"bearer": []}, {"session": [], "csrf": []}]


def _read(summary: str, schema: str, *params: str, **extra: Any) -> dict[str, Any]:
    responses = {
        "200": _json(ref(schema), "OK"),
        "400": _response("BadRequest"),
        "401": _response("Unauthorized"),
        **extra.pop("responses", {}),
    }
    return {
        "summary": summary,
        "parameters": [_param(name) for name in params],
        "security": READ_SECURITY,
        "responses": responses,
        **extra,
    }


def _write(summary: str, body: str, description: str, responses: dict[str, Any]) -> dict:
    return {
        "summary": summary,
        "description": description,
        "security": WRITE_SECURITY,
        "requestBody": {"required": True, "content": {JSON: {"schema": ref(body)}}},
        "responses": {
            **responses,
            "400": _response("BadRequest"),
            "401": _response("Unauthorized"),
            "403": _response("Forbidden"),
            "422": _error("The entry is not valid: `fields` names each problem."),
            "503": {
                **_error(
                    "The database stayed locked by other writers; nothing was saved. "
                    "Send the same request again after `Retry-After` seconds."
                ),
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            },
        },
    }


def _saved(description: str, **headers: Any) -> dict[str, Any]:
    return {**_json(ref("Entry"), description), "headers": {**VERSION, **headers}}


SEARCH_PARAMS = ("q", "kind", "category", "play", "clause_type", "program", "tag", "sort")
SEARCH_PARAMS += ("page", "per_page", "facets")
PATHS: dict[str, Any] = {
    "/api/v1/entries": {
        "get": _read(
            "Entries with full records, most recently updated first",
            "EntryList",
            *["kind", "category", "play", "tag", "updated_since", "page", "per_page"],
            description="A page past the end is empty. Readers see published entries; "
            "authors also their own; curators everything.",
        ),
        "post": _write(
            "Create an entry",
            "EntryCreate",
            "Same roles and validation as the form (contributors and up).",
            {
                "201": _saved(
                    "Created.",
                    Location={"description": "The entry in the API.", "schema": TEXT},
                )
            },
        ),
    },
    "/api/v1/entries/{entry_id}": {
        "parameters": [_param("entry_id")],
        "get": _read(
            "One entry",
            "Entry",
            responses={"200": _saved("OK"), "404": _response("NotFound")},
        ),
        "patch": _write(
            "Change some fields of an entry",
            "EntryPatch",
            "Authors edit their own entries, curators any. A contributor's edit of a published "
            "entry waits for a curator (202); readers see the published text until then.",
            {
                "200": _saved("Saved."),
                "202": _saved("Saved as a pending revision (the body shows what readers see)."),
                "404": _response("NotFound"),
                "409": _error("The entry changed since `version`; `version` gives the current."),
            },
        ),
    },
    "/api/v1/search": {
        "get": _read(
            "Full-text search with facets",
            "SearchResponse",
            *[
                "q",
                "kind",
                "category",
                "play",
                "clause_type",
                "program",
                "tag",
                "sort",
                "page",
                "per_page",
                "facets",
            ],
        ),
    },
    "/api/v1/taxonomy": {
        "get": _read("Categories, phases, plays and clause types", "Taxonomy"),
    },
    "/api/v1/metrics": {
        "get": {
            **_read(
                "The metrics dashboard's numbers (raw search queries for curators only)",
                "Metrics",
                responses={"403": _response("Forbidden")},
            ),
            "parameters": [
                _query("from", "From this date.", {"type": "string", "format": "date"}),
                _query("to", "Up to this date.", {"type": "string", "format": "date"}),
                _query("program", "One program (name).", TEXT),
                _query("demo", "Demo data.", {"type": "string", "enum": ["include", "exclude"]}),
            ],
            "security": [{"bearer": []}, {"session": []}],
        },
    },
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [{}],
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
        },
    },
    "/healthz": {
        "get": {
            "summary": "Database and search index state",
            "security": [{}],
            "responses": {
                "200": _json(ref("Health"), "Usable."),
                "503": _json(ref("Health"), "The database or the index is unusable."),
            },
        },
    },
}

DESCRIPTION = """\
Read and write the knowledge base's entries. Reads follow the same visibility rules as the pages
(anonymous readers see published entries unless the instance needs a sign-in).

Authenticate programs with a personal API token: `Authorization: Bearer kb_…` (create one at
`/account/tokens` or with `kb tokens create USER`). A token acts as its user, with that user's
role. Browser sessions may call the API too; their writes need the `X-CSRFToken` header.

Errors are `{"error": {"code", "message", "fields"?}}` with a 4xx status."""


def document(server: str) -> dict[str, Any]:
    """The OpenAPI document, with ``server`` (this instance's root URL) as its server."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "BUCP Knowledge Base API", "version": "1", "description": DESCRIPTION},
        "servers": [{"url": server.rstrip("/") or "/"}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "parameters": PARAMETERS,
            "responses": RESPONSES,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API token (`kb_…`).",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "A browser session (after signing in at /login).",
                },
                "csrf": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-CSRFToken",
                    "description": "The page's CSRF token: needed for writes with a session.",
                },
            },
        },
    }


@bp.get("/api/v1/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 document of this API."""
    return jsonify(document(external_url("browse.home")))
