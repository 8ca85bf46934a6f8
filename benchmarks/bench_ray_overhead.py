"""Ray overhead: no-op trials per second through the Ray backend against raw Ray, on one Ray.

Rows, measured alternately on the same private Ray (best of ``--repeats``):

* ``raw ray``: ``ray.get([f.remote(i) for i in range(n)])`` with a no-op ``f`` and the same
  ``num_cpus`` per task as the backend uses;
* ``RayBackend + orchestrator``: a standard orchestrator dispatching n no-op trials through
  ``RayBackend`` with ``max_in_flight`` kept pending (the trial runner's timeout guard, metric
  validation and scoring included: this is what a trial costs), once with one trial per Ray task
  and once by default (trials this fast share tasks, see ``RayBackend``), then the same two on the
  actor pool (``executor: actors``, started and warmed before the clock starts);
* ``full run``: ``run_experiment_suite``, adding config, the SQLite store, the report and the
  workers' first load of the runner, measured right after the ``RayBackend`` rows on the task
  workers they used (Ray stops idle workers after a second; fresh ones first start a process and
  import meta-orchestrator, which the other rows do before their clock starts too).

Goals: the orchestrated rate (issue 3) and the full run (issue 12, at 2,000 trials) at least 0.8 of
raw Ray.

    python benchmarks/bench_ray_overhead.py [--trials 2000] [--in-flight 32] [--repeats 3]
        [--trials-per-actor 16]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from meta_orchestrator.backends.ray import RayBackend
from meta_orchestrator.core.config import RaySettings, SuiteConfig, build_config
from meta_orchestrator.core.execution import TrialRunner
from meta_orchestrator.driver import drive
from meta_orchestrator.hub import run_experiment_suite
from meta_orchestrator.orchestrators import StandardOrchestrator

PER_TRIAL_CPUS = 0.25


def config(
    trials: int, in_flight: int, executor: str = "tasks", per_actor: int = 16
) -> SuiteConfig:
    return build_config(
        {
            "name": "ray-overhead",
            "variants": {"noop": {"type": "python", "agent": "noop"}},
            "experiments": [{"name": "noop", "variants": ["noop"], "trials_per_variant": trials}],
            "execution_backend": {
                "type": "ray",
                "max_in_flight": in_flight,
                "ray_settings": {
                    "num_cpus_per_trial": PER_TRIAL_CPUS,
                    "executor": executor,
                    "trials_per_actor": per_actor,
                },
            },
        },
        base_dir=Path.cwd(),
    )


def _noop_task(ray: Any) -> Any:
    @ray.remote(num_cpus=PER_TRIAL_CPUS)
    def noop(i: int) -> int:
        return i

    return noop


def warm_workers(ray: Any) -> None:
    """Start Ray's task workers (it stops idle ones after a second) as every row finds them."""
    noop = _noop_task(ray)
    ray.get([noop.remote(i) for i in range(64)])


def raw_ray(ray: Any, trials: int) -> float:
    noop = _noop_task(ray)
    ray.get([noop.remote(i) for i in range(64)])  # warm the task path
    t0 = time.perf_counter()
    ray.get([noop.remote(i) for i in range(trials)])
    return time.perf_counter() - t0


def orchestrated(suite: SuiteConfig, trials: int, batch: bool) -> float:
    backend = RayBackend(
        TrialRunner.from_config(suite),
        suite.execution_backend.in_flight,
        suite.execution_backend.ray_settings,
        batch_fast_trials=batch,
    )
    warm_up = suite.experiments[0].model_copy(update={"trials_per_variant": 64})
    with backend:
        warm = StandardOrchestrator(warm_up, seed=0)
        for _ in drive(warm, backend, run_id="warm", run_seed=0):
            pass  # start the workers and cache the runner on them
        orchestrator = StandardOrchestrator(suite.experiments[0], seed=0)
        t0 = time.perf_counter()
        done = sum(1 for _ in drive(orchestrator, backend, run_id="bench", run_seed=0))
        elapsed = time.perf_counter() - t0
    assert done == trials, done
    return elapsed


def full_run(ray: Any, suite: SuiteConfig, trials: int) -> float:
    """The whole ``run_experiment_suite`` call on the running Ray, its workers started as for the
    raw row (a run's workers still import meta-orchestrator and load the runner on the clock)."""
    warm_workers(ray)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_experiment_suite(suite, db_path=Path(tmp) / "runs.db", results_dir=tmp)
        return time.perf_counter() - t0


def best_of(repeats: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(repeats))


ROWS = [
    ("raw", "raw ray.get([f.remote(i) ...])"),
    ("single", "RayBackend + orchestrator, 1 per task"),
    ("backend", "RayBackend + orchestrator (tasks)"),
    ("actor_single", "actor pool + orchestrator, 1 per call"),
    ("actors", "actor pool + orchestrator (batched)"),
    ("full", "full run, tasks (store + report)"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--num-cpus", type=int, default=2, help="logical CPUs of the local Ray")
    parser.add_argument("--trials-per-actor", type=int, default=RaySettings().trials_per_actor)
    args = parser.parse_args()

    import ray

    ray.init(
        address="local",
        num_cpus=args.num_cpus,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
    )
    logging.getLogger("meta_orchestrator").setLevel(logging.ERROR)
    load = os.getloadavg()[0]
    try:
        suite = config(args.trials, args.in_flight)
        actors = config(args.trials, args.in_flight, "actors", args.trials_per_actor)
        times: dict[str, list[float]] = {key: [] for key, _ in ROWS}
        for _ in range(args.repeats):  # interleaved, so drift in the machine hits every row
            times["single"].append(orchestrated(suite, args.trials, batch=False))
            times["backend"].append(orchestrated(suite, args.trials, batch=True))
            # Raw Ray and the full run next, while the task workers are alive: the actor pool's
            # rows take long enough for Ray to stop idle workers, and starting 8 worker processes
            # again would be timed in whichever row came first.
            times["raw"].append(raw_ray(ray, args.trials))
            times["full"].append(full_run(ray, suite, args.trials))
            times["actor_single"].append(orchestrated(actors, args.trials, batch=False))
            times["actors"].append(orchestrated(actors, args.trials, batch=True))
    finally:
        ray.shutdown()

    raw_rate = args.trials / min(times["raw"])
    print(
        f"\nRay overhead: {args.trials} no-op trials, max_in_flight {args.in_flight}, "
        f"{PER_TRIAL_CPUS} CPU per task, local Ray with {args.num_cpus} CPUs, "
        f"best of {args.repeats}, trials_per_actor {args.trials_per_actor}; "
        f"load average before: {load:.1f} on {os.cpu_count()} cores\n"
    )
    print(f"| {'mode':<38} | {'seconds':>8} | {'trials/s':>9} | {'vs raw':>6} |")
    print(f"|{'-' * 40}|{'-' * 10}|{'-' * 11}|{'-' * 8}|")
    for key, label in ROWS:
        seconds = min(times[key])
        rate = args.trials / seconds
        print(f"| {label:<38} | {seconds:>8.3f} | {rate:>9.0f} | {rate / raw_rate:>6.2f} |")


if __name__ == "__main__":
    main()
