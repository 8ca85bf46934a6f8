"""The dispatch loop: ask the orchestrator, submit to the backend, collect, enforce the budgets.

``drive`` is the only place where an orchestrator meets a backend. It keeps up to
``backend.max_in_flight`` trials pending and refills as each one finishes, never in lock-step batches;
each result is handed to the orchestrator and yielded to the caller (the hub stores it) the moment it
arrives. ``BudgetGuard`` holds the run-wide limits that every experiment of a run shares.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from meta_orchestrator.backends.base import Backend
from meta_orchestrator.core.config import Budget
from meta_orchestrator.core.datasets import Dataset
from meta_orchestrator.core.trial import TrialResult, TrialSpec, sample_seed, trial_seed
from meta_orchestrator.orchestrators.base import Orchestrator, Proposal

BUDGET_POLL_SECONDS = 0.25


@dataclass
class BudgetGuard:
    """Run-wide limits shared by every experiment of a run: total cost and running time."""

    budget: Budget
    started: float = field(default_factory=time.monotonic)
    spent: float = 0.0
    elapsed_before: float = 0.0  # running time used before a resume

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

    def exhausted(self) -> str | None:
        return self.cost_exhausted() or self.time_exhausted()

    @property
    def limited(self) -> bool:
        """Whether there is a limit to enforce at all (the driver checks none per trial if not)."""
        return self.budget.max_cost is not None or self.budget.max_seconds is not None

    @property
    def poll_interval(self) -> float | None:
        """How long the driver may block on a result: short when a time limit must be noticed."""
        return BUDGET_POLL_SECONDS if self.budget.max_seconds is not None else None


def drive(
    orchestrator: Orchestrator,
    backend: Backend,
    *,
    run_id: str,
    run_seed: int,
    budget: BudgetGuard | None = None,
    dataset: Dataset | None = None,
) -> Iterator[TrialResult]:
    """Dispatch ``orchestrator``'s trials to ``backend`` and yield each result as it completes.

    A cost budget stops dispatching and lets pending trials finish (they are paid for); a time
    budget cancels them. Closing the generator (Ctrl-C) cancels pending trials; every trial already
    yielded is the caller's to keep. ``dataset`` holds the samples the orchestrator's proposals name.
    """
    experiment = orchestrator.experiment.name
    # Queue trials ahead only when nothing between them depends on a result: a cost budget stops
    # after the trial that reaches it, a bandit chooses from the results so far.
    costed = budget is not None and budget.budget.max_cost is not None
    feedback = orchestrator.needs_feedback or costed
    room = backend.max_in_flight if feedback else backend.read_ahead
    limited = budget is not None and budget.limited
    poll = budget.poll_interval if budget is not None else None
    try:
        while True:
            if limited:
                _enforce(orchestrator, backend, budget)
            while backend.in_flight < room:
                proposal = orchestrator.propose()
                if proposal is None:
                    break
                backend.submit(trial_spec(proposal, run_id, experiment, run_seed, dataset))
            if backend.in_flight == 0:
                return
            result = backend.next_result(poll)
            if result is None:
                continue
            orchestrator.observe(result)
            if budget is not None:
                budget.record(result)
            yield result
    except BaseException:
        backend.cancel_all()
        raise


def trial_spec(
    proposal: Proposal, run_id: str, experiment: str, run_seed: int, dataset: Dataset | None
) -> TrialSpec:
    """The trial a proposal names, with its seed: by index without a dataset (the seeds of every
    run before datasets existed), by (variant, sample, epoch) on one, whatever the dispatch order."""
    if proposal.sample_id is None:
        seed = trial_seed(run_seed, experiment, proposal.index)
        return TrialSpec(run_id, experiment, proposal.variant, proposal.index, seed)
    if dataset is None:
        raise ValueError(f"experiment '{experiment}' proposed a sample but has no dataset")
    variant, sample_id, epoch = proposal.variant, proposal.sample_id, proposal.epoch
    seed = sample_seed(run_seed, experiment, variant, sample_id, epoch)
    sample = dataset.by_id[sample_id]
    return TrialSpec(
        run_id, experiment, variant, proposal.index, seed, {}, sample, epoch, dataset.expose_target
    )


def _enforce(orchestrator: Orchestrator, backend: Backend, budget: BudgetGuard | None) -> None:
    if budget is None:
        return
    reason = budget.cost_exhausted()
    if reason is not None:
        orchestrator.stop(reason)
        return
    reason = budget.time_exhausted()
    if reason is not None:
        orchestrator.stop(reason)
        if backend.in_flight:
            backend.cancel_all()
            orchestrator.forget_pending()
