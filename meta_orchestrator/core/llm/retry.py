"""Retrying transient endpoint failures: which failures are transient, how long to wait, when to stop.

A *transient* failure is the endpoint's problem, not the agent's: HTTP 429 (``rate_limited``), HTTP
408 or 5xx, a refused, reset or dropped connection, a request that timed out (``unavailable``).
``call_with_retries`` retries them with exponential backoff and full jitter, waits at least what a
``Retry-After`` header asks, and stops when ``max_retries`` retries are spent or when the next wait
would pass the trial's deadline. Each attempt holds an endpoint slot (``endpoint.AdaptiveLimiter``)
only while its request is in flight, never while it sleeps, so a backing-off trial leaves the
endpoint to the others.

Errors, for the trial runner (``error_kind`` and ``transient_retries`` are read from the exception):

    TransientFailure    retries exhausted (or no time left for one): status ``error`` with
                        ``error_kind`` ``rate_limited`` or ``unavailable``
    DeadlineExceeded    the trial's deadline passed waiting for a slot or a response: status ``timeout``

``max_retries=0`` means one attempt and no retry.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

from meta_orchestrator.core.llm.endpoint import AdaptiveLimiter, SlotTimeout

TransientKind = Literal["rate_limited", "unavailable"]
# The error kinds of a trial that exhausted its transient retries: the endpoint failed, not the
# agent. ``meta-orchestrator run`` exits 1 when any trial ends so, and summary.md says how many.
TRANSIENT_KINDS: tuple[TransientKind, ...] = ("rate_limited", "unavailable")
T = TypeVar("T")

__all__ = [
    "TRANSIENT_KINDS",
    "DeadlineExceeded",
    "RetryPolicy",
    "TransientError",
    "TransientFailure",
    "call_with_retries",
    "parse_retry_after",
    "transient_kind_of_status",
]


class TransientError(Exception):
    """Raised by one attempt: the endpoint failed in a way worth retrying.

    ``timed_out`` marks a request that ran out of time; when the trial's deadline is what ran out,
    ``call_with_retries`` turns it into ``DeadlineExceeded`` instead of retrying.
    """

    def __init__(
        self,
        kind: TransientKind,
        message: str,
        *,
        retry_after: float | None = None,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind: TransientKind = kind
        self.retry_after = retry_after
        self.timed_out = timed_out


class TransientFailure(RuntimeError):
    """Every allowed retry of a transient failure failed too; the trial is an ``error``.

    ``error_kind`` is ``"rate_limited"`` (the last failure was an HTTP 429) or ``"unavailable"``;
    ``transient_retries`` counts the retries made (attempts minus one).
    """

    def __init__(self, kind: TransientKind, message: str, transient_retries: int) -> None:
        super().__init__(f"{kind}: {message}")
        self.error_kind: str = kind
        self.transient_retries = transient_retries


class DeadlineExceeded(TimeoutError):
    """The trial's deadline passed while waiting for an endpoint slot or for a response.

    The chat kind turns it into a ``TrialTimeout`` (this package sits below the kinds)."""

    def __init__(self, message: str, transient_retries: int) -> None:
        super().__init__(message)
        self.transient_retries = transient_retries


def transient_kind_of_status(status: int) -> TransientKind | None:
    """The transient kind of an HTTP status, ``None`` for a status that retrying will not change."""
    if status == 429:
        return "rate_limited"
    if status == 408 or status >= 500:
        return "unavailable"
    return None


def parse_retry_after(
    headers: Mapping[str, str], now: Callable[[], float] = time.time
) -> float | None:
    """Seconds a response asks to wait: ``retry-after-ms``, else ``Retry-After`` as seconds or as an
    HTTP date (RFC 9110 §10.2.3). ``None`` when absent or unreadable; never negative."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = lowered.get(name)
        if raw is None:
            continue
        try:
            value = float(raw.strip()) / scale
        except ValueError:
            continue
        if math.isfinite(value):
            return max(0.0, value)
    raw = lowered.get("retry-after")
    if raw:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is not None:
            return max(0.0, email.utils.mktime_tz(parsed) - now())
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.

    The n-th retry (0-based) waits a uniformly random time in ``[0, min(max_delay, base_delay·2ⁿ)]``
    ("full jitter", so that trials failing together do not retry together), or, when the endpoint
    sent ``Retry-After``, that long plus up to 10% (at most ``base_delay``) of jitter. A
    ``Retry-After`` beyond ``max_retry_after`` is not waited for: the failure is final.
    """

    max_retries: int = 6
    base_delay: float = 0.25
    max_delay: float = 20.0
    max_retry_after: float = 120.0

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            return retry_after + rng.uniform(0.0, min(self.base_delay, 0.1 * retry_after))
        return rng.uniform(0.0, min(self.max_delay, self.base_delay * 2.0 ** min(retry, 60)))


def call_with_retries(
    attempt: Callable[[float | None], T],
    *,
    policy: RetryPolicy,
    limiter: AdaptiveLimiter,
    deadline: float | None,
    describe: str,
    rng: random.Random | None = None,
    now: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """Run ``attempt(seconds_left)`` until it returns; ``(result, retries)``.

    ``attempt`` raises ``TransientError`` for a failure worth retrying; anything else propagates at
    once, after releasing the slot, with ``transient_retries`` set to the retries before it. ``deadline`` is on the ``now`` clock; ``None`` means none.
    ``describe`` names the endpoint in error messages.
    """
    rng = rng or random.Random()
    retries = 0
    while True:
        try:
            return _one_attempt(attempt, limiter, deadline, now, describe, retries), retries
        except TransientError as error:
            wait = _next_wait(error, policy, retries, rng, deadline, now, describe)
        except Exception as exc:  # a final failure: it still counts the retries before it
            if not getattr(exc, "transient_retries", 0):
                exc.transient_retries = retries  # type: ignore[attr-defined]
            raise
        sleep(wait)
        retries += 1


def _one_attempt(
    attempt: Callable[[float | None], T],
    limiter: AdaptiveLimiter,
    deadline: float | None,
    now: Callable[[], float],
    describe: str,
    retries: int,
) -> T:
    """One attempt inside an endpoint slot; the slot tells the limiter how the attempt went."""
    try:
        slot = limiter.acquire(deadline, now=now)
    except SlotTimeout:
        raise DeadlineExceeded(
            f"{describe}: the trial's deadline passed waiting for a free slot "
            f"(limit {limiter.limit} at once)",
            retries,
        ) from None
    with slot:
        left = None if deadline is None else max(0.0, deadline - now())
        try:
            result = attempt(left)
        except TransientError as exc:
            slot.failed(rate_limited=exc.kind == "rate_limited")
            if exc.timed_out and deadline is not None and now() >= deadline - 1e-3:
                raise DeadlineExceeded(
                    f"{describe}: no response within the trial's timeout; the request was closed",
                    retries,
                ) from None
            raise
        slot.succeeded()
        return result


def _next_wait(
    error: TransientError,
    policy: RetryPolicy,
    retries: int,
    rng: random.Random,
    deadline: float | None,
    now: Callable[[], float],
    describe: str,
) -> float:
    """The wait before the next retry, or the final ``TransientFailure`` when there is none."""
    attempts = f"{retries + 1} attempt{'s' if retries else ''}"
    if retries >= policy.max_retries:
        raise TransientFailure(error.kind, f"{describe}: {error} ({attempts})", retries)
    if error.retry_after is not None and error.retry_after > policy.max_retry_after:
        raise TransientFailure(
            error.kind,
            f"{describe}: {error}; Retry-After {error.retry_after:.0f}s is beyond "
            f"{policy.max_retry_after:.0f}s ({attempts})",
            retries,
        )
    wait = policy.delay(retries, error.retry_after, rng)
    if deadline is not None and now() + wait >= deadline:
        raise TransientFailure(
            error.kind,
            f"{describe}: {error}; the next retry (in {wait:.2f}s) would pass the trial's "
            f"timeout ({attempts})",
            retries,
        )
    return wait
