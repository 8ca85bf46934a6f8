"""Who owns a run, and whether that owner is still alive.

Exactly one process writes a run: the one whose ``owner_token`` the ``runs`` row holds. A run is
created owned by its process; ``resume`` takes a run over with a compare-and-set row update on the
token it read (``StoreWriter.claim_run``), so of two resumes started at once exactly one wins and the
other learns who owns the run. While it runs, the owner stamps ``heartbeat_at`` every
``HEARTBEAT_SECONDS``.

A ``running`` run is ``dead`` when its owner is gone: on this host, its pid no longer exists or now
belongs to a process started at another time (a reused pid); on any host, its heartbeat is older than
``STALE_AFTER_SECONDS``. Runs written before schema 5 have no heartbeat and are judged by pid only
(on another host, such a run cannot be judged and is never called dead).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meta_orchestrator.store.reader import RunRecord
    from meta_orchestrator.store.writer import StoreWriter

HEARTBEAT_SECONDS = 5.0
STALE_AFTER_SECONDS = 60.0  # twelve missed beats: a write lock held for a while is not death
_START_TOLERANCE = 2.0  # seconds: /proc start times are in clock ticks since an estimated boot


@dataclass(frozen=True, slots=True)
class Owner:
    """The process that writes a run: where it runs, its pid, when it started, and its token."""

    host: str
    pid: int
    started_at: float | None
    token: str

    def describe(self) -> str:
        return f"host {self.host}, pid {self.pid}"


def this_process() -> Owner:
    """An owner identity for the calling process, with a fresh token."""
    pid = os.getpid()
    return Owner(socket.gethostname(), pid, process_start_time(pid), secrets.token_hex(8))


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds), from ``/proc``; ``None`` where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def process_alive(pid: int | None, host: str | None, started_at: float | None = None) -> bool:
    """Whether process ``pid`` on this host exists (and, if ``started_at`` is known, is the same
    process and not a later one given the same pid). Another user's live process (``kill`` answers
    ``PermissionError``) is alive; a process on another host cannot be checked and counts as dead."""
    if pid is None or host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if started_at is not None:
        now_started = process_start_time(pid)
        if now_started is not None and abs(now_started - started_at) > _START_TOLERANCE:
            return False
    return True


def owner_alive(run: RunRecord, now: float | None = None) -> bool:
    """Whether the process that owns ``run`` may still be writing it (see the module docstring)."""
    now = time.time() if now is None else now
    if run.heartbeat_at is not None and now - run.heartbeat_at > STALE_AFTER_SECONDS:
        return False
    if run.host == socket.gethostname():
        return process_alive(run.pid, run.host, run.owner_started)
    return True  # another host, heartbeat fresh or (before schema 5) unknown: not called dead


def display_status(run: RunRecord, now: float | None = None) -> str:
    """The status to show: ``dead`` for a ``running`` run whose owner is gone, else the stored one."""
    if run.status == "running" and not owner_alive(run, now):
        return "dead"
    return run.status


class Heartbeat:
    """Stamps the run's ``heartbeat_at`` every ``interval`` seconds until closed (a daemon thread:
    it never keeps the process alive, and the stamp is queued, never waited on)."""

    def __init__(
        self, writer: StoreWriter, run_id: str, owner: Owner, interval: float = HEARTBEAT_SECONDS
    ) -> None:
        self._writer = writer
        self._run_id = run_id
        self._owner = owner
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="run-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 1)

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            self._writer.heartbeat(self._run_id, self._owner.token)
