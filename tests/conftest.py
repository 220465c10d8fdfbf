"""Shared fixtures: the app pointed at a real HTTP server standing in for Fileflare."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from downloads_portal import create_app

#: Where the browser tests leave their screenshots, reported at the end of the run.
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
SCREENSHOTS_TAKEN = pytest.StashKey[int]()

ORDERS_PATH = "/api/v2/customer-account-orders"
TOKEN = "0c732eb6fd9802a0821a9d29888baee8"


def require(available: bool, reason: str) -> None:
    """Skip when a service is missing on a laptop; fail in CI, where it must exist."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    """Return a loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def upstream_calls(httpserver: HTTPServer) -> int:
    """Count the order lookups the stand-in upstream has answered."""
    return sum(1 for request, _ in httpserver.log if request.path == ORDERS_PATH)


@pytest.fixture
def config(httpserver: HTTPServer, tmp_path: Any) -> dict[str, Any]:
    return {
        "API_BASE_URL": httpserver.url_for("/").rstrip("/"),
        "API_TIMEOUT": 1,
        "CACHE_DIR": str(tmp_path / "cache"),
    }


@pytest.fixture
def app(config: dict[str, Any]) -> Iterator[Flask]:
    yield create_app(config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def serve(httpserver: HTTPServer):
    """Make the stand-in answer an order lookup for ``token`` with JSON or a status."""

    def serve(
        body: Any = None, status: int = 200, token: str = TOKEN, **kwargs: Any
    ) -> None:
        handler = httpserver.expect_request(ORDERS_PATH, query_string={"id": token})
        if body is None:
            handler.respond_with_data("", status=status, **kwargs)
        else:
            handler.respond_with_json(body, status=status, **kwargs)

    return serve


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say where the browser tests' screenshots are, when some were taken."""
    taken = terminalreporter.config.stash.get(SCREENSHOTS_TAKEN, 0)
    if taken:
        terminalreporter.write_sep("-", "screenshots")
        terminalreporter.write_line(f"{taken} screenshots in {SCREENSHOTS}")


REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_SERVER = "/usr/bin/redis-server"


def redis_answers(url: str) -> bool:
    """Return whether a Redis answers at ``url``."""
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@pytest.fixture
def redis_config(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Point the app at the machine's Redis, under a key prefix of this test's own."""
    require(redis_answers(REDIS_URL), f"no Redis at {REDIS_URL}")
    prefix = f"test-{uuid.uuid4().hex}:"
    config.update(
        CACHE_TYPE="RedisCache", CACHE_REDIS_URL=REDIS_URL, CACHE_KEY_PREFIX=prefix
    )
    yield config
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"*{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


class RedisServer:
    """A redis-server of the test's own, to stop and start at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not redis_answers(self.url):
            if time.monotonic() > deadline:
                pytest.fail("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    require(os.access(REDIS_SERVER, os.X_OK), f"{REDIS_SERVER} is not installed")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def slow_upstream() -> Iterator[HTTPServer]:
    """A stand-in that answers many lookups at once, each after a while."""
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


class AnswerAfter:
    """A handler that sleeps, then answers with ``body`` or ``status``.

    It counts lookups as they arrive: the server's log only has them once answered.
    """

    def __init__(self, seconds: float, body: Any = None, status: int = 200) -> None:
        self.seconds = seconds
        self.text = "" if body is None else json.dumps(body)
        self.status = status
        self.arrived = 0
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.arrived += 1
        time.sleep(self.seconds)
        return Response(self.text, status=self.status, content_type="application/json")


class Served:
    """A ``downloads-portal serve`` process and the log it writes."""

    def __init__(self, base: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.base = base
        self.process = process
        self.log = log

    def lines(self) -> list[dict]:
        """Return the log written so far, one JSON object a line."""
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start ``downloads-portal serve`` processes with DOWNLOADS_PORTAL_* settings."""
    executable = shutil.which("downloads-portal", path=str(Path(sys.executable).parent))
    require(executable is not None, "downloads-portal is not installed")
    started: list[Served] = []

    def start(options: list[str] | None = None, **settings: Any) -> Served:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOWNLOADS_")}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.update({f"DOWNLOADS_PORTAL_{k}": str(v) for k, v in settings.items()})
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [executable, "serve", "--port", str(port), "--workers", "2"]
                + (options or []),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        served = Served(f"http://127.0.0.1:{port}", process, log)
        started.append(served)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{served.base}/readyz", timeout=1).raise_for_status()
                return served
            except requests.RequestException:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"serve did not start: {log.read_text()}")
                time.sleep(0.1)

    yield start
    for served in started:
        served.process.terminate()
    for served in started:
        served.process.wait(30)
