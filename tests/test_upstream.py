"""The Fileflare client against a real HTTP server on loopback."""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from downloads_portal import fixtures
from downloads_portal.upstream import (
    DRAIN_BYTES,
    FileflareClient,
    OrderNotFound,
    UpgradeRequired,
    UpstreamInvalid,
    UpstreamUnavailable,
)

from .conftest import ORDERS_PATH, TOKEN, free_port, upstream_calls


@pytest.fixture
def upstream(httpserver: HTTPServer) -> FileflareClient:
    return FileflareClient(httpserver.url_for("/"), timeout=0.5, max_bytes=64 * 1024)


def test_fetches_and_parses_the_order(upstream, serve, httpserver) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    order = upstream.fetch(TOKEN)
    assert order.number == "1050"
    (request, _), *_ = httpserver.log
    assert request.args["id"] == TOKEN
    assert request.headers["Accept"] == "application/json"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (404, OrderNotFound),
        (402, UpgradeRequired),
        (500, UpstreamUnavailable),
        (503, UpstreamUnavailable),
        (401, UpstreamUnavailable),
        (301, UpstreamUnavailable),
        (204, UpstreamUnavailable),
    ],
)
def test_statuses(upstream, serve, status, error) -> None:
    serve(status=status)
    with pytest.raises(error):
        upstream.fetch(TOKEN)


def test_retries_a_503_then_succeeds(upstream, httpserver) -> None:
    httpserver.expect_oneshot_request(ORDERS_PATH).respond_with_data("", status=503)
    httpserver.expect_request(ORDERS_PATH).respond_with_json(fixtures.EXAMPLE_ORDER)
    assert upstream.fetch(TOKEN).number == "1050"
    assert upstream_calls(httpserver) == 2


def test_persistent_503_gives_up_after_two_retries(upstream, serve, httpserver) -> None:
    serve(status=503)
    with pytest.raises(UpstreamUnavailable):
        upstream.fetch(TOKEN)
    assert upstream_calls(httpserver) == 3


def test_a_404_is_not_retried(upstream, serve, httpserver) -> None:
    serve(status=404)
    with pytest.raises(OrderNotFound):
        upstream.fetch(TOKEN)
    assert upstream_calls(httpserver) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_not_retried(upstream, httpserver, status) -> None:
    httpserver.expect_request(ORDERS_PATH).respond_with_data(
        "", status=status, headers={"Retry-After": "21600"}
    )
    # urllib3 would sleep and ask again; Fileflare said when, and the breaker obeys.
    with pytest.raises(UpstreamUnavailable) as caught:
        upstream.fetch(TOKEN)
    assert upstream_calls(httpserver) == 1
    assert caught.value.retry_after == 21600


def test_timeout_is_unavailable(upstream, httpserver) -> None:
    released = threading.Event()

    def stall(request: Request) -> Response:
        released.wait(5)
        return Response(json.dumps(fixtures.EXAMPLE_ORDER))

    httpserver.expect_request(ORDERS_PATH).respond_with_handler(stall)
    started = time.monotonic()
    try:
        with pytest.raises(UpstreamUnavailable, match="timeout"):
            upstream.fetch(TOKEN)
        # A read timeout is not retried: one wait of API_TIMEOUT, not three.
        assert time.monotonic() - started < 3 * upstream.timeout
    finally:
        released.set()


def test_trickling_body_stops_at_the_deadline(upstream, httpserver) -> None:
    def trickle(request: Request) -> Response:
        def body():
            yield b'{"order": {"lines": ['
            for _ in range(40):
                time.sleep(0.1)
                yield b" "
            yield b"]}}"

        return Response(body(), content_type="application/json")

    httpserver.expect_request(ORDERS_PATH).respond_with_handler(trickle)
    with pytest.raises(UpstreamUnavailable, match="too slow"):
        upstream.fetch(TOKEN)


def dripping(body: bytes, released: threading.Event, every: float) -> Iterator[bytes]:
    """Yield ``body`` a byte at a time, one every ``every`` seconds, until released."""
    for byte in body:
        if released.wait(every):
            return
        yield bytes([byte])


def test_dripping_body_of_known_length_stops_at_the_deadline(
    upstream, httpserver
) -> None:
    body = json.dumps(fixtures.EXAMPLE_ORDER).encode()
    released = threading.Event()

    def drip(request: Request) -> Response:
        return Response(
            dripping(body, released, 0.05),
            content_type="application/json",
            headers={"Content-Length": str(len(body))},
        )

    httpserver.expect_request(ORDERS_PATH).respond_with_handler(drip)
    started = time.monotonic()
    try:
        with pytest.raises(UpstreamUnavailable, match="too slow"):
            upstream.fetch(TOKEN)
        assert time.monotonic() - started < 3 * upstream.timeout + 1
    finally:
        released.set()


