"""``results.json``'s trials, written while a big run runs, by a process that follows the store.

At 50,000 trials the trials are most of a run's report: 27 MB of text that took 0.45 s after the
last trial, while the machine's other core sat idle (the engine's Python holds one core). So a run
that plans at least ``FOLLOW_FROM_TRIALS`` trials starts one follower process. Every
``FOLLOW_INTERVAL`` it reads the trials committed since its last read (``RunStore.
trial_json_batches``: the same text, from the same code, as the report's) and appends them to a
temporary file. At the end the report copies that file's text and reads from the store only the
trials committed after the follower's last read. ``results.json`` is the same, byte for byte.

The follower is a help the report can do without: if it does not start, dies, does not answer
within ``FINISH_TIMEOUT`` or its count does not match the store's, the report reads every trial
from the store, and a warning says why. It never outlives the run. It exits when its stdin closes,
which happens when the run's process ends, even by kill -9. It ignores SIGINT: a terminal's Ctrl-C
reaches the whole process group, and the run still needs its text for the reports it writes on the
way out. The run kills it in ``close`` whatever happened.

Protocol: the run writes ``finish`` and a newline to the follower's stdin; the follower reads what
was committed since its last read and prints ``<last seq> <trials> <bytes>`` on one line, then
exits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import meta_orchestrator
from meta_orchestrator.store import RunStore

FOLLOW_FROM_TRIALS = 10_000  # below it the trials' text takes < 0.1 s: not worth a process
FOLLOW_INTERVAL = 0.25  # seconds between the follower's reads of newly committed trials
FINISH_TIMEOUT = 10.0  # seconds the report waits for the follower's last read
TEXT_PREFIX = "meta-orchestrator-trials-"  # the followers' files in the temporary folder
_SEPARATOR = b",\n    "  # between two trials in results.json
_CHUNK = 1 << 20

log = logging.getLogger("meta_orchestrator.run")


@dataclass(frozen=True)
class FollowedTrials:
    """The first ``size`` bytes of ``path`` are the text of the run's ``count`` trials with
    ``seq <= last_seq``, in commit order and separated as in ``results.json``."""

    path: Path
    last_seq: int
    count: int
    size: int

    def matches(self, store: RunStore, run_id: str) -> bool:
        """Whether the store holds exactly these trials through ``last_seq`` (inside the
        report's snapshot) and the file is at least as long as the text."""
        try:
            long_enough = self.path.stat().st_size >= self.size
        except OSError:
            return False
        return long_enough and store.trial_count(run_id, through_seq=self.last_seq) == self.count

    def copy_to(self, out: BinaryIO) -> None:
        """Write the followed text to ``out``."""
        left = self.size
        with self.path.open("rb") as text:
            while left > 0:
                chunk = text.read(min(left, _CHUNK))
                if not chunk:
                    raise OSError(f"{self.path} ended {left} bytes early")
                out.write(chunk)
                left -= len(chunk)


class ResultsFollower:
    """The run's handle on its follower process: ``request_finish``, then ``result``, then
    ``close`` (which is safe to call at any time, and twice)."""

    def __init__(self, process: subprocess.Popen[bytes], path: Path) -> None:
        self._process = process
        self._path = path
        self._finish_requested = False

    @classmethod
    def start(cls, db: Path, run_id: str, planned_trials: int) -> ResultsFollower | None:
        """A follower of ``run_id`` in the store ``db``, or ``None`` for a run too small to need
        one (or if the process cannot start: the report then reads every trial itself)."""
        if planned_trials < FOLLOW_FROM_TRIALS:
            return None
        fd, name = tempfile.mkstemp(prefix=TEXT_PREFIX, suffix=".json")
        os.close(fd)
        path = Path(name)
        # The follower must import this very package, wherever it was imported from.
        package_parent = str(Path(meta_orchestrator.__file__).resolve().parents[1])
        search_path = os.environ.get("PYTHONPATH")
        env = dict(os.environ)
        env["PYTHONPATH"] = package_parent + (os.pathsep + search_path if search_path else "")
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(db), run_id, str(path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            log.warning("the results follower did not start (%s); the report reads the store", exc)
            path.unlink(missing_ok=True)
            return None
        return cls(process, path)

    def request_finish(self) -> None:
        """Ask for the last read; ``result`` collects it (the report's summary runs meanwhile)."""
        if self._finish_requested:
            return
        self._finish_requested = True
        with contextlib.suppress(OSError):  # a follower that died is handled by ``result``
            assert self._process.stdin is not None
            self._process.stdin.write(b"finish\n")
            self._process.stdin.flush()

    def written(
        self, store: RunStore, run_id: str, timeout: float = FINISH_TIMEOUT
    ) -> FollowedTrials | None:
        """What the follower wrote, checked against ``store`` (read inside the report's
        snapshot), or ``None``, with a warning, if it gave no answer in time or its count does
        not match the store's."""
        followed = self._answer(timeout)
        if followed is not None and not followed.matches(store, run_id):
            log.warning(
                "the results follower's %d trials do not match the store; the report reads "
                "every trial from the store",
                followed.count,
            )
            return None
        return followed

    def _answer(self, timeout: float) -> FollowedTrials | None:
        self.request_finish()
        stdout = self._process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], timeout)
        line = stdout.readline() if ready else b""
        try:
            last_seq, count, size = (int(part) for part in line.split())
        except ValueError:
            if not ready:
                self._warn(f"no answer within {timeout:g} s")
            else:
                self._warn("no answer: it had exited" if not line else f"the answer {line[:200]!r}")
            return None
        return FollowedTrials(self._path, last_seq, count, size)

    def close(self) -> None:
        """Stop the follower (it has normally exited already) and remove its file."""
        process = self._process
        if process.poll() is None:
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5.0)
        for stream in (process.stdin, process.stdout, process.stderr):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        self._path.unlink(missing_ok=True)

    def _warn(self, what: str) -> None:
        process = self._process
        if process.poll() is None:
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5.0)
        detail = ""
        if process.stderr is not None and process.returncode is not None:
            with contextlib.suppress(OSError):
                lines = process.stderr.read().decode("utf-8", "replace").strip().splitlines()
                detail = f": {lines[-1]}" if lines else ""
        log.warning(
            "the results follower gave %s (exit code %s%s); the report reads every trial from "
            "the store",
            what,
            process.returncode,
            detail,
        )


# ------------------------------------------------------------------------ the follower process
def follow(db: Path, run_id: str, path: Path, interval: float = FOLLOW_INTERVAL) -> int:
    """Append the run's newly committed trials to ``path`` every ``interval`` until stdin says
    ``finish`` (answer, return 0) or closes (the run's process is gone: remove ``path``, return 1)."""
    last = count = size = 0
    separator = b""
    with RunStore(db) as store, path.open("wb") as out:
        while True:
            ready, _, _ = select.select([sys.stdin.buffer], [], [], interval)
            finishing = bool(ready)
            if finishing and not sys.stdin.buffer.readline():
                out.close()
                path.unlink(missing_ok=True)
                return 1
            through = store.last_trial_seq(run_id)
            if through > last:
                for batch in store.trial_json_batches(run_id, after_seq=last, through_seq=through):
                    text = ",\n    ".join(batch).encode("utf-8")
                    out.write(separator)
                    out.write(text)
                    size += len(separator) + len(text)
                    separator = _SEPARATOR
                    count += len(batch)
                last = through
            if finishing:
                out.flush()
                sys.stdout.write(f"{last} {count} {size}\n")
                sys.stdout.flush()
                return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    code = follow(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
    os._exit(code)  # its answer is flushed and its file closed: skip the interpreter's teardown
