"""Resilience benchmark: a launch-day burst, a hanging Fileflare, a 429 window.

    .venv/bin/python -m bench.burst [--only burst,hang,429,drip] [--json FILE]

Each situation gets a fresh ``downloads-portal serve --workers 2`` (API_TIMEOUT 5, a
file cache) in front of the stand-in Fileflare on loopback, and prints its figures:

- burst: ``--orders`` different cold orders at once, Fileflare answering each after
  ``--latency`` s: the wall time of the whole burst as a ratio to that latency (the
  limit is 1.0), and /healthz meanwhile;
- hang: Fileflare reads every call and answers none; two waves of ``--wave`` cold
  orders, one after the other, while /healthz and an already cached order are probed;
  the calls Fileflare saw during the second wave; how soon a new order renders once
  Fileflare answers again;
- 429: Fileflare answers ``429 Retry-After: --retry-after``; a few clients open new
  orders and one an order seen before, for the whole window; the calls Fileflare saw
  in the window, the slowest answer, how soon new orders render after it;
- drip: Fileflare sends its status line and headers a byte every 1.5 s.

Traffic goes to 127.0.0.1 only; every request gives up after ``--timeout`` s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .serving import gunicorn
from .standin import StandIn

API_TIMEOUT = 5
SITUATIONS = ("burst", "hang", "429", "drip")


@dataclass(frozen=True)
class Answer:
    """One request's outcome: status (0 for no answer), seconds, Retry-After."""

    status: int
    seconds: float
    retry_after: str | None = None


async def fetch(port: int, path: str, timeout: float) -> Answer:
    """GET ``path`` on a new connection; a timeout or a dropped one is status 0."""
    started = time.perf_counter()
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.read()
    except (TimeoutError, OSError, asyncio.IncompleteReadError):
        return Answer(0, time.perf_counter() - started)
    finally:
        if writer is not None:
            writer.close()
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return Answer(
        int(lines[0].split()[1]),
        time.perf_counter() - started,
        headers.get("retry-after"),
    )


async def probe(port: int, path: str, stop: asyncio.Event) -> list[Answer]:
    """GET ``path`` one request after another, ten a second, until ``stop``."""
    answers = []
    while not stop.is_set():
        answers.append(await fetch(port, path, 10))
        try:
            await asyncio.wait_for(stop.wait(), 0.1)
        except TimeoutError:
            pass
    return answers


async def many(port: int, paths: Iterable[str], timeout: float) -> list[Answer]:
    """GET every path at once."""
    return await asyncio.gather(*(fetch(port, p, timeout) for p in paths))


async def until_rendered(port: int, prefix: str, limit: float) -> float | None:
    """Seconds until a new order under ``prefix`` renders (200), or None."""
    started = time.perf_counter()
    for n in range(10_000):
        if time.perf_counter() - started > limit:
            return None
        if (await fetch(port, f"/account/orders/{prefix}-{n}", 10)).status == 200:
            return round(time.perf_counter() - started, 2)
        await asyncio.sleep(0.5)
    return None


def spread(answers: list[Answer]) -> dict[str, Any]:
    """Summarise answers: count by status, p50 and max seconds."""
    seconds = [a.seconds for a in answers] or [0.0]
    return {
        "statuses": dict(sorted(Counter(a.status for a in answers).items())),
        "p50_s": round(statistics.median(seconds), 3),
        "max_s": round(max(seconds), 3),
    }


def orders(prefix: str, count: int) -> list[str]:
    """Paths of ``count`` different orders the stand-in knows."""
    return [f"/account/orders/good-{prefix}-{n}" for n in range(count)]


async def with_probes(
    port: int, paths: list[str], work: Awaitable[Any]
) -> tuple[Any, dict[str, dict[str, Any]]]:
    """Run ``work`` while probing each path; return its result and the probes'."""
    stop = asyncio.Event()
    probes = [asyncio.create_task(probe(port, p, stop)) for p in paths]
    result = await work
    stop.set()
    found = [spread(await p) for p in probes]
    return result, dict(zip(paths, found, strict=True))


async def burst(port: int, upstream: StandIn, args: argparse.Namespace) -> dict:
    """Many different cold orders at once, Fileflare slow but well."""
    upstream.latency = args.latency
    started = time.perf_counter()
    answers, probes = await with_probes(
        port, ["/healthz"], many(port, orders("burst", args.orders), args.timeout)
    )
    wall = time.perf_counter() - started
    return {
        "orders": args.orders,
        "latency_s": args.latency,
        "wall_s": round(wall, 2),
        "ratio": round(wall / args.latency, 2),
        "answers": spread(answers),
        "healthz": probes["/healthz"],
        "upstream_calls": sum(upstream.calls.values()),
    }


