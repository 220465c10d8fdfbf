"""Languages: the catalogues, choosing the language, plurals, numbers and themes."""

from __future__ import annotations

import gettext
import io
import os
import re
import subprocess
import sys
import time
import zipfile
from html import unescape
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from flask_babel import force_locale, ngettext

from downloads_portal import create_app, fixtures, languages
from downloads_portal.fixtures.scenarios import SCENARIOS
from downloads_portal.models import parse_order

from .conftest import ORDERS_PATH, SECRET, TOKEN, shopify_params, signed, text_of

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "downloads_portal" / "translations"
URL = f"/account/orders/{TOKEN}"

#: The issue's languages besides English, as catalogue names.
SHIPPED = ["de", "fr", "es", "it", "nl", "pt_BR", "ja", "ar"]
STALE = "We couldn't check your order just now, so this is how it looked "


def html_tag(html: str) -> str:
    found = re.search(r"<html[^>]*>", html)
    assert found is not None
    return found[0]


def read_catalogue(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Catalog:
    """Run the extraction command in docs/languages.md over the templates and code."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    pybabel = Path(sys.executable).parent / "pybabel"
    subprocess.run(
        [pybabel, "extract", "-F", "babel.cfg", "-k", "lazy_gettext"]
        + ["-o", str(pot), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return read_catalogue(pot)


def po_path(name: str) -> Path:
    return TRANSLATIONS / name / "LC_MESSAGES" / "messages.po"


def translation(name: str, msgid: str) -> str:
    """Return a string's translation as the committed .po file writes it."""
    message = read_catalogue(po_path(name)).get(msgid)
    assert message is not None and isinstance(message.string, str)
    return message.string


# -- the catalogues --------------------------------------------------------------


def test_shipped_languages_are_the_issue_s(app) -> None:
    assert sorted(app.extensions["languages"].names) == sorted(["en", *SHIPPED])


def test_extraction_finds_every_kind_of_string(extracted) -> None:
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in extracted if m.id}
    assert "Download" in ids  # a template expression
    assert "Method Not Allowed" in ids  # Python, through lazy_gettext
    assert "Your downloads are kept with your customer account." in " ".join(ids)
    stale = f"{STALE}%(num)s minute ago. Download counts may be a few minutes old."
    assert stale in ids
    # The designers' gallery stays English and is not extracted.
    assert "Every state of the download page" not in ids


@pytest.mark.parametrize("name", SHIPPED)
def test_catalogue_is_complete(extracted, name) -> None:
    """Every string the code and templates mark has a real translation."""
    catalogue = read_catalogue(po_path(name))
    assert not catalogue.fuzzy
    missing, empty, fuzzy = [], [], []
    for wanted in extracted:
        if not wanted.id:
            continue
        found = catalogue.get(wanted.id)
        if found is None:
            missing.append(wanted.id)
            continue
        strings = found.string if isinstance(found.string, tuple) else [found.string]
        if not all(strings):
            empty.append(wanted.id)
        if found.fuzzy:
            fuzzy.append(wanted.id)
    assert (missing, empty, fuzzy) == ([], [], [])
    expected_forms = len(Locale.parse(name).plural_form.tags) + 1
    plural_forms = {"ja": 1, "ar": 6}.get(name, 2)
    assert catalogue.num_plurals == plural_forms <= expected_forms


@pytest.mark.parametrize("name", SHIPPED)
def test_catalogue_placeholders_match(name) -> None:
    """Babel's checkers: every %(num)s and %(total)s kept, none invented."""
    problems = list(read_catalogue(po_path(name)).check())
    assert problems == []


@pytest.mark.parametrize("name", SHIPPED)
def test_committed_mo_is_the_po_compiled(name) -> None:
    """The .mo a fresh clone uses says exactly what its .po says."""
    compiled = io.BytesIO()
    write_mo(compiled, read_catalogue(po_path(name)))
    compiled.seek(0)
    fresh = gettext.GNUTranslations(compiled)
    with (po_path(name).parent / "messages.mo").open("rb") as file:
        committed = gettext.GNUTranslations(file)
    assert committed._catalog == fresh._catalog  # type: ignore[attr-defined]
    assert [committed.plural(n) for n in range(300)] == [  # type: ignore[attr-defined]
        fresh.plural(n)  # type: ignore[attr-defined]
        for n in range(300)
    ]


