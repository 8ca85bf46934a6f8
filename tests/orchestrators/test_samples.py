"""Orchestrators on a dataset keep variants paired: every variant walks the same sample sequence,
and no (variant, sample, epoch) runs twice or goes missing, whatever the completion order, with 32
in flight on threads and on Ray, and across SIGINT + resume."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml

from meta_orchestrator.backends.base import Backend
from meta_orchestrator.core.config import SuiteConfig, build_config
from meta_orchestrator.core.trial import TrialResult, TrialSpec, trial_seed
from meta_orchestrator.driver import drive
from meta_orchestrator.errors import ConfigError
from meta_orchestrator.hub import resume_run, run_experiment_suite
from meta_orchestrator.orchestrators import Orchestrator, create_orchestrator
from meta_orchestrator.orchestrators.samples import SampleOrder
from meta_orchestrator.store import RunStore
from tests.backends.helpers import rows
from tests.conftest import ray_or_skip
from tests.helpers import InterruptAfter

VARIANTS = ["a", "b", "c"]
CLI = [sys.executable, "-m", "meta_orchestrator.cli"]


def config_of(
    size: int,
    epochs: int,
    orchestrator: str = "standard",
    total: int | None = None,
    backend: dict[str, Any] | None = None,
    latency: float = 0.0,
    rates: tuple[float, ...] = (0.3, 0.5, 0.8),
) -> dict[str, Any]:
    experiment: dict[str, Any] = {
        "name": "e",
        "variants": VARIANTS,
        "dataset": "tasks",
        "epochs": epochs,
        "orchestrator": orchestrator,
    }
    if orchestrator == "mab":
        experiment["mab_settings"] = {"strategy": "thompson_sampling", "total_trials": total}
    return {
        "name": "paired",
        "seed": 4,
        "variants": {
            v: {
                "type": "simulated",
                "success_rate": r,
                "latency_mean": latency,
                "latency_sd": latency / 2,
            }
            for v, r in zip(VARIANTS, rates, strict=True)
        },
        "datasets": {"tasks": {"type": "synthetic", "size": size, "seed": 2}},
        "experiments": [experiment],
        "execution_backend": backend or {"type": "local"},
        "trial": {"timeout_seconds": 30},
    }


def orchestrator_of(config: SuiteConfig) -> Orchestrator:
    experiment = config.experiments[0]
    ids = config.dataset("tasks").ids
    return create_orchestrator(experiment, config.seed, config.weights_for(experiment), ids)


def order_of(config: SuiteConfig) -> SampleOrder:
    """The sequence the orchestrator walks: the dataset shuffled by the experiment's seed."""
    experiment = config.experiments[0]
    seed = trial_seed(config.seed, experiment.name, -1)
    return SampleOrder(config.dataset("tasks").ids, experiment.epochs, seed)


class ShuffledBackend(Backend):
    """Runs nothing: finishes a random pending trial each time, so feedback arrives in any order."""

    name = "shuffled"

    def __init__(self, max_in_flight: int, seed: int = 0) -> None:
        super().__init__(max_in_flight)
        self.pending: list[TrialSpec] = []
        self.rng = random.Random(seed)

    @property
    def in_flight(self) -> int:
        return len(self.pending)

    def submit(self, spec: TrialSpec) -> None:
        self.pending.append(spec)

    def next_result(self, timeout: float | None = None) -> TrialResult | None:
        if not self.pending:
            return None
        spec = self.pending.pop(self.rng.randrange(len(self.pending)))
        success = float(spec.seed % 3 != 0)
        return TrialResult(
            spec.run_id, spec.experiment, spec.variant, spec.index, spec.seed, "ok", 0.0, 0.0, 0.0,
            metrics={"success": success, "cost": 0.0, "latency": 0.0}, score=success,
            sample_id=spec.sample_id, epoch=spec.epoch,
        )  # fmt: skip

    def cancel_all(self) -> None:
        self.pending.clear()


def assert_paired(
    trials: list[Any], order: SampleOrder, every: bool, variants: list[str] = VARIANTS
) -> dict[str, int]:
    """Each variant's trials are exactly the first n_v positions of the shared sequence, once each
    (``every``: n_v is the whole sequence); returns n_v per variant."""
    keys = [(t.variant, t.sample_id, t.epoch) for t in trials]
    duplicated = [k for k, n in Counter(keys).items() if n > 1]
    assert not duplicated, f"ran twice: {duplicated[:5]}"
    counts = {}
    for variant in variants:
        positions = {order.position(s, e) for v, s, e in keys if v == variant}
        assert positions == set(range(len(positions))), f"{variant} skipped a sample"
        counts[variant] = len(positions)
    if every:
        assert set(counts.values()) == {order.length}
    return counts


