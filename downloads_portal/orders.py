"""The order store: a cache in front of the upstream, with stale copies for bad days.

One caller fetches an order while the others wait for its answer: threads of a process
queue on a lock per key, and processes and instances sharing a cache take a lock in it
(``add``, which is ``SET NX`` with an expiry on Redis). A cache that fails or hangs is
skipped for a moment and the upstream answers alone.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import redis
from flask import Flask, current_app
from flask_caching import Cache
from redis.backoff import NoBackoff
from redis.retry import Retry

from . import metrics
from .models import Order
from .upstream import OrderNotFound, OrderSource, UpstreamError, UpstreamUnavailable

log = logging.getLogger(__name__)

cache = Cache()

T = TypeVar("T")

#: How often a waiter looks for the fetcher's answer.
POLL_SECONDS = 0.02
#: How long a failing cache is left alone before it is tried again.
CACHE_RETRY_SECONDS = 1.0
#: The least time between two "cache unavailable" warnings of one process.
WARN_EVERY_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Entry:
    """What the cache holds for one token: an order, or None for "not found"."""

    order: Order | None
    fetched_at: float


@dataclass(frozen=True, slots=True)
class Failure:
    """A fetch that failed, kept briefly for the callers that waited on it."""

    error: UpstreamError
    failed_at: float


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as a page shows it: when it was fetched and whether it is stale.

    ``pages`` holds the pages already rendered from this very copy of the order, so
    a fresh copy is rendered once per variant; a stale view has none.
    """

    order: Order
    fetched_at: float
    stale: bool = False
    pages: dict[Hashable, str] | None = field(default=None, compare=False)

    @property
    def age(self) -> float:
        """Seconds since the order was fetched."""
        return max(time.time() - self.fetched_at, 0.0)


#: Part of every key: bump it when Entry or the models change shape, so a new
#: release never reads what an older one wrote.
CACHE_VERSION = 1


def cache_key(token: str) -> str:
    """Return the cache key for a token; the token itself never leaves here."""
    return f"order:v{CACHE_VERSION}:" + hashlib.sha256(token.encode()).hexdigest()


@dataclass(slots=True)
class Local:
    """This process's copy of an entry, and the pages rendered from it."""

    entry: Entry
    pages: dict[Hashable, str] = field(default_factory=dict)


class LocalEntries:
    """The last entries this process saw, so a hot order is not read and unpickled
    from the shared cache on every view; each is used only while it is fresh."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Local] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Local | None:
        """Return this process's copy for ``key``, if it has one."""
        with self._lock:
            local = self._items.get(key)
            if local is not None:
                self._items.move_to_end(key)
            return local

    def keep(self, key: str, entry: Entry) -> Local:
        """Hold ``entry`` for ``key``; the same copy keeps its rendered pages."""
        with self._lock:
            local = self._items.get(key)
            if local is None or local.entry.fetched_at != entry.fetched_at:
                local = Local(entry)
                if self.size:
                    self._items[key] = local
            if self.size:
                self._items.move_to_end(key)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
            return local

    def drop(self, key: str) -> None:
        """Forget this process's copy for ``key``."""
        with self._lock:
            self._items.pop(key, None)


