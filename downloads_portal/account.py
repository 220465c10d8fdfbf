"""The customer's order page under /account/orders/."""

from __future__ import annotations

from flask import Blueprint
from werkzeug.exceptions import NotFound

from .pages import render_order
from .security import valid_token
from .store import get_store

bp = Blueprint("account", __name__, url_prefix="/account/orders")


def order_page(token: str, *, memo: bool = False) -> str:
    """Render the order page for ``token``; the proxy and the preview serve the
    same page, rendered afresh (``memo`` lets a kept one serve)."""
    if not valid_token(token):
        raise NotFound()
    return render_order(get_store().get(token), memo=memo)


# No slash merging: its redirect would carry the token to another URL and log line.
@bp.get("/<token>", merge_slashes=False)
def order(token: str) -> str:
    """Show every file the customer may download for one order."""
    # Its page depends on the order and the language alone, so it may be kept.
    return order_page(token, memo=True)
