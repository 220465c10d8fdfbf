"""Token shapes, response headers and log redaction."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from downloads_portal import create_app, fixtures, security
from downloads_portal.logs import JsonFormatter

from .conftest import TOKEN, upstream_calls

URL = f"/account/orders/{TOKEN}"


@pytest.mark.parametrize(
    "token",
    ["bad!token", "a" * 101, "tok%20en", "tok.en", "..", "%2e%2e", "t%00k", "tøken"],
)
def test_malformed_tokens_never_reach_the_upstream(client, httpserver, token) -> None:
    response = client.get(f"/account/orders/{token}")
    assert response.status_code == 404
    assert "find that order" in response.text or "Page not found" in response.text
    assert upstream_calls(httpserver) == 0


def test_longest_valid_token_is_looked_up(client, serve, httpserver) -> None:
    token = "A-z_9" * 20
    serve(fixtures.EXAMPLE_ORDER, token=token)
    assert client.get(f"/account/orders/{token}").status_code == 200
    assert upstream_calls(httpserver) == 1


@pytest.mark.parametrize("path", [URL, "/nope", "/healthz", "/account/orders/bad!"])
def test_security_headers(client, serve, path) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    headers = client.get(path).headers
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "private, no-store"
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "style-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "base-uri 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src" not in csp


def test_error_pages_are_not_cached(client, serve) -> None:
    serve(status=503)
    assert client.get(URL).headers["Cache-Control"] == "private, no-store"


def test_stylesheet_may_be_cached(client) -> None:
    with client.get("/static/portal.css") as response:
        assert response.status_code == 200
        assert "no-store" not in response.headers.get("Cache-Control", "")
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_page_has_no_script(client, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    assert "<script" not in client.get(URL).text


def test_tokens_are_redacted_from_messages_and_tracebacks() -> None:
    try:
        raise ValueError(f"bad /orders/{TOKEN}")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "GET /orders/%s", (TOKEN,), None
        )
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert TOKEN not in line
    assert json.loads(line)["message"].startswith("GET /orders/~")


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://files.example.com/a.zip", True),
        ("  http://files.example.com/a b.pdf ", True),
        ("HTTPS://FILES.EXAMPLE.COM/A.ZIP", True),
        ("javascript:alert(1)", False),
        ("//evil.example/file", False),
        ("/relative/file.pdf", False),
        ("https://", False),
        ("https://files.example.com/\x00", False),
        ("https:\\\\evil.example", False),
        ("ftp://files.example.com/a.zip", False),
    ],
)
def test_safe_url_keeps_absolute_http_only(url, kept) -> None:
    assert security.safe_url(url) == (url.strip() if kept else None)


def test_redact_leaves_a_fingerprint_in_paths_and_queries() -> None:
    mark = "~" + security.fingerprint(TOKEN)
    assert len(mark) == 13 and security.fingerprint(TOKEN) == mark[1:]
    assert security.redact(f"GET /account/orders/{TOKEN} 200") == (
        f"GET /account/orders/{mark} 200"
    )
    assert security.redact(f"/api?shop=x&id={TOKEN}") == f"/api?shop=x&id={mark}"
    assert security.redact("GET /healthz 200") == "GET /healthz 200"


def test_inert_writes_braces_as_references() -> None:
    assert security.inert("{{ shop.name }} <b>") == (
        "&#123;&#123; shop.name &#125;&#125; &lt;b&gt;"
    )
    assert security.inert(security.Verbatim("{ color: red }")) == "{ color: red }"


@pytest.mark.parametrize(
    ("preview", "path", "target"),
    [
        (False, "/static//portal.css", "/static/portal.css"),
        (False, "/static///portal.css", "/static/portal.css"),
        (True, "/preview//example", "/preview/example"),
    ],
)
def test_no_redirect_names_the_request_s_host(config, preview, path, target) -> None:
    config["PREVIEW"] = preview
    client = create_app(config).test_client()
    response = client.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 308
    assert response.headers["Location"] == target
    assert "evil" not in str(response.headers) + response.text
    with client.get(target) as followed:
        assert followed.status_code == 200