class SafeCache:
    """The cache with its errors turned into misses, so a page never fails on it."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.retry_at = 0.0
        self.warned_at = -math.inf
        self.failing = False

    def get(self, key: str, kind: type[T]) -> T | None:
        """Return the value at ``key`` if it is a ``kind``; anything else is a miss."""
        try:
            value = self._call(None, self.cache.get, key)
        except Exception as exc:
            # A value that does not unpickle here (another release's, or garbage).
            self._warn(f"unreadable cache entry, fetching anew: {type(exc).__name__}")
            return None
        return value if isinstance(value, kind) else None

    def set(self, key: str, value: Any, timeout: int) -> None:
        """Store ``value`` for ``timeout`` seconds, if the cache answers."""
        self._call(None, self.cache.set, key, value, timeout=timeout)

    def add(self, key: str, value: Any, timeout: int) -> bool | None:
        """Store ``value`` unless ``key`` exists; None when the cache cannot say."""
        return self._call(None, self.cache.add, key, value, timeout=timeout)

    def delete(self, key: str) -> None:
        """Remove ``key``, if the cache answers."""
        self._call(None, self.cache.delete, key)

    def ping(self) -> bool:
        """Return whether the cache answers now."""
        try:
            self.cache.get("ping")
        except redis.RedisError:
            return False
        return True

    def _call(self, default: T, method: Callable[..., T], *args: Any, **kw: Any) -> T:
        now = time.monotonic()
        if now < self.retry_at:
            return default
        try:
            result = method(*args, **kw)
        except redis.RedisError as exc:
            self._failed(exc, now)
            return default
        if self.failing:
            self.failing = False
            log.info("cache reachable again, caching resumes")
        return result

    def _failed(self, exc: Exception, now: float) -> None:
        metrics.cache_error()
        self.failing = True
        self.retry_at = now + CACHE_RETRY_SECONDS
        self._warn(
            f"cache unavailable, serving from the upstream: {type(exc).__name__}: {exc}"
        )

    def _warn(self, message: str) -> None:
        """Log a warning, at most once a minute."""
        now = time.monotonic()
        if now - self.warned_at >= WARN_EVERY_SECONDS:
            self.warned_at = now
            log.warning("%s", message)


class FileLocks:
    """Fetch locks for the processes sharing a file cache: files made with O_EXCL.

    cachelib's ``FileSystemCache.add`` looks, then writes, so two processes could
    both think they hold a lock; creating a file exclusively is atomic.
    """

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def add(self, key: str, value: Any, timeout: int) -> bool:
        """Take the lock ``key`` unless someone holds it; one older than ``timeout``
        belongs to a fetcher that died and is taken over."""
        path = self._path(key)
        for _ in range(2):
            try:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
                return True
            except FileExistsError:
                try:
                    if time.time() - path.stat().st_mtime < timeout:
                        return False
                    path.unlink()
                except FileNotFoundError:
                    pass
        return False

    def delete(self, key: str) -> None:
        """Release the lock ``key``."""
        path = self._path(key)
        with suppress(FileNotFoundError):
            path.unlink()

    def _path(self, key: str) -> Path:
        # Keys are already hashes of the token; the name only has to be safe.
        return self.folder / (hashlib.sha256(key.encode()).hexdigest() + ".lock")


@dataclass
class _Slot:
    # Looked up when a slot is made, not bound at import: gunicorn's master imports
    # this module before the gevent worker patches ``threading``.
    lock: threading.Lock = field(default_factory=lambda: threading.Lock())
    users: int = 0


class KeyLocks:
    """A lock per key for the threads of one process, dropped when nobody needs it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._slots: dict[str, _Slot] = {}

    @contextmanager
    def hold(self, key: str, timeout: float) -> Iterator[bool]:
        """Hold the key's lock, waiting at most ``timeout``; yield whether it was."""
        with self._guard:
            slot = self._slots.setdefault(key, _Slot())
            slot.users += 1
        acquired = slot.lock.acquire(timeout=max(timeout, 0.0))
        try:
            yield acquired
        finally:
            if acquired:
                slot.lock.release()
            with self._guard:
                slot.users -= 1
                if not slot.users:
                    del self._slots[key]


