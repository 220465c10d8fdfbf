"""The customer's order page under /account/orders/."""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.exceptions import NotFound

from .orders import get_store
from .security import valid_token

bp = Blueprint("account", __name__, url_prefix="/account/orders")


def order_page(token: str) -> str:
    """Render the order page for ``token``; the proxy serves the same page."""
    if not valid_token(token):
        raise NotFound()
    view = get_store().get(token)
    return render_template("order.html", view=view, order=view.order)


@bp.get("/<token>")
def order(token: str) -> str:
    """Show every file the customer may download for one order."""
    return order_page(token)
