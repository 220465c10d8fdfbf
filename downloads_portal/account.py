"""The customer's order page under /account/orders/."""

from __future__ import annotations

from collections.abc import Hashable

from flask import Blueprint, current_app, render_template, request
from flask_babel import get_locale
from werkzeug.exceptions import NotFound

from .orders import OrderView, get_store
from .security import valid_token

bp = Blueprint("account", __name__, url_prefix="/account/orders")

#: Variants of one order's page kept at most (a query string makes a variant).
PAGES_PER_ORDER = 8


def order_page(token: str) -> str:
    """Render the order page for ``token``; the proxy serves the same page."""
    if not valid_token(token):
        raise NotFound()
    view = get_store().get(token)
    return render_order(view)


def render_order(view: OrderView) -> str:
    """Render ``view``, reusing the page already rendered from the same fresh copy.

    Only the customer's own route is reused: its page depends on the order and on
    nothing of the request but what ``page_variant`` names. Stale views show their
    age, and the preview reloads templates, so both are rendered every time.
    """
    pages = view.pages
    if (
        pages is None
        or view.stale
        or request.blueprint != bp.name
        or current_app.jinja_env.auto_reload
    ):
        return render_template("order.html", view=view, order=view.order)
    variant = page_variant()
    page = pages.get(variant)
    if page is None:
        if len(pages) >= PAGES_PER_ORDER:
            pages.clear()
        page = pages[variant] = render_template(
            "order.html", view=view, order=view.order
        )
    return page


def page_variant() -> Hashable:
    """Name what of the request, beyond the order, the page's text depends on."""
    return request.query_string, str(get_locale())


# No slash merging: its redirect would carry the token to another URL and log line.
@bp.get("/<token>", merge_slashes=False)
def order(token: str) -> str:
    """Show every file the customer may download for one order."""
    return order_page(token)
