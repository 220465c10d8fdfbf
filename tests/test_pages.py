"""Rendered order pages: kept per copy of the order and language, and bounded."""

from __future__ import annotations

from typing import Any

import pytest

from downloads_portal import create_app, fixtures
from downloads_portal.fields import MAX_COUNT, MAX_FILES, MAX_TEXT
from downloads_portal.models import InvalidOrder, parse_order
from downloads_portal.pages import MAX_PAGE_CHARS, render_order
from downloads_portal.recent import Recent
from downloads_portal.store import get_store

from .conftest import (
    ORDERS_PATH,
    ROOT,
    SECRET,
    TOKEN,
    counted,
    renders,
    signed,
    upstream_calls,
)


def test_query_parameters_make_no_pages_of_their_own(app, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER, token="abc")
    client = app.test_client()
    rendered = renders(app)
    for n in range(20):
        assert "5 of 10 downloaded" in client.get(f"/account/orders/abc?x={n}").text
    assert rendered == ["order.html"]
    assert len(app.extensions["order_pages"]) == 1


def test_kept_pages_are_bounded(config, serve, httpserver) -> None:
    config["LOCAL_CACHE_ITEMS"] = 2
    app = create_app(config)
    for token in ("a", "b", "c"):
        serve(fixtures.EXAMPLE_ORDER, token=token)
    client = app.test_client()
    rendered = renders(app)
    for token in ("a", "b", "c", "a"):
        assert client.get(f"/account/orders/{token}").status_code == 200
    # "a" was still fresh in the shared cache, but its page had been let go.
    assert upstream_calls(httpserver) == 3
    assert rendered == ["order.html"] * 4
    assert len(app.extensions["order_pages"]) == 2


def test_kept_pages_stay_within_their_budget(config, serve) -> None:
    """PAGE_MEMO_CHARS bounds the characters kept, whatever the count allows."""
    config["PAGE_MEMO_CHARS"] = 1
    app = create_app(config)
    for token in ("a", "b", "c"):
        serve(fixtures.EXAMPLE_ORDER, token=token)
    client = app.test_client()
    rendered = renders(app)
    for token in ("a", "a"):
        assert client.get(f"/account/orders/{token}").status_code == 200
    # Heavier than the whole budget: rendered each time, never kept.
    assert rendered == ["order.html"] * 2
    assert len(app.extensions["order_pages"]) == 0


def test_recent_weighs_what_it_keeps() -> None:
    recent = Recent[str, str](10, len, 5)
    recent.keep("a", "xx")
    recent.keep("b", "yy")
    recent.keep("c", "zz")
    # "a" went to make room: 6 characters would be over the budget of 5.
    assert (recent.get("a"), recent.get("b"), recent.get("c")) == (None, "yy", "zz")
    assert recent.weight == 4
    recent.keep("b", "y")
    recent.drop("c")
    assert recent.weight == 1
    recent.keep("big", "toolong")
    assert recent.get("big") is None and recent.weight == 1


def test_recent_keeps_the_last_used() -> None:
    recent = Recent[str, int](2)
    recent.keep("a", 1)
    recent.keep("b", 2)
    assert recent.get("a") == 1
    recent.keep("c", 3)
    assert recent.get("b") is None
    assert (recent.get("a"), recent.get("c")) == (1, 3)
    assert Recent[str, int](0).keep("a", 1) == 1 and len(Recent[str, int](0)) == 0


def braces(n: int) -> dict[str, Any]:
    """Return a file named with a thousand braces, and a short id."""
    asset = fixtures.asset("{" * 1000)
    asset["data"]["id"] = str(n)
    return asset


#: Bodies that parse as JSON but are no order a page may show.
TOO_BIG = {
    "too many files": fixtures.order(
        lines=[fixtures.line(assets=[fixtures.asset()] * (MAX_FILES + 1))]
    ),
    # Within the size of an answer (1.1 MB), but every brace would be "&#123;" twice
    # a file: a page of 12 MB.
    "too much text": fixtures.order(
        lines=[fixtures.line(assets=[braces(n) for n in range(1000)])]
    ),
}


@pytest.mark.parametrize("body", TOO_BIG.values(), ids=TOO_BIG.keys())
def test_an_order_too_big_for_a_page_is_refused(config, httpserver, body) -> None:
    config["FAILURE_CACHE_SECONDS"] = 0  # each view asks again
    app = create_app(config)
    httpserver.expect_request(ORDERS_PATH).respond_with_json(body)
    client = app.test_client()
    rendered = renders(app)
    for _ in range(2):
        response = client.get("/account/orders/big")
        assert response.status_code == 502
        assert "temporarily unavailable" in response.text
    # Never kept, so asked for each time; and never rendered.
    assert upstream_calls(httpserver) == 2
    assert rendered == ["errors/502.html"] * 2
    assert len(app.extensions["order_pages"]) == 0


