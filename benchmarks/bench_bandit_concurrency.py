"""Bandit under concurrency: Thompson sampling regret at 1,000 trials, 32 in flight vs sequential.

Regret is ``sum over trials of (best success rate - chosen arm's success rate)``, from the true rates
of simulated arms and the pulls stored by a real run (``run_experiment_suite``). Sequential runs on
the ``local`` backend; concurrent on ``threads`` with 32 in flight and a 20 ms (+/- 10 ms) trial
latency, so feedback really arrives late and out of order. The same seeds are used on both sides
(the arms' outcomes depend only on the trial seed). Goal: concurrent regret within 1.25x of
sequential.

    python benchmarks/bench_bandit_concurrency.py [--seeds 20] [--trials 1000] [--in-flight 32]
"""

from __future__ import annotations

import argparse
import logging
import math
import sqlite3
import statistics
import tempfile
from contextlib import closing
from pathlib import Path

from meta_orchestrator.core.config import build_config
from meta_orchestrator.hub import run_experiment_suite

ARM_SETS = {
    "spread 0.30-0.75": [0.30, 0.40, 0.50, 0.60, 0.75],
    "close 0.50-0.70": [0.50, 0.55, 0.60, 0.65, 0.70],
}


def regret(rates: list[float], strategy: str, seed: int, trials: int, in_flight: int) -> float:
    latency = 0.0 if in_flight == 1 else 0.02
    variants = {
        f"arm{i}": {
            "type": "simulated",
            "success_rate": rate,
            "latency_mean": latency,
            "latency_sd": latency / 2,
        }
        for i, rate in enumerate(rates)
    }
    backend = (
        {"type": "local"} if in_flight == 1 else {"type": "threads", "max_in_flight": in_flight}
    )
    suite = build_config(
        {
            "name": "bandit-concurrency",
            "seed": seed,
            "variants": variants,
            "experiments": [
                {
                    "name": "bandit",
                    "variants": list(variants),
                    "orchestrator": "mab",
                    "mab_settings": {"strategy": strategy, "total_trials": trials},
                }
            ],
            "execution_backend": backend,
        },
        base_dir=Path.cwd(),
    )
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "runs.db"
        run_experiment_suite(suite, db_path=db, results_dir=tmp)
        with closing(sqlite3.connect(db)) as conn:
            pulls = conn.execute("SELECT variant, COUNT(*) FROM trials GROUP BY variant").fetchall()
    best = max(rates)
    return sum(n * (best - rates[int(variant[3:])]) for variant, n in pulls)


def mean_se(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) / math.sqrt(len(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--strategy", default="thompson_sampling")
    args = parser.parse_args()
    logging.getLogger("meta_orchestrator").setLevel(logging.ERROR)

    rows = []
    for label, rates in ARM_SETS.items():
        sequential, concurrent = [], []
        for seed in range(args.seeds):  # interleaved: same seeds, same machine state
            sequential.append(regret(rates, args.strategy, seed, args.trials, 1))
            concurrent.append(regret(rates, args.strategy, seed, args.trials, args.in_flight))
        rows.append((label, mean_se(sequential), mean_se(concurrent)))

    print(
        f"\nBandit regret under concurrency: {args.strategy}, {args.trials} trials, 5 arms, "
        f"mean +/- standard error over {args.seeds} seeds\n"
    )
    print(
        f"| {'arms (success rates)':<20} | {'sequential':>14} | "
        f"{f'{args.in_flight} in flight':>14} | {'ratio':>5} |"
    )
    print(f"|{'-' * 22}|{'-' * 16}|{'-' * 16}|{'-' * 7}|")
    for label, (seq, seq_se), (con, con_se) in rows:
        print(
            f"| {label:<20} | {seq:>7.1f} +/- {seq_se:<3.1f} | {con:>7.1f} +/- {con_se:<3.1f} | "
            f"{con / seq:>5.2f} |"
        )


if __name__ == "__main__":
    main()
