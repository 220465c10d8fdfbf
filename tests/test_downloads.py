"""Downloads through the portal: a POST by file id, a 303 to the file, new counts."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from downloads_portal import create_app, fixtures

from .conftest import (
    FILE,
    LINK,
    ORDERS_PATH,
    SECRET,
    TOKEN,
    CountingOrder,
    render_liquid,
    signed,
    text_of,
    upstream_calls,
)

URL = f"/account/orders/{TOKEN}"


@pytest.fixture
def counting(httpserver: HTTPServer) -> CountingOrder:
    order = CountingOrder()
    httpserver.expect_request(ORDERS_PATH).respond_with_handler(order)
    return order


def post(client, asset_id: str, url: str = URL, query: str = "", **kwargs: Any):
    address = f"{url}/download" + (f"?{query}" if query else "")
    return client.post(address, data={"asset": asset_id}, **kwargs)


def test_download_sends_the_browser_to_the_file(client, counting, httpserver) -> None:
    page = client.get(URL).text
    assert "5 downloads left" in " ".join(unescape(page).split())
    assert FILE not in page and LINK not in page
    response = post(client, "asset-book.pdf")
    assert response.status_code == 303
    assert response.headers["Location"] == FILE
    assert response.headers["Cache-Control"] == "private, no-store"
    calls = upstream_calls(httpserver)
    counting.downloaded += 1  # the browser fetched the file
    again = client.get(URL).text
    assert upstream_calls(httpserver) == calls + 1  # the copy was dropped
    words = " ".join(unescape(re.sub(r"<[^>]+>", " ", again)).split())
    assert "4 downloads left" in words and "6 of 10 downloaded" in words


def test_other_processes_show_the_new_count_within_a_second(
    config, counting, clock
) -> None:
    # Two apps on one file cache: two workers, each with its own copies.
    one, other = create_app(config).test_client(), create_app(config).test_client()
    for client in (one, other):
        assert "5 downloads left" in text_of(client.get(URL).text)
    assert post(one, "asset-book.pdf").status_code == 303
    counting.downloaded += 1
    clock.shift(1.1)  # LOCAL_CACHE_SECONDS
    assert "4 downloads left" in text_of(other.get(URL).text)


def test_links_go_the_same_way(client, counting) -> None:
    response = post(client, "asset-Members")
    assert response.status_code == 303 and response.headers["Location"] == LINK


def test_a_used_up_file_is_refused_without_a_redirect(client, counting) -> None:
    response = post(client, "asset-spent.zip", headers={"Accept-Language": "de"})
    assert response.status_code == 403
    assert "Location" not in response.headers
    assert "files.example.com" not in response.text
    assert "Download-Limit erreicht" in response.text
    assert f'href="{URL}">Zurück zu Ihren Downloads' in response.text


@pytest.mark.parametrize("asset_id", ["asset-nothing.zip", "", "asset-bad.zip"])
def test_unknown_or_unusable_file_is_404(client, counting, asset_id) -> None:
    response = post(client, asset_id)
    assert response.status_code == 404
    assert "Location" not in response.headers
    assert "We couldn&#39;t find that file" in response.text
    assert "javascript" not in response.text


def test_a_get_never_reaches_a_file(client, counting, httpserver) -> None:
    response = client.get(f"{URL}/download?asset=asset-book.pdf")
    assert response.status_code == 405
    assert "Location" not in response.headers and FILE not in response.text
    assert upstream_calls(httpserver) == 0


def test_bad_token_is_404_without_upstream(client, httpserver) -> None:
    assert post(client, "x", url="/account/orders/bad!").status_code == 404
    assert upstream_calls(httpserver) == 0


def test_upstream_failures_have_their_pages(client, serve) -> None:
    serve(status=404)
    response = post(client, "asset-book.pdf")
    assert response.status_code == 404
    assert "We couldn&#39;t find that order" in response.text


def test_the_policy_lets_forms_lead_to_files(client, counting) -> None:
    policy = client.get(URL).headers["Content-Security-Policy"]
    assert "form-action 'self' https: http:" in policy


def test_preview_downloads_too(config) -> None:
    client = create_app({**config, "PREVIEW": True}).test_client()
    page = client.get("/preview/example").text
    assert 'action="/preview/example/download"' in page
    response = post(client, "82664d96-6dfd-4343-96b0-05c46f412a5b", "/preview/example")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/my-book.pdf")


# -- through the app proxy -------------------------------------------------------


@pytest.fixture
def proxy_client(config):
    return create_app({**config, "SHOPIFY_API_SECRET": SECRET}).test_client()


def test_proxy_form_posts_to_the_store_s_path(proxy_client, counting) -> None:
    page = proxy_client.get(f"/proxy/orders/{TOKEN}?{signed()}").text
    assert f'action="/apps/downloads/orders/{TOKEN}/download"' in page
    assert FILE not in page


def test_proxy_download_is_a_page_that_sends_the_browser_on(
    proxy_client, counting, httpserver
) -> None:
    """Whatever Shopify does with redirects, a page of our own gets there."""
    response = post(proxy_client, "asset-book.pdf", f"/proxy/orders/{TOKEN}", signed())
    assert response.status_code == 200
    assert response.mimetype == "application/liquid"
    assert "Location" not in response.headers
    rendered, layouts = render_liquid(response.text)
    assert layouts == ["none"]
    assert f'<meta http-equiv="refresh" content="0; url={FILE}">' in rendered
    assert f'href="{FILE}"' in rendered
    assert f'href="/apps/downloads/orders/{TOKEN}">' in rendered
    calls = upstream_calls(httpserver)
    proxy_client.get(f"/proxy/orders/{TOKEN}?{signed()}")
    assert upstream_calls(httpserver) == calls + 1


def test_proxy_refuses_a_used_up_file(proxy_client, counting) -> None:
    response = post(proxy_client, "asset-spent.zip", f"/proxy/orders/{TOKEN}", signed())
    assert response.status_code == 403
    assert "files.example.com" not in response.text
    assert response.mimetype == "application/liquid"


def test_proxy_refuses_an_unsigned_post(proxy_client, counting, httpserver) -> None:
    response = post(proxy_client, "asset-book.pdf", f"/proxy/orders/{TOKEN}", "shop=x")
    assert response.status_code == 403
    assert upstream_calls(httpserver) == 0


def test_proxy_sending_page_is_inert(proxy_client, serve) -> None:
    hostile = "https://files.example.com/{{ shop.name }}/{% raw %}.zip"
    serve(
        fixtures.order(lines=[fixtures.line("P", [fixtures.asset("a", url=hostile)])])
    )
    response = post(proxy_client, "asset-a", f"/proxy/orders/{TOKEN}", signed())
    rendered, _ = render_liquid(response.text)
    assert "LEAKED" not in rendered
    assert f'href="{hostile}"' in unescape(rendered)


def test_try_again_after_a_failed_download_goes_to_the_order(client, serve) -> None:
    serve(status=503)
    response = post(client, "asset-book.pdf", query="locale=de")
    assert response.status_code == 503
    assert f'href="{URL}?locale=de">Erneut versuchen' in response.text
