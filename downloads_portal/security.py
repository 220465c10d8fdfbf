"""Safe URLs, token fingerprints, log redaction and the response headers."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, g, request
from markupsafe import Markup, escape
from werkzeug.datastructures import Headers
from werkzeug.utils import redirect

#: What a Shopify order token may look like; anything else is not an order.
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,100}")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        # Download forms are answered with a redirect to the file, wherever it is.
        "form-action 'self' https: http:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

# Order tokens in paths and upstream query strings, as they appear in log lines.
_TOKEN_IN_TEXT = re.compile(r"(/orders/+|[?&]id=)([A-Za-z0-9_%-]+)")

# A variable part of a route, as werkzeug writes it: <token>, <path:filename>.
_ROUTE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def valid_token(token: str) -> bool:
    """Return whether ``token`` has the shape of a Shopify order token."""
    return TOKEN_RE.fullmatch(token) is not None


def fingerprint(token: str) -> str:
    """Return a short, stable stand-in for a token, fit for logs."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def redact(text: str) -> str:
    """Replace every order token in ``text`` with its fingerprint."""
    return _TOKEN_IN_TEXT.sub(lambda m: f"{m[1]}~{fingerprint(m[2])}", text)


def unknown_path(path: str) -> str:
    """Stand in for a path no route of ours knows: it may be anything, a token too."""
    return "~" + fingerprint(path)


def route_path(rule: str, arguments: Mapping[str, object]) -> str:
    """Write a route's template with each of its values fingerprinted.

    ``/account/orders/<token>`` becomes ``/account/orders/~81be3c4a32ac``: what a
    request put in the URL is never written whole, whatever it is.
    """
    return _ROUTE_ARGUMENT.sub(
        lambda m: "~" + fingerprint(str(arguments.get(m[1], ""))), rule
    )


class RedactTokens(logging.Filter):
    """A log filter that keeps order tokens out of other libraries' log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message and traceback with tokens redacted."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text, so the traceback is written redacted.
            record.exc_text = redact(_FORMATTER.formatException(record.exc_info))
        return True


_FORMATTER = logging.Formatter()


#: Loggers that write request URLs: urllib3 for the upstream, werkzeug for ours,
#: and the app's own, where Flask logs "Exception on <path>".
REDACTED_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.util.retry",
    "werkzeug",
    "downloads_portal",
)


def install_log_redaction() -> None:
    """Attach the token filter to every logger known to print URLs."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def safe_url(url: str) -> str | None:
    """Return ``url`` if it is an absolute http(s) URL fit for an href, else None."""
    url = url.strip()
    if any(ord(c) < 0x20 or c in "\x7f\\" for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    return url


class Verbatim(Markup):
    """Our own text, such as the stylesheet, written into a page exactly as it is."""


def inert(value: object) -> Markup:
    """HTML-escape ``value`` and write its braces as character references.

    Every value a template prints passes through here (Jinja's ``finalize``), so no
    order data can ever hold ``{{`` or ``{%`` when Shopify runs a page as Liquid;
    browsers show ``&#123;`` as ``{``, in text and in attribute values alike.
    """
    if isinstance(value, Verbatim):
        return value
    text = str.replace(escape(value), "{", "&#123;")
    return Markup(str.replace(text, "}", "&#125;"))


#: The headers every answer carries unless it has its own.
COMMON_HEADERS = (
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
)
#: ...and those of an answer that is not embedded in the store's page.
PAGE_HEADERS = COMMON_HEADERS + (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Frame-Options", "DENY"),
)


def header_names(headers: Headers) -> set[str]:
    """Return the lowercase names of ``headers``: werkzeug's lookups raise and
    catch an exception for each name that is missing."""
    return {name.lower() for name, _ in headers}


def set_security_headers(response: Response) -> Response:
    """Add the headers every answer carries; keep pages out of shared caches."""
    headers = response.headers
    present = header_names(headers)
    # An embedded answer becomes part of the store's page: a policy of ours would
    # either be dropped by Shopify or break the store's own scripts and styles.
    for name, value in COMMON_HEADERS if g.get("embedded") else PAGE_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    if request.endpoint != "static":
        headers["Cache-Control"] = "private, no-store"
    return response


def same_host(url: str) -> str:
    """Keep only the path and query of ``url``, so that a redirect names no host."""
    parts = urlsplit(url)
    # One leading slash: "//host" or "/\\host" would send a browser elsewhere.
    path = "/" + parts.path.lstrip("/\\")
    return urlunsplit(("", "", path, parts.query, ""))


def relative_redirect(response: Response) -> Response:
    """Make a redirect to the request's own Host relative.

    werkzeug writes its routing redirects (``/static//a.css`` to ``/static/a.css``)
    with the request's Host header, which the client chose.
    """
    location = response.headers.get("Location")
    if location is None or urlsplit(location).netloc.lower() != request.host.lower():
        return response
    relative = redirect(same_host(location), response.status_code)
    # The body links to the target too: werkzeug's short page, written anew.
    response.headers["Location"] = relative.headers["Location"]
    response.set_data(relative.get_data())
    return response


def init_app(app: Flask) -> None:
    """Install the response headers, the log redaction and the inert output."""
    install_log_redaction()
    app.jinja_env.finalize = inert
    app.after_request(set_security_headers)
    app.after_request(relative_redirect)
