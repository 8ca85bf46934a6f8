"""Configs, agents and store queries shared by the backend tests.

The test agents live in a module written to a temporary folder and named by the config's
``python_path``, as a user's own variants would: that is the path Ray workers must import from.
"""

from __future__ import annotations

import sqlite3
import textwrap
from contextlib import closing
from pathlib import Path
from typing import Any

from meta_orchestrator.core.config import SuiteConfig, build_config
from meta_orchestrator.core.execution import TrialRunner
from meta_orchestrator.core.trial import TrialSpec

AGENTS_MODULE = "mo_test_agents"

AGENTS_SOURCE = textwrap.dedent(
    '''
    """Agents for the backend tests. Some kill their own process: use those on Ray only."""
    import os
    import signal
    import time
    from pathlib import Path

    HOME = os.path.dirname(os.path.abspath(__file__))


    def sleepy(context, seconds=0.05):
        time.sleep(seconds)
        return {"success": context["seed"] % 2 == 0}


    def boom(context):
        raise ValueError("boom on purpose")


    def garbage(context):
        return "not a mapping"


    def crash_once(context, marker_dir):
        """Kill this worker process on the first attempt of each trial; succeed on the retry."""
        marker = Path(marker_dir) / f"{context['experiment']}-{context['trial_index']}"
        if not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return {"success": True}


    def crash_always(context):
        os.kill(os.getpid(), signal.SIGKILL)


    def where(context, driver_dir, seconds=0.0):
        """Succeeds; ``shipped`` is 1 when this module was imported from a copy Ray shipped."""
        time.sleep(seconds)
        return {"success": True, "shipped": float(os.path.realpath(HOME) != driver_dir)}
    '''
)


def write_agents(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{AGENTS_MODULE}.py").write_text(AGENTS_SOURCE, encoding="utf-8")
    return folder


def agent(name: str, **params: Any) -> dict[str, Any]:
    return {"type": "python", "agent": f"{AGENTS_MODULE}:{name}", "params": params}


def simulated(success_rate: float, latency: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {
        "type": "simulated",
        "success_rate": success_rate,
        "latency_mean": latency,
        **extra,
    }


def suite(
    folder: Path,
    variants: dict[str, dict[str, Any]],
    experiments: list[dict[str, Any]],
    backend: dict[str, Any] | None = None,
    **top: Any,
) -> dict[str, Any]:
    """A config mapping whose ``python_path`` is ``folder`` (where ``write_agents`` put the agents)."""
    return {
        "name": "backend-test",
        "python_path": [str(folder)],
        "variants": variants,
        "experiments": experiments,
        "execution_backend": backend or {"type": "local"},
        **top,
    }


def load(config: dict[str, Any], folder: Path) -> SuiteConfig:
    return build_config(config, base_dir=folder)


def runner_for(folder: Path, variants: dict[str, dict[str, Any]], **trial: Any) -> TrialRunner:
    config = suite(
        folder,
        variants,
        [{"name": "e", "variants": list(variants), "trials_per_variant": 1}],
        trial=trial or {"timeout_seconds": 30},
    )
    return TrialRunner.from_config(load(config, folder))


def spec(variant: str, index: int, experiment: str = "e") -> TrialSpec:
    return TrialSpec(run_id="r", experiment=experiment, variant=variant, index=index, seed=index)


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def only_run_id(db: Path) -> str:
    (run_id,) = rows(db, "SELECT id FROM runs")[0]
    return str(run_id)
