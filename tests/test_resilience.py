"""Staying up while Fileflare hangs, drips or rate-limits: client, app, gunicorn."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import time_machine
from pytest_httpserver import HTTPServer

from bench.standin import StandIn
from downloads_portal import create_app, fixtures
from downloads_portal.breaker import Breaker, Thresholds
from downloads_portal.breaker_storage import MemoryStorage
from downloads_portal.retries import retry_after_seconds
from downloads_portal.upstream import (
    FileflareClient,
    UpstreamRefused,
    UpstreamUnavailable,
)

from .conftest import ORDERS_PATH, TOKEN, upstream_calls

URL = f"/account/orders/{TOKEN}"


def client_for(url: str, **options) -> FileflareClient:
    breaker = Breaker(MemoryStorage(), Thresholds())
    return FileflareClient(url, timeout=0.5, breaker=breaker, **options)


@pytest.fixture
def standin() -> Iterator[StandIn]:
    upstream = StandIn().start()
    yield upstream
    upstream.release()
    upstream.stop()


def test_a_429_opens_the_breaker_and_fileflare_is_not_asked_again(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request(ORDERS_PATH).respond_with_data(
        "", status=429, headers={"Retry-After": "20"}
    )
    client = client_for(httpserver.url_for("/"))
    with pytest.raises(UpstreamUnavailable) as first:
        client.fetch(TOKEN)
    assert first.value.retry_after == 20
    with pytest.raises(UpstreamRefused) as second:
        client.fetch("another-order")
    assert 19 < second.value.retry_after <= 20
    assert upstream_calls(httpserver) == 1


def test_retry_after_as_an_http_date(httpserver: HTTPServer) -> None:
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    httpserver.expect_request(ORDERS_PATH).respond_with_data(
        "", status=503, headers={"Retry-After": when}
    )
    client = client_for(httpserver.url_for("/"))
    with pytest.raises(UpstreamUnavailable) as caught:
        client.fetch(TOKEN)
    assert caught.value.retry_after == pytest.approx(120, abs=3)
    assert client.breaker.state() == "open"
    assert upstream_calls(httpserver) == 1


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: now
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_values(value, seconds) -> None:
    assert retry_after_seconds(value) == seconds


def test_a_429_without_retry_after_opens_it_for_the_cool_off(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request(ORDERS_PATH).respond_with_data("", status=429)
    client = client_for(httpserver.url_for("/"))
    with pytest.raises(UpstreamUnavailable):
        client.fetch(TOKEN)
    with pytest.raises(UpstreamRefused) as refused:
        client.fetch(TOKEN)
    assert refused.value.retry_after == pytest.approx(30, abs=1)


def test_the_bulkhead_refuses_a_call_with_no_free_slot(httpserver: HTTPServer) -> None:
    httpserver.expect_request(ORDERS_PATH).respond_with_json(fixtures.EXAMPLE_ORDER)
    client = client_for(httpserver.url_for("/"), concurrency=2)
    # Two calls in flight for as long as this one may wait (its deadline).
    assert client.slots.acquire(blocking=False) and client.slots.acquire(blocking=False)
    try:
        with pytest.raises(UpstreamRefused, match="no free slot"):
            client.fetch(TOKEN)
    finally:
        client.slots.release()
    assert upstream_calls(httpserver) == 0
    assert client.fetch(TOKEN).number == "1050"  # a slot is free again
    # Our own congestion says nothing about Fileflare.
    assert client.breaker.state() == "ok"


def test_headers_dripped_a_byte_at_a_time_end_at_the_deadline(standin) -> None:
    standin.drip(0.2)
    client = client_for(standin.url)
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable, match="too slow"):
        client.fetch("good-drip")
    # Each byte comes well within the read timeout: only the deadline ends it.
    assert time.monotonic() - started < 3 * client.timeout + 1


def test_with_the_breaker_open_pages_come_from_the_cache(
    config, serve, httpserver: HTTPServer
) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    app = create_app(config)
    client = app.test_client()
    assert client.get(URL).status_code == 200
    httpserver.clear_all_handlers()
    httpserver.expect_request(ORDERS_PATH).respond_with_data(
        "", status=429, headers={"Retry-After": "20"}
    )
    with time_machine.travel(time.time() + 60) as clock:  # past ORDER_CACHE_SECONDS
        stale = client.get(URL)
        assert stale.status_code == 200 and "5 of 10 downloaded" in stale.text
        calls = upstream_calls(httpserver)
        cold = client.get("/account/orders/never-seen-before")
        assert cold.status_code == 503
        assert 1 <= int(cold.headers["Retry-After"]) <= 20
        assert client.get(URL).status_code == 200
        assert upstream_calls(httpserver) == calls
        assert client.get("/readyz").json["upstream"] == "open"

        clock.shift(21)
        assert client.get("/readyz").json["upstream"] == "half-open"
        httpserver.clear_all_handlers()
        serve(fixtures.EXAMPLE_ORDER, token="back-again")
        assert client.get("/account/orders/back-again").status_code == 200
        assert client.get("/readyz").json == {
            "status": "ready",
            "cache": "ok",
            "upstream": "ok",
        }


def worker_classes(served) -> set[str]:
    return {
        line["message"].split(": ", 1)[1]
        for line in served.lines()
        if line["message"].startswith("Using worker: ")
    }


def test_gevent_workers_keep_serving_while_fileflare_hangs(
    portal, standin, tmp_path
) -> None:
    served = portal(
        API_BASE_URL=standin.url,
        API_TIMEOUT=1,
        CACHE_DIR=str(tmp_path / "cache"),
        BREAKER_MIN_ORDERS=4,
    )
    assert worker_classes(served) == {"gevent"}
    cached = f"{served.base}/account/orders/good-cached"
    assert requests.get(cached, timeout=10).status_code == 200
    standin.hang()

    def cold(n: int) -> requests.Response:
        return requests.get(f"{served.base}/account/orders/good-{n}", timeout=30)

    with ThreadPoolExecutor(8) as pool:
        waiting = [pool.submit(cold, n) for n in range(8)]
        while sum(standin.calls.values()) < 1 + 8:
            time.sleep(0.02)
        # Every cold order waits on Fileflare; the rest of the site does not.
        assert requests.get(f"{served.base}/healthz", timeout=5).status_code == 200
        assert requests.get(cached, timeout=5).status_code == 200
        assert not any(future.done() for future in waiting)
        answers = [future.result() for future in waiting]
    assert [a.status_code for a in answers] == [503] * 8

    assert requests.get(f"{served.base}/readyz", timeout=5).json()["upstream"] == "open"
    calls = sum(standin.calls.values())
    refused = cold(99)
    assert refused.status_code == 503
    assert 0 < int(refused.headers["Retry-After"]) <= 30
    assert sum(standin.calls.values()) == calls


def test_threads_are_still_there_for_those_who_need_them(
    portal, standin, tmp_path
) -> None:
    served = portal(API_BASE_URL=standin.url, CACHE_DIR=str(tmp_path / "cache"))
    assert worker_classes(served) == {"gevent"}
    threaded = portal(
        *("serve", "--workers", "2", "--worker-class", "gthread"),
        API_BASE_URL=standin.url,
        CACHE_DIR=str(tmp_path / "cache"),
    )
    assert worker_classes(threaded) == {"gthread"}
    page = requests.get(f"{threaded.base}/account/orders/example", timeout=10)
    assert page.status_code == 200


def test_gevent_workers_obey_a_429_for_every_worker(portal, standin, tmp_path) -> None:
    served = portal(
        API_BASE_URL=standin.url,
        ORDER_CACHE_SECONDS=0,
        CACHE_DIR=str(tmp_path / "cache"),
    )
    seen = f"{served.base}/account/orders/good-seen"
    assert requests.get(seen, timeout=10).status_code == 200
    standin.rate_limit(30)
    began = time.monotonic()
    for n in range(6):  # new connections: both workers answer some
        new = requests.get(f"{served.base}/account/orders/good-new-{n}", timeout=10)
        assert new.status_code == 503
        assert 0 < int(new.headers["Retry-After"]) <= 30
        stale = requests.get(seen, timeout=10)
        assert stale.status_code == 200 and "5 of 10 downloaded" in stale.text
    assert standin.calls_between(began) == 1


def test_gevent_workers_end_a_dripping_exchange_at_the_deadline(
    portal, standin, tmp_path
) -> None:
    served = portal(
        API_BASE_URL=standin.url, API_TIMEOUT=1, CACHE_DIR=str(tmp_path / "cache")
    )
    standin.drip(0.3)
    started = time.monotonic()
    page = requests.get(f"{served.base}/account/orders/good-drip", timeout=30)
    assert page.status_code == 503
    # A byte every 0.3 s never trips the 1 s read timeout: the deadline ends it.
    assert time.monotonic() - started < 3 * 1 + 1
    assert requests.get(f"{served.base}/healthz", timeout=5).status_code == 200


def test_gevent_workers_finish_their_requests_on_shutdown(
    portal, standin, tmp_path
) -> None:
    served = portal(API_BASE_URL=standin.url, CACHE_DIR=str(tmp_path / "cache"))
    standin.latency = 1.5
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(
            requests.get, f"{served.base}/account/orders/good-late", timeout=30
        )
        while not standin.calls["good-late"]:
            time.sleep(0.02)
        served.process.terminate()  # SIGTERM: gunicorn's graceful shutdown
        page = waiting.result()
    assert page.status_code == 200 and "5 of 10 downloaded" in page.text
    assert served.process.wait(30) == 0
