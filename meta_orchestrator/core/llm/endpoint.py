"""One endpoint's concurrency limit, shared by every variant of a process that calls it.

An endpoint is a ``(base_url, model)`` pair. ``endpoint_limiter`` hands every caller of the same pair
the same ``AdaptiveLimiter``, which lets at most ``limit`` requests run at once and adapts ``limit``
the way TCP adapts its window (AIMD, as promptfoo's adaptive scheduler and inspect-ai's adaptive
connections do): it halves on a rate limit and grows by one after ``grow_after`` successes in a row,
never above the configured maximum nor below one.

Thread safety: every method may be called from any thread. A slot is a context manager and is
released when its block exits, whatever happens inside, so a caller that raises (or is abandoned by
a trial timeout after its request ended) never keeps a slot. The limit is per *process*: each Ray
worker process has its own limiter (see the README's "Real LLM agents").
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["AdaptiveLimiter", "LimiterStats", "Slot", "SlotTimeout", "endpoint_limiter"]

_WAKE_EVERY = 1.0  # seconds; waits without a deadline still wake up (nothing waits forever unseen)


class SlotTimeout(TimeoutError):
    """The deadline passed before a slot became free."""


@dataclass(frozen=True)
class LimiterStats:
    limit: int
    max_limit: int
    in_use: int
    decreases: int
    increases: int


class AdaptiveLimiter:
    """At most ``limit`` concurrent slots; ``limit`` adapts between 1 and ``max_limit`` (AIMD).

    A rate limit halves ``limit`` once per congestion episode: requests admitted before the last
    decrease were admitted under the old limit, so their 429s do not halve it again. ``grow_after``
    successes in a row (none of them rate-limited) raise it by one.
    """

    def __init__(self, max_limit: int, *, grow_after: int = 5) -> None:
        if max_limit < 1 or grow_after < 1:
            raise ValueError("max_limit and grow_after must be at least 1")
        self._cond = threading.Condition(threading.Lock())
        self._max = max_limit
        self._limit = max_limit
        self._in_use = 0
        self._streak = 0
        self._episode = 0  # incremented by every decrease
        self._grow_after = grow_after
        self._decreases = 0
        self._increases = 0

    @property
    def limit(self) -> int:
        return self._limit

    def stats(self) -> LimiterStats:
        with self._cond:
            return LimiterStats(
                self._limit, self._max, self._in_use, self._decreases, self._increases
            )

    def cap_at(self, max_limit: int) -> None:
        """Lower the maximum (two variants configured differently share the smaller one)."""
        with self._cond:
            self._max = min(self._max, max_limit)
            self._limit = min(self._limit, self._max)

    def acquire(
        self, deadline: float | None = None, *, now: Callable[[], float] = time.monotonic
    ) -> Slot:
        """Wait for a free slot; ``SlotTimeout`` once ``deadline`` (on the ``now`` clock) passes."""
        with self._cond:
            while self._in_use >= self._limit:
                wait = _WAKE_EVERY if deadline is None else min(_WAKE_EVERY, deadline - now())
                if wait <= 0:
                    raise SlotTimeout(f"no free slot (limit {self._limit})")
                self._cond.wait(wait)
            self._in_use += 1
            return Slot(self, self._episode)

    def _release(self, episode: int, outcome: str) -> None:
        with self._cond:
            self._in_use -= 1
            if outcome == "rate_limited":
                self._streak = 0
                if episode == self._episode and self._limit > 1:
                    self._limit = max(1, self._limit // 2)
                    self._episode += 1
                    self._decreases += 1
            elif outcome == "ok":
                self._streak += 1
                if self._streak >= self._grow_after and self._limit < self._max:
                    self._limit += 1
                    self._streak = 0
                    self._increases += 1
            else:
                self._streak = 0
            self._cond.notify_all()


class Slot:
    """One admitted request. Say how it went (``succeeded`` / ``failed``) before the block ends;
    a slot released without either counts as a failure that is not a rate limit."""

    __slots__ = ("_episode", "_limiter", "_outcome", "_released")

    def __init__(self, limiter: AdaptiveLimiter, episode: int) -> None:
        self._limiter = limiter
        self._episode = episode
        self._outcome = "failed"
        self._released = False

    def succeeded(self) -> None:
        self._outcome = "ok"

    def failed(self, *, rate_limited: bool = False) -> None:
        self._outcome = "rate_limited" if rate_limited else "failed"

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._limiter._release(self._episode, self._outcome)

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


_registry: weakref.WeakValueDictionary[tuple[str, str], AdaptiveLimiter] = (
    weakref.WeakValueDictionary()
)
_registry_lock = threading.Lock()


def endpoint_key(base_url: str, model: str) -> tuple[str, str]:
    return base_url.rstrip("/"), model


def endpoint_limiter(base_url: str, model: str, max_concurrency: int) -> AdaptiveLimiter:
    """This process's limiter for ``(base_url, model)``; created on first use.

    It lives while some agent holds it, so a long-lived process (the dashboard, a test session)
    starts afresh once the agents of earlier runs are gone. Variants that configure different
    maxima for one endpoint share the smallest.
    """
    key = endpoint_key(base_url, model)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = AdaptiveLimiter(max_concurrency)
            _registry[key] = limiter
        else:
            limiter.cap_at(max_concurrency)
        return limiter
