"""Enumeration limits: guesses get 429s, customers keep their pages."""

from __future__ import annotations

import secrets
import time

import pytest
import time_machine
from flask import Blueprint, Flask

from downloads_portal import create_app, fixtures
from downloads_portal.limits import client_address

from .conftest import ORDERS_PATH, TOKEN, upstream_calls

URL = f"/account/orders/{TOKEN}"


def guess() -> str:
    return f"/account/orders/{secrets.token_hex(16)}"


@pytest.fixture
def limited(config, serve, httpserver):
    """The app with a limit of 5 not-found lookups a minute; unknown tokens 404."""
    config["NOT_FOUND_RATE_LIMIT"] = "5 per minute"
    serve(fixtures.EXAMPLE_ORDER)
    httpserver.expect_request(ORDERS_PATH).respond_with_data("", status=404)
    return config


def test_guesses_get_a_429_and_customers_keep_their_pages(limited) -> None:
    app = create_app(limited)
    guesser = app.test_client()
    customer = app.test_client()
    customer.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    for _ in range(10):
        assert guesser.get(URL).status_code == 200
    for _ in range(5):
        assert guesser.get(guess()).status_code == 404
    refused = guesser.get(guess())
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "Too many tries" in refused.text
    assert refused.headers["Content-Security-Policy"]
    assert guesser.get(guess()).status_code == 429
    assert customer.get(URL).status_code == 200
    assert "5 of 10 downloaded" in customer.get(URL).text


def test_a_guesser_cannot_lock_out_orders_the_portal_holds(limited, httpserver) -> None:
    app = create_app(limited)
    shared = app.test_client()  # a carrier's NAT: a customer and a guesser
    assert shared.get(URL).status_code == 200
    remembered = guess()
    assert shared.get(remembered).status_code == 404
    for _ in range(4):
        assert shared.get(guess()).status_code == 404
    assert shared.get(guess()).status_code == 429
    assert shared.get(URL).status_code == 200
    # A remembered "not found" is no order held: guessing it again is refused.
    assert shared.get(remembered).status_code == 429

    httpserver.clear_all_handlers()
    httpserver.expect_request(ORDERS_PATH).respond_with_data("", status=500)
    with time_machine.travel(time.time() + 40):  # past ORDER_CACHE_SECONDS, same minute
        stale = shared.get(URL)
        assert stale.status_code == 200
        assert "5 of 10 downloaded" in stale.text
        assert shared.get(guess()).status_code == 429


def test_refused_guesses_never_reach_the_upstream(limited, httpserver) -> None:
    client = create_app(limited).test_client()
    for _ in range(5):
        client.get(guess())
    calls = upstream_calls(httpserver)
    for _ in range(5):
        assert client.get(guess()).status_code == 429
    assert upstream_calls(httpserver) == calls


def test_malformed_tokens_count_as_guesses(limited, httpserver) -> None:
    client = create_app(limited).test_client()
    for _ in range(5):
        assert client.get("/account/orders/not!a!token").status_code == 404
    assert client.get(guess()).status_code == 429
    assert upstream_calls(httpserver) == 0


def test_instances_share_the_count_in_redis(redis_config, serve, httpserver) -> None:
    redis_config["NOT_FOUND_RATE_LIMIT"] = "5 per minute"
    httpserver.expect_request(ORDERS_PATH).respond_with_data("", status=404)
    first, second = create_app(redis_config), create_app(redis_config)
    for _ in range(3):
        assert first.test_client().get(guess()).status_code == 404
    for _ in range(2):
        assert second.test_client().get(guess()).status_code == 404
    assert first.test_client().get(guess()).status_code == 429
    assert second.test_client().get(guess()).status_code == 429


def test_clients_behind_a_load_balancer_are_told_apart(limited) -> None:
    limited["PROXY_FIX_X_FOR"] = 1
    client = create_app(limited).test_client()

    def from_(address: str) -> dict[str, str]:
        return {"X-Forwarded-For": address}

    for _ in range(5):
        assert client.get(guess(), headers=from_("198.51.100.1")).status_code == 404
    assert client.get(guess(), headers=from_("198.51.100.1")).status_code == 429
    assert client.get(guess(), headers=from_("198.51.100.2")).status_code == 404
    assert client.get(URL, headers=from_("198.51.100.2")).status_code == 200


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "203.0.113.9"),
        (0, "10.0.0.1, 203.0.113.9", "203.0.113.9"),
        (1, "203.0.113.9, 198.51.100.4", "203.0.113.9"),
        (1, "198.51.100.4", "127.0.0.1"),
        (0, "", "127.0.0.1"),
    ],
)
def test_proxy_lookups_count_against_the_shoppers_address(
    hops, forwarded, expected
) -> None:
    # Shopify names the customer in X-Forwarded-For; our own hops come after it.
    app = Flask(__name__)
    app.config["PROXY_FIX_X_FOR"] = hops
    bp = Blueprint("proxy", __name__)
    bp.get("/proxy/orders/<token>")(lambda token: client_address())
    app.register_blueprint(bp)
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    response = app.test_client().get("/proxy/orders/x", headers=headers)
    assert response.text == expected


def test_other_routes_ignore_forwarded_addresses() -> None:
    app = Flask(__name__)
    app.config["PROXY_FIX_X_FOR"] = 0
    app.get("/account/orders/<token>")(lambda token: client_address())
    headers = {"X-Forwarded-For": "203.0.113.9"}
    response = app.test_client().get("/account/orders/x", headers=headers)
    assert response.text == "127.0.0.1"


@pytest.mark.parametrize("variable", ["RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION"])
def test_a_limit_for_every_request_still_applies(config, variable) -> None:
    # The portal sets none, and skips flask-limiter's check before each request;
    # one given by a DOWNLOADS_PORTAL_RATELIMIT_* variable keeps it.
    config[variable] = "2 per minute"
    client = create_app(config).test_client()
    assert [client.get("/").status_code for _ in range(3)] == [200, 200, 429]


def test_a_limiter_turned_off_still_lets_the_app_start(config, serve) -> None:
    serve(status=404)
    config.update(RATELIMIT_ENABLED=False, NOT_FOUND_RATE_LIMIT="1 per minute")
    client = create_app(config).test_client()
    url = f"/account/orders/{TOKEN}"
    assert [client.get(url).status_code for _ in range(3)] == [404] * 3
