"""The results follower: ``results.json``'s trials written while a big run runs, and the report that
copies them.

The follower is a real process on a real store. What it writes must be what the report would have
read from the store, byte for byte; when it fails in any way the report reads the store, and says so;
and it never outlives the run that started it (kill -9 of the run, Ctrl-C, its own death).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from meta_orchestrator.analysis import report, results_follower
from meta_orchestrator.analysis.report import write_results_json
from meta_orchestrator.analysis.results_follower import (
    FOLLOW_FROM_TRIALS,
    FollowedTrials,
    ResultsFollower,
)
from meta_orchestrator.analysis.summary import summarize_run
from meta_orchestrator.hub import run_experiment_suite
from meta_orchestrator.store import RunStore

CLI = [sys.executable, "-m", "meta_orchestrator.cli"]
BIG = FOLLOW_FROM_TRIALS + 2_000  # a run big enough to start a follower


def noop_config(trials: int, **variant: Any) -> dict[str, Any]:
    return {
        "name": "followed",
        "seed": 3,
        "variants": {"noop": {"type": "python", "agent": "noop", **variant}},
        "experiments": [{"name": "e", "variants": ["noop"], "trials_per_variant": trials}],
    }


def trials_section(path: Path) -> bytes:
    """The raw text of ``results.json``'s ``trials`` list."""
    text = path.read_bytes()
    return text[text.index(b'\n  "trials": [') :]


@pytest.fixture
def big_run(tmp_path: Path) -> tuple[Path, str, Path]:
    """A finished run of ``BIG`` no-op trials: the store, the run id and its results folder."""
    db = tmp_path / "s.db"
    run_id = run_experiment_suite(noop_config(BIG), db_path=db, results_dir=tmp_path / "results")
    return db, run_id, tmp_path / "results" / run_id


def test_a_followed_run_writes_the_results_the_store_would(big_run, tmp_path, monkeypatch):
    """A run of ``BIG`` trials starts a follower, copies its text, and the file equals, byte for
    byte, the one written from the store alone afterwards."""
    db, run_id, run_dir = big_run
    with RunStore(db) as store:
        rebuilt = write_results_json(store, run_id, tmp_path / "rebuilt.json")
    assert trials_section(run_dir / "results.json") == trials_section(rebuilt)
    data = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert [t["index"] for t in data["trials"]] == list(range(BIG))

    # And the copy really was the follower's: count what the report spliced in on a second run.
    copied: list[FollowedTrials] = []
    real_copy = FollowedTrials.copy_to
    monkeypatch.setattr(
        FollowedTrials, "copy_to", lambda self, out: (copied.append(self), real_copy(self, out))
    )
    second = run_experiment_suite(noop_config(BIG), db_path=db, results_dir=tmp_path / "results")
    assert len(copied) == 1 and 0 < copied[0].count <= BIG
    assert not copied[0].path.exists()  # the run removed the follower's file
    with RunStore(db) as store:
        again = write_results_json(store, second, tmp_path / "again.json")
    assert trials_section(tmp_path / "results" / second / "results.json") == trials_section(again)


def test_small_runs_start_no_follower(tmp_path) -> None:
    assert ResultsFollower.start(tmp_path / "s.db", "r", FOLLOW_FROM_TRIALS - 1) is None


def test_the_report_splices_a_followed_prefix_and_reads_the_rest(big_run, tmp_path) -> None:
    """A follower that read only the first trials: the report reads the others from the store."""
    db, run_id, run_dir = big_run
    with RunStore(db) as store, store.snapshot():
        through = store.last_trial_seq(run_id) - 777  # the last 777 trials are not followed
        texts = [t for b in store.trial_json_batches(run_id, through_seq=through) for t in b]
        prefix = tmp_path / "prefix.json"
        prefix.write_bytes(",\n    ".join(texts).encode("utf-8") + b"not part of the text")
        followed = FollowedTrials(prefix, through, len(texts), len(prefix.read_bytes()) - 20)
        assert followed.matches(store, run_id)
        assert not FollowedTrials(prefix, through, len(texts) - 1, followed.size).matches(
            store, run_id
        )
        spliced = tmp_path / "spliced.json"
        report._write_results(store, summarize_run(store, run_id), spliced, followed)
    assert trials_section(spliced) == trials_section(run_dir / "results.json")
    assert len(texts) == BIG - 777


