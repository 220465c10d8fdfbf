"""The customer's order page: what it shows, and the status of each upstream failure."""

from __future__ import annotations

import gzip
import json
import re

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from downloads_portal import create_app, fixtures

from .conftest import ORDERS_PATH, TOKEN, free_port, text_of

URL = f"/account/orders/{TOKEN}"


def test_example_order(client, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.text
    words = text_of(html)
    assert "Order #1050" in words
    assert "<h1><bdi>Download files for your orders</bdi></h1>" in html
    assert "My new Book" in words and "Paper back" in words
    assert "Files for your order" in words
    assert "5 of 10 downloaded" in words
    assert "0 of 10 downloaded" in words
    assert '<progress value="5" max="10">' in html
    assert '<progress value="0" max="10">' in html
    assert "PDF · 10 MB" in words
    assert "5 downloads left" in words and "10 downloads left" in words
    assert "2 files · 1 product" in words
    # Each file goes by its id through the portal: its address is not in the page.
    assert "my-website.com" not in html
    for asset_id in (
        "82664d96-6dfd-4343-96b0-05c46f412a5b",
        "82664d96-6dfd-4343-96b0-05c46f41sas",
    ):
        assert f'<input type="hidden" name="asset" value="{asset_id}">' in html
    form = f'<form class="download" method="post" action="{URL}/download">'
    assert html.count(form) == 2


def test_example_order_fits_one_round_trip(client, serve) -> None:
    """The example page and its stylesheet, gzipped, fit in 14 KB (one round trip)."""
    serve(fixtures.EXAMPLE_ORDER)
    with client.get(URL) as page:
        links = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.text)
        bodies = [page.data]
    assert links
    for href in links:
        with client.get(href) as stylesheet:
            assert stylesheet.status_code == 200
            bodies.append(stylesheet.data)
    total = sum(len(gzip.compress(body, compresslevel=6)) for body in bodies)
    assert total <= 14 * 1024, f"{total} bytes gzipped"


def test_unlimited(client, serve) -> None:
    serve(fixtures.order(lines=[fixtures.line(assets=[fixtures.asset(limit=None)])]))
    html = client.get(URL).text
    assert "Unlimited downloads" in html
    assert "<progress" not in html
    assert 'class="button"' in html


@pytest.mark.parametrize(("downloaded", "shown"), [(10, 10), (12, 10)])
def test_used_up(client, serve, downloaded, shown) -> None:
    url = "https://files.example.com/used-up.zip"
    asset = fixtures.asset(downloaded=downloaded, limit=10, url=url)
    serve(fixtures.order(lines=[fixtures.line(assets=[asset])]))
    html = client.get(URL).text
    assert "Download limit reached" in html
    assert f"{shown} of 10 downloaded" in text_of(html)
    assert f'<progress value="{shown}" max="10">' in html
    assert url not in html


def test_one_left(client, serve) -> None:
    asset = fixtures.asset(downloaded=4, limit=5)
    serve(fixtures.order(lines=[fixtures.line(assets=[asset])]))
    words = text_of(client.get(URL).text)
    assert "4 of 5 downloaded" in words
    assert "1 download left" in words


def test_two_left_has_no_note(client, serve) -> None:
    asset = fixtures.asset(downloaded=3, limit=5)
    serve(fixtures.order(lines=[fixtures.line(assets=[asset])]))
    assert "download left" not in client.get(URL).text


def test_lines_without_files_get_no_card(client, serve) -> None:
    serve(
        fixtures.order(
            lines=[
                fixtures.line(name="Hard back", assets=[]),
                fixtures.line(name="E-book", variant="Default Title"),
            ]
        )
    )
    html = client.get(URL).text
    assert "Hard back" not in html
    assert "E-book" in html
    assert "Default Title" not in html
    assert "Files for your order" not in html


def test_empty_order(client, serve) -> None:
    serve(fixtures.order(lines=[fixtures.line(name="Hard back", assets=[])]))
    response = client.get(URL)
    assert response.status_code == 200
    assert "Nothing to download yet" in response.text
    assert "Hard back" not in response.text


