"""Live per-variant score means while a run goes: what the progress bar shows as the leader.

Memory is one small accumulator per (experiment, variant), whatever the number of trials.
"""

from __future__ import annotations

from meta_orchestrator.core.running import RunningMoments
from meta_orchestrator.core.trial import TrialResult


class Leaderboard:
    def __init__(self) -> None:
        self._scores: dict[tuple[str, str], RunningMoments] = {}
        self.total = 0
        self.errors = 0
        self.current_experiment: str | None = None
        self._succeeded: set[str] = set()  # experiments in which some trial succeeded

    def add(self, result: TrialResult) -> None:
        self.total += 1
        experiment = result.experiment
        self.current_experiment = experiment
        key = (experiment, result.variant)
        stats = self._scores.get(key)
        if stats is None:  # not ``setdefault``: that would build an accumulator for every trial
            stats = self._scores[key] = RunningMoments()
        if result.score is not None:  # failed trials have a (failure) score: counted by status
            stats.add(result.score)
        if result.status != "ok":
            self.errors += 1
        elif experiment not in self._succeeded and result.metrics.get("success"):
            self._succeeded.add(experiment)

    def leader(self, experiment: str | None = None) -> tuple[str, float] | None:
        """The variant with the best mean score so far in ``experiment`` (default: the current
        one); ``None`` until a trial of it succeeds, since the least bad failure leads nothing."""
        experiment = experiment or self.current_experiment
        if experiment not in self._succeeded:
            return None
        best = None
        for (exp, variant), stats in self._scores.items():
            if exp == experiment and stats.n and (best is None or stats.mean > best[1]):
                best = (variant, stats.mean)
        return best
