"""Property-based fuzzing (hypothesis): the query parser and search API, the entry record
validation, the placeholder filler and the Markdown renderer, for arbitrary input."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from kb.entries.validation import GENERATED
from kb.entries.validation import WRITABLE
from kb.entries.validation import RecordError
from kb.entries.validation import taxonomy_lookups
from kb.entries.validation import validate_record
from kb.extensions import db
from kb.markdown import render_markdown
from kb.placeholders import PLACEHOLDER
from kb.placeholders import fill

FUNCTION_APP = [HealthCheck.function_scoped_fixture]

#: Text the query parser treats specially, mixed into arbitrary text more often than chance.
QUERY_SYNTAX = st.sampled_from(
    [
        "AND", "OR", "NOT", "(", ")", '"', "*", "?", "-", "+", ":", "^", "~", "[", "]", "{",
        "}", "kind:", "tag:", "type:", "category:", "play:", "program:", "title:", "TO", "\\",
        "'", "/", "<", "&", "%", "\x00", " ",
    ]
)  # fmt: skip
QUERIES = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(QUERY_SYNTAX, st.text(max_size=8)), max_size=40).map("".join),
)


@pytest.fixture(scope="module")
def search_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """One app for the whole module, with a few published entries to match against."""
    from kb import create_app
    from kb.entries.services import create_entry
    from kb.seed import install_taxonomy
    from kb.seed import system_user

    data_dir = tmp_path_factory.mktemp("fuzz")
    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(data_dir),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{data_dir / 'kb.sqlite'}",
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
            "SEARCH_INDEX_IN_MEMORY": True,
        }
    )
    with app.app_context():
        db.create_all()
        install_taxonomy(db.session)
        lookups = taxonomy_lookups(db.session)
        for title in ("Data sharing agreement", "Security review early", "Consent (MOU)"):
            record = {
                "kind": "lesson",
                "title": title,
                "body": f"{title}: ask the data provider about the program.",
                "categories": ["security-reviews"],
                "tags": ["data-sharing"],
                "status": "published",
            }
            create_entry(
                db.session, validate_record(record, lookups), author=system_user(db.session)
            )
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@settings(max_examples=100, deadline=None, suppress_health_check=FUNCTION_APP)
@given(query=QUERIES)
def test_search_api_answers_200_for_any_query_text(search_app: Flask, query: str) -> None:
    client = search_app.test_client()
    response = client.get("/api/v1/search", query_string={"q": query})
    assert response.status_code == 200, (query, response.get_data(as_text=True)[:500])
    data = response.get_json()
    assert isinstance(data["results"], list)
    for result in data["results"]:
        for fragment in result["highlights"]:
            assert not re.search(r"<(?!/?mark\b)", fragment), (query, fragment)


@settings(max_examples=50, deadline=None, suppress_health_check=FUNCTION_APP)
@given(query=QUERIES, facets=st.sampled_from(["true", "false"]))
def test_search_page_answers_200_for_any_query_text(
    search_app: Flask, query: str, facets: str
) -> None:
    client = search_app.test_client()
    response = client.get(
        "/search", query_string={"q": query, "facets": facets}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200, (query, response.get_data(as_text=True)[:500])
    assert "<script>" not in response.get_data(as_text=True)


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),  # inf and nan included: Python's json module reads Infinity and NaN
        st.text(max_size=50),
        st.sampled_from(["lesson", "snippet", "published", "security-reviews", "3", "1;2", ""]),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)
        ),
        max_leaves=12,
    )


RECORDS = st.dictionaries(
    st.one_of(st.sampled_from(WRITABLE + GENERATED), st.text(max_size=12)),
    _json_values(),
    max_size=len(WRITABLE),
)


@settings(max_examples=100, deadline=None, suppress_health_check=FUNCTION_APP)
@given(record=RECORDS)
def test_validate_record_returns_or_raises_record_error(
    search_app: Flask, record: dict[str, Any]
) -> None:
    with search_app.app_context():
        lookups = taxonomy_lookups(db.session)
    try:
        clean = validate_record(record, lookups)
    except RecordError as exc:
        assert exc.fields, record
        return
    assert clean["kind"] in ("lesson", "snippet")
    assert isinstance(clean["title"], str) and clean["title"]


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 1e400, "1e3"])
def test_validate_record_refuses_a_non_finite_revision(search_app: Flask, value: Any) -> None:
    """Python's json reads ``{"revision": Infinity}``: refused, not a crash."""
    with search_app.app_context():
        lookups = taxonomy_lookups(db.session)
    record = {
        "kind": "lesson",
        "title": "t",
        "body": "b",
        "categories": ["security-reviews"],
        "revision": value,
    }
    with pytest.raises(RecordError) as refused:
        validate_record(record, lookups)
    assert "revision" in refused.value.fields


NOT_PLACEHOLDERS = st.text(max_size=300).filter(lambda text: not PLACEHOLDER.search(text))
NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)


@settings(max_examples=100, deadline=None)
@given(text=NOT_PLACEHOLDERS, values=st.dictionaries(NAMES, st.text(max_size=30), max_size=5))
def test_fill_leaves_text_without_placeholders_alone(text: str, values: dict[str, str]) -> None:
    assert fill(text, values) == text
    assert fill(fill(text, values), values) == text


