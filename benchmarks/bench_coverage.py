"""Does the clustered 95% interval cover the true mean 95% of the time when samples repeat?

    python benchmarks/bench_coverage.py [--runs 2000] [--samples 100]

Simulates whole runs of one variant on a dataset: each run draws ``--samples`` tasks from a
population (difficulty ~ Normal(0, ``--difficulty-sd``)), and the variant passes a task with
probability sigmoid(logit(p) − difficulty) on each of ``epochs`` attempts (the Rasch model of the
built-in simulated agent). The true mean is the population's pass rate (Gauss-Hermite quadrature).
For every run it computes the interval ``summary.md`` reports — clustered by sample
(``analysis.clustered``: Miller 2024, C/(C−1), t on C−1 df) — and, beside it, the naive Student t
interval that treats every trial as independent, and prints how often each covers the true mean.
Coverage is a share of runs, shown with its 95% Clopper-Pearson interval.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from rates import exact_share
from scipy import special

from meta_orchestrator.analysis.clustered import clustered_mean_from_sums
from meta_orchestrator.analysis.stats import mean_ci


def true_mean(p: float, difficulty_sd: float) -> float:
    """E[sigmoid(logit(p) − D)], D ~ Normal(0, sd), by Gauss-Hermite quadrature (probabilists')."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(200)
    values = special.expit(special.logit(p) - difficulty_sd * nodes)
    return float(np.sum(weights * values) / np.sqrt(2 * np.pi))


def coverage(
    p: float, difficulty_sd: float, samples: int, epochs: int, runs: int, rng: np.random.Generator
) -> tuple[int, int, float]:
    """(clustered covers, naive covers, mean design effect) over ``runs`` simulated runs."""
    mu = true_mean(p, difficulty_sd)
    clustered_hits = naive_hits = 0
    effects = []
    for _ in range(runs):
        difficulty = rng.normal(0.0, difficulty_sd, samples)
        chance = special.expit(special.logit(p) - difficulty)
        passes = rng.random((samples, epochs)) < chance[:, None]
        sums = passes.sum(axis=1).astype(float)
        c = clustered_mean_from_sums(np.full(samples, epochs), sums, squares=float(sums.sum()))
        flat = passes.ravel().astype(float)
        naive = mean_ci(flat.size, float(flat.mean()), float(flat.std(ddof=1)))
        assert c is not None and c.ci is not None and naive is not None
        clustered_hits += c.ci.low <= mu <= c.ci.high
        naive_hits += naive.low <= mu <= naive.high
        if c.design_effect is not None:
            effects.append(c.design_effect)
    return clustered_hits, naive_hits, float(np.mean(effects)) if effects else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--success-rate", type=float, default=0.8)
    parser.add_argument("--difficulty-sd", type=float, default=1.5)
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 2, 5, 10])
    parser.add_argument("--seed", type=int, default=2411)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    mu = true_mean(args.success_rate, args.difficulty_sd)
    print(
        f"{args.runs} simulated runs per line, {args.samples} samples each, success rate "
        f"{args.success_rate:g} at difficulty 0, difficulty SD {args.difficulty_sd:g}: true mean "
        f"{mu:.4f}. Coverage of the 95% interval [95% Clopper-Pearson CI of the coverage]:\n"
    )
    print(
        "| epochs | clustered by sample (summary.md) | naive (trials independent) | design effect |"
    )
    print("|---:|---:|---:|---:|")
    for epochs in args.epochs:
        c, n, effect = coverage(
            args.success_rate, args.difficulty_sd, args.samples, epochs, args.runs, rng
        )
        print(
            f"| {epochs} | {exact_share(c, args.runs)} | {exact_share(n, args.runs)} | {effect:.2f} |"
        )
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
