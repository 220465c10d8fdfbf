"""A bounded map of what a process used last, for its copies of orders and pages."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """The ``size`` items used last; the least recently used goes first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        # Made here, when the app is created: after gevent has patched threading.
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """Return the item at ``key``, if it is still held."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def keep(self, key: K, value: V) -> V:
        """Hold ``value`` at ``key``, dropping the oldest items past the size."""
        with self._lock:
            if self.size:
                self._items[key] = value
                self._items.move_to_end(key)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
            return value

    def drop(self, key: K) -> None:
        """Forget the item at ``key``."""
        with self._lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
