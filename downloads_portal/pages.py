"""Order pages: rendered from a view, and kept while the copy they show is fresh."""

from __future__ import annotations

import logging

from flask import Flask, current_app, render_template, request
from flask_babel import get_locale

from .recent import Recent
from .store import OrderView
from .upstream import UpstreamInvalid

log = logging.getLogger(__name__)

#: The longest order page served, in characters. Within models.MAX_FILES an
#: ordinary order stays well below; names that escape to many times their length
#: (``{`` is written ``&#123;``) could not, and such an order is refused (502).
MAX_PAGE_CHARS = 3_000_000

#: A rendered page's identity: the copy of the order (cache key and fetch time)
#: and the variant of the page.
PageKey = tuple[str, float, str]


def render_order(view: OrderView) -> str:
    """Render ``view``, reusing the page already rendered from the same fresh copy.

    Only the customer's own route is reused: its page depends on the order and on
    nothing of the request but what ``page_variant`` names. Stale views show their
    age, and the preview reloads templates, so both are rendered every time.
    """
    if not reusable(view):
        return render(view)
    pages: Recent[PageKey, str] = current_app.extensions["order_pages"]
    key = (view.key, view.fetched_at, page_variant())
    page = pages.get(key)
    if page is None:
        page = pages.keep(key, render(view))
    return page


def render(view: OrderView) -> str:
    """Render the order page for ``view``; one beyond ``MAX_PAGE_CHARS`` is refused."""
    page = render_template("order.html", view=view, order=view.order)
    if len(page) > MAX_PAGE_CHARS:
        log.warning("order page of %d characters refused", len(page))
        raise UpstreamInvalid("order page too large")
    return page


def reusable(view: OrderView) -> bool:
    """Whether the page for ``view`` may be kept and served again."""
    return (
        not view.stale
        and request.blueprint == "account"
        and not current_app.jinja_env.auto_reload
    )


def page_variant() -> str:
    """Name what of the request, beyond the order, the page's text depends on.

    Only the language: any other query parameter leaves the page as it is, and
    must not make a new page to keep.
    """
    return str(get_locale())


def init_app(app: Flask) -> None:
    """Keep as many rendered pages as the process keeps orders."""
    app.extensions["order_pages"] = Recent[PageKey, str](
        int(app.config["LOCAL_CACHE_ITEMS"])
    )
