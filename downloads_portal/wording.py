"""Words for people: a file's kind from its name, and its size the language's way."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

from babel.units import format_unit
from flask import Flask
from flask_babel import get_locale, gettext, lazy_gettext

from .models import Asset

#: Kinds named by what they hold; any other short extension is shown as it is ("PDF").
KINDS: dict[str, object] = {}
_GROUPS = {
    lazy_gettext("Audio"): "mp3 wav flac aif aiff m4a aac ogg opus alac",
    lazy_gettext("Video"): "mp4 mov m4v mkv webm avi",
    lazy_gettext("Image"): "jpg jpeg png gif webp svg tif tiff heic psd",
    lazy_gettext("E-book"): "epub mobi azw3",
}
for _label, _extensions in _GROUPS.items():
    KINDS.update(dict.fromkeys(_extensions.split(), _label))

EXTENSION_RE = re.compile(r"\.([A-Za-z0-9]{2,4})\Z")

#: "10MB", "1.2 GB", "200 kb", "512 bytes": a number and a unit Babel can write.
SIZE_RE = re.compile(r"\s*(\d{1,6}(?:[.,]\d{1,3})?)\s*([KMGT]?B|bytes?)\s*", re.I)
UNITS = {
    "b": "digital-byte",
    "byte": "digital-byte",
    "bytes": "digital-byte",
    "kb": "digital-kilobyte",
    "mb": "digital-megabyte",
    "gb": "digital-gigabyte",
    "tb": "digital-terabyte",
}


def file_kind(asset: Asset) -> str:
    """Say what kind of file ``asset`` is: "PDF", "Audio", "Link" or "File"."""
    path = urlsplit(asset.url).path if asset.url else ""
    for name in (asset.filename, path):
        found = EXTENSION_RE.search(name)
        if found is not None:
            extension = found[1].lower()
            return str(KINDS.get(extension, extension.upper()))
    if asset.is_link and not asset.is_file:
        return str(gettext("Link"))
    return str(gettext("File"))


def file_size(size: str) -> str:
    """Write "10MB" the language's way ("10 Mo" in French); else as given."""
    return _file_size(size, str(get_locale() or "en"))


@lru_cache(maxsize=1024)
def _file_size(size: str, locale: str) -> str:
    found = SIZE_RE.fullmatch(size)
    if found is None:
        return size.strip()
    value = float(found[1].replace(",", "."))
    number = int(value) if value.is_integer() else value
    shown = format_unit(
        number, UNITS[found[2].casefold()], length="short", locale=locale
    )
    # The number and its unit stay on one line.
    return shown.replace(" ", "\u00a0")


def init_app(app: Flask) -> None:
    """Offer ``kind`` and ``size`` to templates."""
    app.jinja_env.filters["kind"] = file_kind
    app.jinja_env.filters["size"] = file_size
