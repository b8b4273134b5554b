"""The search page: one URL, a full page or the results fragment; settled searches are logged."""

from __future__ import annotations

from flask import Blueprint
from flask import current_app
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue

from kb import search
from kb.auth.policy import viewer
from kb.extensions import db
from kb.finder import searchlog
from kb.finder.services import FACET_TITLES
from kb.finder.services import SearchArgs
from kb.finder.services import find
from kb.finder.services import parse_search_args
from kb.htmx import is_htmx
from kb.htmx import render

bp = Blueprint("finder", __name__)
#: Elements whose requests replace the URL (typing, the pause after typing); others push it.
REPLACING_TRIGGERS = {"q", "search-settle"}


def search_url(
    args: SearchArgs,
    *,
    toggle: tuple[str, str] | None = None,
    q: str | None = None,
    page: int | None = None,
    sort: str | None = None,
) -> str:
    """The canonical URL of a search, optionally with one filter value toggled."""
    filters = {key: list(values) for key, values in args.filters.items()}
    if toggle:
        key, value = toggle
        values = filters.setdefault(key, [])
        if value in values:
            values.remove(value)
        else:
            values.append(value)
    params: dict[str, object] = {key: values for key, values in filters.items() if values}
    params["q"] = args.q if q is None else q
    chosen_sort = sort or args.sort
    if chosen_sort != "relevance":
        params["sort"] = chosen_sort
    if args.per_page != 20:
        params["per_page"] = args.per_page
    chosen_page = page or (1 if toggle or q is not None or sort else args.page)
    if chosen_page > 1:
        params["page"] = chosen_page
    return url_for("finder.search", **{k: v for k, v in params.items() if v not in ("", None)})


@bp.get("/search", endpoint="search")
def search_page() -> ResponseReturnValue:
    """Search with filters and facets; the results list (and facets) are the htmx fragment."""
    args = parse_search_args(request.args)
    found = find(db.session, args, viewer())
    searched = bool(args.q.strip() or args.filters)
    response = render(
        "finder/search.html",
        "finder/_results.html",
        found=found,
        facet_titles=FACET_TITLES,
        oob=is_htmx(),
        max_query=search.MAX_QUERY_CHARS,
        max_terms=search.MAX_QUERY_TERMS,
        prefixes=search.PREFIXES,
        # Results shown while typing carry their search, logged if one of them is opened.
        result_params=searchlog.opened_result_params(
            found.result.query, args.filters, found.result.total
        )
        if searched and args.live
        else {},
    )
    if is_htmx():
        trigger = request.headers.get("HX-Trigger", "")
        header = "HX-Replace-Url" if trigger in REPLACING_TRIGGERS else "HX-Push-Url"
        response.headers[header] = search_url(args)
    if searched and not args.live:
        app = current_app._get_current_object()
        if searchlog.record(app, found.result.query, args.filters, found.result.total):
            response.call_on_close(lambda: searchlog.flush(app))
    return response
