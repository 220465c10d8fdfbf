"""gunicorn settings: workers from the cores, JSON logs, a redacted access log, metrics.

``downloads-portal serve`` uses them, as does the repository's ``gunicorn.conf.py``
and ``gunicorn -c python:downloads_portal.gunicorn_conf``.
"""

from __future__ import annotations

import datetime
import glob
import json
import math
import os
import tempfile
import warnings
from typing import Any

from gunicorn import glogging

from . import DEFAULTS, logs
from .security import redact


def setting(name: str) -> Any:
    """Read a DOWNLOADS_PORTAL_* variable as the app does: JSON where it parses."""
    value = os.environ.get(f"DOWNLOADS_PORTAL_{name}")
    if value is None:
        return DEFAULTS.get(name)
    try:
        return json.loads(value)
    except ValueError:
        return value


def cores() -> int:
    """Return the cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class AccessLog(glogging.Logger):
    """gunicorn's logger, with an access line that holds no query and no token."""

    def access(self, resp: Any, req: Any, environ: dict, request_time: Any) -> None:
        """Log one JSON access line, its path redacted and its query left out."""
        if not (self.cfg.accesslog or self.cfg.logconfig_dict):
            return
        headers = {name.lower(): value for name, value in resp.headers}
        status = str(resp.status).split(None, 1)[0]
        method = environ.get("REQUEST_METHOD", "-")
        path = redact(environ.get("PATH_INFO", ""))
        self.access_log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "request_id": headers.get("x-request-id"),
                "method": method,
                "path": path,
                "status": int(status) if status.isdigit() else status,
                "duration_ms": round(request_time / datetime.timedelta(milliseconds=1)),
                "bytes": getattr(resp, "sent", None),
                "remote": environ.get("REMOTE_ADDR"),
            },
        )


API_TIMEOUT = float(setting("API_TIMEOUT"))
METRICS_PORT = setting("METRICS_PORT")
METRICS_HOST = setting("METRICS_HOST") or "127.0.0.1"
if METRICS_PORT and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Before prometheus_client is imported anywhere: workers inherit it.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="portal-metrics-")

bind = ["127.0.0.1:8000"]
workers = min(2 * cores() + 1, 12)
# Waiting on Fileflare is I/O: greenlets wait by the thousand where threads by the
# handful, so a slow Fileflare starves nobody. The app is created after gevent patches
# the worker; ``--worker-class gthread`` keeps threads (``threads`` each).
worker_class = "gevent"
worker_connections = 1000
threads = 8
# ssl is imported here, in the master, before gevent patches it in the worker; the
# client makes its TLS context in the worker (deadline.DeadlineAdapter), so the
# warning gevent prints into the JSON log would only mislead.
warnings.filterwarnings("ignore", message="Monkey-patching ssl after ssl")
# A request may wait for another's fetch (at most 3 timeouts), then fetch itself.
timeout = math.ceil(6 * API_TIMEOUT) + 10
graceful_timeout = math.ceil(3 * API_TIMEOUT) + 5
keepalive = 5
accesslog = "-"
# Several instances may share a machine and a home folder; nothing uses the socket.
control_socket_disable = True
logger_class = AccessLog
loglevel = str(setting("LOG_LEVEL") or "info")
logconfig_dict = logs.logging_config(loglevel.upper())


def on_starting(server: Any) -> None:
    """Clear the metrics a previous run left behind."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if METRICS_PORT and folder:
        for path in glob.glob(os.path.join(folder, "*.db")):
            os.remove(path)


def when_ready(server: Any) -> None:
    """Serve every worker's metrics from the master, on their own port."""
    if not METRICS_PORT:
        return
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(int(METRICS_PORT), addr=METRICS_HOST, registry=registry)
    server.log.info("metrics on http://%s:%s/metrics", METRICS_HOST, METRICS_PORT)


def child_exit(server: Any, worker: Any) -> None:
    """Forget a dead worker's live values."""
    if METRICS_PORT:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
