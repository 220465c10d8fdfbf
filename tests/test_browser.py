"""Every preview scenario in real headless Chromium, with axe and the Nu checker.

Every scenario runs in English and in Arabic (right to left), a few in other languages.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import sync_playwright
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response
from werkzeug.serving import make_server

from downloads_portal import create_app
from downloads_portal.fixtures.scenarios import SCENARIOS
from downloads_portal.preview import ANSWERS

from .conftest import (
    AXE,
    ORDERS_PATH,
    PREFIX,
    ROOT,
    SCREENSHOTS,
    SECRET,
    TOKEN,
    VNU,
    CountingOrder,
    render_liquid,
    require_command,
    signed,
)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXAMPLE_THEME = ROOT / "examples" / "theme"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]

#: The viewport widths every page is checked at.
WIDTHS = {"desktop": 1280, "phone": 375}
#: Screenshots stop here: the large order would otherwise be metres long.
SHOT_MAX_HEIGHT = 3000

#: Every page of the gallery, with the status it answers: the index, then the
#: scenarios, then each scenario in Arabic (right to left), a few in other languages.
PAGES = (
    {
        "gallery": ("/preview", 200),
        "landing": ("/", 200),
        "gallery-dark-rtl": ("/preview?scheme=dark&dir=rtl", 200),
        "example-forced-dark": ("/preview/example?scheme=dark", 200),
        "store-forced-rtl": ("/preview/store?dir=rtl", 200),
    }
    | {f"answer-{n}": (f"/preview/answer/{n}", a.status) for n, a in ANSWERS.items()}
    | {
        f"answer-{n}-ar": (f"/preview/answer/{n}?locale=ar", a.status)
        for n, a in ANSWERS.items()
    }
    | {name: (f"/preview/{name}", s.status) for name, s in SCENARIOS.items()}
    | {
        f"{name}-ar": (f"/preview/{name}?locale=ar", s.status)
        for name, s in SCENARIOS.items()
    }
    | {
        f"{name}-{locale}": (f"/preview/{name}?locale={locale}", SCENARIOS[name].status)
        for name, locale in [
            ("example", "de"),
            ("example", "ja"),
            ("one-left", "fr"),
            ("stale", "nl"),
            ("upgrade", "pt-BR"),
            ("not-found", "es"),
            ("used-up", "it"),
            ("kinds", "fr"),
            ("mixed-direction", "ja"),
            ("store-down", "de"),
        ]
    }
)

RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
  }));
}"""

#: Interactive elements that are not links inside a sentence, with their size.
TARGETS = """() => [...document.querySelectorAll(
    "a[href], button, summary, input:not([type=hidden])")]
  .filter(el => getComputedStyle(el).display !== "inline")
  .map(el => {
    const box = el.getBoundingClientRect();
    return {what: el.outerHTML.slice(0, 80), width: box.width, height: box.height};
  })"""


@contextmanager
def serving(config: dict[str, Any]) -> Iterator[str]:
    """Serve a preview app on a loopback port from a thread; yield its address."""
    app = create_app({"PREVIEW": True, **config})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="session")
def preview_url() -> Iterator[str]:
    with serving({}) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Launch Debian's Chromium once for the whole run."""
    chromium_path = require_command("chromium", "chromium")
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def axe_source(node_tools: Path) -> str:
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def page_at(browser: Any) -> Iterator[Callable[[str], Any]]:
    """Return one reused page per width; the CSP bypass lets axe be injected."""
    pages: dict[str, Any] = {}
    contexts: list[Any] = []

    def page_at(width: str) -> Any:
        if width not in pages:
            context = browser.new_context(
                viewport={"width": WIDTHS[width], "height": 800},
                bypass_csp=True,
                color_scheme="light",
            )
            contexts.append(context)
            pages[width] = context.new_page()
        return pages[width]

    yield page_at
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def shoot(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[Any, str], None]:
    """Return a function that saves a page's screenshot in this run's temp folder."""
    folder = tmp_path_factory.mktemp("screenshots", numbered=False)
    config = request.config

    def shoot(page: Any, name: str) -> None:
        width = page.viewport_size["width"]
        height = page.evaluate("document.documentElement.scrollHeight")
        height = min(height, SHOT_MAX_HEIGHT)
        page.screenshot(
            path=folder / f"{name}.png",
            full_page=True,
            clip={"x": 0, "y": 0, "width": width, "height": height},
        )
        _, taken = config.stash.get(SCREENSHOTS, ("", 0))
        config.stash[SCREENSHOTS] = (str(folder), taken + 1)

    return shoot


