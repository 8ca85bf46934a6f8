"""Bandit efficiency: cumulative regret of each strategy against uniform allocation.

    python benchmarks/bench_bandits.py [--seeds 100] [--trials 1000] [--in-flight 1 8]

A fixed 5-variant simulated problem, twice: Bernoulli success (the score is ``success`` alone, so the
bandits use Beta posteriors) and a continuous score (Gaussian with unknown variance). The real
orchestrator classes choose every trial through their real driver loop (``driver.drive``); only
the backend is replaced by ``meta_orchestrator.testing.ScriptedBackend``, which draws each trial's
score from the variant's true distribution, seeded, with no sleeps. ``--in-flight 8`` keeps eight trials pending, so feedback
arrives late, as on the thread and Ray backends.

Regret is pseudo-regret: for each trial, the best variant's true mean minus the chosen variant's,
summed over the trials. Uniform allocation is the ``standard`` orchestrator (round-robin, the same
number of trials for every variant). Goal (issue 2): Thompson sampling at most a third of uniform's
regret at 1,000 trials, averaged over at least 100 seeds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from meta_orchestrator.core.config import load_config
from meta_orchestrator.core.trial import TrialResult, TrialSpec
from meta_orchestrator.driver import drive
from meta_orchestrator.orchestrators import create_orchestrator
from meta_orchestrator.testing import ScriptedBackend, scripted_result


@dataclass(frozen=True)
class Problem:
    name: str
    means: dict[str, float]
    sd: float | None  # None: Bernoulli scores (success alone); else Gaussian scores with this SD

    @property
    def best(self) -> float:
        return max(self.means.values())

    def draw(self, rng: np.random.Generator, variant: str) -> float:
        mean = self.means[variant]
        return float(rng.random() < mean) if self.sd is None else float(rng.normal(mean, self.sd))


PROBLEMS = [
    Problem(
        "bernoulli success (0.45, 0.55, 0.60, 0.65, 0.75)",
        {"v1": 0.45, "v2": 0.55, "v3": 0.60, "v4": 0.65, "v5": 0.75},
        None,
    ),
    Problem(
        "gaussian score, SD 0.25 (0.30, 0.40, 0.45, 0.50, 0.60)",
        {"v1": 0.30, "v2": 0.40, "v3": 0.45, "v4": 0.50, "v5": 0.60},
        0.25,
    ),
]
STRATEGIES = ["uniform", "epsilon_greedy", "ucb1", "thompson_sampling"]


def simulated_backend(problem: Problem, seed: int, max_in_flight: int) -> ScriptedBackend:
    """Scores each trial from the problem's true distribution; results return oldest first."""
    rng = np.random.default_rng([seed, 0x5EED])

    def outcome(spec: TrialSpec) -> TrialResult:
        score = problem.draw(rng, spec.variant)
        success = score if problem.sd is None else 1.0
        return scripted_result(spec, score, metrics={"success": success, "latency": 0.0})

    return ScriptedBackend(outcome, max_in_flight, order="fifo", keep_submitted=False)


def _experiment(problem: Problem, strategy: str, trials: int) -> dict[str, Any]:
    variants = list(problem.means)
    if strategy == "uniform":
        per_variant = trials // len(variants)
        return {"name": "e", "variants": variants, "trials_per_variant": per_variant}
    reward = "bernoulli" if problem.sd is None else "gaussian"
    settings = {"strategy": strategy, "total_trials": trials, "reward": reward}
    return {"name": "e", "orchestrator": "mab", "variants": variants, "mab_settings": settings}


def regret(problem: Problem, strategy: str, trials: int, seed: int, in_flight: int) -> float:
    config = load_config(
        {
            "name": "bandit-bench",
            "seed": seed,
            "variants": {v: {"type": "simulated"} for v in problem.means},
            "experiments": [_experiment(problem, strategy, trials)],
            "scoring_weights": {"success": 1.0},
        }
    )
    orchestrator = create_orchestrator(config.experiments[0], seed, config.scoring_weights)
    backend = simulated_backend(problem, seed, in_flight)
    for _ in drive(orchestrator, backend, run_id="bench", run_seed=seed):
        pass
    counts = orchestrator.choice_counts
    assert sum(counts.values()) == trials, counts
    return sum(n * (problem.best - problem.means[v]) for v, n in counts.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    started = time.perf_counter()
    verdicts = []
    for problem in PROBLEMS:
        print(f"\n**{problem.name}**, {args.trials:,} trials, mean over {args.seeds} seeds\n")
        header = " | ".join(f"regret ({n} in flight) | vs uniform" for n in args.in_flight)
        print(f"| strategy | {header} |")
        print("| --- |" + " ---: | ---: |" * len(args.in_flight))
        results: dict[tuple[str, int], float] = {}
        for strategy in STRATEGIES:
            cells = []
            for in_flight in args.in_flight:
                values = [
                    regret(problem, strategy, args.trials, seed, in_flight)
                    for seed in range(args.seeds)
                ]
                mean = statistics.fmean(values)
                results[(strategy, in_flight)] = mean
                spread = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0
                ratio = mean / results[("uniform", in_flight)]
                cells.append(f"{mean:.1f} ± {spread:.1f} | {ratio:.2f}")
            print(f"| {strategy} | " + " | ".join(cells) + " |")
        ratio = results[("thompson_sampling", 1)] / results[("uniform", 1)]
        verdicts.append(f"{problem.name}: Thompson / uniform = {ratio:.2f}")
    print("\n(± is the standard error of the mean over seeds)")
    for verdict in verdicts:
        print(verdict, "(goal <= 0.33)")
    print(f"took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
