"""Dataclasses for Fileflare's order answer, parsed by the rules in upstream-api.md."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .fields import (
    MAX_FILES,
    InvalidOrder,
    as_count,
    as_list,
    as_mapping,
    as_text,
    check_text,
    optional_str,
    order_number,
    sanitize_message,
)
from .security import safe_url

__all__ = [
    "DEFAULT_VARIANT",
    "Asset",
    "InvalidOrder",
    "Limits",
    "Line",
    "Order",
    "Product",
    "order_body",
    "parse_order",
]

#: Shopify's name for the only variant of a product that has no variants.
DEFAULT_VARIANT = "Default Title"


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
    body = as_mapping(payload, "body")
    order = as_mapping(body.get("order"), "order")
    text = as_mapping(body.get("text") or {}, "text")
    message = optional_str(text.get("text"), "text.text")
    raw_lines = as_list(order.get("lines"), "lines")
    if len(raw_lines) > MAX_FILES:
        raise InvalidOrder(f"more than {MAX_FILES} line items")
    lines = tuple(_line(item) for item in raw_lines)
    assets = tuple(_asset(item) for item in as_list(order.get("assets"), "assets"))
    if len(assets) + sum(len(line.assets) for line in lines) > MAX_FILES:
        raise InvalidOrder(f"more than {MAX_FILES} files")
    parsed = Order(
        number=order_number(order.get("order_number")),
        lines=lines,
        assets=assets,
        title=optional_str(text.get("title"), "text.title") or None,
        message_html=sanitize_message(message) if message else None,
    )
    check_text(_shown_text(parsed))
    return parsed


def _shown_text(order: Order) -> Iterator[str | None]:
    """Yield every string of ``order`` its page shows (file addresses are not)."""
    yield from (order.number, order.title, order.message_html)
    for line in order.lines:
        yield from (line.product.name, line.product.variant_name)
    for a in order.all_assets:
        yield from (a.id, a.filename, a.size)


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


def _line(item: Any) -> Line:
    line = as_mapping(item, "line")
    product = as_mapping(line.get("product") or {}, "product")
    variant = optional_str(product.get("variant_name"), "variant_name")
    if variant is not None and (not variant.strip() or variant == DEFAULT_VARIANT):
        variant = None
    return Line(
        product=Product(
            name=optional_str(product.get("name"), "product.name") or "",
            variant_name=variant,
            id=as_text(product.get("id")),
            sku=as_text(product.get("sku")),
        ),
        assets=tuple(_asset(a) for a in as_list(line.get("assets"), "line.assets")),
    )


def _asset(item: Any) -> Asset:
    asset = as_mapping(item, "asset")
    data = as_mapping(asset.get("data"), "asset.data")
    limits = as_mapping(asset.get("limits") or {}, "limits")
    raw_url = optional_str(data.get("url"), "url")
    return Asset(
        id=as_text(data.get("id")),
        filename=optional_str(data.get("filename"), "filename") or "",
        size=as_text(data.get("size")),
        is_file=data.get("is_file") is True,
        is_link=data.get("is_link") is True,
        url=safe_url(raw_url) if raw_url else None,
        limits=Limits(
            downloaded=as_count(limits.get("downloaded"), "downloaded") or 0,
            limit=as_count(limits.get("limit"), "limit"),
        ),
    )
