"""``run_experiment_suite`` and ``resume_run``: the run record, live readers in another process,
listeners, artifacts, Ctrl-C and resume."""

from __future__ import annotations

import io
import os
import shutil
import socket
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
from rich.console import Console

from meta_orchestrator import __version__
from meta_orchestrator.core.config import load_config
from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.errors import ConfigError
from meta_orchestrator.hub import git_commit, process_alive, resume_run, run_experiment_suite
from meta_orchestrator.listener import RunListener
from meta_orchestrator.progress import RichProgress
from meta_orchestrator.store import RunStore
from meta_orchestrator.store.connection import StoreError
from tests.helpers import (
    InterruptAfter,
    Ran,
    RunSuite,
    mab,
    python_agent,
    simulated,
    standard,
    suite,
)

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


# ----------------------------------------------------------------------- Ctrl-C and resume
class CountTrials(RunListener):
    """Counts the trials a run actually executes (the store's INSERT OR IGNORE would hide a
    re-run of a stored trial, so the store's rows cannot tell)."""

    def __init__(self) -> None:
        self.executed: list[tuple[str, int]] = []

    def on_trial(self, result: TrialResult, leaderboard: object) -> None:
        self.executed.append((result.experiment, result.index))


def _keys(ran: Ran) -> list[tuple[str, int]]:
    return [(t.experiment, t.index) for t in ran.trials()]


def test_ctrl_c_keeps_completed_trials_and_resume_finishes_a_standard_run(
    run_suite: RunSuite,
) -> None:
    config = suite(
        {"a": simulated(0.3), "b": simulated(0.6), "c": simulated(0.9)},
        [standard("std", ["a", "b", "c"], 5)],
    )
    with pytest.raises(KeyboardInterrupt):
        run_suite(config, listener=InterruptAfter(7))
    ran = run_suite.only_run()
    assert ran.record().status == "interrupted"
    assert ran.experiments()["std"].status == "interrupted"
    assert [t.index for t in ran.trials()] == list(range(7))
    first_active = ran.record().active_seconds
    assert first_active is not None and first_active > 0

    time.sleep(1.0)  # downtime between the interrupt and the resume is not running time
    counted = CountTrials()
    resume_run(ran.run_id, db_path=ran.db, results_dir=ran.results_dir, listener=counted)
    assert sorted(counted.executed) == [("std", i) for i in range(7, 15)]  # 8, not 15
    record = ran.record()
    assert record.status == "completed"
    assert record.active_seconds is not None
    span = record.ended_at - record.started_at
    assert first_active < record.active_seconds <= span - 1.0
    keys = _keys(ran)
    assert len(keys) == len(set(keys)) == 15
    assert sorted(i for _, i in keys) == list(range(15))
    assert Counter(t.variant for t in ran.trials()) == {"a": 5, "b": 5, "c": 5}


def test_a_trial_cut_off_by_ctrl_c_is_run_again_on_resume(run_suite: RunSuite) -> None:
    config = suite(
        {"x": python_agent("faulty_agents:interrupts_once", at=4), "y": simulated(0.5)},
        [standard("std", ["x", "y"], 5)],
    )
    with pytest.raises(KeyboardInterrupt):
        run_suite(config)
    ran = run_suite.only_run()
    assert [t.index for t in ran.trials()] == [0, 1, 2, 3]  # trial 4 never finished

    resume_run(ran.run_id, db_path=ran.db, results_dir=ran.results_dir)
    trials = ran.trials()
    assert [t.index for t in trials] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert all(t.status == "ok" for t in trials)


def test_resume_finishes_a_bandit_experiment_exactly(run_suite: RunSuite) -> None:
    config = suite(
        {"a": simulated(0.2), "b": simulated(0.5), "c": simulated(0.8)},
        [standard("std", ["a", "b", "c"], 3), mab("bandit", ["a", "b", "c"], 60)],
    )
    with pytest.raises(KeyboardInterrupt):
        run_suite(config, listener=InterruptAfter(9 + 25))
    ran = run_suite.only_run()
    assert len(ran.trials("std")) == 9 and len(ran.trials("bandit")) == 25
    assert ran.experiments()["std"].status == "completed"

    counted = CountTrials()
    resume_run(ran.run_id, db_path=ran.db, results_dir=ran.results_dir, listener=counted)
    assert sorted(counted.executed) == [("bandit", i) for i in range(25, 60)]  # 35 run again
    assert ran.record().status == "completed"
    assert len(ran.trials("std")) == 9  # a completed experiment is not run again
    bandit = ran.trials("bandit")
    assert len(bandit) == 60
    keys = _keys(ran)
    assert len(keys) == len(set(keys))
    assert ran.experiments()["bandit"].status == "completed"


