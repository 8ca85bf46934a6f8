"""The driver's run-wide budgets: total cost stops dispatching, wall time cancels what is pending."""

from __future__ import annotations

import time

from meta_orchestrator.core.trial import TrialSpec
from meta_orchestrator.driver import BudgetGuard
from meta_orchestrator.testing import scripted_result
from tests.helpers import RunSuite, mab, simulated, standard, suite


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


def test_budget_guard_counts_cost_and_time() -> None:
    from meta_orchestrator.core.config import Budget

    guard = BudgetGuard(Budget(max_cost=0.5, max_seconds=100), elapsed_before=99.99)
    assert guard.cost_exhausted() is None
    guard.record(scripted_result(TrialSpec("r", "e", "a", 0, 0), 1.0))
    assert guard.spent == 0.0
    time.sleep(0.02)
    assert guard.time_exhausted() is not None
