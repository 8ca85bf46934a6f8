"""The thread-pool backend: agents are mostly I/O-bound (model and tool calls), so threads overlap
their waiting. Results come back in completion order through a queue.

The pool's threads are daemons, not ``concurrent.futures`` workers: Python joins those at exit, so
one hung agent would hold Ctrl-C (and the end of the run) until it returned. ``cancel_all`` retires
the current threads — a thread still inside a trial finishes it, its result is dropped, and it exits —
and later submissions get fresh threads, so an abandoned trial never takes a slot from the next ones.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time

from meta_orchestrator.backends.base import Backend
from meta_orchestrator.core.execution import TrialRunner, escaped_trial
from meta_orchestrator.core.trial import TrialResult, TrialSpec

_STOP = None


class ThreadBackend(Backend):
    name = "threads"

    def __init__(self, runner: TrialRunner, max_in_flight: int = 8) -> None:
        super().__init__(max_in_flight)
        self.runner = runner
        self._tickets = itertools.count()
        self._pending: set[int] = set()
        self._results: queue.SimpleQueue[tuple[int, TrialResult]] = queue.SimpleQueue()
        self._jobs: queue.SimpleQueue[tuple[int, TrialSpec] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def close(self) -> None:
        self.cancel_all()
        self.runner.abort()

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def submit(self, spec: TrialSpec) -> None:
        ticket = next(self._tickets)
        self._pending.add(ticket)
        self._jobs.put((ticket, spec))
        if len(self._threads) < min(self.max_in_flight, len(self._pending)):
            self._spawn()

    def next_result(self, timeout: float | None = None) -> TrialResult | None:
        while self._pending:
            try:
                ticket, result = self._results.get(timeout=timeout)
            except queue.Empty:
                return None
            if ticket in self._pending:  # else: cancelled earlier, its result is dropped
                self._pending.discard(ticket)
                return result
        return None

    def cancel_all(self) -> None:
        """Forget pending trials and retire the threads; queued trials never start, and programs
        in flight (command agents) are killed, not left running as orphans."""
        had_pending = bool(self._pending)
        self._pending.clear()
        if had_pending:
            self.runner.abort()
        for _ in self._threads:
            self._jobs.put(_STOP)
        self._threads = []
        self._jobs = queue.SimpleQueue()

    def _spawn(self) -> None:
        thread = threading.Thread(
            target=self._work,
            args=(self._jobs,),
            name=f"trial-{len(self._threads)}",
            daemon=True,
        )
        self._threads.append(thread)
        thread.start()

    def _work(self, jobs: queue.SimpleQueue[tuple[int, TrialSpec] | None]) -> None:
        while (job := jobs.get()) is not _STOP:
            ticket, spec = job
            if ticket not in self._pending:
                continue
            started = time.time()
            try:
                result = self.runner.run(spec)
            except BaseException as exc:  # TrialRunner never raises for agents; keep the run alive
                result = escaped_trial(spec, started, exc, self.runner.weights_for(spec.experiment))
            self._results.put((ticket, result))
