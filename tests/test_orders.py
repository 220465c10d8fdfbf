"""The order store's cache rules, against the stand-in upstream."""

from __future__ import annotations

import time

import pytest

from downloads_portal import create_app, fixtures
from downloads_portal.store import cache_key

from .conftest import ORDERS_PATH, TOKEN, counted, renders, upstream_calls

URL = f"/account/orders/{TOKEN}"


def test_one_call_while_fresh(client, serve, httpserver) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    for _ in range(6):
        assert client.get(URL).status_code == 200
    assert upstream_calls(httpserver) == 1


def test_fetched_again_after_the_fresh_window(config, httpserver, clock) -> None:
    config["ORDER_CACHE_SECONDS"] = 1
    app = create_app(config)
    rendered = renders(app)
    client = app.test_client()
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_json(counted(2))
    httpserver.expect_request(ORDERS_PATH).respond_with_json(counted(3))
    assert "2 of 10 downloaded" in client.get(URL).text
    assert "2 of 10 downloaded" in client.get(URL).text
    clock.shift(1.1)
    assert "3 of 10 downloaded" in client.get(URL).text
    assert upstream_calls(httpserver) == 2
    # The process's own copy and its page are used only while fresh.
    assert rendered == ["order.html"] * 2


def test_not_found_is_remembered(client, serve, httpserver) -> None:
    serve(status=404)
    assert client.get(URL).status_code == 404
    assert client.get(URL).status_code == 404
    assert upstream_calls(httpserver) == 1


def test_not_found_is_forgotten_after_its_window(
    config, serve, httpserver, clock
) -> None:
    config["NOT_FOUND_CACHE_SECONDS"] = 1
    client = create_app(config).test_client()
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_data("", status=404)
    serve(fixtures.EXAMPLE_ORDER)
    assert client.get(URL).status_code == 404
    clock.shift(1.1)
    assert client.get(URL).status_code == 200


@pytest.mark.parametrize(
    ("status", "body", "page"),
    [(402, "", 402), (500, "", 503), (403, "", 503), (200, "not json", 502)],
)
def test_a_failure_is_remembered_for_a_moment(
    client, httpserver, clock, status, body, page
) -> None:
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_data(
        body, status=status
    )
    httpserver.expect_request(ORDERS_PATH).respond_with_json(fixtures.EXAMPLE_ORDER)
    assert client.get(URL).status_code == page
    clock.shift(2.9)  # FAILURE_CACHE_SECONDS: Fileflare is not asked again yet
    assert client.get(URL).status_code == page
    assert upstream_calls(httpserver) == 1
    clock.shift(0.2)
    assert client.get(URL).status_code == 200
    assert upstream_calls(httpserver) == 2


@pytest.mark.parametrize("status", [503, 429])
def test_a_remembered_failure_keeps_fileflares_retry_after(
    client, serve, httpserver, clock, status
) -> None:
    serve(status=status, headers={"Retry-After": "20"})
    assert client.get(URL).headers["Retry-After"] == "20"
    clock.shift(2)
    again = client.get(URL)
    assert again.status_code == 503
    assert again.headers["Retry-After"] == "18"  # what is left, not the default 30
    assert upstream_calls(httpserver) == 1


def test_a_failure_is_not_remembered_without_failure_cache_seconds(
    config, httpserver
) -> None:
    config["FAILURE_CACHE_SECONDS"] = 0
    client = create_app(config).test_client()
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_data("", status=500)
    httpserver.expect_request(ORDERS_PATH).respond_with_json(fixtures.EXAMPLE_ORDER)
    assert client.get(URL).status_code == 503
    assert client.get(URL).status_code == 200