#: Run inside the unpacked wheel: the German example page and the stylesheet.
FROM_THE_WHEEL = """
from downloads_portal import create_app
app = create_app({"PREVIEW": True})
client = app.test_client()
page = client.get("/preview/example?locale=de")
css = client.get("/static/portal.css")
print(app.template_folder, app.static_folder, page.status_code, css.status_code)
print("5 von 10 heruntergeladen" in page.text)
"""


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_the_wheel_carries_templates_static_and_catalogues(tmp_path) -> None:
    """Build the wheel, look inside, and serve a translated page from it alone."""
    assert TRANSLATIONS.parent == Path(languages.__file__).parent
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(po_path("de").with_suffix(".mo"))],
        cwd=ROOT,
        check=False,
    )
    assert ignored.returncode == 1  # not ignored: the compiled files are committed
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        + ["-q", "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("downloads_portal-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "unpacked")
    package = tmp_path / "unpacked" / "downloads_portal"
    for folder in ("templates", "static"):
        wanted = files_under(ROOT / folder)
        assert wanted and files_under(package / folder) == wanted
    for name in SHIPPED:
        mo = f"translations/{name}/LC_MESSAGES/messages.mo"
        assert f"downloads_portal/{mo}" in names
        assert (package / mo).read_bytes() == (TRANSLATIONS.parent / mo).read_bytes()

    env = {k: v for k, v in os.environ.items() if not k.startswith("DOWNLOADS_")}
    env["PYTHONPATH"] = str(tmp_path / "unpacked")
    shown = subprocess.run(
        [sys.executable, "-c", FROM_THE_WHEEL],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert shown == [str(package / "templates"), str(package / "static")] + [
        "200",
        "200",
        "True",
    ]


# -- the page in each language -----------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_example_order_in_each_language(client, serve, name) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    tag = name.replace("_", "-")
    response = client.get(f"{URL}?locale={tag}")
    assert response.status_code == 200
    direction = "rtl" if name == "ar" else "ltr"
    assert html_tag(response.text) == f'<html lang="{tag}" dir="{direction}">'
    words = text_of(response.text)
    for msgid in ["Download", "Files for your order", "Skip to content"]:
        assert translation(name, msgid) in words
    assert "Download files for your orders" in words  # the merchant's own title
    for english in ["Skip to content", "Files for your order", "External link"]:
        assert english not in words


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("de", "5 von 10 heruntergeladen"),
        ("fr", "5 téléchargements sur 10"),
        ("es", "5 descargas de 10"),
        ("it", "5 download su 10"),
        ("nl", "5 van 10 gedownload"),
        ("pt-BR", "Downloads: 5 de 10"),
        ("ja", "10回中5回ダウンロード済み"),
        ("ar", "تم تنزيل 5 من 10"),
    ],
)
def test_the_counter_in_each_language(client, serve, locale, words) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    assert words in text_of(client.get(f"{URL}?locale={locale}").text)


def test_english_is_english(client, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    plain = client.get(URL)
    asked = client.get(f"{URL}?locale=en")
    assert plain.text == asked.text
    assert html_tag(plain.text) == '<html lang="en" dir="ltr">'
    assert "5 of 10 downloaded" in plain.text


@pytest.mark.parametrize(
    ("locale", "downloaded", "limit", "words"),
    [
        ("de", 1, 1, "1 von 1 heruntergeladen"),
        ("de", 2, 5, "2 von 5 heruntergeladen"),
        ("fr", 0, 3, "0 téléchargement sur 3"),
        ("fr", 1, 3, "1 téléchargement sur 3"),
        ("fr", 2, 3, "2 téléchargements sur 3"),
        ("es", 1, 3, "1 descarga de 3"),
        ("es", 0, 3, "0 descargas de 3"),
        ("en", 1, 1, "1 of 1 downloaded"),
        ("en", 1500, 2000, "1,500 of 2,000 downloaded"),
        ("de", 1500, 2000, "1.500 von 2.000 heruntergeladen"),
        ("fr", 1500, 2000, "1\u202f500 téléchargements sur 2\u202f000"),
    ],
)
def test_counter_plurals_and_numbers(
    client, serve, locale, downloaded, limit, words
) -> None:
    asset = fixtures.asset("Pack.zip", downloaded=downloaded, limit=limit)
    serve(fixtures.order(lines=[fixtures.line("Pack", [asset])]))
    assert words in unescape(client.get(f"{URL}?locale={locale}").text)


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("en", "1 download left"),
        ("de", "Noch 1 Download möglich"),
        ("fr", "Il reste 1 téléchargement"),
        ("ja", "残り1回ダウンロードできます"),
        ("ar", "تبقّى تنزيل واحد"),
    ],
)
def test_one_download_left(client, serve, locale, words) -> None:
    asset = fixtures.asset("Pack.zip", downloaded=4, limit=5)
    serve(fixtures.order(lines=[fixtures.line("Pack", [asset])]))
    assert words in text_of(client.get(f"{URL}?locale={locale}").text)


