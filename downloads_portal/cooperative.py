"""What gevent's monkey patching changes, for the few places that step around it.

Under gunicorn's gevent worker every wait yields to the worker's other requests,
and a request resumes only after each of them has run to its own next wait: on a
busy worker, tens of milliseconds. Where the wait is known to be short, or is no
wait at all, these ask the operating system directly.
"""

from __future__ import annotations

import select
import socket
import threading
from typing import Any

import gevent.lock
from gevent import monkey

#: poll() as the operating system gives it, even where gevent has patched it (not
#: select(), which refuses the descriptors past 1023 a busy worker reaches).
blocking_poll = monkey.get_original("select", "poll")
#: Something to read, or the other end gone.
READABLE = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR


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
    if sock.fileno() < 0:
        return True  # closed here: reading it says so at once
    poller = blocking_poll()
    poller.register(sock.fileno(), READABLE)
    return bool(poller.poll(seconds * 1000))
