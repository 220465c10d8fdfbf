"""The designers' gallery: every state of the page, served from fixture orders."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, render_template, request
from flask_babel import force_locale
from werkzeug.exceptions import NotFound

from . import account
from .fixtures.scenarios import SCENARIOS
from .languages import LOCALE_PARAM, Language, Languages
from .store import get_store

bp = Blueprint("preview", __name__, url_prefix="/preview")


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
