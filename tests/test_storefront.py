"""Whose store: its name and links, error pages that help, the landing page."""

from __future__ import annotations

import re
import time
from html import unescape

import pytest
import time_machine

from downloads_portal import create_app, fixtures

from .conftest import SECRET, TOKEN, signed, text_of, upstream_calls

URL = f"/account/orders/{TOKEN}"
STORE = {
    "STORE_NAME": "Northwind Sounds",
    "STORE_URL": "https://northwind.example/",
    "SUPPORT_URL": "mailto:help@northwind.example",
}


def links(html: str) -> dict[str, str]:
    """Map each link's words to its address."""
    found = re.findall(r'<a [^>]*href="([^"]*)"[^>]*>(.*?)</a>', html, re.S)
    return {text_of(words): unescape(href) for href, words in found}


@pytest.fixture
def store_client(config):
    return create_app({**config, **STORE}).test_client()


@pytest.mark.parametrize("status", [200, 404, 402, 503, 502])
def test_store_name_and_links_on_every_page(store_client, serve, status) -> None:
    if status == 200:
        serve(fixtures.EXAMPLE_ORDER)
    elif status == 502:
        serve({"order": 1})
    else:
        serve(status=status)
    response = store_client.get(URL)
    assert response.status_code == status
    found = links(response.text)
    assert found["Northwind Sounds"] == "https://northwind.example/"
    assert found["Back to the store"] == "https://northwind.example/"
    assert found["Contact the store"] == "mailto:help@northwind.example"


@pytest.mark.parametrize(("status", "retry"), [(503, True), (502, True), (402, False)])
def test_error_pages_say_what_to_do_next(client, serve, status, retry) -> None:
    serve({"order": 1}) if status == 502 else serve(status=status)
    response = client.get(f"{URL}?locale=de")
    words = text_of(response.text)
    assert str(status) not in words and "Error" not in words
    assert str(status) not in re.search(r"<title>(.*)</title>", response.text)[1]
    assert (links(response.text).get("Erneut versuchen") == f"{URL}?locale=de") is retry


def test_without_settings_no_store_and_no_empty_link(client, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    html = client.get(URL).text
    assert '<header class="site-header">' not in html
    assert 'href=""' not in html
    assert "Back to the store" not in html and "Contact the store" not in html


def test_support_may_be_a_web_page(config, serve) -> None:
    serve(status=404)
    client = create_app(
        {**config, "SUPPORT_URL": "https://help.example/"}
    ).test_client()
    found = links(client.get(URL).text)
    assert found["Contact the store"] == "https://help.example/"
    assert "Back to the store" not in found


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("STORE_URL", "javascript:alert(1)"),
        ("STORE_URL", "/relative"),
        ("STORE_URL", "ftp://store.example"),
        ("STORE_URL", "https://"),
        ("SUPPORT_URL", "javascript:alert(1)"),
        ("SUPPORT_URL", "mailto:"),
        ("SUPPORT_URL", "mailto:a@b.example?subject=<script>"),
        ("SUPPORT_URL", "tel:+123"),
        ("STORE_NAME", "Two\nlines"),
        ("STORE_NAME", "x" * 101),
        ("STORE_NAME", 5),
    ],
)
def test_unsafe_settings_stop_the_app(config, setting, value) -> None:
    with pytest.raises(RuntimeError, match=setting):
        create_app({**config, setting: value})


def test_settings_from_the_environment(monkeypatch, config) -> None:
    monkeypatch.setenv("DOWNLOADS_PORTAL_STORE_URL", "javascript:alert(1)")
    with pytest.raises(RuntimeError, match="STORE_URL"):
        create_app(config)


def test_stale_notice_offers_to_try_again(app, client, httpserver) -> None:
    from downloads_portal.models import parse_order

    with app.app_context():
        app.extensions["order_store"].remember(
            TOKEN, parse_order(fixtures.EXAMPLE_ORDER), time.time() - 300
        )
    httpserver.expect_request("/api/v2/customer-account-orders").respond_with_data(
        "", status=503
    )
    html = client.get(URL).text
    assert "Download counts may be a few minutes old" in text_of(html)
    assert "download server" not in html
    assert links(html)["Try again"] == URL


# -- the app proxy ---------------------------------------------------------------


@pytest.fixture
def proxy_client(config):
    return create_app({**config, **STORE, "SHOPIFY_API_SECRET": SECRET}).test_client()


def test_proxy_links_back_to_the_shop_and_leaves_the_header_to_the_theme(
    proxy_client, serve
) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    html = proxy_client.get(f"/proxy/orders/{TOKEN}?{signed()}").text
    found = links(html)
    assert found["Back to the store"] == "https://my-store.myshopify.com/"
    assert found["Contact the store"] == "mailto:help@northwind.example"
    assert "Northwind Sounds" not in found  # the store's theme is the header


def test_proxy_try_again_is_the_store_s_own_path(proxy_client, serve) -> None:
    serve(status=503)
    html = proxy_client.get(f"/proxy/orders/{TOKEN}?{signed()}").text
    assert links(html)["Try again"] == f"/apps/downloads/orders/{TOKEN}"


# -- a just-placed order and the landing page --------------------------------------


def test_a_just_placed_order_shows_up_on_a_retry(client, serve, httpserver) -> None:
    serve(status=404)
    with time_machine.travel(time.time(), tick=False) as clock:
        first = client.get(URL)
        assert first.status_code == 404
        words = text_of(first.text)
        assert "placed your order a few minutes ago" in words
        assert links(first.text)["Try again"] == URL
        clock.shift(10)
        assert client.get(URL).status_code == 404
        assert upstream_calls(httpserver) == 1  # remembered for a moment
        httpserver.clear()
        serve(fixtures.EXAMPLE_ORDER)
        clock.shift(6)  # 16 s after the first look: the 404 is forgotten
        assert client.get(URL).status_code == 200


def test_not_found_is_remembered_15_seconds_by_default(app) -> None:
    assert app.config["NOT_FOUND_CACHE_SECONDS"] == 15
    assert app.extensions["order_store"].not_found_seconds == 15


def test_landing_page(store_client, httpserver) -> None:
    response = store_client.get("/")
    assert response.status_code == 200
    words = text_of(response.text)
    assert "Looking for your downloads?" in words
    assert "order confirmation email" in words
    assert links(response.text)["Back to the store"] == "https://northwind.example/"
    assert upstream_calls(httpserver) == 0


def test_landing_page_in_german(client) -> None:
    response = client.get("/", headers={"Accept-Language": "de"})
    assert "Sie suchen Ihre Downloads?" in text_of(response.text)
