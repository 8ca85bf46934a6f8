"""Do the live bands survive peeking? Time-uniform coverage of the anytime-valid band vs the naive one.

    python benchmarks/bench_anytime_coverage.py [--runs 2000] [--looks 1000]

The live dashboard redraws every variant's band after every trial, and the ``anytime_valid`` early
stop reads it every ``check_every`` trials. A band "covers at every look" in a run when the true
mean lies inside it at every trial from the 10th to the last. Over ``--runs`` simulated runs this
prints, side by side on the same draws:

* the anytime-valid 95% band (``core.confseq``: the empirical-Bernstein confidence sequence of
  Waudby-Smith & Ramdas 2023), read at every look;
* the naive 95% t interval (mean +- t * sd / sqrt(n), what a fixed-size analysis prints), read at
  every look, and read once at the end (where it is a valid 95% interval);
* the width of both bands at the last look, to show what the guarantee costs.

Goal (issue 10): the anytime band covers at every look in >= 95% of >= 1,000 runs; the naive band
read at every look does not. Each coverage is shown with its 95% Wilson interval over the runs.
Scenarios: Bernoulli successes (p = 0.3), continuous scores in [0, 1] (Beta(2, 5)), and paired
differences of two variants on samples of varying difficulty (in [-1, 1], rescaled to [0, 1]).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

import numpy as np
from rates import wilson_share
from scipy import stats

from meta_orchestrator.core.confseq import sequence_bands

FIRST_LOOK = 10  # a dashboard shows a band from the 10th trial on
Draw = Callable[[np.random.Generator, int, int], tuple[np.ndarray, float, float, float]]


def bernoulli(
    rng: np.random.Generator, runs: int, looks: int
) -> tuple[np.ndarray, float, float, float]:
    return (rng.random((runs, looks)) < 0.3).astype(float), 0.3, 0.0, 1.0


def beta_scores(
    rng: np.random.Generator, runs: int, looks: int
) -> tuple[np.ndarray, float, float, float]:
    return rng.beta(2, 5, (runs, looks)), 2 / 7, 0.0, 1.0


def paired(
    rng: np.random.Generator, runs: int, looks: int
) -> tuple[np.ndarray, float, float, float]:
    """Each trial is a fresh sample of difficulty p ~ Beta(2, 2); variant A passes it with
    probability p, variant B with p - 0.05 (clipped): correlated outcomes, difference in [-1, 1]."""
    p = rng.beta(2, 2, (runs, looks))
    a = rng.random((runs, looks)) < p
    b = rng.random((runs, looks)) < np.clip(p - 0.05, 0, 1)
    truth = float(stats.beta(2, 2).expect(lambda q: min(q, 0.05)))  # E[p - clip(p - 0.05)]
    return a.astype(float) - b.astype(float), truth, -1.0, 1.0


SCENARIOS: dict[str, Draw] = {
    "Bernoulli p = 0.3": bernoulli,
    "scores ~ Beta(2, 5)": beta_scores,
    "paired difference, correlated": paired,
}


def naive_band(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 95% t interval after every trial (undefined for n = 1)."""
    t = np.arange(1, x.shape[1] + 1)
    means = np.cumsum(x, axis=1) / t
    sq = np.cumsum(x**2, axis=1)
    var = np.maximum(sq - t * means**2, 0) / np.maximum(t - 1, 1)
    half = stats.t.ppf(0.975, np.maximum(t - 1, 1)) * np.sqrt(var / t)
    return means - half, means + half


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--looks", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=10)
    args = parser.parse_args(argv)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {args.runs} runs of {args.looks}"
    )
    print(
        f"trials, looks at every trial from the {FIRST_LOOK}th; coverage with 95% Wilson intervals\n"
    )
    print(
        "| scenario | anytime band, every look | naive band, every look | naive band, last look "
        "only | width at the last look: anytime / naive |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    verdicts = []
    for name, draw in SCENARIOS.items():
        x, truth, low, high = draw(rng, args.runs, args.looks)
        a_low, a_high = sequence_bands(x, 0.05, low, high)
        n_low, n_high = naive_band(x)
        shown = slice(FIRST_LOOK - 1, None)
        anytime = np.all((a_low[:, shown] <= truth) & (truth <= a_high[:, shown]), axis=1)
        naive = np.all((n_low[:, shown] <= truth) & (truth <= n_high[:, shown]), axis=1)
        last = (n_low[:, -1] <= truth) & (truth <= n_high[:, -1])
        width = np.mean(a_high[:, -1] - a_low[:, -1]) / np.mean(n_high[:, -1] - n_low[:, -1])
        print(
            f"| {name} | {wilson_share(int(anytime.sum()), args.runs)} | "
            f"{wilson_share(int(naive.sum()), args.runs)} | {wilson_share(int(last.sum()), args.runs)} | "
            f"{width:.2f}x |"
        )
        verdicts.append((name, anytime.mean(), naive.mean()))
    print()
    for name, anytime, naive in verdicts:
        ok = anytime >= 0.95 and naive < 0.95
        print(
            f"{name}: anytime {anytime:.1%} (goal >= 95%), naive {naive:.1%} (goal < 95%): "
            f"{'meets' if ok else 'MISSES'}"
        )
    print(f"took {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
