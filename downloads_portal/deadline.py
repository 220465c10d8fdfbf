"""One deadline for a whole exchange: connecting, status line, headers and body.

Under gevent's monkey patching a ``gevent.Timeout`` interrupts the greenlet wherever
it waits. With threads, a timer shuts the exchange's sockets down at the deadline,
which wakes the thread blocked on them. Either way the block raises DeadlineExceeded.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any

import certifi
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .cooperative import cooperative, readable


class DeadlineExceeded(Exception):
    """The exchange did not end in time."""


class _Watch:
    """The sockets of one exchange, shut down together when its timer fires."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.fired = self.done = False

    def add(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.append(sock)
            if self.fired:
                _shut(sock)

    def fire(self) -> None:
        with self.lock:
            if self.done:
                return
            self.fired = True
            for sock in self.sockets:
                _shut(sock)

    def finish(self) -> None:
        with self.lock:
            self.done = True


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_watch: ContextVar[_Watch | None] = ContextVar("deadline_watch", default=None)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """End the block within ``seconds``, raising DeadlineExceeded if it runs over."""
    if seconds <= 0:
        raise DeadlineExceeded()
    if cooperative():
        import gevent

        with gevent.Timeout(seconds, DeadlineExceeded()):
            yield
        return
    watch = _Watch()
    token = _watch.set(watch)
    timer = threading.Timer(seconds, watch.fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except Exception:
        if watch.fired:
            raise DeadlineExceeded() from None
        raise
    finally:
        watch.finish()
        timer.cancel()
        _watch.reset(token)


class _Watched:
    """A connection whose socket the current exchange's deadline may shut down."""

    sock: socket.socket | None

    @property
    def is_connected(self) -> bool:
        """Whether the pooled connection is still open, asked without waiting:
        gevent's poll yields a round of the worker's loop even when it need not."""
        return self.sock is not None and not readable(self.sock)

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        watch = _watch.get()
        if watch is not None and self.sock is not None:
            watch.add(self.sock)
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _Connection(_Watched, HTTPConnection):
    pass


class _TLSConnection(_Watched, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter, its connections watched by ``deadline``."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Make the pools with watched connections and a TLS context made now."""
        # urllib3 bound ssl.SSLContext when gunicorn's master imported it, before
        # gevent patched the worker: a context made here is gevent's, cooperative.
        kwargs.setdefault(
            "ssl_context", ssl.create_default_context(cafile=certifi.where())
        )
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}
