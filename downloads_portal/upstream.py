"""The Fileflare client and the failures it reports."""

from __future__ import annotations

import json
import logging
import time
from typing import Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError
from urllib3.util.retry import Retry

from .models import InvalidOrder, Order, parse_order
from .security import fingerprint, install_log_redaction

log = logging.getLogger(__name__)

ORDERS_PATH = "/api/v2/customer-account-orders"


class UpstreamError(Exception):
    """Base for everything that keeps an order page from being built."""

    status = 503


class OrderNotFound(UpstreamError):
    """The token is not valid, or no order matches it."""

    status = 404


class UpgradeRequired(UpstreamError):
    """The store's Fileflare plan lacks customer-account download links."""

    status = 402


class UpstreamUnavailable(UpstreamError):
    """Fileflare is down, timing out or refusing connections."""

    status = 503


class UpstreamInvalid(UpstreamUnavailable):
    """Fileflare answered, but with something that is not an order."""

    status = 502


def describe(exc: requests.RequestException | HTTPError) -> str:
    """Name a transport failure without the URL that requests puts in its message."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    # urllib3's NewConnectionError (refused, unresolvable) subclasses its TimeoutError.
    if isinstance(reason, NewConnectionError):
        return "connection failed"
    if isinstance(exc, requests.Timeout | TimeoutError) or isinstance(
        reason, TimeoutError
    ):
        return "timeout"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return type(exc).__name__


class OrderSource(Protocol):
    """Anything that can fetch an order by token: the real client or a fixture."""

    def fetch(self, token: str) -> Order:
        """Return the order for ``token`` or raise an UpstreamError."""


class FileflareClient:
    """Fetch orders from Fileflare over one pooled, retrying session."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 5.0,
        max_bytes: int = 2 * 1024 * 1024,
        retries: int = 2,
    ) -> None:
        install_log_redaction()
        self.url = base_url.rstrip("/") + ORDERS_PATH
        self.timeout = float(timeout)
        self.max_bytes = max_bytes
        self.session = requests.Session()
        self.session.headers.update(
            {"Accept": "application/json", "User-Agent": "downloads-portal"}
        )
        retry = Retry(
            total=retries,
            connect=retries,
            read=0,
            status=retries,
            other=0,
            allowed_methods={"GET"},
            status_forcelist={502, 503, 504},
            backoff_factor=0.1,
            backoff_max=0.5,
            # Pauses stay small beside the timeouts: the answer is due within ~3x.
            # urllib3 annotates an int but only compares it: a fraction works.
            retry_after_max=min(1.0, self.timeout / 4),  # type: ignore[arg-type]
            raise_on_status=False,
            raise_on_redirect=False,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=32)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def fetch(self, token: str) -> Order:
        """Return the order for ``token`` or raise an UpstreamError."""
        ref = fingerprint(token)
        started = time.monotonic()
        try:
            return self._fetch(token, deadline=started + 3 * self.timeout)
        except UpstreamUnavailable as exc:
            log.warning("upstream failed for order %s: %s", ref, exc)
            raise
        finally:
            log.debug(
                "upstream call for order %s took %.3fs", ref, time.monotonic() - started
            )

    def _fetch(self, token: str, deadline: float) -> Order:
        try:
            with self.session.get(
                self.url,
                params={"id": token},
                timeout=(min(self.timeout, 3.05), self.timeout),
                stream=True,
                allow_redirects=False,
            ) as response:
                status = response.status_code
                if status == 200:
                    body = self._read_body(response, deadline)
        except (requests.RequestException, HTTPError) as exc:
            # requests puts the URL, token included, in its messages: drop them.
            raise UpstreamUnavailable(describe(exc)) from None

        if status == 404:
            raise OrderNotFound()
        if status == 402:
            raise UpgradeRequired()
        if status != 200:
            raise UpstreamUnavailable(f"status {status}")
        try:
            return parse_order(json.loads(body))
        except InvalidOrder as exc:
            raise UpstreamInvalid(str(exc)) from None
        except (ValueError, RecursionError):
            # json's errors and UnicodeDecodeError are ValueErrors too.
            raise UpstreamInvalid("not JSON") from None

    def _read_body(self, response: requests.Response, deadline: float) -> bytes:
        """Read the body, decompressed, refusing more than ``max_bytes``."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise UpstreamInvalid("body too large")
        chunks: list[bytes] = []
        size = 0
        # read1 returns after every socket read, so a body dripping in a byte at a
        # time still meets the deadline (iter_content would wait for a whole chunk).
        while chunk := response.raw.read1(64 * 1024, decode_content=True):
            size += len(chunk)
            if size > self.max_bytes:
                raise UpstreamInvalid("body too large")
            if time.monotonic() > deadline:
                raise UpstreamUnavailable("body too slow")
            chunks.append(chunk)
        return b"".join(chunks)
