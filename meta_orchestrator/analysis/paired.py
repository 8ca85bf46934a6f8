"""Paired comparisons of two variants on the samples both ran.

Two variants run on the same samples agree on which samples are hard (Miller 2024 reports per-
sample correlations of 0.3-0.7 between models). A paired test works on the per-sample
differences, where that shared difficulty cancels: with a correlation of 0.5 it needs about half
the samples Welch's unpaired test needs for the same power.

* **Matching.** Values are keyed by ``(sample_id, epoch)``. Only the keys both sides have are
  used (in a ``mab`` experiment: the samples both variants reached, the matched prefix), and each
  sample is one unit: the mean over its matched epochs. So repeats of a sample are averaged, not
  counted as independent, which is the clustering by sample.
* **Per comparison:** the mean difference (B − A), its paired SE and a 95% Student t interval
  (n − 1 df), the per-sample correlation, the two-sided paired t-test p-value
  (``scipy.stats.ttest_rel``) and the Wilcoxon signed-rank p-value (``scipy.stats.wilcoxon``, a
  robustness column that does not assume normal differences). Holm is applied across the
  comparisons a report shows (``holm_paired``).
* **Floor.** Below ``MIN_PAIRED_SAMPLES`` (6) paired samples the result carries the note "not
  enough paired samples" and no test: 6 is the fewest pairs at which the signed-rank test can
  reach p < 0.05 at all (its smallest two-sided p is 2 / 2ⁿ: 0.0625 at n = 5, 0.031 at 6), and a
  t interval on 4 df is more than twice as wide as the normal one.
* **Identical sides.** When every difference is 0 (a deterministic variant with the same answers
  on both sides) the difference is 0 with p = 1: "no change", not an error. When every difference
  is the same non-zero value, the shift is certain (p = 0).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np

from meta_orchestrator.analysis.stats import Interval, holm_adjust, t_quantile

MIN_PAIRED_SAMPLES = 6
NOT_ENOUGH_PAIRED = "not enough paired samples"
MatchKey = tuple[Hashable, int]  # (sample_id, epoch)


@dataclass(frozen=True, slots=True)
class Matched:
    """Per-sample means of two sides over the ``(sample, epoch)`` keys both have."""

    samples: list[Hashable]
    a: np.ndarray
    b: np.ndarray
    only_a: int  # samples only side A ran (in none of its matched epochs)
    only_b: int
    unmatched_trials: int  # trials (keys) of either side left out

    @property
    def paired(self) -> int:
        return len(self.samples)

    @property
    def left_out(self) -> int:
        return self.only_a + self.only_b


def match_samples(a: Mapping[MatchKey, float], b: Mapping[MatchKey, float]) -> Matched:
    """Pair two sides on ``(sample, epoch)`` and average each sample's matched epochs."""
    shared = a.keys() & b.keys()
    sums: dict[Hashable, list[float]] = {}
    for key in shared:
        entry = sums.setdefault(key[0], [0.0, 0.0, 0.0])
        entry[0] += a[key]
        entry[1] += b[key]
        entry[2] += 1
    order = sorted(sums, key=str)
    xs = np.array([sums[s][0] / sums[s][2] for s in order], dtype=float)
    ys = np.array([sums[s][1] / sums[s][2] for s in order], dtype=float)
    samples_a = {key[0] for key in a}
    samples_b = {key[0] for key in b}
    return Matched(
        samples=order,
        a=xs,
        b=ys,
        only_a=len(samples_a - sums.keys()),
        only_b=len(samples_b - sums.keys()),
        unmatched_trials=len(a) + len(b) - 2 * len(shared),
    )


