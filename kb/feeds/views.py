"""``/feeds/entries.atom``: newly published and updated published entries, as Atom 1.0.

- Newest first, at most ``FEED_SIZE``. An entry's time is the newer of its last content change
  (``updated_at``) and its last publication (the newest ``entry.publish``/``entry.approve``
  audit event), so a draft published today is news today.
- Narrowed by the search parameters (``q``, ``kind``, ``category``, ``play``, ``tag``,
  ``clause_type``, ``program``): then the search finds the ``SEARCH_WINDOW`` newest matches
  and the feed orders those as above.
- Only published content, whoever asks: a feed URL is shared and read by programs.
- Absolute URLs under ``KB_BASE_URL`` (``kb.web.external_url``); entry ids are ``urn:uuid:``
  from the entry's uid, stable across instances and exports.
- With ``KB_READ_ACCESS=login`` a signed-in browser session, or ``?token=`` with an API token
  (``kb.auth`` authenticates it), may read it; anyone else gets 401 with a plain message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import desc
from sqlalchemy import func
from sqlalchemy import select

from kb import search
from kb.auth.policy import viewer
from kb.entries.services import ENTRY_LOAD
from kb.extensions import db
from kb.finder.services import FACET_TITLES
from kb.finder.services import SearchArgs
from kb.finder.services import find
from kb.finder.services import parse_search_args
from kb.imports.exports import public_record
from kb.markdown import render_markdown
from kb.models import AuditEvent
from kb.models import Entry
from kb.models import Revision
from kb.models import utcnow
from kb.web import external_url

ATOM = "http://www.w3.org/2005/Atom"
ATOM_TYPE = "application/atom+xml"
FEED_SIZE = 50
SEARCH_WINDOW = 100
PUBLISH_ACTIONS = ("entry.publish", "entry.approve")
FEED_TITLE = "BUCP Knowledge Base: new and updated entries"
LOGIN_MESSAGE = (
    "This knowledge base needs a sign-in (KB_READ_ACCESS=login), and feed readers cannot sign "
    "in: add ?token=<your API token> to the feed's address.\n"
)

bp = Blueprint("feeds", __name__, url_prefix="/feeds")
# The feed answers its own sign-in requirement (401 for feed readers, not a redirect to the
# sign-in page): kb.auth.policy.PUBLIC_ENDPOINTS lists it.


def feed_params(args: SearchArgs | None = None, **filters: Any) -> dict[str, Any]:
    """The query parameters of a feed: the search's words and filters, plus ``filters``."""
    params: dict[str, Any] = {}
    if args is not None:
        if args.q.strip():
            params["q"] = args.q.strip()
        params.update({key: list(values) for key, values in args.filters.items() if values})
    params.update({key: value for key, value in filters.items() if value not in (None, "")})
    return params


@bp.app_template_global("feed_url")
def feed_url(args: SearchArgs | None = None, **filters: Any) -> str:
    """The feed of a page: ``feed_url(category=slug)``, ``feed_url(found.args)`` …"""
    return url_for("feeds.entries", **feed_params(args, **filters))


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _publication_times(ids: list[int] | None = None, limit: int | None = None) -> dict[int, Any]:
    """Entry id → its newest publication (publish or approve) time, newest first."""
    at = func.max(AuditEvent.at).label("at")
    statement = (
        select(AuditEvent.object_id, at)
        .join(Entry, Entry.id == AuditEvent.object_id)
        .where(
            AuditEvent.object_type == "entry",
            AuditEvent.action.in_(PUBLISH_ACTIONS),
            Entry.status == "published",
        )
        .group_by(AuditEvent.object_id)
        .order_by(desc("at"))
    )
    if ids is not None:
        statement = statement.where(AuditEvent.object_id.in_(ids))
    if limit is not None:
        statement = statement.limit(limit)
    return {entry_id: _aware(moment) for entry_id, moment in db.session.execute(statement)}


def _newest_entries() -> list[Entry]:
    """Candidates: the newest published entries by content change and by publication."""
    by_update = select(Entry.id).where(Entry.status == "published")
    by_update = by_update.order_by(Entry.updated_at.desc(), Entry.id.desc()).limit(FEED_SIZE)
    ids = set(db.session.scalars(by_update)) | set(_publication_times(limit=FEED_SIZE))
    statement = select(Entry).where(Entry.id.in_(ids)).options(*ENTRY_LOAD)
    return list(db.session.scalars(statement))


def _searched_entries(args: SearchArgs) -> list[Entry]:
    """Candidates: the newest published entries the search finds (readers' visibility)."""
    args.sort, args.page, args.per_page, args.facets = "newest", 1, SEARCH_WINDOW, False
    return [entry for entry in find(db.session, args, None).entries if entry.status == "published"]