@settings(max_examples=100, deadline=None)
@given(
    name=NAMES,
    value=st.sampled_from(
        ["{{ 7*7 }}", "{% for x in y %}", "${7*7}", "{{ config }}", "<script>", "\\1", "\\g<0>"]
    )
    | st.text(max_size=30),
    before=st.text(max_size=40),
    after=st.text(max_size=40),
)
def test_fill_inserts_values_literally_and_once(
    name: str, value: str, before: str, after: str
) -> None:
    text = f"{before}{{{{ {name} }}}}{after}"
    filled = fill(text, {name: value})
    if PLACEHOLDER.search(before) or PLACEHOLDER.search(after):
        return  # other placeholders in the surrounding text: covered by the test above
    assert filled == (f"{before}{value}{after}" if value else text)


MARKDOWN_PIECES = st.sampled_from(
    [
        "[a](", "](", ")", "![i](", "javascript:", "JaVaScRiPt:", "java\tscript:", "jav&#x61;",
        "&#106;avascript:", "data:text/html,", "vbscript:", "<script>", "</script>", "<img ",
        "onerror=", "<a href=", '"', "'", "<", ">", "\n", "\n\n", "`", "```\n", "[r]: ",
        "[r]", "<javascript:x>", "| a |\n|---|\n", "* ", "# ", "&", "%0a", "\x00", " ",
    ]
)  # fmt: skip
MARKDOWN = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(MARKDOWN_PIECES, st.text(max_size=6)), max_size=40).map("".join),
)


@settings(max_examples=100, deadline=None)
@given(text=MARKDOWN)
def test_render_markdown_never_emits_script_or_dangerous_urls(text: str) -> None:
    html = str(render_markdown(text))
    assert "<script" not in html.lower()
    for attribute in re.findall(r"\s(?:href|src)=\"([^\"]*)\"", html):
        squeezed = re.sub(r"[\s\x00-\x1f]", "", attribute).lower()
        assert not squeezed.startswith(("javascript:", "data:", "vbscript:")), (text, html)
    assert not re.search(r"<[^>]*\son\w+=", html), (text, html)


#: Characters that markup, templates, CSV-ish fields and the browser treat specially.
FORM_SYNTAX = st.sampled_from(
    [
        "<", ">", "&", '"', "'", "{{", "}}", "{%", "%}", "[", "](", "javascript:", ",", "#",
        "*", "`", "\x00", "\x1b", "\r", "\n", "\t", "\u202e", "\u200b", "é", "🔥", " ",
    ]
)  # fmt: skip
FORM_TEXT = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(FORM_SYNTAX, st.text(max_size=6)), max_size=30).map("".join),
)


@pytest.fixture(scope="module")
def form_clients(search_app: Flask) -> dict[str, Any]:
    """Signed-in clients of the module's app: a contributor and a curator."""
    from kb.auth.services import create_user

    password = "fuzzing is fun 1"
    with search_app.app_context():
        for name, role in (("fuzzer", "contributor"), ("fuzzcurator", "curator")):
            create_user(db.session, name, role=role, password=password)
        db.session.commit()
    clients = {}
    for name in ("fuzzer", "fuzzcurator"):
        client = search_app.test_client()
        signed_in = client.post("/login", data={"username": name, "password": password})
        assert signed_in.status_code == 303
        clients[name] = client
    return clients


def _assert_answered(response: Any, allowed: tuple[int, ...]) -> str:
    html = response.get_data(as_text=True)
    assert response.status_code in allowed, (response.status_code, html[:1000])
    assert "<script>" not in html and "Traceback" not in html
    return html


@settings(max_examples=60, deadline=None, suppress_health_check=FUNCTION_APP)
@given(
    title=FORM_TEXT,
    summary=FORM_TEXT,
    body=FORM_TEXT,
    tags=FORM_TEXT,
    program=FORM_TEXT,
    # Valid choices most of the time, so that the typed text decides what happens.
    kind=st.one_of(st.just("lesson"), st.sampled_from(["snippet", "", "other"])),
    categories=st.one_of(
        st.just(["security-reviews"]),
        st.lists(st.sampled_from(["security-reviews", "data-requests", "", "x"])),
    ),
    plays=st.lists(st.sampled_from(["1", "6", "0", "99", "x", ""]), max_size=2),
    action=st.one_of(st.just("save"), st.sampled_from(["submit", "preview", "", "other"])),
)
def test_the_entry_form_saves_or_explains_any_input(
    search_app: Flask, form_clients: dict[str, Any], **fields: Any
) -> None:
    """Whatever is typed, the entry form saves (303, and the entry page opens) or answers 422
    (or 200 for a preview) with the form again; never a 5xx."""
    response = form_clients["fuzzer"].post("/entries", data=fields)
    html = _assert_answered(response, (200, 303, 422))
    if response.status_code == 303:
        _assert_answered(form_clients["fuzzer"].get(response.headers["Location"]), (200,))
    else:
        assert 'name="title"' in html  # the form came back, with what was typed


@settings(max_examples=40, deadline=None, suppress_health_check=FUNCTION_APP)
@given(term=FORM_TEXT, definition=FORM_TEXT, synonyms=FORM_TEXT)
def test_the_glossary_form_saves_or_explains_any_input(
    search_app: Flask, form_clients: dict[str, Any], term: str, definition: str, synonyms: str
) -> None:
    """A curator's glossary form saves (303) or answers 422 with the form; the glossary and
    a search for the term still answer 200 afterwards (the term feeds the search thesaurus)."""
    curator = form_clients["fuzzcurator"]
    data = {"term": term, "definition": definition, "synonyms": synonyms}
    response = curator.post("/glossary", data=data)
    html = _assert_answered(response, (303, 422))
    if response.status_code == 422:
        assert 'name="term"' in html
    _assert_answered(curator.get("/glossary"), (200,))
    _assert_answered(curator.get("/search", query_string={"q": term}), (200,))
