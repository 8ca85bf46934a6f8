"""The thread-pool backend: agents are mostly I/O-bound (model and tool calls), so threads overlap
their waiting. Results come back in completion order through a queue fed by future callbacks."""

from __future__ import annotations

import queue
from concurrent.futures import Future, ThreadPoolExecutor

from meta_orchestrator.backends.base import Backend
from meta_orchestrator.experiment_hub.execution import TrialRunner
from meta_orchestrator.experiment_hub.trial import TrialResult, TrialSpec


class ThreadBackend(Backend):
    name = "threads"

    def __init__(self, runner: TrialRunner, max_in_flight: int = 8) -> None:
        super().__init__(max_in_flight)
        self.runner = runner
        self._pool: ThreadPoolExecutor | None = None
        self._done: queue.SimpleQueue[Future[TrialResult]] = queue.SimpleQueue()
        self._pending: set[Future[TrialResult]] = set()

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="trial")

    def close(self) -> None:
        self.cancel_all()
        if self._pool is not None:
            # Do not wait: a hung agent must not hold the run (its thread is abandoned).
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def submit(self, spec: TrialSpec) -> None:
        if self._pool is None:
            self.start()
        assert self._pool is not None
        future = self._pool.submit(self.runner.run, spec)
        self._pending.add(future)
        future.add_done_callback(self._done.put)

    def next_result(self, timeout: float | None = None) -> TrialResult | None:
        while self._pending:
            try:
                future = self._done.get(timeout=timeout)
            except queue.Empty:
                return None
            if future not in self._pending:  # cancelled earlier; its result is dropped
                continue
            self._pending.discard(future)
            return future.result()  # TrialRunner.run never raises for agent faults
        return None

    def cancel_all(self) -> None:
        for future in self._pending:
            future.cancel()
        self._pending.clear()
