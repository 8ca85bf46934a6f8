"""RunningMoments against numpy and ``statistics`` on a fixed table of values."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from meta_orchestrator.core.running import RunningMoments

# Mixed signs, a repeated value, a large offset: a table where a naive sum of squares loses digits.
VALUES = [0.25, 1.5, -0.75, 3.0, 3.0, 0.0, 2.125, -1.0, 0.5, 1e6 + 0.5, 1e6 - 0.5]
SMALL = VALUES[:-2]


def check(moments: RunningMoments, values: list[float], rel: float = 1e-12) -> None:
    assert moments.n == len(values)
    assert moments.mean == pytest.approx(statistics.fmean(values), rel=rel)
    assert moments.variance == pytest.approx(statistics.variance(values), rel=rel)
    assert moments.sd == pytest.approx(np.std(values, ddof=1), rel=rel)


def test_add_matches_statistics_and_numpy() -> None:
    check(RunningMoments.of(VALUES), VALUES)
    running = RunningMoments()
    for value in SMALL:
        running.add(value)
    check(running, SMALL)


def test_merging_two_halves_equals_the_whole() -> None:
    for cut in range(len(VALUES) + 1):
        left, right = RunningMoments.of(VALUES[:cut]), RunningMoments.of(VALUES[cut:])
        left.merge(right)
        check(left, VALUES)


def test_merge_into_and_from_an_empty_accumulator() -> None:
    whole = RunningMoments.of(SMALL)
    empty = RunningMoments()
    empty.merge(whole)
    assert (empty.n, empty.mean, empty.m2) == (whole.n, whole.mean, whole.m2)
    before = whole.copy()
    whole.merge(RunningMoments())
    assert whole == before


def test_from_sums_matches_the_values() -> None:
    moments = RunningMoments.from_sums(len(SMALL), sum(SMALL), sum(x * x for x in SMALL))
    check(moments, SMALL)
    assert RunningMoments.from_sums(0, 0.0, 0.0) == RunningMoments()


def test_from_sums_buckets_merged_equal_the_stream() -> None:
    merged = RunningMoments()
    for start in range(0, len(SMALL), 3):
        bucket = SMALL[start : start + 3]
        merged.merge(RunningMoments.from_sums(len(bucket), sum(bucket), sum(x * x for x in bucket)))
    check(merged, SMALL)


def test_from_array_ignores_nan() -> None:
    with_nan = np.array([math.nan, *SMALL, math.nan])
    check(RunningMoments.from_array(with_nan), SMALL)
    assert RunningMoments.from_array(np.array([math.nan, math.nan])) == RunningMoments()
    assert RunningMoments.from_array(np.array([])) == RunningMoments()


def test_a_constant_stream_has_no_spread_at_all() -> None:
    for moments in (RunningMoments.of([0.1] * 7), RunningMoments.from_array(np.full(7, 0.1))):
        assert (moments.n, moments.mean, moments.m2, moments.sd) == (7, 0.1, 0.0, 0.0)
    halves = RunningMoments.of([0.1] * 3)
    halves.merge(RunningMoments.of([0.1] * 4))
    assert (halves.mean, halves.m2) == (0.1, 0.0)


def test_read_outs_below_two_values() -> None:
    assert RunningMoments().variance is None and RunningMoments().sd is None
    assert RunningMoments().mean_or_none is None
    one = RunningMoments.of([2.5])
    assert (one.n, one.mean, one.m2, one.variance, one.sd, one.mean_or_none) == (
        1,
        2.5,
        0.0,
        None,
        None,
        2.5,
    )
