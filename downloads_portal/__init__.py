"""The customer download page for Shopify stores that sell through Fileflare."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Config, Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import (
    account,
    downloads,
    errors,
    health,
    landing,
    languages,
    limits,
    logs,
    metrics,
    pages,
    preview,
    proxy,
    security,
    store,
    storefront,
    themes,
    wording,
)
from .breaker import Breaker, Thresholds
from .breaker_storage import breaker_storage
from .config import ENV_PREFIX, check_settings, read_text_settings
from .fixtures.scenarios import FixtureSource
from .upstream import FileflareClient, OrderSource

PACKAGE_DIR = Path(__file__).resolve().parent

DEFAULTS: dict[str, Any] = {
    "API_BASE_URL": "https://app.digital-downloads.com",
    "API_TIMEOUT": 5,
    "API_MAX_BYTES": 2 * 1024 * 1024,
    "ORDER_CACHE_SECONDS": 30,
    "STALE_ORDER_SECONDS": 86400,
    "NOT_FOUND_CACHE_SECONDS": 15,
    "FAILURE_CACHE_SECONDS": 3,
    "CACHE_TYPE": "FileSystemCache",
    "CACHE_DIR": None,
    "CACHE_THRESHOLD": 10000,
    "CACHE_KEY_PREFIX": "downloads-portal:",
    "LOCAL_CACHE_ITEMS": 256,
    "LOCAL_CACHE_SECONDS": 1,
    "PAGE_MEMO_CHARS": 32_000_000,
    "CACHE_OPTIONS": None,
    "REDIS_TIMEOUT": 0.25,
    "RETRY_AFTER_SECONDS": 30,
    "UPSTREAM_CONCURRENCY": 250,
    "BREAKER_WINDOW_SECONDS": 30,
    "BREAKER_MIN_ORDERS": 10,
    "BREAKER_FAILURE_RATE": 0.5,
    "BREAKER_COOL_OFF_SECONDS": 30,
    "RETRY_AFTER_MAX_SECONDS": 300,
    "SHOPIFY_API_SECRET": None,
    "PROXY_TIMESTAMP_SKEW": 90,
    "PROXY_STANDALONE": False,
    "PROXY_REQUIRE_LOGIN": False,
    "PUBLIC_URL": None,
    "PREVIEW": False,
    "THEME_DIR": None,
    "NOT_FOUND_RATE_LIMIT": "20 per minute",
    "PROXY_FIX_X_FOR": 0,
    "DEFAULT_LOCALE": "en",
    "STORE_NAME": None,
    "STORE_URL": None,
    "SUPPORT_URL": None,
    # Read by gunicorn_conf, for serving.
    "LOG_LEVEL": "info",
    "METRICS_PORT": None,
    "METRICS_HOST": "127.0.0.1",
}


def resource_dir(name: str) -> str:
    """Find ``templates`` or ``static``: in the wheel's copy, else the source tree."""
    packaged = PACKAGE_DIR / name
    if packaged.is_dir():
        return str(packaged)
    return str(PACKAGE_DIR.parent / name)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the app: defaults, then DOWNLOADS_PORTAL_* variables, then ``config``."""
    app = Flask(
        __name__,
        template_folder=resource_dir("templates"),
        static_folder=resource_dir("static"),
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    load_settings(app.config)
    if config is not None:
        app.config.from_mapping(config)
    check_settings(app.config)
    if app.config["PREVIEW"]:
        # Designers edit templates and want every change on the next reload.
        app.config["TEMPLATES_AUTO_RELOAD"] = app.jinja_env.auto_reload = True
        # Without a cache, a template newly added to a theme is found at once too.
        app.jinja_env.cache = None
        app.config["CACHE_TYPE"] = "SimpleCache"

    register_extensions(app, make_source(app))
    register_blueprints(app)
    errors.init_app(app)
    limits.init_app(app)
    trust_proxies(app)
    return app


def trust_proxies(app: Flask) -> None:
    """Read the client's address from the PROXY_FIX_X_FOR hops our proxies add."""
    hops = int(app.config["PROXY_FIX_X_FOR"])
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)  # type: ignore[method-assign]


def load_settings(config: Config) -> None:
    """Fill ``config`` with the defaults, then the DOWNLOADS_PORTAL_* variables
    (each read as JSON where it parses, else as text; text settings as text)."""
    config.from_mapping(DEFAULTS)
    config.from_prefixed_env(ENV_PREFIX)
    read_text_settings(config, os.environ)


def settings() -> Config:
    """Return the settings as the app reads them, without an app (for gunicorn)."""
    config = Config(str(PACKAGE_DIR))
    load_settings(config)
    check_settings(config)
    return config


def make_source(app: Flask) -> OrderSource:
    """Return the upstream the app fetches orders from: Fileflare, or the fixtures."""
    if app.config["PREVIEW"]:
        return FixtureSource()
    return FileflareClient(
        app.config["API_BASE_URL"],
        timeout=float(app.config["API_TIMEOUT"]),
        max_bytes=int(app.config["API_MAX_BYTES"]),
        concurrency=int(app.config["UPSTREAM_CONCURRENCY"]),
        breaker=make_breaker(app),
    )


def make_breaker(app: Flask) -> Breaker:
    """Return the circuit breaker on Fileflare, with the configured thresholds."""
    config = app.config
    thresholds = Thresholds(
        window_seconds=float(config["BREAKER_WINDOW_SECONDS"]),
        min_orders=int(config["BREAKER_MIN_ORDERS"]),
        failure_rate=float(config["BREAKER_FAILURE_RATE"]),
        cool_off_seconds=float(config["BREAKER_COOL_OFF_SECONDS"]),
        max_open_seconds=float(config["RETRY_AFTER_MAX_SECONDS"]),
    )
    breaker = Breaker(breaker_storage(app), thresholds)
    app.extensions["upstream_breaker"] = breaker
    return breaker


def register_extensions(app: Flask, source: OrderSource) -> None:
    """Set up the theme, languages, request ids, metrics, cache, store, headers."""
    themes.init_app(app)
    storefront.init_app(app)
    languages.init_app(app)
    wording.init_app(app)
    logs.init_app(app)
    metrics.init_app(app)
    store.init_app(app, source)
    pages.init_app(app)
    security.init_app(app)


def register_blueprints(app: Flask) -> None:
    """Attach the routes."""
    app.register_blueprint(health.bp)
    app.register_blueprint(landing.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(downloads.bp)
    proxy.init_app(app)
    if app.config["PREVIEW"]:
        app.register_blueprint(preview.bp)
