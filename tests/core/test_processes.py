"""The run's process ledger (``core.processes``) kills what a run's programs left behind.

Real processes: a recorded session with a child in it, and a grandchild that left the session
with ``setsid`` but carries the ledger's stamp in its environment; a reused pid is not killed.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from meta_orchestrator.core.kinds.command import CommandAgent, CommandVariant
from meta_orchestrator.core.processes import LEDGER_VARIABLE, ProcessLedger, stamped
from tests.core.test_command_kill import gone, pids_in


def wait_for_pids(path: Path, count: int, within: float = 10.0) -> list[int]:
    deadline = time.monotonic() + within
    while len(pids_in(path)) < count:
        assert time.monotonic() < deadline, "the program did not start its children"
        time.sleep(0.05)
    return pids_in(path)


def test_kill_all_kills_a_recorded_session_and_a_stamped_escapee(tmp_path: Path) -> None:
    ledger = ProcessLedger(tmp_path / "ledger")
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
    ledger = ProcessLedger(tmp_path / "ledger")
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
    ledger = ProcessLedger(tmp_path / "ledger")
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
