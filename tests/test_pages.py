"""Rendered order pages: kept per copy of the order and language, and bounded."""

from __future__ import annotations

import pytest

from downloads_portal import create_app, fixtures
from downloads_portal.models import MAX_FILES
from downloads_portal.pages import MAX_PAGE_CHARS
from downloads_portal.recent import Recent

from .conftest import ORDERS_PATH, renders, upstream_calls


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


def test_recent_keeps_the_last_used() -> None:
    recent = Recent[str, int](2)
    recent.keep("a", 1)
    recent.keep("b", 2)
    assert recent.get("a") == 1
    recent.keep("c", 3)
    assert recent.get("b") is None
    assert (recent.get("a"), recent.get("c")) == (1, 3)
    assert Recent[str, int](0).keep("a", 1) == 1 and len(Recent[str, int](0)) == 0


@pytest.mark.parametrize(
    "body",
    [
        fixtures.order(
            lines=[fixtures.line(assets=[fixtures.asset()] * (MAX_FILES + 1))]
        ),
        # Within the size of an answer, but every brace is written as "&#123;".
        fixtures.order(lines=[fixtures.line(assets=[fixtures.asset("{" * 400_000)])]),
    ],
    ids=["too many files", "a page too long"],
)
def test_an_order_too_big_for_a_page_is_refused(app, httpserver, body) -> None:
    httpserver.expect_request(ORDERS_PATH).respond_with_json(body)
    client = app.test_client()
    for _ in range(2):
        response = client.get("/account/orders/big")
        assert response.status_code == 502
        assert "temporarily unavailable" in response.text
        assert len(response.text) < MAX_PAGE_CHARS
    assert len(app.extensions["order_pages"]) == 0
