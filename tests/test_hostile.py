"""The hostile-input corpus: every string below goes through every field that is rendered
somewhere (entries, tags, programs, glossary, BUCPs, procedures, search, import files) and must
come back escaped: no script runs, no event handler or dangerous URL appears, template syntax
is not evaluated, control characters are gone, and nothing answers 500."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kb import search
from kb.extensions import db
from kb.models import Department
from kb.models import Entry
from kb.models import GlossaryTerm

#: ``{{ 77777*11 }}`` would render as this if any template engine evaluated it.
EVALUATED = "855547"
#: ``{% for %}`` over three items would repeat this word.
LOOPED = "LOOPLOOP"

HOSTILE: dict[str, str] = {
    "script": "<script>alert('x')</script>",
    "script-upper": "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "img-onerror": '<img src=x onerror="alert(1)">',
    "svg-onload": "<svg/onload=alert(1)>",
    "attribute-breakout": '" onmouseover="alert(1)" x="',
    "md-link-javascript": "[click me](javascript:alert(1))",
    "md-link-javascript-entity": "[click me](jav&#x61;script:alert(1))",
    "md-link-javascript-spaced": "[click me]( JAVASCRIPT:alert(1) )",
    "md-link-data": "[click me](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "md-image-javascript": "![pic](javascript:alert(1))",
    "md-image-data": "![pic](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "md-autolink-javascript": "<javascript:alert(1)>",
    "md-reference-javascript": "[x][r]\n\n[r]: javascript:alert(1)",
    "broken-html": "<div><b>unclosed <i>tags</div></table><!-- comment <p",
    "iframe": '<iframe src="https://evil.example"></iframe><object data="x"></object>',
    "style-tag": "<style>body{display:none}</style><link rel=stylesheet href=//evil.example>",
    "jinja-expression": "{{ 77777*11 }}",
    "jinja-statement": "{% for x in [1,2,3] %}LOOP{% endfor %}",
    "jinja-config": "{{ config.items() }}{{ self.__init__.__globals__ }}",
    "format-string": "${77777*11} #{77777*11} %(x)s {0.__class__}",
    "sql": "'; DROP TABLE entries; --",
    "sql-union": '" OR 1=1 UNION SELECT password_hash FROM users --',
    "control": "nul\x00bell\x07backspace\x08escape\x1bdelete\x7fend",
    "rtl-override": "invoice\u202egnp.exe \u200b\u2066hidden\u2069",
    "emoji": "🔥💥 ZWJ 👩‍👩‍👧 flags 🇨🇦 combining é",
    # punctuated, so that the length is what is tested here (long runs: the test at the end)
    "huge": "<b>big</b>, " + "word, " * 50_000,
}

#: Which payloads are expected to be refused somewhere because they are too long.
TOO_LONG = {"huge"}

# Control characters that must never reach a page (tab, newline and carriage return may).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DANGEROUS_URL = re.compile(r"^(javascript|data|vbscript):", re.IGNORECASE)
_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "background"}


class _Audit(HTMLParser):
    """Collects what would execute in a browser: scripts, handlers, dangerous URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            src = values.get("src") or ""
            if not src.startswith("/static/"):
                self.problems.append(f"script tag {attrs!r}")
            self._in_script = True
        if tag in {"iframe", "object", "embed", "style", "base", "svg"}:
            self.problems.append(f"<{tag}> element")
        stylesheet = tag == "link" and (values.get("rel") or "") == "stylesheet"
        if stylesheet and not (values.get("href") or "").startswith("/static/"):
            self.problems.append(f"foreign stylesheet {attrs!r}")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}= on <{tag}>")
            if name in _URL_ATTRIBUTES and value is not None:
                squeezed = re.sub(r"[\s\x00-\x1f]", "", value)
                if _DANGEROUS_URL.match(squeezed):
                    self.problems.append(f"{name}={value!r} on <{tag}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self._in_script = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script {data[:80]!r}")


def assert_safe(response: Any, *, allowed: tuple[int, ...] = (200,)) -> str:
    """The response has an allowed status, and its HTML would run nothing the input brought."""
    html = response.get_data(as_text=True)
    assert response.status_code in allowed, (response.status_code, html[:2000])
    assert response.status_code < 500
    audit = _Audit()
    audit.feed(html)
    audit.close()
    assert not audit.problems, audit.problems
    assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", html, re.IGNORECASE), html[:2000]
    assert EVALUATED not in html
    assert LOOPED not in html
    assert not _CONTROL.search(html), repr(_CONTROL.search(html))
    return html


