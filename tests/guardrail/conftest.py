"""Shared fixtures for the gate's tests: small real runs, and a pilot of the benchmark's variants."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from meta_orchestrator.guardrail.power import Pilot, pilot_runs
from meta_orchestrator.hub import run_experiment_suite

ROOT = Path(__file__).resolve().parents[2]
BENCHMARK_CONFIG = ROOT / "benchmark_config.yaml"


@pytest.fixture(scope="session")
def benchmark_pilots() -> list[Pilot]:
    """4,000 real trials of every benchmark variant (fresh seeds), run once per test session."""
    return pilot_runs(BENCHMARK_CONFIG, trials=4000)


MakeRun = Callable[..., Path]


@pytest.fixture
def make_run(tmp_path: Path) -> MakeRun:
    """Run a small config in process; return the run folder (results.json, summary.md, config)."""
    counter = iter(range(1000))

    def make(
        variants: dict[str, dict[str, Any]],
        trials: int = 30,
        seed: int = 1,
        experiment: str = "exp",
    ) -> Path:
        out = tmp_path / f"runs{next(counter)}"
        config = {
            "name": "small",
            "seed": seed,
            "variants": {
                name: {"type": "simulated", "latency_mean": 0.0, **spec}
                for name, spec in variants.items()
            },
            "experiments": [
                {
                    "name": experiment,
                    "variants": list(variants),
                    "trials_per_variant": trials,
                }
            ],
        }
        run_id = run_experiment_suite(config, db_path=out / "store.db", results_dir=out)
        return out / run_id

    return make