ARABIC_MINUTES = {
    0: "منذ أقل من دقيقة",
    1: "منذ دقيقة واحدة",
    2: "منذ دقيقتين",
    3: "منذ 3 دقائق",
    10: "منذ 10 دقائق",
    11: "منذ 11 دقيقةً.",
    99: "منذ 99 دقيقةً.",
    100: "منذ 100 دقيقة.",
    102: "منذ 102 دقيقة.",
    103: "منذ 103 دقائق.",
    111: "منذ 111 دقيقةً.",
}


@pytest.mark.parametrize(("minutes", "words"), ARABIC_MINUTES.items())
def test_arabic_has_six_plural_forms(app, minutes, words) -> None:
    singular = f"{STALE}%(num)s minute ago. Download counts may be a few minutes old."
    plural = f"{STALE}%(num)s minutes ago. Download counts may be a few minutes old."
    with app.test_request_context("/?locale=ar"):
        assert words in ngettext(singular, plural, minutes)
    forms = {
        read_catalogue(po_path("ar")).get((singular, plural)).string[i]  # type: ignore[union-attr]
        for i in range(6)
    }
    assert len(forms) == 6


@pytest.mark.parametrize(
    ("locale", "minutes", "words"),
    [
        ("en", 1, "how it looked 1 minute ago"),
        ("en", 2, "how it looked 2 minutes ago"),
        ("de", 1, "Stand von vor 1 Minute."),
        ("de", 10, "Stand von vor 10 Minuten."),
        ("ja", 10, "10分前の情報"),
        ("ar", 2, "منذ دقيقتين"),
        ("ar", 11, "منذ 11 دقيقةً"),
    ],
)
def test_stale_notice_minutes(app, client, httpserver, locale, minutes, words) -> None:
    """A real stale copy: the order store's, with Fileflare down."""
    with app.app_context():
        app.extensions["order_store"].remember(
            TOKEN, parse_order(fixtures.EXAMPLE_ORDER), time.time() - minutes * 60 - 5
        )
    httpserver.expect_request(ORDERS_PATH).respond_with_data("", status=503)
    response = client.get(f"{URL}?locale={locale}")
    assert response.status_code == 200
    assert words in text_of(response.text)


@pytest.mark.parametrize("name", ["de", "ar", "ja"])
@pytest.mark.parametrize(
    ("status", "msgid"),
    [
        (404, "We couldn't find that order"),
        (402, "Downloads aren't available here yet"),
        (503, "Downloads are temporarily unavailable"),
    ],
)
def test_error_pages_in_each_language(client, serve, name, status, msgid) -> None:
    serve(status=status)
    response = client.get(f"{URL}?locale={name}")
    assert response.status_code == status
    words = text_of(response.text)
    assert translation(name, msgid) in words
    # The status stays out of sight: no "Error 404" in any language.
    assert str(status) not in words


@pytest.mark.parametrize("name", ["de", "ar"])
def test_the_429_page_in_each_language(config, httpserver, name) -> None:
    config["NOT_FOUND_RATE_LIMIT"] = "1 per minute"
    httpserver.expect_request(ORDERS_PATH).respond_with_data("", status=404)
    client = create_app(config).test_client()
    assert client.get(f"/account/orders/a?locale={name}").status_code == 404
    refused = client.get(f"/account/orders/b?locale={name}")
    assert refused.status_code == 429
    assert translation(name, "Too many tries") in text_of(refused.text)
    assert "Too many tries" not in refused.text


def test_werkzeug_error_names_are_translated(client) -> None:
    response = client.post(f"{URL}?locale=de")
    assert response.status_code == 405
    assert "Methode nicht erlaubt" in text_of(response.text)
    assert "Method Not Allowed" not in response.text


def test_translations_are_text_not_html(app, client, serve, tmp_path) -> None:
    """An apostrophe in a translation is escaped like any other text."""
    serve(status=404)
    html = client.get(f"{URL}?locale=fr").text
    assert "Nous n’avons pas trouvé cette commande" in html
    html = client.get(URL).text
    assert "We couldn&#39;t find that order" in html