def assert_safe_json(response: Any, *, allowed: tuple[int, ...] = (200,)) -> Any:
    """A JSON answer: allowed status, no control characters, no evaluated templates."""
    assert response.status_code in allowed, (response.status_code, response.get_data()[:2000])
    text = response.get_data(as_text=True)
    assert EVALUATED not in text and LOOPED not in text
    data = response.get_json()
    assert not _CONTROL.search(json.dumps(data, ensure_ascii=False))
    for result in data.get("results", []) if isinstance(data, dict) else []:
        for fragment in result.get("highlights", []):
            # highlights are HTML with everything escaped except <mark>
            assert not re.search(r"<(?!/?mark\b)", fragment), fragment
    return data


class _Text(HTMLParser):
    """The text a reader sees, the values of text fields included (references resolved)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("type", "text") in {"text", "search"}:
            self.parts.append(f" {values.get('value') or ''} ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def squeezed(text: str) -> str:
    """``text`` as the web boundary stores it (no control characters), whitespace collapsed."""
    return " ".join(_CONTROL.sub("", text).split())


def page_text(html: str) -> str:
    """The text of a page, whitespace collapsed: a stored value shows in it as ``squeezed``."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.parts).split())


def _clip(payload: str, limit: int) -> str:
    return payload[:limit]


PAYLOADS = pytest.mark.parametrize("name", list(HOSTILE))


def post_accepted(
    client: FlaskClient,
    url: str,
    full: dict[str, Any],
    clipped: dict[str, Any],
    too_long: str | None = None,
    *,
    says: str | None = None,
) -> Any:
    """Post ``full``; if refused (422) the page must be safe (and, given ``too_long``, that
    payload must be one of ``TOO_LONG``; given ``says``, the page must say it, a clear
    message such as "characters"), then ``clipped`` must be accepted (303)."""
    response = client.post(url, data=full)
    if response.status_code == 422:
        html = assert_safe(response, allowed=(422,))  # the form comes back with the input kept
        if too_long is not None:
            assert too_long in TOO_LONG
        if says is not None:
            assert says in page_text(html), page_text(html)[:3000]
        response = client.post(url, data=clipped)
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    return response


def _entry_form(payload: str, limits: bool) -> dict[str, Any]:
    def field(limit: int) -> str:
        return _clip(payload, limit) if limits else payload

    return {
        "kind": "lesson",
        "title": "Hostile " + field(190),
        "summary": field(500),
        "body": "Body marker hostilebody. " + field(19_000),
        "benefit": field(5_000),
        "context": field(5_000),
        "citations": field(400) + "\n" + "Second citation " + field(300),
        "tags": "hostiletag, " + field(60),
        "program": field(100) or "Hostile program",
        "categories": ["security-reviews"],
        "action": "submit",
    }


@PAYLOADS
def test_entry_fields_render_escaped_everywhere(
    app: Flask, users: dict[str, int], login: Callable[[str | None], FlaskClient], name: str
) -> None:
    payload = HOSTILE[name]
    curator = login("cu")
    # (refused: a long payload, or one whose tag is longer than 64 characters once normalised)
    first = post_accepted(
        curator, "/entries", _entry_form(payload, limits=False), _entry_form(payload, limits=True)
    )
    entry_url = first.headers["Location"]
    entry_id = int(entry_url.rsplit("/", 1)[-1])
    assert curator.post(f"/entries/{entry_id}/publish").status_code == 303

    page = assert_safe(login(None).get(entry_url))
    assert "hostilebody" in page
    assert_safe(curator.get(f"/entries/{entry_id}/edit"))
    assert_safe(curator.get(f"/entries/{entry_id}/history"))
    assert_safe(curator.get("/review"))

    with app.app_context():
        entry = db.session.get(Entry, entry_id)
        stored = [entry.title, entry.summary or "", entry.body, entry.program.name]
        tags = [tag.name for tag in entry.tags]
    assert not any(_CONTROL.search(value) for value in stored + tags), stored
    hostile_tags = [tag for tag in tags if "hostiletag" in tag]
    assert hostile_tags, tags

    reader = login(None)
    for url in (
        "/search?q=hostilebody",
        f"/search?q=hostilebody&tag={hostile_tags[0]}",
        f"/tags/{hostile_tags[0]}",
        "/categories/security-reviews",
        "/",
    ):
        assert_safe(reader.get(url))
    found = assert_safe(reader.get("/search?q=hostilebody", headers={"HX-Request": "true"}))
    assert f"/entries/{entry_id}" in found
    data = assert_safe_json(reader.get("/api/v1/search?q=hostilebody"))
    assert [result["id"] for result in data["results"]] == [entry_id]
    one = assert_safe_json(reader.get(f"/api/v1/entries/{entry_id}"))
    assert one["title"].startswith("Hostile")
    assert_safe_json(reader.get("/api/v1/entries"))
    feed = reader.get("/feeds/entries.atom?q=hostilebody")
    assert feed.status_code == 200
    assert not _CONTROL.search(feed.get_data(as_text=True))
    assert b"<script" not in feed.get_data().lower()


