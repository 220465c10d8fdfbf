"""Single fields of Fileflare's answer: checked, cleaned and bounded."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import nh3

from .security import safe_url

#: What the merchant's message may keep: paragraphs, emphasis and plain links.
MESSAGE_TAGS = {"p", "br", "em", "strong", "b", "i", "a", "ul", "ol", "li"}
MESSAGE_ATTRIBUTES = {"a": {"href"}}

#: The largest download count or limit taken as real, either side of zero: a billion
#: downloads of one file is beyond any store; more comes only from a broken answer.
MAX_COUNT = 10**9

#: The most files (the order's and its lines' together), and the most line items,
#: an order may have: a page of 2 000 files is about 1.3 MB of HTML and takes a
#: good part of a second to render; Fileflare's answer for more is refused.
MAX_FILES = 2000

#: The most characters the strings a page shows may hold together: the order's
#: number, title and (sanitised) message, the products' and variants' names, the
#: files' ids, names and sizes. A page prints each at most twice, a character as at
#: most 6 (``{`` is written ``&#123;``, so that no page is ever live Liquid), so this
#: text makes at most 2.4 million characters of a page (``pages.MAX_PAGE_CHARS``
#: has the whole bound). Files' addresses are not on the page, and not counted.
MAX_TEXT = 200_000

#: UTF-16 halves JSON may carry alone (``"\\ud800"``); no encoder accepts them.
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidOrder(ValueError):
    """The upstream's JSON does not have the shape of an order."""


def check_text(strings: Iterable[str | None]) -> None:
    """Refuse an order whose shown ``strings`` hold over ``MAX_TEXT`` characters."""
    if sum(len(text) for text in strings if text) > MAX_TEXT:
        raise InvalidOrder(f"more than {MAX_TEXT} characters of text")


def sanitize_message(html: str) -> str | None:
    """Keep only the merchant's paragraphs, emphasis and http(s) links."""
    cleaned = nh3.clean(
        html,
        tags=MESSAGE_TAGS,
        attributes=MESSAGE_ATTRIBUTES,
        url_schemes={"http", "https"},
        # url_schemes lets relative and //host links through: only absolute ones stay.
        attribute_filter=_absolute_links,
        link_rel="noopener noreferrer",
    ).strip()
    return cleaned or None


def _absolute_links(tag: str, attribute: str, value: str) -> str | None:
    if (tag, attribute) == ("a", "href"):
        return safe_url(value)
    return value


def as_mapping(value: Any, what: str) -> Mapping[str, Any]:
    """Return ``value`` if it is a JSON object."""
    if not isinstance(value, Mapping):
        raise InvalidOrder(f"{what} is not an object")
    return value


def as_list(value: Any, what: str) -> list[Any]:
    """Return ``value`` if it is a JSON array; a missing one is empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidOrder(f"{what} is not a list")
    return value


def as_count(value: Any, what: str) -> int | None:
    """Read a download count or limit: a whole number within ``MAX_COUNT``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidOrder(f"{what} is not a number")
    if isinstance(value, float) and not value.is_integer():
        # NaN and the infinities are not whole numbers either.
        raise InvalidOrder(f"{what} is not a whole number")
    if abs(value) > MAX_COUNT:
        raise InvalidOrder(f"{what} is beyond any real count")
    return max(int(value), 0)


def optional_str(value: Any, what: str) -> str | None:
    """Read a string that may be missing, made printable."""
    if value is None:
        return None
    if isinstance(value, str):
        return printable(value)
    raise InvalidOrder(f"{what} is not a string")


def printable(text: str) -> str:
    """Replace lone surrogates with U+FFFD, so that ``text`` encodes as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def as_text(value: Any) -> str:
    """Render an identifier-like scalar as text, tolerating numbers."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, int | float):
        return str(value)
    return ""


def order_number(value: Any) -> str:
    """Read the order number, which Fileflare sends as a number or text."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return printable(value)
    raise InvalidOrder("order_number is not a number")
