"""Words for people: a file's kind and its size, in the customer's language."""

from __future__ import annotations

import pytest

from downloads_portal import create_app, wording
from downloads_portal.models import Asset, Limits


def asset(filename: str, url: str | None = None, is_link: bool = False) -> Asset:
    return Asset("a1", filename, "", not is_link, is_link, url, Limits())


@pytest.fixture
def app():
    return create_app({"CACHE_TYPE": "SimpleCache"})


@pytest.mark.parametrize(
    ("file", "locale", "kind"),
    [
        (asset("Guide.pdf"), "en", "PDF"),
        (asset("Stems.ZIP"), "en", "ZIP"),
        (asset("Intro.mp3"), "en", "Audio"),
        (asset("Intro.flac"), "de", "Audio"),
        (asset("Lesson 1.mov"), "en", "Video"),
        (asset("Cover.png"), "fr", "Image"),
        (asset("Book.epub"), "es", "Libro electrónico"),
        (asset("Book", "https://x.example/dl/my-book.pdf?t=1", True), "en", "PDF"),
        (asset("Members area", "https://x.example/members", True), "en", "Link"),
        (asset("Members area", "https://x.example/members", True), "ja", "リンク"),
        (asset("Presets vol. 1"), "en", "File"),
        (asset("Presets vol. 1"), "de", "Datei"),
        (asset("archive.tar.gz"), "en", "GZ"),
    ],
)
def test_file_kind(app, file, locale, kind) -> None:
    with app.test_request_context(f"/?locale={locale}"):
        assert wording.file_kind(file) == kind


@pytest.mark.parametrize(
    ("size", "locale", "shown"),
    [
        ("10MB", "en", "10\xa0MB"),
        ("10MB", "fr", "10\u202fMo"),
        ("1.2 GB", "de", "1,2\xa0GB"),
        ("1,5gb", "en", "1.5\xa0GB"),
        ("200 KB", "en", "200\xa0kB"),
        ("512 bytes", "de", "512\xa0Byte"),
        # Letters a case-blind match takes for "s" and "K": the long s, the Kelvin sign.
        ("512 byte\u017f", "en", "512\xa0byte"),
        ("200 \u212aB", "en", "200\xa0kB"),
        ("about 3 pages", "fr", "about 3 pages"),
        ("10 MB of sound ", "en", "10 MB of sound"),
        ("", "en", ""),
    ],
)
def test_file_size(app, size, locale, shown) -> None:
    with app.test_request_context(f"/?locale={locale}"):
        assert wording.file_size(size) == shown
