"""The gate's error rates on the benchmark's own variants: 500 simulated comparisons per claim.

Runs are drawn from a pilot of real trials of every variant in benchmark_config.yaml (a bootstrap:
each variant's own score distribution, failed trials included) at the config's trial counts, and
every pair goes through ``compare_runs``, so this checks the gate CI runs, at the statistical level,
without running a thousand benchmarks. Seeds are fixed: the outcome is the same on every run.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from meta_orchestrator.guardrail.power import (
    DEFAULT_ALPHA,
    DEFAULT_BUDGET,
    DEFAULT_DROP,
    DEFAULT_POWER,
    analyze,
    gate_power,
    planned_trials,
    simulated_fail_rate,
)

BENCHMARK_CONFIG = Path(__file__).resolve().parents[2] / "benchmark_config.yaml"
REPS = 500
# "At most alpha within sampling error": more failures than this happen with probability < 0.1%
# if the true rate is exactly alpha.
MAX_FALSE_ALARMS = int(stats.binom.ppf(0.999, REPS, DEFAULT_ALPHA))
VARIANTS = [
    "planner_default",
    "planner_deep",
    "planner_quick",
    "retrieval",
    "sim_reliable",
    "sim_flaky",
]


@pytest.fixture(scope="module")
def trials() -> dict[tuple[str, str], int]:
    return planned_trials(BENCHMARK_CONFIG)


def test_the_pilot_covers_every_benchmark_variant(benchmark_pilots, trials) -> None:  # type: ignore[no-untyped-def]
    assert {p.key for p in benchmark_pilots} == set(trials)
    assert {v for _, v in trials} == {"noop", *VARIANTS}
    for pilot in benchmark_pilots:  # scores comfortably positive: a 5% drop is a real change
        assert pilot.moments.mean is not None and pilot.moments.mean > 0.8


@pytest.mark.parametrize("budget", [0.0, DEFAULT_BUDGET], ids=["budget-0", "workflow-budget"])
def test_aa_comparisons_fail_at_most_alpha_of_the_time(benchmark_pilots, trials, budget) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(20240601)
    rate, _ = simulated_fail_rate(benchmark_pilots, trials, REPS, rng, budget=budget)
    assert rate * REPS <= MAX_FALSE_ALARMS, f"A/A false-alarm rate {rate:.1%} (alpha 5%)"


def test_a_true_drop_at_the_budget_fails_at_most_alpha_of_the_time(
    benchmark_pilots, trials
) -> None:  # type: ignore[no-untyped-def]
    """The budget is inside the test: every variant exactly 2% worse is still within the null."""
    rng = np.random.default_rng(7)
    everyone = {p.key for p in benchmark_pilots}
    rate, _ = simulated_fail_rate(
        benchmark_pilots, trials, REPS, rng, drop=DEFAULT_BUDGET, planted=everyone
    )
    assert rate * REPS <= MAX_FALSE_ALARMS, f"fail rate at the budget {rate:.1%}"


@pytest.mark.parametrize("model", ["shift", "failures"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_a_planted_5_percent_drop_fails_the_gate_at_least_80_percent_of_the_time(
    benchmark_pilots, trials, variant: str, model: str
) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(2 * VARIANTS.index(variant) + (model == "failures"))
    planted = {("builtin_variants", variant)}
    rate, found = simulated_fail_rate(
        benchmark_pilots,
        trials,
        REPS,
        rng,
        drop=DEFAULT_DROP,
        planted=planted,
        model=model,  # type: ignore[arg-type]
    )
    assert found >= DEFAULT_POWER, f"{variant} ({model}): the gate caught {found:.1%} of 5% drops"
    assert rate - found < 0.02  # failures are (almost always) for the planted variant


def test_the_benchmark_trial_counts_pass_the_power_analysis(benchmark_pilots) -> None:  # type: ignore[no-untyped-def]
    rows, level = analyze(BENCHMARK_CONFIG, pilots=benchmark_pilots)
    assert level == pytest.approx(DEFAULT_ALPHA / len(rows))
    for row in rows:
        assert row.power is not None and row.power >= DEFAULT_POWER, row
        assert row.required is not None and row.planned is not None and row.required <= row.planned


def test_the_analytic_power_matches_the_simulation(benchmark_pilots, trials) -> None:  # type: ignore[no-untyped-def]
    pilot = next(p for p in benchmark_pilots if p.variant == "planner_default")
    n = trials[pilot.key]
    mean, sd = pilot.moments.mean, pilot.moments.sd
    assert mean is not None and sd is not None
    level = DEFAULT_ALPHA / len(benchmark_pilots)
    analytic = gate_power(mean, sd, n, n, drop=DEFAULT_DROP, budget=DEFAULT_BUDGET, level=level)
    rate, _ = simulated_fail_rate(
        benchmark_pilots,
        trials,
        REPS,
        np.random.default_rng(3),
        drop=DEFAULT_DROP,
        planted={pilot.key},
    )
    assert abs(rate - analytic) < 4 * math.sqrt(analytic * (1 - analytic) / REPS) + 0.01
