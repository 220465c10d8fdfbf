"""The shared cache: JSON entries under hashed keys, its failures made misses."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from cachelib.redis_base import BaseRedisCache
from flask_caching import Cache

from .. import metrics
from ..models import InvalidOrder, Order, order_body, parse_order
from ..upstream import (
    OrderNotFound,
    UpgradeRequired,
    UpstreamError,
    UpstreamInvalid,
    UpstreamRefused,
    UpstreamUnavailable,
)
from .backend import redis_add_and_get_many, redis_set_many_and_delete

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Part of every key and entry: bump it when an entry or the models change shape,
#: so a new release never reads what an older one wrote.
CACHE_VERSION = 2

#: How long a failing cache is left alone before it is tried again.
CACHE_RETRY_SECONDS = 1.0
#: The least time between two "cache unavailable" warnings of one process.
WARN_EVERY_SECONDS = 60.0

#: How far ahead of this machine's clock a time read from the cache may be: the
#: clocks of the instances sharing it differ a little. Further ahead, the entry was
#: not written by a portal, and would be taken as fresh for as long as it lives.
CLOCK_SKEW_SECONDS = 5.0

#: The failures a waiter may be told of, by name.
ERRORS: dict[str, type[UpstreamError]] = {
    cls.__name__: cls
    for cls in (
        UpstreamError,
        OrderNotFound,
        UpgradeRequired,
        UpstreamUnavailable,
        UpstreamInvalid,
        UpstreamRefused,
    )
}


def cache_key(token: str) -> str:
    """Return the cache key for a token; the token itself never leaves here."""
    return f"order:v{CACHE_VERSION}:" + hashlib.sha256(token.encode()).hexdigest()


def _number(value: Any) -> float | None:
    """Read a number from JSON: not a boolean, and finite (json.loads reads NaN,
    the infinities, and integers too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _time(value: Any) -> float | None:
    """Read a timestamp from JSON: a number, and not to come."""
    number = _number(value)
    if number is None or not 0 <= number <= time.time() + CLOCK_SKEW_SECONDS:
        return None
    return number


@dataclass(frozen=True, slots=True)
class Entry:
    """What the cache holds for one token: an order, or None for "not found"."""

    order: Order | None
    fetched_at: float

    def to_json(self) -> dict[str, Any]:
        """Return the entry as JSON data: the order as the upstream sends it."""
        body = None if self.order is None else order_body(self.order)
        return {"version": CACHE_VERSION, "fetched_at": self.fetched_at, "order": body}

    @classmethod
    def from_json(cls, data: Any) -> Entry | None:
        """Read an entry back, checked as the upstream's answer is; else None."""
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
            return None
        fetched_at = _time(data.get("fetched_at"))
        if fetched_at is None:
            return None
        if data.get("order") is None:
            return cls(None, fetched_at)
        try:
            return cls(parse_order(data["order"]), fetched_at)
        except InvalidOrder:
            return None


@dataclass(frozen=True, slots=True)
class Failure:
    """A fetch that failed, kept briefly for the callers that waited on it."""

    error: UpstreamError
    failed_at: float

    def to_json(self) -> dict[str, Any]:
        """Return the failure as its kind, message, time, and how long Fileflare
        asked us to wait, if it did."""
        kind = next(
            c.__name__ for c in type(self.error).__mro__ if c.__name__ in ERRORS
        )
        data = {"kind": kind, "message": str(self.error), "failed_at": self.failed_at}
        if isinstance(self.error, UpstreamUnavailable) and self.error.told_to_wait:
            data["retry_after"] = self.error.retry_after
        return data

    @classmethod
    def from_json(cls, data: Any) -> Failure | None:
        """Read a failure back; anything unknown is None."""
        if not isinstance(data, dict):
            return None
        error = ERRORS.get(str(data.get("kind")))
        failed_at = _time(data.get("failed_at"))
        if error is None or failed_at is None:
            return None
        message = str(data.get("message", ""))
        if issubclass(error, UpstreamUnavailable) and "retry_after" in data:
            return cls(error(message, _wait_left(data, failed_at), True), failed_at)
        return cls(error(message), failed_at)


#: What a fetcher leaves for those waiting on it: an entry, or its failure.
Left = Entry | Failure
#: A key's entry and its last failure, as read from the shared cache.
Looked = tuple[Entry | None, Failure | None]


def _wait_left(data: dict[str, Any], failed_at: float) -> float | None:
    """Return what is left of the wait Fileflare asked for at ``failed_at``."""
    asked = _number(data["retry_after"])
    if asked is None:
        return None
    return max(asked - (time.time() - failed_at), 0.0)


class Warnings:
    """A logger's warnings, written at most once a minute: a failure that lasts
    must not write a line for every page."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.warned_at = -math.inf

    def warn(self, message: str) -> None:
        """Log ``message`` unless a warning was logged less than a minute ago."""
        now = time.monotonic()
        if now - self.warned_at >= WARN_EVERY_SECONDS:
            self.warned_at = now
            self.logger.warning("%s", message)


class SafeCache:
    """The cache with its errors turned into misses, so a page never fails on it."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.retry_at = 0.0
        self.warnings = Warnings(log)
        self.failing = False

    @property
    def backend(self) -> Any:
        """The store behind the cache: cachelib's Redis or file cache."""
        return self.cache.cache

    def get(self, key: str, read: Callable[[Any], T | None]) -> T | None:
        """Return the value at ``key`` as ``read`` makes it; what it refuses: None."""
        return self.read(self._call(None, self.cache.get, key), read)

    def get_many(self, *keys: str) -> list[Any]:
        """Return the data at each of ``keys`` in one round trip; None where missing."""
        found = self._call(None, self.cache.get_many, *keys)
        return list(found) if found is not None else [None] * len(keys)

    def read(self, data: Any, read: Callable[[Any], T | None]) -> T | None:
        """Return ``data`` as ``read`` makes it; what it refuses, and no data: None."""
        if data is None:
            return None
        value = read(data)
        if value is None:
            # Another release's entry, or one written by something else.
            self.warnings.warn("unreadable cache entry, fetching anew")
        return value

    def set(self, key: str, value: Any, timeout: int) -> None:
        """Store the JSON ``value`` for ``timeout`` seconds, if the cache answers."""
        self._call(None, self.cache.set, key, value, timeout=timeout)

    def add(self, key: str, value: Any, timeout: int) -> bool | None:
        """Store ``value`` unless ``key`` exists; None when the cache cannot say."""
        taken, _ = self.add_and_get_many(key, value, timeout)
        return taken

    def add_and_get_many(
        self, key: str, value: Any, timeout: int, *keys: str
    ) -> tuple[bool | None, list[Any]]:
        """Store ``value`` unless ``key`` exists, then read ``keys``: whether it was
        stored (None when the cache cannot say), and the data found."""
        if isinstance(self.backend, BaseRedisCache):
            done = self._call(
                None, redis_add_and_get_many, self.backend, key, value, timeout, keys
            )
            return done if done is not None else (None, [None] * len(keys))
        taken = self._call(None, self.cache.add, key, value, timeout=timeout)
        return taken, self.get_many(*keys) if keys else []

    def delete(self, key: str) -> None:
        """Remove ``key``, if the cache answers."""
        self._call(None, self.cache.delete, key)

    def set_many_and_delete(self, writes: dict[str, tuple[Any, int]], key: str) -> None:
        """Store each JSON value for its seconds, then remove ``key``: one round
        trip on Redis."""
        if isinstance(self.backend, BaseRedisCache):
            self._call(None, redis_set_many_and_delete, self.backend, writes, key)
            return
        for name, (value, seconds) in writes.items():
            self.set(name, value, seconds)
        self.delete(key)

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
        self.warnings.warn(
            f"cache unavailable, serving from the upstream: {type(exc).__name__}: {exc}"
        )