def test_a_remembered_failure_shows_the_last_good_copy(
    config, httpserver, clock
) -> None:
    config["ORDER_CACHE_SECONDS"] = 1
    client = create_app(config).test_client()
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_json(counted(4))
    httpserver.expect_request(ORDERS_PATH).respond_with_data("", status=500)
    assert client.get(URL).status_code == 200
    clock.shift(1.1)
    for _ in range(2):
        stale = client.get(URL)
        assert "4 of 10 downloaded" in stale.text
        assert "may be a few minutes old" in stale.text
    assert upstream_calls(httpserver) == 2


def test_stale_copy_when_the_upstream_fails(config, httpserver, clock) -> None:
    config["ORDER_CACHE_SECONDS"] = 1
    client = create_app(config).test_client()
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_json(counted(4))
    httpserver.expect_request(ORDERS_PATH).respond_with_data("", status=503)
    fresh = client.get(URL)
    assert "may be a few minutes old" not in fresh.text
    clock.shift(1.1)
    stale = client.get(URL)
    assert stale.status_code == 200
    assert "4 of 10 downloaded" in stale.text
    assert "may be a few minutes old" in stale.text
    # A second old, and still never "0 minutes ago".
    assert "how it looked 1 minute ago" in " ".join(stale.text.split())
    assert stale.headers["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize(
    ("settings", "then"),
    [
        # Past STALE_ORDER_SECONDS, there is no last good copy to show.
        ({"ORDER_CACHE_SECONDS": 1, "STALE_ORDER_SECONDS": 2}, 503),
        # An order the upstream no longer knows is gone, not stale.
        ({"ORDER_CACHE_SECONDS": 1}, 404),
    ],
)
def test_no_stale_copy(config, httpserver, clock, settings, then) -> None:
    config.update(settings)
    client = create_app(config).test_client()
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_json(counted(4))
    httpserver.expect_request(ORDERS_PATH).respond_with_data("", status=then)
    assert client.get(URL).status_code == 200
    clock.shift(2.1)
    assert client.get(URL).status_code == then


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


def count_reads(app, monkeypatch) -> list[str]:
    """Record every key the app reads from its shared cache."""
    (backend,) = app.extensions["cache"].values()
    reads: list[str] = []
    read = backend.get

    def get(key: str):
        reads.append(key)
        return read(key)

    monkeypatch.setattr(backend, "get", get)
    return reads


def test_a_fresh_order_is_served_from_the_process_copy(app, serve, monkeypatch) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    client = app.test_client()
    reads = count_reads(app, monkeypatch)
    assert "5 of 10 downloaded" in client.get(URL).text
    assert reads  # the first view looked in the shared cache, so reads are seen
    reads.clear()
    for _ in range(3):
        assert "5 of 10 downloaded" in client.get(URL).text
    assert reads == []


def test_the_process_copy_is_read_again_after_a_second(
    app, serve, httpserver, monkeypatch, clock
) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    client = app.test_client()
    rendered = renders(app)
    reads = count_reads(app, monkeypatch)
    first = client.get(URL).text
    reads.clear()
    clock.shift(1.1)  # LOCAL_CACHE_SECONDS: another process may have dropped it
    assert client.get(URL).text == first
    # One look: the entry and its failure marker (two files; one MGET on Redis).
    assert reads == [cache_key(TOKEN), f"{cache_key(TOKEN)}:failed"]
    # The shared copy was the same: one fetch, and the page memo still hits.
    assert upstream_calls(httpserver) == 1
    assert rendered == ["order.html"]


def test_a_remembered_404_is_kept_by_the_process_too(app, serve, monkeypatch) -> None:
    serve(status=404)
    client = app.test_client()
    reads = count_reads(app, monkeypatch)
    assert client.get(URL).status_code == 404
    assert reads
    reads.clear()
    assert client.get(URL).status_code == 404
    assert reads == []


def test_process_copies_are_bounded() -> None:
    from downloads_portal.store.cache import Entry
    from downloads_portal.store.local import LocalEntries

    local = LocalEntries(size=2)
    for name in ("a", "b", "c"):
        local.keep(name, Entry(None, time.time()))
    assert local.get("a") is None
    assert local.get("b") is not None and local.get("c") is not None
    assert LocalEntries(size=0).keep("a", Entry(None, 1.0)).fetched_at == 1.0


