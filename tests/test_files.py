"""The file cache: bounded whatever its writers, serving still on a bad disk."""

from __future__ import annotations

import logging
import multiprocessing
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from downloads_portal import create_app, fixtures
from downloads_portal.store.backend import cache
from downloads_portal.store.files import (
    PRUNE_TO,
    TEMPORARY_SUFFIX,
    BoundedFileSystemCache,
)

from .conftest import ORDERS_PATH


def entries(folder: Path) -> list[str]:
    """Name the cache's entries in ``folder``: files being written left out."""
    return [name for name in os.listdir(folder) if not name.endswith(TEMPORARY_SUFFIX)]


def write_unique_keys(folder: str, threshold: int, count: int) -> None:
    """Be one process of the app writing ``count`` entries nobody wrote before."""
    app = create_app({"CACHE_DIR": folder, "CACHE_THRESHOLD": threshold})
    backend = app.extensions["cache"][cache]
    for n in range(count):
        backend.set(f"order:{secrets.token_hex(8)}", {"n": n}, timeout=600)


def test_many_writers_keep_the_file_cache_bounded(tmp_path) -> None:
    folder, threshold, writers = tmp_path / "cache", 40, 8
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=write_unique_keys, args=(str(folder), threshold, 200))
        for _ in range(writers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    # Each writer prunes before it writes, so at most one entry each is over; and
    # pruning stops at its mark. cachelib's own count, which the writers update
    # without a lock, drifts either way: 1 600 writes left 231 files, or 2.
    assert threshold // 2 <= len(entries(folder)) <= threshold + writers


def test_pruning_removes_what_expires_first(tmp_path) -> None:
    backend = BoundedFileSystemCache(str(tmp_path), threshold=10)
    for n in range(6):
        backend.set(f"order:{n}", {"n": n}, timeout=86400)
    for n in range(5):
        backend.set(f"not-found:{n}", None, timeout=60)
    assert len(entries(tmp_path)) == 11
    # The next write finds the cache past its threshold and prunes it first.
    backend.set("order:last", {"n": "last"}, timeout=86400)
    assert len(entries(tmp_path)) == int(10 * PRUNE_TO) + 1
    assert all(backend.get(f"order:{n}") == {"n": n} for n in range(6))
    assert backend.get("order:last") == {"n": "last"}


FAILING_WRITE = """
import os, resource, signal, sys
from downloads_portal.store.files import (
    PRUNE_TO,
    TEMPORARY_SUFFIX,
    BoundedFileSystemCache,
)

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
backend = BoundedFileSystemCache(sys.argv[1], threshold=100)
# Files of this process may not grow past 4 KiB: a write beyond fails (EFBIG),
# as it would on a full disk.
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
print(backend.set("big", b"x" * 100_000, timeout=60))
"""


def test_a_failed_write_leaves_no_file_behind(tmp_path) -> None:
    written = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FAILING_WRITE), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert written.stdout.strip() == "False"
    assert "cache file not written: OSError (EFBIG)" in written.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("folder", "warning"),
    [(".locks", "no fetch lock"), ("", "cache file not")],
    ids=["locks", "entries"],
)
def test_an_unwritable_folder_costs_no_page(
    config, httpserver, caplog, folder, warning
) -> None:
    app = create_app(config)
    broken = Path(config["CACHE_DIR"] + folder)
    # A file where the folder was: nothing can be written there, even by root.
    broken.rmdir()
    broken.write_text("not a folder")
    httpserver.expect_request(ORDERS_PATH).respond_with_json(fixtures.EXAMPLE_ORDER)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="downloads_portal.store"):
        for token in ("first", "second", "third"):
            response = client.get(f"/account/orders/{token}")
            assert response.status_code == 200
            assert "5 of 10 downloaded" in response.text
    # Once a minute at most, whichever of its files the cache failed on.
    assert len([r for r in caplog.records if warning in r.getMessage()]) == 1
    assert not [r for r in caplog.records if r.name == "root"]
    ready: Any = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {
        "status": "ready",
        "cache": "error",
        "cache_error": "NotADirectoryError (ENOTDIR)",
        "upstream": "ok",
    }