#: The width of the narrowest box holding a file's name and size, in CSS pixels.
NARROWEST_FILE_NAME = """
Math.min(Infinity, ...Array.from(document.querySelectorAll('.asset-info'),
                                 (e) => e.getBoundingClientRect().width))
"""


def axe_violations(page: Any, axe_source: str) -> list[dict[str, Any]]:
    """Inject axe-core into the page and return its violations."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(content=axe_source)
    return page.evaluate(RUN_AXE, AXE_TAGS)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_page(page_at, preview_url, axe_source, shoot, name, width) -> None:
    path, status = PAGES[name]
    page = page_at(width)
    response = page.goto(preview_url + path)
    assert response is not None and response.status == status
    shoot(page, f"{name}-{width}")

    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        assert axe_violations(page, axe_source) == [], f"axe, {scheme} colours"
    page.emulate_media(color_scheme="light")

    overflow = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert overflow[0] <= overflow[1], "the page scrolls sideways"
    small = [t for t in page.evaluate(TARGETS) if t["width"] < 44 or t["height"] < 44]
    assert small == [], "tap targets under 44 px"
    narrowest = page.evaluate(NARROWEST_FILE_NAME)
    assert narrowest >= 120, "a file's name is squeezed into a narrow column"


def test_focus_ring_is_visible(page_at, preview_url) -> None:
    page = page_at("phone")
    page.goto(preview_url + "/preview/example")
    page.keyboard.press("Tab")
    skip = page.evaluate(
        "(() => { const b = document.activeElement.getBoundingClientRect();"
        " return [document.activeElement.className, b.left, b.top]; })()"
    )
    assert skip[0] == "skip-link" and skip[1] >= 0 and skip[2] >= 0
    page.keyboard.press("Tab")
    ring = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [document.activeElement.className, s.outlineStyle,"
        " parseFloat(s.outlineWidth)]; })()"
    )
    assert ring[0] == "button" and ring[1] == "solid" and ring[2] >= 2


def test_arabic_page_mirrors(page_at, preview_url) -> None:
    """Right to left: the button sits left of the filename, the skip link right."""
    page = page_at("desktop")
    page.goto(preview_url + "/preview/example?locale=ar")
    looks = page.evaluate(
        """(() => {
          const box = s => document.querySelector(s).getBoundingClientRect();
          return {dir: getComputedStyle(document.body).direction,
                  name: box(".asset-name").left, button: box(".button").right,
                  bar: getComputedStyle(document.querySelector("progress")).direction};
        })()"""
    )
    assert looks["dir"] == looks["bar"] == "rtl"
    assert looks["button"] < looks["name"]
    page.keyboard.press("Tab")
    skip = page.evaluate(
        "(() => { const b = document.activeElement.getBoundingClientRect();"
        " return [document.activeElement.className, b.left, b.right,"
        " window.innerWidth]; })()"
    )
    assert skip[0] == "skip-link"
    assert skip[3] / 2 < skip[1] and skip[2] <= skip[3]
    page.goto(preview_url + "/preview/example")
    ltr = page.evaluate(
        "[document.querySelector('.asset-name').getBoundingClientRect().left,"
        " document.querySelector('.button').getBoundingClientRect().left]"
    )
    assert ltr[0] < ltr[1]


def test_example_theme(page_at, axe_source, shoot) -> None:
    """The example theme's header and colours reach the page, still accessible."""
    css = (EXAMPLE_THEME / "static" / "theme.css").read_text()
    brand = re.search(r"--portal-brand:\s*#(\w{6})", css)
    assert brand is not None
    expected = "rgb({}, {}, {})".format(*bytes.fromhex(brand[1]))
    page = page_at("phone")
    with serving({"THEME_DIR": str(EXAMPLE_THEME)}) as url:
        page.goto(url + "/preview/example")
        shoot(page, "theme-example-phone")
        looks = page.evaluate(
            "(() => [getComputedStyle(document.querySelector('.button'))"
            ".backgroundColor, document.querySelector('.site-header').innerText])()"
        )
        assert looks[0] == expected
        assert "Northwind Sounds" in looks[1]
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            assert axe_violations(page, axe_source) == [], f"axe, {scheme} colours"
        page.emulate_media(color_scheme="light")


