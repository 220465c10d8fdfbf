"""The Shopify app proxy: signed requests from the store, answered as Liquid."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from flask import Blueprint, Flask, Response, current_app, g, render_template, request
from werkzeug.exceptions import Forbidden, NotFound

from . import downloads, themes
from .account import order_page
from .languages import path_prefix_locale
from .security import Verbatim, safe_url, valid_token

log = logging.getLogger(__name__)

bp = Blueprint("proxy", __name__, url_prefix="/proxy")

#: Where Shopify's own examples mount an app proxy; used when path_prefix is unusable.
DEFAULT_PATH_PREFIX = "/apps/downloads"

#: A path prefix we are willing to write into links: a path of plain segments.
PATH_PREFIX_RE = re.compile(r"(/[A-Za-z0-9._~-]+)+")

#: Query parameters that must come exactly once for a request to be trusted.
SINGLE_PARAMS = ("signature", "timestamp", "shop")

#: The most query parameters a proxied request may carry.
MAX_PARAMS = 200

#: The element that holds a fragment (templates/proxy/fragment.html).
FRAGMENT_SELECTOR = "#downloads-portal"

LIQUID_CONTENT_TYPE = "application/liquid; charset=utf-8"

# Never inlined: text that would end the <style> element or run as Liquid.
_UNSAFE_IN_STYLE = re.compile(r"</|\{\{|\{%")


class BadSignature(Exception):
    """Why a proxied request was not trusted; the message is fit for logs."""


@dataclass(frozen=True, slots=True)
class ProxyRequest:
    """What a verified request from Shopify told us."""

    shop: str
    path_prefix: str
    customer_id: str
    #: The storefront's language from ``/fr/apps/downloads``; a ``locale``
    #: parameter in the signed query is read as ``?locale=`` (languages.py).
    locale: str | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """How proxy pages load the stylesheets: URLs on our host, or inline."""

    stylesheet_urls: tuple[str, ...]
    inline_css: Verbatim | None


def parse_query(query: bytes) -> list[tuple[str, str]]:
    """Split a raw query string into decoded pairs, in order, blank values kept."""
    try:
        return parse_qsl(
            query.decode("ascii"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_PARAMS,
        )
    except ValueError as exc:
        raise BadSignature("unreadable query string") from exc


def group(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Collect each key's values in the order they came."""
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def signed_message(params: Mapping[str, Sequence[str]]) -> str:
    """Build the text Shopify signs: the sorted ``key=v1,v2`` strings, unsigned."""
    return "".join(
        sorted(
            f"{key}={','.join(values)}"
            for key, values in params.items()
            if key != "signature"
        )
    )


def sign(message: str, secret: str) -> str:
    """Return the lowercase hex HMAC-SHA256 of ``message``."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def secrets(value: Any) -> list[str]:
    """Read SHOPIFY_API_SECRET: one secret, a list, or a comma-separated string."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        return []
    return [s.strip() for s in value if isinstance(s, str) and s.strip()]


def verify(
    query: bytes, keys: Sequence[str], skew: float, now: float
) -> dict[str, list[str]]:
    """Return the parameters of a request Shopify signed recently, or raise."""
    if not keys:
        raise BadSignature("SHOPIFY_API_SECRET is not set")
    params = group(parse_query(query))
    for name in SINGLE_PARAMS:
        if len(params.get(name, ())) != 1:
            raise BadSignature(f"{name} missing or repeated")
    given = params["signature"][0].encode()
    message = signed_message(params)
    # Every key is tried, so the time taken does not tell which one matched.
    matches = [hmac.compare_digest(sign(message, k).encode(), given) for k in keys]
    if not any(matches):
        raise BadSignature("signature does not match")
    timestamp = params["timestamp"][0]
    if not re.fullmatch(r"[0-9]{1,12}", timestamp):
        raise BadSignature("timestamp is not a number")
    if abs(now - int(timestamp)) > skew:
        raise BadSignature("timestamp outside the allowed window")
    return params


def clean_path_prefix(value: str) -> str:
    """Return ``value`` if it is a plain absolute path, else the default prefix."""
    value = value.rstrip("/")
    if PATH_PREFIX_RE.fullmatch(value) and ".." not in value.split("/"):
        return value
    return DEFAULT_PATH_PREFIX


def login_url(path_prefix: str, token: str) -> str:
    """Return the store's login page, set to come back to this order."""
    back = f"{path_prefix}/orders/{token}"
    return "/account/login?return_url=" + quote(back, safe="")


def proxied() -> bool:
    """Whether the request came through the app proxy's URL, routed or not."""
    prefix = bp.url_prefix or ""
    return request.path == prefix or request.path.startswith(prefix + "/")