@dataclass(frozen=True)
class PairedComparison:
    """B against A on their paired samples; ``difference`` is mean(B − A)."""

    paired: int
    left_out: int = 0
    unmatched_trials: int = 0
    mean_a: float | None = None
    mean_b: float | None = None
    difference: float | None = None
    se: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    df: int | None = None
    correlation: float | None = None
    t: float | None = None
    p_value: float | None = None  # paired t, two-sided
    p_wilcoxon: float | None = None  # signed-rank, two-sided
    p_holm: float | None = None  # paired t, Holm across the comparisons shown
    note: str | None = None

    @property
    def tested(self) -> bool:
        return self.p_value is not None

    @property
    def ci(self) -> Interval | None:
        if self.ci_low is None or self.ci_high is None:
            return None
        return Interval(self.ci_low, self.ci_high)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_comparison(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    left_out: int = 0,
    unmatched_trials: int = 0,
    confidence: float = 0.95,
) -> PairedComparison:
    """Paired comparison of per-sample values ``b[i]`` against ``a[i]`` (same sample ``i``)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired sides differ in length: {x.size} and {y.size}")
    n = int(x.size)
    base = PairedComparison(n, left_out, unmatched_trials)
    if n == 0:
        return replace(base, note=NOT_ENOUGH_PAIRED)
    d = y - x
    base = replace(base, mean_a=float(x.mean()), mean_b=float(y.mean()), difference=float(d.mean()))
    if n < MIN_PAIRED_SAMPLES:
        return replace(base, note=NOT_ENOUGH_PAIRED)
    sd = _sd(d)
    se = sd / math.sqrt(n)
    df = n - 1
    half = t_quantile(0.5 + confidence / 2, df) * se
    mean = float(d.mean())
    result = replace(
        base,
        se=se,
        ci_low=mean - half,
        ci_high=mean + half,
        df=df,
        correlation=_correlation(x, y),
    )
    if se == 0.0:
        # Every difference the same: none at all is no evidence of change, a constant shift is
        # certain. scipy would return nan for both tests.
        return replace(
            result,
            t=0.0 if mean == 0 else math.copysign(math.inf, mean),
            p_value=1.0 if mean == 0 else 0.0,
            p_wilcoxon=1.0 if mean == 0 else _wilcoxon(d),
        )
    test = _scipy_stats().ttest_rel(y, x)
    return replace(
        result, t=float(test.statistic), p_value=float(test.pvalue), p_wilcoxon=_wilcoxon(d)
    )


def compare_matched(matched: Matched, *, confidence: float = 0.95) -> PairedComparison:
    """``paired_comparison`` of a ``match_samples`` result, with its left-out counts."""
    return paired_comparison(
        matched.a,
        matched.b,
        left_out=matched.left_out,
        unmatched_trials=matched.unmatched_trials,
        confidence=confidence,
    )


def one_sided_paired_p(
    a: np.ndarray,
    b: np.ndarray,
    *,
    factor: float = 1.0,
    alternative: Literal["less", "greater"] = "less",
) -> float | None:
    """One-sided paired t p-value of ``mean(b - factor·a)`` against 0 (scipy ``ttest_rel``).

    ``factor = 1 - budget`` asks "is B worse than A by more than the budget?" (``alternative=
    "less"`` when higher is better). ``None`` below the floor; constant differences are certain
    in their direction and no evidence against it.
    """
    x, y = factor * np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.size < MIN_PAIRED_SAMPLES:
        return None
    d = y - x
    if _sd(d) == 0.0:
        shift = float(d.mean())
        return 0.0 if (shift < 0 if alternative == "less" else shift > 0) else 1.0
    return float(_scipy_stats().ttest_rel(y, x, alternative=alternative).pvalue)


def holm_paired(comparisons: Sequence[PairedComparison]) -> list[PairedComparison]:
    """The comparisons with ``p_holm`` set, Holm-adjusted over those that were tested."""
    tested = [i for i, c in enumerate(comparisons) if c.p_value is not None]
    adjusted = holm_adjust([comparisons[i].p_value or 0.0 for i in tested])
    out = list(comparisons)
    for i, p in zip(tested, adjusted, strict=True):
        out[i] = replace(out[i], p_holm=p)
    return out


def _scipy_stats() -> Any:
    """``scipy.stats``, imported on first use: it takes seconds to import, and only the paired
    tests need it (the intervals come from ``analysis.stats``)."""
    from scipy import stats

    return stats


def _sd(d: np.ndarray) -> float:
    """The SD of the differences, 0 when it is rounding error (``0.9 - 0.1`` and ``0.5 - 0.1``
    differ by 1e-17), so a constant shift is recognised as one."""
    sd = float(d.std(ddof=1))
    return 0.0 if sd <= 1e-12 * max(1.0, float(np.abs(d).max())) else sd


def _correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    if float(x.std()) == 0.0 or float(y.std()) == 0.0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def _wilcoxon(d: np.ndarray) -> float:
    """Two-sided signed-rank p (zeros dropped, as Wilcoxon did); 1 when every difference is 0."""
    if not np.any(d != 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns when it switches to the normal approximation
        return float(_scipy_stats().wilcoxon(d).pvalue)


__all__ = [
    "MIN_PAIRED_SAMPLES",
    "NOT_ENOUGH_PAIRED",
    "Matched",
    "PairedComparison",
    "compare_matched",
    "holm_paired",
    "match_samples",
    "one_sided_paired_p",
    "paired_comparison",
]
