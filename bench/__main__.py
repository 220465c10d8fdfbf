"""Run the benchmark: ``python -m bench`` (``--help`` for the knobs)."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import statistics
import time
from pathlib import Path

import requests

from downloads_portal import gunicorn_conf

from . import load
from .serving import gunicorn
from .standin import StandIn

HERE = Path(__file__).resolve().parent
FRESH_SECONDS = 30


def main(argv: list[str] | None = None) -> int:
    """Measure every route, write JSON, Markdown and a plot, print the table."""
    args = parse_args(argv)
    upstream = StandIn().start()
    fresh = {"ORDER_CACHE_SECONDS": str(FRESH_SECONDS)}
    serve = ["--worker-class", args.worker_class]
    with gunicorn(upstream.url, args.workers, fresh, serve) as (base, master):
        targets = {"healthz": "/healthz", "example": "/account/orders/example"}
        targets |= {f"lines-{n}": f"/account/orders/lines-{n}" for n in args.sizes}
        started = time.monotonic()
        for path in targets.values():
            requests.get(base + path, timeout=10).raise_for_status()
        runs: dict[str, list[load.Result]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            # Interleaved rounds, so a noisy moment hurts every route alike.
            for name, path in targets.items():
                runs[name].append(
                    load.run(base + path, args.duration, args.connections)
                )
        elapsed = time.monotonic() - started
        rss = worker_rss(master)
        wire = bytes_on_the_wire(base)
    upstream.stop()

    routes = summarise(runs)
    views = sum(
        r.requests for name, rs in runs.items() if name != "healthz" for r in rs
    )
    calls = sum(upstream.calls.values())
    windows = max(1, -(-int(elapsed) // FRESH_SECONDS))
    results = {
        "machine": machine(),
        "settings": vars(args) | {"fresh_seconds": FRESH_SECONDS},
        "generator": "wrk" if shutil.which("wrk") else "python",
        "routes": routes,
        "worker_rss_mib": rss,
        "upstream": {
            "page_views": views,
            "calls": calls,
            "calls_per_1000_views": round(1000 * calls / max(views, 1), 3),
            "fresh_windows": windows,
            "calls_per_order_per_window": max(
                (round(n / windows, 2) for n in upstream.calls.values()), default=0
            ),
        },
        "bytes": wire,
    }
    write(results, Path(args.out))
    print(markdown(results))
    errors = sum(route["errors"] for route in routes.values())
    return 1 if errors else 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=7, help="runs per route")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--worker-class", default="gevent", help="gevent or gthread")
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[1, 10, 30, 60, 100],
        help="order sizes in line items (3 files each)",
    )
    parser.add_argument("--out", default=str(HERE / "results"))
    return parser.parse_args(argv)


def summarise(runs: dict[str, list[load.Result]]) -> dict[str, dict]:
    """Take each route's median run and its ratio to /healthz in the same run."""
    ceiling = statistics.median(r.rps for r in runs["healthz"])
    return {
        name: {
            "rps": round(statistics.median(r.rps for r in rs), 1),
            "ratio": round(statistics.median(r.rps for r in rs) / ceiling, 3),
            "p50_ms": round(statistics.median(r.p50_ms for r in rs), 2),
            "p99_ms": round(statistics.median(r.p99_ms for r in rs), 2),
            "requests": sum(r.requests for r in rs),
            "errors": sum(r.errors for r in rs),
        }
        for name, rs in runs.items()
    }


def worker_rss(master: int) -> list[float]:
    """Return each gunicorn worker's resident memory in MiB."""
    children = Path(f"/proc/{master}/task/{master}/children")
    pids = children.read_text().split() if children.exists() else []
    sizes = []
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(round(int(line.split()[1]) / 1024, 1))
    return sizes


def bytes_on_the_wire(base: str) -> dict[str, int]:
    """Measure the example page's HTML and CSS, raw and gzipped."""
    html = requests.get(base + "/account/orders/example", timeout=10).content
    css_path = "/static/" + next(
        part.split('"')[0] for part in html.decode().split('href="/static/')[1:]
    )
    css = requests.get(base + css_path, timeout=10).content
    return {
        "html": len(html),
        "css": len(css),
        "html_gzip": len(gzip.compress(html, 9)),
        "css_gzip": len(gzip.compress(css, 9)),
        "total_gzip": len(gzip.compress(html, 9)) + len(gzip.compress(css, 9)),
    }


def machine() -> dict[str, str | int]:
    """Describe the machine the run was measured on."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count() or 0,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }


def markdown(results: dict) -> str:
    """Render the results as the table in docs/benchmark.md."""
    lines = [
        "| route | req/s | ratio to /healthz | p50 ms | p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results["routes"].items():
        label = route_label(name)
        lines.append(
            f"| {label} | {r['rps']:.0f} | {r['ratio']:.2f} | {r['p50_ms']:.2f}"
            f" | {r['p99_ms']:.2f} | {r['errors']} |"
        )
    up, wire, m = results["upstream"], results["bytes"], results["machine"]
    settings = results["settings"]
    rss = ", ".join(f"{x:.0f}" for x in results["worker_rss_mib"])
    per_window = up["calls_per_order_per_window"]
    lines += [
        "",
        f"- upstream calls per 1000 page views: {up['calls_per_1000_views']}"
        f" ({up['calls']} calls for {up['page_views']} views; at most"
        f" {per_window} per order per {FRESH_SECONDS} s window)",
        f"- example page on the wire: HTML {wire['html']} B"
        f" ({wire['html_gzip']} B gzipped), CSS {wire['css']} B"
        f" ({wire['css_gzip']} B gzipped), together {wire['total_gzip']} B gzipped",
        f"- memory per worker (RSS): {rss} MiB",
        f"- measured {m['date']} on {m['cores']} cores ({m['cpu']}),"
        f" Python {m['python']}, `downloads-portal serve` with {settings['workers']}"
        f" {workers_named(settings['worker_class'])},"
        f" {results['generator']} with {settings['connections']} clients, a new"
        " connection per request,"
        f" {settings['rounds']} x {settings['duration']:g} s per route",
    ]
    return "\n".join(lines)


def workers_named(worker_class: str) -> str:
    """Name the workers as the table's note shows them."""
    if worker_class == "gthread":
        return f"gthread workers of {gunicorn_conf.threads} threads"
    return f"{worker_class} workers"


def route_label(name: str) -> str:
    """Name a route as the table shows it."""
    if name == "healthz":
        return "`/healthz`"
    if name == "example":
        return "example order"
    lines = int(name.removeprefix("lines-"))
    return f"{lines} line{'s' if lines != 1 else ''}, {3 * lines} files"


def write(results: dict, out: Path) -> None:
    """Write results.json, results.md and, with matplotlib, throughput.png."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(markdown(results) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        print("matplotlib not installed (pip install -e '.[bench]'): no plot")
        return
    sizes = [
        (3 * int(name.split("-")[1]), r["ratio"])
        for name, r in results["routes"].items()
        if name.startswith("lines-")
    ]
    figure, axes = pyplot.subplots(figsize=(6, 3.5), dpi=100)
    axes.plot([s for s, _ in sizes], [r for _, r in sizes], marker="o")
    axes.axhline(1.0, color="grey", linewidth=0.8, linestyle="--", label="/healthz")
    axes.set_xlabel("files on the page (3 per line item)")
    axes.set_ylabel("throughput / /healthz")
    axes.set_ylim(0, 1.1)
    axes.set_title("Order page throughput against order size")
    axes.legend()
    figure.tight_layout()
    figure.savefig(out / "throughput.png")


if __name__ == "__main__":
    raise SystemExit(main())
