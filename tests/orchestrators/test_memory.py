"""An orchestrator keeps a few counters per variant: its memory does not grow with the trials."""

from __future__ import annotations

import tracemalloc

import pytest

from meta_orchestrator.driver import drive
from meta_orchestrator.testing import ScriptedBackend
from tests.helpers import mab, orchestrator_for, standard


@pytest.mark.parametrize(
    "experiment",
    [standard("mem-std", ["a", "b"], 10_000), mab("mem-mab", ["a", "b"], 6_000)],
    ids=["standard", "thompson"],
)
def test_orchestrator_memory_does_not_grow_with_trials(experiment: dict) -> None:
    orchestrator = orchestrator_for(experiment)
    backend = ScriptedBackend(
        lambda spec: float(spec.seed % 2), max_in_flight=1, keep_submitted=False
    )
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