async def hang(port: int, upstream: StandIn, args: argparse.Namespace) -> dict:
    """Fileflare hangs: two waves of cold orders; /healthz and a cached page probed."""
    cached = "/account/orders/good-cached"
    assert (await fetch(port, cached, 10)).status == 200
    upstream.hang()
    began = time.monotonic()

    async def waves() -> list[dict]:
        first = spread(await many(port, orders("wave1", args.wave), args.timeout))
        second_began = time.monotonic()
        second = spread(await many(port, orders("wave2", args.wave), args.timeout))
        second["upstream_calls"] = upstream.calls_between(second_began)
        return [first, second]

    (first, second), probes = await with_probes(port, ["/healthz", cached], waves())
    upstream.release()
    return {
        "wave": args.wave,
        "first_wave": first,
        "second_wave": second,
        "upstream_calls_during_hang": upstream.calls_between(began),
        "healthz": probes["/healthz"],
        "cached_page": probes[cached],
        "renders_again_after_s": await until_rendered(port, "good-recovered", 75),
    }


async def rate_limited(port: int, upstream: StandIn, args: argparse.Namespace) -> dict:
    """Fileflare answers 429 with Retry-After; new orders and one seen before."""
    seen = "/account/orders/good-seen"
    assert (await fetch(port, seen, 10)).status == 200
    await asyncio.sleep(2.5)  # past ORDER_CACHE_SECONDS: only a stale copy is left
    upstream.rate_limit(args.retry_after)
    began = time.monotonic()
    ends = began + args.retry_after
    counter = iter(range(1_000_000))

    async def loop(path: Callable[[], str]) -> list[Answer]:
        answers = []
        while time.monotonic() < ends:
            answers.append(await fetch(port, path(), args.timeout))
            await asyncio.sleep(0.05)
        return answers

    def new() -> str:
        return f"/account/orders/good-new-{next(counter)}"

    runs = await asyncio.gather(
        *(loop(new) for _ in range(args.clients)), loop(lambda: seen)
    )
    calls = upstream.calls_between(began, ends)
    news = [a for run in runs[:-1] for a in run]
    polled = time.monotonic()
    after = await until_rendered(port, "good-after", 60)
    return {
        "retry_after_s": args.retry_after,
        "upstream_calls_in_window": calls,
        "new_orders": spread(news)
        | {"with_retry_after": sum(a.retry_after is not None for a in news)},
        "seen_order": spread(runs[-1]),
        "renders_again_after_window_end_s": (
            None if after is None else round(polled + after - ends, 2)
        ),
    }


async def drip(port: int, upstream: StandIn, args: argparse.Namespace) -> dict:
    """Fileflare drips its headers: cold orders wait, /healthz is probed."""
    upstream.drip(1.5)
    answers, probes = await with_probes(
        port, ["/healthz"], many(port, orders("drip", 20), args.timeout)
    )
    upstream.release()
    return {
        "orders": 20,
        "limit_s": 3 * API_TIMEOUT + 1,
        "answers": spread(answers),
        "healthz": probes["/healthz"],
    }


RUNS: dict[str, tuple[Callable[..., Awaitable[dict]], dict[str, str]]] = {
    "burst": (burst, {}),
    "hang": (hang, {}),
    "429": (rate_limited, {"ORDER_CACHE_SECONDS": "2"}),
    "drip": (drip, {}),
}


def run(name: str, args: argparse.Namespace) -> dict:
    """Run one situation against a fresh server and stand-in."""
    situation, env = RUNS[name]
    upstream = StandIn().start()
    settings = {"API_TIMEOUT": str(API_TIMEOUT), **env}
    try:
        with gunicorn(upstream.url, args.workers, settings, args.serve) as (base, _):
            port = urlsplit(base).port
            return asyncio.run(situation(port, upstream, args))
    finally:
        upstream.release()
        upstream.stop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.burst", description=__doc__)
    parser.add_argument("--only", default=",".join(SITUATIONS), help="situations")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--orders", type=int, default=500, help="burst orders")
    parser.add_argument("--latency", type=float, default=1.0, help="upstream seconds")
    parser.add_argument("--wave", type=int, default=200, help="orders per hang wave")
    parser.add_argument("--retry-after", type=int, default=20, help="429 seconds")
    parser.add_argument(
        "--clients", type=int, default=3, help="429 clients of new orders"
    )
    parser.add_argument("--timeout", type=float, default=60, help="request seconds")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument(
        "--serve", nargs=argparse.REMAINDER, default=[], help="serve's own options"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen situations and print their figures as JSON."""
    args = parse_args(argv)
    results = {}
    for name in args.only.split(","):
        started = time.monotonic()
        results[name] = run(name, args)
        results[name]["run_s"] = round(time.monotonic() - started, 1)
        print(json.dumps({name: results[name]}, indent=2), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
