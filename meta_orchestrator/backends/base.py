"""The contract every execution backend keeps.

A backend runs trials; it does not choose them (the orchestrator does) and does not store them (the
hub does, in the orchestrating process). ``driver.drive`` is the only caller.

Threading: every method is called from one thread, the driver's; a backend may use threads,
processes or a cluster inside, but hands results back on the driver's thread.

Lifecycle and ordering:

* ``start()`` once, before the first ``submit``; ``close()`` once at the end, also after an error or
  Ctrl-C (``with backend:`` does both). ``close`` cancels what is pending and releases what
  ``start`` acquired (threads, a Ray it started); it must not raise for a trial's failure.
* ``submit(spec)`` starts a trial and returns at once. The driver never has more than
  ``max_in_flight`` trials submitted and not yet returned by ``next_result`` (``read_ahead`` when
  the orchestrator needs no feedback between trials; they may wait in the backend's queue).
* ``next_result(timeout)`` blocks until *some* submitted trial finishes and returns its
  ``TrialResult`` (completion order, not submission order), or ``None`` when ``timeout`` seconds
  pass first (``None``: wait as long as it takes) or nothing is in flight. Each submitted trial is
  returned at most once, and exactly once unless it is cancelled.
* ``cancel_all()`` abandons every pending trial (Ctrl-C, time budget): none of them is returned
  afterwards, and ``in_flight`` is 0. Programs the abandoned trials started are killed
  (``TrialRunner.abort``): no process a run started outlives it. Trials submitted after it run
  normally.

Errors: a trial that raised, timed out, returned garbage or whose worker died comes back as a
``TrialResult`` with status ``error`` or ``timeout``, never as an exception. ``start`` raises
``BackendError`` (or ``MissingDependencyError``) when the backend cannot run at all; anything else
``next_result`` raises is a bug in the backend and fails the run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from meta_orchestrator.core.trial import TrialResult, TrialSpec


class Backend(ABC):
    """Runs trials, up to ``max_in_flight`` at once, and hands results back in completion order."""

    name: str = "backend"

    def __init__(self, max_in_flight: int = 1) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.max_in_flight = max_in_flight

    def start(self) -> None:
        """Acquire resources (threads, a Ray connection). Called once before the first submit."""

    def close(self) -> None:
        """Release what ``start`` acquired; pending trials are cancelled."""
        self.cancel_all()

    @property
    def read_ahead(self) -> int:
        """How many trials the driver may keep submitted when the orchestrator needs no feedback
        between them (``Orchestrator.needs_feedback``) and no cost budget is set; at least
        ``max_in_flight``. A sequential backend queues them to batch its hand-offs. The driver
        reads it, and ``max_in_flight``, once per experiment: neither may change while it runs."""
        return self.max_in_flight

    @property
    @abstractmethod
    def in_flight(self) -> int:
        """Trials submitted and not yet returned by ``next_result``."""

    @abstractmethod
    def submit(self, spec: TrialSpec) -> None:
        """Start one trial without waiting for it."""

    @abstractmethod
    def next_result(self, timeout: float | None = None) -> TrialResult | None:
        """The next trial to finish, or ``None`` if none finished within ``timeout`` seconds."""

    @abstractmethod
    def cancel_all(self) -> None:
        """Drop every pending trial."""

    def describe(self) -> str:
        """A short label for the run record and summary (``threads(32)``)."""
        return f"{self.name}({self.max_in_flight})" if self.max_in_flight > 1 else self.name

    def __enter__(self) -> Backend:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