@pytest.mark.parametrize("body", TOO_BIG.values(), ids=TOO_BIG.keys())
def test_an_order_too_big_keeps_the_last_good_copy(
    config, httpserver, clock, body
) -> None:
    config.update(ORDER_CACHE_SECONDS=1, FAILURE_CACHE_SECONDS=0)
    app = create_app(config)
    client = app.test_client()
    rendered = renders(app)
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_json(counted(4))
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_json(body)
    httpserver.expect_request(ORDERS_PATH).respond_with_data("", status=503)
    assert "4 of 10 downloaded" in client.get("/account/orders/big").text
    clock.shift(1.1)
    for _ in range(2):
        # The refused answer, then Fileflare down: the good copy both times.
        response = client.get("/account/orders/big")
        assert response.status_code == 200
        assert "4 of 10 downloaded" in response.text
        assert "may be a few minutes old" in response.text
    # The good order, the refused one, then the 503 and its two retries.
    assert upstream_calls(httpserver) == 5
    assert rendered == ["order.html"] * 3


def test_the_caller_decides_whether_a_page_is_kept(app, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    pages = app.extensions["order_pages"]
    rendered = renders(app)
    # No route at all: nothing of the request but its language counts.
    with app.test_request_context("/somewhere/else"):
        view = get_store().get(TOKEN)
        assert render_order(view) == render_order(view)
        assert len(pages) == 0
        page = render_order(view, memo=True)
        assert render_order(view, memo=True) is page
        assert len(pages) == 1
    assert rendered == ["order.html"] * 3


def test_app_proxy_pages_are_not_kept(config, serve) -> None:
    app = create_app({**config, "SHOPIFY_API_SECRET": SECRET})
    serve(fixtures.EXAMPLE_ORDER)
    client = app.test_client()
    rendered = renders(app)
    for _ in range(2):
        liquid = client.get(f"/proxy/orders/{TOKEN}?{signed()}")
        assert liquid.content_type.startswith("application/liquid")
        assert "5 of 10 downloaded" in liquid.text
    assert len(app.extensions["order_pages"]) == 0
    # The customer's own page is its own, then kept.
    page = client.get(f"/account/orders/{TOKEN}")
    assert page.content_type.startswith("text/html")
    assert page.text != liquid.text
    assert client.get(f"/account/orders/{TOKEN}").text == page.text
    assert rendered == ["order.html"] * 3


def test_preview_pages_are_not_kept(preview_client) -> None:
    app = preview_client.application
    rendered = renders(app)
    for path in ("/preview/example", "/account/orders/example") * 2:
        assert "5 of 10 downloaded" in preview_client.get(path).text
    assert rendered == ["order.html"] * 4
    assert len(app.extensions["order_pages"]) == 0


#: Every language the page speaks, as a browser asks for it.
LANGUAGES = [
    "en",
    *sorted(
        path.name.replace("_", "-")
        for path in (ROOT / "downloads_portal" / "translations").iterdir()
        if path.is_dir()
    ),
]


def worst_order(braces: int = MAX_TEXT // MAX_FILES - len("0") - len("1B")) -> Any:
    """Return the longest page's order: every file on a line item (a card) of its
    own, counts near a billion, and its text all in names of ``braces`` braces."""
    lines = []
    for n in range(MAX_FILES):
        asset = fixtures.asset("{" * braces, MAX_COUNT - 2, MAX_COUNT, size="1B")
        asset["data"]["id"] = str(n % 10)
        lines.append(fixtures.line(name="", variant=None, assets=[asset]))
    body = fixtures.order(lines=lines)
    body["order"]["order_number"] = None
    return body


def test_the_longest_order_is_at_the_limits() -> None:
    order = parse_order(worst_order())
    assert len(order.lines) == len(order.all_assets) == MAX_FILES
    one_more = worst_order()
    one_more["order"]["lines"][0]["assets"][0]["data"]["filename"] += "{"
    with pytest.raises(InvalidOrder, match="characters of text"):
        parse_order(one_more)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_longest_order_is_within_the_page_bound(config, serve, language) -> None:
    braces = MAX_TEXT // MAX_FILES - len("0") - len("1B")
    serve(worst_order(braces))
    client = create_app({**config, "SHOPIFY_API_SECRET": SECRET}).test_client()
    asked = {"Accept-Language": language}
    html = client.get(f"/account/orders/{TOKEN}", headers=asked)
    liquid = client.get(f"/proxy/orders/{TOKEN}?{signed()}", headers=asked)
    for page in (html, liquid):
        assert page.status_code == 200
        assert f'lang="{language}"' in page.text
        assert page.text.count("&#123;" * braces) == 2 * MAX_FILES
        assert len(page.text) <= MAX_PAGE_CHARS
