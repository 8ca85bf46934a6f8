"""The same chat run, with injected rate limits, on every backend: local, threads and Ray.

On Ray each worker process builds its own agent, so the endpoint limit applies per worker process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meta_orchestrator.core.llm.server import LocalModelServer
from meta_orchestrator.hub import run_experiment_suite
from meta_orchestrator.store import RunStore
from tests.chat.helpers import chat, suite


@pytest.mark.parametrize("backend", ["local", "threads", "ray"])
def test_rate_limited_trials_complete_on_every_backend(
    backend: str,
    fault_proxy: Any,
    local_model: LocalModelServer,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    settings: dict[str, Any] = {"type": backend, "max_in_flight": 3}
    if backend == "ray":
        request.getfixturevalue("ray_local")  # the session's private Ray
    proxy = fault_proxy(rate_limit_share=0.3, retry_after_ms=100, seed=7)
    variant = chat(proxy.base_url, local_model.model, max_transient_retries=12)
    db = tmp_path / "store.db"
    run_id = run_experiment_suite(
        suite({"v": variant}, samples=6, execution_backend=settings),
        db_path=db,
        results_dir=tmp_path,
    )
    with RunStore(db) as store:
        trials = [r for _, r in store.iter_trials(run_id)]
    assert sorted(t.index for t in trials) == list(range(6))
    assert len({t.sample_id for t in trials}) == 6 and all(t.details["text"] for t in trials)
    assert all(t.ok for t in trials), [t.error for t in trials if not t.ok]
    assert proxy.counters.rate_limited >= 1 and proxy.counters.delivered == 6
    assert sum(t.transient_retries for t in trials) == proxy.counters.injected
