"""The designers' gallery: every state of the page, served from fixture orders."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_babel import force_locale
from werkzeug.exceptions import NotFound

from . import account, downloads, fixtures, themes
from .errors import render_error
from .languages import LOCALE_PARAM, Language, Languages
from .models import Order, parse_order
from .orders import get_store
from .storefront import Store
from .upstream import (
    OrderNotFound,
    UpgradeRequired,
    UpstreamError,
    UpstreamInvalid,
    UpstreamUnavailable,
)

bp = Blueprint("preview", __name__, url_prefix="/preview")

#: How old the stale scenario's cached copy is, in seconds.
STALE_AGE = 10 * 60

DEMO_STORE = Store(
    "Northwind Sounds",
    "https://northwind-sounds.example/",
    "mailto:help@northwind-sounds.example",
)

LONG_FILENAME = "Extended_Director's_Cut_" + "Remastered" * 12 + "_FINAL_v2.mp4"


@dataclass(frozen=True, slots=True)
class Scenario:
    """One state of the page: the upstream's body or failure, and any cached copy."""

    title: str
    description: str
    body: dict[str, Any] | None = None
    error: type[UpstreamError] | None = None
    cached_age: float | None = None
    #: The store's settings this scenario shows, as if STORE_NAME and the rest were set.
    store: Store | None = None

    @property
    def status(self) -> int:
        """The status the customer's page answers with."""
        if self.error is None or self.cached_age is not None:
            return 200
        return self.error.status

    def order(self) -> Order:
        """Parse the scenario's body as the real client would."""
        return parse_order(self.body)


