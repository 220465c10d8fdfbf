"""The order store's entries: JSON data, never code, and forgotten on demand."""

from __future__ import annotations

import hashlib
import json
import pickle
import struct
import time
from pathlib import Path

import pytest
import redis

from downloads_portal import create_app, fixtures
from downloads_portal.fixtures.scenarios import SCENARIOS
from downloads_portal.store import cache_key
from downloads_portal.store.cache import (
    CACHE_VERSION,
    CLOCK_SKEW_SECONDS,
    Entry,
    Failure,
)
from downloads_portal.upstream import UpstreamInvalid, UpstreamUnavailable

from .conftest import REDIS_URL, TOKEN, upstream_calls

URL = f"/account/orders/{TOKEN}"


class Marker:
    """A pickle that, once loaded, creates a file: the proof that code ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def plant_in_file_cache(config: dict, value: bytes) -> None:
    """Write ``value`` as cachelib's file cache holds the order's entry."""
    name = hashlib.sha256(cache_key(TOKEN).encode()).hexdigest()
    folder = Path(config["CACHE_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(struct.pack("I", 0) + value)


def plant_in_redis(config: dict, value: bytes) -> None:
    """Write ``value`` where Redis holds the order's entry."""
    client = redis.Redis.from_url(REDIS_URL)
    client.set(config["CACHE_KEY_PREFIX"] + cache_key(TOKEN), value)
    client.close()


@pytest.mark.parametrize("backend", ["file", "redis"])
def test_a_pickle_in_the_cache_is_never_loaded(
    request, config, serve, httpserver, tmp_path, backend
) -> None:
    marker = tmp_path / "code-ran"
    payload = pickle.dumps(Marker(marker))
    assert not marker.exists()
    if backend == "redis":
        config = request.getfixturevalue("redis_config")
        plant_in_redis(config, b"!" + payload)
    else:
        plant_in_file_cache(config, payload)
    serve(fixtures.EXAMPLE_ORDER)
    response = create_app(config).test_client().get(URL)
    assert response.status_code == 200
    assert "5 of 10 downloaded" in response.text
    assert upstream_calls(httpserver) == 1
    assert not marker.exists()
    # The planted pickle is really one that runs code, were it loaded.
    pickle.loads(payload)
    assert marker.exists()


def test_entries_are_written_as_json(config, serve) -> None:
    import json

    serve(fixtures.EXAMPLE_ORDER)
    create_app(config).test_client().get(URL)
    name = hashlib.sha256(cache_key(TOKEN).encode()).hexdigest()
    data = json.loads((Path(config["CACHE_DIR"]) / name).read_bytes()[4:])
    assert data["version"] == CACHE_VERSION
    assert data["order"]["order"]["order_number"] == "1050"


@pytest.mark.parametrize("name", [n for n, s in SCENARIOS.items() if s.body])
def test_an_entry_reads_back_as_it_was_written(name) -> None:
    entry = Entry(SCENARIOS[name].order(), 1234.5)
    assert Entry.from_json(entry.to_json()) == entry


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"version": 1, "fetched_at": 1.0, "order": None},
        {"version": 2, "fetched_at": True, "order": None},
        {"version": 2, "fetched_at": 1.0, "order": {"order": "nope"}},
    ],
)
def test_an_entry_that_does_not_parse_is_none(data) -> None:
    assert Entry.from_json(data) is None


def test_a_failure_reads_back_as_its_kind_and_message() -> None:
    failure = Failure.from_json(Failure(UpstreamInvalid("not JSON"), 9.0).to_json())
    assert failure is not None
    assert type(failure.error) is UpstreamInvalid
    assert str(failure.error) == "not JSON"
    assert Failure.from_json({"kind": "SystemExit", "failed_at": 1.0}) is None


@pytest.mark.parametrize(
    ("asked", "left"),
    [
        (20, 15.0),
        (1, 0.0),
        ("20", None),
        (True, None),
        (float("nan"), None),
        (10**400, None),
    ],
)
def test_a_failure_reads_back_with_the_wait_left(asked, left) -> None:
    data = {"kind": "UpstreamUnavailable", "failed_at": time.time() - 5}
    failure = Failure.from_json({**data, "retry_after": asked})
    assert failure is not None
    assert isinstance(failure.error, UpstreamUnavailable)
    assert failure.error.told_to_wait
    if left is None:
        assert failure.error.retry_after is None
    else:
        assert failure.error.retry_after == pytest.approx(left, abs=0.5)


