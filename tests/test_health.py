"""Liveness and readiness probes."""

from __future__ import annotations

import logging
import socketserver
import threading
from collections.abc import Iterator

import pytest
import redis

from downloads_portal import create_app

from .conftest import upstream_calls


def test_healthz_touches_nothing(app, httpserver, monkeypatch) -> None:
    def forbidden(*args, **kwargs):
        raise AssertionError("healthz touched the cache")

    cache_backend = app.extensions["cache"]
    for backend in cache_backend.values():
        monkeypatch.setattr(backend, "get", forbidden)
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.text == "ok\n"
    assert upstream_calls(httpserver) == 0


def test_readyz_says_the_cache_answers(client, httpserver) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "cache": "ok", "upstream": "ok"}
    assert upstream_calls(httpserver) == 0


def test_readyz_stays_ready_while_the_cache_is_down(app, monkeypatch) -> None:
    def down(*args, **kwargs):
        raise redis.ConnectionError("cache down")

    for backend in app.extensions["cache"].values():
        monkeypatch.setattr(backend, "get", down)
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "cache": "down", "upstream": "ok"}


class GarbledRedis(socketserver.StreamRequestHandler):
    """Answer every Redis command with the integer 1, whatever it asked for."""

    def handle(self) -> None:
        while line := self.rfile.readline():
            if not line.startswith(b"*"):
                return
            for _ in range(int(line[1:])):
                size = int(self.rfile.readline()[1:])
                self.rfile.read(size + 2)
            self.wfile.write(b":1\r\n")


@pytest.fixture
def garbled_redis() -> Iterator[str]:
    """A server on loopback that speaks Redis's protocol but answers nonsense."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), GarbledRedis)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.server_address[1]}/0"
    server.shutdown()
    server.server_close()


def test_readiness_reports_a_cache_answering_nonsense(
    config, garbled_redis, caplog
) -> None:
    config.update(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=garbled_redis)
    client = create_app(config).test_client()
    with caplog.at_level(logging.WARNING, logger="downloads_portal.health"):
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ready",
        "cache": "error",
        "cache_error": "AttributeError",
        "upstream": "ok",
    }
    assert "readiness check cache failed: AttributeError" in caplog.text


def test_readyz_reports_the_breaker_and_stays_ready(app, httpserver) -> None:
    app.extensions["upstream_breaker"].open(20, "a test")
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.json["upstream"] == "open"
    assert upstream_calls(httpserver) == 0
