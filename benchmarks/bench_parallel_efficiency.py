"""Parallel efficiency: 400 trials of a 50 ms I/O-bound (sleeping) variant, 32 in flight.

Each backend runs the same config through ``run_experiment_suite`` (store and report included);
efficiency is the ideal wall time over the measured one. The ideal is ``ceil(trials / in_flight) *
latency``: 32 slots cannot finish 400 trials of 50 ms in less than 13 rounds. ``ray tasks`` and
``ray actors`` are the two ``ray_settings.executor`` values; their runs share one local Ray kept
running (as with ``address: auto`` on a running cluster) and a warm-up run starts its workers (an
actor run starts its own pool each time, inside its measured time); ``raw ray`` is measured just
before each of their runs. ``ray cold`` is one run per executor that starts its own Ray, for
reference. Goal: at least 0.85 on ``threads`` and ``ray``.

    python benchmarks/bench_parallel_efficiency.py [--trials 400] [--latency 0.05] [--in-flight 32]
        [--trials-per-actor 16]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from meta_orchestrator.backends.ray import RayBackend
from meta_orchestrator.core.config import RaySettings, SuiteConfig, build_config
from meta_orchestrator.core.execution import TrialRunner
from meta_orchestrator.hub import run_experiment_suite

PER_TRIAL = 0.25


def config(
    kind: str, trials: int, latency: float, in_flight: int, per_actor: int = 16
) -> SuiteConfig:
    """``kind``: ``local``, ``threads``, ``ray tasks`` or ``ray actors``."""
    backend: dict[str, Any] = {"type": kind.split()[0], "max_in_flight": in_flight}
    if kind.startswith("ray"):
        # I/O-bound trials: a quarter of a CPU each, and enough logical CPUs for every slot.
        backend["ray_settings"] = {
            "num_cpus": math.ceil(in_flight * PER_TRIAL),
            "num_cpus_per_trial": PER_TRIAL,
            "executor": kind.split()[1],
            "trials_per_actor": per_actor,
        }
    return build_config(
        {
            "name": f"efficiency-{kind.replace(' ', '-')}",
            "variants": {"sleepy": {"type": "simulated", "latency_mean": latency}},
            "experiments": [{"name": "io", "variants": ["sleepy"], "trials_per_variant": trials}],
            "execution_backend": backend,
        },
        base_dir=Path.cwd(),
    )


def measure(
    suite: SuiteConfig, repeats: int, alongside: Callable[[], float] | None = None
) -> tuple[list[float], list[float]]:
    """Best-of timings of the run, and of ``alongside`` measured just before each run."""
    times, other = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats + 1):  # the first run warms the workers up
            if i and alongside is not None:
                other.append(alongside())
            t0 = time.perf_counter()
            run_experiment_suite(suite, db_path=Path(tmp) / "runs.db", results_dir=tmp)
            if i:
                times.append(time.perf_counter() - t0)
    return times, other


def raw_ray(trials: int, latency: float) -> Callable[[], float]:
    """Plain Ray on the same instance: every trial submitted at once, the same CPU share."""
    import ray

    @ray.remote(num_cpus=PER_TRIAL)
    def sleepy(i: int) -> int:
        time.sleep(latency)
        return i

    def run() -> float:
        t0 = time.perf_counter()
        ray.get([sleepy.remote(i) for i in range(trials)])
        return time.perf_counter() - t0

    return run


def cold_ray(args: argparse.Namespace, kind: str) -> float:
    """One run that starts (and stops) its own private Ray: what a single CLI run pays."""
    suite = config(kind, args.trials, args.latency, args.in_flight, args.trials_per_actor)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_experiment_suite(suite, db_path=Path(tmp) / "runs.db", results_dir=tmp)
        return time.perf_counter() - t0


RAY_KINDS = ("ray tasks", "ray actors")


def warm_ray(args: argparse.Namespace) -> list[tuple[str, float]]:
    """Best times of raw Ray and of each executor, on one local Ray kept running across runs."""
    suites = {
        kind: config(kind, args.trials, args.latency, args.in_flight, args.trials_per_actor)
        for kind in RAY_KINDS
    }
    first = suites[RAY_KINDS[0]]
    keeper = RayBackend(  # a Ray kept running across the runs, started as the backend would
        TrialRunner.from_config(first), args.in_flight, first.execution_backend.ray_settings
    )
    keeper.start()
    alongside = raw_ray(args.trials, args.latency)
    best: dict[str, float] = {}
    raw: list[float] = []
    try:
        for kind, suite in suites.items():
            times, raw_times = measure(suite, args.repeats, alongside)
            best[kind] = min(times)
            raw.extend(raw_times)
    finally:
        keeper.close()
    return [("raw ray", min(raw)), *best.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials-per-actor", type=int, default=RaySettings().trials_per_actor)
    args = parser.parse_args()
    logging.getLogger("meta_orchestrator").setLevel(logging.ERROR)
    load = os.getloadavg()[0]

    rows = []
    cold = {kind: cold_ray(args, kind) for kind in RAY_KINDS}
    for kind in ("local", "threads"):
        in_flight = 1 if kind == "local" else args.in_flight
        trials = args.trials if kind != "local" else max(args.trials // 8, 1)
        times, _ = measure(config(kind, trials, args.latency, in_flight), 1)
        rows.append(
            (kind, in_flight, trials, math.ceil(trials / in_flight) * args.latency, min(times))
        )
    ideal = math.ceil(args.trials / args.in_flight) * args.latency
    rows.extend((kind, args.in_flight, args.trials, ideal, best) for kind, best in warm_ray(args))
    rows.extend((f"{kind} cold", args.in_flight, args.trials, ideal, t) for kind, t in cold.items())

    print(
        f"\nParallel efficiency: {args.latency * 1000:.0f} ms sleeping variant, "
        f"ideal = ceil(trials / in_flight) x latency, best of {args.repeats} after a warm-up "
        f"run; load average before: {load:.1f} on {os.cpu_count()} cores\n"
    )
    print(
        f"| {'backend':<15} | {'in flight':>9} | {'trials':>6} | {'ideal s':>7} | "
        f"{'measured s':>10} | {'efficiency':>10} |"
    )
    print(f"|{'-' * 17}|{'-' * 11}|{'-' * 8}|{'-' * 9}|{'-' * 12}|{'-' * 12}|")
    for kind, in_flight, trials, run_ideal, best in rows:
        print(
            f"| {kind:<15} | {in_flight:>9} | {trials:>6} | {run_ideal:>7.3f} | {best:>10.3f} | "
            f"{run_ideal / best:>10.2f} |"
        )
    print(
        "\nraw ray: ray.get([f.remote(i) for i in range(trials)]) with the same sleep and CPU "
        f"share, on the same Ray, for reference. ray actors: trials_per_actor "
        f"{args.trials_per_actor}.\n... cold: one run that starts its own private Ray and its "
        "workers (not a goal row)."
    )


if __name__ == "__main__":
    main()