SCENARIOS: dict[str, Scenario] = {
    "example": Scenario(
        "The documented example",
        "The order from Fileflare's API documentation: a book and a bonus file.",
        fixtures.EXAMPLE_ORDER,
    ),
    "unlimited": Scenario(
        "Unlimited downloads",
        "Files with no download limit: no bar, just the button.",
        fixtures.order(
            lines=[
                fixtures.line(
                    "Lo-fi drum kit",
                    [
                        fixtures.asset("Drums.zip", limit=None, size="120MB"),
                        fixtures.asset("Read me.pdf", limit=None, size="200KB"),
                    ],
                )
            ]
        ),
    ),
    "used-up": Scenario(
        "A file used up",
        "One file has reached its limit and offers no link; the other is live.",
        fixtures.order(
            lines=[
                fixtures.line(
                    "Synth presets",
                    [
                        fixtures.asset("Presets vol. 1.zip", downloaded=3, limit=3),
                        fixtures.asset("Presets vol. 2.zip", downloaded=1, limit=3),
                    ],
                    variant="Serum edition",
                )
            ]
        ),
    ),
    "one-left": Scenario(
        "One download left",
        "A file the customer may download once more.",
        fixtures.order(
            lines=[
                fixtures.line(
                    "Field recordings",
                    [fixtures.asset("Rain in Lisbon.wav", downloaded=4, limit=5)],
                )
            ]
        ),
    ),
    "over-limit": Scenario(
        "A counter over its limit",
        "Fileflare counted 12 downloads of 10: the bar is clamped.",
        fixtures.order(
            lines=[
                fixtures.line(
                    "Photo presets",
                    [fixtures.asset("Presets.zip", downloaded=12, limit=10)],
                )
            ]
        ),
    ),
    "large": Scenario(
        "A large order",
        "60 line items with 3 files each: a summary on top, the cards folded up"
        " after the first three.",
        fixtures.large_order(60),
    ),
    "long-names": Scenario(
        "Long names and non-Latin text",
        "Chinese, Japanese, Arabic, emoji and a filename with no place to break.",
        fixtures.order(
            lines=[
                fixtures.line(
                    "数字音乐合集：春夏秋冬四季完整版（高解析度无损音频）",
                    [
                        fixtures.asset("春の歌 — ハイレゾ版.flac", size="1.2GB"),
                        fixtures.asset(LONG_FILENAME, downloaded=2, limit=3),
                    ],
                    variant="ハイレゾ / 24-bit 96kHz",
                ),
                fixtures.line(
                    "كتاب الطبخ العربي الكامل",
                    [fixtures.asset("الفصل الأول.pdf", limit=None, size="3MB")],
                    variant="الطبعة الثانية",
                ),
                fixtures.line(
                    "🎧 Emoji sound pack 🎶✨",
                    [fixtures.asset("👍 thumbs-up.wav", downloaded=1, limit=2)],
                ),
            ],
            title="ご注文のダウンロード · Your downloads · تنزيلاتك",
        ),
    ),
    "kinds": Scenario(
        "Kinds and sizes",
        "Each file's kind from its name or address, sizes the language's way, and"
        " a size that does not parse, shown as given.",
        fixtures.order(
            lines=[
                fixtures.line(
                    "Everything pack",
                    [
                        fixtures.asset("Guide.pdf", size="2.5MB", limit=None),
                        fixtures.asset("Stems.zip", size="1.2 GB", downloaded=1),
                        fixtures.asset("Intro.mp3", size="512KB", downloaded=2),
                        fixtures.asset("Lesson 1.mov", size="700 MB", limit=None),
                        fixtures.asset("Cover.png", size="about 3 pages", limit=None),
                        fixtures.asset(
                            "Members area",
                            url="https://example.com/members",
                            size="",
                            is_file=False,
                            limit=None,
                        ),
                    ],
                )
            ]
        ),
    ),
    "mixed-direction": Scenario(
        "English names on an Arabic page",
        "Open it in Arabic: names and sizes read in their own direction, rows stay"
        " aligned to the page's.",
        fixtures.order(
            lines=[
                fixtures.line(
                    "Piano Sessions Vol. 2 (24-bit)",
                    [
                        fixtures.asset("01 - Opening (Live).wav", downloaded=2),
                        fixtures.asset("Sheet music.pdf", downloaded=5, limit=5),
                    ],
                    variant="Deluxe / WAV",
                ),
                fixtures.line(
                    "دروس البيانو للمبتدئين",
                    [fixtures.asset("Lesson 1 - الدرس الأول.mp4", limit=None)],
                ),
            ],
            title="Your downloads from Piano House",
        ),
    ),
    "store": Scenario(
        "The store's name and links",
        "STORE_NAME, STORE_URL and SUPPORT_URL set: the name in the header, and"
        " links back to the store and to its help.",
        fixtures.EXAMPLE_ORDER,
        store=DEMO_STORE,
    ),
    "store-down": Scenario(
        "Fileflare is down, with the store's links (503)",
        'The unavailable page with "Try again" and the store\'s two links.',
        error=UpstreamUnavailable,
        store=DEMO_STORE,
    ),
    "no-files": Scenario(
        "An order with no files",
        "A physical item only: the page says so kindly.",
        fixtures.order(lines=[fixtures.line("Hard back edition", [])]),
    ),
    "no-link": Scenario(
        "A file without a usable link",
        "The merchant's URL is not http(s), so it never becomes a link.",
        fixtures.order(
            lines=[
                fixtures.line(
                    "Bonus material",
                    [fixtures.asset("Bonus.zip", url="javascript:alert(1)")],
                )
            ]
        ),
    ),
    "merchant-html": Scenario(
        "A merchant message with HTML",
        "Paragraphs, emphasis, lists and links kept; scripts and handlers dropped.",
        fixtures.order(
            text=(
                "<p>Thank you for your order! <strong>Downloads expire</strong>"
                " after <em>30 days</em>.</p><ul><li>Unzip before use</li>"
                "<li>Questions? <a href='https://example.com/help' onclick='x()'>"
                "Visit our help centre</a></li></ul>"
                "<script>alert('no')</script><img src=x onerror=alert(1)>"
            ),
            title="Thanks for shopping with us",
        ),
    ),
    "upgrade": Scenario(
        "The upgrade page (402)",
        "The store's Fileflare plan lacks customer-account download links.",
        error=UpgradeRequired,
    ),
    "not-found": Scenario(
        "Order not found (404)",
        "The token matches no order, or not yet: an order placed a minute ago.",
        error=OrderNotFound,
    ),
    "upstream-down": Scenario(
        "Fileflare is down (503)",
        "No answer from the download server and no copy to fall back on.",
        error=UpstreamUnavailable,
    ),
    "upstream-invalid": Scenario(
        "A broken answer (502)",
        "Fileflare answered with something that is not an order.",
        error=UpstreamInvalid,
    ),
    "stale": Scenario(
        "A stale copy",
        "Fileflare is down, so the store serves the copy it fetched 10 minutes ago.",
        fixtures.EXAMPLE_ORDER,
        error=UpstreamUnavailable,
        cached_age=STALE_AGE,
    ),
}


class FixtureSource:
    """An upstream made of the scenarios: each token is a scenario's name."""

    def __init__(self, scenarios: dict[str, Scenario] = SCENARIOS) -> None:
        self.scenarios = scenarios

    def fetch(self, token: str) -> Order:
        """Return the scenario's order, or raise its failure, as Fileflare would."""
        scenario = self.scenarios.get(token)
        if scenario is None:
            raise OrderNotFound()
        if scenario.error is not None:
            raise scenario.error()
        return scenario.order()


