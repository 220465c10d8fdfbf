"""The designers' gallery: every state of the page, served from fixture orders."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_babel import force_locale
from werkzeug.exceptions import NotFound

from . import account, fixtures
from .languages import LOCALE_PARAM, Language, Languages
from .models import Order, parse_order
from .orders import get_store
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

LONG_FILENAME = "Extended_Director's_Cut_" + "Remastered" * 12 + "_FINAL_v2.mp4"


@dataclass(frozen=True, slots=True)
class Scenario:
    """One state of the page: the upstream's body or failure, and any cached copy."""

    title: str
    description: str
    body: dict[str, Any] | None = None
    error: type[UpstreamError] | None = None
    cached_age: float | None = None

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
        "60 line items with 3 files each.",
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
        "The token matches no order.",
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


@bp.get("")
def gallery() -> str:
    """List every scenario with links to its page in each language."""
    languages: Languages = current_app.extensions["languages"]
    chosen = languages.match(request.args.get(LOCALE_PARAM))
    # The gallery's own words are for designers and stay English.
    with force_locale("en"):
        return render_template(
            "preview.html",
            scenarios=SCENARIOS,
            languages=[Language.of(name) for name in languages.names],
            chosen=chosen and Language.of(chosen).tag,
        )


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
