"""The waits that step around gevent: none yields where it need not, none misreads."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import textwrap

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
    assert readable(here) is False
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


def test_a_prompt_socket_takes_an_answer_without_yielding() -> None:
    counts = switches(
        """
        import os, socket
        from gevent import monkey
        from downloads_portal.store import backend
        start = monkey.get_original("_thread", "start_new_thread")
        sleep = monkey.get_original("time", "sleep")
        backend.PROMPT_SECONDS = 5.0  # the answer comes after 0.2 s

        def answer_later(fd):
            start(lambda: (sleep(0.2), os.write(fd, b"+OK\\r\\n")), ())

        for wrap in (backend.PromptSocket, lambda sock: sock):
            here, there = socket.socketpair()
            answer_later(there.fileno())
            sock = wrap(here)
            print(count(lambda: sock.recv(64)))
        """
    )
    assert counts[0] == 0, "the read yielded to the worker's other requests"
    assert counts[1] >= 1, "gevent's own read would have yielded"


def test_redis_under_gevent_uses_the_prompt_connection() -> None:
    require(redis_answers(REDIS_URL), f"no Redis at {REDIS_URL}")
    counts = switches(
        f"""
        import redis
        from downloads_portal.store.backend import PromptConnection, redis_options
        url = "{REDIS_URL}"
        client = redis.Redis.from_url(url, **redis_options(0.25, url))
        assert client.connection_pool.connection_class is PromptConnection
        client.set("cooperative-test", b"1", ex=10)
        values = []

        def gets():
            values.extend(client.get("cooperative-test") for _ in range(50))

        print(count(gets))
        assert values == [b"1"] * 50
        for url in ("rediss://127.0.0.1:6380/0", "unix:///tmp/redis.sock"):
            assert "connection_class" not in redis_options(0.25, url)
        """
    )
    # A local Redis answers within the 2 ms: a yield only if this machine stalls.
    assert counts[0] <= 10


def test_redis_given_by_host_and_port_starts_under_gevent() -> None:
    # flask-caching's CACHE_REDIS_HOST makes a client that takes no connection class.
    require(redis_answers(REDIS_URL), f"no Redis at {REDIS_URL}")
    switches(
        """
        from downloads_portal import create_app
        app = create_app({"CACHE_TYPE": "RedisCache", "CACHE_REDIS_HOST": "127.0.0.1",
                          "CACHE_REDIS_PORT": 6379, "CACHE_KEY_PREFIX": "coop-test:"})
        assert app.test_client().get("/readyz").json["cache"] == "ok"
        """
    )
