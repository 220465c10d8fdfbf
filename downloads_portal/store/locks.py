"""Fetch locks: per key among a process's threads, and across processes in the
shared cache (``SET NX EX`` on Redis) or as files beside a file cache."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any, Protocol

from ..config import SettingError, variable
from .cache import Left, SafeCache, Warnings
from .files import check_writable, describe

log = logging.getLogger(__name__)


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

    def release_writing(self, key: str, writes: dict[str, tuple[Any, int]]) -> None:
        """Write ``writes`` (data and seconds, by key), then give the lock back."""
        self.cache.set_many_and_delete(writes, f"{key}:lock")

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