class OrderStore:
    """Serve orders from the cache while fresh, else from the source, once at a time."""

    def __init__(
        self,
        cache: Cache,
        source: OrderSource,
        fresh_seconds: int,
        stale_seconds: int,
        not_found_seconds: int,
        lock_seconds: int,
        local_items: int = 256,
        lock_folder: str | None = None,
    ) -> None:
        self.cache = SafeCache(cache)
        # Locks live in the cache itself (SET NX on Redis), or beside a file cache.
        self.fetch_locks = FileLocks(lock_folder) if lock_folder else self.cache
        self.source = source
        self.fresh_seconds = fresh_seconds
        self.stale_seconds = stale_seconds
        self.not_found_seconds = not_found_seconds
        self.lock_seconds = lock_seconds
        self.locks = KeyLocks()
        self.local = LocalEntries(local_items)

    def get(self, token: str) -> OrderView:
        """Return the order for ``token``, or raise the upstream's error."""
        key = cache_key(token)
        local = self.local.get(key)
        if local is not None and self._fresh(local.entry):
            return self._hit(local)
        entry = self.cache.get(key, Entry)
        if self._usable(entry, since=math.inf):
            return self._hit(self.local.keep(key, entry))
        since = time.time()
        deadline = time.monotonic() + self.lock_seconds
        with self.locks.hold(key, self.lock_seconds):
            # Whoever held the lock before may have fetched; else wait for the
            # fetcher of another process, until its lock expires or ours does.
            while True:
                held = self.fetch_locks.add(f"{key}:lock", 1, timeout=self.lock_seconds)
                entry = self.cache.get(key, Entry) or entry
                if self._usable(entry, since):
                    if held:
                        self.fetch_locks.delete(f"{key}:lock")
                    return self._hit(self.local.keep(key, entry))
                failure = self.cache.get(f"{key}:failed", Failure)
                if failure is not None and failure.failed_at >= since:
                    if held:
                        self.fetch_locks.delete(f"{key}:lock")
                    return self._fallback(entry, failure.error)
                if held is not False or time.monotonic() >= deadline:
                    break
                time.sleep(POLL_SECONDS)
            try:
                return self._fetch(token, key, entry)
            finally:
                if held:
                    self.fetch_locks.delete(f"{key}:lock")

    def holds(self, token: str) -> bool:
        """Whether an order is held for ``token``, fresh or stale (a remembered
        "not found" is not), without asking the upstream."""
        key = cache_key(token)
        local = self.local.get(key)
        entry = local.entry if local is not None else self.cache.get(key, Entry)
        if entry is None or entry.order is None:
            return False
        kept = max(self.stale_seconds, self.fresh_seconds)
        return time.time() - entry.fetched_at < kept

    def _usable(self, entry: Entry | None, since: float) -> bool:
        """Whether ``entry`` answers: fresh, a remembered 404, or fetched ``since``."""
        return entry is not None and (self._fresh(entry) or entry.fetched_at >= since)

    def _fresh(self, entry: Entry) -> bool:
        """Whether ``entry`` is young enough to answer without asking the upstream."""
        age = time.time() - entry.fetched_at
        if entry.order is None:
            return age < self.not_found_seconds
        return age < self.fresh_seconds

    def _hit(self, local: Local) -> OrderView:
        metrics.cache_result("hit")
        entry = local.entry
        if entry.order is None:
            raise OrderNotFound()
        return OrderView(entry.order, entry.fetched_at, pages=local.pages)

    def _fetch(self, token: str, key: str, entry: Entry | None) -> OrderView:
        metrics.cache_result("miss")
        started = time.time()
        try:
            order = self._call_source(token)
        except OrderNotFound:
            missing = Entry(None, started)
            self._store(key, missing, self.not_found_seconds)
            self.local.keep(key, missing)
            raise
        except UpstreamError as exc:
            # Kept only for those already waiting: failures are never served later.
            failure = Failure(exc, time.time())
            self.cache.set(f"{key}:failed", failure, timeout=self.lock_seconds)
            return self._fallback(entry, exc)
        fetched = Entry(order, time.time())
        self._store(key, fetched, max(self.stale_seconds, self.fresh_seconds))
        local = self.local.keep(key, fetched)
        return OrderView(order, fetched.fetched_at, pages=local.pages)

    def _store(self, key: str, entry: Entry, seconds: int) -> None:
        """Keep ``entry`` for ``seconds``; for none at all, since the cache reads 0
        as "forever"."""
        if seconds > 0:
            self.cache.set(key, entry, timeout=seconds)

    def remember(self, token: str, order: Order, fetched_at: float) -> None:
        """Keep ``order`` as if it had been fetched for ``token`` at ``fetched_at``."""
        entry = Entry(order, fetched_at)
        self.cache.set(cache_key(token), entry, timeout=self.stale_seconds)
        self.local.drop(cache_key(token))

    def _call_source(self, token: str) -> Order:
        started = time.perf_counter()
        outcome = "200"
        try:
            return self.source.fetch(token)
        except UpstreamError as exc:
            outcome = str(exc.status)
            raise
        finally:
            metrics.upstream_call(outcome, time.perf_counter() - started)

    def _fallback(self, entry: Entry | None, error: UpstreamError) -> OrderView:
        """Serve the last good copy if the upstream is unwell, else raise ``error``."""
        if isinstance(error, UpstreamUnavailable) and entry and entry.order is not None:
            if time.time() - entry.fetched_at < self.stale_seconds:
                metrics.cache_result("stale")
                return OrderView(entry.order, entry.fetched_at, stale=True)
        raise error


def lock_seconds(api_timeout: float) -> int:
    """Return how long a fetch may hold its lock: the client's deadline, and one."""
    return math.ceil(3 * api_timeout) + 1


def redis_options(timeout: float) -> dict[str, Any]:
    """Return Redis client options that give up after ``timeout``, without retries."""
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
    }


def backend_is(app: Flask, name: str) -> bool:
    """Whether CACHE_TYPE names flask-caching's ``name`` backend, however spelled."""
    return str(app.config["CACHE_TYPE"]).lower().endswith(name.lower())


def init_app(app: Flask, source: OrderSource) -> None:
    """Set up the cache and the store that fetches from ``source``."""
    if backend_is(app, "RedisCache"):
        options = redis_options(float(app.config["REDIS_TIMEOUT"]))
        app.config["CACHE_OPTIONS"] = {**options, **(app.config["CACHE_OPTIONS"] or {})}
    if backend_is(app, "FileSystemCache") and not app.config["CACHE_DIR"]:
        # One folder per installation, so every worker on the machine shares it.
        app.config["CACHE_DIR"] = os.path.join(app.instance_path, "cache")
    cache.init_app(app)
    app.extensions["order_store"] = OrderStore(
        cache,
        source,
        fresh_seconds=int(app.config["ORDER_CACHE_SECONDS"]),
        stale_seconds=int(app.config["STALE_ORDER_SECONDS"]),
        not_found_seconds=int(app.config["NOT_FOUND_CACHE_SECONDS"]),
        lock_seconds=lock_seconds(float(app.config["API_TIMEOUT"])),
        local_items=int(app.config["LOCAL_CACHE_ITEMS"]),
        lock_folder=file_lock_folder(app),
    )


def file_lock_folder(app: Flask) -> str | None:
    """Return where a file cache's fetch locks go, or None for other backends."""
    if backend_is(app, "FileSystemCache"):
        # Beside the cache's folder: cachelib takes every file inside as an entry.
        return os.path.normpath(app.config["CACHE_DIR"]) + ".locks"
    return None


def get_store() -> OrderStore:
    """Return the current app's order store."""
    return current_app.extensions["order_store"]
