"""The Shopify app proxy: signatures, refusals and the Liquid answer."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import subprocess
import time
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from pytest_httpserver import HTTPServer

from downloads_portal import create_app, fixtures, proxy

from .conftest import (
    PREFIX,
    SECRET,
    TOKEN,
    render_liquid,
    require_command,
    shopify_params,
    signature,
    signed,
    upstream_calls,
)

URL = f"/proxy/orders/{TOKEN}"


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    return {**config, "SHOPIFY_API_SECRET": SECRET}


@pytest.fixture
def order_served(serve) -> None:
    serve(fixtures.order(lines=[fixtures.line(name="Sound pack")]))


class Page(HTMLParser):
    """The visible text, links and stylesheets of an HTML answer."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []
        self.links: list[str] = []
        self.stylesheets: list[str] = []
        self.tags: list[str] = []
        self._in_style = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append(tag)
        self._in_style = tag == "style"
        if tag == "a":
            self.links.append(found.get("href") or "")
        if tag == "link" and found.get("rel") == "stylesheet":
            self.stylesheets.append(found.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if not self._in_style:
            self.words.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.words).split())


# -- the signature ---------------------------------------------------------------


def test_shopify_documented_example() -> None:
    """The worked example in Shopify's app proxy documentation verifies."""
    query = (
        b"extra=1&extra=2&shop=shop-name.myshopify.com"
        b"&path_prefix=%2Fapps%2Fawesome_reviews&timestamp=1317327555"
        b"&signature=a9718877bea71c2484f91608a7eaea1532bdf71f5c56825065fa4ccabe549ef3"
    )
    params = proxy.verify(query, ["hush"], skew=90, now=1317327555)
    assert params["extra"] == ["1", "2"]
    with pytest.raises(proxy.BadSignature):
        proxy.verify(query, ["hush"], skew=90, now=1317327555 + 91)
    with pytest.raises(proxy.BadSignature):
        proxy.verify(query, ["hush!"], skew=90, now=1317327555)


def test_signed_request_gets_a_liquid_fragment(client, order_served) -> None:
    response = client.get(f"{URL}?{signed()}")
    assert response.status_code == 200
    assert response.mimetype == "application/liquid"
    html = response.text
    page = Page(html)
    assert "Sound pack" in page.text
    assert not {"html", "head", "body", "title"} & set(page.tags)
    assert "<!doctype" not in html.lower()
    assert "{% layout" not in html
    assert "/static/" not in html
    assert "<style>" in html and ".card" in html
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "Set-Cookie" not in response.headers
    assert "Content-Security-Policy" not in response.headers
    assert "X-Frame-Options" not in response.headers


def test_own_pages_keep_their_policy(client, order_served) -> None:
    response = client.get(f"/account/orders/{TOKEN}")
    assert response.status_code == 200
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_repeated_keys_join_in_order(client, httpserver, order_served) -> None:
    pairs = [*shopify_params(), ("extra", "1"), ("extra", "2")]
    assert client.get(f"{URL}?{signed(pairs)}").status_code == 200
    # Shopify signs "extra=1,2"; the same values in the other order are another text.
    swapped = [*shopify_params(), ("extra", "2"), ("extra", "1")]
    forged = urlencode([*pairs, ("signature", signature(swapped))])
    assert client.get(f"{URL}?{forged}").status_code == 403
    assert upstream_calls(httpserver) == 1


def test_blank_values_are_signed(client, httpserver, order_served) -> None:
    pairs = shopify_params(logged_in_customer_id="")
    query = signed(pairs)
    assert "logged_in_customer_id=&" in query
    assert client.get(f"{URL}?{query}").status_code == 200
    without_blank = [(k, v) for k, v in pairs if v]
    forged = urlencode([*pairs, ("signature", signature(without_blank))])
    assert client.get(f"{URL}?{forged}").status_code == 403
    assert upstream_calls(httpserver) == 1


def test_whole_strings_are_sorted_not_keys(client, httpserver, order_served) -> None:
    pairs = [*shopify_params(), ("ref", "2"), ("ref-id", "1")]
    strings = [f"{k}={v}" for k, v in pairs]
    by_string = sorted(strings)
    by_key = [f"{k}={v}" for k, v in sorted(pairs)]
    assert by_string != by_key  # "ref-id=1" < "ref=2", but "ref" < "ref-id"
    assert client.get(f"{URL}?{signed(pairs)}").status_code == 200
    key_sorted = hmac.new(
        SECRET.encode(), "".join(by_key).encode(), hashlib.sha256
    ).hexdigest()
    forged = urlencode([*pairs, ("signature", key_sorted)])
    assert client.get(f"{URL}?{forged}").status_code == 403
    assert upstream_calls(httpserver) == 1


