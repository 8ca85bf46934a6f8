"""Orchestrators: round-robin order, any-order feedback, budgets, Ctrl-C and resume, flat memory."""

from __future__ import annotations

import time
import tracemalloc
from collections import Counter

import pytest

from meta_orchestrator.core.config import load_config
from meta_orchestrator.core.trial import TrialResult, TrialSpec
from meta_orchestrator.driver import BudgetGuard, drive
from meta_orchestrator.hub import resume_run
from meta_orchestrator.listener import RunListener
from meta_orchestrator.orchestrators import Orchestrator, create_orchestrator
from tests.helpers import (
    Ran,
    RunSuite,
    ScriptedBackend,
    mab,
    python_agent,
    result_for,
    simulated,
    standard,
    suite,
)


def _orchestrator(experiment: dict, seed: int = 1) -> Orchestrator:
    config = load_config(
        suite({v: simulated(0.5) for v in experiment["variants"]}, [experiment], seed=seed)
    )
    return create_orchestrator(config.experiments[0], config.seed, config.scoring_weights)


# ------------------------------------------------------------------------------ standard
def test_standard_interleaves_round_robin(run_suite: RunSuite) -> None:
    config = suite(
        {"a": simulated(0.2), "b": simulated(0.5), "c": simulated(0.8)},
        [standard("rr", ["a", "b", "c"], 4)],
    )
    trials = run_suite(config).trials()
    assert [t.variant for t in trials] == ["a", "b", "c"] * 4
    assert [t.index for t in trials] == list(range(12))


def test_standard_takes_results_back_in_any_order() -> None:
    orchestrator = _orchestrator(standard("async", ["a", "b", "c"], 5))
    backend = ScriptedBackend(lambda spec: 1.0, max_in_flight=4)
    results = list(drive(orchestrator, backend, run_id="r", run_seed=1))

    assert [s.index for s in backend.submitted] == list(range(15))  # dispatch order kept
    completed = [r.index for r in results]
    assert completed[0] == 3 and completed[-1] == 0  # completion order is not
    assert sorted(r.index for r in results) == list(range(15))
    assert orchestrator.choice_counts == {"a": 5, "b": 5, "c": 5}
    assert orchestrator.pending == Counter() or sum(orchestrator.pending.values()) == 0


def test_a_proposal_is_possible_while_earlier_trials_are_pending() -> None:
    orchestrator = _orchestrator(mab("async-mab", ["a", "b", "c", "d"], 40))
    proposals = [orchestrator.propose() for _ in range(8)]
    assert all(p is not None for p in proposals)
    # With nothing reported yet, dispatches spread evenly instead of piling onto one arm.
    assert Counter(p.variant for p in proposals if p) == {"a": 2, "b": 2, "c": 2, "d": 2}
    assert [p.index for p in proposals if p] == list(range(8))
    assert sum(orchestrator.pending.values()) == 8


# --------------------------------------------------------------------------------- budgets
def test_max_cost_stops_the_run_and_records_why(run_suite: RunSuite) -> None:
    config = suite(
        {"pricey": simulated(0.9, cost_mean=0.25), "cheap": simulated(0.1, cost_mean=0.25)},
        [standard("first", ["pricey", "cheap"], 50), standard("second", ["cheap"], 10)],
        budget={"max_cost": 1.0},
    )
    ran = run_suite(config)
    trials = ran.trials()
    assert len(trials) == 4  # 4 x 0.25 reaches 1.0
    assert sum(t.metrics["cost"] for t in trials) == 1.0
    experiments = ran.experiments()
    reason = "budget: total cost 1 reached max_cost 1"
    assert (experiments["first"].status, experiments["first"].stop_reason) == ("completed", reason)
    assert (experiments["second"].status, experiments["second"].stop_reason) == ("skipped", reason)
    record = ran.record()
    assert record.status == "completed"
    assert record.stop_reason == f"first: {reason}; second: {reason}"


def test_max_seconds_stops_the_run_and_records_why(run_suite: RunSuite) -> None:
    config = suite(
        {"slow": simulated(0.5, latency_mean=0.05)},
        [mab("timed", ["slow"], 1000)],
        budget={"max_seconds": 1.0},
    )
    started = time.monotonic()
    ran = run_suite(config)
    assert time.monotonic() - started < 10
    count = len(ran.trials())
    assert 2 <= count < 40  # about 20 trials of 50 ms fit in the second
    reason = ran.experiments()["timed"].stop_reason or ""
    assert reason.startswith("budget: wall time ") and reason.endswith("reached max_seconds 1")
    assert ran.record().stop_reason == f"timed: {reason}"


