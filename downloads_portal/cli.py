"""The ``downloads-portal`` command."""

from __future__ import annotations

import logging
import time
from typing import Any

import click
from gunicorn.app.base import BaseApplication
from werkzeug.serving import WSGIRequestHandler

from . import logs

#: Where ``run`` writes its access lines, as gunicorn's workers do.
ACCESS_LOG = logging.getLogger("downloads_portal.access")


class Server(BaseApplication):
    """gunicorn with the settings of ``gunicorn_conf`` and the command's options."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Apply gunicorn_conf's settings, then the command's options."""
        from . import gunicorn_conf

        for name, value in vars(gunicorn_conf).items():
            if name in self.cfg.settings:
                self.cfg.set(name, value)
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        """Create the app in each worker."""
        from . import create_app

        return create_app()


HOST = click.option("--host", default="127.0.0.1", show_default=True)
PORT = click.option("--port", default=5000, show_default=True, type=int)


@click.group()
def main() -> None:
    """Serve the customer download page."""


class DevRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler, writing the access line gunicorn's workers write."""

    environ: dict[str, Any]

    def handle_one_request(self) -> None:
        """Serve one request of the connection, forgetting the previous one's."""
        self.environ = {}
        super().handle_one_request()

    def run_wsgi(self) -> None:
        """Serve one request, timed for its access line."""
        self.started = time.perf_counter()
        super().run_wsgi()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log the request as one JSON line, with its id and without colours."""
        # No environ: the request line did not parse, and the app never saw it.
        environ = self.environ or {"REQUEST_METHOD": self.command, "PATH_INFO": ""}
        seconds = time.perf_counter() - getattr(self, "started", time.perf_counter())
        logs.access(ACCESS_LOG, environ, str(code), seconds, size)

    def log_error(self, format: str, *args: Any) -> None:
        """Log an error by its kind alone: http.server's messages quote the request."""
        words = format.split("%", 1)[0].strip(" :,")
        if format.startswith("code %d") and args:
            words = f"code {args[0]}"
        self.log("error", "%s", words)


def address(host: str, port: int) -> str:
    """Return the URL of a server listening on ``host`` and ``port``."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


@main.command()
@HOST
@PORT
def run(host: str, port: int) -> None:
    """Run the development server against the configured upstream.

    The upstream is DOWNLOADS_PORTAL_API_BASE_URL (Fileflare unless set). To try
    it against the stand-in on this machine, start `python -m bench.standin
    --port 5001` and set DOWNLOADS_PORTAL_API_BASE_URL=http://127.0.0.1:5001.
    """
    from . import create_app, settings

    logs.configure(str(settings()["LOG_LEVEL"]).upper())
    app = create_app()
    base = address(host, port)
    click.echo(f"Orders:  {base}/account/orders/<token>")
    click.echo(f"Health:  {base}/healthz")
    click.echo(f"Upstream: {app.config['API_BASE_URL']}")
    click.echo("Log lines are JSON, on stderr. Ctrl+C stops.")
    app.run(host=host, port=port, request_handler=DevRequestHandler)


@main.command()
@HOST
@PORT
def preview(host: str, port: int) -> None:
    """Run the designers' gallery: fixture orders, no network, templates reloaded."""
    from . import create_app, settings

    logs.configure(str(settings()["LOG_LEVEL"]).upper())
    app = create_app({"PREVIEW": True})
    click.echo(f"Preview: {address(host, port)}/preview")
    click.echo("Templates and stylesheets reload on every request. Ctrl+C stops.")
    app.run(host=host, port=port, request_handler=DevRequestHandler)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers", type=int, help="Processes; default 2 per core and 1, at most 12."
)
@click.option(
    "--worker-class",
    type=click.Choice(["gevent", "gthread"]),
    help="gevent (the default): cooperative; gthread: threads.",
)
@click.option("--threads", type=int, help="Threads per gthread worker; default 8.")
def serve(
    host: str,
    port: int,
    workers: int | None,
    worker_class: str | None,
    threads: int | None,
) -> None:
    """Serve with gunicorn: JSON logs, graceful shutdown, metrics if configured."""
    options = {
        "bind": [f"{host}:{port}"],
        "workers": workers,
        "worker_class": worker_class,
        "threads": threads,
    }
    Server({k: v for k, v in options.items() if v is not None}).run()