def test_unknown_fields(client, serve) -> None:
    body = fixtures.order()
    body["order"]["new_feature"] = {"x": [1, {"y": None}]}
    body["order"]["lines"][0]["assets"][0]["data"]["preview_url"] = "https://x"
    serve(body)
    assert client.get(URL).status_code == 200


def test_merchant_text(client, serve) -> None:
    serve(
        fixtures.order(
            title="Thanks for shopping!",
            text='<p>Need help? <a href="https://help.example.com">Ask us</a>.</p>'
            "<script>alert('x')</script>",
        )
    )
    html = client.get(URL).text
    assert "<h1><bdi>Thanks for shopping!</bdi></h1>" in html
    assert (
        '<p>Need help? <a href="https://help.example.com" rel="noopener noreferrer">'
        "Ask us</a>.</p>" in html
    )
    assert "<script" not in html


def test_hostile_strings_are_escaped(client, serve) -> None:
    evil = '<img src=x onerror="alert(1)">'
    serve(
        fixtures.order(
            title=f"<script>alert('title')</script>{evil}",
            lines=[
                fixtures.line(
                    name=f"<b>Bold</b>{evil}",
                    variant='"><script>alert(2)</script>',
                    assets=[
                        fixtures.asset(filename=f"{evil}.zip", size="<i>1MB</i>"),
                        fixtures.asset(
                            filename="js", url="javascript:alert(document.cookie)"
                        ),
                        fixtures.asset(
                            filename="data", url="data:text/html;base64,PHNjcmlwdD4="
                        ),
                    ],
                )
            ],
        )
    )
    html = client.get(URL).text
    assert "<script" not in html
    assert "<img" not in html
    assert "<b>Bold</b>" not in html and "&lt;b&gt;Bold&lt;/b&gt;" in html
    assert "javascript:" not in html
    assert "data:text/html" not in html
    assert html.count('class="button"') == 1
    assert "This download isn't available right now" in text_of(html)


@pytest.mark.parametrize(
    "body", [b"<html>oops</html>", b'{"order": {"lines": 5}}', b'{"order": 1}']
)
def test_unusable_answers_are_502(client, httpserver, body) -> None:
    httpserver.expect_request(ORDERS_PATH).respond_with_data(
        body, content_type="application/json"
    )
    response = client.get(URL)
    assert response.status_code == 502
    assert "temporarily unavailable" in response.text


def test_oversized_answer_is_502(app, httpserver) -> None:
    app.extensions["order_store"].source.max_bytes = 10_000
    httpserver.expect_request(ORDERS_PATH).respond_with_json(fixtures.large_order(60))
    assert app.test_client().get(URL).status_code == 502


def test_timeout_is_503(config, httpserver) -> None:
    import threading

    released = threading.Event()
    httpserver.expect_request(ORDERS_PATH).respond_with_handler(
        lambda request: released.wait(5) and None
    )
    config["API_TIMEOUT"] = 0.3
    try:
        response = create_app(config).test_client().get(URL)
    finally:
        released.set()
    assert response.status_code == 503
    assert "temporarily unavailable" in response.text


def test_refused_connection_is_503(config) -> None:
    config["API_BASE_URL"] = f"http://127.0.0.1:{free_port()}"
    response = create_app(config).test_client().get(URL)
    assert response.status_code == 503
    assert "can't reach the download server" in text_of(response.text)


def test_settings_come_from_the_environment(
    monkeypatch, httpserver: HTTPServer
) -> None:
    monkeypatch.setenv("DOWNLOADS_PORTAL_API_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DOWNLOADS_PORTAL_ORDER_CACHE_SECONDS", "7")
    app = create_app({"CACHE_TYPE": "SimpleCache"})
    assert app.config["API_BASE_URL"] == "http://127.0.0.1:9"
    assert app.config["ORDER_CACHE_SECONDS"] == 7
    assert app.extensions["order_store"].fresh_seconds == 7
    app = create_app({"CACHE_TYPE": "SimpleCache", "ORDER_CACHE_SECONDS": 3})
    assert app.extensions["order_store"].fresh_seconds == 3


