"""The app under real gunicorn workers, as operators run it."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from pytest_httpserver import HTTPServer

from downloads_portal import fixtures

from .conftest import free_port, require, upstream_calls


@pytest.fixture
def gunicorn(httpserver: HTTPServer) -> Iterator[str]:
    """Run ``gunicorn -w 2`` on the default cache, pointed at the stand-in.

    Each worker serves one request and is replaced, so no two requests share a
    process: only a cache shared across processes can save an upstream call.
    """
    executable = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    require(executable is not None, "gunicorn is not installed")
    port = free_port()
    env = dict(os.environ, DOWNLOADS_PORTAL_API_BASE_URL=httpserver.url_for("/"))
    env.pop("DOWNLOADS_PORTAL_CACHE_DIR", None)
    env.pop("DOWNLOADS_PORTAL_CACHE_TYPE", None)
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
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start: {process.stderr.read()!r}")
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(10)
        process.stderr.close()


def test_workers_share_the_default_cache(gunicorn, httpserver) -> None:
    token = secrets.token_hex(16)
    httpserver.expect_request(
        "/api/v2/customer-account-orders", query_string={"id": token}
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
            "/api/v2/customer-account-orders", query_string={"id": token}
        ).respond_with_data("", status=upstream_status)
        response = requests.get(f"{gunicorn}/account/orders/{token}", timeout=10)
        assert response.status_code == page_status
        assert response.text.startswith("<!doctype html>")
