"""The standard orchestrator: a fixed number of trials per variant, dispatched round-robin.

Interleaving (a, b, c, a, b, c, ...) rather than blocks (a, a, a, b, b, b, ...) means a slow drift in
the machine's speed or an API's latency during the run affects every variant alike.
"""

from __future__ import annotations

from meta_orchestrator.experiment_hub.config import ExperimentConfig
from meta_orchestrator.orchestrators.base import Orchestrator


class StandardOrchestrator(Orchestrator):
    kind = "standard"

    def __init__(self, experiment: ExperimentConfig, seed: int) -> None:
        super().__init__(experiment, seed)
        assert experiment.trials_per_variant is not None
        self.trials_per_variant = experiment.trials_per_variant

    @property
    def planned_trials(self) -> int:
        return self.trials_per_variant * len(self.variants)

    def _choose(self) -> tuple[int, str] | None:
        while self._next_index < self.planned_trials:
            index = self._next_index
            self._next_index += 1
            if index not in self._done_indices:
                return index, self.variants[index % len(self.variants)]
        return None

    def restore(self, results):  # type: ignore[no-untyped-def]
        super().restore(results)
        # Indices missing from the store (cancelled by an interrupt) are dispatched again.
        self._next_index = 0