def test_a_fresh_copy_is_rendered_once_per_variant(app, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    client = app.test_client()
    rendered = renders(app)
    first = client.get(URL).text
    assert client.get(URL).text == first
    assert rendered == ["order.html"]
    german = client.get(URL, headers={"Accept-Language": "de"}).text
    assert "5 von 10 heruntergeladen" in german
    # Another browser preferring German shares that page; English is unchanged.
    assert client.get(URL, headers={"Accept-Language": "de-AT, en"}).text == german
    assert client.get(URL, headers={"Accept-Language": "en-GB"}).text == first
    # A query parameter the page ignores makes no page of its own.
    assert client.get(URL + "?utm_source=mail").text == first
    assert rendered == ["order.html"] * 2


def test_stale_pages_are_rendered_every_time(config, httpserver, clock) -> None:
    config["ORDER_CACHE_SECONDS"] = 1
    app = create_app(config)
    rendered = renders(app)
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_json(counted(4))
    httpserver.expect_request(ORDERS_PATH).respond_with_data("", status=503)
    client = app.test_client()
    client.get(URL)
    clock.shift(1.1)
    assert "may be a few minutes old" in client.get(URL).text
    assert "may be a few minutes old" in client.get(URL).text
    assert rendered == ["order.html"] * 3


def test_file_cache_locks_are_exclusive_and_expire(tmp_path) -> None:
    from downloads_portal.store.locks import FileLocks

    one, other = FileLocks(str(tmp_path)), FileLocks(str(tmp_path))
    assert one.acquire("order:abc", 30) is True
    assert other.acquire("order:abc", 30) is False
    assert other.acquire("order:def", 30) is True
    one.release("order:abc")
    assert other.acquire("order:abc", 30) is True
    # A lock older than its timeout belongs to a fetcher that died.
    assert one.acquire("order:abc", 0) is True
    assert all("abc" not in path.name for path in tmp_path.iterdir())


def test_not_found_is_not_remembered_with_a_zero_window(config, httpserver) -> None:
    config["NOT_FOUND_CACHE_SECONDS"] = 0
    client = create_app(config).test_client()
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_data("", status=404)
    httpserver.expect_request(ORDERS_PATH).respond_with_json(fixtures.EXAMPLE_ORDER)
    assert client.get(URL).status_code == 404
    assert client.get(URL).status_code == 200


@pytest.mark.parametrize(
    "value",
    [
        # What an older release's Entry, since renamed, unpickles to: an error.
        b"!cdownloads_portal.orders\nEntryV0\n)\x81.",
        b"!not a pickle at all",
        b"!" + __import__("pickle").dumps({"order": "not an Entry"}),
    ],
)
def test_an_unreadable_entry_is_a_miss(redis_config, serve, value) -> None:
    import redis

    from .conftest import REDIS_URL

    client = redis.Redis.from_url(REDIS_URL)
    key = redis_config["CACHE_KEY_PREFIX"] + cache_key(TOKEN)
    client.set(key, value)
    serve(fixtures.EXAMPLE_ORDER)
    response = create_app(redis_config).test_client().get(URL)
    assert response.status_code == 200
    assert "5 of 10 downloaded" in response.text
    # The very key the app reads: the fresh fetch took the unreadable value's place.
    assert client.get(key) not in (None, value)
    client.close()


def test_the_file_cache_however_named_gets_its_folder_and_locks(config) -> None:
    from downloads_portal.store.locks import FileLocks

    config.pop("CACHE_DIR")
    config["CACHE_TYPE"] = "flask_caching.backends.FileSystemCache"
    app = create_app(config)
    assert app.config["CACHE_DIR"] == f"{app.instance_path}/cache"
    assert isinstance(app.extensions["order_store"].fetch_locks, FileLocks)
