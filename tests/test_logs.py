"""Request ids and JSON log lines."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from downloads_portal import fixtures
from downloads_portal.logs import JsonFormatter, RequestId

from .conftest import TOKEN

URL = f"/account/orders/{TOKEN}"


@pytest.fixture
def log_lines():
    """Collect the app's log records as the JSON lines a server would write."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestId())
    logger = logging.getLogger("downloads_portal")
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_a_sane_request_id_is_kept(client, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    response = client.get(URL, headers={"X-Request-ID": "lb-7f3a.9c:01"})
    assert response.headers["X-Request-ID"] == "lb-7f3a.9c:01"


@pytest.mark.parametrize("incoming", [None, "", "a b", "<script>", "x" * 129])
def test_other_requests_get_a_new_id(client, incoming) -> None:
    headers = {} if incoming is None else {"X-Request-ID": incoming}
    response = client.get("/healthz", headers=headers)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_every_line_of_a_request_carries_its_id(client, serve, log_lines) -> None:
    serve(status=500)
    response = client.get(URL, headers={"X-Request-ID": "visit-9"})
    assert response.status_code == 503
    lines = log_lines()
    assert lines
    assert all(line["request_id"] == "visit-9" for line in lines)
    assert any(line["level"] == "WARNING" for line in lines)
    assert all(TOKEN not in json.dumps(line) for line in lines)


@pytest.mark.parametrize("path", [f"/boom/{TOKEN}", f"/boom/{TOKEN}/x"])
def test_an_unhandled_error_logs_no_token(app, log_lines, path) -> None:
    @app.get("/boom/<token>")
    def boom(token: str) -> str:
        raise RuntimeError("boom")

    @app.errorhandler(404)
    def missing(exc: Exception) -> str:
        raise RuntimeError("the 404 page failed")

    assert app.test_client().get(path).status_code == 500
    lines = log_lines()
    assert any(line["message"].startswith("Exception on ") for line in lines)
    assert all(TOKEN not in json.dumps(line) for line in lines)


def test_colour_codes_never_reach_a_line() -> None:
    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, "\x1b[33mPress CTRL+C\x1b[0m", (), None
    )
    assert json.loads(JsonFormatter().format(record))["message"] == "Press CTRL+C"