@pytest.mark.parametrize("at", [0, 2, 4])
def test_signature_anywhere(client, order_served, at) -> None:
    query = signed(at=at)
    assert [key for key, _ in parse_qsl(query)].index("signature") == at
    assert client.get(f"{URL}?{query}").status_code == 200


def test_customer_parameters_are_signed_too(client, httpserver, order_served) -> None:
    pairs = [("utm_source", "mail"), *shopify_params(), ("q", "{{ shop.name }}")]
    assert client.get(f"{URL}?{signed(pairs)}").status_code == 200
    assert client.get(f"{URL}?{signed(pairs)}&added=1").status_code == 403
    assert upstream_calls(httpserver) == 1


def _now() -> int:
    return int(time.time())


REFUSED = {
    "unsigned": lambda: urlencode(shopify_params()),
    "blank signature": lambda: urlencode([*shopify_params(), ("signature", "")]),
    "no query": lambda: "",
    "tampered shop": lambda: signed().replace("my-store", "other-store"),
    "tampered signature": lambda: (
        signed()[:-1] + ("0" if not signed().endswith("0") else "1")
    ),
    "uppercase hex": lambda: re.sub(
        r"signature=([0-9a-f]+)", lambda m: "signature=" + m[1].upper(), signed()
    ),
    "wrong secret": lambda: signed(secret="shpss_not_ours"),
    "stale": lambda: signed(shopify_params(timestamp=str(_now() - 120))),
    "future": lambda: signed(shopify_params(timestamp=str(_now() + 120))),
    "timestamp not a number": lambda: signed(shopify_params(timestamp="soon")),
    "no timestamp": lambda: signed(
        [(k, v) for k, v in shopify_params() if k != "timestamp"]
    ),
    "no shop": lambda: signed([(k, v) for k, v in shopify_params() if k != "shop"]),
    "repeated signature": lambda: signed() + "&signature=" + "0" * 64,
    "repeated signature, same value": lambda: (
        signed() + "&" + signed().rsplit("&", 1)[1]
    ),
    "repeated timestamp": lambda: signed(
        [*shopify_params(), ("timestamp", str(_now()))]
    ),
    "repeated shop": lambda: signed([*shopify_params(), ("shop", "x.myshopify.com")]),
    "shop not a myshopify.com store": lambda: signed(
        shopify_params(shop="evil.example/x.myshopify.com")
    ),
    "shop with a path": lambda: signed(shopify_params(shop="my-store.myshopify.com/")),
    "timestamp in other digits": lambda: signed(shopify_params(timestamp="١٧٠٠")),
    "not utf-8": lambda: signed() + "&x=%ff",
    "too many parameters": lambda: signed(
        [*shopify_params(), *((f"p{n}", "") for n in range(300))]
    ),
}


@pytest.mark.parametrize("make_query", REFUSED.values(), ids=REFUSED.keys())
def test_refused_without_asking_upstream(
    client, httpserver: HTTPServer, order_served, make_query
) -> None:
    response = client.get(f"{URL}?{make_query()}")
    assert response.status_code == 403
    assert response.mimetype == "application/liquid"
    assert "can't be opened from here" in Page(response.text).text
    assert "<html" not in response.text
    assert upstream_calls(httpserver) == 0


def test_unknown_paths_are_signed_too(client, httpserver) -> None:
    assert client.get("/proxy/elsewhere").status_code == 403
    response = client.get(f"/proxy/elsewhere?{signed()}")
    assert response.status_code == 404
    assert response.mimetype == "application/liquid"
    assert upstream_calls(httpserver) == 0


@pytest.mark.parametrize("age", [-80, 80])
def test_timestamp_window(client, order_served, age) -> None:
    query = signed(shopify_params(timestamp=str(_now() - age)))
    assert client.get(f"{URL}?{query}").status_code == 200


def test_timestamp_window_is_a_setting(config, httpserver, order_served) -> None:
    client = create_app({**config, "PROXY_TIMESTAMP_SKEW": 10}).test_client()
    query = signed(shopify_params(timestamp=str(_now() - 30)))
    assert client.get(f"{URL}?{query}").status_code == 403
    assert upstream_calls(httpserver) == 0


