"""The price of the per-trial timeout on the local backend: three ways to run no-op trials.

    python benchmarks/bench_watchdog.py [--trials 30000] [--rounds 4]

The standard orchestrator, the local backend and the trial runner dispatch ``--trials`` no-op
trials (no store: the difference is the point), alternately in one process, medians of
``--rounds``:

* ``inline``: ``timeout_seconds: null``, the agent called on the driver's thread;
* ``hand-off``: ``timeout_seconds: 60``, each trial handed to a watchdog thread and waited for
  (``core.execution.call_with_timeout``; what the local backend did before issue 12, and what
  thread-pool and actor-pool trials still do);
* ``lane``: ``timeout_seconds: 60``, the local backend's watched lane (``backends/local.py``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from meta_orchestrator.backends.local import LocalBackend
from meta_orchestrator.core.config import SuiteConfig, load_config
from meta_orchestrator.core.execution import TrialRunner
from meta_orchestrator.driver import drive
from meta_orchestrator.orchestrators import create_orchestrator


def config(trials: int, timeout: float | None) -> SuiteConfig:
    return load_config(
        {
            "name": "watchdog",
            "variants": {"noop": {"type": "python", "agent": "noop"}},
            "experiments": [{"name": "e", "variants": ["noop"], "trials_per_variant": trials}],
            "trial": {"timeout_seconds": timeout},
        }
    )


def rate(suite: SuiteConfig, lane: bool) -> float:
    orchestrator = create_orchestrator(suite.experiments[0], 1, suite.scoring_weights)
    backend = LocalBackend(TrialRunner.from_config(suite))
    backend._watched = lane  # False with a timeout: the runner hands each trial off itself
    started = time.perf_counter()
    with backend:
        done = sum(1 for _ in drive(orchestrator, backend, run_id="r", run_seed=1))
    return done / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    plain, timed = config(args.trials, None), config(args.trials, 60.0)
    rows: dict[str, list[float]] = {"inline": [], "hand-off": [], "lane": []}
    for _ in range(args.rounds):
        rows["inline"].append(rate(plain, lane=False))
        rows["hand-off"].append(rate(timed, lane=False))
        rows["lane"].append(rate(timed, lane=True))
    inline = statistics.median(rows["inline"])
    print(
        f"{args.trials:,} no-op trials, median of {args.rounds} alternating rounds, "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| local backend | trials/s | vs inline (no timeout) |")
    print("| --- | ---: | ---: |")
    for name, label in (
        ("inline", "`timeout_seconds: null`, inline"),
        ("hand-off", "`timeout_seconds: 60`, a watchdog hand-off per trial (before)"),
        ("lane", "`timeout_seconds: 60`, the watched lane (now)"),
    ):
        value = statistics.median(rows[name])
        print(f"| {label} | {value:,.0f} | {value / inline:.2f} |")
    gain = statistics.median(rows["lane"]) / statistics.median(rows["hand-off"])
    print(f"\nlane / hand-off: {gain:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
