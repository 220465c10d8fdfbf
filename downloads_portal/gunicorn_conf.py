"""gunicorn settings: workers from the cores, JSON logs, a redacted access log, metrics.

``downloads-portal serve`` uses them, as does the repository's ``gunicorn.conf.py``
and ``gunicorn -c python:downloads_portal.gunicorn_conf``.
"""

from __future__ import annotations

import datetime
import glob
import logging
import math
import os
import tempfile
import warnings
from collections.abc import MutableMapping
from typing import Any

from gunicorn import glogging
from gunicorn.http import Request
from gunicorn.http.wsgi import Response

from . import logs, proxy, settings
from .security import unknown_path


def cores() -> int:
    """Return the cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class AccessLog(glogging.Logger):
    """gunicorn's logger, with an access line that holds no query and no token."""

    def access(
        self,
        resp: Response,
        req: Request,
        environ: MutableMapping[str, Any],
        request_time: datetime.timedelta,
    ) -> None:
        """Log one JSON access line, its path redacted and its query left out."""
        if not (self.cfg.accesslog or self.cfg.logconfig_dict):
            return
        logs.access(
            self.access_log,
            environ,
            status=str(resp.status).split(None, 1)[0],
            seconds=request_time.total_seconds(),
            size=getattr(resp, "sent", None),
        )


#: The app's settings, read the app's way: defaults, then DOWNLOADS_PORTAL_*.
SETTINGS = settings()
API_TIMEOUT = float(SETTINGS["API_TIMEOUT"])
METRICS_PORT = SETTINGS["METRICS_PORT"]
METRICS_HOST = str(SETTINGS["METRICS_HOST"] or "127.0.0.1")

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
loglevel = str(SETTINGS["LOG_LEVEL"] or "info")
logconfig_dict = logs.logging_config(loglevel.upper())


def pre_request(worker: Any, req: Request) -> None:
    """Log a request as it starts, at debug, its raw path hidden."""
    # The path's fingerprint is a SHA-256: made only when the line is written.
    if worker.log.error_log.isEnabledFor(logging.DEBUG):
        worker.log.debug(
            "%s %s", logs.log_method(req.method), unknown_path(req.path or "")
        )


def on_starting(server: Any) -> None:
    """Before any worker starts: give the metrics a folder, and say what is missing.

    What the master says here is said once, not again by every worker.
    """
    if METRICS_PORT:
        metrics_folder()
    proxy.warn_without_secret(SETTINGS)


def metrics_folder() -> str:
    """Name the folder where workers write their metrics, emptied of a past run's.

    Set before prometheus_client is imported anywhere: the workers inherit it.
    """
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        folder = tempfile.mkdtemp(prefix="portal-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    for path in glob.glob(os.path.join(folder, "*.db")):
        os.remove(path)
    return folder


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
