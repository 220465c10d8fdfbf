"""Run the app as production does, ``downloads-portal serve``, for a benchmark."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import requests

from .standin import free_port


@contextmanager
def gunicorn(
    api_base_url: str,
    workers: int,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
) -> Iterator[tuple[str, int]]:
    """Serve on a fresh file cache; yield the base URL and the master's pid.

    ``env`` adds DOWNLOADS_PORTAL_* settings (without the prefix), ``args`` options.
    """
    port = free_port()
    with tempfile.TemporaryDirectory() as cache_dir:
        settings = {"CACHE_DIR": cache_dir, "LOG_LEVEL": "warning", **(env or {})}
        environ = dict(os.environ, DOWNLOADS_PORTAL_API_BASE_URL=api_base_url)
        environ |= {f"DOWNLOADS_PORTAL_{k}": v for k, v in settings.items()}
        command = [
            sys.executable,
            "-c",
            "from downloads_portal.cli import main; main()",
        ]
        command += ["serve", "--port", str(port), "--workers", str(workers), *args]
        # The access log is part of the cost measured; its lines are not shown.
        process = subprocess.Popen(command, env=environ, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base, process)
            yield base, process.pid
        finally:
            process.terminate()
            process.wait(30)


def wait_until_up(base: str, process: subprocess.Popen) -> None:
    """Wait for /healthz to answer, or stop the run."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gunicorn exited before it served")
        try:
            requests.get(base + "/healthz", timeout=1).raise_for_status()
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not answer within 30 s")
