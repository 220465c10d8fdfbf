"""Dataclasses for Fileflare's order answer, parsed by the rules in upstream-api.md."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import nh3

from .security import safe_url

#: Shopify's name for the only variant of a product that has no variants.
DEFAULT_VARIANT = "Default Title"

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

#: UTF-16 halves JSON may carry alone (``"\\ud800"``); no encoder accepts them.
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidOrder(ValueError):
    """The upstream's JSON does not have the shape of an order."""


@dataclass(frozen=True, slots=True)
class Limits:
    """How often a file was downloaded, out of how many allowed (None: unlimited)."""

    downloaded: int = 0
    limit: int | None = None

    @property
    def unlimited(self) -> bool:
        """Whether the file may be downloaded any number of times."""
        return self.limit is None

    @property
    def used_up(self) -> bool:
        """Whether every allowed download has been used."""
        return self.limit is not None and self.downloaded >= self.limit

    @property
    def shown(self) -> int:
        """The count for the bar, clamped to the limit (12 of 10 shows as 10)."""
        if self.limit is None:
            return self.downloaded
        return min(self.downloaded, self.limit)

    @property
    def remaining(self) -> int | None:
        """Downloads left, or None when unlimited."""
        if self.limit is None:
            return None
        return max(self.limit - self.downloaded, 0)


@dataclass(frozen=True, slots=True)
class Asset:
    """One downloadable file or link."""

    id: str
    filename: str
    size: str
    is_file: bool
    is_link: bool
    url: str | None
    limits: Limits

    @property
    def available(self) -> bool:
        """Whether the customer gets a live download link."""
        return self.url is not None and not self.limits.used_up


@dataclass(frozen=True, slots=True)
class Product:
    """The product or variant a line item was bought as."""

    name: str
    variant_name: str | None = None
    id: str = ""
    sku: str = ""


@dataclass(frozen=True, slots=True)
class Line:
    """One line item of the order and the files attached to it."""

    product: Product
    assets: tuple[Asset, ...]


@dataclass(frozen=True, slots=True)
class Order:
    """Everything a customer may download for one order."""

    number: str
    lines: tuple[Line, ...]
    assets: tuple[Asset, ...]
    title: str | None = None
    message_html: str | None = None

    @property
    def lines_with_files(self) -> tuple[Line, ...]:
        """The line items that have files, the ones that get a card."""
        return tuple(line for line in self.lines if line.assets)

    @property
    def has_files(self) -> bool:
        """Whether the order has any file at all."""
        return bool(self.assets) or any(line.assets for line in self.lines)

    @property
    def all_assets(self) -> tuple[Asset, ...]:
        """Every file of the order: the line items' first, then the order's own."""
        return tuple(a for line in self.lines for a in line.assets) + self.assets

    @property
    def used_up_count(self) -> int:
        """How many files have no download left."""
        return sum(1 for a in self.all_assets if a.limits.used_up)

    def find_asset(self, asset_id: str) -> Asset | None:
        """Return the file with id ``asset_id``, if the order has one."""
        if not asset_id:
            return None
        return next((a for a in self.all_assets if a.id == asset_id), None)


def parse_order(payload: Any) -> Order:
    """Build an Order from the decoded JSON body, or raise InvalidOrder."""
    body = _mapping(payload, "body")
    order = _mapping(body.get("order"), "order")
    text = _mapping(body.get("text") or {}, "text")
    message = _optional_str(text.get("text"), "text.text")
    raw_lines = _list(order.get("lines"), "lines")
    if len(raw_lines) > MAX_FILES:
        raise InvalidOrder(f"more than {MAX_FILES} line items")
    lines = tuple(_line(item) for item in raw_lines)
    assets = tuple(_asset(item) for item in _list(order.get("assets"), "assets"))
    if len(assets) + sum(len(line.assets) for line in lines) > MAX_FILES:
        raise InvalidOrder(f"more than {MAX_FILES} files")
    return Order(
        number=_order_number(order.get("order_number")),
        lines=lines,
        assets=assets,
        title=_optional_str(text.get("title"), "text.title") or None,
        message_html=sanitize_message(message) if message else None,
    )


def order_body(order: Order) -> dict[str, Any]:
    """Return the JSON body that ``parse_order`` reads back as ``order``."""
    return {
        "order": {
            "order_number": order.number,
            "lines": [
                {
                    "product": _product_body(line.product),
                    "assets": _assets_body(line.assets),
                }
                for line in order.lines
            ],
            "assets": _assets_body(order.assets),
        },
        "text": {"title": order.title, "text": order.message_html},
    }


def _product_body(product: Product) -> dict[str, Any]:
    return {
        "name": product.name,
        "variant_name": product.variant_name,
        "id": product.id,
        "sku": product.sku,
    }


def _assets_body(assets: tuple[Asset, ...]) -> list[dict[str, Any]]:
    return [
        {
            "limits": {"downloaded": a.limits.downloaded, "limit": a.limits.limit},
            "data": {
                "id": a.id,
                "filename": a.filename,
                "size": a.size,
                "is_file": a.is_file,
                "is_link": a.is_link,
                "url": a.url,
            },
        }
        for a in assets
    ]


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


def _line(item: Any) -> Line:
    line = _mapping(item, "line")
    product = _mapping(line.get("product") or {}, "product")
    variant = _optional_str(product.get("variant_name"), "variant_name")
    if variant is not None and (not variant.strip() or variant == DEFAULT_VARIANT):
        variant = None
    return Line(
        product=Product(
            name=_optional_str(product.get("name"), "product.name") or "",
            variant_name=variant,
            id=_text(product.get("id")),
            sku=_text(product.get("sku")),
        ),
        assets=tuple(_asset(a) for a in _list(line.get("assets"), "line.assets")),
    )


def _asset(item: Any) -> Asset:
    asset = _mapping(item, "asset")
    data = _mapping(asset.get("data"), "asset.data")
    limits = _mapping(asset.get("limits") or {}, "limits")
    raw_url = _optional_str(data.get("url"), "url")
    return Asset(
        id=_text(data.get("id")),
        filename=_optional_str(data.get("filename"), "filename") or "",
        size=_text(data.get("size")),
        is_file=data.get("is_file") is True,
        is_link=data.get("is_link") is True,
        url=safe_url(raw_url) if raw_url else None,
        limits=Limits(
            downloaded=_count(limits.get("downloaded"), "downloaded") or 0,
            limit=_count(limits.get("limit"), "limit"),
        ),
    )


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidOrder(f"{what} is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidOrder(f"{what} is not a list")
    return value


def _count(value: Any, what: str) -> int | None:
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


def _optional_str(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return printable(value)
    raise InvalidOrder(f"{what} is not a string")


def printable(text: str) -> str:
    """Replace lone surrogates with U+FFFD, so that ``text`` encodes as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def _text(value: Any) -> str:
    """Render an identifier-like scalar as text, tolerating numbers."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, int | float):
        return str(value)
    return ""


def _order_number(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return printable(value)
    raise InvalidOrder("order_number is not a number")
