"""The bare address: what this is, for a customer who arrives without an order link."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("landing", __name__)


@bp.get("/")
def index() -> str:
    """Say where a customer finds their order's download page; look nothing up."""
    return render_template("landing.html")
