"""The ``downloads-portal`` command."""

from __future__ import annotations

import click

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
    from . import create_app

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
