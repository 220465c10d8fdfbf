"""The order store: a cache in front of the upstream, with stale copies for bad days."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from flask import Flask, current_app
from flask_caching import Cache

from .models import Order
from .upstream import OrderNotFound, OrderSource, UpstreamUnavailable

cache = Cache()


@dataclass(frozen=True, slots=True)
class Entry:
    """What the cache holds for one token: an order, or None for "not found"."""

    order: Order | None
    fetched_at: float


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as a page shows it: when it was fetched and whether it is stale."""

    order: Order
    fetched_at: float
    stale: bool = False

    @property
    def age(self) -> float:
        return max(time.time() - self.fetched_at, 0.0)


def cache_key(token: str) -> str:
    """Return the cache key for a token; the token itself never leaves here."""
    return "order:" + hashlib.sha256(token.encode()).hexdigest()


class OrderStore:
    """Serve orders from the cache while fresh, else from the source."""

    def __init__(
        self,
        cache: Cache,
        source: OrderSource,
        fresh_seconds: int,
        stale_seconds: int,
        not_found_seconds: int,
    ) -> None:
        self.cache = cache
        self.source = source
        self.fresh_seconds = fresh_seconds
        self.stale_seconds = stale_seconds
        self.not_found_seconds = not_found_seconds

    def get(self, token: str) -> OrderView:
        """Return the order for ``token``, or raise the upstream's error."""
        key = cache_key(token)
        entry: Entry | None = self.cache.get(key)
        now = time.time()
        if entry is not None:
            if entry.order is None:
                raise OrderNotFound()
            if now - entry.fetched_at < self.fresh_seconds:
                return OrderView(entry.order, entry.fetched_at)
        try:
            order = self.source.fetch(token)
        except OrderNotFound:
            self.cache.set(key, Entry(None, now), timeout=self.not_found_seconds)
            raise
        except UpstreamUnavailable:
            if entry is not None and entry.order is not None:
                if now - entry.fetched_at < self.stale_seconds:
                    return OrderView(entry.order, entry.fetched_at, stale=True)
            raise
        fetched = Entry(order, time.time())
        self.cache.set(key, fetched, timeout=self.stale_seconds)
        return OrderView(order, fetched.fetched_at)

    def remember(self, token: str, order: Order, fetched_at: float) -> None:
        """Keep ``order`` as if it had been fetched for ``token`` at ``fetched_at``."""
        entry = Entry(order, fetched_at)
        self.cache.set(cache_key(token), entry, timeout=self.stale_seconds)


def init_app(app: Flask, source: OrderSource) -> None:
    """Set up the cache and the store that fetches from ``source``."""
    cache.init_app(app)
    app.extensions["order_store"] = OrderStore(
        cache,
        source,
        fresh_seconds=int(app.config["ORDER_CACHE_SECONDS"]),
        stale_seconds=int(app.config["STALE_ORDER_SECONDS"]),
        not_found_seconds=int(app.config["NOT_FOUND_CACHE_SECONDS"]),
    )


def get_store() -> OrderStore:
    """Return the current app's order store."""
    return current_app.extensions["order_store"]
