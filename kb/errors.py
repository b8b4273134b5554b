"""Error pages: a full page, or a fragment for htmx requests; JSON under /api/; never a trace."""

from __future__ import annotations

import logging

from flask import Flask
from flask import Response
from flask import jsonify
from flask import request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import InternalServerError

from kb.extensions import db
from kb.htmx import render

log = logging.getLogger(__name__)

MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have permission to do that.",
    404: "There is nothing at this address. It may have moved, or the link may be mistyped.",
    405: "That action is not available at this address.",
    409: "That change conflicts with the current state.",
    422: "Some of what was entered needs fixing.",
    429: "Too many attempts. Please wait a moment and try again.",
    500: "Something went wrong on our side. Nothing you entered was lost; please try again.",
}


def error_response(code: int, message: str | None = None) -> Response:
    """An error as JSON (API) or as a page or fragment (htmx), with its real status code."""
    message = message or MESSAGES.get(code, "Something went wrong.")
    if request.path.startswith("/api/"):
        response = jsonify(error={"code": code, "message": message})
        response.status_code = code
        return response
    return render("errors/page.html", "errors/_error.html", status=code, code=code, message=message)


def _http_error(exc: HTTPException) -> Response:
    code = exc.code or 500
    custom = exc.description != type(exc).description  # a message written for this case
    return error_response(code, exc.description if custom and code < 500 else None)


def _csrf_error(exc: CSRFError) -> Response:
    return error_response(400, "The form had expired or was incomplete. Please submit it again.")


def _server_error(exc: Exception) -> Response:
    db.session.rollback()
    original = getattr(exc, "original_exception", exc)
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=original)
    return error_response(500)


def init_app(app: Flask) -> None:
    """Register the handlers."""
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _server_error)
    app.register_error_handler(Exception, _server_error)