def test_a_large_order_fits_a_phone(page_at, preview_url) -> None:
    """60 products of 3 files: at most 12,000 px tall at 375 px, every file there."""
    page = page_at("phone")
    page.goto(preview_url + "/preview/large")
    looks = page.evaluate(
        """(() => ({height: document.documentElement.scrollHeight,
                   files: document.querySelectorAll(".asset").length,
                   folded: document.querySelectorAll("details:not([open])").length,
                   summaries: document.querySelectorAll("summary").length}))()"""
    )
    assert looks["height"] <= 12_000
    assert looks["files"] == 180 and looks["folded"] == 57 and looks["summaries"] == 60
    # A folded card opens from the keyboard, and its files can then be reached.
    page.focus("details:not([open]) > summary")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "document.activeElement.closest('details').open"
        " && document.activeElement.className"
    )
    assert focused == "button"


#: For each card, the left edges of its bars and of its buttons or notes.
COLUMNS = """[...document.querySelectorAll(".assets")].map(list => ({
  bars: [...list.querySelectorAll(".counter")].map(e => Math.round(
    e.getBoundingClientRect().left)),
  actions: [...list.querySelectorAll(".asset-action")].map(e => Math.round(
    e.getBoundingClientRect().left)),
}))"""


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_rows_line_up(page_at, preview_url, locale) -> None:
    """A used-up file's note does not push its bar out of line, in both directions."""
    page = page_at("desktop")
    page.goto(f"{preview_url}/preview/used-up?locale={locale}")
    for card in page.evaluate(COLUMNS):
        assert len(set(card["bars"])) == 1 and len(set(card["actions"])) == 1


#: How far each block's text sits from its start side: 0 when aligned to the start.
START_GAPS = """(sel) => [...document.querySelectorAll(sel)].map(e => {
  const range = document.createRange(); range.selectNodeContents(e);
  const text = range.getBoundingClientRect(), box = e.getBoundingClientRect();
  const rtl = getComputedStyle(e).direction === "rtl";
  return Math.round(rtl ? box.right - text.right : text.left - box.left);
})"""


def test_mixed_direction_does_not_zig_zag(page_at, preview_url, shoot) -> None:
    """Arabic page, English names: every line starts on the right."""
    page = page_at("desktop")
    page.goto(preview_url + "/preview/mixed-direction?locale=ar")
    shoot(page, "mixed-direction-ar-zigzag-check")
    selectors = ".eyebrow, h1, .card-title, .card-subtitle, .asset-name, .asset-meta"
    gaps = page.evaluate(START_GAPS, selectors)
    assert len(gaps) >= 8 and max(gaps) <= 1