def broken(kind: str) -> dict:
    """Return an answer Fileflare should never give: a huge count, a lone surrogate."""
    body = fixtures.order(lines=[fixtures.line(assets=[fixtures.asset()])])
    if kind == "count":
        body["order"]["lines"][0]["assets"][0]["limits"]["limit"] = 1e25
    else:
        body["order"]["lines"][0]["product"]["name"] = "bad \ud800"
        body["text"]["text"] = "<p>bad \udfff</p>"
    return body


@pytest.mark.parametrize(
    ("kind", "first", "stale"), [("count", 502, 503), ("surrogate", 200, 200)]
)
def test_a_broken_answer_never_sticks(config, httpserver, kind, first, stale) -> None:
    config.update(ORDER_CACHE_SECONDS=0, FAILURE_CACHE_SECONDS=0)
    client = create_app(config).test_client()
    answers = [
        (broken(kind), 200),
        ("", 500),
        (fixtures.EXAMPLE_ORDER, 200),
    ]
    for body, status in answers:
        httpserver.expect_ordered_request(
            "/api/v2/customer-account-orders"
        ).respond_with_json(body, status=status)
    response = client.get(URL)
    assert response.status_code == first
    if first == 200:
        assert text_of(response.text).count("bad \ufffd") == 2
    # Fileflare fails: a last good copy is served only if it renders.
    assert client.get(URL).status_code == stale
    # Fileflare is fixed: the page renders.
    response = client.get(URL)
    assert response.status_code == 200
    assert "5 of 10 downloaded" in text_of(response.text)


def test_a_length_in_superscript_digits_is_502(client, httpserver) -> None:
    def answer(request):
        response = Response(json.dumps(fixtures.EXAMPLE_ORDER))
        response.headers["Content-Length"] = "²"
        return response

    httpserver.expect_request("/api/v2/customer-account-orders").respond_with_handler(
        answer
    )
    response = client.get(URL)
    assert response.status_code == 502
    assert "temporarily unavailable" in response.text


def test_what_is_left_comes_first(client, serve) -> None:
    serve(
        fixtures.order(
            lines=[
                fixtures.line(
                    assets=[
                        fixtures.asset("a.zip", downloaded=5, limit=10),
                        fixtures.asset("b.zip", downloaded=4, limit=5),
                        fixtures.asset("c.zip", downloaded=3, limit=3),
                    ]
                )
            ]
        )
    )
    html = client.get(URL).text
    lefts = [text_of(p) for p in re.findall(r'class="counter-left">(.*?)</', html)]
    assert lefts == ["5 downloads left", "1 download left", "No downloads left"]
    assert html.count('<div class="counter is-last">') == 1
    words = text_of(html)
    assert "5 of 10 downloaded" in words and "3 of 3 downloaded" in words


def test_summary_and_folded_cards_for_a_long_order(client, serve) -> None:
    serve(fixtures.large_order(60))
    html = client.get(URL).text
    words = text_of(html)
    used = sum((n + k) % 4 >= 3 + k for n in range(60) for k in range(3))
    assert f"180 files · {used} used up · 60 products" in words
    assert html.count('<details class="card" open>') == 3
    assert html.count('<details class="card">') == 57
    assert html.count('<li class="asset') == 180  # every file still on the page
    assert "<section class" not in html


def test_a_short_order_has_plain_cards(client, serve) -> None:
    serve(fixtures.large_order(4))
    html = client.get(URL).text
    assert "<details" not in html and html.count('<section class="card">') == 4


def test_names_are_isolated_not_blocks(client, serve) -> None:
    """The page's direction aligns every block; names from the order sit in <bdi>."""
    serve(fixtures.order(lines=[fixtures.line("Piano", [fixtures.asset("Intro.wav")])]))
    html = client.get(f"{URL}?locale=ar").text
    assert 'dir="auto"' not in html
    assert "<bdi>Piano</bdi>" in html and "<bdi>Intro.wav</bdi>" in html
