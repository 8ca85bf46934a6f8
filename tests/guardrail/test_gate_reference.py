"""The gate's numbers against references on fixed tables: its one-sided p-values against
``scipy.stats.ttest_ind(equal_var=False, alternative=...)`` on the raw samples, Holm's step-down
against statsmodels and a hand computation on a vector where the step-down is not monotone."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from meta_orchestrator.analysis.compare import REGRESSION, compare_runs
from meta_orchestrator.analysis.run_data import RunData
from meta_orchestrator.analysis.stats import holm_adjust

# Fixed scores of three variants in two runs (no randomness): "a" got worse, "b" better, "c" alike.
BASELINE = {
    ("exp", "a"): [0.81, 0.77, 0.92, 0.85, 0.88, 0.79, 0.9, 0.84, 0.86, 0.8, 0.83, 0.87],
    ("exp", "b"): [0.52, 0.48, 0.55, 0.6, 0.5, 0.47, 0.58, 0.53, 0.49, 0.56],
    ("exp", "c"): [0.7, 0.72, 0.68, 0.71, 0.69, 0.73, 0.7, 0.67],
}
CANDIDATE = {
    ("exp", "a"): [0.74, 0.7, 0.79, 0.72, 0.81, 0.69, 0.77, 0.75, 0.73, 0.78],
    ("exp", "b"): [0.58, 0.61, 0.57, 0.66, 0.6, 0.63, 0.59, 0.62, 0.64, 0.55, 0.6],
    ("exp", "c"): [0.71, 0.69, 0.7, 0.72, 0.68, 0.7, 0.71, 0.69, 0.7],
}


def _compare(max_regression: float = 0.0):  # type: ignore[no-untyped-def]
    return compare_runs(
        RunData.from_values(BASELINE), RunData.from_values(CANDIDATE), max_regression=max_regression
    )


@pytest.mark.parametrize("budget", [0.0, 0.05])
def test_one_sided_p_values_match_scipy_welch_on_the_raw_samples(budget: float) -> None:
    """Regression: H1 "candidate < (1 - budget) x baseline"; improvement: H1 "candidate >
    baseline", each Welch's one-sided test computed by scipy from the samples themselves."""
    rows = {row.variant: row for row in _compare(budget).rows}
    for (_, variant), base in BASELINE.items():
        cand = np.array(CANDIDATE[("exp", variant)])
        scaled = (1 - budget) * np.array(base)
        worse = stats.ttest_ind(cand, scaled, equal_var=False, alternative="less").pvalue
        better = stats.ttest_ind(cand, np.array(base), equal_var=False, alternative="greater")
        two_sided = stats.ttest_ind(cand, np.array(base), equal_var=False).pvalue
        assert rows[variant].p_regression == pytest.approx(worse, rel=1e-9, abs=1e-300)
        assert rows[variant].p_improvement == pytest.approx(better.pvalue, rel=1e-9, abs=1e-300)
        assert rows[variant].p_value == pytest.approx(two_sided, rel=1e-9)


def test_the_verdicts_on_the_fixed_table() -> None:
    """Exactly one verdict per row, none "either": a regressed, b improved, c unchanged."""
    comparison = _compare()
    verdicts = {row.variant: row.verdict for row in comparison.rows}
    assert verdicts == {"a": REGRESSION, "b": "improvement", "c": "no significant change"}
    assert comparison.exit_code == 1
    regression = [rows.p_regression for rows in sorted(comparison.rows, key=lambda r: r.variant)]
    expected = multipletests(regression, method="holm")[1]
    holm = [r.p_regression_holm for r in sorted(comparison.rows, key=lambda r: r.variant)]
    assert holm == pytest.approx(list(expected), rel=1e-12)


def test_holm_step_down_is_monotone_where_the_raw_products_are_not() -> None:
    """Sorted: 0.005, 0.01, 0.03, 0.04; times (4, 3, 2, 1): 0.02, 0.03, 0.06, 0.04. The last
    must be raised to 0.06: an adjusted p-value never falls below a smaller raw p's."""
    p_values = [0.01, 0.04, 0.03, 0.005]
    by_hand = [0.03, 0.06, 0.06, 0.02]
    assert holm_adjust(p_values) == pytest.approx(by_hand, rel=1e-12)
    assert holm_adjust(p_values) == pytest.approx(
        list(multipletests(p_values, method="holm")[1]), rel=1e-12
    )
    assert holm_adjust([0.2, 0.5, 0.6]) == pytest.approx([0.6, 1.0, 1.0])  # capped at 1
