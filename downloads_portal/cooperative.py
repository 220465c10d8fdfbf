"""What gevent's monkey patching changes, for the few places that step around it.

Under gunicorn's gevent worker every wait yields to the worker's other requests,
and a request resumes only after each of them has run to its own next wait: on a
busy worker, tens of milliseconds. Where the wait is known to be short, or is no
wait at all, these ask the operating system directly.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import gevent.lock
from gevent import monkey

#: select() as the operating system gives it, even where gevent has patched it.
blocking_select = monkey.get_original("select", "select")


def cooperative() -> bool:
    """Whether gevent has patched the socket module (gunicorn's gevent worker)."""
    return bool(monkey.is_module_patched("socket"))


def bounded_semaphore(value: int) -> Any:
    """Return a bounded semaphore for this process's threads, or greenlets: under
    gevent, gevent's own (threading's yields a round of the loop on each release)."""
    if cooperative():
        return gevent.lock.BoundedSemaphore(value)
    return threading.BoundedSemaphore(value)


def readable(sock: socket.socket, seconds: float = 0.0) -> bool:
    """Whether ``sock`` has something to read, or was closed, within ``seconds``:
    blocking the whole worker that long at most, never yielding."""
    return bool(blocking_select([sock], [], [], seconds)[0])
