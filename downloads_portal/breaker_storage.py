"""Where the circuit breaker keeps its state, and how widely it is shared.

- Redis (``RedisCache`` with ``CACHE_REDIS_URL``): every worker of every instance
  shares the breaker, its probe and its window (orders counted with HyperLogLog).
- The file cache: the workers of one machine share whether it is open and its probe
  (files in a folder beside the cache); each worker counts its own window.
- Anything else: each worker process on its own.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TypeVar

import redis
from flask import Flask
from redis.client import Pipeline

from .store.backend import backend_is, cache_folder, redis_options
from .store.cache import CACHE_RETRY_SECONDS

log = logging.getLogger(__name__)

T = TypeVar("T")


class MemoryStorage:
    """One process's breaker."""

    def __init__(self) -> None:
        # Made when the app is, in the worker: under gevent, a cooperative lock.
        self._lock = threading.Lock()
        self._until = 0.0
        self._probe_until = 0.0
        self._buckets: dict[int, tuple[set[str], set[str]]] = {}

    def opened_until(self) -> float:
        """Return when the breaker closes again; 0 when it is closed."""
        return self._until

    def open_until(self, until: float) -> None:
        """Open until ``until`` unless open longer; the next probe is a new one."""
        with self._lock:
            self._until = max(self._until, until)
            self._probe_until = 0.0

    def close(self, bucket: int) -> None:
        """Close and forget the window."""
        with self._lock:
            self._until = self._probe_until = 0.0
            self._buckets.clear()

    def take_probe(self, seconds: float) -> bool:
        """Take the probe unless someone holds it."""
        with self._lock:
            now = time.time()
            if now < self._probe_until:
                return False
            self._probe_until = now + seconds
            return True

    def record(
        self, order: str, failed: bool, bucket: int, window: range
    ) -> tuple[int, int]:
        """Count the outcome; return the orders called and failing in the window."""
        with self._lock:
            called, failing = self._buckets.setdefault(bucket, (set(), set()))
            called.add(order)
            if failed:
                failing.add(order)
            for old in [b for b in self._buckets if b not in window]:
                del self._buckets[old]
            all_called = set().union(*(c for c, _ in self._buckets.values()))
            all_failing = set().union(*(f for _, f in self._buckets.values()))
            return len(all_called), len(all_failing)


