"""``RunStore.iter_trial_json`` (the trials of ``results.json``, assembled by SQLite) and
``latency_quantiles`` (several quantiles from one sort) and a row's metrics text (a template per set
of metric names) agree with the slow, obvious computations."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from pathlib import Path

import pytest

from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.store import NewRun, RunStore, StoreWriter
from meta_orchestrator.store.writer import trial_row


def _new_run() -> NewRun:
    return NewRun(
        id="run-1",
        name="json-test",
        orchestrator="standard",
        backend="local",
        seed=1,
        planned_trials=4,
        config_yaml="name: json-test\n",
        config_path=None,
        started_at=time.time(),
        package_version="0.0.test",
        git_commit=None,
        host="here",
        pid=1,
    )


def _trials() -> list[TrialResult]:
    ok = TrialResult(
        "run-1",
        "e",
        "a",
        0,
        2**62 + 1,
        "ok",
        1764646000.1234567,
        1764646000.1234599,
        3.2e-06,
        {"success": 1.0, "cost": 0.1, "latency": 3.2e-06},
        0.1 + 0.2,
        output={"answer": 'café "quoted"\n', "list": [1, 2.5, None]},
        explanation="exact: ok",
        details={"model": "ünïcode", "tokens": 7},
        sample_id="s-1",
        epoch=2,
        node_id="node",
        transient_retries=3,
    )
    failed = TrialResult(
        "run-1",
        "e",
        "b",
        1,
        5,
        "timeout",
        1.0,
        2.5,
        1.5,
        {"latency": 1.5},
        None,
        error="trial ran past its timeout of 1.5s",
        traceback="Traceback\n\tline",
        attempts=2,
        error_kind="timeout",
    )
    cut = TrialResult(
        "run-1",
        "e",
        "a",
        2,
        6,
        "ok",
        3.0,
        3.1,
        0.1,
        {"success": 0.0, "latency": 0.1},
        0.0,
        output="x" * 10,
        output_truncated=True,
    )
    return [ok, failed, cut]


def test_trial_json_parses_to_each_trials_to_dict(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    with StoreWriter(db) as writer:
        writer.create_run(_new_run())
        for trial in _trials():
            writer.add_trial(trial)
    with RunStore(db) as store:
        texts = list(store.iter_trial_json("run-1"))
        expected = [json.loads(json.dumps(t.to_dict())) for _, t in store.iter_trials("run-1")]
    assert [json.loads(text) for text in texts] == expected
    assert list(json.loads(texts[0])) == list(TrialResult.__dataclass_fields__)  # same key order
    assert json.loads(texts[0])["started_at"] == 1764646000.1234567  # no digit lost


def test_latency_quantiles_match_nearest_rank_on_a_fixed_table(tmp_path: Path) -> None:
    latencies = [0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 1.0]
    db = tmp_path / "store.db"
    with StoreWriter(db) as writer:
        writer.create_run(_new_run())
        for index, latency in enumerate(latencies):
            writer.add_trial(
                TrialResult(
                    "run-1",
                    "e",
                    "a",
                    index,
                    index,
                    "ok",
                    0.0,
                    latency,
                    latency,
                    {"success": 1.0, "latency": latency},
                    1.0,
                )
            )
    ordered = sorted(latencies)
    qs = (0.0, 0.5, 0.95, 1.0)
    by_hand = [ordered[min(9, max(0, math.ceil(q * 10) - 1))] for q in qs]
    assert by_hand == [0.1, 0.5, 1.0, 1.0]
    with RunStore(db) as store:
        assert store.latency_quantiles("run-1", "e", "a", qs) == by_hand
        assert store.latency_quantiles("run-1", "e", "a", qs, count=10) == by_hand
        assert store.latency_quantile("run-1", "e", "a", 0.5) == 0.5
        assert store.latency_quantiles("run-1", "e", "nobody", (0.5,)) == [None]


@pytest.mark.parametrize("others_per_trial", [0, 1, 3])
def test_trial_json_reads_one_run_of_a_store_that_interleaves_runs(
    tmp_path: Path, others_per_trial: int
) -> None:
    """Another run's trials between this run's (two runs writing one store) change nothing: each
    run's trials come back complete, in commit order, whichever way the store is read."""
    db = tmp_path / "store.db"
    with StoreWriter(db) as writer:
        writer.create_run(_new_run())
        writer.create_run(dataclasses.replace(_new_run(), id="run-2"))
        other = itertools.count()
        for trial in _trials() * 5:
            trial = dataclasses.replace(trial, index=next(other) + 100)
            writer.add_trial(trial)
            for _ in range(others_per_trial):
                writer.add_trial(dataclasses.replace(trial, run_id="run-2", index=next(other)))
    with RunStore(db) as store:
        for run_id in ("run-1", "run-2"):
            texts = list(store.iter_trial_json(run_id))
            expected = [json.loads(json.dumps(t.to_dict())) for _, t in store.iter_trials(run_id)]
            assert [json.loads(text) for text in texts] == expected
        assert len(texts) == 15 * others_per_trial
        batches = list(store.trial_json_batches("run-1", size=4))
        assert [len(b) for b in batches] == [4, 4, 4, 3]


def test_trial_json_writes_null_for_numbers_json_cannot_hold(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    endless = TrialResult(
        "run-1", "e", "a", 0, 1, "timeout", 1.0, math.inf, math.inf, {"latency": 1.0}, None
    )
    with StoreWriter(db) as writer:
        writer.create_run(_new_run())
        writer.add_trial(endless)
    with RunStore(db) as store:
        (text,) = store.iter_trial_json("run-1")
    trial = json.loads(text)
    assert (trial["ended_at"], trial["latency"], trial["score"]) == (None, None, None)
    assert trial["started_at"] == 1.0


@pytest.mark.parametrize(
    "metrics",
    [
        {"success": 1.0, "cost": 0.0, "latency": 3.2e-06},
        {"latency": 0.1},
        {},
        {"rate 100%": 0.5, 'say "é"\\': 2.0, "success": 0.0},  # escapes, and % in a name
        {"big": 1e308, "bigger": 1e308},  # their sum overflows; each is finite
        {"count": 3, "flag": True, "half": 0.5},  # not floats: the JSON encoder's way
        {"tiny": 5e-324, "negative": -0.0, "long": 0.1 + 0.2},
    ],
)
def test_a_rows_metrics_json_is_what_json_dumps_writes(metrics: dict[str, float]) -> None:
    """The row's metrics text comes from a template per set of names; it must be ``json.dumps``'
    text, digit for digit, whatever the names and values."""
    trial = dataclasses.replace(_trials()[0], metrics=metrics)
    for _ in range(2):  # the template's first use and a remembered one
        text = trial_row(trial)[12]
        assert text == json.dumps(metrics)
        assert json.loads(text) == metrics


def test_a_non_finite_metric_leaves_valid_json() -> None:
    for bad in (math.nan, math.inf, -math.inf):
        trial = dataclasses.replace(_trials()[0], metrics={"success": 1.0, "x": bad})
        assert trial_row(trial)[12] == "{}"