# -- choosing the language -------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de", "de"),
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("de-DE, en;q=0.8", "de"),  # werkzeug's best_match would say "en"
        ("sv, fr;q=0.5", "fr"),
        ("fr-CA", "fr"),
        ("pt", "pt-BR"),
        ("pt-PT", "pt-BR"),
        ("PT_br", "pt-BR"),
        ("ar-EG", "ar"),
        ("ja-JP", "ja"),
        ("zh-CN, sv", "en"),
        ("*", "en"),
        ("de;q=0", "en"),
        ("", "en"),
        (";;;, ,q=x", "en"),
    ],
)
def test_accept_language(client, serve, header, expected) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    response = client.get(URL, headers={"Accept-Language": header})
    assert response.status_code == 200
    assert f'lang="{expected}"' in html_tag(response.text)


def test_a_german_browser_sees_german_without_asking(client, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    response = client.get(URL, headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert "5 von 10 heruntergeladen" in text_of(response.text)
    assert "Accept-Language" in response.headers["Vary"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("de", "de"),
        ("DE", "de"),
        ("pt-BR", "pt-BR"),
        ("pt_br", "pt-BR"),
        ("pt", "pt-BR"),
        ("de-AT", "de"),
        ("en-GB", "en"),
        ("zh-Hant-TW", "fr"),
    ],
)
def test_locale_parameter(client, serve, value, expected) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    response = client.get(f"{URL}?locale={value}", headers={"Accept-Language": "fr"})
    assert f'lang="{expected}"' in html_tag(response.text)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "xx",
        "x",
        "../../etc/passwd",
        "<script>alert(1)</script>",
        "{{ shop.name }}",
        "de%00",
        "de%0a",
        "a" * 500,
        "de-" + "x" * 40,
        "%C3%BC%C3%BC",
        "en_US.UTF-8",
    ],
)
def test_garbage_locale_falls_back_quietly(client, serve, value) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    response = client.get(f"{URL}?locale={value}", headers={"Accept-Language": "nl"})
    assert response.status_code == 200
    assert html_tag(response.text) == '<html lang="nl" dir="ltr">'
    assert "<script>alert" not in response.text and "shop.name" not in response.text


def test_configured_default(config, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    client = create_app({**config, "DEFAULT_LOCALE": "it"}).test_client()
    assert 'lang="it"' in html_tag(client.get(URL).text)
    unknown = client.get(URL, headers={"Accept-Language": "sv"})
    assert 'lang="it"' in html_tag(unknown.text)
    assert 'lang="de"' in html_tag(client.get(f"{URL}?locale=de").text)


def test_default_from_the_environment(monkeypatch, config, serve) -> None:
    monkeypatch.setenv("DOWNLOADS_PORTAL_DEFAULT_LOCALE", "pt-BR")
    serve(fixtures.EXAMPLE_ORDER)
    client = create_app(config).test_client()
    assert 'lang="pt-BR"' in html_tag(client.get(URL).text)


def test_unknown_default_fails_at_start(config) -> None:
    with pytest.raises(RuntimeError, match="DEFAULT_LOCALE 'sv'"):
        create_app({**config, "DEFAULT_LOCALE": "sv"})


def test_locale_does_not_leak_between_requests(app, client, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    assert "heruntergeladen" in client.get(f"{URL}?locale=de").text
    assert "5 of 10 downloaded" in client.get(URL).text
    assert "téléchargements" in client.get(URL, headers={"Accept-Language": "fr"}).text
    with app.test_request_context("/?locale=ja"):
        assert str(languages.get_locale()) == "ja"
    with app.test_request_context("/"):
        assert str(languages.get_locale()) == "en"


def test_template_catalogue_follows_a_forced_locale(app) -> None:
    with app.test_request_context("/?locale=de"):
        assert languages.gettext_text("Download") == "Herunterladen"
        with force_locale("fr"):
            assert languages.gettext_text("Download") == "Télécharger"
        assert languages.gettext_text("Download") == "Herunterladen"


def test_static_files_do_not_vary(client) -> None:
    with client.get("/static/portal.css") as response:
        assert "Accept-Language" not in response.headers.get("Vary", "")


# -- the app proxy -----------------------------------------------------------------


def proxy_get(client, headers=None, **overrides: str):
    query = signed(shopify_params(**overrides))
    return client.get(f"/proxy/orders/{TOKEN}?{query}", headers=headers or {})


@pytest.fixture
def proxy_client(config, serve):
    serve(fixtures.EXAMPLE_ORDER)
    return create_app({**config, "SHOPIFY_API_SECRET": SECRET}).test_client()


def fragment_tag(html: str) -> str:
    found = re.search(r'<div class="downloads-portal"[^>]*>', html)
    assert found is not None
    return found[0]


def test_proxy_signed_locale_parameter(proxy_client) -> None:
    response = proxy_get(proxy_client, locale="de")
    assert response.status_code == 200
    assert "5 von 10 heruntergeladen" in text_of(response.text)
    assert 'lang="de" dir="ltr"' in fragment_tag(response.text)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("/fr/apps/downloads", "fr"),
        ("/pt-BR/apps/downloads", "pt-BR"),
        ("/ar/a/downloads", "ar"),
        ("/apps/downloads", "ja"),  # no locale there: the browser's
        ("/sv/apps/downloads", "ja"),  # not spoken here: the browser's
        ("/tools/downloads", "ja"),
    ],
)
def test_proxy_storefront_locale_beats_the_browser(proxy_client, prefix, expected):
    response = proxy_get(
        proxy_client, headers={"Accept-Language": "ja"}, path_prefix=prefix
    )
    assert response.status_code == 200
    assert f'lang="{expected}"' in fragment_tag(response.text)


