"""The run's process ledger: every program a run starts is killed when the run ends, on any backend.

A backend that kills its own programs on cancel (local, threads) cannot do so when the process
running them is gone: a Ray worker killed by ``ray.shutdown`` (or by anything else) leaves its
programs' children behind (``PR_SET_PDEATHSIG`` reaches only its direct children). So the run owns
a ledger folder, created by the driver and named in the ``TrialRunner`` that travels to every
worker: a command agent records each program's session id (its pid, as it starts a new session)
with the process start time there, and stamps the folder's path into the program's environment,
which its children inherit. When the run ends, however it ends, ``ProcessLedger.kill_all`` on the
driver SIGKILLs every session still recorded (the start time guards against a reused pid) and
every process whose environment carries the stamp (a grandchild that left the session with
``setsid``). Both work through ``/proc`` and ``os.killpg`` on the driver's host: on a multi-node
Ray cluster, programs on other nodes are left to the per-trial kill and ``PR_SET_PDEATHSIG``.

A driver killed with SIGKILL runs no ``kill_all``: its ledger stays behind, naming what may still
run. Each ledger therefore records its owner (the driver's pid and start time), and every new run
first sweeps the ledgers whose owner is gone (``sweep_orphaned``), the way a crashed job's
leftovers are reaped by the next one: an escaped program lives at most until the next run or
``resume`` on that host.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path

LEDGER_VARIABLE = "META_ORCHESTRATOR_RUN_LEDGER"  # the stamp in each program's environment
LEDGER_PREFIX = "meta-orchestrator-procs-"  # ledger folders in the temporary folder
OWNER_FILE = "owner"  # "<pid> <start time>" of the driver that created the ledger


class ProcessLedger:
    """One run's folder of live program sessions: one file per session, named by its pid."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    @classmethod
    def create(cls, parent: str | os.PathLike[str] | None = None) -> ProcessLedger:
        """A fresh, private ledger in ``parent`` (the temporary folder), owned by this process
        (``kill_all`` removes it; ``sweep_orphaned`` does when this process died first)."""
        ledger = cls(tempfile.mkdtemp(prefix=LEDGER_PREFIX, dir=parent))
        me = os.getpid()
        (ledger.folder / OWNER_FILE).write_text(f"{me} {_start_time(me)}", encoding="ascii")
        return ledger

    @classmethod
    def sweep_orphaned(cls, parent: str | os.PathLike[str] | None = None) -> int:
        """``kill_all`` every ledger in ``parent`` (the temporary folder) whose owner is gone.

        A ledger without an owner file (being created, or from an older version) and one that is
        not ours to read are left alone. Returns how many processes were signalled.
        """
        signalled = 0
        for folder in Path(parent or tempfile.gettempdir()).glob(f"{LEDGER_PREFIX}*"):
            try:
                pid, started = (folder / OWNER_FILE).read_text(encoding="ascii").split()
                owner = int(pid)
            except (OSError, ValueError):
                continue
            if _start_time(owner) != started:
                signalled += cls(folder).kill_all()
        return signalled

    def record(self, pid: int) -> None:
        """Note that session ``pid`` runs now. Without the folder (a worker on another node, or
        the run already ended) nothing is written: no driver would read it there."""
        started = _start_time(pid)
        if started is None:  # already gone
            return
        with contextlib.suppress(FileNotFoundError):
            (self.folder / str(pid)).write_text(started, encoding="ascii")

    def forget(self, pid: int) -> None:
        """The program ended and was reaped: nothing to kill for it any more."""
        with contextlib.suppress(OSError):
            (self.folder / str(pid)).unlink()

    def kill_all(self) -> int:
        """SIGKILL every recorded session and every stamped process; remove the ledger.

        Returns how many processes were signalled. Safe to call twice and from any thread.
        """
        signalled = 0
        for entry in sorted(self.folder.glob("[0-9]*")):
            pid = int(entry.name)
            with contextlib.suppress(OSError):
                if _start_time(pid) == entry.read_text(encoding="ascii"):
                    os.killpg(pid, signal.SIGKILL)
                    signalled += 1
        for pid in stamped(str(self.folder)):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                signalled += 1
        shutil.rmtree(self.folder, ignore_errors=True)
        return signalled


def other_processes(matches: Callable[[str], bool]) -> list[int]:
    """Pids of this host's other processes for which ``matches(pid)`` is true, read from ``/proc``
    (none where there is no ``/proc``); a process that is gone meanwhile, or not ours to look at
    (``OSError`` in ``matches``), does not match."""
    if not os.path.isdir("/proc"):
        return []
    me = os.getpid()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if matches(entry.name):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def stamped(folder: str) -> list[int]:
    """Processes of this host whose environment names ledger ``folder`` (none without ``/proc``)."""
    stamp = f"{LEDGER_VARIABLE}={folder}".encode()

    def carries_stamp(pid: str) -> bool:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return stamp in handle.read().split(b"\0")

    return other_processes(carries_stamp)


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc``), or its pid elsewhere."""
    if not os.path.isdir("/proc"):
        return str(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


__all__ = ["LEDGER_PREFIX", "LEDGER_VARIABLE", "ProcessLedger", "stamped"]
