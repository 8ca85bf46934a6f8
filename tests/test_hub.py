"""``run_experiment_suite``: the run record, live readers in another process, listeners, artifacts."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from meta_orchestrator import __version__
from meta_orchestrator.core.config import load_config
from meta_orchestrator.hub import run_experiment_suite
from meta_orchestrator.progress import RichProgress
from meta_orchestrator.store import RunStore
from meta_orchestrator.store.connection import StoreError
from tests.helpers import RunSuite, mab, simulated, standard, suite

ROOT = Path(__file__).resolve().parents[1]


def _two_experiments() -> dict[str, Any]:
    return suite(
        {"a": simulated(0.3), "b": simulated(0.7)},
        [standard("std", ["a", "b"], 3), mab("bandit", ["a", "b"], 10)],
    )


def test_run_record_describes_the_run(
    run_suite: RunSuite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a dict config's base dir is the working directory: no git here
    config = _two_experiments()
    ran = run_suite(config)
    record = ran.record()
    assert (record.name, record.status, record.seed) == ("core-test", "completed", 7)
    assert record.orchestrator == "standard+mab:thompson_sampling"
    assert record.backend == "local"
    assert record.planned_trials == record.trials == 16
    assert record.package_version == __version__
    assert record.git_commit is None
    assert record.ended_at is not None and record.ended_at >= record.started_at
    snapshot = yaml.safe_load(record.config_yaml)
    assert load_config(snapshot).model_dump() == load_config(config).model_dump()
    assert {e.name: (e.status, e.planned_trials) for e in ran.experiments().values()} == {
        "std": ("completed", 6),
        "bandit": ("completed", 10),
    }
    with RunStore(ran.db) as store:
        messages = [line.message for line in store.logs(ran.run_id)]
    assert messages[0].startswith(f"run {ran.run_id}: core-test, 2 experiment(s), 16 planned")
    assert messages[-1] == f"run {ran.run_id} completed"


def test_git_commit_is_recorded_inside_a_checkout(tmp_path: Path) -> None:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    config = load_config(ROOT / "config.yaml").with_overrides(
        experiments=[standard("tiny", ["fast_guesser"], 1)]
    )
    run_id = run_experiment_suite(config, db_path=tmp_path / "s.db", results_dir=tmp_path / "r")
    with RunStore(tmp_path / "s.db") as store:
        assert store.get_run(run_id).git_commit == head.stdout.strip()


def test_a_second_process_reads_trials_while_the_run_writes(tmp_path: Path) -> None:
    config = suite(
        {"a": simulated(0.4, latency_mean=0.01), "b": simulated(0.6, latency_mean=0.01)},
        [standard("live", ["a", "b"], 150)],
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    db = tmp_path / "live.db"
    writer = subprocess.Popen(
        [sys.executable, "-m", "meta_orchestrator.cli", "run", "-c", str(path)]
        + ["--db", str(db), "--results-dir", str(tmp_path / "results"), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen_while_running: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while writer.poll() is None and time.monotonic() < deadline:
            try:
                with RunStore(db) as store:
                    runs = store.list_runs()
                    if runs and runs[0].status == "running":
                        seen_while_running.append(store.trial_count(runs[0].id))
            except StoreError:
                pass  # the file or its tables do not exist yet
            time.sleep(0.05)
        out, err = writer.communicate(timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 0, err
    growing = sorted(set(seen_while_running))
    assert len(growing) >= 3, seen_while_running  # counts grew while the run was running
    assert seen_while_running == sorted(seen_while_running)
    assert growing[0] < 300  # a reader saw the run part-way, not only at its end
    with RunStore(db) as store:
        record = store.get_run(out.strip())
    assert (record.status, record.trials) == ("completed", 300)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def on_run_start(self, run_id: str, planned: int, done: int) -> None:
        self.events.append(("start", planned, done))

    def on_trial(self, result: Any, leaderboard: Any) -> None:
        self.events.append(("trial", result.experiment, leaderboard.total))

    def on_run_end(self, run_id: str, status: str) -> None:
        self.events.append(("end", status))


def test_listener_sees_every_trial(run_suite: RunSuite) -> None:
    recorder = Recorder()
    run_suite(_two_experiments(), listener=recorder)
    assert recorder.events[0] == ("start", 16, 0)
    assert recorder.events[-1] == ("end", "completed")
    trials = recorder.events[1:-1]
    assert [t[2] for t in trials] == list(range(1, 17))
    assert [t[1] for t in trials] == ["std"] * 6 + ["bandit"] * 10


def test_progress_bar_renders_leader_and_errors(run_suite: RunSuite) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160)
    config = suite(
        {"ok": simulated(0.9), "bad": simulated(0.5, error_rate=1.0)},
        [standard("std", ["ok", "bad"], 3)],
    )
    run_suite(config, listener=RichProgress(console))
    text = buffer.getvalue()
    assert "6/6" in text
    assert "errors 3" in text
    assert "leader ok" in text
    assert "completed" in text


def test_config_can_be_a_path_a_mapping_or_a_model(tmp_path: Path) -> None:
    config = suite({"a": simulated(0.5)}, [standard("std", ["a"], 2)])
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    db = tmp_path / "s.db"
    for source in (path, str(path), config, load_config(config)):
        run_experiment_suite(source, db_path=db, results_dir=tmp_path / "r")
    with RunStore(db) as store:
        runs = store.list_runs()
    assert [(r.status, r.trials) for r in runs] == [("completed", 2)] * 4


def test_artifacts_are_written_for_each_run(run_suite: RunSuite) -> None:
    pytest.importorskip("meta_orchestrator.analysis.report")
    ran = run_suite(_two_experiments())
    folder = ran.results_dir / ran.run_id
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "results.json", "summary.md"]
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert ran.run_id in summary
    assert load_config(yaml.safe_load((folder / "config.yaml").read_text())).name == "core-test"
