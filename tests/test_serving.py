"""The app under real gunicorn workers, as operators run it."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from pytest_httpserver import HTTPServer

from downloads_portal import fixtures
from downloads_portal.security import fingerprint

from .conftest import (
    ORDERS_PATH,
    TOKEN,
    AnswerAfter,
    CountingOrder,
    base_url,
    free_port,
    installed,
    text_of,
    upstream_calls,
    wait_until_up,
)


@pytest.fixture
def gunicorn(httpserver: HTTPServer, tmp_path: Path) -> Iterator[str]:
    """Run ``gunicorn -w 2`` on the default file cache, pointed at the stand-in.

    Each worker serves one request and is replaced, so no two requests share a
    process: only a cache shared across processes can save an upstream call.
    """
    executable = installed("gunicorn")
    port = free_port()
    env = dict(os.environ, DOWNLOADS_PORTAL_API_BASE_URL=base_url(httpserver))
    env.pop("DOWNLOADS_PORTAL_CACHE_TYPE", None)
    # The folder the installation would share, under tmp_path rather than the checkout.
    env["DOWNLOADS_PORTAL_CACHE_DIR"] = str(tmp_path / "cache")
    process = subprocess.Popen(
        [
            executable,
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "downloads_portal:create_app()",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz", process, lambda: repr(process.stderr.read()))
        yield base
    finally:
        process.terminate()
        process.wait(60)
        process.stderr.close()


def test_workers_share_the_default_cache(gunicorn, httpserver) -> None:
    token = secrets.token_hex(16)
    httpserver.expect_request(
        ORDERS_PATH, query_string={"id": token}
    ).respond_with_json(fixtures.EXAMPLE_ORDER)
    for _ in range(6):
        response = requests.get(f"{gunicorn}/account/orders/{token}", timeout=5)
        assert response.status_code == 200
        assert "5 of 10 downloaded" in response.text
        assert "0 of 10 downloaded" in response.text
    assert upstream_calls(httpserver) == 1


def test_failures_end_on_their_pages(gunicorn, httpserver) -> None:
    cases = {404: 404, 402: 402, 500: 503}
    for upstream_status, page_status in cases.items():
        token = secrets.token_hex(16)
        httpserver.expect_request(
            ORDERS_PATH, query_string={"id": token}
        ).respond_with_data("", status=upstream_status)
        response = requests.get(f"{gunicorn}/account/orders/{token}", timeout=10)
        assert response.status_code == page_status
        assert response.text.startswith("<!doctype html>")


def sharing(request, tmp_path: Path, shared: str, upstream: HTTPServer) -> dict:
    """Return the settings of instances that share one Redis or one cache folder."""
    settings = {"API_BASE_URL": base_url(upstream)}
    if shared == "redis":
        redis_config = request.getfixturevalue("redis_config")
        settings |= {
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_URL": redis_config["CACHE_REDIS_URL"],
            "CACHE_KEY_PREFIX": redis_config["CACHE_KEY_PREFIX"],
        }
    else:
        # One machine, one cache folder: the fetch lock is a file made exclusively.
        settings["CACHE_DIR"] = str(tmp_path / "cache")
    return settings


@pytest.mark.parametrize("shared", ["redis", "files"])
def test_two_served_instances_answer_a_cold_burst_with_one_call(
    request, portal, slow_upstream, tmp_path, shared
) -> None:
    upstream = AnswerAfter(0.3, fixtures.EXAMPLE_ORDER)
    slow_upstream.expect_request(ORDERS_PATH).respond_with_handler(upstream)
    settings = sharing(request, tmp_path, shared, slow_upstream)
    instances = [portal(**settings), portal(**settings)]
    token = secrets.token_hex(16)
    barrier = threading.Barrier(40)

    def visit(i: int) -> int:
        barrier.wait()
        url = f"{instances[i % 2].base}/account/orders/{token}"
        with requests.get(url, timeout=30) as response:
            assert "5 of 10 downloaded" in response.text
            return response.status_code

    with ThreadPoolExecutor(40) as pool:
        statuses = list(pool.map(visit, range(40)))
    assert statuses == [200] * 40
    assert upstream.arrived == 1


@pytest.mark.parametrize("shared", ["redis", "files"])
def test_a_download_shows_on_every_instance_within_a_second(
    request, portal, httpserver, tmp_path, shared
) -> None:
    order = CountingOrder()
    httpserver.expect_request(ORDERS_PATH).respond_with_handler(order)
    settings = sharing(request, tmp_path, shared, httpserver)
    # One worker each: the view after the download meets the worker that kept a copy.
    one, other = (portal("serve", "--workers", "1", **settings) for _ in range(2))
    page = f"/account/orders/{TOKEN}"
    for served in (one, other):
        assert "5 downloads left" in text_of(
            requests.get(served.base + page, timeout=10).text
        )
    sent = requests.post(
        f"{one.base}{page}/download",
        data={"asset": "asset-book.pdf"},
        allow_redirects=False,
        timeout=10,
    )
    assert sent.status_code == 303
    order.downloaded += 1  # the browser fetched the file
    time.sleep(1.1)  # LOCAL_CACHE_SECONDS, in real worker processes
    assert "4 downloads left" in text_of(
        requests.get(other.base + page, timeout=10).text
    )


def test_serve_logs_json_without_tokens(portal, httpserver) -> None:
    token = secrets.token_hex(16)
    httpserver.expect_request(ORDERS_PATH).respond_with_json(fixtures.EXAMPLE_ORDER)
    served = portal(API_BASE_URL=base_url(httpserver))
    for _ in range(3):
        response = requests.get(
            f"{served.base}/account/orders/{token}?note=q-7f3a9c",
            headers={"X-Request-ID": "visit-42"},
            timeout=10,
        )
        assert response.status_code == 200
        assert response.headers["X-Request-ID"] == "visit-42"
    # A doubled slash is a plain 404, neither a redirect nor a logged token.
    doubled = requests.get(f"{served.base}/account/orders//{token}", timeout=10)
    assert doubled.status_code == 404 and not doubled.history

    served.process.terminate()
    served.process.wait(30)
    text = served.log.read_text()
    assert token not in text
    assert "q-7f3a9c" not in text
    access = [line for line in served.lines() if line["logger"] == "gunicorn.access"]
    visits = [line for line in access if line["request_id"] == "visit-42"]
    assert len(visits) == 3
    assert visits[0]["path"].startswith("/account/orders/~")
    assert visits[0]["status"] == 200
    assert all(line["request_id"] for line in access)


#: Request targets that hold a whole token ("{}") but are not an order's URL, and
#: request lines holding one that the server cannot parse.
NEAR_MISSES = [
    "/account/order/{}",
    "/account/ORDERS/{}",
    "/Account/Orders/{}",
    "/{}",
    "/preview/{}",
    "/account/orders\\{}",
    "/account/orders/./{}",
    "/account/orders%2F{}",
    "/account/orders/{}/",
    "/static/{}",
    "/static//{}",
    "/proxy/orders/{}",
    "/healthz/{}",
    "/account/orders/{}?{}",
]
BAD_REQUEST_LINES = [
    "GET /account/orders/{} HTTP/9.9",
    "GET /account/orders/{} extra HTTP/1.1",
    "{}",
    "G{} /account/orders/{} HTTP/1.1",
]


def raw_request(base: str, line: str) -> bytes:
    """Send one request line as it is, unnormalised, and return the answer."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"{line}\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def send_near_misses(base: str, token: str) -> list[bytes]:
    """Ask for the order and each near miss (none a 500), then send the bad request
    lines; return the answers to those."""
    for target in ["/account/orders/{}", *NEAR_MISSES]:
        answer = raw_request(base, f"GET {target.format(token, token)} HTTP/1.1")
        assert not answer.startswith(b"HTTP/1.1 500"), target
    return [raw_request(base, line.format(token, token)) for line in BAD_REQUEST_LINES]