class FolderStorage(MemoryStorage):
    """A machine's breaker: open and probe in files, the window per process.

    Each file holds a ``time.time()`` reading, written whole before it appears. A
    folder that takes no file leaves this process a breaker of its own (memory).
    """

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.path = self.folder / "open-until"
        self.probe = self.folder / "probe-until"

    def opened_until(self) -> float:
        """Read when the breaker closes again from its file (or this process's)."""
        return max(_read_time(self.path), super().opened_until())

    def open_until(self, until: float) -> None:
        """Write the new time unless the file says later; release the probe."""
        try:
            if until > _read_time(self.path):
                os.replace(self._written(until), self.path)
            _remove(self.probe)
        except OSError:
            super().open_until(until)

    def close(self, bucket: int) -> None:
        """Remove the file and the probe; forget this process's window."""
        super().close(bucket)
        _remove(self.path)
        _remove(self.probe)

    def take_probe(self, seconds: float) -> bool:
        """Link the probe's file into place, which fails if it exists; an expired
        one belongs to a probe that never ended and is replaced."""
        try:
            written = self._written(time.time() + seconds)
        except OSError:
            return super().take_probe(seconds)
        try:
            for _ in range(2):
                try:
                    os.link(written, self.probe)
                    return True
                except FileExistsError:
                    if _read_time(self.probe) > time.time():
                        return False
                    _remove(self.probe)
            return False
        except OSError:
            return super().take_probe(seconds)
        finally:
            _remove(written)

    def _written(self, moment: float) -> Path:
        """Write ``moment`` to a file of this process's own and return its path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        spare = self.folder / f".{os.getpid()}.{threading.get_ident()}"
        spare.write_text(repr(moment))
        return spare


def _read_time(path: Path) -> float:
    try:
        return float(path.read_text() or 0)
    except (OSError, ValueError):
        return 0.0


def _remove(path: Path) -> None:
    with suppress(OSError):
        path.unlink()


class RedisStorage:
    """Every instance's breaker, in Redis; this process's memory while Redis fails."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix + "breaker:"
        self.memory = MemoryStorage()
        # After a failure Redis is left alone a moment, as the cache leaves it.
        self.retry_at = 0.0
        self._open = self.client.register_script(
            "local c = tonumber(redis.call('GET', KEYS[1]) or '0')"
            " if tonumber(ARGV[1]) > c then"
            " redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end"
            " redis.call('DEL', KEYS[2])"
        )

    def opened_until(self) -> float:
        """Read when the breaker closes again."""
        return self._try(self.memory.opened_until, self._opened_until)

    def open_until(self, until: float) -> None:
        """Set the new time unless Redis says later; release the probe."""
        self.memory.open_until(until)
        # Kept an hour past: until a probe closes it, the breaker stays half-open.
        keep = int(until - time.time()) + 3600
        keys = [self.prefix + "open", self.prefix + "probe"]
        self._try(lambda: None, lambda: self._open(keys, [repr(until), keep]))

    def close(self, bucket: int) -> None:
        """Close, and start the window afresh after ``bucket``."""
        self.memory.close(bucket)
        self._try(lambda: None, lambda: self._close(bucket))

    def take_probe(self, seconds: float) -> bool:
        """SET NX the probe's key for ``seconds``."""
        return self._try(
            lambda: self.memory.take_probe(seconds),
            lambda: bool(
                self.client.set(
                    self.prefix + "probe", 1, nx=True, ex=max(int(seconds), 1)
                )
            ),
        )

    def record(
        self, order: str, failed: bool, bucket: int, window: range
    ) -> tuple[int, int]:
        """Add the order to the bucket's HyperLogLogs; count the window's on failure."""
        return self._try(
            lambda: self.memory.record(order, failed, bucket, window),
            lambda: self._record(order, failed, bucket, window),
        )

    def _close(self, bucket: int) -> None:
        pipe = self.client.pipeline()
        pipe.delete(self.prefix + "open", self.prefix + "probe")
        pipe.set(self.prefix + "closed", str(bucket), ex=86400)
        pipe.execute()

    def _opened_until(self) -> float:
        value = self.client.get(self.prefix + "open")
        # Anything but the text of a number is no time (a server answering nonsense).
        return float(value) if isinstance(value, bytes) and value else 0.0

    def _record(
        self, order: str, failed: bool, bucket: int, window: range
    ) -> tuple[int, int]:
        ttl = 2 * len(window) * 60
        pipe = self.client.pipeline(transaction=False)
        for kind in ("called", "failed")[: 1 + failed]:
            key = f"{self.prefix}{kind}:{bucket}"
            pipe.pfadd(key, order)
            pipe.expire(key, ttl)
        pipe.get(self.prefix + "closed")
        if failed:
            # Counted with the rest, in one round trip: a close inside the window
            # is rare, and only then are the counts asked for again.
            self._count(pipe, window)
        answers = pipe.execute()
        if not failed:
            return 0, 0
        closed, called, failing = answers[-3:]
        # Buckets up to the last close belong to the outage that ended.
        buckets = range(max(window.start, int(closed or 0) + 1), window.stop)
        if not buckets:
            return 0, 0
        if buckets != window:
            called, failing = self._count(self.client.pipeline(), buckets).execute()
        return int(called), int(failing)

    def _count(self, pipe: Pipeline, buckets: range) -> Pipeline:
        """Ask ``pipe`` for the orders called, then failing, over ``buckets``."""
        for kind in ("called", "failed"):
            pipe.pfcount(*(f"{self.prefix}{kind}:{b}" for b in buckets))
        return pipe

    def _try(self, fallback: Callable[[], T], call: Callable[[], T]) -> T:
        if time.monotonic() < self.retry_at:
            return fallback()
        try:
            return call()
        except Exception as exc:
            # A Redis down, or one answering nonsense (redis-py then fails in its
            # own ways): the breaker is not worth a customer's page, nor the wait
            # for Redis on every call.
            self.retry_at = time.monotonic() + CACHE_RETRY_SECONDS
            log.debug("breaker storage unavailable: %s", type(exc).__name__)
            return fallback()


def breaker_storage(app: Flask) -> MemoryStorage | RedisStorage:
    """Return the storage the app's cache settings call for (see the module)."""
    url = app.config.get("CACHE_REDIS_URL")
    if backend_is(app, "RedisCache") and url:
        options = redis_options(float(app.config["REDIS_TIMEOUT"]), url)
        client = redis.Redis.from_url(url, **options)
        return RedisStorage(client, app.config["CACHE_KEY_PREFIX"])
    if backend_is(app, "FileSystemCache"):
        return FolderStorage(os.path.normpath(cache_folder(app)) + ".breaker")
    return MemoryStorage()