def test_forget_fetches_the_order_anew(app, httpserver) -> None:
    asset = fixtures.asset(downloaded=2, limit=10)
    httpserver.expect_oneshot_request(
        "/api/v2/customer-account-orders"
    ).respond_with_json(fixtures.order(lines=[fixtures.line(assets=[asset])]))
    later = fixtures.asset(downloaded=3, limit=10)
    httpserver.expect_request("/api/v2/customer-account-orders").respond_with_json(
        fixtures.order(lines=[fixtures.line(assets=[later])])
    )
    client = app.test_client()
    assert "2 of 10 downloaded" in client.get(URL).text
    assert "2 of 10 downloaded" in client.get(URL).text
    app.extensions["order_store"].forget(TOKEN)
    assert "3 of 10 downloaded" in client.get(URL).text
    assert upstream_calls(httpserver) == 2


def plant(request, config: dict, backend: str, suffix: str, text: str) -> dict:
    """Write ``text`` under the order's key and ``suffix`` in the file cache or in
    Redis, as another writer of that cache could; return the app's settings."""
    key = cache_key(TOKEN) + suffix
    if backend == "redis":
        config = request.getfixturevalue("redis_config")
        client = redis.Redis.from_url(REDIS_URL)
        client.set(config["CACHE_KEY_PREFIX"] + key, text.encode())
        client.close()
    else:
        folder = Path(config["CACHE_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(key.encode()).hexdigest()
        (folder / name).write_bytes(struct.pack("I", 0) + text.encode())
    return config


#: Times no portal writes: far ahead, not numbers at all, too big for a float.
PLANTED_TIMES = pytest.mark.parametrize(
    "when",
    ["1e12", "Infinity", "-Infinity", "NaN", "9" * 400, "-1"],
    ids=["ahead", "Infinity", "-Infinity", "NaN", "huge", "negative"],
)


@pytest.mark.parametrize("backend", ["file", "redis"])
@PLANTED_TIMES
def test_a_planted_failure_never_answers(
    request, config, serve, httpserver, backend, when
) -> None:
    failure = f'{{"kind":"OrderNotFound","message":"","failed_at":{when}}}'
    config = plant(request, config, backend, ":failed", failure)
    serve(fixtures.EXAMPLE_ORDER)
    response = create_app(config).test_client().get(URL)
    assert response.status_code == 200
    assert "5 of 10 downloaded" in response.text
    assert upstream_calls(httpserver) == 1


@pytest.mark.parametrize("backend", ["file", "redis"])
@PLANTED_TIMES
def test_an_entry_from_the_future_is_a_miss(
    request, config, serve, httpserver, backend, when
) -> None:
    asset = fixtures.asset(downloaded=9, limit=10)
    body = json.dumps(fixtures.order(lines=[fixtures.line(assets=[asset])]))
    entry = f'{{"version":{CACHE_VERSION},"fetched_at":{when},"order":{body}}}'
    config = plant(request, config, backend, "", entry)
    serve(fixtures.EXAMPLE_ORDER)
    client = create_app(config).test_client()
    for _ in range(2):
        response = client.get(URL)
        assert response.status_code == 200
        assert "5 of 10 downloaded" in response.text
    assert upstream_calls(httpserver) == 1


@pytest.mark.parametrize("backend", ["file", "redis"])
def test_a_planted_entry_of_now_is_read(request, config, serve, backend) -> None:
    # The planting above reaches the very key the app reads: a well-shaped entry
    # of a time no further ahead than the instances' clocks differ is served.
    asset = fixtures.asset(downloaded=9, limit=10)
    body = json.dumps(fixtures.order(lines=[fixtures.line(assets=[asset])]))
    now = time.time() + CLOCK_SKEW_SECONDS / 2
    entry = f'{{"version":{CACHE_VERSION},"fetched_at":{now},"order":{body}}}'
    config = plant(request, config, backend, "", entry)
    serve(fixtures.EXAMPLE_ORDER)
    assert "9 of 10 downloaded" in create_app(config).test_client().get(URL).text
