"""The cache backend: which one, Redis options and pipelines, JSON, the lock folder."""

from __future__ import annotations

import json
import math
import os
import socket
from typing import IO, Any

import redis
from cachelib.redis_base import BaseRedisCache
from cachelib.serializers import BaseSerializer
from flask import Flask
from flask_caching import Cache
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..cooperative import cooperative, readable

#: How long a gevent worker blocks for Redis's answer before it waits cooperatively:
#: enough for a local Redis, and little for the other requests of a worker to lose
#: when Redis is slow.
PROMPT_SECONDS = 0.002

#: The shared cache of every app this process creates (each app its own backend).
cache = Cache()

#: The file cache every FileSystemCache setting gets.
FILE_CACHE = "downloads_portal.store.files.BoundedFileSystemCache"


class JsonSerializer(BaseSerializer):
    """Write cache values as JSON and read them back; what is not JSON is a miss.

    It takes the place of cachelib's pickle, which runs whatever code a value
    names: whoever could write a key would run code in every worker reading it.
    """

    def dumps(self, value: Any, *args: Any, **kwargs: Any) -> bytes:
        """Return ``value`` as JSON bytes."""
        return json.dumps(value, separators=(",", ":")).encode()

    def loads(self, bvalue: Any, *args: Any, **kwargs: Any) -> Any:
        """Return the value in ``bvalue``, or None for nothing or not JSON."""
        if not isinstance(bvalue, bytes | bytearray | str):
            return None
        try:
            return json.loads(bvalue)
        except (ValueError, RecursionError):
            # ValueError covers bad JSON and bytes that are not UTF-8.
            return None

    def dump(self, value: Any, f: IO[bytes], *args: Any, **kwargs: Any) -> None:
        """Write ``value`` to a cache file."""
        f.write(self.dumps(value))

    def load(self, f: IO[bytes], *args: Any, **kwargs: Any) -> Any:
        """Read a cache file's value."""
        return self.loads(f.read())


def backend_is(app: Flask, name: str) -> bool:
    """Whether CACHE_TYPE names flask-caching's ``name`` backend, however spelled."""
    return str(app.config["CACHE_TYPE"]).lower().endswith(name.lower())


def redis_options(timeout: float, url: str) -> dict[str, Any]:
    """Return Redis client options that give up after ``timeout``, without retries;
    under gevent, over TCP, connections that wait a moment for each answer."""
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
    }
    # Passed for rediss:// or unix://, it would replace their own connections.
    if cooperative() and url.startswith("redis://"):
        options["connection_class"] = PromptConnection
    return options


class PromptConnection(redis.Connection):
    """A TCP connection to Redis whose socket waits a moment for each answer.

    A gevent worker that yields while Redis answers (a tenth of a millisecond on
    a local network) resumes the request only after every other ready request of
    the worker has run: on a busy worker, tens of milliseconds for each round trip.
    """

    def _connect(self) -> Any:
        return PromptSocket(super()._connect())  # type: ignore[no-untyped-call]


class PromptSocket:
    """A socket that, before each read, blocks the worker for at most
    ``PROMPT_SECONDS`` until there is something to read; then reads as gevent does
    (waiting with the other requests, up to the socket's own timeout)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def recv(self, *args: Any) -> bytes:
        """Read, once Redis has answered or ``PROMPT_SECONDS`` have passed."""
        self._await()
        return self._sock.recv(*args)

    def recv_into(self, *args: Any) -> int:
        """Read into a buffer, as ``recv``."""
        self._await()
        return self._sock.recv_into(*args)

    def _await(self) -> None:
        # A timeout of 0 is redis-py asking whether anything is there: no wait.
        if self._sock.gettimeout() != 0:
            readable(self._sock, PROMPT_SECONDS)


def redis_add_and_get_many(
    backend: BaseRedisCache, key: str, value: Any, timeout: int, keys: tuple[str, ...]
) -> tuple[bool, list[Any]]:
    """On Redis, one round trip: ``SET NX EX`` (cachelib's ``add`` is ``SETNX``,
    then ``EXPIRE``: two trips, and a lock left forever by a worker killed between
    them), then ``MGET``."""
    prefix = backend._get_prefix()
    pipe = backend._write_client.pipeline(transaction=False)
    pipe.set(prefix + key, backend.serializer.dumps(value), nx=True, ex=timeout)
    if keys:
        pipe.mget([prefix + k for k in keys])
    added, *found = pipe.execute()
    values = found[0] if found else []
    return bool(added), [backend.serializer.loads(v) for v in values]


def redis_set_many_and_delete(
    backend: BaseRedisCache, writes: dict[str, tuple[Any, int]], key: str
) -> None:
    """On Redis, one round trip: a ``SET`` with its expiry for each write, then
    ``DEL``."""
    prefix = backend._get_prefix()
    pipe = backend._write_client.pipeline(transaction=False)
    for name, (value, seconds) in writes.items():
        pipe.set(prefix + name, backend.serializer.dumps(value), ex=seconds)
    pipe.delete(prefix + key)
    pipe.execute()


def lock_seconds(api_timeout: float) -> int:
    """Return how long a fetch may hold its lock: the client's deadline, and one."""
    return math.ceil(3 * api_timeout) + 1


def file_lock_folder(app: Flask) -> str | None:
    """Return where a file cache's fetch locks go, or None for other backends."""
    if backend_is(app, "FileSystemCache"):
        # Beside the cache's folder: cachelib takes every file inside as an entry.
        return os.path.normpath(str(app.config["CACHE_DIR"])) + ".locks"
    return None


def cache_folder(app: Flask) -> str:
    """Return the file cache's folder: ``CACHE_DIR``, else one per installation, so
    every worker on the machine shares it."""
    return str(app.config["CACHE_DIR"] or os.path.join(app.instance_path, "cache"))


def init_cache(app: Flask) -> Cache:
    """Set up the app's cache: JSON values, Redis that gives up, a file folder."""
    if backend_is(app, "RedisCache"):
        # Without a URL (CACHE_REDIS_HOST and _PORT), cachelib makes a client that
        # takes no connection class: the empty URL leaves it out.
        url = str(app.config.get("CACHE_REDIS_URL") or "")
        options = redis_options(float(app.config["REDIS_TIMEOUT"]), url)
        app.config["CACHE_OPTIONS"] = {**options, **(app.config["CACHE_OPTIONS"] or {})}
    if backend_is(app, "FileSystemCache"):
        # The same cache, counting its folder's files (files.py).
        app.config["CACHE_TYPE"] = FILE_CACHE
        app.config["CACHE_DIR"] = cache_folder(app)
    app.config["CACHE_SERIALIZER"] = JsonSerializer
    cache.init_app(app)
    return cache
