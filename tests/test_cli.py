"""The ``downloads-portal`` command: preview, run and serve."""

from __future__ import annotations

import os
import subprocess

import requests
from click.testing import CliRunner

from downloads_portal import cli, gunicorn_conf

from .conftest import free_port, installed, wait_until_up


def test_preview_command_prints_the_address_and_serves(tmp_path) -> None:
    command = installed("downloads-portal")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOWNLOADS_PORTAL")}
    env["DOWNLOADS_PORTAL_API_BASE_URL"] = "http://127.0.0.1:9"  # nothing listens
    process = subprocess.Popen(
        [command, "preview", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        address = process.stdout.readline().split()[-1]
        assert address == f"http://127.0.0.1:{port}/preview"
        wait_until_up(address, process, lambda: "no answer")
        with requests.get(f"{address}/example", timeout=5) as order:
            assert order.status_code == 200
            assert "My new book" in order.text
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_every_command_is_listed() -> None:
    shown = CliRunner().invoke(cli.main, ["--help"])
    assert shown.exit_code == 0
    for command in ("run", "preview", "serve"):
        assert f"  {command} " in shown.output


def test_serve_gives_gunicorn_the_project_settings_and_its_options() -> None:
    server = cli.Server({"bind": ["127.0.0.1:8123"], "workers": 3, "threads": 2})
    assert server.cfg.bind == ["127.0.0.1:8123"]
    assert (server.cfg.workers, server.cfg.threads) == (3, 2)
    # Everything else comes from gunicorn_conf, the access log's redaction included.
    assert server.cfg.timeout == gunicorn_conf.timeout
    assert server.cfg.logger_class is gunicorn_conf.AccessLog


def test_serve_runs_gevent_workers_unless_told_otherwise() -> None:
    default = cli.Server({"bind": ["127.0.0.1:8123"]})
    assert default.cfg.worker_class_str == "gevent"
    assert default.cfg.worker_connections == gunicorn_conf.worker_connections
    threaded = cli.Server({"bind": ["127.0.0.1:8123"], "worker_class": "gthread"})
    assert threaded.cfg.worker_class_str == "gthread"
