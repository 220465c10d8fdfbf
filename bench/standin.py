"""A stand-in for Fileflare on loopback that serves fixture orders and counts calls.

Its moods, for the resilience benchmark: answering after ``latency`` seconds; hanging
(a call is read and never answered until ``release``); rate limiting (429 with
``Retry-After``, the seconds left, until a window ends); dripping its status line and
headers a byte at a time.
"""

from __future__ import annotations

import json
import math
import re
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from downloads_portal import fixtures

ORDERS_PATH = "/api/v2/customer-account-orders"
LINES_TOKEN = re.compile(r"lines-(\d{1,4})")
#: The longest a hanging call is held before its connection is dropped.
HANG_LIMIT_SECONDS = 120.0


def kind(token: str) -> str:
    """Name what a bench token stands for: a good order, a failing one, or unknown."""
    if token == "example" or token.startswith("good") or LINES_TOKEN.fullmatch(token):
        return "good"
    if token.startswith("fail"):
        return "fail"
    return "unknown"


def body_for(token: str) -> tuple[int, bytes]:
    """Return the status and body Fileflare would send for a bench token.

    ``lines-N``: an order of N line items; ``example`` and ``good*``: the example
    order; ``fail*``: a 500; anything else: a 404.
    """
    if match := LINES_TOKEN.fullmatch(token):
        return 200, json.dumps(fixtures.large_order(int(match[1]))).encode()
    return {
        "good": (200, json.dumps(fixtures.EXAMPLE_ORDER).encode()),
        "fail": (500, b""),
    }.get(kind(token), (404, b""))


def free_port() -> int:
    """Return a loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StandIn(ThreadingHTTPServer):
    """The server: ``latency`` seconds per answer, calls counted per token."""

    daemon_threads = True
    # Hundreds of workers' connections may arrive at once; 5 would drop SYNs.
    request_queue_size = 1024

    def __init__(self, port: int = 0, latency: float = 0.0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.latency = latency
        self.calls: Counter[str] = Counter()
        self.call_times: list[float] = []
        self.lock = threading.Lock()
        self._bodies: dict[str, tuple[int, bytes]] = {}
        self.mood = "well"
        self.limited_until = 0.0
        self.drip_seconds = 1.5
        self.released = threading.Event()

    def hang(self) -> None:
        """Read every call from now on and answer none, until ``release``."""
        self.released.clear()
        self.mood = "hang"

    def rate_limit(self, seconds: float) -> None:
        """Answer 429 for ``seconds``, each with the seconds left as Retry-After."""
        self.limited_until = time.monotonic() + seconds
        self.mood = "429"

    def drip(self, seconds: float = 1.5) -> None:
        """Send status line and headers a byte every ``seconds``, until ``release``."""
        self.released.clear()
        self.drip_seconds = seconds
        self.mood = "drip"

    def release(self) -> None:
        """Answer as usual again; calls held until now are dropped."""
        self.mood = "well"
        self.released.set()

    def calls_between(self, start: float, end: float = math.inf) -> int:
        """Count the calls that arrived between two ``time.monotonic`` readings."""
        with self.lock:
            return sum(start <= t < end for t in self.call_times)

    def calls_by_kind(self) -> Counter[str]:
        """Count the calls by kind of token: good, fail, unknown."""
        with self.lock:
            counted: Counter[str] = Counter()
            for token, calls in self.calls.items():
                counted[kind(token)] += calls
            return counted

    @property
    def url(self) -> str:
        """Return the base URL to give the app as API_BASE_URL."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, token: str) -> tuple[int, bytes]:
        """Count a call for ``token`` and return its status and body."""
        with self.lock:
            self.calls[token] += 1
            self.call_times.append(time.monotonic())
            if token not in self._bodies:
                self._bodies[token] = body_for(token)
            return self._bodies[token]

    def start(self) -> StandIn:
        """Serve from a daemon thread and return the server."""
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: StandIn
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        url = urlsplit(self.path)
        token = parse_qs(url.query).get("id", [""])[0]
        if url.path != ORDERS_PATH:
            status, body = 404, b""
        else:
            status, body = self.server.answer(token)
        mood = self.server.mood
        if mood == "hang":
            self.server.released.wait(HANG_LIMIT_SECONDS)
            self.close_connection = True
            return
        if mood == "drip":
            self._drip(status, body)
            return
        headers = {"Content-Type": "application/json"}
        left = self.server.limited_until - time.monotonic()
        if mood == "429" and left > 0:
            status, body = 429, b""
            headers["Retry-After"] = str(math.ceil(left))
        elif self.server.latency:
            time.sleep(self.server.latency)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drip(self, status: int, body: bytes) -> None:
        head = (
            f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.close_connection = True
        for byte in head:
            if self.server.released.wait(self.server.drip_seconds):
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: a benchmark prints only its results."""


def main() -> None:
    """Serve the stand-in until interrupted: ``python -m bench.standin --port 5001``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m bench.standin", description=main.__doc__
    )
    parser.add_argument("--port", type=int, default=5001, help="loopback port")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds before each answer"
    )
    args = parser.parse_args()
    server = StandIn(args.port, args.latency)
    print(f"Stand-in Fileflare on {server.url}: tokens example, good*, lines-N, fail*")
    print(f"  DOWNLOADS_PORTAL_API_BASE_URL={server.url} downloads-portal run")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
