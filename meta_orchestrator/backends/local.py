"""The sequential in-process backend: one trial at a time, in submission order.

Without a per-trial timeout the trial runs inline, when the driver asks for its result. With one
(the default, 60 s), a Python agent must run on a thread the run can abandon if it hangs, and
handing each trial to a watchdog thread and waiting for it costs two thread wake-ups per trial
(about 60 µs, five times a no-op trial). So trials run on one long-lived *lane* thread, one after
another, and the driver's thread is the watchdog: the lane writes each attempt's deadline into a
``DeadlineSlot`` (a few attribute writes) and the driver, waiting for the next result, wakes at that
deadline. A trial past it is recorded as ``timeout``; its lane is abandoned (a daemon, as before) and
a fresh lane runs the trials queued behind it.

The driver may keep ``read_ahead`` trials submitted to the lane when it needs no feedback between
them (a standard orchestrator without a cost budget): while the lane works through them, results
and new trials cross in batches instead of one wake-up each way per trial.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import deque

from meta_orchestrator.backends.base import Backend
from meta_orchestrator.core.execution import DeadlineSlot, TrialRunner
from meta_orchestrator.core.trial import TrialResult, TrialSpec

READ_AHEAD = 64  # trials queued on the lane at once: enough to batch hand-offs, few to cancel


class LocalBackend(Backend):
    name = "local"

    def __init__(self, runner: TrialRunner, max_in_flight: int = 1) -> None:
        super().__init__(max_in_flight)
        self.runner = runner
        self._queue: deque[TrialSpec] = deque()  # inline mode: submitted, not yet run
        self._watched = runner.needs_watchdog
        self._lane: _Lane | None = None
        self._pending: deque[tuple[int, TrialSpec, int]] = deque()  # (ticket, spec, attempts)
        self._tickets = itertools.count()

    @property
    def read_ahead(self) -> int:
        return READ_AHEAD if self._watched else 1

    @property
    def in_flight(self) -> int:
        return len(self._pending) if self._watched else len(self._queue)

    def submit(self, spec: TrialSpec) -> None:
        if not self._watched:
            self._queue.append(spec)
            return
        job = (next(self._tickets), spec, 0)
        self._pending.append(job)
        if self._lane is None:
            self._lane = _Lane(self.runner)
        self._lane.jobs.put(job)

    def next_result(self, timeout: float | None = None) -> TrialResult | None:
        if not self._watched:
            if not self._queue:
                return None
            return self.runner.run(self._queue.popleft())
        return self._next_watched(timeout)

    def cancel_all(self) -> None:
        self._queue.clear()
        self._pending.clear()
        self._retire()

    def _next_watched(self, timeout: float | None) -> TrialResult | None:
        """The head trial's result, or its ``timeout`` record once its deadline passes."""
        lane = self._lane
        if lane is not None and self._pending and not lane.results.empty():
            # The usual case while the lane runs ahead: the head's result is waiting (a result
            # is only queued by the lane that owns it, in submission order).
            ticket, result = lane.results.get()
            if ticket == self._pending[0][0]:
                self._pending.popleft()
                if isinstance(result, BaseException):
                    raise result
                return result
        give_up = None if timeout is None else time.perf_counter() + timeout
        while self._pending and self._lane is not None:
            lane, head = self._lane, self._pending[0][0]
            now = time.perf_counter()
            running = lane.slot.key == head  # else the head has finished: its result is queued
            if running and lane.slot.expired(now):
                result = self._abandon(lane)
                if result is not None:
                    return result
                continue
            deadline = lane.slot.deadline if running else None
            # Not yet armed, the head's deadline is at least one timeout away.
            assert self.runner.timeout is not None
            wait = (deadline if deadline is not None else now + self.runner.timeout) - now
            if give_up is not None:
                if give_up <= now:
                    return None
                wait = min(wait, give_up - now)
            try:
                ticket, result = lane.results.get(timeout=max(wait, 0.0))
            except queue.Empty:
                continue  # a deadline or the caller's timeout: checked at the top
            if ticket == head:
                self._pending.popleft()
                if isinstance(result, BaseException):
                    raise result
                return result
        return None

    def _abandon(self, lane: _Lane) -> TrialResult | None:
        """Record the head trial's attempt as timed out, leave its lane to the hung agent and give
        the queued trials to a fresh lane. ``None`` when the head has a retry left: the retry, run
        first on the new lane, gives the trial's result."""
        slot = lane.slot
        ticket, spec, _ = self._pending.popleft()
        result = self.runner.timed_out(spec, slot)
        self._retire()
        retry = slot.attempt <= self.runner.retries
        if retry:
            self._pending.appendleft((ticket, spec, slot.attempt))
        if self._pending:
            self._lane = _Lane(self.runner)
            for job in self._pending:
                self._lane.jobs.put(job)
        return None if retry else result

    def _retire(self) -> None:
        if self._lane is not None:
            self._lane.retire()
            self._lane = None


class _Lane(threading.Thread):
    """A daemon thread running trials in order; once retired it drops what it finishes and exits.

    Results carry their submission ticket, so a retired lane's late result is never mistaken for
    the next trial's.
    """

    def __init__(self, runner: TrialRunner) -> None:
        super().__init__(daemon=True, name="trial-lane")
        self.runner = runner
        self.slot = DeadlineSlot()
        self.jobs: queue.SimpleQueue[tuple[int, TrialSpec, int] | None] = queue.SimpleQueue()
        self.results: queue.SimpleQueue[tuple[int, TrialResult | BaseException]] = (
            queue.SimpleQueue()
        )
        self.retired = False
        self.start()

    def retire(self) -> None:
        self.retired = True
        self.jobs.put(None)

    def run(self) -> None:
        while (job := self.jobs.get()) is not None and not self.retired:
            ticket, spec, attempts = job
            self.slot.key = ticket
            outcome: TrialResult | BaseException
            try:
                outcome = self.runner.run(spec, self.slot, attempts)
            except BaseException as exc:  # KeyboardInterrupt from an agent: the driver raises it,
                outcome = exc  # as it would have run inline
            if self.retired:
                return
            self.results.put((ticket, outcome))
