"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from .store import get_store

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Say the process is alive, touching neither the upstream nor the cache."""
    return Response("ok\n", mimetype="text/plain")


@bp.get("/readyz")
def readyz() -> Response:
    """Say the app can take traffic, never asking Fileflare: a cache that is down
    only costs upstream calls, and with the breaker open cached pages still serve."""
    cache = "ok" if get_store().cache.ping() else "down"
    breaker = current_app.extensions.get("upstream_breaker")
    upstream = breaker.state() if breaker is not None else "ok"
    return jsonify(status="ready", cache=cache, upstream=upstream)