#: The preview-only toggles, each with its choices; the first is "as the system says".
TOGGLES = {
    "scheme": ("", "light", "dark"),
    "dir": ("", "rtl"),
}


def toggles() -> dict[str, str]:
    """Return the toggles this request chose: ``?scheme=dark``, ``?dir=rtl``."""
    return {
        name: value
        for name, choices in TOGGLES.items()
        if (value := request.args.get(name, "")) in choices[1:]
    }


@bp.context_processor
def toggled_context() -> dict[str, Any]:
    """Force the page's colours or direction, without changing the system's."""
    chosen = toggles()
    context: dict[str, Any] = {}
    if "scheme" in chosen:
        context["stylesheet_hrefs"] = [
            url_for("preview.stylesheet", scheme=chosen["scheme"], filename=name)
            for name in themes.stylesheets(current_app)
        ]
    if "dir" in chosen:
        context["html_dir"] = chosen["dir"]
    name = request.view_args.get("name") if request.view_args else None
    shown = SCENARIOS.get(name) if isinstance(name, str) else None
    if shown is not None and shown.store is not None:
        context["store"] = shown.store
    return context


@bp.get("/style/<scheme>/<path:filename>")
def stylesheet(scheme: str, filename: str) -> Response:
    """Serve a stylesheet with its dark colours always on, or never."""
    if scheme not in TOGGLES["scheme"][1:]:
        raise NotFound()
    css = themes.static_path(current_app, filename).read_text(encoding="utf-8")
    forced = "all" if scheme == "dark" else "not all"
    css = css.replace("(prefers-color-scheme: dark)", forced)
    return Response(css, mimetype="text/css")


@bp.get("")
def gallery() -> str:
    """List every scenario, with one switcher each for language, colours, direction."""
    languages: Languages = current_app.extensions["languages"]
    matched = languages.match(request.args.get(LOCALE_PARAM))
    chosen = {**toggles()}
    if matched is not None:
        chosen[LOCALE_PARAM] = Language.of(matched).tag

    def link(endpoint: str, **changes: str) -> str:
        """Link to ``endpoint`` keeping every choice made, but ``changes``."""
        params = {k: v for k, v in {**chosen, **changes}.items() if v}
        return url_for(endpoint, **params)

    # The gallery's own words are for designers and stay English.
    with force_locale("en"):
        return render_template(
            "preview.html",
            scenarios=SCENARIOS,
            answers=ANSWERS,
            languages=[Language.of(name) for name in languages.names],
            chosen=chosen,
            link=link,
        )


@dataclass(frozen=True, slots=True)
class Answer:
    """A page that answers a Download form rather than a look at the order."""

    title: str
    description: str
    status: int


#: The answers to a Download form that are pages, shown without posting one.
ANSWERS = {
    "limit-reached": Answer(
        "A used-up file's Download, forged (403)",
        "A form posted for a file with no download left: refused, never redirected.",
        403,
    ),
    "no-such-file": Answer(
        "A file the order no longer has (404)",
        "A form posted for a file id the order does not list.",
        404,
    ),
    "sending": Answer(
        "Sending the browser on (app proxy)",
        "Through the app proxy, a Download answers with this page: a refresh and a"
        " link to the file (the refresh is left out here).",
        200,
    ),
}


@bp.get("/answer/<name>")
def answer(name: str) -> Response:
    """Show one of the answers to a Download form, for the example order."""
    shown = ANSWERS.get(name)
    if shown is None:
        raise NotFound()
    order_url = url_for("preview.scenario", name="example")
    if name != "sending":
        return render_error(shown.status, page=name, order_url=order_url)
    # No refresh: a designer looking at this page should stay on it.
    body = render_template(
        "sending.html",
        file_url="https://files.example.com/download/track-01.wav",
        name="Track 01.wav",
        order_url=order_url,
        refresh=False,
    )
    return Response(body)


@bp.post("/<name>/download")
def download(name: str) -> Response:
    """Send the browser on to a scenario's file, as the customer's route does."""
    if name not in SCENARIOS:
        raise NotFound()
    return downloads.send(name)


@bp.get("/<name>")
def scenario(name: str) -> str:
    """Render one scenario through the customer's own order route."""
    chosen = SCENARIOS.get(name)
    if chosen is None:
        raise NotFound()
    if chosen.cached_age is not None:
        # A copy fetched earlier, so the store's own stale path serves it.
        get_store().remember(name, chosen.order(), time.time() - chosen.cached_age)
    return account.order(name)
