"""Parsing Fileflare's JSON by the rules of upstream-api.md."""

from __future__ import annotations

import copy
import math

import pytest

from downloads_portal import fixtures
from downloads_portal.fields import MAX_COUNT, MAX_FILES, MAX_TEXT
from downloads_portal.models import InvalidOrder, Limits, parse_order


def test_example_order() -> None:
    order = parse_order(fixtures.EXAMPLE_ORDER)
    assert order.number == "1050"
    assert order.title == "Download files for your orders"
    assert order.message_html is None
    (line,) = order.lines
    assert line.product.name == "My new Book"
    assert line.product.variant_name == "Paper back"
    (asset,) = line.assets
    assert asset.filename == "My new book"
    assert asset.size == "10MB"
    assert asset.is_link and not asset.is_file
    assert asset.url == "https://www.my-website.com/download/my-book.pdf"
    assert asset.limits == Limits(downloaded=5, limit=10)
    assert order.assets[0].limits == Limits(downloaded=0, limit=10)


@pytest.mark.parametrize(
    ("limits", "unlimited", "used_up", "shown", "remaining"),
    [
        ({"downloaded": 5, "limit": 10}, False, False, 5, 5),
        ({"downloaded": 9, "limit": 10}, False, False, 9, 1),
        ({"downloaded": 10, "limit": 10}, False, True, 10, 0),
        ({"downloaded": 12, "limit": 10}, False, True, 10, 0),
        ({"downloaded": 3, "limit": None}, True, False, 3, None),
        ({"downloaded": 3}, True, False, 3, None),
        ({}, True, False, 0, None),
        ({"downloaded": 0, "limit": 0}, False, True, 0, 0),
        ({"downloaded": 2.0, "limit": 4.0}, False, False, 2, 2),
    ],
)
def test_limits(limits, unlimited, used_up, shown, remaining) -> None:
    body = fixtures.order(lines=[fixtures.line(assets=[fixtures.asset()])])
    body["order"]["lines"][0]["assets"][0]["limits"] = limits
    result = parse_order(body).lines[0].assets[0].limits
    assert result.unlimited is unlimited
    assert result.used_up is used_up
    assert result.shown == shown
    assert result.remaining == remaining


@pytest.mark.parametrize("variant", [None, "Default Title", "  "])
def test_placeholder_variants_are_hidden(variant) -> None:
    body = fixtures.order(lines=[fixtures.line(variant=variant)])
    assert parse_order(body).lines[0].product.variant_name is None


def test_unknown_fields_are_ignored_and_missing_ones_defaulted() -> None:
    body = copy.deepcopy(fixtures.EXAMPLE_ORDER)
    body["surprise"] = {"nested": [1, 2]}
    body["order"]["currency"] = "EUR"
    body["order"]["lines"][0]["product"]["colour"] = "red"
    body["order"]["lines"][0]["assets"][0]["data"]["checksum"] = "abc"
    body["order"]["lines"][0]["assets"][0]["limits"]["expires"] = None
    del body["order"]["assets"]
    del body["text"]
    order = parse_order(body)
    assert order.assets == ()
    assert order.title is None
    assert order.lines[0].assets[0].limits.downloaded == 5


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "//evil.example/file",
        "/relative/file.pdf",
        "https://",
        "https://ex ample.com/\x00",
        "ftp://files.example.com/a.zip",
    ],
)
def test_only_http_urls_become_links(url) -> None:
    body = fixtures.order(lines=[fixtures.line(assets=[fixtures.asset(url=url)])])
    asset = parse_order(body).lines[0].assets[0]
    assert asset.url is None
    assert not asset.available


def test_merchant_message_is_sanitised() -> None:
    message = (
        '<p onclick="x()">Thanks for <em>buying</em>!</p>'
        "<script>alert(1)</script>"
        '<a href="javascript:alert(1)">bad</a> <a href="https://help.example.com">help</a>'
        '<img src="x" onerror="alert(1)"><iframe src="https://evil.example"></iframe>'
        '<a href="//evil.example/x">far</a> <a href="/account/logout">near</a>'
    )
    html = parse_order(fixtures.order(text=message)).message_html
    assert "<p>Thanks for <em>buying</em>!</p>" in html
    assert "script" not in html
    assert "javascript:" not in html
    assert "onclick" not in html and "onerror" not in html
    assert "<img" not in html and "<iframe" not in html
    assert 'href="https://help.example.com"' in html
    assert 'rel="noopener noreferrer"' in html
    assert "evil.example" not in html and "/account/logout" not in html
    assert "far" in html and "near" in html


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.update(order=None),
        lambda b: b.update(order=[]),
        lambda b: b["order"].update(lines={"not": "a list"}),
        lambda b: b["order"].update(assets="nope"),
        lambda b: b["order"]["lines"].append("not an object"),
        lambda b: b["order"]["lines"][0].update(assets=42),
        lambda b: b["order"]["lines"][0]["assets"][0].update(data=None),
        lambda b: b["order"]["lines"][0]["assets"][0]["limits"].update(downloaded="5"),
        lambda b: b["order"]["lines"][0]["assets"][0]["limits"].update(limit=True),
        lambda b: b["order"]["lines"][0]["assets"][0]["limits"].update(limit=2.5),
        lambda b: b["order"]["lines"][0]["assets"][0]["data"].update(filename=["a"]),
        lambda b: b["text"].update(text={"html": 1}),
    ],
)
def test_wrong_shape_is_invalid(mutate) -> None:
    body = copy.deepcopy(fixtures.EXAMPLE_ORDER)
    mutate(body)
    with pytest.raises(InvalidOrder):
        parse_order(body)


