"""How often the paired CI gate cries wolf, how often it catches a real 5% drop, and how many
samples it needs against Welch's test on the same data.

    python benchmarks/bench_gate_power.py [--reps 1000] [--samples 1400] [--epochs 2]

A sample-based benchmark, simulated: ``k`` variants (the Rasch model of the built-in simulated
agent: pass probability sigmoid(logit(p) − difficulty)) run on ``--samples`` tasks drawn afresh for
every comparison from a population (difficulty ~ Normal(0, ``--difficulty-sd``)), ``--epochs``
attempts each. The candidate of a variant is a *different agent with the same population mean*:
its difficulty on a task is ``a·d + sqrt(1 − a²)·z`` (``a`` = ``--agreement``, ``z`` fresh), so it
agrees with the baseline on which tasks are hard only in part — per-sample correlation about 0.5,
as Miller (2024) reports between models — and helps on some tasks while hurting on others. Every
comparison applies the gate's test (``analysis.compare``: one-sided paired t of candidate −
(1 − budget)·baseline on per-sample means, Holm across variants at alpha) in vectorised form; the
first comparisons of each line are also run through ``compare_runs`` itself and must agree.

Printed (Markdown): false alarms with no change, beside them the naive test that pairs trials by
(sample, epoch) but treats them as independent (unclustered) and today's Welch test on trials;
the power at a planted 5% drop; and per variant the samples each test needs for 80% power
(bisection on simulated power).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np
from rates import exact_share
from scipy import optimize, special, stats

from meta_orchestrator.analysis.compare import compare_runs
from meta_orchestrator.analysis.run_data import RunData

Test = Callable[[np.ndarray, np.ndarray, float], np.ndarray]  # (base, cand, factor) -> p per rep


def population_mean(logit: float, sd: float) -> float:
    nodes, weights = np.polynomial.hermite_e.hermegauss(120)
    return float(np.sum(weights * special.expit(logit - sd * nodes)) / np.sqrt(2 * np.pi))


def shifted_logit(logit: float, sd: float, drop: float) -> float:
    """The candidate's logit whose population mean is ``(1 - drop)`` of the baseline's."""
    goal = (1 - drop) * population_mean(logit, sd)
    return float(optimize.brentq(lambda x: population_mean(x, sd) - goal, logit - 10, logit))


def draw(
    rng: np.random.Generator,
    reps: int,
    samples: int,
    epochs: int,
    logits: np.ndarray,
    cand_logits: np.ndarray,
    sd: float,
    agreement: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Passes of baseline and candidate, shape (reps, variants, samples, epochs)."""
    d = rng.normal(0, sd, (reps, 1, samples))
    z = rng.normal(0, sd, (reps, 1, samples))
    d_cand = agreement * d + np.sqrt(1 - agreement**2) * z
    p_base = special.expit(logits[None, :, None] - d)
    p_cand = special.expit(cand_logits[None, :, None] - d_cand)
    shape = (reps, logits.size, samples, epochs)
    base = (rng.random(shape) < p_base[..., None]).astype(float)
    cand = (rng.random(shape) < p_cand[..., None]).astype(float)
    return base, cand


