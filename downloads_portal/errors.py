"""Error pages: one look for every status, and never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from .upstream import UpstreamError, UpstreamUnavailable

log = logging.getLogger(__name__)


def render_error(status: int, **context: object) -> Response:
    """Render the page for ``status``, falling back to plain text if that fails."""
    names = [f"errors/{status}.html", "errors/error.html"]
    try:
        body = render_template(names, status=status, **context)
    except Exception:
        log.exception("error page %s failed to render", status)
        body = f"Error {status}. Please try again later.\n"
        return Response(body, status=status, mimetype="text/plain")
    return Response(body, status=status)


def handle_http(exc: HTTPException) -> Response:
    """Render werkzeug's HTTP errors, unknown URLs included, in the site's look."""
    # Flask has already logged an unhandled error (redacted: security.py).
    status = exc.code or 500
    response = render_error(status, name=exc.name, order_page=_on_order_page())
    for key, value in exc.get_headers():
        if key.lower() != "content-type":
            response.headers[key] = value
    return response


def handle_upstream(exc: UpstreamError) -> Response:
    """Turn an upstream failure into its page: 404, 402, 502 or 503."""
    response = render_error(exc.status, order_page=True)
    if isinstance(exc, UpstreamUnavailable):
        response.headers["Retry-After"] = str(current_app.config["RETRY_AFTER_SECONDS"])
    return response


def _on_order_page() -> bool:
    return bool(request.blueprint) and request.blueprint != "health"


def init_app(app: Flask) -> None:
    """Register the handlers for every HTTP error and the upstream's failures."""
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(UpstreamError, handle_upstream)
