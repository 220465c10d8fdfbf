"""Shared fixtures: the app pointed at a real HTTP server standing in for Fileflare."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
import requests
from flask import Flask, template_rendered
from flask.testing import FlaskClient
from liquid import Environment, Node, Tag
from liquid.token import TOKEN_TAG
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from downloads_portal import create_app, fixtures

ROOT = Path(__file__).resolve().parent.parent
#: Where the browser tests left their screenshots and how many, for the summary.
SCREENSHOTS = pytest.StashKey[tuple[str, int]]()
NODE_MODULES = ROOT / "node_modules"
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
VNU = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"

#: The path the stand-in Fileflare answers order lookups on.
ORDERS_PATH = "/api/v2/customer-account-orders"
TOKEN = "0c732eb6fd9802a0821a9d29888baee8"
#: The app proxy's secret in tests, and the path prefix Shopify sends.
SECRET = "shpss_0123456789abcdef"
PREFIX = "/apps/downloads"


def require(available: bool, reason: str) -> None:
    """Skip when a service is missing on a laptop; fail in CI, where it must exist."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


def require_command(command: str, package: str) -> str:
    """Return the path of ``command``, or skip saying which Debian package has it."""
    path = shutil.which(command)
    require(
        path is not None,
        f"{command} is not installed: run `sudo apt-get install {package}`",
    )
    assert path is not None
    return path


@pytest.fixture(scope="session")
def node_tools() -> Path:
    """Install the npm tools (axe-core, vnu-jar) from the lock file when missing."""
    if not (AXE.is_file() and VNU.is_file()):
        npm = require_command("npm", "npm")
        # No install scripts: vnu-jar's would fetch a Java of its own.
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=600,
        )
    return NODE_MODULES


def free_port() -> int:
    """Return a loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def upstream_calls(httpserver: HTTPServer) -> int:
    """Count the order lookups the stand-in upstream has answered."""
    return sum(1 for request, _ in httpserver.log if request.path == ORDERS_PATH)


def counted(downloaded: int) -> dict[str, Any]:
    """Return an order of one file downloaded ``downloaded`` times out of 10."""
    asset = fixtures.asset(downloaded=downloaded, limit=10)
    return fixtures.order(lines=[fixtures.line(assets=[asset])])


def base_url(server: HTTPServer) -> str:
    """Return the stand-in's address as API_BASE_URL takes it."""
    return server.url_for("/").rstrip("/")


def text_of(html: str) -> str:
    """Return the page's visible words with tags and runs of space removed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def signature(pairs: list[tuple[str, str]], secret: str = SECRET) -> str:
    """Sign as Shopify documents it, written out here rather than imported."""
    joined: dict[str, list[str]] = {}
    for key, value in pairs:
        if key != "signature":
            joined.setdefault(key, []).append(value)
    strings = [key + "=" + ",".join(values) for key, values in joined.items()]
    message = "".join(sorted(strings))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def shopify_params(**overrides: str) -> list[tuple[str, str]]:
    """Return the parameters Shopify adds, signed a moment ago."""
    params = {
        "shop": "my-store.myshopify.com",
        "logged_in_customer_id": "123",
        "path_prefix": PREFIX,
        "timestamp": str(int(time.time())),
        **overrides,
    }
    return list(params.items())


def signed(
    pairs: list[tuple[str, str]] | None = None,
    secret: str = SECRET,
    at: int | None = None,
) -> str:
    """Return a query string with the signature inserted at index ``at`` (else last)."""
    pairs = shopify_params() if pairs is None else pairs
    sig = ("signature", signature(pairs, secret))
    position = len(pairs) if at is None else at
    return urlencode([*pairs[:position], sig, *pairs[position:]])


@pytest.fixture(autouse=True)
def instance_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Give each app made in a test an instance folder under tmp_path, not the clone."""
    instance = tmp_path / "instance"
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(instance))
    return instance


def renders(app: Flask) -> list[str]:
    """Record the names of the templates ``app`` renders."""
    rendered: list[str] = []
    template_rendered.connect(
        lambda sender, template, context, **extra: rendered.append(template.name),
        app,
        weak=False,
    )
    return rendered


