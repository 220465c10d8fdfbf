"""Prometheus metrics: requests, upstream calls, the cache and the rate limit.

Under gunicorn every worker writes to ``PROMETHEUS_MULTIPROC_DIR`` and the master serves
the sum on ``METRICS_PORT`` (see ``gunicorn_conf``); nothing is served from the app.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "portal_requests_total", "Answers by route and status.", ["endpoint", "status"]
)
REQUEST_SECONDS = Histogram(
    "portal_request_seconds", "Time to answer, by route.", ["endpoint"]
)
UPSTREAM_CALLS = Counter(
    "portal_upstream_calls_total", "Calls to Fileflare by outcome.", ["outcome"]
)
UPSTREAM_SECONDS = Histogram("portal_upstream_seconds", "Time of a call to Fileflare.")
CACHE = Counter(
    "portal_cache_total",
    "Order lookups: hit (from the cache), miss (fetched) or stale (old copy served).",
    ["result"],
)
CACHE_ERRORS = Counter("portal_cache_errors_total", "Cache operations that failed.")
RATE_LIMITED = Counter("portal_rate_limited_total", "Lookups refused with a 429.")


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    endpoint = request.endpoint or "none"
    REQUESTS.labels(endpoint, str(response.status_code)).inc()
    started = g.get("metrics_started")
    if started is not None:
        REQUEST_SECONDS.labels(endpoint).observe(time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    """Count and time every answer."""
    app.before_request(_start_timer)
    app.after_request(_observe)