@pytest.mark.parametrize(
    "setting", [["shpss_new", "shpss_old"], "shpss_new, shpss_old"]
)
def test_secret_rotation(config, httpserver, order_served, setting) -> None:
    client = create_app({**config, "SHOPIFY_API_SECRET": setting}).test_client()
    for secret in ("shpss_new", "shpss_old"):
        assert client.get(f"{URL}?{signed(secret=secret)}").status_code == 200
    assert client.get(f"{URL}?{signed(secret=SECRET)}").status_code == 403


def test_secret_from_the_environment(config, monkeypatch, order_served) -> None:
    monkeypatch.setenv("DOWNLOADS_PORTAL_SHOPIFY_API_SECRET", '["shpss_a", "shpss_b"]')
    del config["SHOPIFY_API_SECRET"]
    client = create_app(config).test_client()
    assert client.get(f"{URL}?{signed(secret='shpss_b')}").status_code == 200


@pytest.mark.parametrize("setting", [None, "", [], " , "])
def test_no_secret_refuses_everything(
    config, httpserver, order_served, caplog, setting
) -> None:
    client = create_app({**config, "SHOPIFY_API_SECRET": setting}).test_client()
    with caplog.at_level(logging.WARNING, logger="downloads_portal.proxy"):
        for secret in ("", SECRET):
            assert client.get(f"{URL}?{signed(secret=secret)}").status_code == 403
    assert upstream_calls(httpserver) == 0
    assert "SHOPIFY_API_SECRET is not set" in caplog.text
    assert TOKEN not in caplog.text


# -- what the store renders ------------------------------------------------------


HOSTILE = [
    "{{ 7 | times: 6 }}",
    "{% raw %}",
    "{%- if true -%}shown{%- endif -%}",
    "{{ shop.name }}",
    "{{- 'x' | upcase -}}",
    "{% comment %}",
]


HOSTILE_URL = "https://files.example.com/{{ 7 | times: 6 }}/{% raw %}.zip"


def hostile_order() -> dict[str, Any]:
    """An order whose every text field tries to run Liquid, some split across two."""
    body = fixtures.order(
        title=HOSTILE[0],
        text=f'<p>{HOSTILE[1]} <a href="https://shop.example/{HOSTILE[3]}">{HOSTILE[2]}</a></p>',
        lines=[
            fixtures.line(
                name=f"Pack {HOSTILE[3]} {{",
                variant="{ 7 | times: 6 }} " + HOSTILE[4],
                assets=[
                    fixtures.asset(
                        filename=f"{HOSTILE[5]}.zip {{",
                        size="{%",
                        url=HOSTILE_URL,
                    ),
                    fixtures.asset(filename="{", size="{", url=None),
                ],
            )
        ],
        assets=[fixtures.asset(filename="%}}", size="}}", limit=None)],
    )
    body["order"]["order_number"] = "{{ 7 | times: 6 }}"
    return body


def without_style(html: str) -> str:
    return re.sub(r"<style>.*?</style>", "", html, flags=re.S)


@pytest.mark.parametrize("standalone", [False, True])
def test_hostile_data_stays_inert(config, serve, standalone) -> None:
    serve(hostile_order())
    app = create_app({**config, "PROXY_STANDALONE": standalone})
    response = app.test_client().get(f"{URL}?{signed()}")
    assert response.status_code == 200
    body = response.text

    rendered, layouts = render_liquid(body)
    assert layouts == (["none"] if standalone else [])
    literal = body.replace("{% layout none %}", "", 1) if standalone else body
    assert rendered == literal  # Liquid ran nothing, so it changed nothing

    page = Page(rendered)
    for text in HOSTILE:
        assert text in page.text
    assert "Order #{{ 7 | times: 6 }}" in page.text
    assert "Pack {{ shop.name }} {" in page.text
    assert "{ 7 | times: 6 }} {{- 'x' | upcase -}}" in page.text
    assert "{% comment %}.zip {" in page.text
    assert "42" not in page.text and "LEAKED" not in rendered
    # The file goes by its id; its address is nowhere in the page.
    assert 'value="asset-{% comment %}.zip {"' in unescape(rendered)
    assert "files.example.com" not in rendered
    assert "https://shop.example/{{ shop.name }}" in page.links
    # Braces in the answer come only from the data (as references) or the layout tag.
    assert not re.search(r"[{}]", without_style(literal))


