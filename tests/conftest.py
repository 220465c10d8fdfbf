"""Shared fixtures: the app pointed at a real HTTP server standing in for Fileflare."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer

from downloads_portal import create_app

#: Where the browser tests leave their screenshots, reported at the end of the run.
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
SCREENSHOTS_TAKEN = pytest.StashKey[int]()

ORDERS_PATH = "/api/v2/customer-account-orders"
TOKEN = "0c732eb6fd9802a0821a9d29888baee8"


def require(available: bool, reason: str) -> None:
    """Skip when a service is missing on a laptop; fail in CI, where it must exist."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    """Return a loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def upstream_calls(httpserver: HTTPServer) -> int:
    """Count the order lookups the stand-in upstream has answered."""
    return sum(1 for request, _ in httpserver.log if request.path == ORDERS_PATH)


@pytest.fixture
def config(httpserver: HTTPServer, tmp_path: Any) -> dict[str, Any]:
    return {
        "API_BASE_URL": httpserver.url_for("/").rstrip("/"),
        "API_TIMEOUT": 1,
        "CACHE_DIR": str(tmp_path / "cache"),
    }


@pytest.fixture
def app(config: dict[str, Any]) -> Iterator[Flask]:
    yield create_app(config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def serve(httpserver: HTTPServer):
    """Make the stand-in answer an order lookup for ``token`` with JSON or a status."""

    def serve(
        body: Any = None, status: int = 200, token: str = TOKEN, **kwargs: Any
    ) -> None:
        handler = httpserver.expect_request(ORDERS_PATH, query_string={"id": token})
        if body is None:
            handler.respond_with_data("", status=status, **kwargs)
        else:
            handler.respond_with_json(body, status=status, **kwargs)

    return serve


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say where the browser tests' screenshots are, when some were taken."""
    taken = terminalreporter.config.stash.get(SCREENSHOTS_TAKEN, 0)
    if taken:
        terminalreporter.write_sep("-", "screenshots")
        terminalreporter.write_line(f"{taken} screenshots in {SCREENSHOTS}")
