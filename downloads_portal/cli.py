"""The ``downloads-portal`` command."""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import click
from gunicorn.app.base import BaseApplication
from gunicorn.errors import AppImportError, HaltServer
from werkzeug.serving import WSGIRequestHandler

from . import logs
from .config import SettingError

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
        """Create the app in each worker; a bad setting stops gunicorn with its
        message alone (gunicorn prints an AppImportError without a traceback)."""
        from . import create_app

        try:
            return create_app()
        except SettingError as exc:
            raise AppImportError(str(exc)) from None


HOST = click.option("--host", default="127.0.0.1", show_default=True)
PORT = click.option("--port", default=5000, show_default=True, type=int)


@click.group()
def main() -> None:
    """Serve the customer download page."""


def stops_on_bad_settings(command: Callable[..., None]) -> Callable[..., None]:
    """Say what is wrong with a setting in one line, without a traceback."""

    @functools.wraps(command)
    def checked(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except SettingError as exc:
            raise click.ClickException(str(exc)) from None

    return checked


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
@stops_on_bad_settings
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
@stops_on_bad_settings
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
@click.option("--threads", type=int, help="Threads per worker; default 8.")
@stops_on_bad_settings
def serve(host: str, port: int, workers: int | None, threads: int | None) -> None:
    """Serve with gunicorn: JSON logs, graceful shutdown, metrics if configured."""
    from . import settings

    settings()  # Checked here first: gunicorn_conf reads them too.
    options = {"bind": [f"{host}:{port}"], "workers": workers, "threads": threads}
    try:
        Server({k: v for k, v in options.items() if v is not None}).run()
    except HaltServer as exc:
        # gunicorn raises it a second time, unhandled, when two workers fail to load.
        click.echo(f"Error: {exc.reason}", err=True)
        sys.exit(exc.exit_status)
