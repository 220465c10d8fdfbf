"""``downloads-portal run`` against a stand-in, as a newcomer tries it first."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from downloads_portal import fixtures
from downloads_portal.cli import main

from .conftest import ORDERS_PATH, TOKEN, free_port, require

ROOT = Path(__file__).resolve().parent.parent


def wait_for(url: str, process: subprocess.Popen[str]) -> None:
    """Wait until ``url`` answers, or fail if ``process`` ends first."""
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{process.args} did not start")
            time.sleep(0.1)


def wait_for_text(path: Path, words: str) -> str:
    """Return the file's text once it holds ``words``, or as it is after 10 s."""
    deadline = time.monotonic() + 10
    while words not in (text := path.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return text


@pytest.fixture
def run(httpserver: HTTPServer, tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """Start ``downloads-portal run``; yield its address and its stdout and stderr."""
    executable = shutil.which("downloads-portal", path=str(Path(sys.executable).parent))
    require(executable is not None, "downloads-portal is not installed")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOWNLOADS_")}
    env["DOWNLOADS_PORTAL_API_BASE_URL"] = httpserver.url_for("/").rstrip("/")
    env["DOWNLOADS_PORTAL_CACHE_DIR"] = str(tmp_path / "cache")
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [executable, "run", "--port", str(port)],
            env=env,
            stdout=stdout,
            stderr=stderr,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/healthz", process)
        yield base, out, err
    finally:
        process.terminate()
        process.wait(10)


def test_run_prints_addresses_and_logs_json_with_request_ids(run, serve) -> None:
    base, out, err = run
    serve(fixtures.EXAMPLE_ORDER)
    response = requests.get(
        f"{base}/account/orders/{TOKEN}", headers={"X-Request-ID": "try-7"}, timeout=10
    )
    assert response.status_code == 200
    assert f"{base}/account/orders/" in out.read_text()
    # The access line is written once the body is sent, just after the client has it.
    text = wait_for_text(err, '"try-7"')
    assert "\x1b[" not in text
    assert TOKEN not in text
    lines = [json.loads(line) for line in text.splitlines()]
    (access,) = [line for line in lines if line.get("request_id") == "try-7"]
    assert access["status"] == 200
    assert access["path"].startswith("/account/orders/~")
    # The body's size, as gunicorn's access line gives it.
    assert access["bytes"] == int(response.headers["Content-Length"]) > 1000
    refused = [
        line for line in lines if "SHOPIFY_API_SECRET is not set" in line["message"]
    ]
    assert len(refused) == 1


def test_run_help_names_the_upstream_setting() -> None:
    result = CliRunner().invoke(main, ["run", "--help"])
    assert result.exit_code == 0
    assert "DOWNLOADS_PORTAL_API_BASE_URL" in result.output
    assert "python -m bench.standin" in result.output


def test_the_standin_starts_on_its_own() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.standin", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}{ORDERS_PATH}"
        wait_for(url, process)
        response = requests.get(url, params={"id": "example"}, timeout=5)
        assert response.json() == json.loads(json.dumps(fixtures.EXAMPLE_ORDER))
        assert requests.get(url, params={"id": "nope"}, timeout=5).status_code == 404
    finally:
        process.terminate()
        process.wait(10)
