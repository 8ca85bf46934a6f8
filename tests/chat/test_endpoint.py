"""The endpoint limiter: AIMD on rate limits, bounds, deadlines, release on every path, sharing."""

from __future__ import annotations

import gc
import threading
import time

import pytest

from meta_orchestrator.core.llm.endpoint import AdaptiveLimiter, SlotTimeout, endpoint_limiter


def _finish(limiter: AdaptiveLimiter, outcome: str, n: int = 1) -> None:
    for _ in range(n):
        with limiter.acquire() as slot:
            if outcome == "ok":
                slot.succeeded()
            else:
                slot.failed(rate_limited=outcome == "rate_limited")


def test_halves_on_a_rate_limit_and_grows_back_one_at_a_time() -> None:
    limiter = AdaptiveLimiter(8, grow_after=3)
    _finish(limiter, "rate_limited")
    assert limiter.limit == 4
    _finish(limiter, "rate_limited")
    _finish(limiter, "rate_limited")
    assert limiter.limit == 1  # 4 -> 2 -> 1, never below 1
    _finish(limiter, "rate_limited")
    assert limiter.limit == 1
    _finish(limiter, "ok", 2)
    assert limiter.limit == 1  # not yet: 3 successes in a row are needed
    _finish(limiter, "ok")
    assert limiter.limit == 2
    _finish(limiter, "ok", 3 * 10)
    assert limiter.limit == 8  # capped at the configured maximum
    stats = limiter.stats()
    assert (stats.decreases, stats.increases, stats.in_use) == (3, 7, 0)


def test_a_failure_that_is_not_a_rate_limit_only_resets_the_streak() -> None:
    limiter = AdaptiveLimiter(4, grow_after=2)
    _finish(limiter, "rate_limited")
    _finish(limiter, "ok")
    _finish(limiter, "failed")  # a 5xx: no decrease, but the streak starts over
    _finish(limiter, "ok")
    assert limiter.limit == 2
    _finish(limiter, "ok")
    assert limiter.limit == 3


def test_concurrent_rate_limits_halve_once_per_episode() -> None:
    limiter = AdaptiveLimiter(8)
    slots = [limiter.acquire() for _ in range(8)]  # eight requests in flight, all get 429
    for slot in slots:
        slot.failed(rate_limited=True)
        slot.release()
    assert limiter.limit == 4  # not 8 / 2**8: they were all admitted under the old limit
    _finish(limiter, "rate_limited")  # a request admitted after the decrease halves again
    assert limiter.limit == 2


def test_never_more_in_flight_than_the_limit() -> None:
    limiter = AdaptiveLimiter(3)
    active, peak, lock = 0, 0, threading.Lock()

    def work() -> None:
        nonlocal active, peak
        for _ in range(20):
            with limiter.acquire(time.monotonic() + 10) as slot:
                with lock:
                    active += 1
                    peak = max(peak, active)
                time.sleep(0.001)
                with lock:
                    active -= 1
                slot.succeeded()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(t.is_alive() for t in threads)
    assert peak == 3 and limiter.stats().in_use == 0


def test_acquire_gives_up_at_the_deadline() -> None:
    limiter = AdaptiveLimiter(1)
    held = limiter.acquire()
    started = time.monotonic()
    with pytest.raises(SlotTimeout):
        limiter.acquire(started + 0.2)
    assert 0.15 < time.monotonic() - started < 2.0
    held.release()
    limiter.acquire(time.monotonic() + 0.2).release()  # free again


def test_a_caller_that_raises_releases_its_slot() -> None:
    limiter = AdaptiveLimiter(1)
    with pytest.raises(RuntimeError), limiter.acquire():
        raise RuntimeError("the agent crashed mid-request")
    assert limiter.stats().in_use == 0
    slot = limiter.acquire(time.monotonic() + 0.5)
    slot.release()
    slot.release()  # idempotent: a second release does not free a slot it does not hold
    assert limiter.stats().in_use == 0


def test_a_waiter_wakes_when_the_limit_grows() -> None:
    limiter = AdaptiveLimiter(2, grow_after=1)
    _finish(limiter, "rate_limited")
    assert limiter.limit == 1
    holder = limiter.acquire()
    got: list[int] = []

    def wait_for_a_slot() -> None:
        with limiter.acquire(time.monotonic() + 5) as slot:
            got.append(1)
            slot.succeeded()

    waiter = threading.Thread(target=wait_for_a_slot)
    waiter.start()
    time.sleep(0.05)
    assert not got
    holder.succeeded()
    holder.release()  # frees a slot and grows the limit to 2
    waiter.join(5)
    assert got and limiter.limit == 2


def test_variants_on_one_endpoint_share_one_limiter_with_the_smaller_maximum() -> None:
    a = endpoint_limiter("http://127.0.0.1:9/v1/", "m", 8)
    b = endpoint_limiter("http://127.0.0.1:9/v1", "m", 3)
    other = endpoint_limiter("http://127.0.0.1:9/v1", "other-model", 8)
    assert a is b and a.stats().max_limit == 3 and a.limit == 3
    assert other is not a and other.limit == 8


def test_a_limiter_nobody_holds_is_forgotten() -> None:
    first = endpoint_limiter("http://127.0.0.1:10/v1", "m", 2)
    _finish(first, "rate_limited")
    del first
    gc.collect()
    assert endpoint_limiter("http://127.0.0.1:10/v1", "m", 2).limit == 2
