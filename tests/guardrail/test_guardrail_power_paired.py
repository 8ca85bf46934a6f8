"""The paired power analysis: variance components on a fixed table, the analytic power against a
simulation of the paired and unpaired tests, and the benchmark's size."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from meta_orchestrator.guardrail.power import (
    DEFAULT_ALPHA,
    DEFAULT_POWER,
    Components,
    SamplePilot,
    analyze_paired,
    design_power,
    pilot_correlations,
    required_samples,
)

BENCHMARK_CONFIG = Path(__file__).resolve().parents[2] / "benchmark_config.yaml"


def test_components_on_a_fixed_table() -> None:
    # per-sample means .5, 1, 0; within-sample variances (ddof 1) .5, 0, 0 -> 1/6;
    # variance of the means (ddof 1) 1/4, minus (1/6)/2 epochs -> between 1/6
    c = Components.of(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]))
    assert c.mean == pytest.approx(0.5)
    assert c.within == pytest.approx(1 / 6)
    assert c.between == pytest.approx(1 / 6)
    assert c.paired_variance(2, 0.5) == pytest.approx(2 * (1 / 6) * 0.5 + 2 * (1 / 6) / 2)
    assert c.unpaired_variance(1) == pytest.approx(2 * (1 / 6 + 1 / 6))


def test_correlation_of_true_per_sample_means() -> None:
    rng = np.random.default_rng(1)
    truth = rng.normal(0, 1, 4000)
    a = truth[:, None] + rng.normal(0, 1, (4000, 3))
    b = 0.5 * truth[:, None] + rng.normal(0, 1, (4000, 3))
    pilots = [SamplePilot("e", "a", a), SamplePilot("e", "b", b)]
    # both true means are multiples of one another: correlation 1 although the noisy ones are not
    assert pilot_correlations(pilots)[("e", "a")] == pytest.approx(1.0, abs=0.05)
    noisy = np.corrcoef(a.mean(axis=1), b.mean(axis=1))[0, 1]
    assert noisy < 0.8


@pytest.mark.parametrize("paired", [True, False])
def test_design_power_matches_a_simulation(paired: bool) -> None:
    mean, variance, n, level = 0.9, 0.08, 400, DEFAULT_ALPHA / 4
    analytic = design_power(mean, variance, n, paired=paired, level=level)
    rng = np.random.default_rng(7)
    reps, shift = 4000, -(0.05 - 0.02) * mean
    if paired:
        d = rng.normal(shift, math.sqrt(variance), (reps, n))
        p = stats.ttest_1samp(d, 0.0, axis=1, alternative="less").pvalue
    else:  # each side's per-sample values with half the difference's variance
        x = rng.normal(0.0, math.sqrt(variance / 2), (reps, n))
        y = rng.normal(shift, math.sqrt(variance / 2), (reps, n))
        p = stats.ttest_ind(y, x, axis=1, alternative="less").pvalue
    simulated = float(np.mean(p < level))
    assert abs(simulated - analytic) < 4 * math.sqrt(analytic * (1 - analytic) / reps) + 0.005
    needed = required_samples(mean, variance, paired=paired, level=level)
    assert needed is not None
    assert design_power(mean, variance, needed, paired=paired, level=level) >= DEFAULT_POWER
    assert design_power(mean, variance, needed - 1, paired=paired, level=level) < DEFAULT_POWER


def test_pairing_halves_the_samples_at_correlation_one_half() -> None:
    c = Components(mean=0.8, between=0.1, within=0.0)
    paired = required_samples(c.mean, c.paired_variance(1, 0.5), paired=True)
    unpaired = required_samples(c.mean, c.unpaired_variance(1), paired=False)
    assert paired is not None and unpaired is not None
    assert paired / unpaired == pytest.approx(0.5, abs=0.02)


def test_the_benchmark_design_reaches_the_power() -> None:
    rows, level = analyze_paired(BENCHMARK_CONFIG)
    assert level == pytest.approx(DEFAULT_ALPHA / len(rows))
    assert {(r.planned_samples, r.planned_epochs) for r in rows} == {(1400, 2)}
    for row in rows:
        assert row.power >= DEFAULT_POWER, row
        paired, _ = row.needed[2]
        assert paired is not None and paired <= row.planned_samples
