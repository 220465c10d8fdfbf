"""Instances sharing one Redis: single flight, and pages that outlive Redis."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import redis
from flask import Flask

from downloads_portal import create_app, fixtures
from downloads_portal.store import cache_key

from .conftest import (
    ORDERS_PATH,
    REDIS_URL,
    TOKEN,
    AnswerAfter,
    base_url,
    upstream_calls,
)

URL = f"/account/orders/{TOKEN}"

T = TypeVar("T")


def burst(apps: list[Flask], path: str, size: int = 40) -> list[tuple[int, str]]:
    """Send ``size`` requests at once, spread over ``apps``; return status and body."""
    barrier = threading.Barrier(size)
    results: list[tuple[int, str]] = [(0, "")] * size

    def one(i: int) -> None:
        client = apps[i % len(apps)].test_client()
        barrier.wait()
        response = client.get(path)
        results[i] = (response.status_code, response.text)
        response.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive(), "a request never finished"
    return results


def test_two_instances_answer_a_cold_burst_with_one_call(
    redis_config, slow_upstream
) -> None:
    redis_config["API_BASE_URL"] = base_url(slow_upstream)
    slow_upstream.expect_request(ORDERS_PATH).respond_with_handler(
        AnswerAfter(0.3, fixtures.EXAMPLE_ORDER)
    )
    apps = [create_app(redis_config), create_app(redis_config)]
    results = burst(apps, URL)
    assert [status for status, _ in results] == [200] * 40
    assert all("5 of 10 downloaded" in text for _, text in results)
    assert upstream_calls(slow_upstream) == 1


def test_a_cold_burst_for_an_unknown_order_makes_one_call(
    redis_config, slow_upstream
) -> None:
    redis_config.update(
        API_BASE_URL=base_url(slow_upstream),
        NOT_FOUND_RATE_LIMIT="1000 per minute",
    )
    slow_upstream.expect_request(ORDERS_PATH).respond_with_handler(
        AnswerAfter(0.3, status=404)
    )
    apps = [create_app(redis_config), create_app(redis_config)]
    assert [status for status, _ in burst(apps, URL)] == [404] * 40
    assert upstream_calls(slow_upstream) == 1


def test_a_stalled_upstream_fails_the_burst_once(redis_config, slow_upstream) -> None:
    redis_config["API_BASE_URL"] = base_url(slow_upstream)
    stalled = AnswerAfter(2.5, fixtures.EXAMPLE_ORDER)
    slow_upstream.expect_request(ORDERS_PATH).respond_with_handler(stalled)
    apps = [create_app(redis_config), create_app(redis_config)]
    results = burst(apps, URL, size=10)
    assert [status for status, _ in results] == [503] * 10
    assert all("temporarily unavailable" in text for _, text in results)
    assert stalled.arrived == 1


def test_another_instance_is_told_of_a_failure_a_moment_ago(
    redis_config, serve, httpserver
) -> None:
    serve(status=500)
    first, second = create_app(redis_config), create_app(redis_config)
    assert first.test_client().get(URL).status_code == 503
    page = second.test_client().get(URL)
    assert page.status_code == 503
    assert "temporarily unavailable" in page.text
    assert upstream_calls(httpserver) == 1


def test_the_last_good_copy_outlives_a_stalled_upstream(
    redis_config, slow_upstream, clock
) -> None:
    redis_config.update(API_BASE_URL=base_url(slow_upstream), ORDER_CACHE_SECONDS=1)
    slow_upstream.expect_oneshot_request(ORDERS_PATH).respond_with_json(
        fixtures.EXAMPLE_ORDER
    )
    stalled = AnswerAfter(2.5, fixtures.EXAMPLE_ORDER)
    slow_upstream.expect_request(ORDERS_PATH).respond_with_handler(stalled)
    apps = [create_app(redis_config), create_app(redis_config)]
    assert apps[0].test_client().get(URL).status_code == 200
    clock.shift(1.1)
    results = burst(apps, URL, size=10)
    assert [status for status, _ in results] == [200] * 10
    assert all("may be a few minutes old" in text for _, text in results)
    assert stalled.arrived == 1


def hold_lock(config: dict[str, Any], seconds: int) -> None:
    """Take the fetch lock for TOKEN, as a fetcher that then died would have."""
    client = redis.Redis.from_url(REDIS_URL)
    name = config["CACHE_KEY_PREFIX"] + cache_key(TOKEN) + ":lock"
    client.set(name, b"gone", ex=seconds)
    client.close()


def finished(call: Callable[[], T], seconds: float = 30) -> T:
    """Return what ``call`` returns; fail, rather than hang, if it takes too long."""
    results: list[T] = []
    worker = threading.Thread(target=lambda: results.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still waiting after {seconds} s"
    assert results, "the call raised"
    return results[0]


def test_a_waiter_fetches_once_a_dead_fetchers_lock_expires(
    redis_config, serve, httpserver
) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    client = create_app(redis_config).test_client()
    hold_lock(redis_config, seconds=1)
    started = time.monotonic()
    assert finished(lambda: client.get(URL).status_code) == 200
    assert time.monotonic() - started >= 0.5
    assert upstream_calls(httpserver) == 1


def test_a_waiter_does_not_wait_forever(redis_config, serve, httpserver) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    client = create_app(redis_config).test_client()
    hold_lock(redis_config, seconds=3600)
    # API_TIMEOUT is 1 s: a fetch's lock is held at most 3 s and 1, then the
    # waiter fetches itself; one that waited for the lock to go would never return.
    assert finished(lambda: client.get(URL).status_code) == 200
    assert upstream_calls(httpserver) == 1


def test_redis_holds_no_token(redis_config, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    create_app(redis_config).test_client().get(URL)
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(redis_config["CACHE_KEY_PREFIX"] + "*"))
    assert keys
    assert all(TOKEN.encode() not in key for key in keys)
    assert all(TOKEN.encode() not in client.get(key) for key in keys)
    client.close()


def test_pages_outlive_a_stopped_redis(
    config, redis_server, serve, httpserver, caplog
) -> None:
    # Without the process's own copies, every view goes to Redis, then Fileflare.
    config.update(
        CACHE_TYPE="RedisCache", CACHE_REDIS_URL=redis_server.url, LOCAL_CACHE_ITEMS=0
    )
    serve(fixtures.EXAMPLE_ORDER)
    serve(status=404, token="unknown")
    client = create_app(config).test_client()
    assert client.get(URL).status_code == 200
    assert client.get(URL).status_code == 200
    assert upstream_calls(httpserver) == 1

    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="downloads_portal.store"):
        for _ in range(3):
            response = client.get(URL)
            assert response.status_code == 200
            assert "5 of 10 downloaded" in response.text
            time.sleep(0.6)
        assert client.get("/account/orders/unknown").status_code == 404
    warnings = [r for r in caplog.records if "cache unavailable" in r.getMessage()]
    assert len(warnings) == 1
    assert upstream_calls(httpserver) >= 4
    ready = {"status": "ready", "cache": "down", "upstream": "ok"}
    assert client.get("/readyz").json == ready

    redis_server.start()
    time.sleep(1.1)
    assert client.get(URL).status_code == 200
    calls = upstream_calls(httpserver)
    for _ in range(3):
        assert client.get(URL).status_code == 200
    assert upstream_calls(httpserver) == calls
    ready = {"status": "ready", "cache": "ok", "upstream": "ok"}
    assert client.get("/readyz").json == ready


def test_with_redis_stopped_the_process_copy_stands_in(
    config, redis_server, serve, httpserver, clock
) -> None:
    config.update(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=redis_server.url)
    serve(fixtures.EXAMPLE_ORDER)
    client = create_app(config).test_client()
    assert client.get(URL).status_code == 200
    redis_server.stop()
    # Past LOCAL_CACHE_SECONDS the copy is checked against Redis, which cannot
    # say whether the order was dropped: the copy serves while fresh.
    clock.shift(1.1)
    for _ in range(2):
        assert "5 of 10 downloaded" in client.get(URL).text
    assert upstream_calls(httpserver) == 1


@pytest.fixture
def hung_redis() -> Iterator[str]:
    """A port that accepts connections and never answers, like a stuck Redis."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def test_a_hung_redis_costs_a_page_little(config, hung_redis, serve) -> None:
    config.update(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=hung_redis)
    serve(fixtures.EXAMPLE_ORDER)
    client = create_app(config).test_client()

    def visit() -> list[Any]:
        answers: list[Any] = [client.get(URL).status_code for _ in range(3)]
        return [*answers, client.get("/readyz").json]

    # Without socket timeouts the first cache call would hang for good.
    answers = finished(visit)
    ready = {"status": "ready", "cache": "down", "upstream": "ok"}
    assert answers == [200, 200, 200, ready]


