"""Paired comparisons against scipy and a hand computation on a fixed table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from meta_orchestrator.analysis.paired import (
    MIN_PAIRED_SAMPLES,
    NOT_ENOUGH_PAIRED,
    compare_matched,
    holm_paired,
    match_samples,
    one_sided_paired_p,
    paired_comparison,
)
from meta_orchestrator.analysis.stats import holm_adjust

A = [0.2, 0.5, 0.9, 0.4, 0.7, 0.1, 0.6]
B = [0.3, 0.5, 1.0, 0.2, 0.9, 0.4, 0.6]


def test_hand_computation_on_a_fixed_table() -> None:
    # d = [.1, 0, .1, -.2, .2, .3, 0]: mean 0.5/7, SD 0.160357, SE SD/√7, t = 1.178511 on 6 df.
    result = paired_comparison(A, B)
    assert result.paired == 7 and result.df == 6
    assert result.difference == pytest.approx(0.5 / 7)
    assert result.se == pytest.approx(0.16035674514745463 / math.sqrt(7))
    assert result.t == pytest.approx(1.1785113019775793)
    half = 2.4469118511449786 * result.se
    assert (result.ci_low, result.ci_high) == pytest.approx((0.5 / 7 - half, 0.5 / 7 + half))


def test_matches_scipy() -> None:
    result = paired_comparison(A, B)
    assert result.p_value == pytest.approx(stats.ttest_rel(B, A).pvalue)
    assert result.p_wilcoxon == pytest.approx(stats.wilcoxon(np.subtract(B, A)).pvalue)
    assert result.correlation == pytest.approx(stats.pearsonr(A, B).statistic)
    assert one_sided_paired_p(np.array(A), np.array(B), alternative="greater") == pytest.approx(
        stats.ttest_rel(B, A, alternative="greater").pvalue
    )
    shifted = one_sided_paired_p(np.array(A), np.array(B), factor=0.9, alternative="less")
    assert shifted == pytest.approx(
        stats.ttest_rel(B, 0.9 * np.array(A), alternative="less").pvalue
    )


def test_identical_sides_are_no_change_and_a_constant_shift_is_certain() -> None:
    same = paired_comparison(A, A)
    assert same.difference == 0.0 and same.p_value == 1.0 and same.p_wilcoxon == 1.0
    assert one_sided_paired_p(np.array(A), np.array(A)) == 1.0
    lower = [a - 0.1 for a in A]
    assert paired_comparison(A, lower).p_value == 0.0
    assert one_sided_paired_p(np.array(A), np.array(lower)) == 0.0


def test_below_the_floor_no_test_is_made() -> None:
    n = MIN_PAIRED_SAMPLES - 1
    result = paired_comparison(A[:n], B[:n])
    assert result.note == NOT_ENOUGH_PAIRED and result.p_value is None and result.ci is None
    assert result.difference == pytest.approx(float(np.mean(np.subtract(B[:n], A[:n]))))
    # the floor's reason: with 5 pairs the signed-rank test cannot reach 0.05
    assert stats.wilcoxon([1, 2, 3, 4, 5]).pvalue > 0.05
    assert stats.wilcoxon([1, 2, 3, 4, 5, 6]).pvalue < 0.05


def test_matching_uses_shared_sample_epochs_and_counts_the_rest() -> None:
    a = {("s1", 0): 1.0, ("s1", 1): 0.0, ("s2", 0): 1.0, ("s3", 0): 0.0}
    b = {("s1", 0): 1.0, ("s1", 1): 1.0, ("s2", 1): 1.0, ("s4", 0): 1.0, ("s3", 0): 1.0}
    matched = match_samples(a, b)
    assert matched.samples == ["s1", "s3"]
    assert matched.a.tolist() == [0.5, 0.0] and matched.b.tolist() == [1.0, 1.0]
    # s2 ran on both sides but in different epochs; s4 only on B
    assert (matched.only_a, matched.only_b, matched.unmatched_trials) == (1, 2, 3)
    result = compare_matched(matched)
    assert result.paired == 2 and result.left_out == 3 and result.note == NOT_ENOUGH_PAIRED


def test_holm_across_the_comparisons_shown() -> None:
    rng = np.random.default_rng(3)
    base = rng.random(30)
    comparisons = [
        paired_comparison(base, base + rng.normal(shift, 0.1, 30)) for shift in (0.0, 0.05, 0.2)
    ]
    comparisons.append(paired_comparison(base[:3], base[:3]))
    adjusted = holm_paired(comparisons)
    expected = holm_adjust([c.p_value for c in comparisons[:3]])
    assert [c.p_holm for c in adjusted[:3]] == pytest.approx(expected)
    assert adjusted[3].p_holm is None
