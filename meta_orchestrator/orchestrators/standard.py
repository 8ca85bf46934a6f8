"""The standard orchestrator: a fixed number of trials per variant, dispatched round-robin.

Interleaving (a, b, c, a, b, c, ...) rather than blocks (a, a, a, b, b, b, ...) means a slow drift in
the machine's speed or an API's latency during the run affects every variant alike.

On a dataset the order is sample-major: for each epoch, for each sample (shuffled once per run),
every variant, the variant order rotated by one per sample (a, b, c on the first sample, b, c, a on
the next, and on through the epochs). So every variant sees the same samples at nearly the same
time, and none is always first.
Trial index ``i`` is epoch ``i // (S * V)``, sample ``(i // V) % S``, so resume works on indices alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from meta_orchestrator.core.config import ExperimentConfig
from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.orchestrators.base import Orchestrator, Proposal


class StandardOrchestrator(Orchestrator):
    kind = "standard"
    needs_feedback = False  # a fixed round-robin plan

    def __init__(
        self, experiment: ExperimentConfig, seed: int, samples: Sequence[str] | None = None
    ) -> None:
        super().__init__(experiment, seed, samples)
        if self.samples is not None:
            self.trials_per_variant = self.samples.length
        else:
            assert experiment.trials_per_variant is not None
            self.trials_per_variant = experiment.trials_per_variant
        self._redo: list[int] = []

    @property
    def planned_trials(self) -> int:
        return self.trials_per_variant * len(self.variants)

    def _choose(self) -> Proposal | None:
        if self._redo:
            index = self._redo.pop()
        elif self._next_index < self.planned_trials:
            index = self._next_index
            self._next_index += 1
        else:
            return None
        return self.proposal_at(index)

    def proposal_at(self, index: int) -> Proposal:
        """The trial at ``index`` of the dispatch order (see the module docstring)."""
        count = len(self.variants)
        if self.samples is None:
            return Proposal(index, self.variants[index % count])
        position, turn = divmod(index, count)
        sample_id, epoch = self.samples.at(position)
        return Proposal(index, self.variants[(turn + position) % count], sample_id, epoch)

    def restore(self, results: Iterable[TrialResult]) -> None:
        seen: set[int] = set()  # only while restoring; a running experiment keeps counts alone

        def remember(stored: Iterable[TrialResult]) -> Iterator[TrialResult]:
            for result in stored:
                seen.add(result.index)
                yield result

        super().restore(remember(results))
        # Indices below the highest stored one that are missing were cancelled by an interrupt:
        # they are dispatched again first, lowest first.
        self._redo = sorted(set(range(self._next_index)) - seen, reverse=True)