def test_account_page_shows_braces_as_written(client, serve) -> None:
    serve(hostile_order())
    page = Page(client.get(f"/account/orders/{TOKEN}").text)
    for text in HOSTILE:
        assert text in page.text
    assert "files.example.com" not in page.links


def test_standalone_is_a_whole_page(config, order_served) -> None:
    app = create_app({**config, "PROXY_STANDALONE": True})
    response = app.test_client().get(f"{URL}?{signed()}")
    assert response.mimetype == "application/liquid"
    body = response.text
    assert body.startswith("{% layout none %}<!doctype html>")
    assert "<html" in body and "<title>Order 1001 · Downloads</title>" in body
    assert "<style>" in body and "/static/" not in body


def test_inline_styles_are_liquid_safe(client, order_served) -> None:
    body = client.get(f"{URL}?{signed()}").text
    css = re.search(r"<style>(.*?)</style>", body, flags=re.S)
    assert css is not None and css[1].startswith("@scope (#downloads-portal) {")
    assert ":root" not in css[1] and ":scope {" in css[1]
    assert render_liquid(css[0])[0] == css[0]


THEME = """<!doctype html>
<html><head><style>
body { background: rgb(253, 246, 227); font-family: Georgia, serif; }
.card { border: 4px dashed rgb(255, 0, 0); }
.button { background: rgb(0, 128, 0); }
</style></head>
<body>
<header><a class="button" id="theme-button" href="#">Theme button</a></header>
<div class="card" id="theme-card">The theme's own card</div>
<main>FRAGMENT</main>
<pre id="probe"></pre>
<script>
  const style = (el) => getComputedStyle(el);
  const ours = (name) => document.querySelector("#downloads-portal " + name);
  document.getElementById("probe").textContent = JSON.stringify({
    body: style(document.body).backgroundColor,
    bodyFont: style(document.body).fontFamily,
    themeCard: style(document.getElementById("theme-card")).borderTopStyle,
    themeButton: style(document.getElementById("theme-button")).backgroundColor,
    ourCard: style(ours(".card")).borderTopLeftRadius,
    ourButton: style(ours(".button")).backgroundColor,
  });
</script>
</body></html>
"""