@pytest.fixture
def config(httpserver: HTTPServer, tmp_path: Any) -> dict[str, Any]:
    return {
        "API_BASE_URL": base_url(httpserver),
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
def preview_app(config: dict[str, Any]) -> Flask:
    """The app in preview mode: fixture orders instead of Fileflare."""
    return create_app({**config, "PREVIEW": True})


@pytest.fixture
def preview_client(preview_app: Flask) -> FlaskClient:
    return preview_app.test_client()


@pytest.fixture
def clock(time_machine: Any) -> Any:
    """The wall clock, running from now, to move forward instead of sleeping.

    It moves ``time.time()`` (the ages of cached copies), not ``time.monotonic()``.
    """
    time_machine.move_to(time.time(), tick=True)
    return time_machine


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
    folder, taken = terminalreporter.config.stash.get(SCREENSHOTS, ("", 0))
    if taken:
        terminalreporter.write_sep("-", "screenshots")
        terminalreporter.write_line(f"{taken} screenshots in {folder}")


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
    require(
        redis_answers(REDIS_URL),
        f"no Redis at {REDIS_URL}: run `sudo apt-get install redis-server`",
    )
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
    require(
        os.access(REDIS_SERVER, os.X_OK),
        f"{REDIS_SERVER} is not installed: run `sudo apt-get install redis-server`",
    )
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


def installed(name: str) -> str:
    """Return this environment's ``name`` command; skip (fail in CI) without it."""
    executable = shutil.which(name, path=str(Path(sys.executable).parent))
    require(
        executable is not None,
        f"{name} is not installed: run `pip install -e '.[test]'`",
    )
    assert executable is not None
    return executable


def wait_until_up(
    url: str, process: subprocess.Popen[Any], why: Callable[[], str], seconds: int = 30
) -> None:
    """Wait until ``url`` answers 2xx; fail if ``process`` ends or time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            requests.get(url, timeout=1).raise_for_status()
            return
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{process.args[1:]} did not start: {why()}")
            time.sleep(0.1)


#: The command ``portal`` starts unless told otherwise.
SERVE = ("serve", "--workers", "2")


class Served:
    """A ``downloads-portal serve`` process and the log it writes."""

    def __init__(self, base: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.base = base
        self.process = process
        self.log = log

    def lines(self) -> list[dict[str, Any]]:
        """Return the log written so far, one JSON object a line."""
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start ``downloads-portal serve`` (or another command: ``portal("run")``)
    processes with DOWNLOADS_PORTAL_* settings."""
    executable = installed("downloads-portal")
    started: list[Served] = []

    def start(*command: str, **settings: Any) -> Served:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOWNLOADS_")}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        # The default file cache, in this test's folder rather than the clone's.
        settings.setdefault("CACHE_DIR", tmp_path / f"cache-{port}")
        env.update({f"DOWNLOADS_PORTAL_{k}": str(v) for k, v in settings.items()})
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [executable, *(command or SERVE), "--port", str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        served = Served(f"http://127.0.0.1:{port}", process, log)
        started.append(served)
        wait_until_up(f"{served.base}/readyz", process, log.read_text)
        return served

    yield start
    for served in started:
        served.process.terminate()
    for served in started:
        served.process.wait(30)


# -- Liquid, as a store runs it ----------------------------------------------------


class LayoutTag(Tag):
    """Shopify's ``layout`` tag, which python-liquid lacks; it records the name."""

    name = "layout"
    block = False

    def parse(self, stream):  # type: ignore[no-untyped-def]
        token = stream.eat(TOKEN_TAG)
        return LayoutNode(token, stream.into_inner(tag=token, eat=False).current.value)


class LayoutNode(Node):
    def __init__(self, token, name: str) -> None:  # type: ignore[no-untyped-def]
        super().__init__(token)
        self.name = name

    def render_to_output(self, context, buffer) -> int:  # type: ignore[no-untyped-def]
        context.globals["layouts"].append(self.name)
        return 0


def render_liquid(body: str) -> tuple[str, list[str]]:
    """Render ``body`` as a store would, with theme objects in reach."""
    env = Environment()
    env.tags["layout"] = LayoutTag(env)
    layouts: list[str] = []
    shop = {"name": "THEME OBJECT LEAKED"}
    return env.from_string(body).render(shop=shop, layouts=layouts), layouts


# -- a stand-in order that counts its downloads -------------------------------------

#: The stand-in file of CountingOrder, unless one is given, and its link.
FILE = "https://files.example.com/download/book.pdf"
LINK = "https://www.example.com/members"


class CountingOrder:
    """A stand-in order whose first file counts a download each time it is fetched."""

    def __init__(self, downloaded: int = 5, limit: int = 10, url: str = FILE) -> None:
        self.downloaded = downloaded
        self.limit = limit
        self.url = url

    def body(self) -> dict[str, Any]:
        return fixtures.order(
            lines=[
                fixtures.line(
                    "Book",
                    [
                        fixtures.asset(
                            "book.pdf", self.downloaded, self.limit, url=self.url
                        ),
                        fixtures.asset("spent.zip", 3, 3, url=FILE + "?spent"),
                        fixtures.asset("bad.zip", url="javascript:alert(1)"),
                        fixtures.asset("Members", url=LINK, is_file=False),
                    ],
                )
            ]
        )

    def __call__(self, request: Request) -> Response:
        return Response(json.dumps(self.body()), content_type="application/json")
