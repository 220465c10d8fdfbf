"""The designers' gallery: every state of the page, served from fixture orders."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_babel import force_locale
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response as BaseResponse

from . import account, downloads, themes
from .errors import render_error
from .fixtures.scenarios import SCENARIOS
from .languages import LOCALE_PARAM, Language, Languages
from .store import get_store

bp = Blueprint("preview", __name__, url_prefix="/preview")


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
        params: dict[str, Any] = {k: v for k, v in {**chosen, **changes}.items() if v}
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
def download(name: str) -> BaseResponse:
    """Send the browser on to a scenario's file, as the customer's route does."""
    if name not in SCENARIOS:
        raise NotFound()
    return downloads.send(name)


@bp.get("/<name>")
def scenario(name: str) -> str:
    """Render one scenario as the customer's own page, never a kept one."""
    chosen = SCENARIOS.get(name)
    if chosen is None:
        raise NotFound()
    if chosen.cached_age is not None:
        # A copy fetched earlier, so the store's own stale path serves it.
        get_store().remember(name, chosen.order(), time.time() - chosen.cached_age)
    return account.order_page(name)
