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

from .security import redact

#: An incoming ``X-Request-ID`` is kept when it looks like this, else replaced.
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:=-]{1,128}")

#: Where a request's id is kept in its WSGI environ, for the server's access line.
REQUEST_ID_KEY = "downloads_portal.request_id"

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
        "filters": {"request_id": {"()": RequestId}},
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
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
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
    """Log the access line of one answered request: no query, tokens redacted."""
    method = environ.get("REQUEST_METHOD", "-")
    path = redact(environ.get("PATH_INFO", ""))
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


def _echo_request_id(response: Response) -> Response:
    if "request_id" in g:
        response.headers["X-Request-ID"] = g.request_id
    return response


def init_app(app: Flask) -> None:
    """Give every request an id, and echo it in ``X-Request-ID``."""
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)
