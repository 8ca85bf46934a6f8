"""One contract, three backends: the same tests run on ``local``, ``threads`` and ``ray`` (both of
its executors: ``ray`` runs Ray tasks, ``ray-actors`` the actor pool).

Backend level: every submitted trial comes back exactly once, failures are results and never
exceptions, ``next_result`` honours its timeout, ``cancel_all`` drops pending trials and leaves the
backend usable. Run level: the same config gives the same trials and the same report shape.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from meta_orchestrator.backends import Backend, create_backend
from meta_orchestrator.core.config import BackendConfig
from meta_orchestrator.core.execution import TrialRunner
from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.hub import run_experiment_suite
from tests.backends.helpers import agent, load, rows, runner_for, simulated, spec, suite
from tests.backends.helpers import write_agents as _write_agents

BACKENDS = ["local", "threads", "ray", "ray-actors"]
CONCURRENT = ["threads", "ray", "ray-actors"]
RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")


def backend_section(kind: str, max_in_flight: int | None = None) -> dict[str, Any]:
    """The ``execution_backend`` mapping for a test kind (``ray-actors``: Ray's actor pool)."""
    section: dict[str, Any] = {"type": kind.split("-")[0]}
    if max_in_flight is not None:
        section["max_in_flight"] = max_in_flight
    if kind == "ray-actors":
        section["ray_settings"] = {"executor": "actors"}
    return section


@pytest.fixture(params=BACKENDS)
def kind(request: pytest.FixtureRequest) -> str:
    if request.param.startswith("ray"):
        request.getfixturevalue("ray_local")
    return str(request.param)


@pytest.fixture(params=CONCURRENT)
def concurrent_kind(request: pytest.FixtureRequest) -> str:
    if request.param.startswith("ray"):
        request.getfixturevalue("ray_local")
    return str(request.param)


@pytest.fixture(scope="module")
def agents_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_agents(tmp_path_factory.mktemp("agents"))


@pytest.fixture(scope="module")
def runner(agents_dir: Path) -> TrialRunner:
    variants = {
        "quick": agent("sleepy", seconds=0.01),
        "slow": agent("sleepy", seconds=0.6),
        "long": agent("sleepy", seconds=30),
        "boom": agent("boom"),
        "garbage": agent("garbage"),
        "hang": agent("sleepy", seconds=3),
    }
    return runner_for(agents_dir, variants, timeout_seconds=0.5)


def started(kind: str, runner: TrialRunner, max_in_flight: int = 4) -> Backend:
    config = BackendConfig.model_validate(backend_section(kind, max_in_flight))
    backend = create_backend(runner, config)
    backend.start()
    return backend


def drain(backend: Backend, timeout: float = 30.0) -> list[TrialResult]:
    results = []
    deadline = time.monotonic() + timeout
    while backend.in_flight and time.monotonic() < deadline:
        result = backend.next_result(timeout=1.0)
        if result is not None:
            results.append(result)
    return results


# ------------------------------------------------------------------------------ backend level
def test_every_trial_comes_back_exactly_once(kind: str, runner: TrialRunner) -> None:
    backend = started(kind, runner)
    try:
        for i in range(4):
            backend.submit(spec("quick", i))
        assert backend.in_flight == 4
        results = drain(backend)
        assert sorted(r.index for r in results) == [0, 1, 2, 3]
        assert all(r.ok and r.node_id for r in results)
        assert backend.in_flight == 0
        assert backend.next_result(timeout=0.01) is None
    finally:
        backend.close()


def test_failures_are_results_not_exceptions(kind: str, runner: TrialRunner) -> None:
    backend = started(kind, runner)
    try:
        for i, variant in enumerate(["boom", "garbage", "hang"]):
            backend.submit(spec(variant, i))
        by_variant = {r.variant: r for r in drain(backend)}
    finally:
        backend.close()
    assert by_variant["boom"].status == "error"
    assert "ValueError: boom on purpose" in (by_variant["boom"].error or "")
    assert "Traceback" in (by_variant["boom"].traceback or "")
    assert by_variant["garbage"].status == "error"
    assert by_variant["hang"].status == "timeout"


def test_next_result_honours_its_timeout(concurrent_kind: str, runner: TrialRunner) -> None:
    backend = started(concurrent_kind, runner)
    try:
        backend.submit(spec("slow", 0))
        t0 = time.perf_counter()
        assert backend.next_result(timeout=0.05) is None
        assert time.perf_counter() - t0 < 0.5
        assert backend.in_flight == 1
        assert [r.index for r in drain(backend)] == [0]
    finally:
        backend.close()


def test_results_come_in_completion_order(concurrent_kind: str, runner: TrialRunner) -> None:
    backend = started(concurrent_kind, runner)
    try:
        backend.submit(spec("slow", 0))
        backend.submit(spec("quick", 1))
        assert [r.index for r in drain(backend)] == [1, 0]
    finally:
        backend.close()


def test_cancel_all_drops_pending_trials_and_backend_goes_on(
    concurrent_kind: str, runner: TrialRunner
) -> None:
    backend = started(concurrent_kind, runner, max_in_flight=2)
    try:
        for i in range(3):  # two running, one queued
            backend.submit(spec("long", i))
        t0 = time.perf_counter()
        backend.cancel_all()
        assert time.perf_counter() - t0 < 2.0
        assert backend.in_flight == 0
        assert backend.next_result(timeout=0.05) is None
        backend.submit(spec("quick", 10))
        assert [r.index for r in drain(backend)] == [10]  # not stuck behind the abandoned ones
    finally:
        backend.close()


# ---------------------------------------------------------------------------------- run level
def shape(value: Any) -> Any:
    """The structure of a JSON document: keys and list lengths, not values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value] if value and isinstance(value[0], dict) else len(value)
    return "value"


def run_config(tmp: Path, kind: str) -> dict[str, Any]:
    backend = backend_section(kind, None if kind == "local" else 4)
    return suite(
        tmp,
        {
            "weak": simulated(0.2, 0.005),
            "fair": simulated(0.5, 0.005),
            "strong": simulated(0.8, 0.005),
        },
        [
            {"name": "grid", "variants": ["weak", "fair", "strong"], "trials_per_variant": 6},
            {
                "name": "bandit",
                "variants": ["weak", "fair", "strong"],
                "orchestrator": "mab",
                "mab_settings": {"total_trials": 30},
            },
        ],
        backend,
        seed=7,
    )


def run_and_read(tmp: Path, kind: str) -> dict[str, Any]:
    tmp.mkdir(parents=True, exist_ok=True)
    db = tmp / "runs.db"
    run_id = run_experiment_suite(
        load(run_config(tmp, kind), tmp), db_path=db, results_dir=tmp / "results"
    )
    out = tmp / "results" / run_id
    summary = (out / "summary.md").read_text(encoding="utf-8")
    return {
        "status": rows(db, "SELECT status FROM runs")[0][0],
        "backend": rows(db, "SELECT backend FROM runs")[0][0],
        "counts": rows(db, "SELECT experiment, COUNT(*) FROM trials GROUP BY experiment"),
        "grid": rows(
            db,
            "SELECT trial_index, variant, seed, status, score FROM trials "
            "WHERE experiment = 'grid' ORDER BY trial_index",
        ),
        "bandit_indices": [
            r[0]
            for r in rows(db, "SELECT trial_index FROM trials WHERE experiment='bandit' ORDER BY 1")
        ],
        "files": sorted(p.name for p in out.iterdir()),
        "json": shape(json.loads((out / "results.json").read_text(encoding="utf-8"))),
        "headings": [
            RUN_ID.sub("<run>", line) for line in summary.splitlines() if line.startswith("#")
        ],
    }


@pytest.mark.parametrize("other", CONCURRENT)
def test_same_config_same_trials_and_report_shape(
    other: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if other.startswith("ray"):
        request.getfixturevalue("ray_local")
    local = run_and_read(tmp_path / "local", "local")
    concurrent = run_and_read(tmp_path / other, other)
    assert local["status"] == concurrent["status"] == "completed"
    assert concurrent["backend"] == other.split("-")[0]
    assert sorted(local["counts"]) == sorted(concurrent["counts"]) == [("bandit", 30), ("grid", 18)]
    # Standard orchestration: same trial indices, variants, seeds and so the same scores.
    assert concurrent["grid"] == local["grid"]
    assert concurrent["bandit_indices"] == local["bandit_indices"] == list(range(30))
    assert concurrent["files"] == local["files"]
    assert concurrent["json"] == local["json"]
    assert concurrent["headings"] == local["headings"]
