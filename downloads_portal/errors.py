"""Error pages: one look for every status, and never a traceback."""

from __future__ import annotations

import logging
import math

from flask import Flask, Response, current_app, render_template, request
from flask_babel import gettext, lazy_gettext
from jinja2 import Template
from werkzeug.exceptions import HTTPException

from .upstream import UpstreamError, UpstreamUnavailable

log = logging.getLogger(__name__)

#: The names of the statuses that share errors/error.html, as werkzeug spells them,
#: marked for translation; any other status is called "Something went wrong".
STATUS_NAMES = {
    400: lazy_gettext("Bad Request"),
    405: lazy_gettext("Method Not Allowed"),
    406: lazy_gettext("Not Acceptable"),
    408: lazy_gettext("Request Timeout"),
    410: lazy_gettext("Gone"),
    413: lazy_gettext("Request Entity Too Large"),
    414: lazy_gettext("Request URI Too Large"),
    415: lazy_gettext("Unsupported Media Type"),
    416: lazy_gettext("Requested Range Not Satisfiable"),
    429: lazy_gettext("Too Many Requests"),
    431: lazy_gettext("Request Header Fields Too Large"),
    501: lazy_gettext("Not Implemented"),
}


def render_error(status: int, page: str | None = None, **context: object) -> Response:
    """Render the page for ``status`` (or ``errors/<page>.html``), falling back to
    plain text if that fails."""
    names: list[str | Template] = [f"errors/{page or status}.html", "errors/error.html"]
    try:
        body = render_template(names, status=status, **context)
    except Exception:
        log.exception("error page %s failed to render", status)
        return Response(plain_error(status), status=status, mimetype="text/plain")
    return Response(body, status=status)


def plain_error(status: int) -> str:
    """Say what went wrong in plain text, in English if even translating fails."""
    try:
        text = str(gettext("Error %(status)s. Please try again later.", status=status))
    except Exception:
        text = f"Error {status}. Please try again later."
    return text + "\n"


def handle_http(exc: HTTPException) -> Response:
    """Render werkzeug's HTTP errors, unknown URLs included, in the site's look."""
    # Flask has already logged an unhandled error (redacted: security.py).
    status = exc.code or 500
    name = STATUS_NAMES.get(status)
    shown = None if name is None else str(name)
    response = render_error(status, name=shown, order_page=_on_order_page())
    for key, value in exc.get_headers():
        if key.lower() != "content-type":
            response.headers[key] = value
    return response


def handle_upstream(exc: UpstreamError) -> Response:
    """Turn an upstream failure into its page: 404, 402, 502 or 503."""
    response = render_error(exc.status, order_page=True)
    if isinstance(exc, UpstreamUnavailable):
        response.headers["Retry-After"] = str(retry_after(exc))
    return response


def retry_after(exc: UpstreamUnavailable) -> int:
    """Say when to come back: when the breaker closes or Fileflare said, else the
    configured pause."""
    if exc.retry_after is None:
        return int(current_app.config["RETRY_AFTER_SECONDS"])
    cap = float(current_app.config["RETRY_AFTER_MAX_SECONDS"])
    return max(math.ceil(min(exc.retry_after, cap)), 1)


def _on_order_page() -> bool:
    return bool(request.blueprint) and request.blueprint != "health"


def init_app(app: Flask) -> None:
    """Register the handlers for every HTTP error and the upstream's failures."""
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(UpstreamError, handle_upstream)
