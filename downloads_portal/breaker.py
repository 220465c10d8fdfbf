"""A circuit breaker on Fileflare: it judges Fileflare as a whole, not one order.

Each call's outcome is counted per order over a sliding window: with at least
``min_orders`` different orders called in the window and at least ``failure_rate`` of
them failing, the breaker opens for ``cool_off`` seconds; Fileflare's own Retry-After
opens it for as long as it says. Once that time is up it is half-open: one caller
takes the probe (a lease as long as the call's deadline) while the others are still
refused; the probe's success closes it, its failure opens it again.

Counting per order keeps one broken order, asked for again and again, from opening
it. The state lives in a ``BreakerStorage``: this process's memory, a folder shared by
the workers of a machine, or Redis shared by every instance (``breaker_storage``).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Protocol

from . import metrics

log = logging.getLogger(__name__)

#: Buckets a window is cut into: it slides by a tenth of its length.
BUCKETS = 10

OK, OPEN, HALF_OPEN = "ok", "open", "half-open"

#: How long this process's last reading of when the breaker reopens stands for
#: every caller's: one round trip to the storage a second, not one or two per call,
#: at the cost of seeing another process open or close the breaker that much later
#: (this process's own opening and closing are seen at once).
READING_SECONDS = 1.0


class Refused(Exception):
    """The breaker refused a call; ``retry_after`` is the time left, in seconds."""

    def __init__(self, state: str, retry_after: float) -> None:
        super().__init__(f"circuit {state}")
        self.state = state
        self.retry_after = retry_after


class BreakerStorage(Protocol):
    """Where a breaker keeps its state: when it reopens, its probe, its window."""

    def opened_until(self) -> float:
        """Return the ``time.time()`` the breaker is open until; 0 when closed."""

    def open_until(self, until: float) -> None:
        """Open the breaker until ``until``, unless it is open longer already."""

    def close(self, bucket: int) -> None:
        """Close the breaker and forget its window up to ``bucket``."""

    def take_probe(self, seconds: float) -> bool:
        """Take the half-open probe for ``seconds``; False if someone holds it."""

    def record(
        self, order: str, failed: bool, bucket: int, window: range
    ) -> tuple[int, int]:
        """Count ``order``'s outcome in ``bucket``; return how many different orders
        were called, and how many failed, over the ``window`` buckets."""


@dataclass(frozen=True)
class Thresholds:
    """When the breaker opens, and for how long."""

    window_seconds: float = 30.0
    min_orders: int = 10
    failure_rate: float = 0.5
    cool_off_seconds: float = 30.0
    max_open_seconds: float = 300.0


class Breaker:
    """Refuse calls while Fileflare is failing; let one probe through after a while."""

    def __init__(self, storage: BreakerStorage, thresholds: Thresholds) -> None:
        self.storage = storage
        self.thresholds = thresholds
        # When the breaker reopens (0: closed), and when that was read (monotonic).
        self._reading = (0.0, -math.inf)

    def state(self) -> str:
        """Return ``ok``, ``open`` or ``half-open``, as of now."""
        until = self.storage.opened_until()
        if not until:
            state = OK
        else:
            state = OPEN if time.time() < until else HALF_OPEN
        metrics.breaker_state(state)
        return state

    def refusal(self) -> Refused | None:
        """Return the refusal a call would meet now while open, else None (a
        half-open breaker's probe is left for the call itself to take)."""
        until = self._opened_until()
        left = until - time.time() if until else 0.0
        return self._refuse(OPEN, left) if left > 0 else None

    def before_call(self, probe_seconds: float) -> bool:
        """Let a call through or raise Refused; return whether it is the probe."""
        until = self._opened_until()
        if not until:
            return False
        left = until - time.time()
        if left > 0:
            raise self._refuse(OPEN, left)
        if self.storage.take_probe(probe_seconds):
            metrics.breaker_state(HALF_OPEN)
            return True
        raise self._refuse(HALF_OPEN, probe_seconds)

    def succeeded(self, order: str, probe: bool) -> None:
        """Count a good answer; a probe's closes the breaker."""
        if probe:
            self.storage.close(self._bucket())
            self._reading = (0.0, time.monotonic())
            metrics.breaker_state(OK)
            log.warning("upstream answers again: circuit closed")
            return
        self._record(order, failed=False)

    def failed(
        self, order: str, probe: bool, told_to_wait: bool, retry_after: float | None
    ) -> None:
        """Count a failure. Fileflare telling us to wait (a 429, or Retry-After)
        opens the breaker for that long, a cool-off if it said no time; so does a
        failed probe; else it opens once too many orders fail."""
        limits = self.thresholds
        if told_to_wait:
            wait = limits.cool_off_seconds if retry_after is None else retry_after
            self.open(min(wait, limits.max_open_seconds), "Fileflare asked to wait")
        elif probe:
            self.open(limits.cool_off_seconds, "the probe failed")
        elif self._record(order, failed=True) >= limits.failure_rate:
            self.open(limits.cool_off_seconds, "too many orders failing")

    def open(self, seconds: float, why: str) -> None:
        """Open the breaker for ``seconds``."""
        until = time.time() + max(seconds, 0.0)
        self.storage.open_until(until)
        # Open longer already elsewhere? The next reading, within a second, says.
        self._reading = (until, time.monotonic())
        metrics.breaker_state(OPEN)
        log.warning("upstream circuit open for %.0fs: %s", seconds, why)

    def _opened_until(self) -> float:
        """Return when the breaker reopens, as this process read it within
        ``READING_SECONDS``, else as the storage says now; once that time has come
        (half-open: who takes the probe?), always as the storage says now."""
        until, read_at = self._reading
        if time.monotonic() - read_at >= READING_SECONDS or 0 < until <= time.time():
            until = self.storage.opened_until()
            self._reading = (until, time.monotonic())
        return until

    def _bucket(self) -> int:
        return math.floor(time.time() * BUCKETS / self.thresholds.window_seconds)

    def _record(self, order: str, failed: bool) -> float:
        bucket = self._bucket()
        window = range(bucket - BUCKETS + 1, bucket + 1)
        called, failing = self.storage.record(order, failed, bucket, window)
        if called < self.thresholds.min_orders:
            return 0.0
        return failing / called

    def _refuse(self, state: str, left: float) -> Refused:
        metrics.upstream_refused(state)
        return Refused(state, left)