def test_used_up_bars_are_dimmer_in_dark_colours(page_at, preview_url) -> None:
    page = page_at("desktop")
    page.goto(preview_url + "/preview/used-up?scheme=dark")
    # Chromium does not compute a bar's ::-webkit-progress-value for scripts: read
    # the colours its rules name, resolved on the rows themselves.
    fills = page.evaluate(
        """[...document.querySelectorAll(".asset")].map(row => {
              const used = row.classList.contains("is-unavailable");
              const probe = document.createElement("i");
              probe.style.color = used ? "var(--portal-spent)" : "var(--portal-brand)";
              row.append(probe);
              const colour = getComputedStyle(probe).color;
              probe.remove();
              return [used, colour];
           })"""
    )

    def lightness(colour: str) -> float:
        r, g, b = (int(x) for x in re.findall(r"\d+", colour)[:3])
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    spent = [lightness(c) for used, c in fills if used]
    live = [lightness(c) for used, c in fills if not used]
    assert spent and live and max(spent) < min(live)


def test_forced_dark_colours(page_at, preview_url) -> None:
    """?scheme=dark shows the dark colours while the system says light."""
    page = page_at("phone")
    page.goto(preview_url + "/preview/example?scheme=dark")
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.goto(preview_url + "/preview/example")
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert dark == "rgb(17, 20, 24)" and light == "rgb(245, 246, 248)"


@pytest.fixture
def counting_file(httpserver: HTTPServer) -> str:
    """Serve a counting order whose book.pdf counts a download when fetched; return
    the file's address."""
    file_url = httpserver.url_for("/files/book.pdf")
    order = CountingOrder(url=file_url)

    def fetch_file(request: Any) -> Any:
        order.downloaded += 1
        return Response("stand-in file", content_type="text/plain")

    httpserver.expect_request(ORDERS_PATH).respond_with_handler(order)
    httpserver.expect_request("/files/book.pdf").respond_with_handler(fetch_file)
    return file_url


def test_download_counts_at_once(browser, httpserver, counting_file, tmp_path) -> None:
    """Chromium clicks Download, lands on the file, and Back shows the new count."""
    file_url = counting_file
    config = {
        "API_BASE_URL": httpserver.url_for("/").rstrip("/"),
        "CACHE_DIR": str(tmp_path / "cache"),
        "PREVIEW": False,
    }
    context = browser.new_context(viewport={"width": 375, "height": 800})
    try:
        with serving(config) as url:
            page = context.new_page()
            page.goto(f"{url}/account/orders/{TOKEN}")
            words = page.inner_text("main")
            assert "5 downloads left" in words and "5 of 10 downloaded" in words
            assert file_url not in page.content()
            page.get_by_role("button", name="Download book.pdf").click()
            page.wait_for_url(file_url)
            assert page.inner_text("body") == "stand-in file"
            page.go_back()
            words = page.inner_text("main")
            assert "4 downloads left" in words and "6 of 10 downloaded" in words
    finally:
        context.close()


