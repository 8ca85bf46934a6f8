"""The local backend's watched lane: trials queued ahead on one thread, hung ones abandoned.

With a per-trial timeout the local backend runs trials on a lane thread and its driver thread
watches each attempt's deadline; these tests hold it to the sequential backend's promises: every
trial once, in order, a hung agent recorded as ``timeout`` within its timeout, retries after one,
and no queueing ahead when the next trial depends on the last result.
"""

from __future__ import annotations

import time

from meta_orchestrator.backends.local import READ_AHEAD, LocalBackend
from meta_orchestrator.core.config import load_config
from meta_orchestrator.core.execution import TrialRunner
from meta_orchestrator.core.trial import TrialSpec
from meta_orchestrator.driver import BudgetGuard, drive
from meta_orchestrator.orchestrators import create_orchestrator
from tests.helpers import RunSuite, mab, python_agent, simulated, standard, suite


def _spec(variant: str, index: int) -> TrialSpec:
    return TrialSpec(run_id="r", experiment="e", variant=variant, index=index, seed=index)


def _runner(variants: dict, timeout: float | None, retries: int = 0) -> TrialRunner:
    config = suite(
        variants,
        [standard("e", list(variants), 1)],
        trial={"timeout_seconds": timeout, "retries": retries},
    )
    return TrialRunner.from_config(load_config(config))


def test_a_hung_trial_among_queued_ones_times_out_and_the_rest_run_in_order() -> None:
    runner = _runner(
        {
            "good": python_agent("faulty_agents:succeeds"),
            "stuck": python_agent("faulty_agents:hangs"),
        },
        timeout=0.3,
    )
    backend = LocalBackend(runner)
    assert backend.read_ahead == READ_AHEAD
    order = ["good", "good", "stuck", "good", "stuck", "good"]
    started = time.monotonic()
    with backend:
        for index, variant in enumerate(order):
            backend.submit(_spec(variant, index))
        results = []
        while backend.in_flight:
            result = backend.next_result(timeout=5.0)
            assert result is not None
            results.append(result)
    elapsed = time.monotonic() - started
    assert [r.index for r in results] == list(range(len(order)))
    assert [r.status for r in results] == ["ok" if v == "good" else "timeout" for v in order]
    for hung in results[2], results[4]:
        assert hung.error == "trial ran past its timeout of 0.3s"
        assert 0.3 <= hung.latency < 1.0
        assert hung.attempts == 1
    assert elapsed < 3.0  # two timeouts of 0.3 s, not the agent's 20 s


def test_a_timed_out_attempt_is_retried_on_a_fresh_lane() -> None:
    runner = _runner(
        {"flaky": python_agent("faulty_agents:HangsFirstAttempt", hang_on=[1])},
        timeout=0.3,
        retries=1,
    )
    backend = LocalBackend(runner)
    with backend:
        for index in range(3):
            backend.submit(_spec("flaky", index))
        results = [backend.next_result(timeout=5.0) for _ in range(3)]
    assert [(r.index, r.status, r.attempts) for r in results if r] == [
        (0, "ok", 1),
        (1, "ok", 2),
        (2, "ok", 1),
    ]


def test_next_result_returns_none_after_its_timeout_while_a_trial_runs() -> None:
    runner = _runner({"stuck": python_agent("faulty_agents:hangs")}, timeout=5.0)
    with LocalBackend(runner) as backend:
        backend.submit(_spec("stuck", 0))
        started = time.monotonic()
        assert backend.next_result(timeout=0.1) is None
        assert time.monotonic() - started < 1.0
        backend.cancel_all()
        assert backend.in_flight == 0


def test_without_a_timeout_trials_run_inline_one_at_a_time() -> None:
    backend = LocalBackend(_runner({"good": python_agent("faulty_agents:succeeds")}, None))
    assert backend.read_ahead == 1
    backend.submit(_spec("good", 0))
    assert backend.next_result().status == "ok"  # type: ignore[union-attr]


def _peak_in_flight(experiment: dict, **top: object) -> int:
    config = load_config(suite({"a": simulated(0.5), "b": simulated(0.5)}, [experiment], **top))
    orchestrator = create_orchestrator(config.experiments[0], config.seed, config.scoring_weights)
    backend = LocalBackend(TrialRunner.from_config(config))
    peak = 0
    with backend:
        budget = BudgetGuard(config.budget)
        for _ in drive(orchestrator, backend, run_id="r", run_seed=1, budget=budget):
            peak = max(peak, backend.in_flight + 1)
    return peak


def test_trials_are_queued_ahead_only_when_no_result_steers_the_next() -> None:
    assert _peak_in_flight(standard("e", ["a", "b"], 200)) == READ_AHEAD
    assert _peak_in_flight(mab("e", ["a", "b"], 200)) == 1  # a bandit chooses from results
    costed = standard("e", ["a", "b"], 200)
    assert _peak_in_flight(costed, budget={"max_cost": 1000.0}) == 1  # stops at the budget


def test_a_run_on_the_lane_stores_every_trial(run_suite: RunSuite) -> None:
    config = suite(
        {"a": simulated(0.5), "b": simulated(0.7)},
        [standard("grid", ["a", "b"], 500), mab("bandit", ["a", "b"], 100)],
        trial={"timeout_seconds": 60},
    )
    ran = run_suite(config)
    assert ran.record().status == "completed"
    assert sorted(t.index for t in ran.trials("grid")) == list(range(1000))
    assert len(ran.trials("bandit")) == 100
