"""Liveness and readiness probes."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, jsonify

from .store import get_store

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Say the process is alive, touching neither the upstream nor the cache."""
    return Response("ok\n", mimetype="text/plain")


@bp.get("/readyz")
def readyz() -> Response:
    """Say the app can take traffic; a cache that is down only costs upstream calls."""
    return jsonify(status="ready", **check("cache", cache_state))


def cache_state() -> str:
    """Say whether the shared cache answers."""
    return "ok" if get_store().cache.ping() else "down"


def check(name: str, probe: Callable[[], str]) -> dict[str, str]:
    """Run one check; a failure it did not foresee is reported, never a 500."""
    try:
        return {name: probe()}
    except Exception as exc:
        log.warning("readiness check %s failed: %s", name, type(exc).__name__)
        return {name: "error", f"{name}_error": type(exc).__name__}
