"""A command trial ends within its timeout plus a small grace whatever its children do, and no
program a run started outlives it, Ctrl-C included, on every backend (issue 13, items 4 and 5).

Before the fix a grandchild that left the session (``setsid sleep 25 &``) held stdout and made a
2 s trial take 25 s (the read after the kill had no timeout), and Ctrl-C on the threads backend
left every in-flight program running as an orphan. Real programs, real signals. On the Ray backend
a worker's programs still outlive a Ctrl-C (its children survive the worker): not fixed yet.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from meta_orchestrator.core.kinds.command import (
    KILL_GRACE_SECONDS,
    CommandAgent,
    CommandTimedOut,
    CommandVariant,
)

CLI = [sys.executable, "-m", "meta_orchestrator.cli"]
TIMEOUT = 2.0


def gone(pid: int, within: float = 5.0) -> bool:
    """Whether ``pid`` has exited (a zombie waiting for its reaper counts as gone)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def pids_in(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def agent(tmp_path: Path, script: str, timeout: float | None = TIMEOUT) -> CommandAgent:
    variant = CommandVariant(type="command", command=["bash", "-c", script])
    return CommandAgent(variant, tmp_path, timeout)


@pytest.mark.parametrize("detach", ["setsid ", ""])
def test_a_grandchild_holding_stdout_cannot_stretch_the_timeout(
    tmp_path: Path, detach: str
) -> None:
    pidfile = tmp_path / "pids"
    script = f"cat >/dev/null; {detach}sleep 25 & echo $! > {pidfile}; echo '{{\"success\": true}}'"
    started = time.monotonic()
    with pytest.raises(CommandTimedOut):
        agent(tmp_path, script)({"trial_index": 0})
    elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + KILL_GRACE_SECONDS + 2.0, elapsed  # was 25 s
    (pid,) = pids_in(pidfile)
    assert gone(pid), "the grandchild outlived its trial"


def test_a_program_that_ignores_stdin_and_hangs_is_killed_with_its_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    script = f"trap '' TERM INT; sleep 30 & echo $! > {pidfile}; wait"
    started = time.monotonic()
    with pytest.raises(CommandTimedOut):
        agent(tmp_path, script)({})
    assert time.monotonic() - started < TIMEOUT + KILL_GRACE_SECONDS + 2.0
    assert all(gone(pid) for pid in pids_in(pidfile))


def test_abort_kills_programs_in_flight_from_another_thread(tmp_path: Path) -> None:
    import threading

    pidfile = tmp_path / "pids"
    running = agent(tmp_path, f"cat >/dev/null; setsid sleep 30 & echo $! >> {pidfile}; wait", None)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            running({})
        except Exception as exc:  # the aborted trial fails
            errors.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not pids_in(pidfile):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    running.abort()
    thread.join(KILL_GRACE_SECONDS + 5)
    assert not thread.is_alive() and errors
    assert all(gone(pid) for pid in pids_in(pidfile))


def write_config(folder: Path, kind: str, pidfile: Path) -> Path:
    script = f"cat >/dev/null; sleep 30 & echo $! >> {pidfile}; setsid sleep 30 & echo $! >> {pidfile}; wait"
    backend: dict[str, object] = {"type": kind}
    if kind != "local":
        backend["max_in_flight"] = 4
    config = {
        "name": f"orphans-{kind}",
        "variants": {"slow": {"type": "command", "command": ["bash", "-c", script]}},
        "experiments": [{"name": "e", "variants": ["slow"], "trials_per_variant": 8}],
        "trial": {"timeout_seconds": 60},
        "execution_backend": backend,
    }
    path = folder / "cfg.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["local", "threads"])  # Ray: not yet, see the README
def test_ctrl_c_leaves_no_program_running(
    kind: str, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    pidfile = tmp_path / "pids"
    config = write_config(tmp_path, kind, pidfile)
    in_flight = 1 if kind == "local" else 4
    proc = subprocess.Popen(
        [*CLI, "run", "-c", str(config), "--db", str(tmp_path / "r.db"), "--quiet"],
        env=clean_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(pids_in(pidfile)) < 2 * in_flight:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the programs did not start"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    orphans = [pid for pid in pids_in(pidfile) if not gone(pid)]
    for pid in orphans:  # leave the machine clean even when the test fails
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert orphans == [], f"{len(orphans)} programs outlived the run"
