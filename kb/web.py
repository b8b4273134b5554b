"""Request and response plumbing shared by every page: input cleaning, headers, template helpers."""

from __future__ import annotations

import re
from functools import cached_property

from flask import Flask
from flask import Request
from flask import Response
from flask import current_app
from flask import request
from flask import url_for
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.datastructures import MultiDict

from kb.finder.views import search_url
from kb.markdown import render_markdown
from kb.placeholders import placeholder_names

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)


def strip_controls(text: str) -> str:
    """Remove NUL and other control characters (tabs and newlines stay)."""
    return _CONTROL.sub("", text)


def _clean(data: MultiDict[str, str]) -> ImmutableMultiDict[str, str]:
    return ImmutableMultiDict(
        [(strip_controls(key), strip_controls(value)) for key, value in data.items(multi=True)]
    )


class CleanRequest(Request):
    """The one input boundary where control characters are stripped from arguments and forms."""

    @cached_property
    def args(self) -> ImmutableMultiDict[str, str]:  # type: ignore[override]
        return _clean(super().args)

    def _load_form_data(self) -> None:
        super()._load_form_data()
        self.__dict__["form"] = _clean(self.__dict__["form"])


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def external_url(endpoint: str, **values: object) -> str:
    """An absolute URL: under ``KB_BASE_URL`` when set, else from the request."""
    base = current_app.config.get("BASE_URL")
    if base:
        return str(base).rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def url_with(**changes: object) -> str:
    """The current URL with some query parameters replaced (``None`` removes one)."""
    args = MultiDict(request.args)
    for key, value in changes.items():
        args.pop(key, None)
        if value is not None:
            args[key] = str(value)
    return url_for(
        request.endpoint or "browse.home", **(request.view_args or {}), **args.to_dict(flat=False)
    )


def init_app(app: Flask) -> None:
    """Install the request class, response headers and template helpers."""
    app.request_class = CleanRequest
    app.jinja_env.add_extension("jinja2.ext.do")
    app.after_request(_security_headers)
    app.add_template_filter(render_markdown, "markdown")
    app.add_template_global(placeholder_names, "placeholder_names")
    app.add_template_global(url_with)
    app.add_template_global(search_url)