# ----------------------------------------------------------------------- Ctrl-C and resume
class InterruptAfter(RunListener):
    """A listener that raises KeyboardInterrupt (as SIGINT would) after ``n`` trials."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen = 0

    def on_trial(self, result: TrialResult, leaderboard: object) -> None:
        self.seen += 1
        if self.seen == self.n:
            raise KeyboardInterrupt


def _keys(ran: Ran) -> list[tuple[str, int]]:
    return [(t.experiment, t.index) for t in ran.trials()]


def test_ctrl_c_keeps_completed_trials_and_resume_finishes_a_standard_run(
    run_suite: RunSuite,
) -> None:
    config = suite(
        {"a": simulated(0.3), "b": simulated(0.6), "c": simulated(0.9)},
        [standard("std", ["a", "b", "c"], 5)],
    )
    with pytest.raises(KeyboardInterrupt):
        run_suite(config, listener=InterruptAfter(7))
    ran = run_suite.only_run()
    assert ran.record().status == "interrupted"
    assert ran.experiments()["std"].status == "interrupted"
    assert [t.index for t in ran.trials()] == list(range(7))
    first_active = ran.record().active_seconds
    assert first_active is not None and first_active > 0

    time.sleep(1.0)  # downtime between the interrupt and the resume is not running time
    resume_run(ran.run_id, db_path=ran.db, results_dir=ran.results_dir)
    record = ran.record()
    assert record.status == "completed"
    assert record.active_seconds is not None
    span = record.ended_at - record.started_at
    assert first_active < record.active_seconds <= span - 1.0
    keys = _keys(ran)
    assert len(keys) == len(set(keys)) == 15
    assert sorted(i for _, i in keys) == list(range(15))
    assert Counter(t.variant for t in ran.trials()) == {"a": 5, "b": 5, "c": 5}


def test_a_trial_cut_off_by_ctrl_c_is_run_again_on_resume(run_suite: RunSuite) -> None:
    config = suite(
        {"x": python_agent("faulty_agents:interrupts_once", at=4), "y": simulated(0.5)},
        [standard("std", ["x", "y"], 5)],
    )
    with pytest.raises(KeyboardInterrupt):
        run_suite(config)
    ran = run_suite.only_run()
    assert [t.index for t in ran.trials()] == [0, 1, 2, 3]  # trial 4 never finished

    resume_run(ran.run_id, db_path=ran.db, results_dir=ran.results_dir)
    trials = ran.trials()
    assert [t.index for t in trials] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert all(t.status == "ok" for t in trials)


def test_resume_finishes_a_bandit_experiment_exactly(run_suite: RunSuite) -> None:
    config = suite(
        {"a": simulated(0.2), "b": simulated(0.5), "c": simulated(0.8)},
        [standard("std", ["a", "b", "c"], 3), mab("bandit", ["a", "b", "c"], 60)],
    )
    with pytest.raises(KeyboardInterrupt):
        run_suite(config, listener=InterruptAfter(9 + 25))
    ran = run_suite.only_run()
    assert len(ran.trials("std")) == 9 and len(ran.trials("bandit")) == 25
    assert ran.experiments()["std"].status == "completed"

    resume_run(ran.run_id, db_path=ran.db, results_dir=ran.results_dir)
    assert ran.record().status == "completed"
    assert len(ran.trials("std")) == 9  # a completed experiment is not run again
    bandit = ran.trials("bandit")
    assert len(bandit) == 60
    keys = _keys(ran)
    assert len(keys) == len(set(keys))
    assert ran.experiments()["bandit"].status == "completed"


def test_resume_refuses_a_completed_run(run_suite: RunSuite) -> None:
    from meta_orchestrator.errors import ConfigError

    ran = run_suite(suite({"a": simulated(0.5)}, [standard("std", ["a"], 2)]))
    with pytest.raises(ConfigError, match="already completed"):
        resume_run(ran.run_id, db_path=ran.db)


# --------------------------------------------------------------------------------- memory
@pytest.mark.parametrize(
    "experiment",
    [standard("mem-std", ["a", "b"], 10_000), mab("mem-mab", ["a", "b"], 6_000)],
    ids=["standard", "thompson"],
)
def test_orchestrator_memory_does_not_grow_with_trials(experiment: dict) -> None:
    orchestrator = _orchestrator(experiment)
    backend = ScriptedBackend(lambda spec: float(spec.seed % 2), max_in_flight=1)
    backend.keep_specs = False
    planned = orchestrator.planned_trials
    tracemalloc.start()
    try:
        for n, _ in enumerate(drive(orchestrator, backend, run_id="r", run_seed=1), 1):
            if n == planned // 10:
                early = tracemalloc.get_traced_memory()[0]
        late = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert orchestrator.done == planned
    # 90% of the trials later, memory is where it was: no per-trial list, set or dict.
    assert late - early < 32 * 1024, f"grew by {late - early} bytes"


def test_budget_guard_counts_cost_and_time() -> None:
    from meta_orchestrator.core.config import Budget

    guard = BudgetGuard(Budget(max_cost=0.5, max_seconds=100), elapsed_before=99.99)
    assert guard.cost_exhausted() is None
    guard.record(result_for(TrialSpec("r", "e", "a", 0, 0), lambda s: 1.0))
    assert guard.spent == 0.0
    time.sleep(0.02)
    assert guard.time_exhausted() is not None
