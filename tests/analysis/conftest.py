"""Stores for the analysis tests: real runs through the hub, and hand-written ones for edge cases."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.hub import run_experiment_suite
from meta_orchestrator.store import NewRun, RunStore, StoreWriter

CONFIG_YAML = "name: handmade\nscoring_weights:\n  success: 1.0\n  cost: -2.0\n"


def _trial(
    run_id: str,
    experiment: str,
    variant: str,
    index: int,
    *,
    status: str = "ok",
    score: float | None = 1.0,
    success: float = 1.0,
    cost: float = 0.0,
    latency: float = 0.01,
) -> TrialResult:
    ok = status == "ok"
    metrics = {"success": success, "cost": cost, "latency": latency} if ok else {"latency": latency}
    return TrialResult(
        run_id=run_id,
        experiment=experiment,
        variant=variant,
        index=index,
        seed=index,
        status=status,  # type: ignore[arg-type]
        started_at=1_000.0 + index,
        ended_at=1_000.0 + index + latency,
        latency=latency,
        metrics=metrics,
        score=score if ok else None,
        error=None if ok else f"{status}: boom",
    )


@pytest.fixture
def trial() -> Callable[..., TrialResult]:
    """``trial(run_id, experiment, variant, index, status=, score=, success=, cost=, latency=)``."""
    return _trial


@pytest.fixture
def run_suite(tmp_path: Path) -> Callable[[dict[str, Any]], tuple[Path, str]]:
    """Run a config through the hub; returns the store path and the run id."""

    def run(config: dict[str, Any]) -> tuple[Path, str]:
        db = tmp_path / "s.db"
        return db, run_experiment_suite(config, db_path=db, results_dir=tmp_path / "results")

    return run


@pytest.fixture
def handmade(tmp_path: Path) -> Callable[..., tuple[Path, str]]:
    """Write a run straight into a store: ``experiments`` maps name -> (variants, trials)."""

    def write(
        experiments: dict[str, tuple[list[str], Iterable[TrialResult]]],
        *,
        run_id: str = "run-1",
        status: str = "completed",
        error: str | None = None,
        orchestrator: str = "standard",
    ) -> tuple[Path, str]:
        db = tmp_path / "hand.db"
        with StoreWriter(db) as writer:
            writer.create_run(
                NewRun(
                    id=run_id,
                    name="handmade",
                    orchestrator=orchestrator,
                    backend="local",
                    seed=7,
                    planned_trials=10,
                    config_yaml=CONFIG_YAML,
                    config_path=None,
                    started_at=time.time() - 5,
                    package_version="0.1.0",
                    git_commit="0123456789abcdef",
                    host="test",
                    pid=1,
                )
            )
            for position, (name, (variants, trials)) in enumerate(experiments.items()):
                writer.upsert_experiment(run_id, position, name, orchestrator, None, variants, 10)
                for result in trials:
                    writer.add_trial(result)
                writer.set_experiment_status(run_id, name, "completed")
            writer.finish_run(run_id, status, None, error)
        return db, run_id

    return write


@pytest.fixture
def open_store() -> Iterable[Callable[[Path], RunStore]]:
    stores: list[RunStore] = []

    def open_(db: Path) -> RunStore:
        stores.append(RunStore(db))
        return stores[-1]

    yield open_
    for store in stores:
        store.close()
