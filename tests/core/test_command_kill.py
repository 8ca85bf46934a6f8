"""A command trial ends within its timeout plus a small grace whatever its children do, and no
program a run started outlives it, Ctrl-C included, on every backend (issue 13, items 4 and 5).

Before the fix a grandchild that left the session (``setsid sleep 25 &``) held stdout and made a
2 s trial take 25 s (the read after the kill had no timeout), and Ctrl-C on the threads backend
left every in-flight program running as an orphan. Real programs, real signals. On the Ray backend
the programs' children outlived the killed worker until the run's process ledger
(``core.processes``) killed whatever is left when the run ends.
"""

from __future__ import annotations

import contextlib
import os
import re
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
from tests.conftest import ray_or_skip

CLI = [sys.executable, "-m", "meta_orchestrator.cli"]
TIMEOUT = 2.0
IN_FLIGHT = {
    "local": 1,
    "threads": 4,
    "ray": 2,
    "ray-actors": 2,
}  # programs (each with two children) at once


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
    backend: dict[str, object] = {"type": kind.split("-")[0]}
    if kind != "local":
        backend["max_in_flight"] = IN_FLIGHT[kind]
    if kind == "ray":  # two workers, each killed under its programs by ray.shutdown
        backend["ray_settings"] = {"num_cpus": IN_FLIGHT[kind]}
    if kind == "ray-actors":  # one actor running both, killed by ``close``
        backend["ray_settings"] = {"num_cpus": IN_FLIGHT[kind], "executor": "actors"}
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


@pytest.mark.parametrize("kind", ["local", "threads", "ray", "ray-actors"])
def test_ctrl_c_leaves_no_program_running(
    kind: str, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    if kind.startswith("ray"):
        ray_or_skip()
    pidfile = tmp_path / "pids"
    config = write_config(tmp_path, kind, pidfile)
    in_flight = IN_FLIGHT[kind]
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
    if kind.startswith("ray"):  # the private Ray the run started goes with it too
        assert ray_processes_of(proc.pid) == []


def ray_processes_of(driver: int, within: float = 10.0) -> list[str]:
    """Command lines of live processes of the Ray session driver ``driver`` started (Ray names
    the session ``session_<date>_<time>_<driver pid>``), polled until none is left."""
    session = re.compile(rf"session_[0-9_-]+_{driver}\b")
    deadline = time.monotonic() + within
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():  # a zombie's cmdline is empty: it never matches
                continue
            with contextlib.suppress(OSError):
                argv = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
                if session.search(argv):
                    found.append(argv[:200])
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)