def test_a_follower_answers_with_every_committed_trial(big_run) -> None:
    db, run_id, _ = big_run
    follower = ResultsFollower.start(db, run_id, BIG)
    assert follower is not None
    try:
        with RunStore(db) as store, store.snapshot():
            followed = follower.written(store, run_id)
            assert followed is not None
            assert (followed.count, followed.last_seq) == (BIG, store.last_trial_seq(run_id))
            expected = ",\n    ".join(store.iter_trial_json(run_id)).encode("utf-8")
        assert followed.path.read_bytes()[: followed.size] == expected
    finally:
        follower.close()
    assert not followed.path.exists()


def test_a_follower_that_dies_leaves_the_report_to_the_store(big_run, tmp_path, caplog) -> None:
    db, run_id, run_dir = big_run
    follower = ResultsFollower.start(db, run_id, BIG)
    assert follower is not None
    follower._process.kill()
    follower._process.wait(timeout=10)
    caplog.set_level(logging.WARNING, logger="meta_orchestrator.run")
    try:
        out = report.write_run_artifacts(db, run_id, tmp_path / "again", follower=follower)
    finally:
        follower.close()
    assert "the results follower gave no answer" in caplog.text
    assert "reads every trial from the store" in caplog.text
    assert trials_section(out / "results.json") == trials_section(run_dir / "results.json")


def test_a_follower_ignores_ctrl_c_and_exits_when_the_run_is_gone(big_run) -> None:
    """SIGINT (a terminal's Ctrl-C reaches the whole group) does not stop it; its stdin closing
    (the run's process ended, even by kill -9) does, and it removes its file."""
    db, run_id, _ = big_run
    follower = ResultsFollower.start(db, run_id, BIG)
    assert follower is not None
    process = follower._process
    try:
        time.sleep(1.0)  # past its start-up: a SIGINT would now raise in Python, if not ignored
        process.send_signal(signal.SIGINT)
        time.sleep(0.3)
        assert process.poll() is None
        assert process.stdin is not None
        process.stdin.close()
        assert process.wait(timeout=10) == 1
        assert not follower._path.exists()
    finally:
        follower.close()


# --------------------------------------------------------------------- through the command line
def _followers_of(db: Path) -> list[int]:
    """Pids of live (not zombie) results followers reading the store ``db``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if results_follower.__name__.encode() in argv and str(db).encode() in argv:
            if state != "Z":
                found.append(int(entry.name))
    return found


def _start_long_run(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """``meta-orchestrator run`` of a big, slow run in its own process group, once its follower
    is up and some trials are stored."""
    db = tmp_path / "s.db"
    config = noop_config(BIG)
    config["variants"] = {"slow": {"type": "simulated", "success_rate": 0.5, "latency_mean": 0.002}}
    config["experiments"][0]["variants"] = ["slow"]
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    command = [*CLI, "run", "-c", str(path), "--db", str(db), "--results-dir", str(tmp_path)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while not (_followers_of(db) and _stored(db) >= 100):
        assert process.poll() is None, process.stderr.read() if process.stderr else b""
        assert time.monotonic() < deadline, "the run started no follower"
        time.sleep(0.05)
    return process, db


def _stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with RunStore(db) as store:
            return sum(run.trials for run in store.list_runs())
    except Exception:  # the store is being created
        return 0


def _follower_files() -> set[str]:
    import tempfile

    return {p.name for p in Path(tempfile.gettempdir()).glob(f"{results_follower.TEXT_PREFIX}*")}


def test_kill_9_of_the_run_ends_its_follower(tmp_path) -> None:
    before = _follower_files()
    process, db = _start_long_run(tmp_path)
    (follower,) = _followers_of(db)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _followers_of(db) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _followers_of(db), f"follower {follower} outlived its run"
    assert _follower_files() <= before  # it removed its file


def test_ctrl_c_keeps_the_follower_for_the_reports_then_ends_it(tmp_path) -> None:
    """The interrupted run still writes every stored trial into results.json (through its
    follower, which ignores the SIGINT), and no follower is left once the run has exited."""
    before = _follower_files()
    process, db = _start_long_run(tmp_path)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr.decode()
    assert "results follower" not in stderr.decode()  # it answered: no fallback warning
    assert not _followers_of(db)
    assert _follower_files() <= before
    with RunStore(db) as store:
        (run,) = store.list_runs()
    data = json.loads((tmp_path / run.id / "results.json").read_text(encoding="utf-8"))
    assert run.status == "interrupted"
    assert len(data["trials"]) == run.trials > 0
