"""The customer's language: which one a request gets, its catalogues and its numbers."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import read_mo
from babel.numbers import format_decimal
from babel.support import NullTranslations
from flask import Flask, Response, current_app, g, request
from flask_babel import Babel, get_locale, get_translations
from markupsafe import Markup, escape

from .config import SettingError, variable
from .security import header_names

__all__ = ["get_locale", "init_app", "locale_tag", "text_direction"]

log = logging.getLogger(__name__)

#: The catalogues that ship with the app, one folder per language.
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"

#: The query parameter that names a language outright: ``?locale=de``.
LOCALE_PARAM = "locale"

#: Every ``%`` in a translation: ``%%``, a placeholder (``%(num)s``, the only kind
#: our strings use), one that looks like one (``%(num)d``), or a ``%`` as written.
PERCENT_RE = re.compile(r"%%|%\(([^)]*)\)([A-Za-z]?)|%")

#: What a language tag may look like: ``de``, ``pt-BR``, ``pt_br``, ``zh-Hant-TW``.
LOCALE_RE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}")


@dataclass(frozen=True, slots=True)
class Language:
    """A language as the gallery lists it: its BCP 47 tag and its own name."""

    tag: str
    name: str

    @classmethod
    def of(cls, code: str) -> Language:
        """Describe the language of catalogue ``code`` (``pt_BR``)."""
        locale = Locale.parse(code)
        return cls(bcp47(code), locale.get_display_name(locale) or code)


class Languages:
    """The languages an app speaks: lowercased tags mapped to catalogue names."""

    def __init__(self, names: Iterable[str], default: str) -> None:
        self.by_key = {key(name): name for name in sorted(names)}
        chosen = self.match(default)
        if chosen is None:
            known = ", ".join(sorted(self.by_key.values()))
            raise SettingError(
                f"{variable('DEFAULT_LOCALE')} {default!r} is not one of: {known}"
            )
        self.default = chosen

    @property
    def names(self) -> list[str]:
        """Every language as a catalogue name (``pt_BR``): the default, then A to Z."""
        rest = sorted(set(self.by_key.values()) - {self.default})
        return [self.default, *rest]

    def match(self, value: object) -> str | None:
        """Return the language ``value`` asks for, tolerant of case and ``-``/``_``.

        ``de-AT`` falls back to ``de``, and a bare ``pt`` finds ``pt_BR``.
        Anything that is not a language tag, or not spoken here, is None.
        """
        if not isinstance(value, str) or not LOCALE_RE.fullmatch(value):
            return None
        parts = key(value).split("_")
        for size in range(len(parts), 0, -1):
            found = self.by_key.get("_".join(parts[:size]))
            if found is not None:
                return found
        regional = [k for k in self.by_key if k.split("_")[0] == parts[0]]
        return self.by_key[min(regional)] if regional else None


def bcp47(code: str) -> str:
    """Write a catalogue name as a BCP 47 tag, for ``lang``: ``pt_BR`` is ``pt-BR``."""
    return code.replace("_", "-")


def key(tag: str) -> str:
    """Return the lookup form of a language tag: lowercase, ``_`` between parts."""
    return tag.replace("-", "_").lower()


def catalogue_names(folder: Path) -> set[str]:
    """List the languages with a compiled ``messages.mo`` under ``folder``."""
    if not folder.is_dir():
        return set()
    names = set()
    for entry in folder.iterdir():
        if not (entry / "LC_MESSAGES" / "messages.mo").is_file():
            continue
        try:
            Locale.parse(entry.name)
        except (ValueError, UnknownLocaleError):
            log.warning("translations/%s is not a language Babel knows", entry.name)
            continue
        names.add(entry.name)
    return names


def path_prefix_locale(path_prefix: str) -> str | None:
    """Return the first segment of ``/fr/apps/downloads`` when it looks like a locale.

    Shopify's translated storefronts put the language in front of the proxy's path.
    """
    segments = path_prefix.strip("/").split("/")
    if len(segments) > 1 and LOCALE_RE.fullmatch(segments[0]):
        return segments[0]
    return None


def select_locale() -> Locale:
    """Choose the language (see ``locale_name``) as Babel's ``Locale``: one per
    language, made once, where Flask-Babel would parse the name on every request."""
    return parsed_locale(locale_name())


@cache
def parsed_locale(name: str) -> Locale:
    """Return the ``Locale`` of catalogue ``name``, one of the app's few languages."""
    return Locale.parse(name)


def locale_name() -> str:
    """Choose the language: ``?locale=``, the store's, the browser's, the default."""
    languages: Languages = current_app.extensions["languages"]
    explicit = languages.match(request.args.get(LOCALE_PARAM))
    if explicit is not None:
        return explicit
    store = languages.match(getattr(g.get("proxy"), "locale", None))
    if store is not None:
        return store
    # Walk the browser's list in its own order of preference: werkzeug's
    # best_match would pick an exact "en;q=0.8" over a "de-DE" that means "de".
    for value, quality in request.accept_languages:
        found = languages.match(value) if quality > 0 else None
        if found is not None:
            return found
    return languages.default


