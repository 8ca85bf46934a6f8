"""Retries of transient failures: counting, max_transient_retries: 0, Retry-After, deadlines (fake clock)."""

from __future__ import annotations

import random
from email.utils import formatdate

import pytest

from meta_orchestrator.core.llm.endpoint import AdaptiveLimiter
from meta_orchestrator.core.llm.retry import (
    DeadlineExceeded,
    RetryPolicy,
    TransientError,
    TransientFailure,
    call_with_retries,
    parse_retry_after,
    transient_kind_of_status,
)


class FakeClock:
    """``now`` and ``sleep`` for the retry loop: sleeping only moves the clock."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.t += seconds


class Script:
    """An attempt function that fails as scripted, then answers; records each call's time left."""

    def __init__(self, failures: list[BaseException], limiter: AdaptiveLimiter) -> None:
        self.failures = list(failures)
        self.limiter = limiter
        self.calls: list[float | None] = []

    def __call__(self, left: float | None) -> str:
        self.calls.append(left)
        assert self.limiter.stats().in_use == 1  # the attempt holds its slot ...
        if self.failures:
            raise self.failures.pop(0)
        return "answer"


def _run(script: Script, clock: FakeClock, *, retries: int = 6, deadline: float | None = None):
    return call_with_retries(
        script,
        policy=RetryPolicy(max_retries=retries),
        limiter=script.limiter,
        deadline=deadline,
        describe="m at http://x/v1",
        rng=random.Random(1),
        now=clock.now,
        sleep=lambda s: (clock.sleep(s), _no_slot_held(script.limiter)),
    )


def _no_slot_held(limiter: AdaptiveLimiter) -> None:
    assert limiter.stats().in_use == 0  # ... and never while it backs off


def test_retries_are_counted_and_the_answer_returned() -> None:
    clock, limiter = FakeClock(), AdaptiveLimiter(4)
    script = Script(
        [TransientError("rate_limited", "HTTP 429"), TransientError("unavailable", "reset")],
        limiter,
    )
    assert _run(script, clock) == ("answer", 2)
    assert len(script.calls) == 3 and len(clock.sleeps) == 2
    assert limiter.limit == 2  # the 429 halved it


def test_zero_retries_means_exactly_one_attempt() -> None:
    clock, limiter = FakeClock(), AdaptiveLimiter(4)
    script = Script([TransientError("rate_limited", "HTTP 429", retry_after=0.1)], limiter)
    with pytest.raises(TransientFailure) as caught:
        _run(script, clock, retries=0)
    assert len(script.calls) == 1 and clock.sleeps == []
    assert caught.value.error_kind == "rate_limited" and caught.value.transient_retries == 0
    assert str(caught.value).startswith("rate_limited: m at http://x/v1: HTTP 429 (1 attempt)")


def test_exhausted_retries_report_the_last_failure_kind() -> None:
    clock, limiter = FakeClock(), AdaptiveLimiter(4)
    failures = [TransientError("rate_limited", "HTTP 429")] * 2 + [
        TransientError("unavailable", "HTTP 503")
    ] * 2
    script = Script(failures, limiter)
    with pytest.raises(TransientFailure) as caught:
        _run(script, clock, retries=3)
    assert caught.value.error_kind == "unavailable" and caught.value.transient_retries == 3
    assert len(script.calls) == 4 and "4 attempts" in str(caught.value)


def test_retry_after_is_honoured() -> None:
    clock, limiter = FakeClock(), AdaptiveLimiter(4)
    script = Script([TransientError("rate_limited", "HTTP 429", retry_after=7.0)], limiter)
    _run(script, clock)
    assert 7.0 <= clock.sleeps[0] <= 7.0 + 0.25  # what it asked, plus a little jitter


def test_a_retry_after_beyond_the_maximum_is_final() -> None:
    clock, limiter = FakeClock(), AdaptiveLimiter(4)
    script = Script([TransientError("rate_limited", "HTTP 429", retry_after=3600.0)], limiter)
    with pytest.raises(TransientFailure, match="Retry-After 3600s is beyond 120s"):
        _run(script, clock)
    assert clock.sleeps == []


def test_backoff_is_exponential_full_jitter_and_capped() -> None:
    policy, rng = RetryPolicy(base_delay=0.5, max_delay=4.0), random.Random(3)
    for retry in range(12):
        bound = min(4.0, 0.5 * 2**retry)
        delays = [policy.delay(retry, None, rng) for _ in range(200)]
        assert all(0.0 <= d <= bound for d in delays)
        assert max(delays) > 0.8 * bound  # the whole range is used, not only its bottom


def test_no_retry_is_started_that_would_pass_the_deadline() -> None:
    clock, limiter = FakeClock(), AdaptiveLimiter(4)
    script = Script([TransientError("rate_limited", "HTTP 429", retry_after=5.0)], limiter)
    with pytest.raises(TransientFailure, match="would pass the trial's timeout") as caught:
        _run(script, clock, deadline=clock.t + 3.0)
    assert clock.sleeps == [] and caught.value.error_kind == "rate_limited"


def test_each_attempt_gets_the_time_left_before_the_deadline() -> None:
    clock, limiter = FakeClock(), AdaptiveLimiter(4)
    script = Script([TransientError("unavailable", "reset", retry_after=2.0)], limiter)
    _run(script, clock, deadline=clock.t + 10.0)
    assert script.calls[0] == pytest.approx(10.0)
    assert script.calls[1] == pytest.approx(10.0 - clock.sleeps[0])


def test_a_request_that_runs_out_the_deadline_is_a_timeout_not_a_retry() -> None:
    clock, limiter = FakeClock(), AdaptiveLimiter(4)
    deadline = clock.t + 5.0

    def slow(left: float | None) -> str:
        clock.t += left or 0.0  # the request used all the time it was given
        raise TransientError("unavailable", "no response", timed_out=True)

    with pytest.raises(DeadlineExceeded, match="no response within the trial's timeout"):
        call_with_retries(
            slow,
            policy=RetryPolicy(),
            limiter=limiter,
            deadline=deadline,
            describe="m",
            now=clock.now,
            sleep=clock.sleep,
        )
    assert limiter.stats().in_use == 0


def test_a_permanent_error_is_raised_at_once_with_the_retries_before_it() -> None:
    clock, limiter = FakeClock(), AdaptiveLimiter(4)
    script = Script([TransientError("unavailable", "reset"), PermissionError("HTTP 401")], limiter)
    with pytest.raises(PermissionError) as caught:
        _run(script, clock)
    assert caught.value.transient_retries == 1  # type: ignore[attr-defined]
    assert limiter.stats().in_use == 0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "Retry-After": "1"}, 0.25),  # the precise one wins
        ({"Retry-After": "-4"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_as_an_http_date() -> None:
    now = 1_800_000_000.0
    header = {"Retry-After": formatdate(now + 30, usegmt=True)}
    assert parse_retry_after(header, now=lambda: now) == pytest.approx(30.0)
    past = {"Retry-After": formatdate(now - 30, usegmt=True)}
    assert parse_retry_after(past, now=lambda: now) == 0.0


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, "rate_limited"), (500, "unavailable"), (503, "unavailable"), (408, "unavailable")]
    + [(400, None), (401, None), (404, None), (422, None)],
)
def test_which_statuses_are_transient(status: int, kind: str | None) -> None:
    assert transient_kind_of_status(status) == kind
