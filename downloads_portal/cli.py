"""The ``downloads-portal`` command."""

from __future__ import annotations

from typing import Any

import click
from gunicorn.app.base import BaseApplication


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


@main.command()
@HOST
@PORT
def run(host: str, port: int) -> None:
    """Run the development server against the configured upstream."""
    from . import create_app, logs

    logs.configure()
    create_app().run(host=host, port=port)


@main.command()
@HOST
@PORT
def preview(host: str, port: int) -> None:
    """Run the designers' gallery: fixture orders, no network, templates reloaded."""
    from . import create_app

    app = create_app({"PREVIEW": True})
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Preview: http://{shown}:{port}/preview")
    click.echo("Templates and stylesheets reload on every request. Ctrl+C stops.")
    app.run(host=host, port=port)


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
