"""Single flight: one caller fetches an order while the others wait for its answer.

Threads of a process queue on a lock per key; processes and instances sharing a
cache take a lock in it (``add``, which is ``SET NX`` with an expiry on Redis), or
a file beside a file cache. A waiter polls the cache for what the fetcher left.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

from ..config import SettingError, variable
from ..upstream import UpstreamRefused
from .cache import Entry, Failure, SafeCache, Warnings
from .files import check_writable, describe

log = logging.getLogger(__name__)

#: How soon a waiter first looks for the fetcher's answer; each look waits longer
#: than the last (times ``POLL_GROWTH``), up to ``POLL_MAX_SECONDS``. Every look is
#: two round trips to the cache, and one process's waiters look one at a time.
POLL_SECONDS = 0.02
POLL_GROWTH = 1.5
POLL_MAX_SECONDS = 0.2


class Lock(Protocol):
    """A lock per key, held for at most ``seconds``."""

    def acquire(self, key: str, seconds: float) -> bool | None:
        """Take the lock: True if taken, False if another holds it, None if unknown."""

    def release(self, key: str) -> None:
        """Give the lock back."""

    def check(self) -> None:
        """Raise what keeps a lock from being taken now, if anything does."""


class _Slot:
    """One key's lock, how many threads want it, and what the last holder found."""

    def __init__(self) -> None:
        # Made per key at request time, never captured before gevent patches.
        self.lock = threading.Lock()
        self.users = 0
        self.left: Left | None = None


class KeyLocks:
    """A lock per key for the threads of one process, dropped when nobody needs it.

    ``acquire`` waits for the lock, at most ``seconds``.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._slots: dict[str, _Slot] = {}

    def acquire(self, key: str, seconds: float) -> bool:
        """Wait for the key's lock at most ``seconds``; return whether it was taken."""
        with self._guard:
            slot = self._slots.setdefault(key, _Slot())
            slot.users += 1
        if slot.lock.acquire(timeout=max(seconds, 0.0)):
            return True
        self._leave(key, slot)
        return False

    def release(self, key: str) -> None:
        """Give the key's lock back."""
        with self._guard:
            slot = self._slots[key]
        slot.lock.release()
        self._leave(key, slot)

    def note(self, key: str, left: Left) -> None:
        """Keep what the key's holder found or fetched for the threads queued
        behind it; forgotten with the key's lock when nobody wants it."""
        with self._guard:
            slot = self._slots.get(key)
            if slot is not None:
                slot.left = left

    def noted(self, key: str) -> Left | None:
        """Return what the key's last holder found or fetched, if anything."""
        with self._guard:
            slot = self._slots.get(key)
            return slot.left if slot is not None else None

    def _leave(self, key: str, slot: _Slot) -> None:
        with self._guard:
            slot.users -= 1
            if not slot.users:
                del self._slots[key]


class CacheLocks:
    """Fetch locks in the shared cache itself: ``SET NX`` with an expiry on Redis."""

    def __init__(self, cache: SafeCache) -> None:
        self.cache = cache

    def acquire(self, key: str, seconds: float) -> bool | None:
        """Take the lock unless someone holds it; it expires after ``seconds``."""
        return self.cache.add(f"{key}:lock", 1, timeout=int(seconds))

    def acquire_reading(
        self, key: str, seconds: float, *keys: str
    ) -> tuple[bool | None, list[Any]]:
        """Take the lock as ``acquire`` does, and read ``keys``, in one round trip."""
        return self.cache.add_and_get_many(f"{key}:lock", 1, int(seconds), *keys)

    def release(self, key: str) -> None:
        """Give the lock back."""
        self.cache.delete(f"{key}:lock")

    def check(self) -> None:
        """Nothing to check: the cache's own readiness says whether it answers."""


