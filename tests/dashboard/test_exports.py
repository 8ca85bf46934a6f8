"""The trial downloads of a run on a dataset carry what joins each trial to its sample: the
``sample_id``, the ``epoch``, the output and the scorers' explanation, as the store holds them."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from meta_orchestrator.dashboard.data import trials_csv, trials_json
from meta_orchestrator.hub import run_experiment_suite
from meta_orchestrator.store import RunStore

from .helpers import qa_config, write_config


@pytest.fixture(scope="module")
def dataset_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """'right' answers with the target (passes), 'echo' with the whole sample (fails)."""
    root = tmp_path_factory.mktemp("exports")
    samples = [{"id": f"q{i}", "input": f"question {i}", "target": f"answer {i}"} for i in range(3)]
    config = qa_config("exports", 5, samples, "qa")
    path = write_config(root / "configs", config)
    run_id = run_experiment_suite(path, db_path=root / "runs.db", results_dir=root / "results")
    return root / "runs.db", run_id


def test_csv_has_sample_id_epoch_output_and_explanation(dataset_run: tuple[Path, str]) -> None:
    db, run_id = dataset_run
    with RunStore(db) as store:
        rows = list(csv.DictReader(io.StringIO(trials_csv(store, run_id))))
        stored = [trial for _, trial in store.iter_trials(run_id)]
    assert len(rows) == len(stored) == 12  # 2 variants x 3 samples x 2 epochs
    assert {"sample_id", "epoch", "output_json", "output_truncated", "explanation"} <= set(rows[0])
    for row, trial in zip(rows, stored, strict=True):
        assert (row["variant"], int(row["trial_index"])) == (trial.variant, trial.index)
        assert row["sample_id"] == trial.sample_id
        assert int(row["epoch"]) == trial.epoch
        assert json.loads(row["output_json"]) == trial.output
        assert row["explanation"] == (trial.explanation or "")
    pairs = sorted((r["sample_id"], int(r["epoch"])) for r in rows if r["variant"] == "right")
    assert pairs == [(f"q{i}", e) for i in range(3) for e in (0, 1)]
    right = next(r for r in rows if r["variant"] == "right" and r["sample_id"] == "q1")
    echo = next(r for r in rows if r["variant"] == "echo" and r["sample_id"] == "q1")
    assert json.loads(right["output_json"]) == "answer 1"
    assert json.loads(echo["output_json"])["input"] == "question 1"
    assert echo["explanation"]  # the exact scorer says why the echo failed


def test_json_expands_the_output(dataset_run: tuple[Path, str]) -> None:
    db, run_id = dataset_run
    with RunStore(db) as store:
        records = json.loads(trials_json(store, run_id))
        stored = {(t.variant, t.index): t for _, t in store.iter_trials(run_id)}
    assert len(records) == 12
    for record in records:
        trial = stored[(record["variant"], record["trial_index"])]
        assert (record["sample_id"], record["epoch"]) == (trial.sample_id, trial.epoch)
        assert record["output"] == trial.output and "output_json" not in record
        assert record["output_truncated"] is False
        assert record["explanation"] == trial.explanation


def test_a_run_without_dataset_exports_empty_sample_ids(finished_store) -> None:
    with RunStore(finished_store.db) as store:
        rows = list(csv.DictReader(io.StringIO(trials_csv(store, finished_store.older))))
    assert rows and {(r["sample_id"], r["epoch"]) for r in rows} == {("", "0")}


def test_an_older_store_without_the_columns_exports_them_empty(
    dataset_run: tuple[Path, str], tmp_path: Path
) -> None:
    """A store written before samples existed lacks ``sample_id`` ... : exported as empty cells."""
    db, run_id = dataset_run
    old = tmp_path / "old.db"
    with closing(sqlite3.connect(db)) as source, closing(sqlite3.connect(old)) as target:
        source.backup(target)
        for column in ("sample_id", "epoch", "output_json", "output_truncated", "explanation"):
            target.execute(f"ALTER TABLE trials DROP COLUMN {column}")
        target.commit()
    with RunStore(old) as store:
        rows = list(csv.DictReader(io.StringIO(trials_csv(store, run_id))))
        records = json.loads(trials_json(store, run_id))
    assert len(rows) == len(records) == 12
    assert {r["sample_id"] + r["epoch"] + r["output_json"] for r in rows} == {""}
    assert {(r["sample_id"], r["output"], r["output_truncated"]) for r in records} == {
        (None, None, None)
    }
