"""Whose store: its name and the links back to it and to its help, on every page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request

from .config import SettingError, variable
from .languages import LOCALE_PARAM, LOCALE_RE
from .security import safe_url

#: The most characters a store's name may have on the page.
MAX_NAME = 100


@dataclass(frozen=True, slots=True)
class Store:
    """The store as the page names it; every field is None when not set."""

    name: str | None = None
    url: str | None = None
    support_url: str | None = None


def read_settings(config: dict[str, Any]) -> Store:
    """Check STORE_NAME, STORE_URL and SUPPORT_URL; raise naming a bad one."""
    name = _setting(config, "STORE_NAME")
    if name is not None and (len(name) > MAX_NAME or not name.isprintable()):
        raise SettingError(
            f"{variable('STORE_NAME')} must be printable text"
            f" of at most {MAX_NAME} characters"
        )
    url = _setting(config, "STORE_URL")
    if url is not None and safe_url(url) is None:
        raise SettingError(
            f"{variable('STORE_URL')} must be an absolute http:// or https:// URL"
        )
    support = _setting(config, "SUPPORT_URL")
    if support is not None and safe_url(support) is None and not _mailto(support):
        raise SettingError(
            f"{variable('SUPPORT_URL')} must be an absolute http(s) URL"
            " or mailto:an@address"
        )
    return Store(name, url, support)


def _setting(config: dict[str, Any], name: str) -> str | None:
    value = config.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise SettingError(f"{variable(name)} must be text")
    return value.strip() or None


def _mailto(value: str) -> bool:
    """Whether ``value`` is a plain ``mailto:`` link to one address."""
    if any(ord(c) < 0x21 or c in "\x7f\\<>\"'" for c in value):
        return False
    parts = urlsplit(value)
    address = parts.path
    return (
        parts.scheme.lower() == "mailto"
        and re.fullmatch(r"[^@/]+@[^@/]+\.[^@/]+", address) is not None
    )


def current_store() -> Store:
    """The store for this request: through the app proxy, its own address (a shop
    the signature check has already found to be a myshopify.com domain)."""
    store: Store = current_app.extensions["store"]
    proxied = g.get("proxy")
    if proxied is not None:
        return Store(store.name, f"https://{proxied.shop}/", store.support_url)
    return store


def this_page(add: str = "", keep_locale: bool = True) -> str:
    """The address of the page being answered, for "Try again": the store's own
    path through the app proxy, else ours, with the chosen language kept.

    A form's answer names the page the form was on (``g.page_path``). ``add`` goes
    on the end: the Download forms post to ``this_page(add="/download", ...)``.
    """
    proxied = g.get("proxy")
    path: str = g.get("page_path", request.path) + add
    if proxied is not None:
        path = proxied.path_prefix + path.removeprefix("/proxy")
    locale = request.args.get(LOCALE_PARAM, "") if keep_locale else ""
    return path + (f"?{LOCALE_PARAM}={locale}" if LOCALE_RE.fullmatch(locale) else "")


def store_context() -> dict[str, Any]:
    """Give templates the store and the address of this page."""
    return {"store": current_store(), "this_page": this_page}


def init_app(app: Flask) -> None:
    """Check the store's settings at start, so a bad one stops the app."""
    app.extensions["store"] = read_settings(app.config)
    app.context_processor(store_context)
