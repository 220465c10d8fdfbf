"""The order store: a cache in front of the upstream, with stale copies for bad days.

A lookup tries this process's copy (only within ``LOCAL_CACHE_SECONDS`` of reading
it from the shared cache), then the shared cache, then takes its turn in the single
flight (waiting for another caller's fetch, or fetching), and falls back on the last
good copy when the upstream is unwell. A cache that fails or hangs is skipped for a
moment and the upstream answers alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import Flask, current_app, g, has_request_context
from flask_caching import Cache

from .. import metrics
from ..models import Order
from ..upstream import (
    OrderNotFound,
    OrderSource,
    UpstreamError,
    UpstreamRefused,
    UpstreamUnavailable,
)
from .backend import file_lock_folder, init_cache, lock_seconds
from .cache import Entry, Failure, Looked, SafeCache, cache_key
from .files import BoundedFileSystemCache
from .flight import SingleFlight, Turn
from .local import LocalEntries
from .locks import CacheLocks, FileLocks, Lock

__all__ = ["OrderStore", "OrderView", "cache_key", "get_store", "init_app"]


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as a page shows it: which copy, when fetched, and whether stale."""

    key: str
    order: Order
    fetched_at: float
    stale: bool = False

    @property
    def age(self) -> float:
        """Seconds since the order was fetched."""
        return max(time.time() - self.fetched_at, 0.0)


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
        failure_seconds: float = 0.0,
        local_items: int = 256,
        local_seconds: float = 1.0,
        lock_folder: str | None = None,
    ) -> None:
        self.cache = SafeCache(cache)
        # Locks live in the cache itself (SET NX on Redis), or beside a file cache.
        self.fetch_locks: Lock = (
            FileLocks(lock_folder) if lock_folder else CacheLocks(self.cache)
        )
        self.flight = SingleFlight(
            self.cache, self.fetch_locks, lock_seconds, self._fresh, failure_seconds
        )
        self.source = source
        self.fresh_seconds = fresh_seconds
        self.stale_seconds = stale_seconds
        self.not_found_seconds = not_found_seconds
        # How long a fetched order is kept: for serving fresh, then as a stale copy.
        self.kept_seconds = max(stale_seconds, fresh_seconds)
        self.local = LocalEntries(local_items, local_seconds)

    def get(self, token: str) -> OrderView:
        """Return the order for ``token``, or raise the upstream's error."""
        key = cache_key(token)
        recent = self.local.get(key)
        if recent is not None and self._fresh(recent):
            return self._hit(key, recent)
        entry, failure = self._read_shared(key)
        if entry is not None and self._fresh(entry):
            return self._hit(key, self.local.keep(key, entry))
        # Fileflare failed on this order a moment ago: it is not asked again yet.
        if failure is not None and self.flight.remembered(failure, time.time()):
            return self._fallback(key, entry, failure.error)
        refused = self.source.refusal()
        if refused is not None:
            # The breaker is open: no fetch to wait for, no lock to take.
            return self._fallback(key, entry, refused)
        with self.flight.turn(key) as turn:
            if isinstance(turn.left, Entry):
                return self._hit(key, self.local.keep(key, turn.left))
            if isinstance(turn.left, Failure):
                return self._fallback(key, entry, turn.left.error)
            return self._fetch(token, turn, entry)

    def holds(self, token: str) -> bool:
        """Whether an order is held for ``token``, fresh or stale (a remembered
        "not found" is not), without asking the upstream."""
        key = cache_key(token)
        # Any copy this process holds will do: no count is shown from it.
        entry = self.local.last(key)
        if entry is None:
            entry, _ = self._shared(key, keep=True)
        if entry is None or entry.order is None:
            return False
        return time.time() - entry.fetched_at < self.kept_seconds

    def check(self) -> None:
        """Raise what keeps the file cache or the fetch locks from a write, if
        anything does; a Redis that does not answer is the cache's ping."""
        if isinstance(self.cache.backend, BoundedFileSystemCache):
            self.cache.backend.check()
        self.fetch_locks.check()

    def forget(self, token: str) -> None:
        """Drop the order's shared entry and this process's copy: the next view
        fetches it anew, and every other process's within ``LOCAL_CACHE_SECONDS``."""
        key = cache_key(token)
        self.cache.delete(key)
        self.local.drop(key)

    def remember(self, token: str, order: Order, fetched_at: float) -> None:
        """Keep ``order`` as if it had been fetched for ``token`` at ``fetched_at``."""
        key = cache_key(token)
        self.cache.set(key, Entry(order, fetched_at).to_json(), self.stale_seconds)
        self.local.drop(key)

    def _read_shared(self, key: str) -> Looked:
        """Return the shared cache's entry for ``key`` and its last failure. While
        the cache does not answer, this process's last copy stands in; when it
        answers "none", the order was dropped (a download), and the copy is not used."""
        entry, failure = self._shared(key)
        if entry is None and self.cache.failing:
            return self.local.last(key), None
        return entry, failure

    def _shared(self, key: str, keep: bool = False) -> Looked:
        """Read ``key``'s entry and failure from the shared cache; ``keep`` leaves
        what was read for this request's lookup, which then takes it rather than ask
        again (the limiter asks whether an order is held just before the view looks
        it up)."""
        if not has_request_context():
            return self.flight.look(key)
        read: dict[str, Looked] = g.setdefault("shared_reads", {})
        if not keep and key in read:
            return read.pop(key)
        looked = self.flight.look(key)
        if keep:
            read[key] = looked
        return looked

    def _fresh(self, entry: Entry) -> bool:
        """Whether ``entry`` is young enough to answer without asking the upstream."""
        age = time.time() - entry.fetched_at
        if entry.order is None:
            return age < self.not_found_seconds
        return age < self.fresh_seconds

    def _hit(self, key: str, entry: Entry) -> OrderView:
        metrics.cache_result("hit")
        if entry.order is None:
            raise OrderNotFound()
        return OrderView(key, entry.order, entry.fetched_at)

    def _fetch(self, token: str, turn: Turn, entry: Entry | None) -> OrderView:
        metrics.cache_result("miss")
        started = time.time()
        try:
            order = self._call_source(token)
        except OrderNotFound:
            self._store(turn, Entry(None, started), self.not_found_seconds)
            raise
        except UpstreamError as exc:
            self.flight.failed(turn, Failure(exc, time.time()))
            return self._fallback(turn.key, entry, exc)
        fetched = self._store(turn, Entry(order, time.time()), self.kept_seconds)
        return OrderView(turn.key, order, fetched.fetched_at)

    def _store(self, turn: Turn, entry: Entry, seconds: int) -> Entry:
        """Keep ``entry`` here, and for ``seconds`` in the cache as the turn ends."""
        self.flight.fetched(turn, entry, seconds)
        return self.local.keep(turn.key, entry)

    def _call_source(self, token: str) -> Order:
        started = time.perf_counter()
        outcome = "200"
        try:
            return self.source.fetch(token)
        except UpstreamRefused:
            outcome = ""  # no call made: the breaker and the bulkhead count these
            raise
        except UpstreamError as exc:
            outcome = str(exc.status)
            raise
        finally:
            if outcome:
                metrics.upstream_call(outcome, time.perf_counter() - started)

    def _fallback(
        self, key: str, entry: Entry | None, error: UpstreamError
    ) -> OrderView:
        """Serve the last good copy if the upstream is unwell, else raise ``error``."""
        if isinstance(error, UpstreamUnavailable) and entry and entry.order is not None:
            if time.time() - entry.fetched_at < self.stale_seconds:
                metrics.cache_result("stale")
                return OrderView(key, entry.order, entry.fetched_at, stale=True)
        raise error


def init_app(app: Flask, source: OrderSource) -> None:
    """Set up the cache and the store that fetches from ``source``."""
    app.extensions["order_store"] = OrderStore(
        init_cache(app),
        source,
        fresh_seconds=int(app.config["ORDER_CACHE_SECONDS"]),
        stale_seconds=int(app.config["STALE_ORDER_SECONDS"]),
        not_found_seconds=int(app.config["NOT_FOUND_CACHE_SECONDS"]),
        lock_seconds=lock_seconds(float(app.config["API_TIMEOUT"])),
        failure_seconds=float(app.config["FAILURE_CACHE_SECONDS"]),
        local_items=int(app.config["LOCAL_CACHE_ITEMS"]),
        local_seconds=float(app.config["LOCAL_CACHE_SECONDS"]),
        lock_folder=file_lock_folder(app),
    )


def get_store() -> OrderStore:
    """Return the current app's order store."""
    store: OrderStore = current_app.extensions["order_store"]
    return store
