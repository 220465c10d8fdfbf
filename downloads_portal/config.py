"""Every setting's type and range, checked when the app is made."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from limits import parse_many

#: Every setting may come from a variable named with this prefix and ``_``.
ENV_PREFIX = "DOWNLOADS_PORTAL"

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class SettingError(RuntimeError):
    """A setting the app cannot start with; the message names it and what it takes."""


@dataclass(frozen=True)
class Kind:
    """What a setting must be: ``read`` returns the value to use, or raises
    ValueError or TypeError; ``expects`` says what it takes, for the message."""

    expects: str
    read: Callable[[Any], Any]
    #: Read from its variable as the text given, not as JSON (``2024`` stays text).
    text: bool = False
    #: Whether a refused value may be shown in the message.
    shown: bool = True


def variable(name: str) -> str:
    """Return the environment variable that sets ``name``."""
    return f"{ENV_PREFIX}_{name}"


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | str):
        word = str(value).strip().lower()
        if word in ("true", "1"):
            return True
        if word in ("false", "0"):
            return False
    raise ValueError(value)


def _number(value: Any) -> float:
    """Return a number given as one or as ASCII text (``int("٣")`` would take it)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(value)
    if isinstance(value, str) and not value.isascii():
        raise ValueError(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def number(minimum: float, maximum: float | None = None) -> Kind:
    """A number from ``minimum`` (to ``maximum``), such as seconds."""
    span = (
        f"of at least {minimum:g}"
        if maximum is None
        else f"from {minimum:g} to {maximum:g}"
    )

    def read(value: Any) -> float:
        found = _number(value)
        if found < minimum or (maximum is not None and found > maximum):
            raise ValueError(value)
        return found

    return Kind(f"a number {span}", read)


def whole(minimum: int, maximum: int | None = None) -> Kind:
    """A whole number from ``minimum`` (to ``maximum``)."""
    span = f"from {minimum}" + ("" if maximum is None else f" to {maximum}")

    def read(value: Any) -> int:
        found = _number(value)
        if not found.is_integer() or found < minimum:
            raise ValueError(value)
        if maximum is not None and found > maximum:
            raise ValueError(value)
        return int(found)

    return Kind(f"a whole number {span}", read)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _folder(value: Any) -> str:
    if not isinstance(value, str | os.PathLike):
        raise TypeError(value)
    return str(os.fspath(value))


def optional(kind: Kind) -> Kind:
    """``kind``, or nothing: unset, or set to an empty variable."""

    def read(value: Any) -> Any:
        return None if value is None or value == "" else kind.read(value)

    return Kind(f"{kind.expects}, or unset", read, kind.text, kind.shown)


def _rate_limit(value: Any) -> str:
    parse_many(_text(value))
    return str(value)


def _log_level(value: Any) -> str:
    if _text(value).lower() not in LOG_LEVELS:
        raise ValueError(value)
    return str(value)


def _mapping(value: Any) -> Any:
    if value is not None and not isinstance(value, Mapping):
        raise TypeError(value)
    return value


def _secrets(value: Any) -> str | list[str] | None:
    """One secret, a JSON list of them, or a comma-separated string."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        value = json.loads(value)
    if isinstance(value, list | tuple) and all(isinstance(s, str) for s in value):
        return list(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None if value is None else _text(value)


BOOLEAN = Kind("true or false", _boolean)
TEXT = Kind("text", _text, text=True)
OPTIONAL_TEXT = optional(TEXT)
OPTIONAL_FOLDER = optional(Kind("a folder", _folder, text=True))
RATE_LIMIT = Kind("a rate limit such as '20 per minute'", _rate_limit, text=True)

#: Every setting in DEFAULTS, and what it must be.
KINDS: dict[str, Kind] = {
    "API_BASE_URL": TEXT,
    "API_TIMEOUT": number(0.1),
    "API_MAX_BYTES": whole(1024),
    "ORDER_CACHE_SECONDS": whole(0),
    "STALE_ORDER_SECONDS": whole(0),
    "NOT_FOUND_CACHE_SECONDS": whole(0),
    "FAILURE_CACHE_SECONDS": number(0, 300),
    "CACHE_TYPE": TEXT,
    "CACHE_DIR": OPTIONAL_FOLDER,
    "CACHE_THRESHOLD": whole(1),
    "CACHE_KEY_PREFIX": TEXT,
    "LOCAL_CACHE_ITEMS": whole(0),
    "LOCAL_CACHE_SECONDS": number(0),
    "PAGE_MEMO_CHARS": whole(0),
    "CACHE_OPTIONS": Kind("a JSON object, or unset", _mapping),
    "REDIS_TIMEOUT": number(0.01),
    "RETRY_AFTER_SECONDS": whole(1),
    "UPSTREAM_CONCURRENCY": whole(1),
    "BREAKER_WINDOW_SECONDS": number(1, 600),
    "BREAKER_MIN_ORDERS": whole(1),
    "BREAKER_FAILURE_RATE": number(0.01, 1),
    "BREAKER_COOL_OFF_SECONDS": number(1),
    "RETRY_AFTER_MAX_SECONDS": number(1),
    "SHOPIFY_API_SECRET": Kind(
        "text, a list of texts, or unset", _secrets, text=True, shown=False
    ),
    "PROXY_TIMESTAMP_SKEW": number(1),
    "PROXY_STANDALONE": BOOLEAN,
    "PROXY_REQUIRE_LOGIN": BOOLEAN,
    "PUBLIC_URL": OPTIONAL_TEXT,
    "PREVIEW": BOOLEAN,
    "THEME_DIR": OPTIONAL_FOLDER,
    "NOT_FOUND_RATE_LIMIT": RATE_LIMIT,
    "PROXY_FIX_X_FOR": whole(0),
    "DEFAULT_LOCALE": TEXT,
    "STORE_NAME": OPTIONAL_TEXT,
    "STORE_URL": OPTIONAL_TEXT,
    "SUPPORT_URL": OPTIONAL_TEXT,
    "LOG_LEVEL": Kind(f"one of {', '.join(LOG_LEVELS)}", _log_level, text=True),
    "METRICS_PORT": optional(whole(1, 65535)),
    "METRICS_HOST": TEXT,
}


def read_text_settings(
    config: MutableMapping[str, Any], environ: Mapping[str, str]
) -> None:
    """Put back the text of the variables of text settings, which Flask read as
    JSON where it parsed (a secret ``12345678`` became a number)."""
    for name, kind in KINDS.items():
        given = environ.get(variable(name))
        if kind.text and given is not None:
            config[name] = given


def check_settings(config: MutableMapping[str, Any]) -> None:
    """Replace every setting by its checked value; raise naming a bad one."""
    for name, kind in KINDS.items():
        value = config.get(name)
        try:
            config[name] = kind.read(value)
        except (TypeError, ValueError, OverflowError):
            shown = f", not {value!r}" if kind.shown else ""
            raise SettingError(
                f"{variable(name)} must be {kind.expects}{shown}"
            ) from None
