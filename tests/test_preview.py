"""The designers' preview: fixture scenarios and the gallery."""

from __future__ import annotations

import os
import time

import pytest
from markupsafe import escape
from pytest_httpserver import HTTPServer

from downloads_portal import create_app
from downloads_portal.fixtures.scenarios import SCENARIOS, FixtureSource
from downloads_portal.upstream import (
    OrderNotFound,
    UpgradeRequired,
    UpstreamInvalid,
    UpstreamUnavailable,
)

from .conftest import upstream_calls


def test_gallery_links_every_scenario(preview_client) -> None:
    response = preview_client.get("/preview")
    assert response.status_code == 200
    for name, scenario in SCENARIOS.items():
        assert f'href="/preview/{name}"' in response.text
        assert escape(scenario.title) in response.text
        assert escape(scenario.description) in response.text


@pytest.mark.parametrize(
    "name", [n for n, s in SCENARIOS.items() if s.cached_age is None]
)
def test_scenario_is_the_customer_s_own_page(preview_client, config, name) -> None:
    """A scenario renders exactly what /account/orders/<token> renders for it."""
    shown = preview_client.get(f"/preview/{name}")
    store = SCENARIOS[name].store
    if store is not None:
        settings = {"STORE_NAME": store.name, "STORE_URL": store.url}
        settings["SUPPORT_URL"] = store.support_url
        preview_app = create_app({**config, "PREVIEW": True, **settings})
        preview_client = preview_app.test_client()
    customer = preview_client.get(f"/account/orders/{name}")
    assert shown.status_code == customer.status_code == SCENARIOS[name].status
    # "Try again" and the Download forms lead back to the page itself.
    here = f'="/preview/{name}'.encode()
    assert shown.data.replace(here, f'="/account/orders/{name}'.encode()) == (
        customer.data
    )
    assert shown.headers.get("Retry-After") == customer.headers.get("Retry-After")


#: Every state the issue asked for: its status, and words only that state shows.
ISSUE_SCENARIOS = [
    ("example", 200, "5 of 10 downloaded"),
    ("unlimited", 200, "Unlimited downloads"),
    ("used-up", 200, "Download limit reached"),
    ("one-left", 200, "1 download left"),
    ("over-limit", 200, "10 of 10 downloaded"),
    ("large", 200, "Module 60 - part 3.mp4"),
    ("long-names", 200, "كتاب الطبخ العربي الكامل"),
    ("no-files", 200, "Nothing to download yet"),
    ("no-link", 200, "available right now"),
    ("merchant-html", 200, "<strong>Downloads expire</strong>"),
    ("upgrade", 402, "Premium plan"),
    ("not-found", 404, "We couldn&#39;t find that order"),
    ("upstream-down", 503, "temporarily unavailable"),
    ("upstream-invalid", 502, "temporarily unavailable"),
    ("stale", 200, "Download counts may be a few minutes old"),
    ("kinds", 200, "about 3 pages"),
    ("mixed-direction", 200, "<bdi>Piano Sessions Vol. 2 (24-bit)</bdi>"),
    ("store", 200, "Back to the store"),
    ("store-down", 503, "Contact the store"),
]


@pytest.mark.parametrize(("name", "status", "words"), ISSUE_SCENARIOS)
def test_scenario_pages(preview_client, name, status, words) -> None:
    """Each state is linked from the gallery and its page shows what it is for."""
    assert f'href="/preview/{name}"' in preview_client.get("/preview").text
    response = preview_client.get(f"/preview/{name}")
    assert response.status_code == status
    assert words in response.text


def test_large_scenario_has_60_lines_of_3_files(preview_client) -> None:
    html = preview_client.get("/preview/large").text
    assert html.count('class="card"') == 60
    assert html.count('<li class="asset') == 180


def test_merchant_html_is_sanitised(preview_client) -> None:
    html = preview_client.get("/preview/merchant-html").text
    assert "<script" not in html and "onclick" not in html and "onerror" not in html


