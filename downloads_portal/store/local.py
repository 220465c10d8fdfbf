"""This process's copies of the entries it saw last."""

from __future__ import annotations

from ..recent import Recent
from .cache import Entry


class LocalEntries(Recent[str, Entry]):
    """The last entries this process saw, by cache key, so a hot order is not read
    and parsed from the shared cache on every view; each is used only while fresh."""
