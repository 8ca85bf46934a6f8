"""A share of simulated runs with its 95% binomial interval, as the statistics benchmarks print it.

Imported by the benchmark scripts, which run as ``python benchmarks/NAME.py`` (this folder first on
``sys.path``).
"""

from __future__ import annotations

from scipy import stats


def wilson_share(hits: int, total: int) -> str:
    """``12.3% [10.1%, 14.9%]``: the share with its 95% Wilson interval."""
    ci = stats.binomtest(hits, total).proportion_ci(0.95, method="wilson")
    return f"{hits / total:.1%} [{ci.low:.1%}, {ci.high:.1%}]"


def exact_share(hits: int, total: int) -> str:
    """``12.3% [10.1, 14.9]``: the share with its 95% Clopper-Pearson (exact) interval."""
    ci = stats.binomtest(hits, total).proportion_ci(0.95)
    return f"{100 * hits / total:.1f}% [{100 * ci.low:.1f}, {100 * ci.high:.1f}]"