def _feed_entries(args: SearchArgs) -> list[tuple[Entry, datetime]]:
    """The feed's entries with their feed times, newest first."""
    filtered = bool(args.q.strip() or args.filters)
    entries = _searched_entries(args) if filtered else _newest_entries()
    published = _publication_times([entry.id for entry in entries])
    timed = []
    for entry in entries:
        moments = [_aware(entry.updated_at), published.get(entry.id)]
        timed.append((entry, max(moment for moment in moments if moment is not None)))
    timed.sort(key=lambda pair: (pair[1], pair[0].id), reverse=True)
    return timed[:FEED_SIZE]


def _describe(args: SearchArgs) -> str:
    """The feed's filters in words (for its title)."""
    parts = [f"“{args.q.strip()}”"] if args.q.strip() else []
    for key, values in args.filters.items():
        parts.append(f"{FACET_TITLES.get(key, key)}: {', '.join(values)}")
    return "; ".join(parts)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _content_html(record: Mapping[str, Any], entry: Entry) -> str:
    parts = [str(render_markdown(record["body"]))]
    for name, label in (
        ("benefit", "Benefit"),
        ("context", "Context"),
        ("usage_notes", "Usage notes"),
    ):
        if record.get(name):
            parts.append(f"<h3>{label}</h3>" + str(render_markdown(record[name])))
    if entry.kind == "snippet" and entry.clause_type:
        parts.append(f"<p>Clause type: {entry.clause_type.name}; position: {entry.position}</p>")
    return "\n".join(parts)


def _entry_element(
    feed: ET.Element, entry: Entry, moment: datetime, redacted: set[tuple[int, int]]
) -> None:
    record = public_record(entry, redacted)
    item = _sub(feed, "entry")
    _sub(item, "id", f"urn:uuid:{entry.uid}")
    _sub(item, "title", record["title"], type="text")
    _sub(item, "updated", moment.isoformat(timespec="seconds"))
    _sub(item, "published", _aware(entry.created_at).isoformat(timespec="seconds"))  # type: ignore[union-attr]
    url = external_url("entries.detail", entry_id=entry.id)
    _sub(item, "link", rel="alternate", type="text/html", href=url)
    author = _sub(item, "author")
    _sub(author, "name", entry.author.label if entry.author else "BUCP Knowledge Base")
    for category in entry.categories:
        scheme = external_url("browse.category", slug=category.slug)
        _sub(item, "category", term=category.slug, label=category.name, scheme=scheme)
    for play in entry.plays:
        _sub(
            item, "category", term=f"play-{play.number}", label=f"Play {play.number}: {play.title}"
        )
    for tag in record["tags"]:
        _sub(item, "category", term=tag, label=f"#{tag}")
    if record["summary"]:
        _sub(item, "summary", record["summary"], type="text")
    _sub(item, "content", _content_html(record, entry), type="html")


def build_feed(args: SearchArgs) -> tuple[bytes, datetime]:
    """The Atom document and its newest time."""
    timed = _feed_entries(args)
    ids = [entry.id for entry, _ in timed]
    statement = select(Revision.entry_id, Revision.number).where(
        Revision.redacted.is_(True), Revision.entry_id.in_(ids)
    )
    redacted = {(entry_id, number) for entry_id, number in db.session.execute(statement)}
    newest = timed[0][1] if timed else utcnow().replace(microsecond=0)
    described = _describe(args)
    params = feed_params(args)
    self_url = external_url("feeds.entries", **params)
    if params:
        alternate = external_url("finder.search", **params, sort="newest")
    else:
        alternate = external_url("browse.home")
    feed = ET.Element("feed", {"xmlns": ATOM})
    _sub(feed, "id", self_url)
    _sub(feed, "title", f"{FEED_TITLE} ({described})" if described else FEED_TITLE, type="text")
    _sub(feed, "subtitle", "Lessons learned and reusable BUCP clauses, newest first.")
    _sub(feed, "updated", newest.isoformat(timespec="seconds"))
    _sub(feed, "link", rel="self", type=ATOM_TYPE, href=self_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=alternate)
    _sub(_sub(feed, "author"), "name", "BUCP Knowledge Base")
    for entry, moment in timed:
        _entry_element(feed, entry, moment, redacted)
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body, newest


@bp.get("/entries.atom", endpoint="entries")
def entries_feed() -> ResponseReturnValue:
    """The Atom feed, narrowed by the search parameters."""
    if current_app.config["READ_ACCESS"] == "login" and viewer() is None:
        response = Response(LOGIN_MESSAGE, 401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = 'Bearer realm="BUCP Knowledge Base"'
        return response
    args = parse_search_args(request.args)
    args.q = args.q[: search.MAX_QUERY_CHARS]
    body, newest = build_feed(args)
    response = Response(body, mimetype=ATOM_TYPE)
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    response.last_modified = newest
    return response.make_conditional(request)
