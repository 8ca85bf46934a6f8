"""Configs and hand-written rows for the dashboard tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from streamlit.testing.v1 import AppTest

from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.store import NewRun

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HOSTILE = "<img src=x onerror=alert(1)>"
SCRIPT_LOG = "<script>alert('log')</script> **bold** [link](javascript:alert(1))"


def fast_config(
    name: str = "dash", trials_per_variant: int = 8, bandit_trials: int = 30
) -> dict[str, Any]:
    """Three simulated variants with no latency: a run takes a fraction of a second."""
    variant = {"type": "simulated", "latency_mean": 0.0, "cost_mean": 0.01}
    return {
        "name": name,
        "seed": 11,
        "scoring_weights": {"success": 1.0, "cost": -2.0},
        "variants": {
            "alpha": {**variant, "success_rate": 0.9},
            "beta": {**variant, "success_rate": 0.4},
            "gamma": {**variant, "success_rate": 0.6, "error_rate": 0.2},
        },
        "experiments": [
            {
                "name": "grid",
                "variants": ["alpha", "beta", "gamma"],
                "trials_per_variant": trials_per_variant,
            },
            {
                "name": "bandit",
                "orchestrator": "mab",
                "variants": ["alpha", "beta", "gamma"],
                "mab_settings": {"strategy": "thompson_sampling", "total_trials": bandit_trials},
            },
        ],
    }


def slow_config(
    name: str = "slow", latency: float = 0.04, trials_per_variant: int = 100
) -> dict[str, Any]:
    """A run that lasts seconds, for watching it live and stopping it."""
    config = fast_config(name, trials_per_variant=trials_per_variant, bandit_trials=60)
    for variant in config["variants"].values():
        variant["latency_mean"] = latency
    return config


def qa_config(
    name: str, seed: int, samples: list[dict[str, Any]], experiment: str
) -> dict[str, Any]:
    """A run over an inline dataset with the target exposed, two epochs, exact scoring: 'right'
    answers with the target (passes), 'echo' with the whole sample (fails)."""
    return {
        "name": name,
        "seed": seed,
        "python_path": [str(FIXTURES)],
        "variants": {
            "right": {"type": "python", "agent": "sample_agents:peeker"},
            "echo": {"type": "python", "agent": "sample_agents:echo_sample"},
        },
        "datasets": {"qa": {"type": "inline", "samples": samples, "expose_target": True}},
        "experiments": [
            {
                "name": experiment,
                "variants": ["right", "echo"],
                "dataset": "qa",
                "epochs": 2,
                "scorers": [{"type": "exact"}],
            }
        ],
    }


def write_config(folder: Path, config: dict[str, Any], filename: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (filename or f"{config['name']}.yaml")
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def new_run(run_id: str, name: str, started_at: float, planned: int = 10) -> NewRun:
    return NewRun(
        id=run_id, name=name, orchestrator="standard", backend="local", seed=1,
        planned_trials=planned, config_yaml=f"name: {name}\n", config_path=None,
        started_at=started_at, package_version="test", git_commit=None, host=None, pid=None,
    )  # fmt: skip


def trial(run_id: str, experiment: str, variant: str, index: int, score: float | None = 1.0,
          status: str = "ok") -> TrialResult:  # fmt: skip
    ok = status == "ok"
    return TrialResult(
        run_id=run_id, experiment=experiment, variant=variant, index=index, seed=index,
        status=status, started_at=1_000.0 + index, ended_at=1_000.01 + index, latency=0.01,  # type: ignore[arg-type]
        metrics={"success": float(score or 0.0), "cost": 0.0, "latency": 0.01} if ok else {"latency": 0.01},
        score=score, error=None if ok else "boom",
    )  # fmt: skip


def texts(app: AppTest, kind: str) -> list[str]:
    """The text of every element of one kind (``info``, ``error``, ``caption`` ...)."""
    return [str(element.value) for element in getattr(app, kind)]


def metric(app: AppTest, label: str) -> str:
    return next(str(m.value) for m in app.metric if m.label == label)
