"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .store import get_store

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Say the process is alive, touching neither the upstream nor the cache."""
    return Response("ok\n", mimetype="text/plain")


@bp.get("/readyz")
def readyz() -> Response:
    """Say the app can take traffic; a cache that is down only costs upstream calls."""
    cache = "ok" if get_store().cache.ping() else "down"
    return jsonify(status="ready", cache=cache)
