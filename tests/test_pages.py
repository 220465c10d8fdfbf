"""Rendered order pages: kept per copy of the order and language, and bounded."""

from __future__ import annotations

from downloads_portal import create_app, fixtures
from downloads_portal.recent import Recent

from .conftest import renders, upstream_calls


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
