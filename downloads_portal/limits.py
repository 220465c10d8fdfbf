"""Enumeration limits: lookups that end in "not found" are counted per client."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.constants import ConfigVars

from . import metrics
from .errors import render_error
from .security import valid_token
from .store import get_store
from .store.backend import redis_options

#: Blueprints whose routes look orders up, and share one count per client.
ORDER_BLUEPRINTS = ("account", "downloads", "proxy")


def client_address() -> str:
    """Return the address a lookup is counted against.

    Shopify's app proxy puts the customer's address in ``X-Forwarded-For``, in front
    of the hops our own proxies add. The header is trusted only because a proxy
    request whose signature fails is refused without a lookup, and is never a 404.
    """
    address = request.remote_addr or "unknown"
    if request.blueprint == "proxy":
        hops = [
            h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")
        ]
        ours = int(current_app.config["PROXY_FIX_X_FOR"])
        if len(hops) > ours and hops[-1 - ours]:
            address = hops[-1 - ours]
    return address


def order_is_held() -> bool:
    """Leave out of the limit a lookup of an order the portal holds, fresh or stale.

    Guessing needs unknown tokens; customers sharing an address with a guesser (a
    carrier's NAT, an office) keep their own pages.
    """
    token = (request.view_args or {}).get("token")
    return isinstance(token, str) and valid_token(token) and get_store().holds(token)


def unless_held(
    view: Callable[..., Any], limited: Callable[..., Any]
) -> Callable[..., Any]:
    """Call ``view`` at once for an order the portal holds, else ``limited``: the
    limiter's own exemption would be asked only after its whole evaluation."""

    @wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if order_is_held():
            return view(*args, **kwargs)
        return limited(*args, **kwargs)

    return checked


#: The settings that give flask-limiter limits for every request: the portal sets
#: none, but a ``DOWNLOADS_PORTAL_RATELIMIT_*`` variable could.
APP_WIDE = (
    ConfigVars.DEFAULT_LIMITS,
    ConfigVars.APPLICATION_LIMITS,
    ConfigVars.META_LIMITS,
    ConfigVars.IN_MEMORY_FALLBACK,
)


def app_wide_limits(app: Flask) -> bool:
    """Whether a setting gives limits that flask-limiter checks before each request."""
    return any(app.config.get(name) for name in APP_WIDE)


def ended_not_found(response: Response) -> bool:
    """Count a lookup only when its answer is "not found"."""
    return response.status_code == 404


def handle_limited(exc: RateLimitExceeded) -> Response:
    """Render the 429 page, saying when to come back."""
    metrics.rate_limited()
    response = render_error(429, order_page=True)
    response.headers["Retry-After"] = str(_retry_after(exc))
    return response


def _retry_after(exc: RateLimitExceeded) -> int:
    limiter: Limiter = current_app.extensions["order_limiter"]
    try:
        limit = limiter.current_limit
        if limit is not None:
            return max(int(limit.reset_at - time.time()), 1)
    except Exception:
        # The storage failed between the refusal and now: the window's length will do.
        pass
    return int(exc.limit.limit.get_expiry())


def init_app(app: Flask) -> None:
    """Limit the lookups of the registered order routes, per client."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("CACHE_REDIS_URL"))
    if not app.config["RATELIMIT_STORAGE_URI"]:
        app.config["RATELIMIT_STORAGE_URI"] = "memory://"
    elif app.config["RATELIMIT_STORAGE_URI"].startswith(("redis", "valkey")):
        uri = app.config["RATELIMIT_STORAGE_URI"]
        options = redis_options(float(app.config["REDIS_TIMEOUT"]), uri)
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", options)
    app.config.setdefault(
        "RATELIMIT_KEY_PREFIX", app.config["CACHE_KEY_PREFIX"] + "limits"
    )
    # A limiter per app: each holds its own storage.
    limiter = Limiter(
        client_address,
        app=app,
        swallow_errors=True,
        in_memory_fallback_enabled=True,
    )
    lookups = limiter.shared_limit(
        app.config["NOT_FOUND_RATE_LIMIT"],
        scope="order-lookups",
        deduct_when=ended_not_found,
    )
    # On the views, not the blueprints: a view's limit is checked when it is
    # called, after the blueprint's own hooks (the proxy's signature check).
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.partition(".")[0] in ORDER_BLUEPRINTS:
            app.view_functions[endpoint] = unless_held(view, lookups(view))
    hooks = app.before_request_funcs.get(None, [])
    # Its check before every request would find nothing to count, at some 40 µs a
    # request (a cached page costs about 140 µs in all without it); a limiter
    # turned off (RATELIMIT_ENABLED) never added it.
    if not app_wide_limits(app) and limiter._check_request_limit in hooks:
        hooks.remove(limiter._check_request_limit)
    app.extensions["order_limiter"] = limiter
    app.register_error_handler(RateLimitExceeded, handle_limited)
