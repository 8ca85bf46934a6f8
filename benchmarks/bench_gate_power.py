"""How often the CI gate cries wolf, and how often it catches a real 5% drop.

    python benchmarks/bench_gate_power.py [--reps 500] [--config benchmark_config.yaml]

Draws whole benchmark runs from a pilot of the real variants (``guardrail.power.simulate_run``: the
benchmark's trial counts, each variant's own score distribution, failed trials included) and runs
every pair through ``compare_runs`` with the workflow's settings. Prints, as Markdown tables:

* A/A: baseline and candidate from the same variants, independent seeds; the gate should fail at
  most ``alpha`` of the time. Also with every variant's true drop exactly at the budget, which must
  not fail more often either (the budget is part of the test, not a filter on the point estimate).
* Power: a 5% drop planted in one variant at a time, the others unchanged; the gate should fail
  at least 80% of the time, and for that variant. Two ways to plant it: ``shift`` (every score
  lower, same spread) and ``failures`` (more trials go wrong; the spread grows).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

from meta_orchestrator.guardrail.power import (
    DEFAULT_ALPHA,
    DEFAULT_BUDGET,
    DEFAULT_DROP,
    DEFAULT_PILOT_TRIALS,
    pilot_runs,
    planned_trials,
    simulated_fail_rate,
)

ROOT = Path(__file__).resolve().parents[1]


def _interval(rate: float, reps: int) -> str:
    low, high = stats.binomtest(round(rate * reps), reps).proportion_ci(0.95)
    return f"{100 * rate:.1f}% [{100 * low:.1f}, {100 * high:.1f}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(ROOT / "benchmark_config.yaml"))
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA)
    parser.add_argument("--max-regression", type=float, default=DEFAULT_BUDGET)
    parser.add_argument("--drop", type=float, default=DEFAULT_DROP)
    parser.add_argument("--pilot-trials", type=int, default=DEFAULT_PILOT_TRIALS)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    settings = {"alpha": args.alpha, "budget": args.max_regression}

    started = time.perf_counter()
    pilots = pilot_runs(args.config, args.pilot_trials)
    trials = planned_trials(args.config)
    print(
        f"{Path(args.config).name}: {len(pilots)} variants, trials per variant "
        f"{sorted(set(trials.values()))}; alpha {args.alpha:g}, budget {args.max_regression:g}, "
        f"{args.reps} comparisons per line; pilot {args.pilot_trials} trials per variant "
        f"({time.perf_counter() - started:.1f} s)\n"
    )

    budget = args.max_regression
    every = frozenset(p.key for p in pilots)
    lines = [
        ("A/A, no change, budget 0", {**settings, "budget": 0.0}),
        (f"A/A, no change, budget {budget:g}", settings),
        (f"every variant {100 * budget:g}% worse (at the budget)", {**settings, "drop": budget,
                                                                  "planted": every}),
    ]  # fmt: skip
    print("| false alarms | gate fails [95% CI] | must be |")
    print("|---|---:|---:|")
    for label, options in lines[: 3 if budget else 1]:
        rate, _ = simulated_fail_rate(pilots, trials, args.reps, rng, **options)  # type: ignore[arg-type]
        print(f"| {label} | {_interval(rate, args.reps)} | ≤ {100 * args.alpha:g}% |")

    print(f"\n| {100 * args.drop:g}% drop planted in | model | gate fails [95% CI] | for it |")
    print("|---|---|---:|---:|")
    for pilot in pilots:
        if not pilot.moments.sd:
            continue  # a constant score (noop): any drop is certain, nothing to measure
        for model in ("shift", "failures"):
            rate, attributed = simulated_fail_rate(
                pilots, trials, args.reps, rng, drop=args.drop, planted={pilot.key}, model=model,
                **settings,
            )  # fmt: skip
            print(
                f"| `{pilot.variant}` | {model} | {_interval(rate, args.reps)} | "
                f"{100 * attributed:.1f}% |"
            )
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
