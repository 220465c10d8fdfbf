"""Load test: two instances under gunicorn sharing one Redis, driven by wrk.

    .venv/bin/python -m bench.loadtest [--duration 30] [--connections 200]

A stand-in Fileflare answers after 200 ms: ``good*`` tokens with an order, ``fail*``
with a 500, anything else with a 404. wrk sends customers (80 %), guessers (15 %, from
20 addresses) and customers of failing orders (5 %), and checks every answer: a good
order must be 200, a guess 404 or 429, a failing order 503. Prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.request import urlopen

import redis

from bench.standin import StandIn, free_port

HERE = Path(__file__).resolve().parent
#: The kinds of request loadtest.lua names in X-Request-ID.
KINDS = ("good", "unknown", "fail")


def start_instance(
    port: int, env: dict[str, str], logs: Path, worker_class: str, workers: int | None
) -> subprocess.Popen:
    """Start one ``downloads-portal serve`` instance and wait until it is ready."""
    executable = Path(sys.executable).parent / "downloads-portal"
    command = [str(executable), "serve", "--port", str(port)]
    if workers:
        command += ["--workers", str(workers)]
    with (logs / f"instance-{port}.log").open("wb") as log:
        process = subprocess.Popen(
            [*command, "--worker-class", worker_class],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"instance on port {port} did not start") from None
            time.sleep(0.1)


def kind_latencies(logs: Path) -> list[str]:
    """Read the instances' JSON access lines: per kind of request and status, how many
    and how long the worker took (p50, p99, max), as lines to print."""
    durations: dict[str, list[int]] = {}
    for path in logs.glob("instance-*.log"):
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or "duration_ms" not in record:
                continue
            kind = str(record.get("request_id") or "").partition("-")[0]
            if kind not in KINDS:
                continue  # the readiness checks before wrk starts
            durations.setdefault(f"{kind} {record.get('status')}", []).append(
                int(record["duration_ms"])
            )
    lines = []
    for name, values in sorted(durations.items()):
        values.sort()
        p50, p99 = (
            values[min(int(q * len(values)), len(values) - 1)] for q in (0.5, 0.99)
        )
        lines.append(
            f"{name:<12} {len(values):>6} answers: p50 {p50} ms, p99 {p99} ms, "
            f"max {values[-1]} ms"
        )
    return lines


def main() -> int:
    """Run the load test and print its figures; exit 1 on any error."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=30, help="seconds")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4, help="wrk threads")
    parser.add_argument("--latency", type=float, default=0.2, help="upstream seconds")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--good", type=int, default=50, help="good orders")
    parser.add_argument("--failing", type=int, default=5, help="failing orders")
    parser.add_argument("--worker-class", default="gevent", help="gevent or gthread")
    parser.add_argument(
        "--workers", type=int, help="per instance; default as for serve"
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="log every answer and print the workers' own latency per kind",
    )
    args = parser.parse_args()

    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    client = redis.Redis.from_url(args.redis_url)
    client.ping()

    upstream = StandIn(latency=args.latency).start()
    prefix = f"loadtest-{uuid.uuid4().hex[:8]}:"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOWNLOADS_")}
    env.update(
        DOWNLOADS_PORTAL_API_BASE_URL=upstream.url,
        DOWNLOADS_PORTAL_CACHE_TYPE="RedisCache",
        DOWNLOADS_PORTAL_CACHE_REDIS_URL=args.redis_url,
        DOWNLOADS_PORTAL_CACHE_KEY_PREFIX=prefix,
        # wrk names each simulated client in X-Forwarded-For, as a load balancer would.
        DOWNLOADS_PORTAL_PROXY_FIX_X_FOR="1",
        DOWNLOADS_PORTAL_LOG_LEVEL="info" if args.access_log else "warning",
    )
    ports = [free_port(), free_port()]
    logs = Path(tempfile.mkdtemp(prefix="loadtest-"))
    instances = [
        start_instance(port, env, logs, args.worker_class, args.workers)
        for port in ports
    ]
    try:
        env.update(
            LOADTEST_PORTS=",".join(map(str, ports)),
            LOADTEST_GOOD=str(args.good),
            LOADTEST_FAILING=str(args.failing),
            LOADTEST_SHARE_GOOD="0.80",
            LOADTEST_SHARE_UNKNOWN="0.15",
        )
        command = [wrk, "-t", str(args.threads), "-c", str(args.connections)]
        command += ["-d", f"{args.duration}s", "--timeout", "30s"]
        command += ["-s", str(HERE / "loadtest.lua"), f"http://127.0.0.1:{ports[0]}"]
        result = subprocess.run(command, env=env, capture_output=True, text=True)
    finally:
        for process in instances:
            process.terminate()
        for process in instances:
            process.wait(30)
        upstream.stop()
        keys = list(client.scan_iter(f"*{prefix}*"))
        if keys:
            client.delete(*keys)

    lines = [line for line in result.stdout.splitlines() if line.startswith("LOADTEST")]
    if result.returncode or not lines:
        print(result.stdout, result.stderr, sep="\n")
        return 1
    figures = dict(re.findall(r"(\w+)=([\d.]+)", lines[0]))
    calls = upstream.calls_by_kind()
    errors = sum(
        int(figures[k]) for k in ("wrong_answers", "socket_errors", "timeouts")
    )
    print(
        f"2 instances of {args.worker_class} workers, {args.connections} clients, "
        f"{args.duration} s, upstream latency {args.latency * 1000:.0f} ms"
    )
    print(
        f"requests      {figures['requests']} "
        f"({float(figures['requests']) / float(figures['seconds']):.0f}/s)"
    )
    print(
        f"errors        {errors}"
        f" (wrong answers {figures['wrong_answers']}, socket errors "
        f"{figures['socket_errors']}, timeouts {figures['timeouts']})"
    )
    print(
        f"latency       p50 {figures['p50_ms']} ms, p90 {figures['p90_ms']} ms, "
        f"p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms"
    )
    print(
        f"answers       good 200: {figures['good']}, guesses 404/429: "
        f"{figures['unknown']} ({figures['limited']} were 429), "
        f"failing 503: {figures['fail']}"
    )
    print(
        f"upstream      {sum(calls.values())} calls: good {calls['good']}, "
        f"unknown {calls['unknown']}, failing {calls['fail']}"
    )
    for line in lines[1:]:
        print(line.removeprefix("LOADTEST "))
    if args.access_log:
        print("in the workers (access log), per kind and status:")
        for line in kind_latencies(logs):
            print(f"  {line}")
    print(f"instance logs {logs}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