# ----------------------------------------------------------------------------- dispatch order
def test_standard_is_sample_major_with_the_variant_order_rotated_per_sample(tmp_path: Path) -> None:
    config = build_config(config_of(size=4, epochs=2), base_dir=tmp_path)
    orchestrator = orchestrator_of(config)
    order = order_of(config)
    proposals = []
    while (proposal := orchestrator.propose()) is not None:
        proposals.append(proposal)
    assert len(proposals) == orchestrator.planned_trials == 4 * 2 * 3
    assert order.ids != config.dataset("tasks").ids  # shuffled once per run ...
    expected = []
    for epoch in range(2):
        for offset, sample in enumerate(order.ids):  # ... and the same order every epoch
            turn = [VARIANTS[(j + epoch * 4 + offset) % 3] for j in range(3)]
            expected += [(v, sample, epoch) for v in turn]
    assert [(p.variant, p.sample_id, p.epoch) for p in proposals] == expected
    assert [p.index for p in proposals] == list(range(24))
    # Each variant goes first on about a third of the samples: none is always first.
    assert Counter(expected[i][0] for i in range(0, 24, 3)) == {"a": 3, "b": 3, "c": 2}


@pytest.mark.parametrize("orchestrator", ["standard", "mab"])
def test_any_completion_order_gives_every_variant_the_same_sequence(
    tmp_path: Path, orchestrator: str
) -> None:
    config = build_config(
        config_of(size=30, epochs=2, orchestrator=orchestrator, total=150), base_dir=tmp_path
    )
    subject = orchestrator_of(config)
    results = list(
        drive(
            subject,
            ShuffledBackend(32, seed=9),
            run_id="r",
            run_seed=4,
            dataset=config.dataset("tasks"),
        )
    )
    assert len(results) == subject.planned_trials == (180 if orchestrator == "standard" else 150)
    counts = assert_paired(results, order_of(config), every=orchestrator == "standard")
    assert sum(counts.values()) == len(results)


def test_a_bandit_stops_choosing_a_variant_at_the_end_of_the_dataset(tmp_path: Path) -> None:
    config = build_config(
        config_of(size=4, epochs=2, orchestrator="mab", total=1000), base_dir=tmp_path
    )
    subject = orchestrator_of(config)
    assert subject.planned_trials == 4 * 2 * 3  # the budget is capped by the dataset
    results = list(
        drive(subject, ShuffledBackend(8), run_id="r", run_seed=4, dataset=config.dataset("tasks"))
    )
    assert_paired(results, order_of(config), every=True)
    assert subject.propose() is None


@pytest.mark.parametrize("orchestrator", ["standard", "mab"])
def test_restore_fills_the_gaps_an_interrupt_left_and_runs_nothing_twice(
    tmp_path: Path, orchestrator: str
) -> None:
    raw = config_of(size=20, epochs=2, orchestrator=orchestrator, total=90)
    config = build_config(raw, base_dir=tmp_path)
    dataset = config.dataset("tasks")
    first = orchestrator_of(config)
    backend = ShuffledBackend(16, seed=1)
    stream = drive(first, backend, run_id="r", run_seed=4, dataset=dataset)
    kept = [next(stream) for _ in range(37)]  # then Ctrl-C: 16 in flight are lost
    stream.close()
    assert backend.in_flight == 0
    gaps = assert_paired_gaps(kept, order_of(config))
    assert gaps > 0, "the interrupt should have left gaps"

    second = orchestrator_of(config)
    second.restore(kept)
    rest = list(drive(second, ShuffledBackend(16, seed=2), run_id="r", run_seed=4, dataset=dataset))
    everything = kept + rest
    assert len(everything) == first.planned_trials
    assert_paired(everything, order_of(config), every=orchestrator == "standard")
    assert len({t.index for t in everything}) == len(everything)


def assert_paired_gaps(trials: list[Any], order: SampleOrder) -> int:
    """How many positions below a variant's furthest stored one are missing."""
    missing = 0
    for variant in VARIANTS:
        positions = {order.position(t.sample_id, t.epoch) for t in trials if t.variant == variant}
        if positions:
            missing += max(positions) + 1 - len(positions)
    return missing


# ------------------------------------------------------------------------ real concurrent runs
def stored(db: Path) -> list[Any]:
    with RunStore(db) as store:
        (run,) = store.list_runs()
        return [t for _, t in store.iter_trials(run.id)]


@pytest.mark.parametrize("kind", ["threads", "ray"])
@pytest.mark.parametrize("orchestrator", ["standard", "mab"])
def test_32_in_flight_keeps_the_variants_paired(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str, orchestrator: str
) -> None:
    if kind == "ray":
        request.getfixturevalue("ray_local")
    backend = {"type": kind, "max_in_flight": 32}
    raw = config_of(
        size=40, epochs=2, orchestrator=orchestrator, total=200, backend=backend, latency=0.01
    )
    config = build_config(raw, base_dir=tmp_path)
    db = tmp_path / "runs.db"
    run_experiment_suite(config, db_path=db, results_dir=tmp_path / "out")
    trials = stored(db)
    assert len(trials) == (240 if orchestrator == "standard" else 200)
    assert all(t.status == "ok" for t in trials)
    assert_paired(trials, order_of(config), every=orchestrator == "standard")
    starts = sorted(t.started_at for t in trials)
    assert any(b - a < 0.005 for a, b in zip(starts, starts[1:], strict=False))  # really concurrent


