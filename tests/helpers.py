"""Helpers shared by the engine tests: small configs and what a run left in its store.

Test doubles (``ScriptedBackend``, ``scripted_result``) ship in ``meta_orchestrator.testing``.
Configs are plain dicts (``load_config`` accepts a mapping); ``python_path`` points at
``tests/fixtures`` so the misbehaving agents there import like any user module.
"""

from __future__ import annotations

import copy
import importlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from meta_orchestrator.core.config import load_config
from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.listener import RunListener
from meta_orchestrator.orchestrators import Orchestrator, create_orchestrator
from meta_orchestrator.store import ExperimentRecord, RunRecord, RunStore

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def skip_or_fail(reason: str) -> None:
    """Skip for want of an optional tool or package, except under ``CI=true``, where the test
    fails: CI installs everything, so a skip there would hide that a whole part went untested."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason, allow_module_level=True)


def import_or_skip(module: str, reason: str) -> ModuleType:
    """``pytest.importorskip`` that fails under ``CI=true`` (``skip_or_fail``)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        skip_or_fail(reason)
        raise  # not reached: skip_or_fail raises


def which_or_skip(command: str, reason: str) -> str:
    """The path of ``command`` on PATH; skips (fails under ``CI=true``) without it."""
    found = shutil.which(command)
    if found is None:
        skip_or_fail(reason)
    assert found is not None
    return found


def simulated(success_rate: float, **fields: Any) -> dict[str, Any]:
    """A simulated variant with no latency: trials cost microseconds."""
    return {"type": "simulated", "success_rate": success_rate, "latency_mean": 0.0, **fields}


def python_agent(agent: str, **params: Any) -> dict[str, Any]:
    return {"type": "python", "agent": agent, "params": params}


def standard(name: str, variants: list[str], trials_per_variant: int) -> dict[str, Any]:
    return {"name": name, "variants": variants, "trials_per_variant": trials_per_variant}


def mab(name: str, variants: list[str], total_trials: int, **settings: Any) -> dict[str, Any]:
    return {
        "name": name,
        "orchestrator": "mab",
        "variants": variants,
        "mab_settings": {"total_trials": total_trials, **settings},
    }


def suite(
    variants: dict[str, Any], experiments: list[dict[str, Any]], **top: Any
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": "core-test",
        "seed": 7,
        "python_path": [str(FIXTURES)],
        "variants": variants,
        "experiments": experiments,
        "trial": {"timeout_seconds": 5, "retries": 0},
    }
    config.update(copy.deepcopy(top))
    return config


def orchestrator_for(experiment: dict[str, Any], seed: int = 1) -> Orchestrator:
    """The orchestrator ``experiment`` asks for, over simulated variants, as the hub builds it."""
    config = load_config(
        suite({v: simulated(0.5) for v in experiment["variants"]}, [experiment], seed=seed)
    )
    return create_orchestrator(config.experiments[0], config.seed, config.scoring_weights)


@dataclass
class Ran:
    """A finished (or interrupted) run and the store it was written to."""

    run_id: str
    db: Path
    results_dir: Path

    def trials(self, experiment: str | None = None) -> list[TrialResult]:
        with RunStore(self.db) as store:
            return [r for _, r in store.iter_trials(self.run_id, experiment=experiment)]

    def record(self) -> RunRecord:
        with RunStore(self.db) as store:
            return store.get_run(self.run_id)

    def experiments(self) -> dict[str, ExperimentRecord]:
        with RunStore(self.db) as store:
            return {e.name: e for e in store.experiments(self.run_id)}


class RunSuite:
    """Runs configs into one store and results folder (the ``run_suite`` fixture)."""

    def __init__(self, db: Path, results_dir: Path) -> None:
        self.db = db
        self.results_dir = results_dir

    def __call__(self, config: Any, **kwargs: Any) -> Ran:
        """``run_experiment_suite(config, **kwargs)`` into this store."""
        from meta_orchestrator.hub import run_experiment_suite

        run_id = run_experiment_suite(
            config, db_path=self.db, results_dir=self.results_dir, **kwargs
        )
        return Ran(run_id, self.db, self.results_dir)

    def only_run(self) -> Ran:
        """The store's single run (one that raised, so no id was returned)."""
        return Ran(only_run_id(self.db), self.db, self.results_dir)


def only_run_id(db: Path) -> str:
    with RunStore(db) as store:
        runs = store.list_runs()
    assert len(runs) == 1, [r.id for r in runs]
    return runs[0].id


class InterruptAfter(RunListener):
    """A listener that raises KeyboardInterrupt (as SIGINT would) after ``n`` trials."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen = 0

    def on_trial(self, result: TrialResult, leaderboard: object) -> None:
        self.seen += 1
        if self.seen == self.n:
            raise KeyboardInterrupt
