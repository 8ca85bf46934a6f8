"""Run ownership (issue 13, items 3 and 8): one writer per run, taken over with a compare-and-set;
a run whose process died is shown ``dead`` with its resume command and resumes; a kill -9 between
the last trial and the end of the run never leaves a completed run without its reports.

Before the fix two resumes both ran (the loser's trials dropped by ``INSERT OR IGNORE``), a killed
run stayed ``running`` in ``runs`` for ever, and the reports were written after the run was marked
completed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import yaml

from meta_orchestrator.dashboard.data import run_table
from meta_orchestrator.store import RunStore, StoreWriter
from meta_orchestrator.store.ownership import (
    STALE_AFTER_SECONDS,
    display_status,
    process_start_time,
)
from meta_orchestrator.store.schema import SCHEMA_VERSION
from tests.helpers import FIXTURES

CLI = [sys.executable, "-m", "meta_orchestrator.cli"]
PLANNED = 40


def write_config(folder: Path, latency: float = 0.05) -> Path:
    config = {
        "name": "owned",
        "seed": 1,
        "variants": {
            "a": {"type": "simulated", "success_rate": 0.4, "latency_mean": latency},
            "b": {"type": "simulated", "success_rate": 0.6, "latency_mean": latency},
        },
        "experiments": [{"name": "e", "variants": ["a", "b"], "trials_per_variant": PLANNED // 2}],
    }
    path = folder / "cfg.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def count(db: Path, sql: str = "SELECT COUNT(*) FROM trials") -> int:
    try:
        with closing(sqlite3.connect(db)) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.Error:  # not created yet
        return 0


def killed_run(tmp_path: Path, env: dict[str, str]) -> tuple[Path, Path, str]:
    """A run killed with SIGKILL after a few trials: its record still says ``running``."""
    db, config = tmp_path / "runs.db", write_config(tmp_path)
    proc = subprocess.Popen(
        [*CLI, "run", "-c", str(config), "--db", str(db), "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while count(db) < 5:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    with RunStore(db) as store:
        (record,) = store.list_runs()
    assert record.status == "running" and record.trials < PLANNED
    return db, config, record.id


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_killed_run_is_shown_dead_with_its_resume_command_and_resumes(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    db, _, run_id = killed_run(tmp_path, clean_env)
    listing = cli("runs", "--db", str(db), env=clean_env)
    assert listing.returncode == 0, listing.stderr
    assert "dead" in listing.stdout  # the table's status column
    assert f"meta-orchestrator resume {run_id}" in listing.stderr
    with RunStore(db) as store:
        record = store.get_run(run_id)
    assert run_table([record], {})["status"].tolist() == ["dead"]

    done = cli("resume", run_id, "--db", str(db), "--quiet", env=clean_env)
    assert done.returncode == 0, done.stderr
    with RunStore(db) as store:
        record = store.get_run(run_id)
    assert (record.status, record.trials) == ("completed", PLANNED)
    assert record.pid != os.getpid() and record.owner_token is not None


def test_two_resumes_at_once_one_runs_the_other_exits_2_naming_the_owner(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    db, _, run_id = killed_run(tmp_path, clean_env)
    before = count(db)
    procs = [
        subprocess.Popen(
            [*CLI, "resume", run_id, "--db", str(db), "--quiet"],
            env=clean_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = sorted((p.wait(120), p.stderr.read()) for p in procs)  # type: ignore[union-attr]
    codes = [code for code, _ in outcomes]
    assert codes == [0, 2], outcomes
    assert "owner: host" in outcomes[1][1] and "pid" in outcomes[1][1]
    assert count(db) == PLANNED > before
    logs = count(db, "SELECT COUNT(*) FROM logs WHERE message LIKE 'resuming run%'")
    assert logs == 1  # the loser never started


def test_claims_are_compare_and_set_exactly_one_wins(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with StoreWriter(db) as writer:
        writer.execute(
            "INSERT INTO runs (id, name, status, orchestrator, backend, seed, planned_trials, "
            "config_yaml, started_at, package_version, owner_token) "
            "VALUES ('r', 'r', 'interrupted', 's', 'local', 0, 1, '', 0, '0', 'old')",
            (),
        )
    writers = [StoreWriter(db) for _ in range(4)]
    wins: list[bool] = []
    threads = [
        threading.Thread(
            target=lambda w=w, i=i: wins.append(w.claim_run("r", "old", f"t{i}", "h", i, None))
        )
        for i, w in enumerate(writers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for writer in writers:
        writer.close()
    assert sorted(wins) == [False, False, False, True]
    with RunStore(db) as store:
        record = store.get_run("r")
    assert record.status == "running" and record.owner_token == f"t{record.pid}"


def test_dead_means_gone_reused_pid_or_stale_heartbeat(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with StoreWriter(db) as writer:
        writer.execute(
            "INSERT INTO runs (id, name, status, orchestrator, backend, seed, planned_trials, "
            "config_yaml, started_at, package_version, host, pid, owner_started, heartbeat_at) "
            "VALUES ('r', 'r', 'running', 's', 'local', 0, 1, '', 0, '0', ?, ?, ?, ?)",
            (socket.gethostname(), os.getpid(), process_start_time(os.getpid()), time.time()),
        )
    with RunStore(db) as store:
        alive = store.get_run("r")
    now = time.time()
    assert display_status(alive) == "running"
    assert display_status(replace(alive, owner_started=alive.owner_started - 3600)) == "dead"
    stale = now - STALE_AFTER_SECONDS - 1
    assert display_status(replace(alive, heartbeat_at=stale)) == "dead"
    elsewhere = replace(alive, host="another-machine")
    assert display_status(elsewhere) == "running"  # its heartbeat is fresh
    assert display_status(replace(elsewhere, heartbeat_at=stale)) == "dead"
    assert display_status(replace(alive, status="completed", heartbeat_at=stale)) == "completed"


def test_a_schema_4_store_migrates_to_5_and_its_running_run_can_be_taken_over(
    tmp_path: Path,
) -> None:
    db = tmp_path / "v4.db"
    with closing(sqlite3.connect(db)) as conn:
        conn.executescript((FIXTURES / "store_schema_v4.sql").read_text(encoding="utf-8"))
        conn.execute("PRAGMA user_version=4")
        conn.execute(
            "INSERT INTO runs (id, name, status, orchestrator, backend, seed, planned_trials, "
            "config_yaml, started_at, package_version, host, pid) "
            "VALUES ('old', 'old', 'running', 's', 'local', 0, 1, '', 0, '0', 'nowhere', 7)"
        )
        conn.commit()
    with RunStore(db) as store:  # a reader opens it as it is
        old = store.get_run("old")
    assert (old.owner_token, old.heartbeat_at, display_status(old)) == (None, None, "running")
    with StoreWriter(db) as writer:
        assert writer.claim_run("old", None, "new", "h", 1, None)
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    assert {"owner_token", "owner_started", "heartbeat_at"} <= columns


KILL_BEFORE_COMPLETED = """
import os, sys
from meta_orchestrator.store import writer as w
real = w.StoreWriter.finish_run
def finish_then_die(self, run_id, status, *args, **kwargs):
    if status == "completed":
        os._exit(9)  # kill -9 between the reports and the completed mark
    return real(self, run_id, status, *args, **kwargs)
w.StoreWriter.finish_run = finish_then_die
from meta_orchestrator.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_kill_before_the_run_is_marked_completed_leaves_its_reports(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    db, results = tmp_path / "runs.db", tmp_path / "results"
    config = write_config(tmp_path, latency=0.0)
    common = ["--db", str(db), "--results-dir", str(results), "--quiet"]
    died = subprocess.run(
        [sys.executable, "-c", KILL_BEFORE_COMPLETED, "run", "-c", str(config), *common],
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert died.returncode == 9, died.stderr
    with RunStore(db) as store:
        (record,) = store.list_runs()
    assert (display_status(record), record.trials) == ("dead", PLANNED)
    folder = results / record.id
    assert json.loads((folder / "results.json").read_text())["run"]["status"] == "completed"
    assert (folder / "summary.md").is_file()
    done = cli("resume", record.id, *common, env=clean_env)
    assert done.returncode == 0, done.stderr
    assert count(db) == PLANNED  # nothing ran twice
    with RunStore(db) as store:
        assert store.get_run(record.id).status == "completed"
