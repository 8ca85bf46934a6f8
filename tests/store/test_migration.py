"""A store written by an older version (before datasets, or before saved summaries) still opens:
readers read it as it is, the writer migrates it (schema 1, 2 or 5 to the current one) and then adds
runs with samples beside the old ones.

The old layouts are frozen in ``tests/fixtures/store_schema_v1.sql``, ``..._v2.sql`` and
``..._v5.sql`` (copied from the schema of those versions), and the rows are written with the
INSERTs that code used.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from meta_orchestrator.analysis.report import write_run_artifacts
from meta_orchestrator.analysis.summary import summarize_run
from meta_orchestrator.hub import resume_run, run_experiment_suite
from meta_orchestrator.store import RunStore, StoreWriter
from meta_orchestrator.store.schema import SCHEMA_VERSION

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CONFIG = """name: old
seed: 3
variants:
  a: {type: simulated, success_rate: 0.5, latency_mean: 0.0}
  b: {type: simulated, success_rate: 0.7, latency_mean: 0.0}
experiments:
  - {name: grid, variants: [a, b], trials_per_variant: 3}
"""


def old_store(path: Path, version: int, status: str = "completed", trials: int = 6) -> Path:
    """A store as the code of schema ``version`` left it: one run of two variants."""
    schema = (FIXTURES / f"store_schema_v{version}.sql").read_text(encoding="utf-8")
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(schema)
        conn.execute(f"PRAGMA user_version={version}")
        conn.execute(
            "INSERT INTO runs (id, name, status, orchestrator, backend, seed, planned_trials, "
            "config_yaml, config_path, started_at, ended_at, package_version, host, pid) "
            "VALUES ('old-run', 'old', ?, 'standard', 'local', 3, 6, ?, NULL, 100.0, 101.0, "
            "'0.1.0', 'nowhere', NULL)",
            (status, CONFIG),
        )
        conn.execute(
            "INSERT INTO experiments (run_id, position, name, orchestrator, strategy, "
            "variants_json, planned_trials, status) VALUES ('old-run', 0, 'grid', 'standard', "
            'NULL, \'["a", "b"]\', 6, ?)',
            ("completed" if status == "completed" else "interrupted",),
        )
        for index in range(trials):
            success = float(index % 3 != 0)
            metrics = {"success": success, "cost": 0.0, "latency": 0.001}
            conn.execute(
                "INSERT OR IGNORE INTO trials (run_id, experiment, variant, trial_index, seed, "
                "status, started_at, ended_at, latency, score, success, cost, metrics_json, error, "
                "traceback, attempts, node_id) VALUES ('old-run', 'grid', ?, ?, ?, 'ok', ?, ?, "
                "0.001, ?, ?, 0.0, ?, NULL, NULL, 1, 'nowhere')",
                ("ab"[index % 2], index, 1000 + index, 100.0 + index, 100.001 + index, success,
                 success, json.dumps(metrics)),
            )  # fmt: skip
        conn.execute(
            "INSERT INTO logs (run_id, ts, level, message) VALUES ('old-run', 100.0, 'INFO', 'hi')"
        )
        conn.commit()
    return path


def read_old_run(store: RunStore) -> None:
    run = store.get_run("old-run")
    assert (run.name, run.status, run.trials, run.results_dir) == ("old", "completed", 6, None)
    (experiment,) = store.experiments("old-run")
    assert (experiment.dataset, experiment.dataset_fingerprint, experiment.epochs) == (
        None,
        None,
        1,
    )
    assert experiment.scoring == {}
    trials = [t for _, t in store.iter_trials("old-run")]
    assert [t.index for t in trials] == list(range(6))
    assert [t.variant for t in trials] == ["a", "b"] * 3
    for trial in trials:
        assert (trial.sample_id, trial.epoch, trial.output, trial.output_truncated) == (
            None,
            0,
            None,
            False,
        )
        assert (trial.details, trial.transient_retries, trial.error_kind) == ({}, 0, None)
        assert trial.metrics["success"] == trial.score
    assert store.datasets("old-run") == [] and list(store.samples("old-run", "x")) == []
    assert store.stored_summary("old-run") is None  # none saved (before schema 6: no table)
    assert list(store.sample_outcomes("old-run", "grid", "x")) == []
    summary = summarize_run(store, "old-run")
    assert [v.trials for v in summary.experiments[0].variants] == [3, 3]
    assert summary.experiments[0].samples is None


@pytest.mark.parametrize("version", [1, 2, 5])
def test_a_reader_opens_an_old_store_as_it_is(tmp_path: Path, version: int) -> None:
    db = old_store(tmp_path / "old.db", version)
    with RunStore(db) as store:
        read_old_run(store)
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == version  # untouched


@pytest.mark.parametrize("version", [1, 2, 5])
def test_the_writer_migrates_an_old_store_and_adds_runs_with_samples(
    tmp_path: Path, version: int
) -> None:
    db = old_store(tmp_path / "old.db", version)
    with StoreWriter(db):
        pass
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = {row[1] for row in conn.execute("PRAGMA table_info(trials)")}
        assert {"sample_id", "epoch", "output_json", "error_kind", "details_json"} <= columns
    with RunStore(db) as store:
        read_old_run(store)

    config = {
        "name": "new",
        "variants": {"a": {"type": "simulated", "success_rate": 0.5, "latency_mean": 0.0}},
        "datasets": {"tasks": {"type": "synthetic", "size": 5}},
        "experiments": [{"name": "e", "variants": ["a"], "dataset": "tasks", "epochs": 2}],
    }
    run_id = run_experiment_suite(config, db_path=db, results_dir=tmp_path / "out")
    with RunStore(db) as store:
        read_old_run(store)
        assert [r.id for r in store.list_runs()] == [run_id, "old-run"]
        trials = [t for _, t in store.iter_trials(run_id)]
        assert len(trials) == 10 and {t.epoch for t in trials} == {0, 1}
        assert [s.id for s in store.samples(run_id, "tasks")] == [f"syn-{i}" for i in range(5)]
        assert store.stored_summary(run_id) is not None  # the new run saved its summary
    # The old run's report still renders in the migrated store.
    summary = (write_run_artifacts(db, "old-run", tmp_path / "out") / "summary.md").read_text(
        "utf-8"
    )
    assert "| 1 | `a` | 3 |" in summary and "| 2 | `b` | 3 |" in summary


def test_an_interrupted_run_of_an_old_store_resumes_after_the_migration(tmp_path: Path) -> None:
    db = old_store(tmp_path / "old.db", 1, status="interrupted", trials=4)
    resume_run("old-run", db_path=db, results_dir=tmp_path / "out")
    with RunStore(db) as store:
        trials = [t for _, t in store.iter_trials("old-run")]
        assert store.get_run("old-run").status == "completed"
    assert sorted(t.index for t in trials) == list(range(6))
    assert [t.seed for t in trials[:4]] == [1000, 1001, 1002, 1003]  # the old rows untouched
