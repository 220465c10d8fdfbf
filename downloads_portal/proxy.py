"""The Shopify app proxy: signed requests from the store, answered as Liquid."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import parse_qsl, quote

from flask import Blueprint, Flask, Response, current_app, g, render_template, request
from werkzeug.exceptions import Forbidden, MethodNotAllowed, NotFound
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response as BaseResponse

from . import downloads, themes
from .account import order_page
from .languages import path_prefix_locale
from .security import valid_token

log = logging.getLogger(__name__)

bp = Blueprint("proxy", __name__, url_prefix="/proxy")

#: Where Shopify's own examples mount an app proxy; used when path_prefix is unusable.
DEFAULT_PATH_PREFIX = "/apps/downloads"

#: A path prefix we are willing to write into links: a path of plain segments.
PATH_PREFIX_RE = re.compile(r"(/[A-Za-z0-9._~-]+)+")

#: Query parameters that must come exactly once for a request to be trusted.
SINGLE_PARAMS = ("signature", "timestamp", "shop")

#: Query parameters that may be missing, but never come twice.
AT_MOST_ONCE_PARAMS = ("path_prefix",)

#: A customer id as Shopify writes one. Anything else, such as a blank id with the
#: next signed parameter run into it (``logged_in_customer_id=path_prefix%3D...``,
#: which signs as the same text), is nobody.
CUSTOMER_ID_RE = re.compile(r"[0-9]{1,20}")

#: What a ``shop`` must look like: the store's own myshopify.com domain.
SHOP_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com")

#: The most query parameters a proxied request may carry.
MAX_PARAMS = 200

LIQUID_CONTENT_TYPE = "application/liquid; charset=utf-8"

#: The methods the catch-all route takes, so that they too are signed and Liquid.
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


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


def check_shape(params: Mapping[str, Sequence[str]]) -> None:
    """Raise unless Shopify's parameters come as often, and look, as it sends them."""
    for name in SINGLE_PARAMS:
        if len(params.get(name, ())) != 1:
            raise BadSignature(f"{name} missing or repeated")
    for name in AT_MOST_ONCE_PARAMS:
        if len(params.get(name, ())) > 1:
            raise BadSignature(f"{name} repeated")
    if not SHOP_RE.fullmatch(params["shop"][0]):
        raise BadSignature("shop is not a myshopify.com domain")
    if not re.fullmatch(r"[0-9]{1,12}", params["timestamp"][0]):
        raise BadSignature("timestamp is not a number")


def verify(
    query: bytes, keys: Sequence[str], skew: float, now: float
) -> dict[str, list[str]]:
    """Return the parameters of a request Shopify signed recently, or raise."""
    if not keys:
        raise BadSignature("SHOPIFY_API_SECRET is not set")
    params = group(parse_query(query))
    check_shape(params)
    given = params["signature"][0].encode()
    message = signed_message(params)
    # Every key is tried, so the time taken does not tell which one matched.
    matches = [hmac.compare_digest(sign(message, k).encode(), given) for k in keys]
    if not any(matches):
        raise BadSignature("signature does not match")
    if abs(now - int(params["timestamp"][0])) > skew:
        raise BadSignature("timestamp outside the allowed window")
    return params


def customer_id(params: Mapping[str, Sequence[str]]) -> str:
    """Return the logged-in customer's id from verified ``params``, or "" for nobody.

    Shopify adds ``logged_in_customer_id`` once; a second one came with the
    customer's own URL (``?logged_in_customer_id=123``), so neither counts.
    """
    values = params.get("logged_in_customer_id", ())
    if len(values) != 1 or not CUSTOMER_ID_RE.fullmatch(values[0]):
        return ""
    # The signature covers the text, not how it splits into parameters: a visitor's
    # own parameter can carry "logged_in_customer_id=123" and be split out of it.
    # Shopify always signs its unit "logged_in_customer_id=<id or nothing>", and
    # every unit sorted after it starts with a character from "l" on, never a digit.
    # So when that text comes only once in the message, it is Shopify's unit, and
    # the digits that follow it, up to the next unit, are the id Shopify signed.
    if signed_message(params).count("logged_in_customer_id=") != 1:
        return ""
    return values[0]


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


class Below(BaseConverter):
    """The rest of a path under the proxy, slashes and all, so that every URL and
    method there reaches the blueprint and its hooks (no routing 404 or 405)."""

    regex = ".*"
    part_isolating = False


@bp.before_request
def check_signature() -> None:
    """Refuse every request Shopify did not sign recently, before anything else."""
    g.embedded = True
    config = current_app.config
    keys: list[str] = current_app.extensions["proxy_keys"]
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
    path_prefix = clean_path_prefix(params.get("path_prefix", [""])[0])
    g.proxy = ProxyRequest(
        shop=params["shop"][0],
        path_prefix=path_prefix,
        customer_id=customer_id(params),
        locale=path_prefix_locale(path_prefix),
    )


@bp.after_request
def answer_as_liquid(response: Response) -> Response:
    """Have Shopify render every answer, error pages included, inside the theme."""
    response.content_type = LIQUID_CONTENT_TYPE
    return response


@bp.context_processor
def layout_context() -> dict[str, Any]:
    """Give the shared templates the proxy's layout and stylesheet."""
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
def download(token: str) -> BaseResponse | str:
    """Send the customer on to a file; the form came through the store, signed."""
    if not valid_token(token):
        raise NotFound()
    return login_page(token) or downloads.send(token)


@bp.route("", methods=METHODS, strict_slashes=False, merge_slashes=False)
@bp.route("/<below:rest>", methods=METHODS, merge_slashes=False)
def elsewhere(rest: str = "") -> NoReturn:
    """Answer any other path or method under the proxy with its error page."""
    if request.method not in ("GET", "HEAD"):
        raise MethodNotAllowed(valid_methods=["GET", "HEAD"])
    raise NotFound()


def warn_without_secret(config: Mapping[str, Any]) -> None:
    """Say, once per process, that without a secret the proxy refuses everybody.

    gunicorn's master says it before it starts the workers, which then keep quiet.
    """
    if not secrets(config.get("SHOPIFY_API_SECRET")) and not config.get("PREVIEW"):
        _say_once("SHOPIFY_API_SECRET is not set: the app proxy refuses every request")


@functools.cache
def _say_once(message: str) -> None:
    log.warning("%s", message)


def init_app(app: Flask) -> None:
    """Register the proxy and warn when it cannot trust anybody."""
    app.extensions["proxy"] = themes.proxy_stylesheets(app)
    app.extensions["proxy_keys"] = secrets(app.config.get("SHOPIFY_API_SECRET"))
    app.url_map.converters["below"] = Below
    warn_without_secret(app.config)
    app.register_blueprint(bp)
