"""The Fileflare client and the failures it reports."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Protocol

import requests
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

from . import metrics
from .breaker import Breaker, Refused
from .cooperative import bounded_semaphore
from .deadline import DeadlineAdapter, DeadlineExceeded, deadline
from .models import InvalidOrder, Order, parse_order
from .retries import FileflareRetry, retry_after_seconds, wire_number
from .security import fingerprint, install_log_redaction

log = logging.getLogger(__name__)

ORDERS_PATH = "/api/v2/customer-account-orders"
#: The longest body of an answer other than 200 read to keep its connection, and
#: the longest wait for it: one that drips is left, with its connection.
DRAIN_BYTES = 64 * 1024
DRAIN_SECONDS = 0.05


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
    """Fileflare is down, timing out, refusing connections or asking us to wait.

    ``retry_after``: the seconds Fileflare asked for, or the breaker has left;
    ``told_to_wait``: Fileflare said 429, or sent Retry-After;
    ``failing``: whether it counts against Fileflare in the circuit breaker.
    """

    status = 503
    failing = True

    def __init__(
        self,
        message: str = "",
        retry_after: float | None = None,
        told_to_wait: bool = False,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.told_to_wait = told_to_wait or retry_after is not None


class UpstreamInvalid(UpstreamUnavailable):
    """Fileflare answered, but with something that is not an order."""

    status = 502
    failing = False


class UpstreamRefused(UpstreamUnavailable):
    """Fileflare was not asked: the breaker is open, or every slot is taken."""

    failing = False


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

    def refusal(self) -> UpstreamRefused | None:
        """Return why a fetch would not be made now (the breaker is open), or None."""


class FileflareClient:
    """Fetch orders from Fileflare over one pooled, retrying session.

    Every fetch ends within 3 x ``timeout``, waiting for a slot (at most
    ``concurrency`` calls in flight in this process) included; a ``breaker``, when
    given, refuses calls while Fileflare is failing.
    """

    def __init__(
        self,
        base_url: str,
        timeout: float = 5.0,
        max_bytes: int = 2 * 1024 * 1024,
        retries: int = 2,
        concurrency: int = 250,
        breaker: Breaker | None = None,
    ) -> None:
        install_log_redaction()
        self.url = base_url.rstrip("/") + ORDERS_PATH
        self.timeout = float(timeout)
        self.max_bytes = max_bytes
        self.breaker = breaker
        # Made with the app, in the worker: under gevent, gevent's semaphore.
        self.slots = bounded_semaphore(concurrency)
        self.session = requests.Session()
        self.session.headers.update(
            {"Accept": "application/json", "User-Agent": "downloads-portal"}
        )
        retry = FileflareRetry(
            total=retries,
            connect=retries,
            read=0,
            status=retries,
            other=0,
            allowed_methods={"GET"},
            status_forcelist={502, 503, 504},
            backoff_factor=0.1,
            backoff_max=0.5,
            raise_on_status=False,
            raise_on_redirect=False,
        )
        adapter = DeadlineAdapter(max_retries=retry, pool_maxsize=concurrency)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def fetch(self, token: str) -> Order:
        """Return the order for ``token`` or raise an UpstreamError."""
        ref = fingerprint(token)
        started = time.monotonic()
        due = started + 3 * self.timeout
        try:
            # A slot first: a probe the breaker lets through is always made.
            with self._slot(due):
                probe = self._admit()
                return self._judged(token, ref, probe, due)
        except UpstreamRefused as exc:
            log.info("upstream not asked for order %s: %s", ref, exc)
            raise
        except UpstreamUnavailable as exc:
            log.warning("upstream failed for order %s: %s", ref, exc)
            raise
        except Refused as exc:
            log.info("upstream not asked for order %s: %s", ref, exc)
            raise UpstreamRefused(str(exc), retry_after=exc.retry_after) from None
        finally:
            log.debug(
                "upstream call for order %s took %.3fs", ref, time.monotonic() - started
            )

    def refusal(self) -> UpstreamRefused | None:
        """Return why a fetch would not be made now (the breaker is open), or None."""
        refused = self.breaker.refusal() if self.breaker else None
        if refused is None:
            return None
        return UpstreamRefused(str(refused), retry_after=refused.retry_after)

    def _admit(self) -> bool:
        """Ask the breaker, if any; return whether this call is its probe."""
        return bool(self.breaker and self.breaker.before_call(3 * self.timeout))

    def _judged(self, token: str, ref: str, probe: bool, due: float) -> Order:
        """Fetch within the deadline and tell the breaker how Fileflare did."""
        try:
            with deadline(due - time.monotonic()):
                order = self._fetch(token)
        except DeadlineExceeded:
            self._failed(ref, probe, UpstreamUnavailable("too slow"))
        except UpstreamUnavailable as exc:
            self._failed(ref, probe, exc)
        except UpstreamError:
            self._succeeded(ref, probe)
            raise
        self._succeeded(ref, probe)
        return order

    def _succeeded(self, ref: str, probe: bool) -> None:
        if self.breaker:
            self.breaker.succeeded(ref, probe)

    def _failed(self, ref: str, probe: bool, exc: UpstreamUnavailable) -> None:
        if self.breaker and exc.failing:
            self.breaker.failed(ref, probe, exc.told_to_wait, exc.retry_after)
        elif self.breaker:
            self.breaker.succeeded(ref, probe)
        raise exc

    @contextmanager
    def _slot(self, due: float) -> Iterator[None]:
        """Hold one of the slots for calls in flight, waiting at most until ``due``."""
        if not self.slots.acquire(blocking=False):
            metrics.bulkhead_wait()
            if not self.slots.acquire(timeout=max(due - time.monotonic(), 0.0)):
                metrics.upstream_refused("busy")
                raise UpstreamRefused("no free slot")
        try:
            yield
        finally:
            self.slots.release()

    def _fetch(self, token: str) -> Order:
        try:
            with self.session.get(
                self.url,
                params={"id": token},
                timeout=(min(self.timeout, 3.05), self.timeout),
                stream=True,
                allow_redirects=False,
            ) as response:
                status = response.status_code
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                if status == 200:
                    body = self._read_body(response, self.max_bytes)
                else:
                    self._drain(response)
        except (requests.RequestException, HTTPError) as exc:
            # requests puts the URL, token included, in its messages: drop them.
            raise UpstreamUnavailable(describe(exc)) from None

        if status == 404:
            raise OrderNotFound()
        if status == 402:
            raise UpgradeRequired()
        if status == 429 or status >= 500:
            raise UpstreamUnavailable(
                f"status {status}", retry_after=retry_after, told_to_wait=status == 429
            )
        if status != 200:
            raise UpstreamUnavailable(f"status {status}")
        try:
            return parse_order(json.loads(body))
        except InvalidOrder as exc:
            raise UpstreamInvalid(str(exc)) from None
        except (ValueError, RecursionError):
            # json's errors and UnicodeDecodeError are ValueErrors too.
            raise UpstreamInvalid("not JSON") from None

    def _drain(self, response: requests.Response) -> None:
        """Read a short answer's body to its end if it comes within
        ``DRAIN_SECONDS``, so that its connection is kept: a 404 or a 500 then costs
        no new connection (nor TLS handshake) after it. Else the connection is
        dropped; the answer stands either way."""
        sock = getattr(response.raw.connection, "sock", None)
        if sock is None:
            return
        before = sock.gettimeout()
        sock.settimeout(DRAIN_SECONDS)
        try:
            with suppress(UpstreamInvalid, HTTPError, OSError, DeadlineExceeded):
                self._read_body(response, DRAIN_BYTES)
        finally:
            with suppress(OSError):
                sock.settimeout(before)

    def _read_body(self, response: requests.Response, limit: int) -> bytes:
        """Read the body, decompressed, refusing more than ``limit`` bytes."""
        declared = response.headers.get("Content-Length")
        if declared is not None:
            length = wire_number(declared)
            if length is None:
                raise UpstreamInvalid("Content-Length is not a number")
            if length > limit:
                raise UpstreamInvalid("body too large")
        chunks: list[bytes] = []
        size = 0
        # read1 returns after every socket read: the size is checked as it grows.
        while chunk := response.raw.read1(64 * 1024, decode_content=True):
            size += len(chunk)
            if size > limit:
                raise UpstreamInvalid("body too large")
            chunks.append(chunk)
        return b"".join(chunks)
