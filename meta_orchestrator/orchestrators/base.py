"""The contract every orchestrator keeps: it proposes trials and is told their results.

An orchestrator *chooses*; it never executes, stores or waits. The driver (``meta_orchestrator.driver``)
asks ``propose()`` for work while the backend has room and reports every finished trial with
``observe(result)``. Results arrive in completion order, which is not dispatch order once more than
one trial is in flight: an orchestrator must give the same guarantees (no trial index proposed twice,
``planned_trials`` respected) whatever that order is. So one orchestrator works unchanged with one
trial at a time and with a hundred in flight.

What may be called when:

* ``restore(results)`` first, at most once, before any ``propose``: the trials an interrupted run of
  this experiment already stored, in any order. Afterwards ``propose`` never returns a stored index,
  and indices that were dispatched but never stored (cancelled by an interrupt) are proposed again.
* ``propose()`` any number of times; ``None`` means "nothing to dispatch now". It returns ``None`` for
  good after ``stop`` or once the plan is spent; while trials are pending it may also return ``None``
  and later propose again (a strategy waiting for feedback).
* ``observe(result)`` exactly once per proposed trial that finished. A trial cancelled by the driver
  is never observed; the driver calls ``forget_pending()`` instead.
* ``stop(reason)`` at any time; the first reason is kept and nothing more is proposed. Pending
  trials may still be observed.

On a dataset (``samples`` given), every proposal also names a sample and an epoch, and the
orchestrator keeps variants paired: each (variant, sample, epoch) is proposed exactly once over the
life of the experiment, resumes included, and every variant walks the same sample sequence
(``orchestrators.samples``).

Not thread-safe: one driver thread calls every method. None of them raises for a trial's failure
(a failed trial is a result with status ``error`` or ``timeout``); a ``ValueError`` from ``observe``
means the driver broke the contract (a result for an experiment it does not run).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from meta_orchestrator.core.config import ExperimentConfig
from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.orchestrators.samples import SampleOrder


@dataclass(slots=True)
class Proposal:
    """One trial to dispatch: its index in the experiment, the variant that runs it and, on a
    dataset, the sample it runs on and which epoch (attempt) at that sample it is. Not frozen (one
    is built per trial, and a frozen dataclass costs 1 µs more to build); nothing changes it."""

    index: int
    variant: str
    sample_id: str | None = None
    epoch: int = 0


class Orchestrator(ABC):
    """Chooses which variant runs next in one experiment.

    Subclasses implement ``planned_trials`` and ``_choose()`` and may override ``_update(result)``
    (called once per observed or restored result, in arrival order). The shared bookkeeping here
    keeps ``pending`` (dispatched, not yet observed) and ``completed`` counts per variant, which
    strategies read so that concurrent dispatches do not all pile onto one variant. Memory is a
    few counters per variant, whatever the number of trials.
    """

    kind: str = "orchestrator"
    # Whether the next proposal may depend on the last result. A strategy that does not care
    # (a fixed plan) lets a sequential backend queue trials ahead (``Backend.read_ahead``).
    needs_feedback: bool = True

    def __init__(
        self, experiment: ExperimentConfig, seed: int, samples: Sequence[str] | None = None
    ) -> None:
        self.experiment = experiment
        self.variants: list[str] = list(experiment.variants)
        self.seed = seed
        self.samples: SampleOrder | None = (
            SampleOrder(samples, experiment.epochs, seed) if samples else None
        )
        self.pending: Counter[str] = Counter()
        self.completed: Counter[str] = Counter()
        self.stop_reason: str | None = None
        self._done = 0
        self._next_index = 0

    # ----------------------------------------------------------------------------- the contract
    @property
    @abstractmethod
    def planned_trials(self) -> int:
        """How many trials this experiment plans (its budget), counting those already done."""

    @property
    def strategy(self) -> str | None:
        """The strategy's name for reports (``thompson_sampling``), or ``None``."""
        return None

    @abstractmethod
    def _choose(self) -> Proposal | None:
        """The next trial to dispatch, or ``None``; called only while not stopped."""

    def _update(self, result: TrialResult) -> None:
        """Take one finished trial into the strategy's state (any order)."""

    def propose(self) -> Proposal | None:
        if self.stop_reason is not None:
            return None
        proposal = self._choose()
        if proposal is not None:
            self.pending[proposal.variant] += 1
        return proposal

    def observe(self, result: TrialResult) -> None:
        if result.experiment != self.experiment.name:
            raise ValueError(
                f"orchestrator of '{self.experiment.name}' was given a trial of '{result.experiment}'"
            )
        if self.pending[result.variant] > 0:
            self.pending[result.variant] -= 1
        self._record(result)

    def restore(self, results: Iterable[TrialResult]) -> None:
        """Rebuild state from the trials an earlier, interrupted run of this experiment stored."""
        highest = -1
        for result in results:
            self._record(result)
            highest = max(highest, result.index)
        self._next_index = highest + 1

    def stop(self, reason: str) -> None:
        """Propose nothing more (budget, early stop); pending trials may still be observed."""
        if self.stop_reason is None:
            self.stop_reason = reason

    def forget_pending(self) -> None:
        """The driver cancelled every pending trial: they will never be observed."""
        self.pending.clear()

    # ---------------------------------------------------------------------------- read-outs
    @property
    def choice_counts(self) -> dict[str, int]:
        """How often each variant was chosen: completed plus still pending."""
        return {v: self.completed[v] + self.pending[v] for v in self.variants}

    @property
    def done(self) -> int:
        """Trials observed or restored."""
        return self._done

    def _record(self, result: TrialResult) -> None:
        self._done += 1
        self.completed[result.variant] += 1
        self._update(result)
