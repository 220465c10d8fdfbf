"""Order pages: rendered from a view, and kept while the copy they show is fresh."""

from __future__ import annotations

from flask import Flask, current_app, render_template
from flask_babel import get_locale

from .fields import MAX_FILES, MAX_TEXT
from .recent import Recent
from .store import OrderView

#: The most characters a file adds to its page beyond its strings: its row and a
#: card of its own, with counts near a billion, in the wordiest language (measured:
#: 1 062, in French, through the app proxy).
FILE_MARKUP = 1_200

#: The page around the files, the app proxy's inline stylesheet included (measured:
#: 9 900 with the default theme; the store's links and a theme's own stylesheet
#: add their length).
PAGE_FRAME = 30_000

#: The longest page an order that parses makes, in characters (4.83 million): the
#: page prints each of the order's strings at most twice, a character as at most 6
#: (``{`` is ``&#123;``), and ``FILE_MARKUP`` a file around them.
MAX_PAGE_CHARS = 2 * 6 * MAX_TEXT + MAX_FILES * FILE_MARKUP + PAGE_FRAME

#: A rendered page's identity: the copy of the order (cache key and fetch time)
#: and the variant of the page.
PageKey = tuple[str, float, str]


def render_order(view: OrderView, *, memo: bool = False) -> str:
    """Render ``view``; with ``memo``, reuse the page rendered from the same copy.

    The caller says whether its page may be kept: one that depends on the order
    and on nothing of the request but what ``page_variant`` names. Stale views
    show their age, so they are rendered every time.
    """
    if not memo or view.stale:
        return render(view)
    pages: Recent[PageKey, str] = current_app.extensions["order_pages"]
    key = (view.key, view.fetched_at, page_variant())
    page = pages.get(key)
    if page is None:
        page = pages.keep(key, render(view))
    return page


def render(view: OrderView) -> str:
    """Render the order page for ``view``."""
    return render_template("order.html", view=view, order=view.order)


def page_variant() -> str:
    """Name what of the request, beyond the order, the page's text depends on.

    Only the language: any other query parameter leaves the page as it is, and
    must not make a new page to keep.
    """
    return str(get_locale())


def init_app(app: Flask) -> None:
    """Keep as many rendered pages as the process keeps orders, within
    PAGE_MEMO_CHARS in all; in the preview, whose templates change under it, none."""
    size = 0 if app.config["PREVIEW"] else int(app.config["LOCAL_CACHE_ITEMS"])
    budget = int(app.config["PAGE_MEMO_CHARS"])
    app.extensions["order_pages"] = Recent[PageKey, str](size, len, budget)
