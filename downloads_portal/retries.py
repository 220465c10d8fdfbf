"""urllib3's retries for Fileflare, and reading the Retry-After it sends."""

from __future__ import annotations

import math
import re
import time
from email.utils import parsedate_to_datetime

from urllib3.util.retry import Retry

#: A number as HTTP writes it: ASCII digits only (``str.isdigit`` takes "²" too).
DIGITS = re.compile(r"[0-9]+")


def wire_number(value: str) -> float | None:
    """Read a header's number: ASCII digits, else None; beyond 18 digits it is
    larger than any bound here, and not worth parsing (infinity)."""
    if not DIGITS.fullmatch(value):
        return None
    return float(value) if len(value) <= 18 else math.inf


class FileflareRetry(Retry):
    """urllib3's retries, except for an answer that says when to come back: a 429
    or 5xx with Retry-After is the breaker's to obey, not a reason to ask again."""

    def is_retry(
        self, method: str, status_code: int, has_retry_after: bool = False
    ) -> bool:
        """Retry as urllib3 would, unless the answer carries Retry-After."""
        if has_retry_after:
            return False
        return super().is_retry(method, status_code, has_retry_after)


def retry_after_seconds(value: str | None) -> float | None:
    """Read Retry-After, in seconds or as an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    seconds = wire_number(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(when.timestamp() - time.time(), 0.0)
