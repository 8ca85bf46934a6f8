"""SIGTERM stops ``meta-orchestrator run`` as Ctrl-C does, through the real command line.

SIGTERM is what a CI runner's cancel, ``timeout``, ``docker stop`` and systemd send. It goes to the
CLI process alone here, as ``timeout`` and ``docker stop`` send it (the Ctrl-C tests signal the whole
group). The run must exit 143 (128 + 15), be marked ``interrupted`` with every completed trial
kept and its reports written, leave no program it started running, and ``resume`` must then run
exactly the missing trials. On Ray this also checks that the handler survives ``ray.init``, which
installs its own SIGTERM handler. In process: the library raises ``RunTerminated`` and puts the
previous handler back, and on a worker thread it installs none.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from meta_orchestrator.core.processes import other_processes
from meta_orchestrator.errors import RunTerminated
from meta_orchestrator.hub import run_experiment_suite
from meta_orchestrator.listener import RunListener
from tests.backends.helpers import rows
from tests.backends.test_interrupt_resume import (
    BANDIT,
    CLI,
    GRID,
    PLANNED,
    stored,
    write_config,
)
from tests.conftest import ray_or_skip
from tests.core.test_command_kill import gone, pids_in
from tests.helpers import simulated as quick
from tests.helpers import standard, suite

TERMINATED = 128 + signal.SIGTERM


def start_run(config: Path, db: Path, results: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "run", "-c", str(config), "--db", str(db), "--results-dir", str(results), "--quiet"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def group_gone(pgid: int, within: float = 15.0) -> bool:
    """Whether every process of the run's process group (Ray's included) has exited."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


@pytest.mark.parametrize("kind", ["local", "ray"])
def test_sigterm_interrupts_the_run_and_resume_finishes_it(
    kind: str, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    if kind == "ray":
        ray_or_skip()
    config, db, results = write_config(tmp_path, kind), tmp_path / "runs.db", tmp_path / "results"
    proc = start_run(config, db, results, clean_env)
    try:
        deadline = time.monotonic() + 120
        while stored(db) < 6:
            assert proc.poll() is None, "the run ended before it could be stopped"
            assert time.monotonic() < deadline, "no trials were stored in time"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)  # the process alone, as `timeout` and `docker stop` do
        out, err = proc.communicate(timeout=60)
        assert group_gone(proc.pid), "a process the run started outlived it"
    finally:
        kill_group(proc.pid)
    assert proc.returncode == TERMINATED, err
    run_id = out.split()[-1]
    assert f"run {run_id} interrupted; completed trials are kept." in err
    assert rows(db, "SELECT status, error FROM runs WHERE id = ?", run_id) == [
        ("interrupted", "interrupted (SIGTERM)")
    ]
    kept = rows(db, "SELECT seq, experiment, trial_index, variant, score FROM trials ORDER BY seq")
    assert 6 <= len(kept) < PLANNED
    report = json.loads((results / run_id / "results.json").read_text(encoding="utf-8"))
    assert report["run"]["status"] == "interrupted"
    assert (results / run_id / "summary.md").is_file()

    done = subprocess.run(
        [*CLI, "resume", run_id, "--db", str(db), "--results-dir", str(results), "--quiet"],
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert rows(db, "SELECT status FROM runs WHERE id = ?", run_id) == [("completed",)]
    after = rows(db, "SELECT seq, experiment, trial_index, variant, score FROM trials ORDER BY seq")
    assert len(after) == PLANNED
    assert after[: len(kept)] == kept  # nothing stored before SIGTERM was touched
    grid = sorted(i for _, e, i, _, _ in after if e == "grid")
    bandit = [i for _, e, i, _, _ in after if e == "bandit"]
    assert grid == list(range(GRID))
    assert len(bandit) == len(set(bandit)) == BANDIT


def group_runs(pgid: int, name: str) -> bool:
    """Whether a process called ``name`` runs in process group ``pgid`` (read from ``/proc``)."""

    def matches(pid: str) -> bool:
        head, tail = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)
        return head.split("(", 1)[1] == name and int(tail.split()[2]) == pgid

    return bool(other_processes(matches))


