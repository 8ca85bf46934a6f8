"""The empirical-Bernstein confidence sequence: a hand computation, its streaming and vectorised
forms agreeing, and time-uniform coverage in simulation (fixed seeds)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from meta_orchestrator.core.confseq import ConfidenceSequence, sequence_bands

SHORT = [0.9, 0.8, 1.0, 0.7, 0.9, 0.8]


def test_hand_computation_on_a_short_sequence() -> None:
    """alpha = 0.2, six values. lambda_t = min(sqrt(2 log 10 / (sigma2_{t-1} t log(1+t))), 1/2)
    is 1/2 at every step (sigma2 stays below 1/4 and t log(1+t) is small), so the centre is the
    plain mean 0.85 and the margin is (log 10 + psi(1/2) sum v_t) / 3 with
    mu_{t-1} = 1/2, 0.7, 0.7333.., 0.8, 0.78, 0.8 and v_t = 4 (x_t - mu_{t-1})^2."""
    mu_before = [0.5, 0.7, 2.2 / 3, 0.8, 0.78, 0.8]
    v = [4 * (x - m) ** 2 for x, m in zip(SHORT, mu_before, strict=True)]
    psi = (math.log(2) - 0.5) / 4
    margin = (math.log(10) + psi * sum(v)) / 3
    assert margin == pytest.approx(0.7846226051708318)
    lows, highs = sequence_bands(np.array(SHORT), alpha=0.2, intersect=False)
    assert lows[-1] == pytest.approx(0.85 - margin, abs=1e-12)
    assert lows[-1] == pytest.approx(0.06537739482916827, abs=1e-12)
    assert highs[-1] == 1.0  # 0.85 + margin, cut to the bounds
    assert lows[:-1].tolist() == [0.0] * 5  # the earlier bands still reach below 0


def _by_the_paper(xs: list[float], alpha: float) -> list[tuple[float, float]]:
    """Eqs. (13)-(14) written out term by term, as an independent reference."""
    log_term = math.log(2 / alpha)
    mu, sigma2, lam, v, out = [0.5], [0.25], [], [], []
    for t, x in enumerate(xs, 1):
        lam.append(min(math.sqrt(2 * log_term / (sigma2[-1] * t * math.log(1 + t))), 0.5))
        v.append(4 * (x - mu[-1]) ** 2)
        mu.append((0.5 + sum(xs[:t])) / (t + 1))
        sigma2.append((0.25 + sum((xs[i] - mu[i + 1]) ** 2 for i in range(t))) / (t + 1))
        centre = sum(lt * xt for lt, xt in zip(lam, xs, strict=False)) / sum(lam)
        penalty = sum(vi * (-math.log(1 - li) - li) / 4 for vi, li in zip(v, lam, strict=True))
        margin = (log_term + penalty) / sum(lam)
        out.append((max(0.0, centre - margin), min(1.0, centre + margin)))
    return out


def test_streaming_and_vectorised_forms_match_the_paper() -> None:
    xs = np.random.default_rng(3).beta(2, 3, 300).tolist()  # long enough for lambda < 1/2
    reference = _by_the_paper(xs, 0.05)
    lows, highs = sequence_bands(np.array(xs), 0.05, intersect=False)
    streaming = ConfidenceSequence(0.05, intersect=False)
    for t, x in enumerate(xs):
        streaming.add(x)
        assert streaming.interval == pytest.approx(reference[t], abs=1e-12)
        assert (lows[t], highs[t]) == pytest.approx(reference[t], abs=1e-12)
    assert reference[-1][1] - reference[-1][0] < 0.25  # the band has narrowed


def test_rescaled_bounds_and_running_intersection() -> None:
    xs = np.random.default_rng(4).uniform(-1, 1, 200)
    lows, highs = sequence_bands(xs, 0.1, low=-1, high=1)
    unit_lows, unit_highs = sequence_bands((xs + 1) / 2, 0.1)
    np.testing.assert_allclose(lows, 2 * unit_lows - 1)
    np.testing.assert_allclose(highs, 2 * unit_highs - 1)
    assert np.all(np.diff(lows) >= 0) and np.all(np.diff(highs) <= 0)  # never widens
    streaming = ConfidenceSequence(0.1, low=-1, high=1)
    for x in xs:
        streaming.add(float(x))
    assert streaming.interval == pytest.approx((lows[-1], highs[-1]))


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="outside the bounds"):
        ConfidenceSequence().add(1.5)
    with pytest.raises(ValueError, match="alpha"):
        ConfidenceSequence(alpha=1.0)
    with pytest.raises(ValueError, match="low < high"):
        sequence_bands(np.zeros(3), low=1, high=1)
    with pytest.raises(ValueError, match="within the bounds"):
        sequence_bands(np.array([0.2, -0.1]))


def test_time_uniform_coverage_where_a_peeked_t_interval_fails() -> None:
    """400 runs of 1,000 Bernoulli(0.3) trials: the 95% sequence covers 0.3 at every look in at
    least 95% of runs; the 95% t interval read at every look misses somewhere far more often."""
    rng = np.random.default_rng(20260)
    runs, looks, p = 400, 1000, 0.3
    xs = (rng.random((runs, looks)) < p).astype(float)
    lows, highs = sequence_bands(xs, 0.05)
    always = np.all((lows <= p) & (p <= highs), axis=1)
    assert always.mean() >= 0.95, always.mean()

    t = np.arange(1, looks + 1)
    means = np.cumsum(xs, axis=1) / t
    sds = np.sqrt(np.maximum(np.cumsum(xs**2, axis=1) / t - means**2, 0) * t / np.maximum(t - 1, 1))
    half = stats.t.ppf(0.975, np.maximum(t - 1, 1)) * sds / np.sqrt(t)
    looked = slice(9, None)  # from the 10th trial on, as a dashboard would show it
    naive = np.all(np.abs(means - p)[:, looked] <= half[:, looked], axis=1)
    assert naive.mean() < 0.8, naive.mean()


def test_extending_in_batches_equals_one_value_at_a_time() -> None:
    xs = np.random.default_rng(6).uniform(2, 5, 500)
    one = ConfidenceSequence(0.1, low=2, high=5)
    singles = []
    for x in xs:
        one.add(float(x))
        singles.append(one.interval)
    batched = ConfidenceSequence(0.1, low=2, high=5)
    parts = [batched.extend(part) for part in np.split(xs, [1, 7, 100, 101, 350])]
    lows = np.concatenate([p[0] for p in parts])
    highs = np.concatenate([p[1] for p in parts])
    np.testing.assert_allclose(np.column_stack([lows, highs]), np.array(singles), atol=1e-12)
    reference = sequence_bands(xs, 0.1, low=2, high=5)
    np.testing.assert_allclose(lows, reference[0], atol=1e-12)
    assert batched.n == one.n == 500 and batched.interval == pytest.approx(one.interval)
