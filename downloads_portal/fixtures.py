"""Order bodies as Fileflare sends them, for the preview, tests and benchmark."""

from __future__ import annotations

from typing import Any

#: The example order from Fileflare's documentation (upstream-api.md).
EXAMPLE_ORDER: dict[str, Any] = {
    "order": {
        "order_number": 1050,
        "lines": [
            {
                "product": {
                    "id": "82664d96-6dfd-4343-96b0-05c46f412a5q",
                    "name": "My new Book",
                    "variant_name": "Paper back",
                    "sku": "my-sku",
                    "product_id": 123456,
                    "variant_id": 1234567,
                    "vendor": "my-store",
                    "tags": ["books", "paper-books"],
                },
                "assets": [
                    {
                        "limits": {"downloaded": 5, "limit": 10},
                        "data": {
                            "id": "82664d96-6dfd-4343-96b0-05c46f412a5b",
                            "filename": "My new book",
                            "size": "10MB",
                            "is_file": False,
                            "is_link": True,
                            "url": "https://www.my-website.com/download/my-book.pdf",
                        },
                    }
                ],
            }
        ],
        "assets": [
            {
                "limits": {"downloaded": 0, "limit": 10},
                "data": {
                    "id": "82664d96-6dfd-4343-96b0-05c46f41sas",
                    "filename": "My new book - part 2",
                    "size": "20MB",
                    "is_file": False,
                    "is_link": True,
                    "url": "https://www.my-website.com/download/my-book-part-2.pdf",
                },
            }
        ],
    },
    "text": {"title": "Download files for your orders", "text": None},
}


def asset(
    filename: str = "Track 01.wav",
    downloaded: int = 0,
    limit: int | None = 5,
    url: str | None = "https://files.example.com/download/track-01.wav",
    size: str = "48MB",
    is_file: bool = True,
) -> dict[str, Any]:
    """Return one asset as Fileflare lists it."""
    limits: dict[str, Any] = {"downloaded": downloaded}
    if limit is not None:
        limits["limit"] = limit
    return {
        "limits": limits,
        "data": {
            "id": f"asset-{filename}",
            "filename": filename,
            "size": size,
            "is_file": is_file,
            "is_link": not is_file,
            "url": url,
        },
    }


def line(
    name: str = "Sound pack",
    assets: list[dict[str, Any]] | None = None,
    variant: str | None = "Default Title",
) -> dict[str, Any]:
    """Return one line item with its assets."""
    return {
        "product": {"id": f"product-{name}", "name": name, "variant_name": variant},
        "assets": [asset()] if assets is None else assets,
    }


def order(
    lines: list[dict[str, Any]] | None = None,
    assets: list[dict[str, Any]] | None = None,
    number: int = 1001,
    title: str | None = None,
    text: str | None = None,
) -> dict[str, Any]:
    """Return a whole 200 body around the given lines and order-level assets."""
    return {
        "order": {
            "order_number": number,
            "lines": [line()] if lines is None else lines,
            "assets": assets or [],
        },
        "text": {"title": title, "text": text},
    }


def large_order(line_count: int, files_per_line: int = 3) -> dict[str, Any]:
    """Return an order of ``line_count`` lines with ``files_per_line`` files each."""
    return order(
        lines=[
            line(
                name=f"Course module {n + 1}",
                variant="Lifetime access",
                assets=[
                    asset(
                        filename=f"Module {n + 1} - part {k + 1}.mp4",
                        downloaded=(n + k) % 4,
                        limit=3 + k,
                        url=f"https://files.example.com/m{n + 1}/p{k + 1}.mp4",
                    )
                    for k in range(files_per_line)
                ],
            )
            for n in range(line_count)
        ],
        number=2000 + line_count,
    )
