"""Prometheus metrics: counted in each process, served by gunicorn's master."""

from __future__ import annotations

import secrets

import requests
from prometheus_client import REGISTRY

from downloads_portal import create_app, fixtures

from .conftest import ORDERS_PATH, TOKEN, base_url, free_port, upstream_calls

URL = f"/account/orders/{TOKEN}"


def sample(name: str, **labels: str) -> float:
    """Return a metric's value in this process so far (0 before its first count)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_views_lookups_and_upstream_calls_are_counted(client, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    names = {
        "views": (
            "portal_requests_total",
            {"endpoint": "account.order", "status": "200"},
        ),
        "misses": ("portal_cache_total", {"result": "miss"}),
        "hits": ("portal_cache_total", {"result": "hit"}),
        "calls": ("portal_upstream_calls_total", {"status": "200"}),
        "timed": ("portal_request_seconds_count", {"endpoint": "account.order"}),
    }
    before = {key: sample(name, **labels) for key, (name, labels) in names.items()}
    for _ in range(3):
        assert client.get(URL).status_code == 200
    after = {key: sample(name, **labels) for key, (name, labels) in names.items()}
    grown = {key: after[key] - before[key] for key in names}
    assert grown == {"views": 3, "misses": 1, "hits": 2, "calls": 1, "timed": 3}


def test_serve_sums_metrics_over_workers_on_its_own_port(portal, httpserver) -> None:
    token = secrets.token_hex(16)
    httpserver.expect_request(ORDERS_PATH).respond_with_json(fixtures.EXAMPLE_ORDER)
    metrics_port = free_port()
    served = portal(API_BASE_URL=base_url(httpserver), METRICS_PORT=metrics_port)
    for _ in range(3):
        response = requests.get(f"{served.base}/account/orders/{token}", timeout=10)
        assert response.status_code == 200
    assert requests.get(f"{served.base}/metrics", timeout=5).status_code == 404

    metrics = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    assert 'portal_requests_total{endpoint="account.order",status="200"} 3.0' in metrics
    assert 'portal_upstream_calls_total{status="200"} 1.0' in metrics
    assert 'portal_cache_total{result="hit"} 2.0' in metrics


def test_served_pages_without_metrics_port_expose_none(portal, httpserver) -> None:
    served = portal(API_BASE_URL=base_url(httpserver))
    assert requests.get(f"{served.base}/metrics", timeout=5).status_code == 404
    served.process.terminate()
    served.process.wait(30)
    assert not any("metrics on" in line["message"] for line in served.lines())


def test_the_breaker_and_the_slots_are_counted(config, httpserver) -> None:
    config["UPSTREAM_CONCURRENCY"] = 1
    app = create_app(config)
    client = app.test_client()
    refused = {
        reason: sample("portal_upstream_refused_total", reason=reason)
        for reason in ("open", "busy")
    }
    waits = sample("portal_upstream_slot_waits_total")

    source = app.extensions["order_store"].source
    assert source.slots.acquire(blocking=False)  # the one slot, taken
    assert client.get(URL).status_code == 503
    source.slots.release()
    assert sample("portal_upstream_slot_waits_total") - waits == 1
    assert sample("portal_upstream_refused_total", reason="busy") - refused["busy"] == 1
    # Our own congestion leaves the breaker closed.
    assert app.extensions["upstream_breaker"].state() == "ok"
    assert sample("portal_upstream_breaker_state") == 0

    app.extensions["upstream_breaker"].open(20, "a test")
    assert client.get(URL).status_code == 503
    assert sample("portal_upstream_refused_total", reason="open") - refused["open"] == 1
    assert sample("portal_upstream_breaker_state") == 2
    assert upstream_calls(httpserver) == 0