def test_stale_copy_goes_through_the_order_store(preview_client) -> None:
    """The source fails for "stale"; only the store's cached copy can show the page."""
    with pytest.raises(UpstreamUnavailable):
        FixtureSource().fetch("stale")
    response = preview_client.get("/preview/stale")
    assert response.status_code == 200
    words = " ".join(response.text.split())
    assert "how it looked 10 minutes ago" in words
    assert "Download counts may be a few minutes old" in words
    assert 'href="/preview/stale">Try again</a>' in response.text
    assert "My new Book" in response.text


@pytest.mark.parametrize(
    ("token", "error"),
    [
        ("upgrade", UpgradeRequired),
        ("not-found", OrderNotFound),
        ("upstream-down", UpstreamUnavailable),
        ("upstream-invalid", UpstreamInvalid),
        ("no-such-scenario", OrderNotFound),
    ],
)
def test_fixture_source_raises_like_fileflare(token, error) -> None:
    with pytest.raises(error):
        FixtureSource().fetch(token)


def test_fixture_source_parses_like_the_client() -> None:
    order = FixtureSource().fetch("example")
    assert order.number == "1050"
    assert [a.filename for a in order.assets] == ["My new book - part 2"]


def test_unknown_scenario_is_404(preview_client) -> None:
    assert preview_client.get("/preview/nothing-here").status_code == 404


def test_preview_never_calls_the_upstream(preview_client, httpserver) -> None:
    for name in SCENARIOS:
        preview_client.get(f"/preview/{name}").close()
    assert upstream_calls(httpserver) == 0
    assert isinstance(
        preview_client.application.extensions["order_store"].source, FixtureSource
    )


@pytest.mark.parametrize("path", ["/preview", "/preview/example"])
def test_no_preview_outside_preview_mode(client, httpserver: HTTPServer, path) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert upstream_calls(httpserver) == 0


def test_preview_from_the_environment(monkeypatch, config) -> None:
    monkeypatch.setenv("DOWNLOADS_PORTAL_PREVIEW", "true")
    client = create_app(config).test_client()
    assert client.get("/preview").status_code == 200


def test_templates_reload_in_preview(config, tmp_path) -> None:
    header = tmp_path / "theme" / "templates" / "_header.html"
    header.parent.mkdir(parents=True)
    header.write_text("<header>first</header>")
    app = create_app({**config, "PREVIEW": True, "THEME_DIR": str(header.parents[1])})
    client = app.test_client()
    assert "<header>first</header>" in client.get("/preview/example").text
    header.write_text("<header>second</header>")
    later = time.time() + 5
    os.utime(header, (later, later))
    assert "<header>second</header>" in client.get("/preview/example").text


def test_a_template_added_to_the_theme_shows_at_once(config, tmp_path) -> None:
    theme = tmp_path / "theme"
    (theme / "templates").mkdir(parents=True)
    app = create_app({**config, "PREVIEW": True, "THEME_DIR": str(theme)})
    client = app.test_client()
    assert "THEMED 404" not in client.get("/preview/not-found").text
    page = theme / "templates" / "errors" / "404.html"
    page.parent.mkdir()
    page.write_text(
        '{% extends "errors/error.html" %}{% block body %}THEMED 404{% endblock %}'
    )
    assert "THEMED 404" in client.get("/preview/not-found").text


@pytest.mark.parametrize("name", ["limit-reached", "no-such-file", "sending"])
def test_answers_to_a_download_are_in_the_gallery(preview_client, name) -> None:
    from downloads_portal.preview import ANSWERS

    assert f'href="/preview/answer/{name}"' in preview_client.get("/preview").text
    response = preview_client.get(f"/preview/answer/{name}?locale=de")
    assert response.status_code == ANSWERS[name].status
    assert 'href="/preview/example">Zurück zu Ihren Downloads' in response.text
    assert "http-equiv" not in response.text
