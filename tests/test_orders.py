"""The order store's cache rules, against the stand-in upstream."""

from __future__ import annotations

import time

import pytest

from downloads_portal import create_app, fixtures
from downloads_portal.orders import cache_key

from .conftest import TOKEN, upstream_calls

URL = f"/account/orders/{TOKEN}"
ORDERS_PATH = "/api/v2/customer-account-orders"


def counted(downloaded: int) -> dict:
    asset = fixtures.asset(downloaded=downloaded, limit=10)
    return fixtures.order(lines=[fixtures.line(assets=[asset])])


def test_one_call_while_fresh(client, serve, httpserver) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    for _ in range(6):
        assert client.get(URL).status_code == 200
    assert upstream_calls(httpserver) == 1


def test_fetched_again_after_the_fresh_window(config, httpserver) -> None:
    config["ORDER_CACHE_SECONDS"] = 1
    client = create_app(config).test_client()
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_json(counted(2))
    httpserver.expect_request(ORDERS_PATH).respond_with_json(counted(3))
    assert "2 of 10 downloaded" in client.get(URL).text
    assert "2 of 10 downloaded" in client.get(URL).text
    time.sleep(1.1)
    assert "3 of 10 downloaded" in client.get(URL).text
    assert upstream_calls(httpserver) == 2


def test_not_found_is_remembered(client, serve, httpserver) -> None:
    serve(status=404)
    assert client.get(URL).status_code == 404
    assert client.get(URL).status_code == 404
    assert upstream_calls(httpserver) == 1


def test_not_found_is_forgotten_after_its_window(config, serve, httpserver) -> None:
    config["NOT_FOUND_CACHE_SECONDS"] = 1
    client = create_app(config).test_client()
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_data("", status=404)
    serve(fixtures.EXAMPLE_ORDER)
    assert client.get(URL).status_code == 404
    time.sleep(1.1)
    assert client.get(URL).status_code == 200


@pytest.mark.parametrize("status", [402, 500, 403])
def test_failures_are_not_cached(client, httpserver, status) -> None:
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_data("", status=status)
    httpserver.expect_request(ORDERS_PATH).respond_with_json(fixtures.EXAMPLE_ORDER)
    assert client.get(URL).status_code in {402, 503}
    assert client.get(URL).status_code == 200


def test_invalid_answer_is_not_cached(client, httpserver) -> None:
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_data("not json")
    httpserver.expect_request(ORDERS_PATH).respond_with_json(fixtures.EXAMPLE_ORDER)
    assert client.get(URL).status_code == 502
    assert client.get(URL).status_code == 200


def test_stale_copy_when_the_upstream_fails(config, httpserver) -> None:
    config["ORDER_CACHE_SECONDS"] = 1
    client = create_app(config).test_client()
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_json(counted(4))
    httpserver.expect_request(ORDERS_PATH).respond_with_data("", status=503)
    fresh = client.get(URL)
    assert "may be out of date" not in fresh.text
    time.sleep(1.1)
    stale = client.get(URL)
    assert stale.status_code == 200
    assert "4 of 10 downloaded" in stale.text
    assert "may be out of date" in stale.text
    assert stale.headers["Cache-Control"] == "private, no-store"


def test_stale_copy_expires(config, httpserver) -> None:
    config.update(ORDER_CACHE_SECONDS=1, STALE_ORDER_SECONDS=2)
    client = create_app(config).test_client()
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_json(counted(4))
    httpserver.expect_request(ORDERS_PATH).respond_with_data("", status=503)
    assert client.get(URL).status_code == 200
    time.sleep(2.1)
    assert client.get(URL).status_code == 503


def test_stale_copy_is_not_served_for_an_unknown_order(config, httpserver) -> None:
    config["ORDER_CACHE_SECONDS"] = 1
    client = create_app(config).test_client()
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_json(counted(4))
    httpserver.expect_request(ORDERS_PATH).respond_with_data("", status=404)
    assert client.get(URL).status_code == 200
    time.sleep(1.1)
    assert client.get(URL).status_code == 404


def test_cache_keys_never_hold_the_token(config, serve) -> None:
    config["CACHE_TYPE"] = "SimpleCache"
    app = create_app(config)
    serve(fixtures.EXAMPLE_ORDER)
    app.test_client().get(URL)
    (backend,) = app.extensions["cache"].values()
    (key,) = backend._cache
    assert key.endswith(cache_key(TOKEN))
    assert TOKEN not in key


def test_cache_files_never_hold_the_token(app, client, serve, config) -> None:
    from pathlib import Path

    serve(fixtures.EXAMPLE_ORDER)
    client.get(URL)
    files = [p for p in Path(config["CACHE_DIR"]).rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert TOKEN not in path.name
        assert TOKEN.encode() not in path.read_bytes()
