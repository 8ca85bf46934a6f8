"""Statistical primitives shared by the summary, the dashboard and the CI gate.

Everything works from summary statistics (n, mean, SD), which the store computes in SQL, so no
caller needs every trial in memory. Where a test needs more data than there is, the functions return
``None`` and callers say "not enough trials" rather than print a number that means nothing.

The distributions come from ``scipy.special`` (``stdtrit`` is ``scipy.stats.t.ppf``, ``stdtr`` its
CDF, ``ndtri`` ``norm.ppf``: the functions ``scipy.stats`` itself calls, so the same numbers to the
last digit), which imports in a fraction of the time ``scipy.stats`` takes: every run's report
needs them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import special as _special

MIN_TRIALS_FOR_TEST = 2


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class WelchResult:
    """Welch's unequal-variance t-test of ``mean_b - mean_a`` with a confidence interval."""

    difference: float
    ci: Interval
    t: float
    df: float
    p_value: float
    effect_size: float | None  # Hedges' g (bias-corrected Cohen's d with the pooled SD)


def mean_ci(
    n: int, mean: float | None, sd: float | None, confidence: float = 0.95
) -> Interval | None:
    """Student t interval for a mean; ``None`` with fewer than two observations."""
    if n < 2 or mean is None or sd is None:
        return None
    half = t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return Interval(mean - half, mean + half)


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> Interval | None:
    """Wilson score interval for a proportion: sane at 0% and 100%, unlike the normal interval."""
    if n <= 0:
        return None
    z = float(_special.ndtri(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def welch_test(
    n_a: int,
    mean_a: float,
    sd_a: float,
    n_b: int,
    mean_b: float,
    sd_b: float,
    confidence: float = 0.95,
) -> WelchResult | None:
    """Welch's t-test (two-sided, scipy) of B against A; ``None`` when either side has < 2 trials."""
    if n_a < MIN_TRIALS_FOR_TEST or n_b < MIN_TRIALS_FOR_TEST:
        return None
    difference = mean_b - mean_a
    var_a, var_b = sd_a * sd_a / n_a, sd_b * sd_b / n_b
    se = math.sqrt(var_a + var_b)
    if se == 0.0:
        # Both samples constant: identical means are no evidence of a change; different ones are
        # certain. scipy would return nan here.
        p_value = 1.0 if difference == 0 else 0.0
        return WelchResult(
            difference,
            Interval(difference, difference),
            0.0 if difference == 0 else math.copysign(math.inf, difference),
            float(n_a + n_b - 2),
            p_value,
            None,
        )
    # Welch-Satterthwaite df written as scipy.stats.ttest_ind_from_stats(b, a, equal_var=False)
    # writes it (``**`` can differ from ``x * x`` in the last digit), so the p-value is scipy's.
    df = (var_b + var_a) ** 2 / (var_b**2 / (n_b - 1) + var_a**2 / (n_a - 1))
    t = difference / se
    half = t_quantile(0.5 + confidence / 2, df) * se
    return WelchResult(
        difference=difference,
        ci=Interval(difference - half, difference + half),
        t=t,
        df=float(df),
        p_value=2.0 * t_sf(abs(t), df),
        effect_size=hedges_g(n_a, mean_a, sd_a, n_b, mean_b, sd_b),
    )


def t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom (``scipy.stats.t.ppf``)."""
    return float(_special.stdtrit(df, q))


def t_sf(x: float, df: float) -> float:
    """P(T > x) for Student's t with ``df`` degrees of freedom (``scipy.stats.t.sf``)."""
    return float(_special.stdtr(df, -x))


def hedges_g(
    n_a: int, mean_a: float, sd_a: float, n_b: int, mean_b: float, sd_b: float
) -> float | None:
    dof = n_a + n_b - 2
    if dof <= 0:
        return None
    pooled = math.sqrt(((n_a - 1) * sd_a * sd_a + (n_b - 1) * sd_b * sd_b) / dof)
    if pooled == 0:
        return None
    correction = 1 - 3 / (4 * dof - 1)
    return (mean_b - mean_a) / pooled * correction


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as given); controls the family-wise error."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
