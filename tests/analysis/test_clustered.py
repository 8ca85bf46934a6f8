"""Clustered means against statsmodels' cluster-robust OLS and a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from meta_orchestrator.analysis.clustered import (
    clustered_mean,
    clustered_mean_from_sums,
    mean_interval,
    success_interval,
)
from meta_orchestrator.analysis.stats import mean_ci, wilson_interval

# Three samples with 3, 2 and 4 attempts (1 = pass).
TABLE = {"a": [1.0, 0.0, 1.0], "b": [0.0, 0.0], "c": [1.0, 1.0, 1.0, 1.0]}


def _flat(table: dict[str, list[float]]) -> tuple[list[float], list[str]]:
    values = [v for vs in table.values() for v in vs]
    groups = [k for k, vs in table.items() for _ in vs]
    return values, groups


def test_hand_computation_on_a_fixed_table() -> None:
    # mean 6/9; cluster residual sums 2 - 3·2/3 = 0, 0 - 2·2/3 = -4/3, 4 - 4·2/3 = 4/3;
    # SE² = 3/2 · (16/9 + 16/9) / 9² = 48/729; t(0.975, 2 df) = 4.302652729749462.
    result = clustered_mean(*_flat(TABLE))
    assert result is not None
    assert result.mean == pytest.approx(2 / 3)
    assert result.se == pytest.approx(math.sqrt(48 / 729))
    assert (result.n, result.clusters, result.df) == (9, 3, 2)
    half = 4.302652729749462 * math.sqrt(48 / 729)
    assert result.ci is not None
    assert result.ci.low == pytest.approx(2 / 3 - half)
    assert result.ci.high == pytest.approx(2 / 3 + half)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_statsmodels_cluster_robust_ols(seed: int) -> None:
    """statsmodels corrects by C/(C-1)·(N-1)/(N-K); with the intercept alone K = 1, so the
    factors agree exactly, and its t inference uses C - 1 df like ours."""
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(seed)
    clusters = rng.integers(0, 25, size=180)
    effect = rng.normal(0, 1, size=25)
    values = effect[clusters] + rng.normal(0, 0.5, size=clusters.size)
    ours = clustered_mean(values.tolist(), clusters.tolist())
    fit = sm.OLS(values, np.ones_like(values)).fit(
        cov_type="cluster", cov_kwds={"groups": clusters}, use_t=True
    )
    assert ours is not None and ours.ci is not None
    assert ours.mean == pytest.approx(fit.params[0])
    assert ours.se == pytest.approx(fit.bse[0], rel=1e-10)
    low, high = fit.conf_int(alpha=0.05)[0]
    assert ours.ci.low == pytest.approx(low, rel=1e-10)
    assert ours.ci.high == pytest.approx(high, rel=1e-10)
    assert ours.df == int(fit.df_resid_inference)
    assert ours.design_effect is not None and ours.design_effect > 1  # correlated repeats


def test_one_trial_per_cluster_gives_the_ordinary_t_interval() -> None:
    values = [0.2, 0.9, 0.4, 0.7, 0.5, 0.1]
    result = clustered_mean(values, range(len(values)))
    assert result is not None and result.ci is not None
    plain = mean_ci(len(values), float(np.mean(values)), float(np.std(values, ddof=1)))
    assert plain is not None
    assert result.ci.low == pytest.approx(plain.low)
    assert result.ci.high == pytest.approx(plain.high)
    assert result.se == pytest.approx(stats.sem(values))
    assert result.design_effect == pytest.approx(1.0)


def test_from_sums_agrees_and_ignores_empty_clusters() -> None:
    flat = clustered_mean(*_flat(TABLE))
    sums = clustered_mean_from_sums([3, 0, 2, 4], [2.0, 0.0, 0.0, 4.0])
    assert flat is not None and sums is not None
    assert sums.se == pytest.approx(flat.se)
    assert clustered_mean_from_sums([], []) is None
    single = clustered_mean_from_sums([4], [3.0])
    assert single is not None and single.se is None and single.ci is None


def test_success_interval_is_wilson_without_repeats_and_clustered_with_them() -> None:
    once = clustered_mean_from_sums([1] * 10, [1.0] * 7 + [0.0] * 3)
    assert success_interval(7, 10, once) == wilson_interval(7, 10)
    assert success_interval(7, 10, None) == wilson_interval(7, 10)
    repeated = clustered_mean(*_flat(TABLE))
    assert repeated is not None and repeated.ci is not None
    interval = success_interval(6, 9, repeated)
    assert interval is not None
    assert interval.low == max(0.0, repeated.ci.low) and interval.high == min(1.0, repeated.ci.high)
    assert mean_interval(9, 2 / 3, 0.5, repeated) == repeated.ci