@pytest.fixture
def trips(monkeypatch) -> list[int]:
    """Count the round trips to Redis: each sends its commands once, then reads."""
    sent: list[int] = []
    send = redis.connection.AbstractConnection.send_packed_command

    def counted(self: Any, command: Any, check_health: bool = True) -> None:
        sent.append(1)
        send(self, command, check_health)

    monkeypatch.setattr(
        redis.connection.AbstractConnection, "send_packed_command", counted
    )
    return sent


def test_a_fetch_lock_is_taken_with_its_expiry_and_a_look_in_one_trip(
    redis_config, trips
) -> None:
    store = create_app(redis_config).extensions["order_store"]
    key = cache_key(TOKEN)
    store.cache.set(key, {"planted": True}, timeout=60)
    trips.clear()
    taken, found = store.fetch_locks.acquire_reading(key, 16, key, f"{key}:failed")
    assert (taken, found) == (True, [{"planted": True}, None])
    assert len(trips) == 1
    server = redis.Redis.from_url(REDIS_URL)
    lock = redis_config["CACHE_KEY_PREFIX"] + f"{key}:lock"
    assert 0 < server.ttl(lock) <= 16, "a lock without an expiry would never go"
    assert store.fetch_locks.acquire(key, 16) is False
    store.fetch_locks.release(key)
    assert store.fetch_locks.acquire(key, 16) is True
    server.close()


def test_a_fetchers_writes_and_its_lock_go_in_one_trip(redis_config, trips) -> None:
    store = create_app(redis_config).extensions["order_store"]
    key = cache_key(TOKEN)
    prefix = redis_config["CACHE_KEY_PREFIX"]
    assert store.fetch_locks.acquire(key, 16) is True
    trips.clear()
    writes = {key: ({"order": 1}, 30), f"{key}:failed": ({"kind": "x"}, 16)}
    store.fetch_locks.release_writing(key, writes)
    assert len(trips) == 1
    server = redis.Redis.from_url(REDIS_URL)
    assert server.exists(prefix + f"{key}:lock") == 0
    assert store.cache.get(key, dict) == {"order": 1}
    assert 0 < server.ttl(prefix + key) <= 30
    assert 0 < server.ttl(prefix + f"{key}:failed") <= 16
    server.close()