class FileLocks:
    """Fetch locks for the processes sharing a file cache: files made with O_EXCL.

    cachelib's ``FileSystemCache.add`` looks, then writes, so two processes could
    both think they hold a lock; creating a file exclusively is atomic.
    """

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise SettingError(
                f"{variable('CACHE_DIR')} needs a folder for its fetch locks at"
                f" {folder!r}, and a file is in the way"
            ) from None
        self.warnings = Warnings(log)

    def acquire(self, key: str, seconds: float) -> bool | None:
        """Take the lock unless someone holds it; None when the folder takes no
        lock at all (not writable, a full disk): each process then fetches alone."""
        try:
            return self._take(self._path(key), seconds)
        except OSError as exc:
            self.warnings.warn(f"no fetch lock, fetching without: {describe(exc)}")
            return None

    def _take(self, path: Path, seconds: float) -> bool:
        """Create the lock file; one older than ``seconds`` belongs to a fetcher
        that died and is taken over."""
        for _ in range(2):
            try:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
                return True
            except FileExistsError:
                with suppress(FileNotFoundError):
                    if time.time() - path.stat().st_mtime < seconds:
                        return False
                    path.unlink()
        return False

    def release(self, key: str) -> None:
        """Give the lock back."""
        with suppress(OSError):
            self._path(key).unlink()

    def check(self) -> None:
        """Raise what keeps a lock from being taken now, if anything does."""
        check_writable(self.folder)

    def _path(self, key: str) -> Path:
        # Keys are already hashes of the token; the name only has to be safe.
        return self.folder / (hashlib.sha256(key.encode()).hexdigest() + ".lock")


#: What a fetcher leaves for those waiting on it: an entry, or its failure.
Left = Entry | Failure


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
    def turn(self, key: str) -> Iterator[Left | None]:
        """Wait for the key's fetcher; yield what it left, or None: fetch now."""
        since = time.time()
        deadline = time.monotonic() + self.seconds
        queued = self.threads.acquire(key, self.seconds)
        try:
            # The thread before us in this process may have the answer already.
            left = self.usable(self.threads.noted(key), since) if queued else None
            held = False
            if left is None:
                left, held = self.wait(key, since, deadline)
            if left is not None:
                self.threads.note(key, left)
            try:
                yield left
            finally:
                if held:
                    self.shared.release(key)
        finally:
            if queued:
                self.threads.release(key)

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

    def look(self, key: str) -> tuple[Entry | None, Failure | None]:
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

    def _read(self, found: list[Any]) -> tuple[Entry | None, Failure | None]:
        data, failed = found
        entry = self.cache.read(data, Entry.from_json)
        return entry, self.cache.read(failed, Failure.from_json)

    def usable(self, left: Left | None, since: float) -> Left | None:
        """Return ``left`` if a caller that came at ``since`` may take it: a fresh
        entry, or one fetched since then; a failure since then, or one remembered
        still; else None."""
        if isinstance(left, Entry) and (self.fresh(left) or left.fetched_at >= since):
            return left
        # A failure to come was planted (cache.py); one older than ``since`` is
        # taken only while remembered: Fileflare's answer, never our own refusal.
        if isinstance(left, Failure) and left.failed_at >= since - self.memory(left):
            return left
        return None

    def memory(self, failure: Failure) -> float:
        """Return how long ``failure`` is told to callers that came after it."""
        refused = isinstance(failure.error, UpstreamRefused)
        return 0.0 if refused else self.failure_seconds

    def fetched(self, key: str, entry: Entry) -> None:
        """Hand what the fetcher got to the threads of this process queued for it."""
        self.threads.note(key, entry)

    def failed(self, key: str, failure: Failure) -> None:
        """Tell those waiting that the fetch failed, and those who come within
        ``failure_seconds``."""
        self.threads.note(key, failure)
        seconds = math.ceil(max(self.seconds, self.failure_seconds))
        self.cache.set(self._keys(key)[1], failure.to_json(), timeout=seconds)
