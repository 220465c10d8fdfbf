"""Designers' themes: a folder whose templates, files and wording override ours."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, send_from_directory, url_for
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

from .config import SettingError, variable
from .security import Verbatim, safe_url

log = logging.getLogger(__name__)

#: The element that holds a fragment (templates/proxy/fragment.html).
FRAGMENT_SELECTOR = "#downloads-portal"

# Never inlined: text that would end the <style> element or run as Liquid.
_UNSAFE_IN_STYLE = re.compile(r"</|\{\{|\{%")

#: The optional stylesheet a theme adds after portal.css, to set a few variables.
THEME_STYLESHEET = "theme.css"


def theme_static(filename: str) -> Response:
    """Serve a static file from the theme's ``static/`` if it has one, else ours."""
    path = static_path(current_app, filename)
    max_age = current_app.get_send_file_max_age(filename)
    return send_from_directory(path.parent, path.name, max_age=max_age)


def stylesheet_context() -> dict[str, list[str]]:
    """Give templates the stylesheets to link: ours, and the theme's ``theme.css``."""
    names = stylesheets(current_app)
    return {"stylesheet_hrefs": [url_for("static", filename=n) for n in names]}


def static_path(app: Flask, filename: str) -> Path:
    """Return the file the static route serves: the theme's, else ours.

    ``filename`` comes from the URL: one that would leave a folder is not found.
    """
    for folder in (app.extensions.get("theme_static"), app.static_folder):
        path = safe_join(folder, filename) if folder else None
        if path is not None and os.path.isfile(path):
            return Path(path)
    raise NotFound()


def stylesheets(app: Flask) -> list[str]:
    """Name the stylesheets a page uses, in order: ours, then the theme's variables."""
    folder = app.extensions.get("theme_static")
    if folder is not None and os.path.isfile(os.path.join(folder, THEME_STYLESHEET)):
        return ["portal.css", THEME_STYLESHEET]
    return ["portal.css"]


@dataclass(frozen=True, slots=True)
class Stylesheets:
    """How proxy pages load the stylesheets: URLs on our host, or inline."""

    stylesheet_urls: tuple[str, ...]
    inline_css: Verbatim | None


def proxy_stylesheets(app: Flask) -> Stylesheets:
    """Link the stylesheets (a theme's included) from PUBLIC_URL, or read them."""
    names = stylesheets(app)
    public_url = app.config.get("PUBLIC_URL")
    if public_url:
        url = safe_url(str(public_url))
        if url is not None:
            parts = urlsplit(url)
            root = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
            base = root + (app.static_url_path or "")
            return Stylesheets(tuple(f"{base}/{name}" for name in names), None)
        log.warning("PUBLIC_URL is not an http(s) URL; the proxy inlines its styles")
    css = "\n".join(
        static_path(app, name).read_text(encoding="utf-8") for name in names
    )
    if _UNSAFE_IN_STYLE.search(css):
        log.warning("a stylesheet holds '</', '{{' or '{%'; proxy pages go unstyled")
        return Stylesheets((), None)
    if not app.config["PROXY_STANDALONE"]:
        css = scoped(css)
    return Stylesheets((), Verbatim(css))


def scoped(css: str) -> str:
    """Confine the stylesheet to the fragment, so the theme around it keeps its looks.

    The page's ``:root`` settings move to the fragment itself; rules for ``body`` and
    other elements outside it match nothing. Browsers without ``@scope`` skip the
    whole block and show the fragment in the theme's own styles.
    """
    inner = re.sub(r":root\b", ":scope", css)
    return f"@scope ({FRAGMENT_SELECTOR}) {{\n{inner}\n}}\n"


def init_app(app: Flask) -> None:
    """Put the THEME_DIR folder in front of the built-in templates and files."""
    app.context_processor(stylesheet_context)
    theme_dir = app.config.get("THEME_DIR")
    if not theme_dir:
        return
    root = Path(theme_dir).expanduser().resolve()
    if not root.is_dir():
        raise SettingError(f"{variable('THEME_DIR')} {str(root)!r} is not a folder")
    builtin: BaseLoader | None = app.jinja_loader
    loaders: list[BaseLoader] = [FileSystemLoader(root / "templates")]
    if builtin is not None:
        loaders.append(builtin)
    app.jinja_loader = ChoiceLoader(loaders)
    app.extensions["theme_dir"] = str(root)
    app.extensions["theme_static"] = str(root / "static")
    app.view_functions["static"] = theme_static
