"""Load generators: wrk when installed, a plain threaded Python client otherwise."""

from __future__ import annotations

import http.client
import re
import shutil
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass(frozen=True)
class Result:
    """One load run against one URL."""

    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float


def run(url: str, seconds: float, connections: int) -> Result:
    """Load ``url`` for ``seconds`` with ``connections`` clients."""
    if shutil.which("wrk"):
        return run_wrk(url, seconds, connections)
    return run_python(url, seconds, connections)


def run_wrk(url: str, seconds: float, connections: int) -> Result:
    """Run wrk, a new connection per request, and read its summary.

    A gthread worker accepts every waiting connection it can, so kept-alive
    connections often all land on one worker and a run measures half the machine.
    """
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            *("-H", "Connection: close"),
            f"-c{connections}",
            f"-d{max(int(seconds), 1)}s",
            "--latency",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", out)[1])
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    # A sync gunicorn worker closes every connection; wrk counts that as a read error.
    errors = (int(non_2xx[1]) if non_2xx else 0) + (
        int(socket[1]) + int(socket[3]) + int(socket[4]) if socket else 0
    )
    return Result(
        requests=requests,
        errors=errors,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
        p50_ms=_latency(out, "50%"),
        p99_ms=_latency(out, "99%"),
    )


def _latency(out: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s|m)\b", out).groups()
    return float(value) * _UNITS[unit]


def run_python(url: str, seconds: float, connections: int) -> Result:
    """A closed-loop client: ``connections`` threads, one request after another."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        nonlocal errors
        mine: list[float] = []
        failed = 0
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(
                    parts.hostname, parts.port, timeout=10
                )
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                conn.close()
                failed += response.status >= 400
            except OSError:
                failed += 1
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=client) for _ in range(connections)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return Result(
        requests=len(latencies),
        errors=errors,
        rps=len(latencies) / elapsed,
        p50_ms=cuts[49],
        p99_ms=cuts[98],
    )
