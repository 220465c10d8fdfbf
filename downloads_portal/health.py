"""Liveness and readiness probes."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, current_app, jsonify

from .store import get_store
from .store.files import describe

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Say the process is alive, touching neither the upstream nor the cache."""
    return Response("ok\n", mimetype="text/plain")


@bp.get("/readyz")
def readyz() -> Response:
    """Say the app can take traffic, never asking Fileflare: a cache that is down
    only costs upstream calls, and with the breaker open cached pages still serve."""
    checks = check("cache", cache_state) | check("upstream", breaker_state)
    return jsonify(status="ready", **checks)


def cache_state() -> str:
    """Say whether the shared cache answers, and takes entries and fetch locks."""
    store = get_store()
    if not store.cache.ping():
        return "down"
    store.check()
    return "ok"


def check(name: str, probe: Callable[[], str]) -> dict[str, str]:
    """Run one check; a failure it did not foresee is reported, never a 500."""
    try:
        return {name: probe()}
    except Exception as exc:
        error = describe(exc) if isinstance(exc, OSError) else type(exc).__name__
        log.warning("readiness check %s failed: %s", name, error)
        return {name: "error", f"{name}_error": error}


def breaker_state() -> str:
    """Say what the circuit breaker on Fileflare lets through: ok, open, half-open."""
    breaker = current_app.extensions.get("upstream_breaker")
    return "ok" if breaker is None else str(breaker.state())