def _one_sided_t(d: np.ndarray, axis: int) -> np.ndarray:
    n = d.shape[axis]
    mean, sd = d.mean(axis=axis), d.std(axis=axis, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = mean / (sd / np.sqrt(n))
    p = stats.t.cdf(t, n - 1)
    return np.where(sd == 0, np.where(mean < 0, 0.0, 1.0), p)


def paired_gate(base: np.ndarray, cand: np.ndarray, factor: float) -> np.ndarray:
    """The gate: paired t on per-sample means (the clustering by sample)."""
    return _one_sided_t(cand.mean(axis=-1) - factor * base.mean(axis=-1), axis=-1)


def naive_paired(base: np.ndarray, cand: np.ndarray, factor: float) -> np.ndarray:
    """Trials paired by (sample, epoch) and taken as independent: unclustered."""
    d = (cand - factor * base).reshape(*base.shape[:-2], -1)
    return _one_sided_t(d, axis=-1)


def welch_trials(base: np.ndarray, cand: np.ndarray, factor: float) -> np.ndarray:
    """Today's gate before pairing: one-sided Welch on all trials, unpaired."""
    x = (factor * base).reshape(*base.shape[:-2], -1)
    y = cand.reshape(*cand.shape[:-2], -1)
    vx, vy = x.var(axis=-1, ddof=1) / x.shape[-1], y.var(axis=-1, ddof=1) / y.shape[-1]
    se = np.sqrt(vx + vy)
    df = (vx + vy) ** 2 / (vx**2 / (x.shape[-1] - 1) + vy**2 / (y.shape[-1] - 1))
    diff = y.mean(axis=-1) - x.mean(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = stats.t.cdf(diff / se, df)
    return np.where(se == 0, np.where(diff < 0, 0.0, 1.0), p)


def holm_rejects(p: np.ndarray, alpha: float) -> np.ndarray:
    """Holm step-down over the last axis: which hypotheses are rejected (reps, variants)."""
    k = p.shape[-1]
    order = np.argsort(p, axis=-1)
    sorted_p = np.take_along_axis(p, order, axis=-1)
    below = sorted_p < alpha / (k - np.arange(k))
    keep = np.cumprod(below, axis=-1).astype(bool)  # stop at the first that is not rejected
    rejected = np.zeros_like(keep)
    np.put_along_axis(rejected, order, keep, axis=-1)
    return rejected


def cross_check(base: np.ndarray, cand: np.ndarray, rejected: np.ndarray, alpha: float,
                budget: float, reps: int) -> None:  # fmt: skip
    """The first ``reps`` comparisons through the real ``compare_runs`` must agree."""
    for r in range(min(reps, base.shape[0])):
        runs = []
        for side in (base[r], cand[r]):
            values = {
                ("bench", f"v{v}"): {
                    (f"s{s}", e): float(side[v, s, e])
                    for s in range(side.shape[1])
                    for e in range(side.shape[2])
                }
                for v in range(side.shape[0])
            }
            runs.append(RunData.from_samples(values, fingerprint="bench"))
        comparison = compare_runs(*runs, alpha=alpha, max_regression=budget)
        blocking = {row.variant for row in comparison.regressions}
        expected = {f"v{v}" for v in np.flatnonzero(rejected[r])}
        assert blocking == expected, (r, blocking, expected)


def rate(x: np.ndarray) -> str:
    return exact_share(int(x.sum()), x.size)


def required(
    test: Test, rng: np.random.Generator, args: argparse.Namespace, logit: float, level: float,
    low: int = 20, high: int = 20_000,
) -> int | None:  # fmt: skip
    """Fewest samples at which ``test`` rejects a planted drop with ≥ 80% power (one variant,
    tested at Holm's first level ``alpha / k``), by bisection on simulated power."""
    cand = shifted_logit(logit, args.difficulty_sd, args.drop)

    def power(n: int) -> float:
        base, c = draw(rng, args.search_reps, n, args.epochs, np.array([logit]), np.array([cand]),
                       args.difficulty_sd, args.agreement)  # fmt: skip
        return float(np.mean(test(base, c, 1 - args.max_regression)[:, 0] < level))

    if power(high) < 0.8:
        return None
    while high - low > max(2, low // 50):
        middle = (low + high) // 2
        low, high = (low, middle) if power(middle) >= 0.8 else (middle, high)
    return high


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1400)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--success-rates", type=float, nargs="+", default=[0.99, 0.98, 0.96])
    parser.add_argument("--difficulty-sd", type=float, default=2.5)
    parser.add_argument("--agreement", type=float, default=0.9)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--max-regression", type=float, default=0.02)
    parser.add_argument("--drop", type=float, default=0.05)
    parser.add_argument("--search-reps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    logits = special.logit(np.array(args.success_rates))
    k, sd, a = logits.size, args.difficulty_sd, args.agreement
    means = [population_mean(x, sd) for x in logits]

    base, cand = draw(rng, 200, args.samples, args.epochs, logits, logits, sd, a)
    corr = np.mean([
        np.corrcoef(base[r, v].mean(axis=-1), cand[r, v].mean(axis=-1))[0, 1]
        for r in range(200) for v in range(k)
    ])  # fmt: skip
    print(
        f"{k} variants (population means {', '.join(f'{m:.3f}' for m in means)}), "
        f"{args.samples} samples x {args.epochs} epochs, difficulty SD {sd:g}, agreement {a:g}: "
        f"per-sample correlation of baseline and candidate {corr:.2f}. alpha {args.alpha:g} "
        f"(Holm over {k}), {args.reps} comparisons per line.\n"
    )
    tests: dict[str, Test] = {
        "paired gate (clustered by sample)": paired_gate,
        "naive: trials paired, unclustered": naive_paired,
        "Welch on trials (unpaired)": welch_trials,
    }
    print("| no change (false alarms; must be ≤ alpha) | budget | " + " | ".join(tests) + " |")
    print("|---|---:|" + "---:|" * len(tests))
    lines = (
        ("same agent, fresh seeds", 1.0, args.epochs),
        ("another agent, same mean", a, args.epochs),
        ("another agent, same mean", a, 3 * args.epochs),
    )
    for label, agreement, epochs in lines:
        base, cand = draw(rng, args.reps, args.samples, epochs, logits, logits, sd, agreement)
        for budget in (0.0, args.max_regression):
            cells = []
            for test in tests.values():
                rejected = holm_rejects(test(base, cand, 1 - budget), args.alpha)
                if test is paired_gate:
                    cross_check(base, cand, rejected, args.alpha, budget, reps=10)
                cells.append(rate(rejected.any(axis=-1)))
            print(f"| {label}, {epochs} epochs | {budget:g} | " + " | ".join(cells) + " |")

    print(f"\n| {100 * args.drop:g}% drop planted in | population mean | paired gate fails for it "
          "| Welch on trials |")  # fmt: skip
    print("|---|---:|---:|---:|")
    for v in range(k):
        planted = logits.copy()
        planted[v] = shifted_logit(logits[v], sd, args.drop)
        base, cand = draw(rng, args.reps, args.samples, args.epochs, logits, planted, sd, a)
        factor = 1 - args.max_regression
        gate = holm_rejects(paired_gate(base, cand, factor), args.alpha)
        if v == 0:
            cross_check(base, cand, gate, args.alpha, args.max_regression, reps=10)
        welch = holm_rejects(welch_trials(base, cand, factor), args.alpha)
        print(f"| v{v} (p {args.success_rates[v]:g}) | {means[v]:.3f} | {rate(gate[:, v])} | "
              f"{rate(welch[:, v])} |")  # fmt: skip

    print(f"\n| samples for 80% power at a {100 * args.drop:g}% drop ({args.epochs} epochs) "
          "| paired gate | Welch on trials | ratio |")  # fmt: skip
    print("|---|---:|---:|---:|")
    level = args.alpha / k
    for v in range(k):
        paired = required(paired_gate, rng, args, logits[v], level)
        welch = required(welch_trials, rng, args, logits[v], level)
        ratio = f"{paired / welch:.2f}" if paired and welch else "—"
        print(f"| v{v} (mean {means[v]:.3f}) | {paired or '—'} | {welch or '—'} | {ratio} |")
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