def interrupt_when(db: Path, proc: subprocess.Popen[str], at_least: int) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            count = int(rows(db, "SELECT COUNT(*) FROM trials")[0][0]) if db.exists() else 0
        except Exception:  # the schema is being created
            count = 0
        if count >= at_least:
            break
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, "no trials were stored in time"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)


@pytest.mark.parametrize("kind", ["local", "threads", "ray"])
def test_sigint_then_resume_gives_exactly_every_pair_once(
    tmp_path: Path, clean_env: dict[str, str], kind: str
) -> None:
    if kind == "ray":
        ray_or_skip()
    backend: dict[str, Any] = {"type": kind}
    if kind != "local":
        backend["max_in_flight"] = 8
    if kind == "ray":
        backend["ray_settings"] = {"num_cpus": 2}
    raw = config_of(size=12, epochs=2, backend=backend, latency=0.03)
    raw["experiments"].append(
        {**raw["experiments"][0], "name": "bandit", "orchestrator": "mab",
         "mab_settings": {"strategy": "thompson_sampling", "total_trials": 50}}
    )  # fmt: skip
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    db, results = tmp_path / "runs.db", tmp_path / "results"
    common = ["--db", str(db), "--results-dir", str(results), "--quiet"]
    proc = subprocess.Popen(
        [*CLI, "run", "-c", str(path), *common], env=clean_env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        interrupt_when(db, proc, at_least=30)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    run_id = out.split()[-1]
    before = stored(db)
    assert 30 <= len(before) < 72 + 50
    done = subprocess.run(
        [*CLI, "resume", run_id, *common], env=clean_env, capture_output=True, text=True,
        timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    after = stored(db)
    assert [(t.experiment, t.index) for t in after[: len(before)]] == [
        (t.experiment, t.index) for t in before
    ]
    config = build_config(raw, base_dir=tmp_path)
    order = order_of(config)
    grid = [t for t in after if t.experiment == "e"]
    bandit = [t for t in after if t.experiment == "bandit"]
    assert len(grid) == 12 * 2 * 3 and len(bandit) == 50
    assert_paired(grid, order, every=True)
    bandit_order = SampleOrder(
        config.dataset("tasks").ids, 2, trial_seed(config.seed, "bandit", -1)
    )
    assert_paired(bandit, bandit_order, every=False)
    assert rows(db, "SELECT status FROM runs") == [("completed",)]


def test_resume_runs_the_samples_the_run_stored_not_the_file_as_it_is_now(tmp_path: Path) -> None:
    data = tmp_path / "qa.jsonl"
    rows_before = [{"id": f"q{i}", "input": f"{i} + 1", "target": str(i + 1)} for i in range(6)]
    data.write_text("".join(f"{json.dumps(r)}\n" for r in rows_before), encoding="utf-8")
    raw = config_of(size=1, epochs=2)
    raw["datasets"] = {"tasks": {"type": "jsonl", "path": str(data)}}
    config = build_config(raw, base_dir=tmp_path)
    db = tmp_path / "runs.db"
    with pytest.raises(KeyboardInterrupt):
        run_experiment_suite(config, db_path=db, results_dir=tmp_path, listener=InterruptAfter(10))
    with RunStore(db) as store:
        (run,) = store.list_runs()
    # The file changes between the interrupt and the resume: new targets, a new sample.
    rows_after = [{**r, "target": "changed"} for r in rows_before] + [{"id": "new", "input": "0"}]
    data.write_text("".join(f"{json.dumps(r)}\n" for r in rows_after), encoding="utf-8")
    resume_run(run.id, db_path=db, results_dir=tmp_path)
    trials = stored(db)
    assert len(trials) == 6 * 2 * 3 and {t.sample_id for t in trials} == {
        r["id"] for r in rows_before
    }
    assert_paired(trials, order_of(config), every=True)


def test_resume_refuses_samples_that_do_not_match_their_fingerprint(tmp_path: Path) -> None:
    config = build_config(config_of(size=5, epochs=1), base_dir=tmp_path)
    db = tmp_path / "runs.db"
    with pytest.raises(KeyboardInterrupt):
        run_experiment_suite(config, db_path=db, results_dir=tmp_path, listener=InterruptAfter(3))
    with RunStore(db) as store:
        (run,) = store.list_runs()
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE samples SET target_json = '\"tampered\"' WHERE position = 0")
        conn.commit()
    with pytest.raises(ConfigError, match="do not match their fingerprint"):
        resume_run(run.id, db_path=db, results_dir=tmp_path)
