"""A whole run keeps no per-trial state: memory after 20,000 trials is what it was after 2,000.

The cheap version of ``benchmarks/bench_memory.py`` (which compares 20,000 and 200,000 trials).
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path
from typing import Any

from meta_orchestrator.listener import RunListener
from meta_orchestrator.store import RunStore
from tests.helpers import RunSuite, python_agent, standard, suite

EARLY, LATE = 2_000, 20_000


class MemorySampler(RunListener):
    """Samples traced memory at two trials, once the store has committed every trial so far (rows
    still queued for the writer would otherwise count as growth)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.samples: dict[int, int] = {}

    def on_trial(self, result: Any, leaderboard: Any) -> None:
        if leaderboard.total not in (EARLY, LATE):
            return
        with RunStore(self.db) as store:
            deadline = time.monotonic() + 30
            while store.trial_count(result.run_id) < leaderboard.total:
                assert time.monotonic() < deadline, "the writer fell behind"
                time.sleep(0.02)
        time.sleep(0.05)
        self.samples[leaderboard.total] = tracemalloc.get_traced_memory()[0]
        if leaderboard.total == LATE:
            tracemalloc.stop()  # the report written after the last trial is not under test


def test_memory_does_not_grow_with_the_number_of_trials(run_suite: RunSuite) -> None:
    config = suite(
        {"noop": python_agent("noop")},
        [standard("many", ["noop"], LATE)],
        trial={"timeout_seconds": None},
    )
    sampler = MemorySampler(run_suite.db)
    tracemalloc.start()
    try:
        ran = run_suite(config, listener=sampler)
    finally:
        tracemalloc.stop()
    assert ran.record().trials == LATE
    growth = sampler.samples[LATE] - sampler.samples[EARLY]
    # 18,000 more trials; a set of their indices alone would take over 1 MB.
    assert growth < 256 * 1024, f"grew by {growth / 1024:.0f} KiB over {LATE - EARLY} trials"
