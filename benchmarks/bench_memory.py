"""Scale: peak memory of a 200,000-trial no-op run against a 20,000-trial one.

    python benchmarks/bench_memory.py [--sizes 20000 200000] [--no-tracemalloc]

Each measurement runs in a fresh process (``--child``) so that peaks do not carry over. A child runs
``run_experiment_suite`` with the ``noop`` variant (standard orchestrator, local backend,
``timeout_seconds: null``) into a new store and reports:

* peak RSS when the last trial is committed (the trial phase) and at the end of the call (the
  report — ``results.json``, ``summary.md`` — included), from ``getrusage``;
* in a separate child, the peak of Python allocations during the trial phase (``tracemalloc``),
  which leaves out the interpreter and the libraries and so shows growth more sharply.

Goal (issue 2): the large run's peak within 20% of the small run's.
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


def child(trials: int, trace: bool) -> dict[str, float]:
    from meta_orchestrator.hub import run_experiment_suite

    config = {
        "name": "memory",
        "seed": 1,
        "variants": {"noop": {"type": "python", "agent": "noop"}},
        "experiments": [{"name": "e", "variants": ["noop"], "trials_per_variant": trials}],
        "trial": {"timeout_seconds": None},
    }
    with tempfile.TemporaryDirectory(prefix="mo-mem-") as tmp:
        db = Path(tmp) / "store.db"
        phase = _TrialPhase(db, trials)
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        run_experiment_suite(config, db_path=db, results_dir=Path(tmp), listener=phase)
        whole = time.perf_counter() - started
    return {**phase.peaks, "rss_whole": _rss_peak_mib(), "trial_s": phase.seconds, "whole_s": whole}


def measure(trials: int, trace: bool) -> dict[str, float]:
    args = [sys.executable, __file__, "--child", str(trials)] + (["--trace"] if trace else [])
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child for {trials} trials failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[20_000, 200_000])
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the traced children")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.trace)))
        return 0

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; one fresh process per cell\n")
    small, large = args.sizes
    rows = {size: measure(size, trace=False) for size in (small, large)}
    if not args.no_tracemalloc:
        for size in (small, large):
            rows[size]["traced_trials"] = measure(size, trace=True)["traced_trials"]

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
    ratio = rows[large]["rss_whole"] / rows[small]["rss_whole"]
    verdict = "meets" if ratio <= 1.2 else "misses"
    print(
        f"\npeak RSS of the whole run, large / small: {ratio:.2f} — {verdict} the goal of <= 1.20"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
