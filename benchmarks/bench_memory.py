"""Scale: peak memory of a 200,000-trial no-op run against a 20,000-trial one.

    python benchmarks/bench_memory.py [--sizes 20000 200000] [--no-tracemalloc] [--samples 20000]

Each measurement runs in a fresh process (``--child``) so that peaks do not carry over. A child runs
``run_experiment_suite`` with the ``noop`` variant (standard orchestrator, local backend,
``timeout_seconds: null``) into a new store and reports:

* peak RSS when the last trial is committed (the trial phase) and at the end of the call (the
  report — ``results.json``, ``summary.md`` — included), from ``getrusage``;
* in a separate child, the peak of Python allocations during the trial phase (``tracemalloc``),
  which leaves out the interpreter and the libraries and so shows growth more sharply.

With ``--samples N`` (default 20,000; 0 skips it) the same sizes run again over a synthetic
dataset of N samples (20,000 trials: one epoch; 200,000: ten), so the samples are loaded, stored,
carried by every trial and summarised per sample in the report.

Goal (issues 2 and 9): the large run's peak within 20% of the small run's, with and without samples.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from meta_orchestrator.listener import RunListener

MIB = 1024 * 1024


def _rss_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MIB  # Linux: KiB


class _TrialPhase(RunListener):
    """Notes the peaks once the last trial is committed, then stops tracing (if any)."""

    def __init__(self, db: Path, trials: int) -> None:
        self.db = db
        self.trials = trials
        self.peaks: dict[str, float] = {}
        self.seconds = 0.0
        self.started = time.perf_counter()

    def on_trial(self, result: Any, leaderboard: Any) -> None:
        if leaderboard.total < self.trials:
            return
        from meta_orchestrator.store import RunStore

        with RunStore(self.db) as store:
            while store.trial_count(result.run_id) < self.trials:
                time.sleep(0.005)
        self.seconds = time.perf_counter() - self.started
        self.peaks["rss_trials"] = _rss_peak_mib()
        if tracemalloc.is_tracing():
            self.peaks["traced_trials"] = tracemalloc.get_traced_memory()[1] / MIB
            tracemalloc.stop()


def child(trials: int, trace: bool, samples: int = 0) -> dict[str, float]:
    from meta_orchestrator.hub import run_experiment_suite

    experiment: dict[str, Any] = {"name": "e", "variants": ["noop"], "trials_per_variant": trials}
    config: dict[str, Any] = {
        "name": "memory",
        "seed": 1,
        "variants": {"noop": {"type": "python", "agent": "noop"}},
        "experiments": [experiment],
        "trial": {"timeout_seconds": None},
    }
    if samples:
        config["datasets"] = {"tasks": {"type": "synthetic", "size": samples}}
        del experiment["trials_per_variant"]
        experiment.update(dataset="tasks", epochs=max(1, trials // samples))
    with tempfile.TemporaryDirectory(prefix="mo-mem-") as tmp:
        db = Path(tmp) / "store.db"
        phase = _TrialPhase(db, trials)
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        run_experiment_suite(config, db_path=db, results_dir=Path(tmp), listener=phase)
        whole = time.perf_counter() - started
    return {**phase.peaks, "rss_whole": _rss_peak_mib(), "trial_s": phase.seconds, "whole_s": whole}


def measure(trials: int, trace: bool, samples: int = 0) -> dict[str, float]:
    args = [sys.executable, __file__, "--child", str(trials), "--samples", str(samples)]
    args += ["--trace"] if trace else []
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child for {trials} trials failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[20_000, 200_000])
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the traced children")
    parser.add_argument(
        "--samples", type=int, default=20_000, help="dataset size of the second table (0: none)"
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.trace, args.samples)))
        return 0

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; one fresh process per cell\n")
    worst = table(args.sizes, 0, not args.no_tracemalloc)
    if args.samples:
        print(f"\nover a synthetic dataset of {args.samples:,} samples:\n")
        worst = max(worst, table(args.sizes, args.samples, not args.no_tracemalloc))
    verdict = "meets" if worst <= 1.2 else "misses"
    print(
        f"\nworst peak RSS of the whole run, large / small: {worst:.2f} — {verdict} the goal of <= 1.20"
    )
    return 0


def table(sizes: list[int], samples: int, trace: bool) -> float:
    """Print one table; return the whole-run peak RSS ratio, large / small."""
    small, large = sizes
    rows = {size: measure(size, False, samples) for size in (small, large)}
    if trace:
        for size in (small, large):
            rows[size]["traced_trials"] = measure(size, True, samples)["traced_trials"]

    columns = [
        ("rss_trials", "peak RSS, trial phase (MiB)"),
        ("rss_whole", "peak RSS, whole run incl. report (MiB)"),
        ("traced_trials", "peak Python allocations, trial phase (MiB, tracemalloc)"),
    ]
    print(f"| measure | {small:,} trials | {large:,} trials | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for key, label in columns:
        if key in rows[small]:
            a, b = rows[small][key], rows[large][key]
            print(f"| {label} | {a:.1f} | {b:.1f} | {b / a:.2f} |")
    for key, label in (("trial_s", "trial phase (s)"), ("whole_s", "whole run (s)")):
        print(f"| {label} | {rows[small][key]:.1f} | {rows[large][key]:.1f} | |")
    return rows[large]["rss_whole"] / rows[small]["rss_whole"]


if __name__ == "__main__":
    sys.exit(main())