def test_refused_connection_is_unavailable() -> None:
    client = FileflareClient(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    with pytest.raises(UpstreamUnavailable, match="connection failed"):
        client.fetch(TOKEN)


@pytest.mark.parametrize(
    "body",
    [b"<html>Bad gateway</html>", b"", b'{"order": ', b"\xff\xfe{}", b"[" * 100000],
)
def test_non_json_is_invalid(upstream, httpserver, body) -> None:
    httpserver.expect_request(ORDERS_PATH).respond_with_data(
        body, content_type="application/json"
    )
    with pytest.raises(UpstreamInvalid):
        upstream.fetch(TOKEN)


def test_wrong_shape_is_invalid(upstream, serve) -> None:
    serve({"order": {"lines": "nope"}})
    with pytest.raises(UpstreamInvalid, match="lines is not a list"):
        upstream.fetch(TOKEN)


def test_oversized_body_is_refused(upstream, httpserver) -> None:
    big = fixtures.large_order(400)
    assert len(json.dumps(big)) > 64 * 1024
    httpserver.expect_request(ORDERS_PATH).respond_with_json(big)
    with pytest.raises(UpstreamInvalid, match="too large"):
        upstream.fetch(TOKEN)


def test_oversized_body_without_length_is_refused(upstream, httpserver) -> None:
    def chunked(request: Request) -> Response:
        return Response(iter([b"[", b" " * 200_000, b"]"]))

    httpserver.expect_request(ORDERS_PATH).respond_with_handler(chunked)
    with pytest.raises(UpstreamInvalid, match="too large"):
        upstream.fetch(TOKEN)


def test_decompression_bomb_is_refused(upstream, httpserver) -> None:
    bomb = gzip.compress(b" " * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 64 * 1024
    httpserver.expect_request(ORDERS_PATH).respond_with_data(
        bomb,
        content_type="application/json",
        headers={"Content-Encoding": "gzip"},
    )
    with pytest.raises(UpstreamInvalid, match="too large"):
        upstream.fetch(TOKEN)


def test_gzip_body_is_accepted(upstream, httpserver) -> None:
    httpserver.expect_request(ORDERS_PATH).respond_with_data(
        gzip.compress(json.dumps(fixtures.EXAMPLE_ORDER).encode()),
        content_type="application/json",
        headers={"Content-Encoding": "gzip"},
    )
    assert upstream.fetch(TOKEN).number == "1050"


def test_token_never_reaches_messages_or_logs(upstream, httpserver, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    httpserver.expect_request(ORDERS_PATH).respond_with_data("", status=503)
    with pytest.raises(UpstreamUnavailable) as caught:
        upstream.fetch(TOKEN)
    refused = FileflareClient(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    with pytest.raises(UpstreamUnavailable) as refused_error:
        refused.fetch(TOKEN)
    assert "Retrying" in caplog.text
    assert TOKEN not in caplog.text
    for error in (caught.value, refused_error.value):
        assert TOKEN not in "".join(traceback.format_exception(error))


@pytest.mark.parametrize("declared", ["²", "1²", "¹", "1e3", "-5", "0x10", "10, 10"])
def test_a_length_not_in_ascii_digits_is_invalid(
    upstream, httpserver, declared
) -> None:
    def answer(request: Request) -> Response:
        response = Response(json.dumps(fixtures.EXAMPLE_ORDER))
        response.headers["Content-Length"] = declared
        return response

    httpserver.expect_request(ORDERS_PATH).respond_with_handler(answer)
    with pytest.raises(UpstreamInvalid, match="Content-Length"):
        upstream.fetch(TOKEN)


def test_a_length_of_many_digits_is_too_large(upstream, httpserver) -> None:
    def answer(request: Request) -> Response:
        response = Response(json.dumps(fixtures.EXAMPLE_ORDER))
        response.headers["Content-Length"] = "9" * 5000
        return response

    httpserver.expect_request(ORDERS_PATH).respond_with_handler(answer)
    with pytest.raises(UpstreamInvalid, match="too large"):
        upstream.fetch(TOKEN)


@pytest.mark.parametrize("retry_after", ["²", "-1", "9" * 40, "Sun, 99 Foo 2026"])
def test_an_unreadable_retry_after_is_unavailable(
    upstream, httpserver, retry_after
) -> None:
    httpserver.expect_request(ORDERS_PATH).respond_with_data(
        "", status=503, headers={"Retry-After": retry_after}
    )
    with pytest.raises(UpstreamUnavailable):
        upstream.fetch(TOKEN)


class KeepAlive(ThreadingHTTPServer):
    """An HTTP/1.1 server that keeps connections, noting each request's client port."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _KeepAliveHandler)
        self.status, self.body = status, body
        self.ports: list[int] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    @property
    def client(self) -> FileflareClient:
        return FileflareClient(f"http://127.0.0.1:{self.server_port}", timeout=0.5)


class _KeepAliveHandler(BaseHTTPRequestHandler):
    server: KeepAlive
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        self.server.ports.append(self.client_address[1])
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet."""


@pytest.mark.parametrize(
    ("status", "error"),
    [(404, OrderNotFound), (402, UpgradeRequired), (500, UpstreamUnavailable)],
)
@pytest.mark.parametrize("body", [b"", b'{"error": "no such order"}'])
def test_a_short_error_keeps_its_connection(status, error, body) -> None:
    server = KeepAlive(status, body)
    client = server.client
    for _ in range(3):
        with pytest.raises(error):
            client.fetch(TOKEN)
    server.stop()
    assert len(server.ports) == 3
    assert len(set(server.ports)) == 1, "each error answer cost a new connection"


def test_a_long_error_body_is_not_read() -> None:
    server = KeepAlive(404, b"x" * (DRAIN_BYTES + 1))
    client = server.client
    for _ in range(2):
        with pytest.raises(OrderNotFound):
            client.fetch(TOKEN)
    server.stop()
    assert len(set(server.ports)) == 2


@pytest.mark.parametrize(
    ("status", "error"), [(404, OrderNotFound), (500, UpstreamUnavailable)]
)
def test_an_error_whose_body_drips_keeps_its_status(
    upstream, httpserver, status, error
) -> None:
    released = threading.Event()
    body = b'{"error": "no such order, slowly"}'

    def drip(request: Request) -> Response:
        length = {"Content-Length": str(len(body))}
        return Response(dripping(body, released, 0.3), status=status, headers=length)

    httpserver.expect_request(ORDERS_PATH).respond_with_handler(drip)
    try:
        with pytest.raises(error) as raised:
            upstream.fetch(TOKEN)
        assert "too slow" not in str(raised.value)
    finally:
        released.set()
