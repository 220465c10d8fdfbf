"""The circuit breaker: judged per order, opened by Retry-After, one probe, shared."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis
import time_machine

from downloads_portal.breaker import Breaker, Refused, Thresholds
from downloads_portal.breaker_storage import FolderStorage, MemoryStorage, RedisStorage

from .conftest import free_port

LIMITS = Thresholds(
    window_seconds=30, min_orders=10, failure_rate=0.5, cool_off_seconds=30
)


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(1_900_000_000.0, tick=False) as traveller:
        yield traveller


@pytest.fixture(params=["memory", "folder", "redis"])
def storages(request, tmp_path: Path) -> Callable[[], Any]:
    """Make storages that share one breaker: two workers, or two instances."""
    if request.param == "memory":
        shared = MemoryStorage()
        return lambda: shared
    if request.param == "folder":
        return lambda: FolderStorage(str(tmp_path / "breaker"))
    config = request.getfixturevalue("redis_config")
    client = redis.Redis.from_url(config["CACHE_REDIS_URL"])
    return lambda: RedisStorage(client, config["CACHE_KEY_PREFIX"])


def fail(breaker: Breaker, orders: range, retry_after: float | None = None) -> None:
    for n in orders:
        breaker.before_call(15)
        told = retry_after is not None
        breaker.failed(f"order-{n}", False, told_to_wait=told, retry_after=retry_after)


def test_one_broken_order_never_opens_it(clock, storages) -> None:
    breaker = Breaker(storages(), LIMITS)
    for n in range(20):
        breaker.succeeded(f"good-{n}", probe=False)
    for _ in range(100):  # the same broken order, asked for again and again
        breaker.before_call(15)
        breaker.failed("broken", False, told_to_wait=False, retry_after=None)
    assert breaker.state() == "ok"


def test_many_orders_failing_open_it_for_the_cool_off(clock, storages) -> None:
    worker, other_instance = Breaker(storages(), LIMITS), Breaker(storages(), LIMITS)
    for n in range(4):
        worker.succeeded(f"good-{n}", probe=False)
    fail(worker, range(5))
    assert worker.state() == "ok"  # 9 orders called: fewer than the minimum
    fail(worker, range(5, 6))
    assert worker.state() == other_instance.state() == "open"
    with pytest.raises(Refused) as refused:
        other_instance.before_call(15)
    assert refused.value.retry_after == pytest.approx(30)
    clock.shift(29)
    assert other_instance.state() == "open"
    clock.shift(2)
    assert other_instance.state() == "half-open"


def test_failures_slide_out_of_the_window(clock, storages) -> None:
    breaker = Breaker(storages(), LIMITS)
    fail(breaker, range(9))
    clock.shift(31)
    fail(breaker, range(9, 10))
    assert breaker.state() == "ok"


def test_retry_after_opens_it_for_that_long_then_one_probe_goes(
    clock, storages
) -> None:
    first, second = Breaker(storages(), LIMITS), Breaker(storages(), LIMITS)
    fail(first, range(1), retry_after=20)
    assert second.state() == "open"
    clock.shift(19.5)
    with pytest.raises(Refused):
        second.before_call(15)
    clock.shift(1)
    assert second.state() == "half-open"
    assert second.before_call(15) is True  # the probe
    with pytest.raises(Refused) as refused:
        first.before_call(15)
    assert refused.value.state == "half-open"
    second.succeeded("order-1", probe=True)
    assert first.state() == "ok"
    assert first.before_call(15) is False


def test_a_failed_probe_opens_it_again(clock, storages) -> None:
    breaker = Breaker(storages(), LIMITS)
    fail(breaker, range(1), retry_after=5)
    clock.shift(6)
    assert breaker.before_call(15) is True
    breaker.failed("order-0", True, told_to_wait=False, retry_after=None)
    assert breaker.state() == "open"
    clock.shift(29)
    assert breaker.state() == "open"
    clock.shift(2)
    assert breaker.before_call(15) is True  # a new probe, the old one released


def test_retry_after_is_capped(clock) -> None:
    breaker = Breaker(MemoryStorage(), LIMITS)
    fail(breaker, range(1), retry_after=21600)
    clock.shift(299)
    assert breaker.state() == "open"
    clock.shift(2)
    assert breaker.state() == "half-open"


def test_old_failures_do_not_reopen_it_after_a_probe_closes_it(clock, storages) -> None:
    breaker = Breaker(storages(), Thresholds(window_seconds=60, cool_off_seconds=10))
    fail(breaker, range(10))
    clock.shift(11)
    assert breaker.before_call(15) is True
    breaker.succeeded("order-0", probe=True)
    fail(breaker, range(10, 11))
    assert breaker.state() == "ok"


def test_a_redis_that_is_down_leaves_each_process_its_own(clock) -> None:
    down = redis.Redis.from_url(
        f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2
    )
    breaker = Breaker(RedisStorage(down, "test-down:"), LIMITS)
    assert breaker.state() == "ok"
    fail(breaker, range(1), retry_after=20)
    assert breaker.state() == "open"
    with pytest.raises(Refused):
        breaker.before_call(15)


def test_a_redis_that_failed_is_left_alone_for_a_moment(monkeypatch) -> None:
    # The module, not the function of the same name the package holds.
    breaker_storage = importlib.import_module("downloads_portal.breaker_storage")
    now = [100.0]
    clock = SimpleNamespace(time=time.time, monotonic=lambda: now[0])
    monkeypatch.setattr(breaker_storage, "time", clock)
    down = redis.Redis.from_url(
        f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2
    )
    asked: list[str] = []
    real = down.execute_command

    def counted(*args: Any, **kwargs: Any) -> Any:
        asked.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(down, "execute_command", counted)
    storage = RedisStorage(down, "test-down:")
    assert storage.opened_until() == 0.0
    assert storage.take_probe(15) is True  # this process's own, from memory
    assert asked == ["GET"]
    now[0] += breaker_storage.CACHE_RETRY_SECONDS
    storage.opened_until()
    assert asked == ["GET", "GET"]


def test_time_is_wall_clock(storages) -> None:
    # Instances share "open until" as a time.time() reading, not a monotonic one.
    breaker = Breaker(storages(), LIMITS)
    fail(breaker, range(1), retry_after=20)
    assert breaker.storage.opened_until() == pytest.approx(time.time() + 20, abs=5)


def test_a_folder_that_takes_no_file_leaves_each_process_its_own(
    clock, tmp_path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    breaker = Breaker(FolderStorage(str(blocker / "breaker")), LIMITS)
    assert breaker.state() == "ok"
    fail(breaker, range(1), retry_after=20)
    with pytest.raises(Refused):
        breaker.before_call(15)
    clock.shift(21)
    assert breaker.before_call(15) is True
    breaker.succeeded("order-0", probe=True)
    assert breaker.state() == "ok"


class CountedReads(MemoryStorage):
    """A process's breaker that counts how often it is asked when it reopens."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def opened_until(self) -> float:
        self.reads += 1
        return super().opened_until()