@PAYLOADS
def test_glossary_term_renders_escaped(
    app: Flask, users: dict[str, int], login: Callable[[str | None], FlaskClient], name: str
) -> None:
    payload = HOSTILE[name]
    curator = login("cu")
    data = {"term": "Hostile " + payload, "definition": payload, "synonyms": payload}
    response = curator.post("/glossary", data=data)
    if response.status_code == 422:
        assert_safe(response, allowed=(422,))
        data = {
            "term": "Hostile " + payload[:60],
            "definition": payload[:1000],
            "synonyms": payload[:60],
        }
        response = curator.post("/glossary", data=data)
    assert response.status_code in (303, 422), response.get_data(as_text=True)[:2000]
    if response.status_code == 422:  # refused even when short: the refusal must be safe too
        assert_safe(response, allowed=(422,))
    assert_safe(login(None).get("/glossary"))
    assert_safe(login(None).get("/glossary?q=" + payload[:200]))
    # glossary terms annotate entry text: an entry that uses the term renders safely too
    entry = curator.post(
        "/entries",
        data={**_entry_form("Hostile " + payload[:60], limits=True), "action": "save"},
    )
    assert entry.status_code == 303
    assert_safe(curator.get(entry.headers["Location"]))


@pytest.mark.parametrize("name", ["script", "img-onerror", "attribute-breakout", "jinja-statement"])
def test_a_term_searched_by_its_definition_is_named_escaped(
    app: Flask, make_entry: Callable[..., Entry], name: str
) -> None:
    """The search page names glossary terms it searched by their definitions (and links them)."""
    make_entry(title="Agree on the transfer method", body="Settle how files move.")
    with app.app_context():
        term = GlossaryTerm(
            term="Qwzx " + HOSTILE[name], definition="A transfer method.", synonyms=["qwzx"]
        )
        db.session.add(term)
        db.session.commit()
    search.glossary_changed(app)
    html = assert_safe(app.test_client().get("/search?q=qwzx"))
    assert "No entry uses" in html


@pytest.fixture
def department(app: Flask) -> int:
    with app.app_context():
        found = Department(name="Department of Hostile Inputs", abbreviation="DHI")
        db.session.add(found)
        db.session.commit()
        return found.id


@PAYLOADS
def test_bucp_header_and_section_render_escaped(
    app: Flask,
    users: dict[str, int],
    department: int,
    login: Callable[[str | None], FlaskClient],
    name: str,
) -> None:
    payload = HOSTILE[name]
    cora = login("cora")

    def header(limits: bool) -> dict[str, str]:
        def field(limit: int) -> str:
            return payload[:limit] if limits else payload

        return {
            "title": "Hostile " + field(180),
            "program": field(100) or "Hostile program",
            "provider_id": str(department),
            "sponsor_role": field(190) or "Sponsor",
            "coordinator_role": field(190) or "Coordinator",
            "results": field(5000),
        }

    response = post_accepted(cora, "/bucps", header(limits=False), header(limits=True), name)
    bucp_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    assert_safe(cora.get(f"/bucps/{bucp_id}"))
    assert_safe(cora.get(f"/bucps/{bucp_id}/edit"))
    assert_safe(cora.get("/bucps"))

    section = f"/bucps/{bucp_id}/sections/use-case-description"
    form_page = assert_safe(cora.get(section))
    version = re.search(r'name="version"[^>]*value="(\d+)"', form_page)
    assert version, "the section form carries its version"
    text = "Section text {{ program_name }} " + payload
    post_accepted(
        cora,
        section,
        {"version": version.group(1), "text": text},
        {"version": version.group(1), "text": text[:10_000]},
        name,
    )
    assert_safe(cora.get(section))
    assert_safe(cora.get(f"/bucps/{bucp_id}"))
    exported = cora.get(f"/bucps/{bucp_id}/export?format=md")
    assert exported.status_code == 200
    assert not _CONTROL.search(exported.get_data(as_text=True))


