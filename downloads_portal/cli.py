"""The ``downloads-portal`` command."""

from __future__ import annotations

import click


@click.group()
def main() -> None:
    """Serve the customer download page."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def run(host: str, port: int) -> None:
    """Run the development server against the configured upstream."""
    from . import create_app

    create_app().run(host=host, port=port)