def test_no_log_line_of_serve_holds_a_token(portal, httpserver) -> None:
    token = secrets.token_hex(16)
    httpserver.expect_request(ORDERS_PATH).respond_with_json(fixtures.EXAMPLE_ORDER)
    served = portal(API_BASE_URL=base_url(httpserver), LOG_LEVEL="debug")
    refusals = send_near_misses(served.base, token)
    assert all(answer.startswith(b"HTTP/1.1 400") for answer in refusals)
    assert requests.get(f"{served.base}/static/portal.css", timeout=5).ok
    served.process.terminate()
    served.process.wait(30)

    text = served.log.read_text()
    assert token not in text
    lines = served.lines()
    access = [line["path"] for line in lines if line["logger"] == "gunicorn.access"]
    assert f"/account/orders/~{fingerprint(token)}" in access
    assert "/static/portal.css" in access and "/healthz" not in access
    assert f"~{fingerprint('/' + token)}" in access
    # The raw request line at debug, and the requests gunicorn refused, were logged.
    assert any(
        line["level"] == "DEBUG" and "GET ~" in line["message"] for line in lines
    )
    refused = [line for line in lines if "Invalid request" in line["message"]]
    assert len(refused) == len(BAD_REQUEST_LINES)


def test_no_log_line_of_the_development_server_holds_a_token(
    portal, httpserver, tmp_path
) -> None:
    token = secrets.token_hex(16)
    httpserver.expect_request(ORDERS_PATH).respond_with_json(fixtures.EXAMPLE_ORDER)
    served = portal(
        "run",
        API_BASE_URL=base_url(httpserver),
        CACHE_DIR=tmp_path / "cache",
    )
    send_near_misses(served.base, token)
    served.process.terminate()
    served.process.wait(30)
    text = served.log.read_text()
    assert token not in text
    assert f"/account/orders/~{fingerprint(token)}" in text
    assert f"~{fingerprint('/' + token)}" in text


def test_a_missing_secret_is_said_once_per_start(portal, httpserver) -> None:
    served = portal(API_BASE_URL=httpserver.url_for("/").rstrip("/"))
    served.process.terminate()
    served.process.wait(30)
    said = [
        line
        for line in served.lines()
        if "SHOPIFY_API_SECRET is not set" in line["message"]
    ]
    assert len(said) == 1
    assert said[0]["level"] == "WARNING"
