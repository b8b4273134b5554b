"""Error pages: a full page, or a fragment for htmx requests; JSON under /api/; never a trace.

Lock contention (``kb.extensions.database_busy``) is not a fault: the transaction was rolled
back, so the answer is 503 with ``Retry-After`` and a message that nothing was saved, and the
command line prints one line instead of a traceback (``cli_errors``).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

import click
from flask import Flask
from flask import Response
from flask import jsonify
from flask import request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import InternalServerError

from kb.extensions import database_busy
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
    503: "The knowledge base is busy with other changes. Please try again in a moment.",
}
#: Seconds a client should wait before repeating a request refused because the database was busy.
RETRY_AFTER_SECONDS = 5
BUSY_WRITE_MESSAGE = (
    "The knowledge base is busy saving other changes, so nothing was saved. What you entered "
    "is still in your form (use your browser's Back button if it is not shown): please submit "
    "it again in a moment."
)
BUSY_API_MESSAGE = (
    "The database is busy with other changes (another writer kept it locked too long), so "
    "nothing was saved. Send the same request again after the Retry-After delay."
)
BUSY_CLI_MESSAGE = (
    "Error: the database is busy (another process kept it locked too long); the change in "
    "progress was rolled back. Run the command again in a moment."
)


def error_response(code: int, message: str | None = None) -> Response:
    """An error as JSON (API) or as a page or fragment (htmx), with its real status code."""
    message = message or MESSAGES.get(code, "Something went wrong.")
    if request.path.startswith("/api/"):
        response = jsonify(error={"code": code, "message": message})
        response.status_code = code
        return response
    return render("errors/page.html", "errors/_error.html", status=code, code=code, message=message)


def busy_response(message: str | None = None) -> Response:
    """503 with ``Retry-After`` for a request whose transaction met a locked database."""
    if message is None:
        if request.path.startswith("/api/"):
            message = BUSY_API_MESSAGE
        elif request.method in ("POST", "PUT", "PATCH", "DELETE"):
            message = BUSY_WRITE_MESSAGE
    response = error_response(503, message)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def retry_after(response: Response) -> Response:
    """Add the ``Retry-After`` header of a busy answer to a response a view built itself."""
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _database_error(exc: DBAPIError) -> Response:
    if not database_busy(exc):
        return _server_error(exc)
    db.session.rollback()
    log.warning("database busy on %s %s (answered 503): %s", request.method, request.path, exc.orig)
    return busy_response()


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Around a command line run: a locked database is one line on stderr and exit status 1."""
    try:
        yield
    except DBAPIError as exc:
        if not database_busy(exc):
            raise
        click.echo(BUSY_CLI_MESSAGE, err=True)
        sys.exit(1)


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
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(Exception, _server_error)
