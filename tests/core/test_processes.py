"""The run's process ledger (``core.processes``) kills what a run's programs left behind.

Real processes: a recorded session with a child in it, and a grandchild that left the session
with ``setsid`` but carries the ledger's stamp in its environment; a reused pid is not killed; a
driver killed with SIGKILL leaves its ledger, and the next run on the host kills what it names.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from meta_orchestrator.core.kinds.command import CommandAgent, CommandVariant
from meta_orchestrator.core.processes import LEDGER_VARIABLE, ProcessLedger, stamped
from tests.backends.helpers import rows
from tests.core.test_command_kill import gone, pids_in


def new_ledger(tmp_path: Path) -> ProcessLedger:
    (tmp_path / "ledger").mkdir()
    return ProcessLedger(tmp_path / "ledger")


def wait_for_pids(path: Path, count: int, within: float = 10.0) -> list[int]:
    deadline = time.monotonic() + within
    while len(pids_in(path)) < count:
        assert time.monotonic() < deadline, "the program did not start its children"
        time.sleep(0.05)
    return pids_in(path)


def test_kill_all_kills_a_recorded_session_and_a_stamped_escapee(tmp_path: Path) -> None:
    ledger = new_ledger(tmp_path)
    pidfile = tmp_path / "pids"
    script = f"sleep 300 & echo $! >> {pidfile}; setsid sleep 300 & echo $! >> {pidfile}; wait"
    env = {**os.environ, LEDGER_VARIABLE: str(ledger.folder)}
    program = subprocess.Popen(["bash", "-c", script], env=env, start_new_session=True)
    try:
        ledger.record(program.pid)
        children = wait_for_pids(pidfile, 2)
        assert (ledger.folder / str(program.pid)).is_file()
        assert set(children) <= set(stamped(str(ledger.folder)))
        assert ledger.kill_all() >= 2  # the session, then the escapee by its stamp
        program.wait(timeout=5)
        assert all(gone(pid) for pid in children)
        assert not ledger.folder.exists()
        assert ledger.kill_all() == 0  # twice is harmless
    finally:
        program.kill()


def test_a_recorded_pid_whose_start_time_differs_is_not_signalled(tmp_path: Path) -> None:
    ledger = new_ledger(tmp_path)
    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        ledger.record(bystander.pid)
        (ledger.folder / str(bystander.pid)).write_text("1", encoding="ascii")  # an older process
        assert ledger.kill_all() == 0
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_a_command_agent_records_its_program_only_while_it_runs(tmp_path: Path) -> None:
    ledger = new_ledger(tmp_path)
    seen = tmp_path / "seen"
    script = (
        f'cat >/dev/null; ls {ledger.folder} > {seen}; echo "${LEDGER_VARIABLE}" >> {seen};'
        " echo '{\"success\": true}'"
    )
    variant = CommandVariant(type="command", command=["bash", "-c", script])
    agent = CommandAgent(variant, tmp_path, 10.0, str(ledger.folder))
    assert agent({"trial": 0})["success"] is True
    listed, stamp = seen.read_text().split()
    assert listed.isdigit() and stamp == str(ledger.folder)
    assert list(ledger.folder.iterdir()) == []


def test_without_its_folder_a_ledger_records_nothing(tmp_path: Path) -> None:
    """A worker on another node has no driver reading its folder: no stray folders are made."""
    ledger = ProcessLedger(tmp_path / "elsewhere")
    ledger.record(os.getpid())
    assert not ledger.folder.exists()


def test_a_ledger_whose_driver_died_is_swept_by_the_next_run(tmp_path: Path) -> None:
    """kill -9 of a driver runs no ``kill_all``: the next run's sweep kills what its ledger names."""
    ledger = ProcessLedger.create(tmp_path)
    dead = subprocess.Popen(["true"])
    dead.wait(timeout=5)
    (ledger.folder / "owner").write_text(f"{dead.pid} 1", encoding="ascii")  # a driver that is gone
    alive = ProcessLedger.create(tmp_path)  # owned by this process: left alone
    env = {**os.environ, LEDGER_VARIABLE: str(ledger.folder)}
    escapee = subprocess.Popen(["sleep", "300"], env=env, start_new_session=True)
    try:
        ledger.record(escapee.pid)
        assert ProcessLedger.sweep_orphaned(tmp_path) >= 1
        escapee.wait(timeout=5)
        assert not ledger.folder.exists()
        assert alive.folder.is_dir() and ProcessLedger.sweep_orphaned(tmp_path) == 0
    finally:
        escapee.kill()
        alive.kill_all()


def test_a_ledger_without_a_readable_owner_is_left_alone(tmp_path: Path) -> None:
    ledger = ProcessLedger.create(tmp_path)
    (ledger.folder / "owner").write_text("garbage", encoding="ascii")
    bare = tmp_path / "meta-orchestrator-procs-old"  # an older version's ledger: no owner file
    bare.mkdir()
    assert ProcessLedger.sweep_orphaned(tmp_path) == 0
    assert ledger.folder.is_dir() and bare.is_dir()


CLI = [sys.executable, "-m", "meta_orchestrator.cli"]


def run_config(folder: Path, name: str, variant: dict[str, object], trials: int) -> Path:
    config = folder / f"{name}.yaml"
    experiment = {"name": "e", "variants": ["v"], "trials_per_variant": trials}
    suite = {"name": name, "variants": {"v": variant}, "experiments": [experiment]}
    config.write_text(yaml.safe_dump(suite), encoding="utf-8")
    return config


def test_programs_left_by_a_driver_killed_with_sigkill_die_at_the_next_run(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    """kill -9 runs no cleanup: the bash program's children outlive their driver until the next
    run on the host sweeps the dead run's ledger (its own temporary folder here, so the sweep
    sees only this test's ledgers)."""
    pidfile = tmp_path / "pids"
    script = (
        f"cat >/dev/null; sleep 300 & echo $! >> {pidfile}; "
        f"setsid sleep 300 & echo $! >> {pidfile}; wait"
    )
    slow = {"type": "command", "command": ["bash", "-c", script]}
    env = {**clean_env, "TMPDIR": str(tmp_path)}
    killed = subprocess.Popen(
        [*CLI, "run", "-c", str(run_config(tmp_path, "slow", slow, 1)), "--db",
         str(tmp_path / "a.db"), "--quiet"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        children = wait_for_pids(pidfile, 2, within=60)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
        assert not all(gone(pid, within=0.5) for pid in children)  # the kill left them running
        assert len(list(tmp_path.glob("meta-orchestrator-procs-*"))) == 1  # and its ledger

        quick = {"type": "simulated", "success_rate": 1.0, "latency_mean": 0.0}
        after = subprocess.run(
            [*CLI, "run", "-c", str(run_config(tmp_path, "quick", quick, 2)), "--db",
             str(tmp_path / "b.db"), "--quiet"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert after.returncode == 0, after.stderr
        assert all(gone(pid) for pid in children)
        assert list(tmp_path.glob("meta-orchestrator-procs-*")) == []
        logs = rows(
            tmp_path / "b.db", "SELECT level, message FROM logs WHERE message LIKE 'killed%'"
        )
        assert [level for level, _ in logs] == ["WARNING"]
        assert logs[0][1].endswith("program(s) left running by a run whose process died")
    finally:
        for pid in pids_in(pidfile):  # leave the machine clean even when the test fails
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