class ShopifyStandIn:
    """The store's domain: signs and forwards its app proxy path to ours, and runs
    the Liquid answer as a theme would (a fragment goes inside a page of its own).
    Any other answer, a redirect included, passes on to the browser as it is."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.client = create_app(config).test_client()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        path = "/proxy" + request.path.removeprefix(PREFIX)
        answer = self.client.open(
            f"{path}?{signed()}", method=request.method, data=request.form.to_dict()
        )
        if answer.mimetype != "application/liquid":
            return answer(environ, start_response)
        rendered, layouts = render_liquid(answer.get_data(as_text=True))
        if not layouts:
            rendered = (
                '<!doctype html><meta charset="utf-8"><title>Store</title>'
                f"<body>{rendered}</body>"
            )
        page = Response(rendered, answer.status_code, content_type="text/html")
        # Shopify passes our headers on (Cache-Control: no-store among them).
        for key in ("Cache-Control", "Referrer-Policy", "Vary"):
            page.headers[key] = answer.headers[key]
        return page(environ, start_response)


def test_download_through_the_app_proxy(
    browser, httpserver, counting_file, tmp_path
) -> None:
    """Through a stand-in Shopify: the store's form, our page that sends the browser
    on, the file, and Back to the new count."""
    file_url = counting_file
    store = ShopifyStandIn(
        {
            "API_BASE_URL": httpserver.url_for("/").rstrip("/"),
            "CACHE_DIR": str(tmp_path / "cache"),
            "SHOPIFY_API_SECRET": SECRET,
        }
    )
    server = make_server("127.0.0.1", 0, store, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    context = browser.new_context(viewport={"width": 375, "height": 800})
    try:
        page = context.new_page()
        order_url = f"http://127.0.0.1:{server.port}{PREFIX}/orders/{TOKEN}"
        page.goto(order_url)
        assert "5 downloads left" in page.inner_text("#downloads-portal")
        assert file_url not in page.content()
        page.get_by_role("button", name="Download book.pdf").click()
        page.wait_for_url(file_url)
        assert page.inner_text("body") == "stand-in file"
        page.go_back()
        page.wait_for_url(order_url)
        words = page.inner_text("#downloads-portal")
        assert "4 downloads left" in words and "6 of 10 downloaded" in words
    finally:
        context.close()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_print_view(page_at, preview_url, scheme) -> None:
    """Printed, the page is always light and has no buttons."""
    page = page_at("desktop")
    page.goto(preview_url + "/preview/store")
    page.emulate_media(media="print", color_scheme=scheme)
    try:
        looks = page.evaluate(
            """(() => {
              const style = s => getComputedStyle(document.querySelector(s));
              return [style("body").backgroundColor, style("body").color,
                      style(".card").backgroundColor,
                      [...document.querySelectorAll(".button, .skip-link")]
                        .filter(e => e.getClientRects().length).length];
            })()"""
        )
    finally:
        page.emulate_media(media="screen", color_scheme="light")
    assert looks == ["rgb(255, 255, 255)", "rgb(0, 0, 0)", "rgb(255, 255, 255)", 0]


#: Every scenario and answer in every language, for the Nu checker (HTML only).
EVERY_LANGUAGE = {
    f"{name}-every-{tag}": (f"{path}?locale={tag}", status)
    for tag in ["de", "fr", "es", "it", "nl", "pt-BR", "ja"]
    for name, (path, status) in PAGES.items()
    if path.startswith("/preview/") and "?" not in path
}


def test_nu_html_checker(preview_url, node_tools, tmp_path) -> None:
    """Run the W3C Nu HTML checker once over every page's HTML, in every language."""
    require_command("java", "default-jre-headless")
    pages = PAGES | EVERY_LANGUAGE
    for name, (path, status) in pages.items():
        with requests.get(preview_url + path, timeout=10) as response:
            assert response.status_code == status
            (tmp_path / f"{name}.html").write_bytes(response.content)
    files = sorted(str(p) for p in tmp_path.glob("*.html"))
    result = subprocess.run(
        ["java", "-jar", str(VNU), "--format", "json", "--stdout", *files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(result.stdout)["messages"]
    assert len(files) == len(pages)
    errors = [m for m in messages if m.get("type") in {"error", "non-document-error"}]
    assert errors == []


#: Draw each text on a canvas and return its pixels, to tell real glyphs from the
#: one box a font-less browser draws for every character it cannot show.
GLYPHS = """(texts) => texts.map((text) => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 64;
  const context = canvas.getContext("2d");
  context.font = "40px sans-serif";
  context.fillText(text, 4, 48);
  return Array.from(context.getImageData(0, 0, 64, 64).data).join();
})"""


@pytest.mark.parametrize(
    "characters", [("ダ", "ウ"), ("下", "载"), ("😀", "📚")], ids=["ja", "zh", "emoji"]
)
def test_fonts_draw_real_glyphs(page_at, preview_url, characters) -> None:
    """Japanese, Chinese and emoji draw as themselves, not as boxes (fonts-noto-*)."""
    page = page_at("phone")
    page.goto(preview_url + "/preview/example?locale=ja")
    # U+E000 is a private-use character no font draws: it shows the missing box.
    first, second, missing = page.evaluate(GLYPHS, [*characters, "\ue000"])
    assert len({first, second, missing}) == 3, (
        "no font for these characters: "
        "run `sudo apt-get install fonts-noto-cjk fonts-noto-color-emoji`"
    )
