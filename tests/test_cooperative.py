"""The waits that step around gevent: none yields where it need not, none misreads."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import textwrap
import time

from downloads_portal.cooperative import readable

from .conftest import REDIS_URL, redis_answers, require

#: Counts the switches between greenlets while a block of code runs, under gevent.
SWITCHES = """
from gevent import monkey; monkey.patch_all()
import greenlet
switches = []
def count(block):
    switches.clear()
    greenlet.settrace(lambda event, args: switches.append(event))
    try:
        block()
    finally:
        greenlet.settrace(None)
    return len(switches)
"""


def switches(code: str) -> list[int]:
    """Run ``code`` in a gevent-patched Python; return the numbers it prints."""
    script = SWITCHES + textwrap.dedent(code)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [int(word) for word in result.stdout.split()]


def test_nothing_to_read_is_said_at_once() -> None:
    here, there = socket.socketpair()
    started = time.monotonic()
    assert readable(here) is False
    assert time.monotonic() - started < 0.05
    there.sendall(b"x")
    assert readable(here, 1.0) is True
    here.close()
    there.close()


def test_a_closed_peer_or_socket_reads_as_something() -> None:
    here, there = socket.socketpair()
    there.close()
    assert readable(here) is True
    here.close()
    assert readable(here) is True  # fileno -1: reading it raises at once


def test_a_descriptor_past_1023_is_read() -> None:
    # select() refuses these; a busy worker with a raised open-file limit has them.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    require(hard > 2100, "the open-file limit is below 2100 here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2100), hard))
    here, there = socket.socketpair()
    high = socket.socket(fileno=os.dup2(here.fileno(), 2050))
    try:
        assert readable(high) is False
        there.sendall(b"x")
        assert readable(high, 1.0) is True
    finally:
        for sock in (high, here, there):
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_bulkhead_never_yields_while_a_slot_is_free() -> None:
    counts = switches(
        """
        import threading
        from downloads_portal.cooperative import bounded_semaphore
        def use(semaphore):
            def block():
                for _ in range(100):
                    with semaphore:
                        pass
            return block
        print(count(use(bounded_semaphore(2))))
        print(count(use(threading.BoundedSemaphore(2))))
        """
    )
    # threading's yields on every release under gevent: the count tells them apart.
    assert counts[0] == 0
    assert counts[1] >= 100


def test_a_redis_round_trip_does_not_yield_under_gevent() -> None:
    require(redis_answers(REDIS_URL), f"no Redis at {REDIS_URL}")
    counts = switches(
        f"""
        import redis
        from downloads_portal.store.backend import redis_options
        url = "{REDIS_URL}"
        quick = redis.Redis.from_url(url, **redis_options(0.25, url))
        plain = redis.Redis.from_url(url, socket_timeout=0.25)
        for client in (quick, plain):
            client.ping()  # connected before counting
            print(count(lambda: [client.get("cooperative-test") for _ in range(50)]))
        """
    )
    assert counts[0] <= 5, "most round trips waited with the worker's other requests"
    assert counts[1] >= 50
