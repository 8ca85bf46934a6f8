"""Means with standard errors clustered on the sample: honest error bars when samples repeat.

Repeated trials of one sample (epochs, or several trials that drew the same task) are correlated:
an easy sample passes every time, a hard one never. A standard error that treats them as
independent is too small. The clustered (cluster-robust, "sandwich") standard error of a mean is
Miller, "Adding Error Bars to Evals" (2024, arXiv 2411.00640), Appendix A, with the usual
small-sample correction ``C / (C - 1)``:

    SE² = C / (C - 1) · Σ_c (Σ_{i∈c} (y_i - ȳ))² / N²        (C clusters, N observations)

and the interval is Student t with ``C - 1`` degrees of freedom. This is exactly what
``statsmodels``' ``OLS(y, 1).fit(cov_type="cluster", cov_kwds={"groups": g})`` computes: its
correction is ``C/(C-1) · (N-1)/(N-K)``, and with the intercept alone (``K = 1``) the second factor
is 1; its t inference (``use_t``) uses ``C - 1`` degrees of freedom too (``tests/analysis/
test_clustered.py`` checks both, and a hand computation on a fixed table).

With one observation per cluster (a run without a dataset: each trial is its own cluster) the
formula reduces to ``s² / N`` and the interval to today's ``mean_ci``: the same numbers.

Success rates: with one attempt per sample the Wilson interval (sane at 0% and 100%); with epochs
the clustered t interval, because Wilson assumes independent attempts.

Only per-cluster counts and sums are needed, so a 20,000-sample run is summarised from one
grouped SQL query (``RunStore.sample_sums``) without holding its trials.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from meta_orchestrator.analysis.stats import Interval, mean_ci, t_quantile, wilson_interval

INTERVAL_LABEL = "95% t interval, SE clustered by sample (C−1 df)"


@dataclass(frozen=True, slots=True)
class ClusteredMean:
    """A mean over ``n`` observations in ``clusters`` clusters and its clustered uncertainty.

    ``se`` and ``ci`` are ``None`` below two clusters. ``design_effect`` is the clustered variance
    over the naive (independent) one: above 1, repeats of a sample are correlated; ``None`` when
    either is 0 or unknown.
    """

    n: int
    clusters: int
    mean: float
    se: float | None
    df: int
    ci: Interval | None
    naive_se: float | None = None

    @property
    def design_effect(self) -> float | None:
        if not self.se or not self.naive_se:
            return None
        return (self.se / self.naive_se) ** 2


def clustered_mean_from_sums(
    counts: Sequence[int] | np.ndarray,
    sums: Sequence[float] | np.ndarray,
    *,
    squares: float | None = None,
    confidence: float = 0.95,
) -> ClusteredMean | None:
    """The clustered mean from each cluster's count and sum; ``None`` without observations.

    ``squares`` (Σ y², optional) adds the naive SE for the design effect.
    """
    n_c = np.asarray(counts, dtype=float)
    s_c = np.asarray(sums, dtype=float)
    keep = n_c > 0
    n_c, s_c = n_c[keep], s_c[keep]
    total = float(n_c.sum())
    if total == 0:
        return None
    clusters = int(n_c.size)
    mean = float(s_c.sum() / total)
    naive = _naive_se(total, mean, squares)
    if clusters < 2:
        return ClusteredMean(int(total), clusters, mean, None, 0, None, naive)
    residual_sums = s_c - n_c * mean
    variance = clusters / (clusters - 1) * float(np.dot(residual_sums, residual_sums)) / total**2
    se = math.sqrt(max(0.0, variance))
    df = clusters - 1
    half = t_quantile(0.5 + confidence / 2, df) * se
    return ClusteredMean(
        int(total), clusters, mean, se, df, Interval(mean - half, mean + half), naive
    )


def clustered_mean(
    values: Iterable[float], clusters: Iterable[Hashable], *, confidence: float = 0.95
) -> ClusteredMean | None:
    """The clustered mean of ``values``, the i-th belonging to cluster ``clusters[i]``."""
    counts: dict[Hashable, int] = {}
    sums: dict[Hashable, float] = {}
    squares = 0.0
    for value, cluster in zip(values, clusters, strict=True):
        counts[cluster] = counts.get(cluster, 0) + 1
        sums[cluster] = sums.get(cluster, 0.0) + value
        squares += value * value
    keys = list(counts)
    return clustered_mean_from_sums(
        [counts[k] for k in keys], [sums[k] for k in keys], squares=squares, confidence=confidence
    )


def _naive_se(n: float, mean: float, squares: float | None) -> float | None:
    if squares is None or n < 2:
        return None
    m2 = max(0.0, squares - n * mean * mean)
    return math.sqrt(m2 / (n - 1) / n)


def mean_interval(
    n: int, mean: float | None, sd: float | None, clustered: ClusteredMean | None
) -> Interval | None:
    """The interval a report shows for a mean: clustered when samples repeat, else Student t.

    Without repeats the clustered interval equals the t interval; using ``mean_ci`` then keeps the
    figures of runs without a dataset bit-for-bit as they were.
    """
    if clustered is not None and clustered.clusters < clustered.n:
        return clustered.ci
    return mean_ci(n, mean, sd)


def success_interval(
    successes: float, trials: int, clustered: ClusteredMean | None
) -> Interval | None:
    """Wilson when each sample ran once (or without samples), the clustered t interval with
    repeats (clipped to [0, 1])."""
    if clustered is None or clustered.clusters >= clustered.n:
        return wilson_interval(successes, trials)
    if clustered.ci is None:
        return None
    return Interval(max(0.0, clustered.ci.low), min(1.0, clustered.ci.high))


__all__ = [
    "INTERVAL_LABEL",
    "ClusteredMean",
    "clustered_mean",
    "clustered_mean_from_sums",
    "mean_interval",
    "success_interval",
]
