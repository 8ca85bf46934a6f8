"""The contract every orchestrator keeps, and the one driver loop that runs them all.

An orchestrator *chooses*; it never executes. The driver asks ``next_trial()`` for work while the
backend has room, and reports each finished trial with ``on_trial_complete(result)``, in whatever
order trials finish. So one orchestrator works unchanged with one trial at a time (sequential
backend) and with a hundred in flight (threads, Ray). ``pending`` counts trials dispatched and not yet
reported; strategies use it so that concurrent dispatches do not all pile onto one variant.

State is rebuilt from stored trials by ``restore(results)``: that is how ``resume`` continues a run
with no trial lost or duplicated.
"""

from __future__ import annotations

import time
import zlib
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from meta_orchestrator.backends.base import Backend
from meta_orchestrator.experiment_hub.config import Budget, ExperimentConfig
from meta_orchestrator.experiment_hub.trial import TrialResult, TrialSpec


def trial_seed(run_seed: int, experiment: str, index: int) -> int:
    """A stable per-trial seed: the same run seed gives every trial the same seed on any machine."""
    return zlib.crc32(f"{run_seed}:{experiment}:{index}".encode()) & 0x7FFFFFFF


@dataclass
class BudgetGuard:
    """Run-wide limits shared by every experiment of a run: total cost and wall time."""

    budget: Budget
    started: float = field(default_factory=time.monotonic)
    spent: float = 0.0
    elapsed_before: float = 0.0  # wall time used before a resume

    def record(self, result: TrialResult) -> None:
        self.spent += result.cost

    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.started

    def cost_exhausted(self) -> str | None:
        limit = self.budget.max_cost
        if limit is not None and self.spent >= limit:
            return f"budget: total cost {self.spent:.4g} reached max_cost {limit:g}"
        return None

    def time_exhausted(self) -> str | None:
        limit = self.budget.max_seconds
        if limit is not None and self.elapsed >= limit:
            return f"budget: wall time {self.elapsed:.1f}s reached max_seconds {limit:g}"
        return None

    @property
    def poll_interval(self) -> float | None:
        return 0.25 if self.budget.max_seconds is not None else None


class Orchestrator(ABC):
    """Chooses which variant runs next in one experiment.

    Subclasses implement ``_choose()`` (a variant name, or ``None`` when nothing more should be
    dispatched now) and may override ``_observe(result)``. Not thread-safe: only the driver calls it.
    """

    kind: str = "orchestrator"

    def __init__(self, experiment: ExperimentConfig, seed: int) -> None:
        self.experiment = experiment
        self.variants: list[str] = list(experiment.variants)
        self.seed = seed
        self.pending: Counter[str] = Counter()
        self.completed: Counter[str] = Counter()
        self.stop_reason: str | None = None
        self._done = 0  # a count, not a set of indices: memory must not grow with the trials
        self._next_index = 0

    # ----------------------------------------------------------------------------- the contract
    @property
    @abstractmethod
    def planned_trials(self) -> int:
        """How many trials this experiment plans (its budget), counting those already done."""

    @property
    def strategy(self) -> str | None:
        return None

    @abstractmethod
    def _choose(self) -> tuple[int, str] | None:
        """The next ``(trial index, variant)`` to dispatch, or ``None``."""

    def _observe(self, result: TrialResult) -> None:
        """Update the strategy's state with one finished trial (any order)."""

    # ------------------------------------------------------------------------------ shared logic
    def next_trial(self) -> tuple[int, str] | None:
        if self.stop_reason is not None:
            return None
        choice = self._choose()
        if choice is not None:
            self.pending[choice[1]] += 1
        return choice

    def on_trial_complete(self, result: TrialResult) -> None:
        if self.pending[result.variant] > 0:
            self.pending[result.variant] -= 1
        self._record(result)

    def restore(self, results: Iterable[TrialResult]) -> None:
        """Rebuild state from trials stored by an earlier, interrupted run of this experiment."""
        highest = -1
        for result in results:
            self._record(result)
            highest = max(highest, result.index)
        self._next_index = highest + 1

    def stop(self, reason: str) -> None:
        """Dispatch nothing more (budget, early stop); pending trials still report back."""
        if self.stop_reason is None:
            self.stop_reason = reason

    @property
    def choice_counts(self) -> dict[str, int]:
        """How often each variant was chosen: completed plus still pending."""
        return {v: self.completed[v] + self.pending[v] for v in self.variants}

    @property
    def done(self) -> int:
        return self._done

    def _record(self, result: TrialResult) -> None:
        self._done += 1
        self.completed[result.variant] += 1
        self._observe(result)

    # --------------------------------------------------------------------------------- driving
    def run(
        self,
        backend: Backend,
        *,
        run_id: str,
        run_seed: int,
        budget: BudgetGuard | None = None,
    ) -> Iterator[TrialResult]:
        """Dispatch trials to ``backend`` and yield each result as it completes.

        Keeps up to ``backend.max_in_flight`` trials pending and refills as each one finishes, never
        in lock-step batches. A cost budget stops dispatching and lets pending trials finish (they
        are paid for); a time budget cancels them. Closing the generator (Ctrl-C) cancels pending
        trials; every trial already yielded is the caller's to keep.
        """
        try:
            while True:
                self._check_budget(backend, budget)
                while backend.in_flight < backend.max_in_flight:
                    proposal = self.next_trial()
                    if proposal is None:
                        break
                    index, variant = proposal
                    backend.submit(
                        TrialSpec(
                            run_id=run_id,
                            experiment=self.experiment.name,
                            variant=variant,
                            index=index,
                            seed=trial_seed(run_seed, self.experiment.name, index),
                        )
                    )
                if backend.in_flight == 0:
                    return
                result = backend.next_result(budget.poll_interval if budget else None)
                if result is None:
                    continue
                self.on_trial_complete(result)
                if budget is not None:
                    budget.record(result)
                yield result
        except BaseException:
            backend.cancel_all()
            raise

    def _check_budget(self, backend: Backend, budget: BudgetGuard | None) -> None:
        if budget is None:
            return
        reason = budget.cost_exhausted()
        if reason is not None:
            self.stop(reason)
            return
        reason = budget.time_exhausted()
        if reason is not None:
            self.stop(reason)
            if backend.in_flight:
                backend.cancel_all()
                self.pending.clear()
