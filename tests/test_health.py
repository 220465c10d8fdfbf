"""Liveness and readiness probes."""

from __future__ import annotations

import redis

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


def test_readyz_reports_the_breaker_and_stays_ready(app, httpserver) -> None:
    app.extensions["upstream_breaker"].open(20, "a test")
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.json["upstream"] == "open"
    assert upstream_calls(httpserver) == 0