# The hooks below are the app's, not the blueprint's, so that they run before the
# rate limiter's and also for a URL under /proxy that matches no route (405, 404).
@bp.before_app_request
def check_signature() -> None:
    """Refuse every request Shopify did not sign recently, before anything else."""
    if not proxied():
        return
    g.embedded = True
    config = current_app.config
    keys = secrets(config.get("SHOPIFY_API_SECRET"))
    try:
        params = verify(
            request.query_string,
            keys,
            skew=float(config["PROXY_TIMESTAMP_SKEW"]),
            now=time.time(),
        )
    except BadSignature as exc:
        level = logging.WARNING if not keys else logging.INFO
        log.log(level, "app proxy request refused: %s", exc)
        raise Forbidden() from None
    path_prefix = params.get("path_prefix", [""])[0]
    g.proxy = ProxyRequest(
        shop=params["shop"][0],
        path_prefix=clean_path_prefix(path_prefix),
        customer_id=params.get("logged_in_customer_id", [""])[0],
        locale=path_prefix_locale(path_prefix),
    )


@bp.after_app_request
def answer_as_liquid(response: Response) -> Response:
    """Have Shopify render every answer, error pages included, inside the theme."""
    if proxied():
        response.content_type = LIQUID_CONTENT_TYPE
    return response


@bp.app_context_processor
def layout_context() -> dict[str, Any]:
    """Give the shared templates the proxy's layout and stylesheet."""
    if not proxied():
        return {}
    settings = current_app.extensions["proxy"]
    standalone = current_app.config["PROXY_STANDALONE"]
    return {
        "layout": "proxy/standalone.html" if standalone else "proxy/fragment.html",
        "stylesheet_urls": settings.stylesheet_urls,
        "inline_css": settings.inline_css,
    }


# No rule here merges slashes: that would answer with a redirect, which Shopify
# would follow on its own servers.
@bp.get("/orders/<token>", merge_slashes=False)
def order(token: str) -> str:
    """Show the order inside the store, or ask the customer to log in first."""
    # Before the login page too, which would otherwise echo a malformed token.
    if not valid_token(token):
        raise NotFound()
    return login_page(token) or order_page(token)


def login_page(token: str) -> str | None:
    """Ask the customer to log in first, when the store wants that and nobody is."""
    proxied: ProxyRequest = g.proxy
    if current_app.config["PROXY_REQUIRE_LOGIN"] and not proxied.customer_id:
        return render_template(
            "proxy/login.html", login_url=login_url(proxied.path_prefix, token)
        )
    return None


@bp.post("/orders/<token>" + downloads.SUFFIX, merge_slashes=False)
def download(token: str) -> Response | str:
    """Send the customer on to a file; the form came through the store, signed."""
    if not valid_token(token):
        raise NotFound()
    return login_page(token) or downloads.send(token)


@bp.get("", strict_slashes=False, merge_slashes=False)
@bp.get("/<path:rest>", merge_slashes=False)
def elsewhere(rest: str = "") -> str:
    """Answer any other path under the proxy with the not-found page, as Liquid."""
    raise NotFound()


def stylesheet_settings(app: Flask) -> Settings:
    """Link the stylesheets (a theme's included) from PUBLIC_URL, or read them."""
    names = themes.stylesheets(app)
    public_url = app.config.get("PUBLIC_URL")
    if public_url:
        url = safe_url(str(public_url))
        if url is not None:
            parts = urlsplit(url)
            root = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
            base = root + (app.static_url_path or "")
            return Settings(tuple(f"{base}/{name}" for name in names), None)
        log.warning("PUBLIC_URL is not an http(s) URL; the proxy inlines its styles")
    css = "\n".join(
        themes.static_path(app, name).read_text(encoding="utf-8") for name in names
    )
    if _UNSAFE_IN_STYLE.search(css):
        log.warning("a stylesheet holds '</', '{{' or '{%'; proxy pages go unstyled")
        return Settings((), None)
    if not app.config["PROXY_STANDALONE"]:
        css = scoped(css)
    return Settings((), Verbatim(css))


def scoped(css: str) -> str:
    """Confine the stylesheet to the fragment, so the theme around it keeps its looks.

    The page's ``:root`` settings move to the fragment itself; rules for ``body`` and
    other elements outside it match nothing. Browsers without ``@scope`` skip the
    whole block and show the fragment in the theme's own styles.
    """
    inner = re.sub(r":root\b", ":scope", css)
    return f"@scope ({FRAGMENT_SELECTOR}) {{\n{inner}\n}}\n"


def init_app(app: Flask) -> None:
    """Register the proxy and warn when it cannot trust anybody."""
    app.extensions["proxy"] = stylesheet_settings(app)
    if not secrets(app.config.get("SHOPIFY_API_SECRET")) and not app.config["PREVIEW"]:
        log.warning(
            "SHOPIFY_API_SECRET is not set: the app proxy refuses every request"
        )
    app.register_blueprint(bp)