def test_fragment_styles_stay_inside(client, order_served, tmp_path) -> None:
    """In a real browser, the inlined styles dress the fragment and nothing else."""
    chromium = require_command("chromium", "chromium")
    body, _ = render_liquid(client.get(f"{URL}?{signed()}").text)
    page = tmp_path / "store.html"
    page.write_text(THEME.replace("FRAGMENT", body), encoding="utf-8")
    result = subprocess.run(
        [
            str(chromium),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    probe = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, flags=re.S)
    assert probe is not None, result.stderr[-2000:]
    seen = json.loads(probe[1])
    assert seen["body"] == "rgb(253, 246, 227)"
    assert seen["bodyFont"] == "Georgia, serif"
    assert seen["themeCard"] == "dashed"
    assert seen["themeButton"] == "rgb(0, 128, 0)"
    assert seen["ourCard"] == "12px"
    assert seen["ourButton"] not in ("rgb(0, 128, 0)", "rgba(0, 0, 0, 0)")


@pytest.mark.parametrize(
    ("public_url", "stylesheet"),
    [
        ("https://portal.example.com", "https://portal.example.com/static/portal.css"),
        ("https://example.com/portal/", "https://example.com/portal/static/portal.css"),
    ],
)
def test_stylesheet_from_public_url(
    config, order_served, public_url, stylesheet
) -> None:
    app = create_app({**config, "PUBLIC_URL": public_url})
    client = app.test_client()
    page = Page(client.get(f"{URL}?{signed()}").text)
    assert page.stylesheets == [stylesheet]
    assert "style" not in page.tags
    with client.get("/static/portal.css") as css:
        assert css.status_code == 200 and css.mimetype == "text/css"


def test_theme_styles_reach_the_proxy(config, order_served) -> None:
    theme = Path(__file__).resolve().parent.parent / "examples" / "theme"
    settings = {**config, "THEME_DIR": str(theme)}
    inline = create_app(settings).test_client().get(f"{URL}?{signed()}").text
    assert "--portal-brand: #7a2e8e" in inline
    assert inline.index("--portal-radius: 12px") < inline.index("--portal-radius: 4px")
    linked = create_app({**settings, "PUBLIC_URL": "https://portal.example.com"})
    page = Page(linked.test_client().get(f"{URL}?{signed()}").text)
    assert page.stylesheets == [
        "https://portal.example.com/static/portal.css",
        "https://portal.example.com/static/theme.css",
    ]


@pytest.mark.parametrize(
    ("status", "heading"),
    [
        (404, "We couldn't find that order"),
        (402, "Downloads aren't available here yet"),
        (503, "Downloads are temporarily unavailable"),
    ],
)
def test_errors_are_liquid_too(client, serve, status, heading) -> None:
    serve(status=status)
    response = client.get(f"{URL}?{signed()}")
    assert response.status_code == status
    assert response.mimetype == "application/liquid"
    assert heading in Page(response.text).text
    assert "<html" not in response.text and "/static/" not in response.text


def test_bad_token_is_not_found_without_upstream(client, httpserver) -> None:
    response = client.get(f"/proxy/orders/not~a~token?{signed()}")
    assert response.status_code == 404
    assert response.mimetype == "application/liquid"
    assert upstream_calls(httpserver) == 0


@pytest.mark.parametrize(
    "path",
    ["/proxy", "/proxy/", f"{URL}/", "/proxy/orders/", f"/proxy//orders/{TOKEN}"],
)
def test_never_redirects(client, path) -> None:
    response = client.get(f"{path}?{signed()}")
    assert response.status_code == 404
    assert "Location" not in response.headers


# -- logged-in customers ---------------------------------------------------------


@pytest.fixture
def login_client(config):
    return create_app({**config, "PROXY_REQUIRE_LOGIN": True}).test_client()


def test_login_required(login_client, httpserver, order_served) -> None:
    pairs = shopify_params(logged_in_customer_id="", path_prefix="/a/my-files")
    response = login_client.get(f"{URL}?{signed(pairs)}")
    assert response.status_code == 200
    assert response.mimetype == "application/liquid"
    page = Page(response.text)
    assert "Log in to see your downloads" in page.text
    back = quote(f"/a/my-files/orders/{TOKEN}", safe="")
    assert page.links == [f"/account/login?return_url={back}"]
    assert upstream_calls(httpserver) == 0


def test_logged_in_customer_sees_order(login_client, order_served) -> None:
    response = login_client.get(f"{URL}?{signed()}")
    assert response.status_code == 200
    assert "Sound pack" in Page(response.text).text


def test_a_blank_id_run_into_the_next_parameter_is_nobody(
    login_client, httpserver, order_served
) -> None:
    anonymous = shopify_params(logged_in_customer_id="")
    sig = signature(anonymous)
    # One parameter that signs as the same text as the blank id and the prefix.
    merged = [(k, v) for k, v in anonymous if k != "path_prefix"]
    merged = [
        (k, f"path_prefix={PREFIX}" if k == "logged_in_customer_id" else v)
        for k, v in merged
    ]
    assert signature(merged) == sig
    response = login_client.get(f"{URL}?{urlencode([*merged, ('signature', sig)])}")
    assert response.status_code == 200
    assert "Log in to see your downloads" in Page(response.text).text
    assert upstream_calls(httpserver) == 0


def resplit(added: list[tuple[str, str]], parts: list[tuple[str, str]]) -> str:
    """Sign an anonymous URL with the visitor's ``added`` parameters, as Shopify
    would, then present the same signed text split into ``parts`` instead."""
    anonymous = shopify_params(logged_in_customer_id="")
    sig = signature([*added, *anonymous])
    rest = [(k, v) for k, v in anonymous if k != "logged_in_customer_id"]
    presented = [*parts, *rest]
    # The rewrite signs as the same text: only the split differs.
    assert signature(presented) == sig
    return urlencode([*presented, ("signature", sig)])


RESPLIT = {
    "plain keys": (
        [("a", "xlogged_in_customer_id=123m=")],
        [
            ("a", "x"),
            ("logged_in_customer_id", "123"),
            ("m", "logged_i"),
            ("n_customer_id", ""),
        ],
    ),
    "a key with %3D": (
        [("a=xlogged_in_customer_id=123m", "")],
        [
            ("a", "x"),
            ("logged_in_customer_id", "123"),
            ("m", "logged_i"),
            ("n_customer_id", ""),
        ],
    ),
}


@pytest.mark.parametrize(("added", "parts"), RESPLIT.values(), ids=RESPLIT.keys())
def test_an_id_split_out_of_the_visitors_own_parameter_is_nobody(
    login_client, httpserver, order_served, added, parts
) -> None:
    response = login_client.get(f"{URL}?{resplit(added, parts)}")
    assert response.status_code == 200
    assert "Log in to see your downloads" in Page(response.text).text
    assert upstream_calls(httpserver) == 0


def test_a_customer_with_extra_parameters_sees_order(
    login_client, order_served
) -> None:
    pairs = [("utm_source", "mail"), *shopify_params(), ("utm_medium", "email")]
    response = login_client.get(f"{URL}?{signed(pairs)}")
    assert response.status_code == 200
    assert "Sound pack" in Page(response.text).text


@pytest.mark.parametrize(
    "ids",
    [["123", ""], ["", "123"], ["123", "123"], ["abc"], ["-1"], ["１２３"], [" 123"]],
)
def test_only_one_id_of_digits_is_a_customer(
    login_client, httpserver, order_served, ids
) -> None:
    # The customer's own URL may carry logged_in_customer_id; Shopify signs it too.
    pairs = shopify_params(logged_in_customer_id=ids[-1])
    pairs[1:1] = [("logged_in_customer_id", value) for value in ids[:-1]]
    response = login_client.get(f"{URL}?{signed(pairs)}")
    assert response.status_code == 200
    assert "Log in to see your downloads" in Page(response.text).text
    assert upstream_calls(httpserver) == 0


def test_a_repeated_path_prefix_is_refused(client, httpserver, order_served) -> None:
    pairs = [*shopify_params(), ("path_prefix", "/a/elsewhere")]
    assert client.get(f"{URL}?{signed(pairs)}").status_code == 403
    assert upstream_calls(httpserver) == 0


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("/tools/downloads/", "/tools/downloads"),
        ("//evil.example", PREFIX),
        ("https://evil.example", PREFIX),
        ("/apps/{{ shop.name }}", PREFIX),
        ("/apps/../admin", PREFIX),
        ("", PREFIX),
    ],
)
def test_path_prefix_is_checked(login_client, given, used) -> None:
    pairs = shopify_params(logged_in_customer_id="", path_prefix=given)
    page = Page(login_client.get(f"{URL}?{signed(pairs)}").text)
    back = quote(f"{used}/orders/{TOKEN}", safe="")
    assert page.links == [f"/account/login?return_url={back}"]


