"""Liveness: the cheapest route, touching neither the upstream nor the cache."""

from __future__ import annotations

from flask import Blueprint, Response

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Say the process is alive."""
    return Response("ok\n", mimetype="text/plain")
