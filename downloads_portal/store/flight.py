"""Single flight: one caller fetches an order while the others wait for its answer.

Threads of a process queue on a lock per key; processes and instances sharing a
cache take a lock in it, or a file beside a file cache (``locks.py``). A waiter polls
the cache for what the fetcher left.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..upstream import UpstreamRefused
from .cache import Entry, Failure, Left, Looked, SafeCache
from .locks import CacheLocks, KeyLocks, Lock

#: How soon a waiter first looks for the fetcher's answer; each look waits longer
#: than the last (times ``POLL_GROWTH``), up to ``POLL_MAX_SECONDS``. Every look is
#: two round trips to the cache, and one process's waiters look one at a time.
POLL_SECONDS = 0.02
POLL_GROWTH = 1.5
POLL_MAX_SECONDS = 0.2


@dataclass(slots=True)
class Turn:
    """One caller's turn at a key: what a fetcher left, else what its own fetch
    writes to the cache as the turn ends (data and seconds, by key)."""

    key: str
    left: Left | None
    writes: dict[str, tuple[Any, int]] = field(default_factory=dict)


class SingleFlight:
    """Queue the callers of one key: one fetches, the others take its answer."""

    def __init__(
        self,
        cache: SafeCache,
        shared: Lock,
        seconds: int,
        fresh: Callable[[Entry], bool],
        failure_seconds: float = 0.0,
    ) -> None:
        self.cache = cache
        self.shared = shared
        self.seconds = seconds
        self.fresh = fresh
        self.failure_seconds = failure_seconds
        self.threads = KeyLocks()

    @contextmanager
    def turn(self, key: str) -> Iterator[Turn]:
        """Wait for the key's fetcher; yield a turn with what it left, or with
        nothing: fetch now, and what the turn is given is written as it ends."""
        since = time.time()
        deadline = time.monotonic() + self.seconds
        queued = self.threads.acquire(key, self.seconds)
        left = self.usable(self.threads.noted(key), since) if queued else None
        if left is not None:
            # Left by the thread before us in this process: the next in the queue
            # may take it at once, not after this caller's page (a convoy).
            self.threads.release(key)
            yield Turn(key, left)
            return
        try:
            left, held = self.wait(key, since, deadline)
            if left is not None:
                self.threads.note(key, left)
            turn = Turn(key, left)
            try:
                yield turn
            finally:
                self._end(turn, held)
        finally:
            if queued:
                self.threads.release(key)

    def _end(self, turn: Turn, held: bool) -> None:
        """Write what the turn fetched and give the shared lock back: one round trip
        when the lock lives in the cache beside the entries."""
        if held and isinstance(self.shared, CacheLocks):
            self.shared.release_writing(turn.key, turn.writes)
            return
        for key, (value, seconds) in turn.writes.items():
            self.cache.set(key, value, timeout=seconds)
        if held:
            self.shared.release(turn.key)

    def wait(self, key: str, since: float, deadline: float) -> tuple[Left | None, bool]:
        """Return what a fetcher left since ``since``, and whether we hold the lock.

        Whoever held the lock before may have fetched; else we wait for the fetcher
        of another process, until its lock expires or our deadline passes.
        """
        pause = POLL_SECONDS
        while True:
            taken, left = self.attempt(key, since)
            held = taken is True
            # None: the cache cannot say who holds it, so there is no one to wait for.
            busy = taken is False
            now = time.monotonic()
            if left is not None or not busy or now >= deadline:
                return left, held
            time.sleep(min(pause, deadline - now))
            pause = min(pause * POLL_GROWTH, POLL_MAX_SECONDS)

    def look(self, key: str) -> Looked:
        """Read the key's entry and its last failure, in one round trip."""
        return self._read(self.cache.get_many(*self._keys(key)))

    def attempt(self, key: str, since: float) -> tuple[bool | None, Left | None]:
        """Try the shared lock, and read a fresh entry, or one fetched or failed since
        ``since``: one round trip when the lock lives in the cache beside them."""
        if isinstance(self.shared, CacheLocks):
            keys = self._keys(key)
            taken, found = self.shared.acquire_reading(key, self.seconds, *keys)
            entry, failure = self._read(found)
        else:
            taken = self.shared.acquire(key, self.seconds)
            entry, failure = self.look(key)
        return taken, self.usable(entry, since) or self.usable(failure, since)

    @staticmethod
    def _keys(key: str) -> tuple[str, str]:
        """Return where the key's entry and its last failure are kept."""
        return key, f"{key}:failed"

    def _read(self, found: list[Any]) -> Looked:
        data, failed = found
        entry = self.cache.read(data, Entry.from_json)
        return entry, self.cache.read(failed, Failure.from_json)

    def usable(self, left: Left | None, since: float) -> Left | None:
        """Return ``left`` if a caller that came at ``since`` may take it: a fresh
        entry, or one fetched since then; a failure it may be told; else None."""
        if isinstance(left, Entry) and (self.fresh(left) or left.fetched_at >= since):
            return left
        if isinstance(left, Failure) and self.remembered(left, since):
            return left
        return None

    def remembered(self, failure: Failure, since: float) -> bool:
        """Whether a caller that came at ``since`` is told of ``failure``: one since
        then, or Fileflare's (never our own refusal) within ``failure_seconds``
        before. One to come was planted (cache.py)."""
        refused = isinstance(failure.error, UpstreamRefused)
        return failure.failed_at >= since - (0.0 if refused else self.failure_seconds)

    def fetched(self, turn: Turn, entry: Entry, seconds: int) -> None:
        """Hand what the fetcher got to the threads of this process queued for it,
        and to the cache for ``seconds`` (for none at all, since the cache reads 0 as
        "forever")."""
        self.threads.note(turn.key, entry)
        if seconds > 0:
            turn.writes[turn.key] = (entry.to_json(), seconds)

    def failed(self, turn: Turn, failure: Failure) -> None:
        """Tell those waiting that the fetch failed, and those who come within
        ``failure_seconds``."""
        self.threads.note(turn.key, failure)
        seconds = math.ceil(max(self.seconds, self.failure_seconds))
        turn.writes[self._keys(turn.key)[1]] = (failure.to_json(), seconds)