def test_non_object_body_is_invalid() -> None:
    with pytest.raises(InvalidOrder):
        parse_order(["order"])


@pytest.mark.parametrize(
    "count",
    [1e25, 10**25, MAX_COUNT + 1, -1e25, 1.5, math.nan, math.inf, -math.inf],
)
@pytest.mark.parametrize("field", ["downloaded", "limit"])
def test_implausible_counts_are_invalid(field, count) -> None:
    body = fixtures.order(lines=[fixtures.line(assets=[fixtures.asset()])])
    body["order"]["lines"][0]["assets"][0]["limits"][field] = count
    with pytest.raises(InvalidOrder):
        parse_order(body)


def test_the_largest_plausible_count_is_kept() -> None:
    body = fixtures.order(
        lines=[fixtures.line(assets=[fixtures.asset(downloaded=3, limit=MAX_COUNT)])]
    )
    assert parse_order(body).lines[0].assets[0].limits.limit == MAX_COUNT


def test_lone_surrogates_become_replacement_characters() -> None:
    bad = "bad \ud800 \udfff"
    body = fixtures.order(
        lines=[
            fixtures.line(
                name=bad,
                variant=bad,
                assets=[
                    fixtures.asset(filename=bad, size=bad, url="https://x.io/" + bad)
                ],
            )
        ],
        title=bad,
        text=f"<p>{bad}</p>",
    )
    body["order"]["order_number"] = bad
    body["order"]["lines"][0]["product"].update(id=bad, sku=bad)
    order = parse_order(body)
    product = order.lines[0].product
    asset = order.lines[0].assets[0]
    texts = [order.number, order.title, order.message_html, product.name]
    texts += [product.variant_name, product.id, product.sku]
    texts += [asset.id, asset.filename, asset.size, asset.url]
    for text in texts:
        assert "bad \ufffd \ufffd" in text
        text.encode("utf-8")


def files(count: int) -> list[dict]:
    return [fixtures.asset(filename=f"part {n}.zip") for n in range(count)]


@pytest.mark.parametrize(
    "body",
    [
        fixtures.order(lines=[fixtures.line(assets=files(MAX_FILES + 1))]),
        fixtures.order(lines=[fixtures.line(assets=files(MAX_FILES))], assets=files(1)),
        fixtures.order(lines=[fixtures.line(assets=[])] * (MAX_FILES + 1)),
    ],
    ids=["files of a line", "files of the order", "line items"],
)
def test_an_order_too_big_for_a_page_is_invalid(body) -> None:
    with pytest.raises(InvalidOrder, match=f"more than {MAX_FILES}"):
        parse_order(body)


def test_the_largest_order_is_kept() -> None:
    body = fixtures.order(
        lines=[fixtures.line(assets=files(MAX_FILES - 1))], assets=files(1)
    )
    assert len(parse_order(body).lines[0].assets) == MAX_FILES - 1


def with_text(where: str, length: int) -> dict:
    """Return a one-file order whose text, nearly all in ``where``, is ``length``."""
    body = fixtures.order(number=1, lines=[fixtures.line(name="", variant=None)])
    data = body["order"]["lines"][0]["assets"][0]["data"]
    data.update(id="", filename="", size="")
    places = {
        "number": (body["order"], "order_number"),
        "title": (body["text"], "title"),
        "message": (body["text"], "text"),
        "product": (body["order"]["lines"][0]["product"], "name"),
        "variant": (body["order"]["lines"][0]["product"], "variant_name"),
        "id": (data, "id"),
        "filename": (data, "filename"),
        "size": (data, "size"),
    }
    parent, key = places[where]
    # The number's own "1" is one character of the text wherever the rest goes.
    parent[key] = "x" * (length - 1 if where != "number" else length)
    return body


@pytest.mark.parametrize(
    "where",
    ["number", "title", "message", "product", "variant", "id", "filename", "size"],
)
def test_the_text_a_page_shows_is_bounded(where) -> None:
    order = parse_order(with_text(where, MAX_TEXT))
    (line,) = order.lines
    (asset,) = line.assets
    shown = {
        "number": order.number,
        "title": order.title,
        "message": order.message_html,
        "product": line.product.name,
        "variant": line.product.variant_name,
        "id": asset.id,
        "filename": asset.filename,
        "size": asset.size,
    }
    assert sum(len(text or "") for text in shown.values()) == MAX_TEXT
    with pytest.raises(InvalidOrder, match=f"more than {MAX_TEXT} characters"):
        parse_order(with_text(where, MAX_TEXT + 1))


def test_file_addresses_are_not_counted_as_text() -> None:
    asset = fixtures.asset(url="https://files.example.com/" + "x" * MAX_TEXT)
    order = parse_order(fixtures.order(lines=[fixtures.line(assets=[asset])]))
    assert len(order.all_assets[0].url or "") > MAX_TEXT
