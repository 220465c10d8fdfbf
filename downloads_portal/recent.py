"""A bounded map of what a process used last, for its copies of orders and pages."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """The ``size`` items used last; the least recently used goes first.

    With ``weigh``, the items' weights also add up to at most ``budget``; an item
    heavier than the whole budget is not kept at all.
    """

    def __init__(
        self,
        size: int,
        weigh: Callable[[V], int] | None = None,
        budget: int = 0,
    ) -> None:
        self.size = size
        self.weigh = weigh
        self.budget = budget
        self.weight = 0
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
        """Hold ``value`` at ``key``, dropping the oldest items past the bounds."""
        with self._lock:
            if self.size and self._weight_of(value) <= self._room():
                self._pop(key)
                self._items[key] = value
                self.weight += self._weight_of(value)
                while len(self._items) > self.size or self.weight > self._room():
                    self._pop(next(iter(self._items)))
            return value

    def drop(self, key: K) -> None:
        """Forget the item at ``key``."""
        with self._lock:
            self._pop(key)

    def _pop(self, key: K) -> None:
        if key in self._items:
            self.weight -= self._weight_of(self._items.pop(key))

    def _weight_of(self, value: V) -> int:
        return self.weigh(value) if self.weigh else 0

    def _room(self) -> int:
        return self.budget if self.weigh else 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