def test_other_methods_are_signed_and_answered_as_liquid(client, httpserver) -> None:
    unsigned = client.post(URL)
    assert unsigned.status_code == 403
    refused = client.post(f"{URL}?{signed()}")
    assert refused.status_code == 405
    for response in (unsigned, refused):
        assert response.mimetype == "application/liquid"
        assert "<html" not in response.text and "/static/" not in response.text
        assert "Content-Security-Policy" not in response.headers
    assert upstream_calls(httpserver) == 0


def test_double_slashes_are_not_redirected(client) -> None:
    response = client.get(f"/proxy//orders/{TOKEN}?{signed()}")
    assert response.status_code == 404
    assert response.mimetype == "application/liquid"
    assert "Location" not in response.headers


def test_the_signature_is_checked_before_the_limit(config, serve) -> None:
    serve(status=404, token="a" * 32)
    config["NOT_FOUND_RATE_LIMIT"] = "2 per minute"
    client = create_app(config).test_client()
    shopper = {"X-Forwarded-For": "203.0.113.9"}
    for _ in range(2):
        response = client.get(f"/proxy/orders/{'a' * 32}?{signed()}", headers=shopper)
        assert response.status_code == 404
    limited = client.get(f"{URL}?{signed()}", headers=shopper)
    assert limited.status_code == 429
    assert limited.mimetype == "application/liquid"
    assert "Content-Security-Policy" not in limited.headers
    assert "X-Frame-Options" not in limited.headers
    # A forged request naming the same shopper is refused as forged, not counted.
    assert client.get(URL, headers=shopper).status_code == 403


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/proxy/a//b", 404),
        ("GET", "/proxy/", 404),
        ("GET", f"/proxy/orders/{TOKEN}/", 404),
        ("POST", "/proxy", 405),
        ("DELETE", "/proxy/nope", 405),
    ],
)
def test_every_url_under_the_proxy_is_signed_and_liquid(
    client, httpserver, method, path, status
) -> None:
    assert client.open(path, method=method).status_code == 403
    response = client.open(f"{path}?{signed()}", method=method)
    assert response.status_code == status
    assert response.mimetype == "application/liquid"
    assert upstream_calls(httpserver) == 0
