"""The summary a run saves as it closes: read back equal to the one computed from its trials, used
only while the run still has the trial count and status it was computed for, and never trusted when
it does not decode (another version, a changed field, a damaged row)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from meta_orchestrator.analysis import saved_summary as saved_module
from meta_orchestrator.analysis.saved_summary import (
    leader_of,
    saved_summary,
    summary_from_json,
    summary_to_json,
)
from meta_orchestrator.analysis.summary import run_leader, summarize_run
from meta_orchestrator.hub import resume_run
from meta_orchestrator.store import RunStore
from tests.helpers import InterruptAfter, RunSuite, mab, simulated, standard, suite

VARIANTS = {"a": simulated(0.3), "b": simulated(0.6), "c": simulated(0.9)}
CONFIGS: dict[str, dict[str, Any]] = {
    "standard and mab": suite(
        VARIANTS, [standard("std", list(VARIANTS), 8), mab("bandit", list(VARIANTS), 60)]
    ),
    "dataset with epochs": suite(
        VARIANTS,
        [{"name": "e", "dataset": "tasks", "epochs": 3, "variants": list(VARIANTS)}],
        datasets={"tasks": {"type": "synthetic", "size": 12, "seed": 2, "difficulty_sd": 1.5}},
    ),
    "every trial fails": suite(
        {"x": simulated(0.9, error_rate=1.0), "y": simulated(0.9, error_rate=1.0)},
        [standard("std", ["x", "y"], 3)],
    ),
}


@pytest.fixture
def runs(tmp_path: Path) -> RunSuite:
    """Runs through the hub (this folder's ``run_suite`` returns only a store and an id)."""
    return RunSuite(tmp_path / "store.db", tmp_path / "results")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_a_closing_run_saves_its_summary_and_it_reads_back_equal(runs: RunSuite, name: str) -> None:
    ran = runs(CONFIGS[name])
    with RunStore(ran.db) as store:
        run = store.get_run(ran.run_id)
        stored = store.stored_summary(ran.run_id)
        computed = summarize_run(store, ran.run_id)
        assert stored is not None and stored.holds_for(run)
        assert (stored.trials, stored.status) == (run.trials, "completed")
        assert saved_summary(store, run) == computed  # every field, nested ones too
        assert leader_of(store, run) == computed.leader == run_leader(store, ran.run_id)
    assert (computed.leader is None) == (name == "every trial fails")


def test_the_text_round_trip_is_lossless(runs: RunSuite) -> None:
    ran = runs(CONFIGS["dataset with epochs"])
    with RunStore(ran.db) as store:
        computed = summarize_run(store, ran.run_id)
    notes = computed.experiments[0].samples
    assert notes is not None and notes.flaky  # the nested records are exercised
    assert summary_from_json(computed.run, summary_to_json(computed)) == computed


def test_a_saved_summary_holds_only_for_its_trial_count_and_status(runs: RunSuite) -> None:
    """An interrupted run saves a summary of its partial trials; while it is resumed (running,
    more trials) that summary is not used, and the resumed run saves its own."""
    config = suite(VARIANTS, [standard("std", list(VARIANTS), 5)])
    with pytest.raises(KeyboardInterrupt):
        runs(config, listener=InterruptAfter(7))
    ran = runs.only_run()
    with RunStore(ran.db) as store:
        interrupted = store.get_run(ran.run_id)
        stored = store.stored_summary(ran.run_id)
        assert stored is not None and (stored.trials, stored.status) == (7, "interrupted")
        assert saved_summary(store, interrupted) == summarize_run(store, ran.run_id)
        for resuming in (
            dataclasses.replace(interrupted, status="running"),
            dataclasses.replace(interrupted, trials=8),
        ):
            assert saved_summary(store, resuming) is None

    resume_run(ran.run_id, db_path=ran.db, results_dir=ran.results_dir)
    with RunStore(ran.db) as store:
        resumed = store.get_run(ran.run_id)
        stored = store.stored_summary(ran.run_id)
        assert stored is not None and (stored.trials, stored.status) == (15, "completed")
        summary = saved_summary(store, resumed)
        assert summary is not None and summary == summarize_run(store, ran.run_id)
        assert summary.experiments[0].trials == 15


def _rewrite(db: Path, run_id: str, change: Any) -> None:
    with closing(sqlite3.connect(db)) as conn:
        (text,) = conn.execute(
            "SELECT summary_json FROM run_summaries WHERE run_id = ?", (run_id,)
        ).fetchone()
        conn.execute(
            "UPDATE run_summaries SET summary_json = ? WHERE run_id = ?", (change(text), run_id)
        )
        conn.commit()


def _with(text: str, edit: Any) -> str:
    data = json.loads(text)
    edit(data)
    return json.dumps(data)


UNUSABLE = {
    "not JSON": lambda text: text[: len(text) // 2],
    "another version": lambda text: _with(text, lambda d: d.update(version="0.0.1")),
    "another format": lambda text: _with(text, lambda d: d.update(format=99)),
    "an unknown field": lambda text: _with(
        text, lambda d: d["experiments"][0]["variants"][0].update(new_statistic=1.0)
    ),
    "a missing field": lambda text: _with(
        text, lambda d: d["experiments"][0]["comparisons"][0].pop("p_holm")
    ),
    "a wrong shape": lambda text: _with(text, lambda d: d.update(experiments={"std": 1})),
}


@pytest.mark.parametrize("damage", list(UNUSABLE))
def test_a_summary_that_does_not_decode_is_computed_from_the_trials(
    runs: RunSuite, damage: str
) -> None:
    ran = runs(CONFIGS["standard and mab"])
    _rewrite(ran.db, ran.run_id, UNUSABLE[damage])
    with RunStore(ran.db) as store:
        run = store.get_run(ran.run_id)
        assert saved_summary(store, run) is None
        assert leader_of(store, run) == run_leader(store, ran.run_id) == "c"


def test_leader_of_reads_a_saved_summary_without_scanning_the_trials(
    runs: RunSuite, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = runs(CONFIGS["standard and mab"])
    scans: list[str] = []
    monkeypatch.setattr(saved_module, "run_leader", lambda store, run_id: scans.append(run_id))
    with RunStore(ran.db) as store:
        run = store.get_run(ran.run_id)
        assert leader_of(store, run) == "c" and scans == []
        leader_of(store, dataclasses.replace(run, trials=run.trials + 1))
    assert scans == [ran.run_id]


def test_a_failed_save_is_logged_and_the_run_still_closes(
    runs: RunSuite, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*args: Any) -> str:
        raise TypeError("Object of type date is not JSON serializable")

    monkeypatch.setattr(saved_module, "summary_to_json", refuse)
    ran = runs(CONFIGS["standard and mab"])
    assert "saving the summary of" in caplog.text and "not JSON serializable" in caplog.text
    with RunStore(ran.db) as store:
        assert store.get_run(ran.run_id).status == "completed"
        assert store.stored_summary(ran.run_id) is None
    assert (ran.results_dir / ran.run_id / "summary.md").is_file()