@PAYLOADS
def test_procedure_and_step_render_escaped(
    app: Flask, users: dict[str, int], login: Callable[[str | None], FlaskClient], name: str
) -> None:
    payload = HOSTILE[name]
    cora = login("cora")

    def header(limits: bool) -> dict[str, str]:
        def field(limit: int) -> str:
            return payload[:limit] if limits else payload

        return {
            "title": "Hostile " + field(180),
            "audience": field(190) or "Everyone",
            "purpose": field(5000),
        }

    response = post_accepted(cora, "/procedures", header(limits=False), header(limits=True), name)
    procedure_id = int(response.headers["Location"].split("/")[-2])

    post_accepted(
        cora,
        f"/procedures/{procedure_id}/steps",
        {"new-heading": "Step " + payload, "new-instructions": payload},
        {"new-heading": "Step " + payload[:150], "new-instructions": payload[:5000]},
    )
    assert_safe(cora.get(f"/procedures/{procedure_id}/edit"))
    assert_safe(cora.get(f"/procedures/{procedure_id}"))
    assert cora.post(f"/procedures/{procedure_id}/publish").status_code == 303
    assert_safe(login(None).get(f"/procedures/{procedure_id}"))
    assert_safe(login(None).get("/procedures"))
    exported = login(None).get(f"/procedures/{procedure_id}/export?format=md")
    assert exported.status_code == 200
    assert not _CONTROL.search(exported.get_data(as_text=True))


@PAYLOADS
def test_search_queries_are_escaped_and_never_fail(
    app: Flask,
    login: Callable[[str | None], FlaskClient],
    make_entry: Callable[..., Entry],
    name: str,
) -> None:
    payload = HOSTILE[name]
    make_entry(title="Script review", body="Review the script and the image alert.")
    reader = login(None)
    for query in (payload, payload[:500], f"tag:{payload[:50]}", f'"{payload[:80]}'):
        params = {"q": query}
        assert_safe(reader.get("/search", query_string=params))
        assert_safe(reader.get("/search", query_string=params, headers={"HX-Request": "true"}))
        assert_safe_json(reader.get("/api/v1/search", query_string=params))
        feed = reader.get("/feeds/entries.atom", query_string=params)
        assert feed.status_code == 200 and b"<script" not in feed.get_data().lower()
    for name in ("kind", "category", "play", "tag", "program", "clause_type", "sort"):
        params = {"q": "review", name: payload[:500]}
        assert_safe(reader.get("/search", query_string=params))
        assert_safe_json(reader.get("/api/v1/search", query_string=params), allowed=(200, 400))


@PAYLOADS
def test_imported_records_render_escaped(
    app: Flask, runner: Any, users: dict[str, int], login: Callable, tmp_path: Any, name: str
) -> None:
    payload = HOSTILE[name]
    record = {
        "kind": "lesson",
        "title": "Imported " + payload[:180],
        "summary": payload[:500],
        "body": "Body marker importedbody. " + payload[:19_000],
        "benefit": payload[:5000],
        "citations": [payload[:400]],
        "tags": [payload[:60], "importedtag"],
        "program": payload[:100] or "Imported program",
        "categories": ["security-reviews"],
        "status": "published",
    }
    path = tmp_path / "hostile.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        entry = db.session.scalars(select(Entry)).one()
        entry_id = entry.id
        stored = [entry.title, entry.summary or "", entry.body, entry.program.name]
    reader = login(None)
    assert "importedbody" in assert_safe(reader.get(f"/entries/{entry_id}"))
    assert f"/entries/{entry_id}" in assert_safe(reader.get("/search?q=importedbody"))
    assert_safe(reader.get("/tags/importedtag"))
    assert_safe_json(reader.get(f"/api/v1/entries/{entry_id}"))
    assert_safe_json(reader.get("/api/v1/search?q=importedbody"))
    # stripped when imported, like at the web boundary (DESIGN §6), not only hidden on pages
    assert not any(_CONTROL.search(value) for value in stored), stored


_LONG_RUN_SCRIPT = """
import sys, time
from kb import create_app
from kb.extensions import db
from kb.seed import install_taxonomy
from kb.auth.services import create_user
app = create_app({"TESTING": True, "DATA_DIR": sys.argv[1], "SECRET_KEY": "t",
    "SQLALCHEMY_DATABASE_URI": "sqlite:///" + sys.argv[1] + "/kb.sqlite",
    "WTF_CSRF_ENABLED": False, "SEARCH_INDEX_IN_MEMORY": True,
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
with app.app_context():
    db.create_all(); install_taxonomy(db.session)
    create_user(db.session, "cu", role="curator", password="password-1"); db.session.commit()
client = app.test_client()
assert client.post("/login", data={"username": "cu", "password": "password-1"}).status_code == 303
started = time.monotonic()
response = client.post("/entries", data={"kind": "lesson", "title": "Long run",
    "categories": ["security-reviews"], "body": sys.argv[2] * int(sys.argv[3])})
if response.status_code == 303:  # the edit form runs the writing checks over the body
    assert client.get(response.headers["Location"] + "/edit").status_code == 200
print(response.status_code, round(time.monotonic() - started, 2))
"""