def test_locale_parameter_beats_the_storefront(proxy_client) -> None:
    response = proxy_get(proxy_client, path_prefix="/fr/apps/downloads", locale="de")
    assert 'lang="de"' in fragment_tag(response.text)
    bad = proxy_get(proxy_client, path_prefix="/fr/apps/downloads", locale="zz")
    assert 'lang="fr"' in fragment_tag(bad.text)


def test_proxy_arabic_is_rtl_and_inert(config, serve) -> None:
    serve(
        fixtures.order(
            lines=[fixtures.line("{{ shop.name }}", [fixtures.asset("{% x %}.zip")])]
        )
    )
    client = create_app({**config, "SHOPIFY_API_SECRET": SECRET}).test_client()
    response = proxy_get(client, path_prefix="/ar/apps/downloads")
    assert response.mimetype == "application/liquid"
    assert 'lang="ar" dir="rtl"' in fragment_tag(response.text)
    assert "{{" not in response.text and "{%" not in response.text
    assert "تم تنزيل" in text_of(response.text)


def test_proxy_refusal_speaks_the_browser_s_language(proxy_client) -> None:
    response = proxy_client.get(
        f"/proxy/orders/{TOKEN}?shop=x", headers={"Accept-Language": "es"}
    )
    assert response.status_code == 403
    assert translation("es", "This page can't be opened from here") in text_of(
        response.text
    )


# -- merchant wording from a theme -------------------------------------------------


def compile_catalogue(folder: Path, locale: str, strings: dict) -> None:
    """Write and compile a theme's messages.po, as pybabel would."""
    catalogue = Catalog(locale=locale, fuzzy=False)
    for msgid, msgstr in strings.items():
        catalogue.add(msgid, msgstr)
    target = folder / "translations" / locale / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.po").open("wb") as po:
        write_po(po, catalogue)
    with (target / "messages.po").open("rb") as po:
        parsed = read_po(po, locale=locale)
    with (target / "messages.mo").open("wb") as mo:
        write_mo(mo, parsed)


@pytest.fixture
def worded_theme(tmp_path) -> Path:
    root = tmp_path / "theme"
    compile_catalogue(root, "de", {"Download": "Jetzt laden"})
    compile_catalogue(
        root, "en", {"Download": "Get it", "Files for your order": "Extras"}
    )
    compile_catalogue(root, "sv", {"Download": "Ladda ner"})
    compile_catalogue(
        root,
        "ar",
        {
            ("%(num)s download left", "%(num)s downloads left"): (
                "a0 %(num)s",
                "a1 %(num)s",
                "a2 %(num)s",
                "a3 %(num)s",
                "a4 %(num)s",
                "a5 %(num)s",
            )
        },
    )
    return root


@pytest.fixture
def worded(config, worded_theme):
    return create_app({**config, "THEME_DIR": str(worded_theme)}).test_client()


