"""The single flight's round trips: how often a waiter looks, what a process shares."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
from cachelib import SimpleCache

from downloads_portal import fixtures
from downloads_portal.models import parse_order
from downloads_portal.store import cache_key
from downloads_portal.store import flight as flight_module
from downloads_portal.store.cache import Entry, Failure, SafeCache
from downloads_portal.store.flight import (
    POLL_GROWTH,
    POLL_MAX_SECONDS,
    POLL_SECONDS,
    SingleFlight,
)
from downloads_portal.upstream import UpstreamRefused, UpstreamUnavailable

from .conftest import TOKEN

KEY = cache_key(TOKEN)


class CountingCache(SimpleCache):
    """cachelib's memory cache, counting the round trips a real backend would make."""

    def __init__(self) -> None:
        super().__init__()
        self.trips: list[str] = []

    def get(self, key: str) -> Any:
        self.trips.append(f"get {key}")
        return super().get(key)

    def get_many(self, *keys: str) -> list[Any]:
        self.trips.append("get_many " + " ".join(keys))
        return [super(CountingCache, self).get(key) for key in keys]


class HeldElsewhere:
    """A shared lock another process holds for its first ``looks`` tries."""

    def __init__(self, looks: int) -> None:
        self.looks = looks
        self.tries = 0

    def acquire(self, key: str, seconds: float) -> bool:
        self.tries += 1
        return self.tries > self.looks

    def release(self, key: str) -> None:
        pass

    def check(self) -> None:
        pass


def single_flight(cache: CountingCache, lock: Any, remember: float = 0) -> SingleFlight:
    return SingleFlight(SafeCache(cache), lock, 30, lambda entry: False, remember)  # type: ignore[arg-type]


def test_a_waiter_looks_less_often_the_longer_it_waits(monkeypatch) -> None:
    pauses: list[float] = []
    clock = SimpleNamespace(
        time=time.time, monotonic=time.monotonic, sleep=pauses.append
    )
    monkeypatch.setattr(flight_module, "time", clock)
    cache, lock = CountingCache(), HeldElsewhere(looks=12)
    with single_flight(cache, lock).turn(KEY) as turn:
        assert turn.left is None  # the other process's lock went: fetch now
    assert lock.tries == 13
    assert pauses[0] == POLL_SECONDS
    assert pauses == sorted(pauses)
    assert pauses[1] == pytest.approx(POLL_SECONDS * POLL_GROWTH)
    assert max(pauses) == POLL_MAX_SECONDS
    assert sum(pauses) < 12 * POLL_MAX_SECONDS
    # Each look is one round trip for the entry and the failure together.
    assert cache.trips == [f"get_many {KEY} {KEY}:failed"] * 13


def queued_behind(flight: SingleFlight, answer: Any) -> tuple[list[Any], list[str]]:
    """Let three threads queue behind a fetcher that ends with ``answer``; return
    what they took and the cache's round trips after the fetcher's answer."""
    taken: list[Any] = []
    trips: list[str] = []
    cache = flight.cache.cache

    def wait() -> None:
        with flight.turn(KEY) as turn:
            taken.append(turn.left)

    with flight.turn(KEY) as turn:
        assert turn.left is None  # this one fetches
        threads = [threading.Thread(target=wait) for _ in range(3)]
        for thread in threads:
            thread.start()
        for _ in range(1000):  # all three queue on this process's lock
            if flight.threads._slots[KEY].users == 4:
                break
            time.sleep(0.01)
        answer(turn)
        cache.trips.clear()
    for thread in threads:
        thread.join(30)
    trips.extend(cache.trips)
    return taken, trips


def test_threads_queued_behind_a_failed_fetch_take_its_failure_from_memory() -> None:
    cache = CountingCache()
    flight = single_flight(cache, HeldElsewhere(looks=0))
    failure = Failure(UpstreamUnavailable("status 500"), time.time() + 1)
    taken, trips = queued_behind(flight, lambda turn: flight.failed(turn, failure))
    assert taken == [failure] * 3
    assert trips == []


def test_threads_queued_behind_a_fetch_take_its_order_from_memory() -> None:
    cache = CountingCache()
    flight = single_flight(cache, HeldElsewhere(looks=0))
    entry = Entry(parse_order(fixtures.EXAMPLE_ORDER), time.time() + 1)
    taken, trips = queued_behind(flight, lambda turn: flight.fetched(turn, entry, 30))
    assert taken == [entry] * 3
    assert trips == []


def test_a_failure_is_not_kept_once_nobody_waits() -> None:
    cache = CountingCache()
    flight = single_flight(cache, HeldElsewhere(looks=0))
    with flight.turn(KEY) as turn:
        assert turn.left is None
        flight.failed(turn, Failure(UpstreamUnavailable("status 500"), time.time()))
    assert flight.threads.noted(KEY) is None
    cache.delete(f"{KEY}:failed")
    with flight.turn(KEY) as turn:
        assert turn.left is None  # a new caller fetches again


def test_a_lookup_reads_the_shared_entry_once_before_the_single_flight(
    app, serve, monkeypatch
) -> None:
    # The limiter asks whether the order is held; the view then takes that read.
    serve(status=404)
    (backend,) = app.extensions["cache"].values()
    reads: list[str] = []
    read = backend.get

    def get(key: str) -> Any:
        reads.append(key)
        return read(key)

    monkeypatch.setattr(backend, "get", get)
    assert app.test_client().get(f"/account/orders/{TOKEN}").status_code == 404
    # Once before the single flight, once in it (with the failure marker).
    assert [key for key in reads if key.endswith(KEY)] == [KEY, KEY]


@pytest.mark.parametrize(
    ("error", "told"),
    [
        (UpstreamUnavailable("status 500"), True),
        (UpstreamRefused("no free slot"), False),
        (UpstreamRefused("circuit open"), False),
    ],
)
def test_a_new_caller_is_told_of_fileflares_failure_not_of_a_refusal(
    error, told
) -> None:
    cache = CountingCache()
    flight = single_flight(cache, HeldElsewhere(looks=0), remember=3.0)
    with flight.turn(KEY) as turn:
        flight.failed(turn, Failure(error, time.time() - 2))
    # Read back as another process would, from the shared cache.
    _, failure = flight.look(KEY)
    assert failure is not None
    assert type(failure.error) is type(error)
    assert (flight.usable(failure, time.time()) is not None) is told
    assert flight.usable(failure, time.time() + 1.5) is None


def test_threads_queued_behind_a_fetch_take_its_answer_all_at_once() -> None:
    # None waits for the one before it to finish with the answer (a convoy).
    flight = single_flight(CountingCache(), HeldElsewhere(looks=0))
    inside = threading.Barrier(4, timeout=10)
    taken: list[Any] = []

    def wait() -> None:
        with flight.turn(KEY) as turn:
            taken.append(turn.left)
            inside.wait()  # all three inside their turns at once, and the test

    entry = Entry(parse_order(fixtures.EXAMPLE_ORDER), time.time() + 1)
    with flight.turn(KEY) as turn:
        threads = [threading.Thread(target=wait) for _ in range(3)]
        for thread in threads:
            thread.start()
        for _ in range(1000):
            if flight.threads._slots[KEY].users == 4:
                break
            time.sleep(0.01)
        flight.fetched(turn, entry, 30)
    inside.wait()
    for thread in threads:
        thread.join(10)
    assert taken == [entry] * 3
