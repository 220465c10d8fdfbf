"""Prometheus metrics: requests, upstream calls, the breaker, the cache, the limit.

Under gunicorn every worker writes to ``PROMETHEUS_MULTIPROC_DIR`` and the master serves
the sum on ``METRICS_PORT`` (see ``gunicorn_conf``); the app itself serves nothing.
prometheus_client picks its multi-process mode when first imported, so it is imported
only once a metric is needed, after gunicorn's settings have named the folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from flask import Flask, Response, g, request


@dataclass(frozen=True)
class Instruments:
    """The process's counters and histograms."""

    requests: Any
    request_seconds: Any
    upstream_calls: Any
    upstream_seconds: Any
    cache: Any
    cache_errors: Any
    rate_limited: Any
    breaker_state: Any
    upstream_refused: Any
    bulkhead_waits: Any


#: The breaker's states as the gauge shows them.
BREAKER_STATES = {"ok": 0, "half-open": 1, "open": 2}


@cache
def instruments() -> Instruments:
    """Create the metrics, once per process."""
    from prometheus_client import Counter, Gauge, Histogram

    return Instruments(
        requests=Counter(
            "portal_requests_total",
            "Answers by route and status.",
            ["endpoint", "status"],
        ),
        request_seconds=Histogram(
            "portal_request_seconds", "Time to answer, by route.", ["endpoint"]
        ),
        upstream_calls=Counter(
            "portal_upstream_calls_total", "Calls to Fileflare by status.", ["status"]
        ),
        upstream_seconds=Histogram(
            "portal_upstream_seconds", "Time of one call to Fileflare."
        ),
        cache=Counter(
            "portal_cache_total",
            "Order lookups: hit (cached), miss (fetched) or stale (old copy served).",
            ["result"],
        ),
        cache_errors=Counter("portal_cache_errors_total", "Cache calls that failed."),
        rate_limited=Counter(
            "portal_rate_limited_total", "Lookups refused with a 429."
        ),
        breaker_state=Gauge(
            "portal_upstream_breaker_state",
            "The circuit breaker as last seen: 0 ok, 1 half-open, 2 open.",
            multiprocess_mode="mostrecent",
        ),
        upstream_refused=Counter(
            "portal_upstream_refused_total",
            "Calls to Fileflare not made: breaker open, half-open, or no free slot.",
            ["reason"],
        ),
        bulkhead_waits=Counter(
            "portal_upstream_slot_waits_total",
            "Calls to Fileflare that waited for a free slot.",
        ),
    )


def cache_result(result: str) -> None:
    """Count an order lookup as a cache ``hit``, ``miss`` or ``stale`` serve."""
    _lookups(result).inc()


@cache
def _lookups(result: str) -> Any:
    return instruments().cache.labels(result)


def cache_error() -> None:
    """Count a cache call that failed."""
    instruments().cache_errors.inc()


def upstream_call(status: str, seconds: float) -> None:
    """Count and time one call to Fileflare."""
    metrics = instruments()
    metrics.upstream_calls.labels(status).inc()
    metrics.upstream_seconds.observe(seconds)


def breaker_state(state: str) -> None:
    """Show the breaker's state: ``ok``, ``half-open`` or ``open``."""
    instruments().breaker_state.set(BREAKER_STATES[state])


def upstream_refused(reason: str) -> None:
    """Count a call to Fileflare not made, by ``reason``."""
    instruments().upstream_refused.labels(reason).inc()


def bulkhead_wait() -> None:
    """Count a call to Fileflare that had to wait for a slot."""
    instruments().bulkhead_waits.inc()


def rate_limited() -> None:
    """Count a refused lookup."""
    instruments().rate_limited.inc()


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


@cache
def _answers(endpoint: str, status: int) -> Any:
    """The answer counter of one route and status (a handful of each)."""
    return instruments().requests.labels(endpoint, str(status))


@cache
def _timer(endpoint: str) -> Any:
    """The answer-time histogram of one route."""
    return instruments().request_seconds.labels(endpoint)


def _observe(response: Response) -> Response:
    endpoint = request.endpoint or "none"
    _answers(endpoint, response.status_code).inc()
    started = g.get("metrics_started")
    if started is not None:
        _timer(endpoint).observe(time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    """Count and time every answer."""
    # Created here, before any request thread can race to create them twice.
    instruments()
    app.before_request(_start_timer)
    app.after_request(_observe)