def test_resume_runs_exactly_the_gaps_an_out_of_order_interrupt_left(run_suite: RunSuite) -> None:
    """Deterministic: trials 0, 1, 2, 4, 6 of 12 stored (3 and 5 were in flight when the run
    stopped, as on the thread and Ray backends). Resume executes 3, 5 and 7-11, each once."""
    config = suite({"a": simulated(0.3), "b": simulated(0.6), "c": simulated(0.9)},
                   [standard("std", ["a", "b", "c"], 4)])  # fmt: skip
    ran = run_suite(config)
    before = {(t.experiment, t.index): t.score for t in ran.trials()}
    with sqlite3.connect(ran.db) as db:
        db.execute("DELETE FROM trials WHERE trial_index NOT IN (0, 1, 2, 4, 6)")
        db.execute("UPDATE runs SET status = 'interrupted'")
        db.execute("UPDATE experiments SET status = 'interrupted'")

    counted = CountTrials()
    resume_run(ran.run_id, db_path=ran.db, results_dir=ran.results_dir, listener=counted)
    assert sorted(counted.executed) == [("std", i) for i in (3, 5, 7, 8, 9, 10, 11)]
    after = {(t.experiment, t.index): t.score for t in ran.trials()}
    assert after == before  # the same seeds: the refilled gaps score as they did the first time
    assert ran.record().status == "completed"


def test_resume_refuses_a_completed_run(run_suite: RunSuite) -> None:
    from meta_orchestrator.errors import ConfigError

    ran = run_suite(suite({"a": simulated(0.5)}, [standard("std", ["a"], 2)]))
    with pytest.raises(ConfigError, match="already completed"):
        resume_run(ran.run_id, db_path=ran.db)


# ------------------------------------------------------------------- liveness and provenance
def _kill_raising(exc: type[OSError]) -> Any:
    def kill(pid: int, sig: int) -> None:
        raise exc(f"scripted {exc.__name__} for pid {pid}")

    return kill


def test_process_alive_counts_another_users_process_as_alive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    here = socket.gethostname()
    assert process_alive(os.getpid(), here)
    assert not process_alive(None, here)
    assert not process_alive(os.getpid(), f"not-{here}")  # another host cannot be checked
    monkeypatch.setattr(os, "kill", _kill_raising(PermissionError))
    assert process_alive(4242, here)  # kill(pid, 0) refused: the process exists
    monkeypatch.setattr(os, "kill", _kill_raising(ProcessLookupError))
    assert not process_alive(4242, here)


def _left_running(run_suite: RunSuite, pid: int) -> Ran:
    """A finished run whose record says it is still running in process ``pid`` on this host."""
    ran = run_suite(suite({"a": simulated(0.5)}, [standard("std", ["a"], 2)]))
    with closing(sqlite3.connect(ran.db)) as conn:
        conn.execute(
            "UPDATE runs SET status = 'running', pid = ?, owner_started = NULL WHERE id = ?",
            (pid, ran.run_id),
        )
        conn.commit()
    assert ran.record().status == "running"
    return ran


def test_resume_refuses_a_run_whose_process_belongs_to_another_user(
    run_suite: RunSuite, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = _left_running(run_suite, 4242)
    monkeypatch.setattr(os, "kill", _kill_raising(PermissionError))
    with pytest.raises(ConfigError, match=r"is still running \(owner: host .*, pid 4242\)"):
        resume_run(ran.run_id, db_path=ran.db, results_dir=ran.results_dir)
    record = ran.record()
    assert (record.status, record.pid, record.trials) == ("running", 4242, 2)  # no second writer


def test_resume_takes_over_a_run_whose_process_is_gone(
    run_suite: RunSuite, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = _left_running(run_suite, 4242)
    monkeypatch.setattr(os, "kill", _kill_raising(ProcessLookupError))
    resume_run(ran.run_id, db_path=ran.db, results_dir=ran.results_dir)
    record = ran.record()
    assert (record.status, record.pid, record.trials) == ("completed", os.getpid(), 2)


def test_git_commit_is_none_outside_a_repository_or_without_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # git must not look above
    plain = tmp_path / "plain"
    plain.mkdir()
    assert git_commit(plain) is None
    assert git_commit(tmp_path / "missing") is None
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    assert git_commit(plain) is None


def test_git_commit_is_the_head_commit_inside_a_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("git") is None:
        pytest.skip("needs git")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    git("init", "-q")
    assert git_commit(repo) is None  # a repository without a commit has no HEAD
    git(
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )
    head = git("rev-parse", "HEAD")
    assert len(head) == 40
    assert git_commit(repo) == head
    assert git_commit(repo / "sub") == head