def test_sigterm_while_ray_starts_interrupts_the_run_and_stops_its_ray(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    """``ray.init`` installs its own SIGTERM handler (``sys.exit(15)``) before the run puts its own
    back: a SIGTERM in those seconds still marks the run ``interrupted``, exits 143 and leaves no
    process of the half-started Ray."""
    ray_or_skip()
    config, db, results = write_config(tmp_path, "ray"), tmp_path / "runs.db", tmp_path / "results"
    proc = start_run(config, db, results, clean_env)
    try:
        deadline = time.monotonic() + 60
        while not group_runs(proc.pid, "gcs_server"):  # ray.init is starting Ray's processes
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the run did not start Ray"
            time.sleep(0.01)
        before = stored(db)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert group_gone(proc.pid), "a process of the run's Ray outlived it"
    finally:
        kill_group(proc.pid)
    assert before == 0  # the signal came while Ray was starting
    assert proc.returncode == TERMINATED, err
    assert rows(db, "SELECT status, error FROM runs") == [("interrupted", "interrupted (SIGTERM)")]


def test_sigterm_kills_the_programs_in_flight(tmp_path: Path, clean_env: dict[str, str]) -> None:
    """A command trial's program and its children (one in its own session) die with the run."""
    pidfile = tmp_path / "pids"
    script = (
        f"cat >/dev/null; sleep 30 & echo $! >> {pidfile}; "
        f"setsid sleep 30 & echo $! >> {pidfile}; wait"
    )
    config = tmp_path / "cfg.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "sigterm-command",
                "variants": {"slow": {"type": "command", "command": ["bash", "-c", script]}},
                "experiments": [{"name": "e", "variants": ["slow"], "trials_per_variant": 3}],
                "trial": {"timeout_seconds": 60},
            }
        ),
        encoding="utf-8",
    )
    db = tmp_path / "r.db"
    proc = start_run(config, db, tmp_path / "results", clean_env)
    try:
        deadline = time.monotonic() + 60
        while len(pids_in(pidfile)) < 2:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the program did not start"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        kill_group(proc.pid)
    orphans = [pid for pid in pids_in(pidfile) if not gone(pid)]
    for pid in orphans:  # leave the machine clean even when the test fails
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert proc.returncode == TERMINATED, err
    assert orphans == [], f"{len(orphans)} programs outlived the run"
    assert rows(db, "SELECT status, error FROM runs") == [("interrupted", "interrupted (SIGTERM)")]


class SigtermAfter(RunListener):
    """Sends this process SIGTERM after ``n`` trials and notes the SIGTERM handler it sees."""

    def __init__(self, n: int | None) -> None:
        self.n, self.seen, self.handlers = n, 0, set()

    def on_trial(self, result: Any, leaderboard: object) -> None:
        self.seen += 1
        self.handlers.add(signal.getsignal(signal.SIGTERM))
        if self.seen == self.n:
            os.kill(os.getpid(), signal.SIGTERM)


def quick_suite() -> dict[str, Any]:
    return suite({"a": quick(0.5), "b": quick(0.7)}, [standard("e", ["a", "b"], 20)])


def test_in_process_sigterm_raises_run_terminated_and_restores_the_handler(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    db = tmp_path / "r.db"
    with pytest.raises(RunTerminated):
        run_experiment_suite(quick_suite(), db_path=db, listener=SigtermAfter(5))
    assert signal.getsignal(signal.SIGTERM) == before
    assert rows(db, "SELECT status, error FROM runs") == [("interrupted", "interrupted (SIGTERM)")]
    assert rows(db, "SELECT COUNT(*) FROM trials") == [(5,)]


def test_on_a_worker_thread_the_hub_installs_no_handler(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    listener = SigtermAfter(None)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_experiment_suite(quick_suite(), db_path=tmp_path / "r.db", listener=listener)
        except BaseException as exc:  # reported below, not lost with the thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert not thread.is_alive() and errors == []
    assert listener.seen == 40 and listener.handlers == {before}
    assert rows(tmp_path / "r.db", "SELECT status FROM runs") == [("completed",)]
