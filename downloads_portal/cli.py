"""The ``downloads-portal`` command."""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click
from gunicorn.app.base import BaseApplication
from gunicorn.errors import AppImportError, HaltServer
from werkzeug.serving import WSGIRequestHandler

from . import logs
from .config import SettingError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask

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


#: Where BodySize leaves the size of an answer's body, for its access line.
SIZE_KEY = "downloads_portal.bytes"


class BodySize:
    """Count the bytes of each answer's body, as gunicorn's access line gives them."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterator[bytes]:
        environ[SIZE_KEY] = 0
        body = self.app(environ, start_response)
        try:
            for chunk in body:
                environ[SIZE_KEY] += len(chunk)
                yield chunk
        finally:
            if hasattr(body, "close"):
                body.close()


class DevRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler, writing the access line gunicorn's workers write."""

    environ: dict[str, Any]
    #: The status of the app's answer, logged once its body is sent.
    answered: int | str | None = None

    def handle_one_request(self) -> None:
        """Serve one request of the connection, forgetting the previous one's."""
        self.environ = {}
        self.answered = None
        super().handle_one_request()

    def run_wsgi(self) -> None:
        """Serve one request, then log it with its time and its body's size."""
        self.started = time.perf_counter()
        try:
            super().run_wsgi()
        finally:
            if self.answered is not None:
                self.log_access(self.answered, self.environ.get(SIZE_KEY))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Note the app's status as its headers go out; log any other at once."""
        if self.environ:
            self.answered = code
        else:
            # No environ: the request line did not parse, and the app never saw it.
            self.log_access(code, None)

    def log_access(self, code: int | str, size: int | None) -> None:
        """Log the request as one JSON line, with its id and without colours."""
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
    serve_here(app, host, port)


def serve_here(app: Flask, host: str, port: int) -> None:
    """Run the development server, writing gunicorn's access lines."""
    app.wsgi_app = BodySize(app.wsgi_app)  # type: ignore[method-assign]
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
    serve_here(app, host, port)


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
@stops_on_bad_settings
def serve(
    host: str,
    port: int,
    workers: int | None,
    worker_class: str | None,
    threads: int | None,
) -> None:
    """Serve with gunicorn: JSON logs, graceful shutdown, metrics if configured."""
    from . import settings

    settings()  # Checked here first: gunicorn_conf reads them too.
    options = {
        "bind": [f"{host}:{port}"],
        "workers": workers,
        "worker_class": worker_class,
        "threads": threads,
    }
    try:
        Server({k: v for k, v in options.items() if v is not None}).run()
    except HaltServer as exc:
        # gunicorn raises it a second time, unhandled, when two workers fail to load.
        click.echo(f"Error: {exc.reason}", err=True)
        sys.exit(exc.exit_status)
