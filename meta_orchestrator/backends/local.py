"""The sequential in-process backend: one trial at a time, run when the driver asks for a result."""

from __future__ import annotations

from collections import deque

from meta_orchestrator.backends.base import Backend
from meta_orchestrator.core.execution import TrialRunner
from meta_orchestrator.core.trial import TrialResult, TrialSpec


class LocalBackend(Backend):
    name = "local"

    def __init__(self, runner: TrialRunner, max_in_flight: int = 1) -> None:
        super().__init__(max_in_flight)
        self.runner = runner
        self._queue: deque[TrialSpec] = deque()

    @property
    def in_flight(self) -> int:
        return len(self._queue)

    def submit(self, spec: TrialSpec) -> None:
        self._queue.append(spec)

    def next_result(self, timeout: float | None = None) -> TrialResult | None:
        if not self._queue:
            return None
        return self.runner.run(self._queue.popleft())

    def cancel_all(self) -> None:
        self._queue.clear()