@pytest.mark.parametrize(
    ("unit", "count", "status"),
    [("x", 300_000, 422), ("word ", 60_000, 422), ("x", 19_000, 303), ("word ", 3_800, 303)],
    ids=["300k-letters", "300k-words", "19k-letters-within-limit", "19k-words-within-limit"],
)
def test_a_long_unbroken_run_of_letters_answers_in_seconds(
    tmp_path: Any, unit: str, count: int, status: int
) -> None:
    """A body that is one long word (a pasted data: image, a hash) must not stall the server.

    Run in a child process, so that a regular expression that backtracks for hours is killed
    at the deadline instead of holding this process.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-c", _LONG_RUN_SCRIPT, str(tmp_path), unit, str(count)],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"POST /entries with a body of {count:,} × {unit!r} took more than 20 s")
    assert done.returncode == 0, done.stderr[-3000:]
    code, seconds = done.stdout.split()
    assert int(code) == status
    assert float(seconds) < 5, seconds


@PAYLOADS
def test_api_writes_render_escaped(
    app: Flask, users: dict[str, int], login: Callable[[str | None], FlaskClient], name: str
) -> None:
    """The corpus through ``POST`` and ``PATCH /api/v1/entries``: refused with a 4xx or stored
    with control characters stripped, and safe wherever the entry is shown."""
    from tests.test_tokens import bearer

    payload = HOSTILE[name]
    headers = bearer(app, users["cu"])
    client = app.test_client()
    record = {
        "kind": "lesson",
        "title": "Via API " + payload[:180],
        "summary": payload[:500],
        "body": "Body marker apibody. " + payload[:19_000],
        "benefit": payload[:5000],
        "citations": [payload[:400]],
        "tags": [payload[:60], "apitag"],
        "program": payload[:100] or "API program",
        "categories": ["security-reviews"],
    }
    created = client.post("/api/v1/entries", json=record, headers=headers)
    data = assert_safe_json(created, allowed=(201, 422))
    if created.status_code == 422:
        assert data["error"]["fields"]
        return
    entry_id, version = data["id"], created.headers["Entry-Version"]
    changed = client.patch(
        f"/api/v1/entries/{entry_id}",
        json={"version": int(version), "summary": payload[:500] + " edited", "status": "published"},
        headers=headers,
    )
    assert_safe_json(changed, allowed=(200, 422))
    with app.app_context():
        entry = db.session.get(Entry, entry_id)
        stored = [entry.title, entry.summary or "", entry.body]
    assert not any(_CONTROL.search(value) for value in stored), stored
    reader = login("cu")
    assert "apibody" in assert_safe(reader.get(f"/entries/{entry_id}"))
    assert_safe(reader.get(f"/entries/{entry_id}/history"))
    assert_safe(reader.get("/search?q=apibody"))
    assert_safe(reader.get("/tags/apitag"))
    assert_safe_json(reader.get(f"/api/v1/entries/{entry_id}"))


def _csv_cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@PAYLOADS
def test_csv_and_markdown_imports_render_escaped(
    app: Flask, runner: Any, login: Callable[[str | None], FlaskClient], tmp_path: Any, name: str
) -> None:
    """The corpus through the CSV and the guidebook Markdown-table importers (and a broken
    file of each refused with one line, never a traceback)."""
    payload = HOSTILE[name][:2000].replace("\x00", "")  # CSV readers refuse NUL outright
    csv_text = (
        "kind,title,body,categories,tags,status\r\n"
        f"lesson,{_csv_cell('CSV ' + payload[:180])},{_csv_cell('csvbody ' + payload)},"
        f"Data Requests,{_csv_cell('csvtag')},published\r\n"
    )
    (tmp_path / "hostile.csv").write_text(csv_text, encoding="utf-8")
    cell = payload.replace("|", "\\|").replace("\r", " ").replace("\n", " ")[:1500]
    markdown = (
        "# Lessons\n\n### Data Requests\n\n| Lesson Learned | Benefit |\n| :-- | :-- |\n"
        f"| mdbody {cell} | {cell or 'none'} |\n"
    )
    (tmp_path / "hostile.md").write_text(markdown, encoding="utf-8")
    reader = login(None)
    for file, marker in (("hostile.csv", "csvbody"), ("hostile.md", "mdbody")):
        result = runner.invoke(args=["import", str(tmp_path / file)])
        assert "Traceback" not in result.output
        if result.exit_code != 0:  # refused: one clear line, nothing written
            assert "nothing was imported" in result.output or "Error:" in result.output
            continue
        with app.app_context():
            ids = list(db.session.scalars(select(Entry.id).order_by(Entry.id)))
        page = assert_safe(reader.get(f"/entries/{ids[-1]}"))
        assert marker in page
        assert_safe(reader.get(f"/search?q={marker}"))
        assert_safe_json(reader.get(f"/api/v1/search?q={marker}"))
    broken = runner.invoke(
        args=["import", "--format", "csv", "-"], input='kind,title\nlesson,"' + payload
    )  # an unclosed quote: the record has no body, no category
    assert broken.exit_code == 1 and "Traceback" not in broken.output, broken.output


# --- BUCP panels, tags, programs, peer departments: one app for every payload -----------------
#
# The corpus × these forms is about 80 cases, and a fresh app pays its warm-up (first renders,
# first queries) in each, so the tests below share one app per module, with its accounts, one
# peer department and one BUCP. Each case makes rows of its own, named after its payload's
# key, so that a case can also run alone (``-k``); what earlier cases left (disputes, team
# members, programs, departments) is on the pages too and must render escaped as well.


class Workspace:
    """The module's app: clients signed in by user name, and the rows every case shares."""

    def __init__(self, app: Flask, department: int, bucp: int) -> None:
        self.app = app
        self.department = department
        self.bucp = bucp

    def client(self, username: str | None) -> FlaskClient:
        """A client signed in as ``username`` (``None``: anonymous)."""
        from tests.conftest import PASSWORD

        client = self.app.test_client()
        if username:
            response = client.post("/login", data={"username": username, "password": PASSWORD})
            assert response.status_code == 303, response.get_data(as_text=True)
        return client

    def entry(self, **fields: Any) -> int:
        """A published lesson whose body has the word ``taxonomybody``; its id."""
        from kb.entries.services import create_entry
        from kb.entries.validation import taxonomy_lookups
        from kb.entries.validation import validate_record
        from kb.seed import system_user

        record = {"kind": "lesson", "title": "Taxonomy lesson", "body": "Body taxonomybody."}
        record |= {"categories": ["security-reviews"], "status": "published", **fields}
        with self.app.app_context():
            clean = validate_record(record, taxonomy_lookups(db.session))
            made = create_entry(db.session, clean, author=system_user(db.session))
            db.session.commit()
            return made.id


