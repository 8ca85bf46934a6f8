"""Harness overhead: no-op trials per second through the engine against a bare loop, side by side.

    python benchmarks/bench_overhead.py [--trials 50000] [--repeats 3] [--profile]

The bare loop is the least any harness must do per trial: build the context, call the ``noop``
variant, time it, and INSERT the same 17-column row into a run store opened the same way (WAL,
``synchronous=NORMAL``), committing every 100 ms as the engine's writer does. The engine runs the
same variant through ``run_experiment_suite``: config, standard orchestrator, local backend,
trial runner (validation, scoring), leaderboard, and the store writer thread.

Rounds alternate bare loop and engine so that drift on a shared machine hits both alike; the table
shows medians. "trial phase" runs from the ``run_experiment_suite`` call until its last trial is
committed (seen by a reader); "whole call" also includes the report written after the last trial
(``results.json``, ``summary.md``; a run this big has a results follower, ``analysis.results_follower``,
write the trials' text during the run, so the report copies it). The goal (issue 2) is a trial phase at least half the bare loop's rate with the
same semantics: ``timeout_seconds: null``. The default per-trial timeout (60 s) is shown too, trial
phase and whole call (issue 12's goals: at least half the bare loop): the local backend then runs
trials on a lane thread its driver watches (so a hung agent can be abandoned), queued ahead. The
dataset row runs the same number of trials over the built-in synthetic dataset (10,000 samples,
epochs to match; issue 9): each trial carries its sample, and the run reads and stores the samples.

``--profile`` prints the engine's hottest functions (cProfile, main thread) after the table.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from meta_orchestrator.core.variants.examples import noop_agent
from meta_orchestrator.hub import run_experiment_suite
from meta_orchestrator.listener import RunListener
from meta_orchestrator.store import RunStore
from meta_orchestrator.store.connection import connect_for_writing

INSERT = """
INSERT INTO trials (run_id, experiment, variant, trial_index, seed, status, started_at, ended_at,
    latency, score, success, cost, metrics_json, error, traceback, attempts, node_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
COMMIT_EVERY = 0.1


def bare_loop(db: Path, trials: int) -> float:
    """Seconds to run ``trials`` no-op trials by hand: call, time, INSERT, commit every 100 ms."""
    conn = connect_for_writing(db)
    conn.execute(
        "INSERT INTO runs (id, name, status, orchestrator, backend, seed, planned_trials, "
        "config_yaml, started_at, package_version) "
        "VALUES ('bare', 'bare', 'running', 'loop', 'none', 0, ?, '', ?, '0')",
        (trials, time.time()),
    )
    conn.commit()
    host = socket.gethostname()
    started = time.perf_counter()
    last_commit = time.monotonic()
    for index in range(trials):
        context = {"run_id": "bare", "experiment": "e", "variant": "noop", "trial_index": index}
        context["seed"] = index
        wall = time.time()
        t0 = time.perf_counter()
        raw = noop_agent(context)
        latency = time.perf_counter() - t0
        metrics = {"success": float(raw["success"]), "cost": 0.0, "latency": latency}
        score = metrics["success"]
        conn.execute(
            INSERT,
            ("bare", "e", "noop", index, index, "ok", wall, wall + latency, latency, score)
            + (metrics["success"], 0.0, json.dumps(metrics), None, None, 1, host),
        )
        if time.monotonic() - last_commit >= COMMIT_EVERY:
            conn.commit()
            last_commit = time.monotonic()
    conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


DATASET_SIZE = 10_000


def engine_config(trials: int, timeout: float | None, dataset: bool = False) -> dict[str, Any]:
    experiment: dict[str, Any] = {"name": "e", "variants": ["noop"], "trials_per_variant": trials}
    config: dict[str, Any] = {
        "name": "overhead",
        "seed": 1,
        "variants": {"noop": {"type": "python", "agent": "noop"}},
        "experiments": [experiment],
        "trial": {"timeout_seconds": timeout},
    }
    if dataset:
        size = min(trials, DATASET_SIZE)
        config["datasets"] = {"tasks": {"type": "synthetic", "size": size}}
        del experiment["trials_per_variant"]
        experiment.update(dataset="tasks", epochs=max(1, trials // size))
    return config


class _Committed(RunListener):
    """A run listener that notes when the last trial is committed (visible to another reader).

    From the last trial on, a thread of its own polls the store, so that the engine goes on to its
    report at once, as it does without the listener (waiting here for the writer's next timed
    commit would add up to ``COMMIT_INTERVAL`` to the whole call).
    """

    def __init__(self, db: Path, trials: int) -> None:
        self.db = db
        self.trials = trials
        self.at: float | None = None
        self._watch: threading.Thread | None = None

    def on_trial(self, result: Any, leaderboard: Any) -> None:
        if leaderboard.total == self.trials:
            self._watch = threading.Thread(target=self._wait_for_commit, args=(result.run_id,))
            self._watch.start()

    def _wait_for_commit(self, run_id: str) -> None:
        with RunStore(self.db) as store:
            while store.trial_count(run_id) < self.trials:
                time.sleep(0.002)
        self.at = time.perf_counter()

    def join(self) -> None:
        if self._watch is not None:
            self._watch.join()


def engine(
    folder: Path, trials: int, timeout: float | None, dataset: bool = False
) -> tuple[float, float]:
    """(trial phase, whole call) seconds of one ``run_experiment_suite`` of no-op trials.

    The trial phase runs from the call to the last trial committed: config, store, orchestrator,
    every trial and its row, not the report written after the last trial.
    """
    db = folder / "engine.db"
    committed = _Committed(db, trials)
    started = time.perf_counter()
    run_experiment_suite(
        engine_config(trials, timeout, dataset), db_path=db, results_dir=folder, listener=committed
    )
    whole = time.perf_counter() - started
    committed.join()
    assert committed.at is not None
    return committed.at - started, whole


def _fresh(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir()
    return folder


def measure(trials: int, repeats: int) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {}

    def add(key: str, seconds: float) -> None:
        rates.setdefault(key, []).append(trials / seconds)

    with tempfile.TemporaryDirectory(prefix="mo-bench-") as tmp:
        root = Path(tmp)
        for round_ in range(repeats):
            add("bare", bare_loop(_fresh(root, f"bare{round_}") / "bare.db", trials))
            trial_phase, whole = engine(_fresh(root, f"null{round_}"), trials, None)
            add("null-trials", trial_phase)
            add("null-whole", whole)
            trial_phase, whole = engine(_fresh(root, f"watch{round_}"), trials, 60.0)
            add("watchdog-trials", trial_phase)
            add("watchdog-whole", whole)
            trial_phase, whole = engine(_fresh(root, f"data{round_}"), trials, None, dataset=True)
            add("dataset-trials", trial_phase)
            add("dataset-whole", whole)
    return rates


ROWS: list[tuple[str, str]] = [
    ("bare", "bare loop: call `noop`, time it, INSERT the row, commit every 100 ms"),
    ("null-trials", "run_experiment_suite, `timeout_seconds: null`: trial phase"),
    ("null-whole", "run_experiment_suite, `timeout_seconds: null`: whole call incl. report"),
    ("watchdog-trials", "run_experiment_suite, `timeout_seconds: 60` (default): trial phase"),
    ("watchdog-whole", "run_experiment_suite, `timeout_seconds: 60` (default): whole call"),
    ("dataset-trials", "run_experiment_suite over a 10,000-sample dataset, `null`: trial phase"),
    ("dataset-whole", "run_experiment_suite over a 10,000-sample dataset: whole call incl. report"),
]


def print_table(rates: dict[str, list[float]], trials: int, repeats: int) -> None:
    bare = statistics.median(rates["bare"])
    print(f"\n{trials:,} no-op trials per run; median of {repeats} alternating rounds\n")
    print("| loop | trials/s | vs bare loop |")
    print("| --- | ---: | ---: |")
    for key, label in ROWS:
        rate = statistics.median(rates[key])
        print(f"| {label} | {rate:,.0f} | {rate / bare:.2f} |")
    print()
    for key, what in (
        ("null-trials", "engine / bare loop (same semantics)"),
        ("watchdog-trials", "engine with the default timeout / bare loop"),
        ("watchdog-whole", "whole call with the default timeout / bare loop"),
    ):
        ratio = statistics.median(rates[key]) / bare
        verdict = "meets" if ratio >= 0.5 else "misses"
        print(f"{what}: {ratio:.2f} — {verdict} the goal of >= 0.5")
    cost = statistics.median(rates["watchdog-trials"]) / statistics.median(rates["null-trials"])
    print(f"default timeout / no timeout, trial phase: {cost:.2f}")


def profile(trials: int) -> None:
    with tempfile.TemporaryDirectory(prefix="mo-prof-") as tmp:
        profiler = cProfile.Profile()
        profiler.enable()
        run_experiment_suite(
            engine_config(trials, None), db_path=Path(tmp) / "p.db", results_dir=Path(tmp) / "r"
        )
        profiler.disable()
    print("\nengine profile (main thread, timeout_seconds: null), by own time:")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(15)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one engine run too")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {socket.gethostname()}")
    print_table(measure(args.trials, args.repeats), args.trials, args.repeats)
    if args.profile:
        profile(args.trials)
    return 0


if __name__ == "__main__":
    sys.exit(main())