def locale_tag() -> str:
    """Return the chosen language as a BCP 47 tag for ``lang``: ``pt-BR``."""
    locale = get_locale()
    return "en" if locale is None else bcp47(str(locale))


def text_direction() -> str:
    """Return ``rtl`` or ``ltr`` for the chosen language, for ``dir``."""
    locale = get_locale()
    if locale is not None and locale.character_order == "right-to-left":
        return "rtl"
    return "ltr"


def format_count(number: int) -> str:
    """Write a count the way the request's language does: ``1.500`` in German."""
    return _format_count(number, str(get_locale() or "en"))


@lru_cache(maxsize=4096)
def _format_count(number: int, locale: str) -> str:
    # Babel reads the locale's pattern on every call: a page of 180 files has
    # hundreds of counts, nearly all of them small numbers seen before.
    return format_decimal(number, locale=locale)


def language_context() -> dict[str, Any]:
    """Give templates the page's ``lang`` and ``dir``."""
    return {"html_lang": locale_tag(), "html_dir": text_direction()}


def vary_on_language(response: Response) -> Response:
    """Say that pages depend on ``Accept-Language``, for any cache in between."""
    if request.endpoint != "static":
        if "vary" in header_names(response.headers):
            response.vary.add("Accept-Language")
        else:
            # What the line above writes, without parsing a header that is not there.
            response.headers.add("Vary", "Accept-Language")
    return response


def catalogue() -> NullTranslations:
    """Return the request's merged catalogue, found once per request and language."""
    locale = get_locale()
    found = g.get("_portal_catalogue")
    if found is None or found[0] is not locale:
        found = g._portal_catalogue = (locale, get_translations())
    translations: NullTranslations = found[1]
    return translations


def gettext_text(message: str) -> Markup:
    """Translate ``message`` for a template, as text: a catalogue holds no HTML."""
    return escape(literal_percents(catalogue().ugettext(message)))


def ngettext_text(singular: str, plural: str, n: int) -> Markup:
    """Translate a message with a count for a template, as text."""
    return escape(literal_percents(catalogue().ungettext(singular, plural, n)))


@lru_cache(maxsize=1024)
def literal_percents(text: str) -> str:
    """Double every ``%`` that is not a placeholder, so ``100% safe`` shows as written.

    Jinja formats every translation with ``%``; a theme's bare ``%`` would break
    the page (``100%``) or garble it (``% s`` is a placeholder to Python).
    """
    return PERCENT_RE.sub(_as_written, text)


def _as_written(match: re.Match[str]) -> str:
    if match[0] == "%%" or match[2] == "s":
        return match[0]
    return "%" + match[0]


def check_catalogues(folder: Path) -> None:
    """Stop the app on a theme translation whose placeholders are not the string's.

    A placeholder ours does not have (``%(count)s``), or ours written another way
    (``%(num)d``), would fail on every page that shows the string.
    """
    for path in sorted(folder.glob("*/LC_MESSAGES/messages.mo")):
        with path.open("rb") as file:
            catalog = read_mo(file)
        for message in catalog:
            ids = message.id if isinstance(message.id, list | tuple) else [message.id]
            known = {name for msgid in ids for name in placeholders(msgid)}
            strings = message.string
            texts = strings if isinstance(strings, list | tuple) else [strings]
            for text in texts:
                wrong = _wrong_placeholders(text or "", known)
                if wrong:
                    raise SettingError(
                        f"{variable('THEME_DIR')}: {path}: the translation of"
                        f" {ids[0]!r} has {wrong[0]!r},"
                        f" which is not one of its placeholders {sorted(known)}"
                    )


def placeholders(text: str) -> set[str]:
    """Name the ``%(name)s`` placeholders in one of our strings."""
    return {m[1] for m in PERCENT_RE.finditer(text) if m[2] == "s"}


def _wrong_placeholders(text: str, known: set[str]) -> list[str]:
    return [
        m[0]
        for m in PERCENT_RE.finditer(text)
        if m[1] is not None and not (m[2] == "s" and m[1] in known)
    ]


def init_app(app: Flask) -> None:
    """Load our catalogues and the theme's, theirs winning string by string."""
    folders = [TRANSLATIONS_DIR]
    theme = app.extensions.get("theme_dir")
    if theme is not None:
        folders.append(Path(theme) / "translations")
        check_catalogues(folders[-1])
    names = {"en"}.union(*(catalogue_names(folder) for folder in folders))
    app.extensions["languages"] = Languages(names, str(app.config["DEFAULT_LOCALE"]))
    # Flask-Babel merges the folders in this order, a later one's strings
    # replacing an earlier one's: the theme comes last so that it wins.
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(map(str, folders))
    app.config["BABEL_DEFAULT_LOCALE"] = app.extensions["languages"].default
    Babel(app, locale_selector=select_locale)
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext_text, ngettext_text, newstyle=True
    )
    app.jinja_env.filters["number"] = format_count
    app.context_processor(language_context)
    app.after_request(vary_on_language)