def test_theme_wording_wins_string_by_string(worded, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    words = text_of(worded.get(f"{URL}?locale=de").text)
    assert "Jetzt laden" in words and "Herunterladen" not in words
    assert "5 von 10 heruntergeladen" in words  # ours, where the theme says nothing


def test_theme_can_reword_english(worded, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    words = text_of(worded.get(URL).text)
    assert "Get it" in words and "Extras" in words
    assert "5 of 10 downloaded" in words


def test_theme_can_add_a_language(worded, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    html = worded.get(URL, headers={"Accept-Language": "sv-SE"}).text
    assert html_tag(html) == '<html lang="sv" dir="ltr">'
    assert "Ladda ner" in text_of(html)
    assert "5 of 10 downloaded" in text_of(html)  # the rest falls back to English


def test_theme_plural_override(worded, serve) -> None:
    asset = fixtures.asset("Pack.zip", downloaded=4, limit=5)
    serve(fixtures.order(lines=[fixtures.line("Pack", [asset])]))
    words = text_of(worded.get(f"{URL}?locale=ar").text)
    assert "a1 1" in words
    assert "تم تنزيل 4 من 5" in words


def test_theme_catalogue_with_an_unknown_language_is_skipped(config, tmp_path) -> None:
    root = tmp_path / "theme"
    compile_catalogue(root, "de", {"Download": "Jetzt laden"})
    (root / "translations" / "de").rename(root / "translations" / "xx_NOWHERE")
    app = create_app({**config, "THEME_DIR": str(root)})
    assert "xx_NOWHERE" not in app.extensions["languages"].names


def test_a_written_percent_in_a_theme_shows_as_written(config, serve, tmp_path):
    root = tmp_path / "theme"
    compile_catalogue(root, "de", {"Download": "100% sicher"})
    compile_catalogue(
        root,
        "en",
        {
            "Files for your order": "100% safe, % s %(",
            "%(num)s of %(total)s": "%(num)s/%(total)s, 50%",
        },
    )
    client = create_app({**config, "THEME_DIR": str(root)}).test_client()
    serve(fixtures.EXAMPLE_ORDER)
    english = client.get(URL)
    assert english.status_code == 200
    assert "100% safe, % s %(" in text_of(english.text)
    assert "5/10, 50%" in text_of(english.text)
    german = client.get(f"{URL}?locale=de")
    assert german.status_code == 200
    assert "100% sicher" in text_of(german.text)


@pytest.mark.parametrize("wrong", ["%(count)s", "%(num)d", "%(num)"])
def test_a_theme_placeholder_not_ours_stops_the_app(config, tmp_path, wrong) -> None:
    root = tmp_path / "theme"
    msgid = "%(num)s of %(total)s downloaded"
    compile_catalogue(root, "de", {msgid: f"{wrong} von %(total)s"})
    with pytest.raises(RuntimeError) as failure:
        create_app({**config, "THEME_DIR": str(root)})
    message = str(failure.value)
    assert str(root / "translations" / "de" / "LC_MESSAGES" / "messages.mo") in message
    assert repr(msgid) in message and repr(wrong) in message


# -- the gallery -------------------------------------------------------------------


def test_gallery_has_one_language_switcher(preview_client) -> None:
    html = preview_client.get("/preview?locale=de").text
    assert html_tag(html) == '<html lang="en" dir="ltr">'  # the gallery stays English
    plain = preview_client.get("/preview").text
    for name in ["en", *SHIPPED]:
        tag = name.replace("_", "-")
        assert plain.count(f'href="/preview?locale={tag}"') == 1
    assert (
        'href="/preview?locale=de" lang="de" hreflang="de" aria-current="page"' in html
    )
    assert ">Deutsch<" in html and ">العربية<" in html and ">日本語<" in html
    # Every scenario once, in the language chosen.
    for scenario in SCENARIOS:
        assert html.count(f'href="/preview/{scenario}?locale=de"') == 1
    scenario_links = re.findall(r'href="/preview/(?!answer/)[^"?]+', html)
    assert len(scenario_links) == len(SCENARIOS)


def test_gallery_shows_every_scenario_in_every_language(preview_client) -> None:
    switcher = preview_client.get("/preview").text
    languages = re.findall(r'href="/preview\?locale=([^"]+)"', switcher)
    assert sorted(languages) == sorted(n.replace("_", "-") for n in ["en", *SHIPPED])
    for tag in languages:
        html = preview_client.get(f"/preview?locale={tag}").text
        links = re.findall(
            r'href="(/preview/(?!answer/)([^"?]+)\?locale=([^"]+))"', html
        )
        assert sorted(name for _, name, _ in links) == sorted(SCENARIOS)
        for link, name, linked_tag in links:
            assert linked_tag == tag
            response = preview_client.get(link)
            assert response.status_code == SCENARIOS[name].status
            direction = "rtl" if tag == "ar" else "ltr"
            assert html_tag(response.text) == f'<html lang="{tag}" dir="{direction}">'