def test_a_process_reads_the_storage_once_a_second(monkeypatch) -> None:
    from downloads_portal import breaker as breaker_module

    now = [0.0]
    clock = SimpleNamespace(time=time.time, monotonic=lambda: now[0])
    monkeypatch.setattr(breaker_module, "time", clock)
    storage = CountedReads()
    breaker = Breaker(storage, LIMITS)
    for _ in range(3):
        assert breaker.refusal() is None
        assert breaker.before_call(15) is False
    assert storage.reads == 1
    other = Breaker(storage, LIMITS)  # another process opens it
    other.open(30, "test")
    assert breaker.before_call(15) is False  # not seen yet
    now[0] += breaker_module.READING_SECONDS  # a reading that old is read again
    with pytest.raises(Refused):
        breaker.before_call(15)
    assert storage.reads == 2


def test_a_process_sees_its_own_opening_and_closing_at_once(monkeypatch) -> None:
    storage = CountedReads()
    breaker = Breaker(storage, LIMITS)
    assert breaker.refusal() is None
    breaker.open(30, "test")
    assert breaker.refusal() is not None
    assert storage.reads == 1


def test_once_its_time_is_up_the_probe_is_taken_on_a_fresh_reading(clock) -> None:
    storage = CountedReads()
    first, second = Breaker(storage, LIMITS), Breaker(storage, LIMITS)
    first.open(5, "test")
    clock.shift(6)
    assert second.before_call(15) is True  # the probe
    second.succeeded("order-1", probe=True)
    # first's reading still says "open until 5 s ago": it reads again, closed.
    assert first.before_call(15) is False
