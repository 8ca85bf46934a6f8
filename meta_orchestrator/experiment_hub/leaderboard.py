"""Live per-variant score means while a run goes: what the progress bar shows as the leader.

Memory is one small record per (experiment, variant), whatever the number of trials.
"""

from __future__ import annotations

from dataclasses import dataclass

from meta_orchestrator.experiment_hub.trial import TrialResult


@dataclass
class _Running:
    n: int = 0
    mean: float = 0.0

    def add(self, value: float) -> None:
        self.n += 1
        self.mean += (value - self.mean) / self.n


class Leaderboard:
    def __init__(self) -> None:
        self._scores: dict[tuple[str, str], _Running] = {}
        self.total = 0
        self.errors = 0
        self.current_experiment: str | None = None

    def add(self, result: TrialResult) -> None:
        self.total += 1
        self.current_experiment = result.experiment
        key = (result.experiment, result.variant)
        stats = self._scores.setdefault(key, _Running())
        if not result.ok:  # failed trials have a (failure) score: count them by status
            self.errors += 1
        if result.score is not None:
            stats.add(result.score)

    def leader(self, experiment: str | None = None) -> tuple[str, float] | None:
        """The variant with the best mean score so far in ``experiment`` (default: the current one)."""
        experiment = experiment or self.current_experiment
        best = None
        for (exp, variant), stats in self._scores.items():
            if exp == experiment and stats.n and (best is None or stats.mean > best[1]):
                best = (variant, stats.mean)
        return best
