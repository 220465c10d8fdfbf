"""A few-second smoke of the benchmark so it keeps working; it gates on no timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import requests

from bench.standin import StandIn

ROOT = Path(__file__).resolve().parent.parent


def test_standin_serves_and_counts() -> None:
    upstream = StandIn().start()
    try:
        url = upstream.url + "/api/v2/customer-account-orders"
        example = requests.get(url, params={"id": "example"}, timeout=5)
        large = requests.get(url, params={"id": "lines-10"}, timeout=5)
        missing = requests.get(url, params={"id": "nope"}, timeout=5)
        failing = requests.get(url, params={"id": "fail-1"}, timeout=5)
    finally:
        upstream.stop()
    assert example.json()["order"]["order_number"] == 1050
    assert len(large.json()["order"]["lines"]) == 10
    assert (missing.status_code, failing.status_code) == (404, 500)
    assert upstream.calls["example"] == 1
    assert upstream.calls_by_kind() == {"good": 2, "unknown": 1, "fail": 1}


def test_benchmark_smoke(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench", "--duration", "1", "--rounds", "1"]
    command += ["--sizes", "1,10", "--connections", "2", "--out", str(tmp_path)]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["routes"]) == {"healthz", "example", "lines-1", "lines-10"}
    assert results["routes"]["healthz"]["ratio"] == 1.0
    for route in results["routes"].values():
        assert route["requests"] > 0
        assert route["errors"] == 0
        assert route["rps"] > 0 and route["p99_ms"] >= route["p50_ms"] > 0
    assert results["upstream"]["calls_per_order_per_window"] == 1
    assert results["bytes"]["total_gzip"] > 0
    assert len(results["worker_rss_mib"]) == results["settings"]["workers"]
    assert "| `/healthz` |" in (tmp_path / "results.md").read_text()
    assert "| `/healthz` |" in done.stdout


def test_burst_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "burst.json"
    command = [sys.executable, "-m", "bench.burst", "--only", "burst,429"]
    command += ["--orders", "5", "--latency", "0.1", "--retry-after", "2"]
    command += ["--clients", "1", "--timeout", "20", "--json", str(out)]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert results["burst"]["answers"]["statuses"] == {"200": 5}
    assert results["burst"]["upstream_calls"] == 5
    assert set(results["burst"]["healthz"]["statuses"]) <= {"200"}
    # Fileflare said 429: new orders got the 503 page, the order seen before its copy.
    assert set(results["429"]["new_orders"]["statuses"]) == {"503"}
    assert set(results["429"]["seen_order"]["statuses"]) == {"200"}
    assert results["429"]["renders_again_after_window_end_s"] is not None
