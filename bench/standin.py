"""A stand-in for Fileflare on loopback that serves fixture orders and counts calls."""

from __future__ import annotations

import json
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

    def __init__(self, port: int = 0, latency: float = 0.0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.latency = latency
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()
        self._bodies: dict[str, tuple[int, bytes]] = {}

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
        if self.server.latency:
            time.sleep(self.server.latency)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
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
