"""This process's copies of the entries it read from the shared cache, or wrote."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..recent import Recent
from .cache import Entry


@dataclass(frozen=True, slots=True)
class Copy:
    """An entry, and when this process last read it from the shared cache."""

    entry: Entry
    read_at: float


class LocalEntries:
    """The last entries this process saw, by cache key, so a hot order is not read
    and parsed from the shared cache on every view.

    A copy stands in for the shared cache only ``seconds`` after it was read there:
    another process may have dropped the order since (a download), and every
    process must show the new count soon after.
    """

    def __init__(self, size: int, seconds: float = 1.0) -> None:
        self.copies: Recent[str, Copy] = Recent(size)
        self.seconds = seconds

    def get(self, key: str) -> Entry | None:
        """Return the copy of ``key`` read less than ``seconds`` ago, if any."""
        copy = self.copies.get(key)
        if copy is None or time.time() - copy.read_at >= self.seconds:
            return None
        return copy.entry

    def last(self, key: str) -> Entry | None:
        """Return the copy of ``key`` however long ago it was read, if any."""
        copy = self.copies.get(key)
        return None if copy is None else copy.entry

    def keep(self, key: str, entry: Entry) -> Entry:
        """Hold ``entry``, just read from (or written to) the shared cache."""
        self.copies.keep(key, Copy(entry, time.time()))
        return entry

    def drop(self, key: str) -> None:
        """Forget the copy of ``key``."""
        self.copies.drop(key)
