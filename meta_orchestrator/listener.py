"""``RunListener``: what a caller of ``run_experiment_suite`` is told while the run goes."""

from __future__ import annotations

from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.leaderboard import Leaderboard


class RunListener:
    """Told about a run as it goes; the CLI's progress bar is one. Every method is a no-op here.

    Called on the orchestrating thread, in this order: ``on_run_start`` once, ``on_trial`` once per
    stored trial, ``on_run_end`` once (also after a failure or Ctrl-C). A listener must not block:
    the next trial is not dispatched until it returns. What it raises fails the run.
    """

    def on_run_start(self, run_id: str, planned: int, done: int) -> None:
        """The run ``run_id`` starts with ``done`` of ``planned`` trials already stored."""

    def on_trial(self, result: TrialResult, leaderboard: Leaderboard) -> None:
        """One trial was stored; ``leaderboard`` holds the live means so far."""

    def on_run_end(self, run_id: str, status: str) -> None:
        """The run ended with ``status`` (completed, failed, interrupted); its report is written."""
