"""The standard orchestrator: round-robin dispatch order, results taken back in any order."""

from __future__ import annotations

from collections import Counter

from meta_orchestrator.driver import drive
from meta_orchestrator.testing import ScriptedBackend
from tests.helpers import RunSuite, orchestrator_for, simulated, standard, suite


def test_standard_interleaves_round_robin(run_suite: RunSuite) -> None:
    config = suite(
        {"a": simulated(0.2), "b": simulated(0.5), "c": simulated(0.8)},
        [standard("rr", ["a", "b", "c"], 4)],
    )
    trials = run_suite(config).trials()
    assert [t.variant for t in trials] == ["a", "b", "c"] * 4
    assert [t.index for t in trials] == list(range(12))


def test_standard_takes_results_back_in_any_order() -> None:
    orchestrator = orchestrator_for(standard("async", ["a", "b", "c"], 5))
    backend = ScriptedBackend(lambda spec: 1.0, max_in_flight=4)
    results = list(drive(orchestrator, backend, run_id="r", run_seed=1))

    assert [s.index for s in backend.submitted] == list(range(15))  # dispatch order kept
    completed = [r.index for r in results]
    assert completed[0] == 3 and completed[-1] == 0  # completion order is not
    assert sorted(r.index for r in results) == list(range(15))
    assert orchestrator.choice_counts == {"a": 5, "b": 5, "c": 5}
    assert orchestrator.pending == Counter() or sum(orchestrator.pending.values()) == 0
