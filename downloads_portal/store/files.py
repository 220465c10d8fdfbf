"""The file cache: bounded by the files in its folder, and tidy when a write fails."""

from __future__ import annotations

import datetime
import errno
import logging
import os
import struct
import tempfile
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from flask_caching.backends.filesystemcache import FileSystemCache

from .cache import Warnings

log = logging.getLogger(__name__)

#: How cachelib ends the name of a file being written (``_fs_transaction_suffix``).
TEMPORARY_SUFFIX = ".__wz_cache"

#: Pruning goes down to this share of the threshold, so that it runs once in a
#: while rather than on every write past the threshold.
PRUNE_TO = 0.9


class BoundedFileSystemCache(FileSystemCache):
    """cachelib's file cache, counting the files in its folder rather than a count it
    keeps in a file.

    cachelib's count is read, changed and written back by every writer with no lock,
    so writers of several processes lose each other's updates: the count drifts,
    below the truth (pruning never runs) or above it (the cache is emptied). The
    folder itself cannot drift.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.warnings = Warnings(log)
        super().__init__(*args, **kwargs)

    @property
    def _file_count(self) -> int:
        return sum(1 for _ in self._list_dir())

    def _update_count(self, delta: int | None = None, value: int | None = None) -> None:
        """Keep no count: the folder is the count."""

    def _prune(self) -> None:
        """Past the threshold, remove the entries that expire first (the expired
        ones, remembered 404s, then the oldest) down to ``PRUNE_TO`` of it."""
        if not self._threshold:
            return
        try:
            names = list(self._list_dir())
        except OSError as exc:
            self.warnings.warn(f"cache folder not readable: {describe(exc)}")
            return
        if len(names) <= self._threshold:
            return
        keep = int(self._threshold * PRUNE_TO)
        for name in sorted(names, key=self._expiry)[: len(names) - keep]:
            with suppress(OSError):
                os.remove(name)

    def _expiry(self, name: str) -> int:
        """Return when the entry in ``name`` expires; an unreadable one goes first."""
        try:
            with open(name, "rb") as file:
                expires: int = struct.unpack("I", file.read(4))[0]
        except (OSError, struct.error):
            return -1
        # 0 means "never": such an entry goes last.
        return expires or 2**32

    def get(self, key: str) -> Any:
        """Return the entry at ``key`` while it has not expired; a file that cannot
        be read is a miss, warned of once a minute rather than on every page."""
        try:
            with open(self._get_filename(key), "rb") as file:
                expires = struct.unpack("I", file.read(4))[0]
                if expires == 0 or expires >= time.time():
                    return self.serializer.load(file)
        except FileNotFoundError:
            pass
        except (OSError, struct.error) as exc:
            error = describe(exc) if isinstance(exc, OSError) else "a broken file"
            self.warnings.warn(f"cache file not read: {error}")
        return None

    def set(
        self,
        key: str,
        value: Any,
        timeout: int | datetime.timedelta | None = None,
        mgmt_element: bool = False,
    ) -> bool:
        """Write the entry to a temporary file, then move it in place; a write that
        fails (a full disk, a folder that is not writable) leaves no file behind."""
        if not mgmt_element:
            self._prune()
        expires = self._normalize_timeout(timeout)
        temporary = None
        try:
            fd, temporary = tempfile.mkstemp(
                suffix=self._fs_transaction_suffix, dir=self._path
            )
            with os.fdopen(fd, "wb") as file:
                file.write(struct.pack("I", expires))
                self.serializer.dump(value, file)
            os.chmod(temporary, self._mode or 0o600)
            os.replace(temporary, self._get_filename(key))
        except OSError as exc:
            if temporary is not None:
                with suppress(OSError):
                    os.remove(temporary)
            self.warnings.warn(f"cache file not written: {describe(exc)}")
            return False
        return True

    def check(self) -> None:
        """Raise what keeps an entry from being written now, if anything does."""
        check_writable(self._path)


def check_writable(folder: str | Path) -> None:
    """Write and remove a small file in ``folder``; raise if that fails."""
    # Named as cachelib names a file being written, so no entry is taken for it.
    name = f"ready-{os.getpid()}-{threading.get_ident()}{TEMPORARY_SUFFIX}"
    probe = Path(folder) / name
    try:
        # Bytes, not an empty file: a full disk still takes a name.
        probe.write_bytes(b"ready")
    finally:
        with suppress(OSError):
            probe.unlink()


def describe(exc: OSError) -> str:
    """Name a file system failure without its path: ``PermissionError (EACCES)``."""
    code = errno.errorcode.get(exc.errno or 0)
    return f"{type(exc).__name__} ({code})" if code else type(exc).__name__
