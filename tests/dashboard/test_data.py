"""The dashboard's data layer, without Streamlit: incremental reading, thinning, exports, progress."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from meta_orchestrator.analysis.summary import summarize_run
from meta_orchestrator.dashboard.data import (
    SERIES_POINTS,
    ExperimentView,
    RunView,
    Summaries,
    filter_runs,
    histogram_frame,
    process_gone,
    progress,
    run_table,
    trials_csv,
    trials_json,
)
from meta_orchestrator.store import RunRecord, RunStore, StoreWriter

from .helpers import new_run, trial


def _stats(view: RunView) -> dict[tuple[str, str], tuple[int, int, int, float]]:
    return {
        (e.name, v): (s.trials, s.failures, s.score.n, round(s.score.mean, 9))
        for e in view.experiments.values()
        for v, s in e.variants.items()
    }


def test_bootstrap_from_sql_equals_reading_every_trial(finished_store):
    with RunStore(finished_store.db) as store:
        booted = RunView.bootstrap(store, finished_store.older)
        streamed = RunView(finished_store.older)
        assert streamed.update(store) == 54
        assert booted.after_seq == streamed.after_seq
    assert _stats(booted) == _stats(streamed)
    assert booted.trials == streamed.trials == 54
    assert booted.leader() == streamed.leader()
    for name in ("grid", "bandit"):
        a, b = booted.series_frame(name), streamed.series_frame(name)
        # both end on each variant's final running mean
        assert (
            a.groupby("variant")["mean"]
            .last()
            .round(9)
            .equals(b.groupby("variant")["mean"].last().round(9))
        )
        assert a.groupby("variant")["trials"].last().equals(b.groupby("variant")["trials"].last())


def test_refresh_reads_only_trials_committed_since_the_cursor(tmp_path: Path):
    db = tmp_path / "live.db"
    with StoreWriter(db) as writer:
        writer.create_run(new_run("r", "r", time.time(), planned=30))
        writer.create_run(new_run("other", "other", time.time()))
        view = None
        for batch in range(3):
            for i in range(batch * 10, batch * 10 + 10):
                writer.add_trial(trial("r", "grid", "ab"[i % 2], i, score=float(i % 3 == 0)))
                writer.add_trial(trial("other", "grid", "a", i))  # another run: never read
            writer.flush()
            with RunStore(db) as store:
                if view is None:
                    view = RunView.bootstrap(store, "r")
                    assert view.trials == 10
                else:
                    assert view.update(store) == 10
                    assert view.update(store) == 0
    assert view is not None and view.trials == 30
    assert view.experiments["grid"].variants["a"].trials == 15


def test_series_stays_bounded_and_keeps_the_newest_point():
    experiment = ExperimentView("grid")
    for i in range(20 * SERIES_POINTS):
        experiment.add("a", "ok", float(i % 2))
    points = experiment.series["a"]
    assert SERIES_POINTS <= len(points) <= 2 * SERIES_POINTS
    assert points[-1][0] == 20 * SERIES_POINTS  # the last trial is always drawn
    assert [p[0] for p in points] == sorted(p[0] for p in points)


def test_bootstrap_thins_a_long_run_to_about_series_points(tmp_path: Path):
    db = tmp_path / "long.db"
    with StoreWriter(db) as writer:
        writer.create_run(new_run("r", "r", time.time(), planned=6000))
        for i in range(6000):
            writer.add_trial(trial("r", "grid", "abc"[i % 3], i, score=(i % 7) / 7))
    with RunStore(db) as store:
        view = RunView.bootstrap(store, "r")
        streamed = RunView("r")
        streamed.update(store)
    frame = view.series_frame("grid")
    per_variant = frame.groupby("variant").size()
    assert (per_variant <= SERIES_POINTS).all() and (per_variant >= SERIES_POINTS // 2).all()
    assert view.trials == 6000 and (frame.groupby("variant")["trials"].last() == 6000).all()
    assert _stats(view) == _stats(streamed)  # the sums are exact, only the points are fewer
    # the band narrows as trials accumulate and always contains the mean
    last = frame.groupby("variant").last()
    assert ((last["low"] <= last["mean"]) & (last["mean"] <= last["high"])).all()


def test_ranking_has_t_intervals_and_counts_failures(finished_store):
    with RunStore(finished_store.db) as store:
        view = RunView.bootstrap(store, finished_store.older)
        aggregates = {a.variant: a for a in store.variant_aggregates(finished_store.older, "grid")}
    ranking = view.ranking_frame("grid")
    assert list(ranking["mean score"]) == sorted(ranking["mean score"], reverse=True)
    for row in ranking.itertuples(index=False):
        agg = aggregates[row.variant]
        assert row.trials == agg.trials
        assert row.errors == agg.errors + agg.timeouts
        assert row[2] == pytest.approx(agg.score_mean)
        assert row[3] < row[2] < row[4] or agg.score_sd == 0


def test_progress_gives_an_eta_only_while_running():
    view = RunView("r")
    for _ in range(10):
        view.experiments.setdefault("grid", ExperimentView("grid")).add("a", "ok", 1.0)
    record = _record(status="running", started_at=100.0, planned_trials=40)
    running = progress(record, view, now=120.0)
    assert (running.done, running.planned, running.elapsed) == (10, 40, 20.0)
    assert running.eta == pytest.approx(60.0) and running.fraction == 0.25
    done = progress(replace(record, status="completed", ended_at=150.0), view, now=999.0)
    assert done.eta is None and done.elapsed == 50.0


def test_a_running_run_whose_process_is_gone_is_detected():
    alive = _record(status="running", pid=os.getpid(), host=socket.gethostname())
    assert not process_gone(alive)
    assert process_gone(replace(alive, pid=_dead_pid()))
    assert not process_gone(replace(alive, pid=_dead_pid(), host="another-machine"))
    assert not process_gone(replace(alive, pid=_dead_pid(), status="completed"))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_run_table_and_filter(finished_store):
    with RunStore(finished_store.db) as store:
        records = store.list_runs()
    table = run_table(records, {finished_store.older: "alpha"})
    assert list(table["id"])[:2] == [finished_store.newer, finished_store.older]
    assert table.set_index("id").loc[finished_store.older, "leader"] == "alpha"
    assert list(filter_runs(table, "BROK")["name"]) == ["broken"]
    assert set(filter_runs(table, "", ["failed", "completed"])["status"]) == {"failed", "completed"}
    assert filter_runs(table, "no such thing").empty


def test_exports_hold_every_trial_and_respect_the_cap(finished_store):
    with RunStore(finished_store.db) as store:
        rows = list(csv.DictReader(io.StringIO(trials_csv(store, finished_store.older))))
        records = json.loads(trials_json(store, finished_store.older))
        capped = json.loads(trials_json(store, finished_store.older, limit=5))
    assert len(rows) == len(records) == 54 and len(capped) == 5
    assert [int(r["seq"]) for r in rows] == sorted(int(r["seq"]) for r in rows)
    assert {r["experiment"] for r in records} == {"grid", "bandit"}
    assert isinstance(records[0]["metrics"], dict) and "latency" in records[0]["metrics"]
    assert all(r["score"] is None or math.isfinite(r["score"]) for r in records)


def test_histograms_count_every_trial(finished_store):
    with RunStore(finished_store.db) as store:
        for metric in ("latency", "cost"):
            histogram = histogram_frame(store, finished_store.older, "grid", metric)
            assert histogram["trials"].sum() == 24
            assert (histogram["end"] > histogram["start"]).all()
        assert histogram_frame(store, "no-such-run", "grid", "latency").empty


def _record(**changes: object) -> RunRecord:
    base = RunRecord(
        id="r", name="r", status="running", orchestrator="standard", backend="local", seed=0,
        planned_trials=10, config_yaml="", config_path=None, started_at=0.0, ended_at=None,
        stop_reason=None, error=None, package_version="test", git_commit=None, host=None, pid=None,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def test_summaries_are_computed_once_in_the_background_and_shared(finished_store):
    summaries = Summaries(size=2)
    with RunStore(finished_store.db) as store:
        older, newer = store.get_run(finished_store.older), store.get_run(finished_store.newer)
        expected = summarize_run(store, older.id)
    first = summaries.start(finished_store.db, older)
    assert summaries.start(finished_store.db, older) is first  # shared, not recomputed
    summary = first.result(timeout=30)
    assert [v.to_dict() for e in summary.experiments for v in e.variants] == [
        v.to_dict() for e in expected.experiments for v in e.variants
    ]
    summaries.start(finished_store.db, newer)
    summaries.start(finished_store.db, replace(newer, trials=newer.trials + 1))  # evicts older
    assert summaries.start(finished_store.db, older) is not first


def test_a_summary_the_run_saved_is_shown_without_computing_it_again(
    finished_store, monkeypatch: pytest.MonkeyPatch
):
    """The real runs saved their summaries as they closed: the page reads that one, and computes
    the summary from the trials only for a state the saved one does not describe."""
    from meta_orchestrator.dashboard import data

    with RunStore(finished_store.db) as store:
        record = store.get_run(finished_store.newer)
        expected = summarize_run(store, record.id)
    computed: list[str] = []

    def counted(store: RunStore, run_id: str):  # type: ignore[no-untyped-def]
        computed.append(run_id)
        return summarize_run(store, run_id)

    monkeypatch.setattr(data, "summarize_run", counted)
    summaries = Summaries()
    try:
        assert summaries.start(finished_store.db, record).result(timeout=30) == expected
        assert computed == []
        grown = replace(record, trials=record.trials + 1)  # e.g. resumed since
        assert summaries.start(finished_store.db, grown).result(timeout=30) == expected
        assert computed == [record.id]
    finally:
        summaries.close()


def test_no_leader_while_every_trial_failed():
    from meta_orchestrator.dashboard.data import ExperimentView

    experiment = ExperimentView("grid")
    for i in range(4):
        experiment.add("ab"[i % 2], "error", 0.0)  # failed trials score as nothing achieved
    assert experiment.leader() is None
    experiment.add("b", "ok", 1.0)
    assert experiment.leader() == ("b", pytest.approx(1 / 3))
