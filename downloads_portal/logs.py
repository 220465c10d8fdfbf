"""JSON log lines, each carrying the id of the request it belongs to."""

from __future__ import annotations

import json
import logging
import logging.config
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from .security import redact, route_path, unknown_path

#: An incoming ``X-Request-ID`` is kept when it looks like this, else replaced.
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:=-]{1,128}")

#: Where a request's id is kept in its WSGI environ, for the server's access line.
REQUEST_ID_KEY = "downloads_portal.request_id"

#: Where the app leaves, in the WSGI environ, the path as log lines may show it.
LOG_PATH = "downloads_portal.log_path"

#: Methods written in log lines as they are; any other is a client's made-up word.
METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"}
)

# A terminal's colour codes, which werkzeug puts in its messages.
_ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")

#: Fields a record may carry as ``extra`` that belong in the JSON line.
EXTRA_FIELDS = ("method", "path", "status", "duration_ms", "bytes", "remote")


def request_id() -> str | None:
    """Return the current request's id, outside a request None."""
    if has_request_context():
        value: str | None = g.get("request_id")
        return value
    return None


class RequestId(logging.Filter):
    """Give each record the id of the request being served, if any."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach the request id to ``record``."""
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id()
        return True


#: The words of an error's description that are gunicorn's own, not the request's.
_OWN_WORDS = re.compile(r"[A-Za-z ]*")


class GunicornRequests(logging.Filter):
    """Keep what a client sent out of gunicorn's own lines about bad requests.

    gunicorn quotes a request line it cannot parse ("Invalid HTTP request line:
    'GET /account/orders/... HTTP/9'"), and names the URI of a request that failed.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Cut the client's words from ``record``."""
        message = str(record.msg)
        if message.startswith("Invalid request from ip="):
            head, _, detail = record.getMessage().partition(": ")
            words = _OWN_WORDS.match(detail)
            kind = words[0].strip() if words else ""
            record.msg, record.args = f"{head}: {kind or 'unreadable'}", None
        elif message.startswith("Error handling request") and record.args:
            uri = record.args[-1] if isinstance(record.args, tuple) else ""
            record.msg = "Error handling request %s"
            record.args = (unknown_path(str(uri)),)
        return True


class JsonFormatter(logging.Formatter):
    """Write a record as one line of JSON, with order tokens redacted."""

    def format(self, record: logging.LogRecord) -> str:
        """Return ``record`` as one line of JSON."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(_ANSI_CODE.sub("", record.getMessage())),
            "request_id": getattr(record, "request_id", None),
        }
        for name in EXTRA_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """Return a ``dictConfig`` that sends every logger's records to stderr as JSON."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": RequestId},
            "gunicorn_requests": {"()": GunicornRequests},
        },
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
                "filters": ["request_id"],
            }
        },
        "root": {"level": level, "handlers": ["json"]},
        "loggers": {
            "gunicorn.error": {
                "level": level,
                "handlers": [],
                "propagate": True,
                "filters": ["gunicorn_requests"],
            },
            "gunicorn.access": {"level": level, "handlers": [], "propagate": True},
        },
    }


def access(
    logger: logging.Logger,
    environ: Mapping[str, Any],
    status: str,
    seconds: float,
    size: int | str | None,
) -> None:
    """Log the access line of one answered request: no query, no path not known safe."""
    method = log_method(environ.get("REQUEST_METHOD"))
    path = log_path(environ)
    logger.info(
        "%s %s %s",
        method,
        path,
        status,
        extra={
            "request_id": environ.get(REQUEST_ID_KEY),
            "method": method,
            "path": path,
            "status": int(status) if status.isdigit() else status,
            "duration_ms": round(seconds * 1000),
            "bytes": size,
            "remote": environ.get("REMOTE_ADDR"),
        },
    )


def configure(level: str = "INFO") -> None:
    """Log JSON lines to stderr."""
    logging.config.dictConfig(logging_config(level))


def _assign_request_id() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    if REQUEST_ID_RE.fullmatch(incoming):
        g.request_id = incoming
    else:
        g.request_id = uuid.uuid4().hex
    request.environ[REQUEST_ID_KEY] = g.request_id


def log_path(environ: Mapping[str, Any]) -> str:
    """Return the request's path as log lines show it: what the app said, else hidden.

    Only a route's template and the name of a static file we served are written as
    they are; any other path, a near miss of an order's URL included, is
    fingerprinted whole, since it may hold a token.
    """
    return environ.get(LOG_PATH) or unknown_path(environ.get("PATH_INFO", ""))


def log_method(method: str | None) -> str:
    """Return the request's method for a log line, or "-" for one we do not know."""
    return method if method in METHODS else "-"


def request_path(status: int | None = None) -> str:
    """Return the current request's path as a log line may show it.

    A route's values are fingerprinted; a static file is named only once it was
    served (``status``); a path no route knows is fingerprinted whole.
    """
    rule = request.url_rule
    if rule is None:
        return unknown_path(request.path)
    if rule.endpoint == "static" and status is not None and status < 400:
        return request.path
    return route_path(rule.rule, request.view_args or {})


def _note_log_path(response: Response) -> Response:
    request.environ[LOG_PATH] = request_path(response.status_code)
    return response


class ExceptionPath(logging.Filter):
    """Hide the path in Flask's own "Exception on /path [GET]" line."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's path as the access log writes it."""
        if has_request_context() and str(record.msg).startswith("Exception on "):
            record.msg = "Exception on %s [%s]"
            record.args = (request_path(), log_method(request.method))
        return True


def _echo_request_id(response: Response) -> Response:
    if "request_id" in g:
        response.headers["X-Request-ID"] = g.request_id
    return response


def init_app(app: Flask) -> None:
    """Give every request an id, and echo it in ``X-Request-ID``."""
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)
    app.after_request(_note_log_path)
    # Every app of a process shares its logger: one filter is enough.
    if not any(isinstance(f, ExceptionPath) for f in app.logger.filters):
        app.logger.addFilter(ExceptionPath())