@pytest.fixture(scope="module")
def workspace(_empty_sqlite: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The module's app (SQLite, like the rest of this module), with the accounts of
    ``users``, a peer department, and a BUCP of cora's naming it as the data provider whose
    "use case description" section uses the placeholder ``{{ requester }}``."""
    from kb.auth.services import create_user
    from kb.bucps import services as bucp_services
    from tests.conftest import PASSWORD
    from tests.conftest import _empty_app

    app = _empty_app(
        _empty_sqlite, tmp_path_factory.mktemp("workspace"), SEARCH_INDEX_IN_MEMORY=True
    )
    with app.app_context():
        people = {
            username: create_user(db.session, username, role=role, password=PASSWORD)
            for username, role in (("cora", "contributor"), ("cu", "curator"), ("ad", "admin"))
        }
        provider = Department(name="Department of Hostile Inputs", abbreviation="DHI")
        db.session.add(provider)
        db.session.flush()
        made = bucp_services.create_bucp(
            db.session,
            {
                "title": "Hostile workspace",
                "program": "Workspace program",
                "provider_id": provider.id,
            },
            creator=people["cora"],
        )
        section = bucp_services.get_section(made, "use-case-description")
        section.text = "Requested by {{ requester }} for the review."
        db.session.commit()
        found = Workspace(app, provider.id, made.id)
    yield found
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _panel(name: str) -> dict[str, str]:
    """The headers of an htmx post from a panel of the BUCP page (the panel comes back alone)."""
    return {"HX-Request": "true", "HX-Target": name}


#: Appended to a payload to make it too long for any field these tests post.
TOO_MUCH = " " + "x" * 20_000


def refused_and_kept(response: Any, says: str, typed: str) -> str:
    """A safe 422 that says why (``says``) and shows what was typed (its first 200 characters,
    as the web boundary keeps them), so nothing typed is lost."""
    text = page_text(assert_safe(response, allowed=(422,)))
    assert says in text, text[:3000]
    assert squeezed(typed[:200]) in text, "the typed text is not kept"
    return text


def _docx_text(data: bytes) -> str:
    """The text of a Word document's body (tables included), whitespace collapsed; it must be
    a sound zip whose document and properties parse as XML."""
    import io
    import zipfile
    from xml.etree import ElementTree

    word = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        ElementTree.fromstring(archive.read("docProps/core.xml"))
        body = ElementTree.fromstring(archive.read("word/document.xml"))
    paragraphs = body.iter(f"{word}p")
    texts = ["".join(run.text or "" for run in p.iter(f"{word}t")) for p in paragraphs]
    return " ".join(" ".join(texts).split())


def _export_docx(client: FlaskClient, bucp_id: int) -> str:
    response = client.get(f"/bucps/{bucp_id}/export")
    assert response.status_code == 200, response.get_data()[:2000]
    assert response.mimetype.endswith("wordprocessingml.document")
    return _docx_text(response.get_data())


@PAYLOADS
def test_bucp_team_placeholders_and_disputes_render_escaped(
    workspace: Workspace, name: str
) -> None:
    """The panel forms of the BUCP page:

    - team: an unknown user name is refused and quoted back; a member whose display name is
      the payload (the admin form takes any text) is listed;
    - placeholders: a value is kept in its field, filled into the previews and the Word export;
    - disputes: a description and its resolution.

    A value too long for its field is refused with a 422 that says so and keeps what was typed.
    """
    from kb.auth.services import find_user
    from kb.models import Bucp
    from kb.models import BucpDispute

    payload, app, bucp = HOSTILE[name], workspace.app, workspace.bucp
    cora = workspace.client("cora")

    team = f"/bucps/{bucp}/team"
    refused = cora.post(team, data={"username": payload}, headers=_panel("bucp-team"))
    refused_and_kept(refused, "no active account", payload)
    account = {"username": f"member-{name}", "role": "contributor"}
    account |= {"password": "correct horse battery", "confirm": "correct horse battery"}
    post_accepted(
        workspace.client("ad"),
        "/admin/users",
        {**account, "display_name": payload},
        {**account, "display_name": payload[:200]},
        name,
    )
    with app.app_context():
        label = find_user(db.session, f"member-{name}").label
    added = cora.post(team, data={"username": f"member-{name}"}, headers=_panel("bucp-team"))
    assert squeezed(label) + " joined the team." in page_text(assert_safe(added))

    placeholders = f"/bucps/{bucp}/placeholders"
    typed = payload + TOO_MUCH
    refused = cora.post(placeholders, data={"value-requester": typed})
    refused_and_kept(refused, "2,000 characters", typed)
    post_accepted(
        cora,
        placeholders,
        {"value-requester": payload},
        {"value-requester": payload[:2000]},
        name,
        says="2,000 characters",
    )

    def dispute_text(url: str, field: str, typed: str) -> None:
        """Too long: refused with the reason and the text kept; then saved."""
        refused = cora.post(url, data={field: typed + TOO_MUCH}, headers=_panel("bucp-disputes"))
        refused_and_kept(refused, "20,000 characters", typed)
        post_accepted(
            cora, url, {field: typed}, {field: typed[:19_000]}, name, says="20,000 characters"
        )

    disputes = f"/bucps/{bucp}/disputes"
    dispute_text(disputes, "description", f"Disputed ({name}): {payload}")
    with app.app_context():
        dispute_id = db.session.scalar(
            select(BucpDispute.id)
            .where(BucpDispute.bucp_id == bucp)
            .order_by(BucpDispute.id.desc())
        )
    dispute_text(f"{disputes}/{dispute_id}/resolve", "resolution", "Resolved: " + payload)

    with app.app_context():
        values = {row.name: row.value for row in db.session.get(Bucp, bucp).placeholders}
        dispute = db.session.get(BucpDispute, dispute_id)
        shown = [label, values["requester"], dispute.description, dispute.resolution]
    assert not any(_CONTROL.search(text) for text in shown), shown
    assert squeezed(values["requester"]) == squeezed(payload[:2000])  # nothing else lost
    page = page_text(assert_safe(cora.get(f"/bucps/{bucp}")))
    assert "1 of 1 filled" in page
    assert [squeezed(text) in page for text in shown] == [True] * 4
    assert_safe(cora.get(f"/bucps/{bucp}/sections/use-case-description"))  # the filled preview
    assert squeezed(values["requester"]) in _export_docx(cora, bucp)


def _found_by_facet(reader: FlaskClient, entry_id: int, key: str, value: str) -> None:
    """Search with the facet ``key=value`` finds the entry alone, on the page and in the API,
    and the facets (labels and links) render escaped."""
    params = {"q": "taxonomybody", key: value}
    html = assert_safe(reader.get("/search", query_string=params))
    data = assert_safe_json(reader.get("/api/v1/search", query_string=params))
    labels = [item["label"] for item in data["facets"].get(key, []) if item["selected"]]
    found = [result["id"] for result in data["results"]]
    assert found == [entry_id], (key, value, labels)  # a name with a comma is one value
    assert f"/entries/{entry_id}" in html
    assert labels == [squeezed(value)], labels
    assert squeezed(value) in page_text(html)  # the facet's label


@PAYLOADS
def test_tag_and_program_renames_render_escaped(workspace: Workspace, name: str) -> None:
    """A curator renames an entry's tag and its program to the payload (the tag's name led by
    the payload's key, so that no two cases normalise alike), and adds a program named after it.
    The tag takes its normalised form; a name too long is refused with a 422 that quotes it
    back. The entry is re-indexed: its page, its tag's page and search by either facet (page
    and API) show the new names escaped."""
    from kb.models import Program
    from kb.models import Tag

    payload, app = HOSTILE[name], workspace.app
    entry_id = workspace.entry(tags=[f"old-tag-{name}"], program=f"Old program {name}")
    with app.app_context():
        tag_id = db.session.scalar(select(Tag.id).where(Tag.name == f"old-tag-{name}"))
        program_id = db.session.scalar(
            select(Program.id).where(Program.name == f"Old program {name}")
        )
    curator = workspace.client("cu")

    rename = f"/taxonomy/tags/{tag_id}/rename"
    typed = f"{name} {payload}"
    refused_and_kept(curator.post(rename, data={"name": typed + TOO_MUCH}), "characters", typed)
    post_accepted(curator, rename, {"name": typed}, {"name": typed[:64]}, says="characters")
    with app.app_context():
        tag_name = db.session.get(Tag, tag_id).name
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", tag_name), tag_name
    assert_safe(curator.get(f"/taxonomy/tags/{tag_id}"))
    assert tag_name in page_text(
        assert_safe(curator.get("/taxonomy/tags", query_string={"q": name}))
    )
    nothing = {"q": "zz " + payload[:60]}  # no tag starts with it: the filter is quoted back
    assert_safe(curator.get("/taxonomy/tags", query_string=nothing))

    def program(prefix: str, limits: bool) -> dict[str, str]:
        return {
            "name": prefix + (payload[:100] if limits else payload),
            "description": payload[:2000] if limits else payload,
        }

    added = program("Added ", limits=True)
    post_accepted(curator, "/taxonomy/programs", program("Added ", False), added, says="characters")
    url = f"/taxonomy/programs/{program_id}"
    typed = "Renamed " + payload
    refused_and_kept(curator.post(url, data={"name": typed + TOO_MUCH}), "characters", typed)
    renamed = program("Renamed ", limits=True)
    post_accepted(curator, url, program("Renamed ", False), renamed, says="characters")
    with app.app_context():
        names = set(db.session.scalars(select(Program.name)))
        assert db.session.get(Program, program_id).name == squeezed(renamed["name"])
    assert {squeezed(added["name"]), squeezed(renamed["name"])} <= names
    listing = page_text(assert_safe(curator.get("/taxonomy/programs")))
    assert all(stored in listing for stored in names)
    assert squeezed(renamed["name"]) in page_text(assert_safe(curator.get(url)))

    reader = workspace.client(None)
    page = page_text(assert_safe(reader.get(f"/entries/{entry_id}")))
    assert tag_name in page and squeezed(renamed["name"]) in page
    assert f"/entries/{entry_id}" in assert_safe(reader.get(f"/tags/{tag_name}"))
    _found_by_facet(reader, entry_id, "tag", tag_name)
    _found_by_facet(reader, entry_id, "program", squeezed(renamed["name"]))


@PAYLOADS
def test_department_create_and_rename_render_escaped(workspace: Workspace, name: str) -> None:
    """A curator adds a peer department named after the payload (its abbreviation too), and
    renames to it the one the BUCP names as its data provider: the taxonomy pages, the BUCP
    page and the BUCP form's choices show the names escaped."""
    payload, app, department = HOSTILE[name], workspace.app, workspace.department
    curator = workspace.client("cu")

    def department_form(prefix: str, limits: bool) -> dict[str, str]:
        return {
            "name": prefix + (payload[:180] if limits else payload),
            "abbreviation": payload[:32] if limits else payload,
        }

    added = department_form("Added ", limits=True)
    post_accepted(
        curator, "/taxonomy/departments", department_form("Added ", False), added, says="characters"
    )
    url = f"/taxonomy/departments/{department}"
    typed = "Renamed " + payload
    refused_and_kept(curator.post(url, data={"name": typed + TOO_MUCH}), "characters", typed)
    renamed = department_form("Renamed ", limits=True)
    post_accepted(curator, url, department_form("Renamed ", False), renamed, says="characters")
    with app.app_context():
        rows = db.session.scalars(select(Department)).all()
        names = {row.name for row in rows} | {row.abbreviation for row in rows}
        assert db.session.get(Department, department).name == squeezed(renamed["name"])

    listing = page_text(assert_safe(curator.get("/taxonomy/departments")))
    assert all(stored in listing for stored in names), names
    assert squeezed(renamed["name"]) in page_text(assert_safe(curator.get(url)))
    cora = workspace.client("cora")
    assert squeezed(renamed["name"]) in page_text(assert_safe(cora.get(f"/bucps/{workspace.bucp}")))
    assert_safe(cora.get("/bucps/new"))  # the data provider's choices
