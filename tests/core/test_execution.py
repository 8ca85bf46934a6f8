"""One trial at a time: failures of every kind are recorded as data and the run goes on."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from meta_orchestrator.core.config import load_config
from meta_orchestrator.core.execution import TrialRunner
from meta_orchestrator.core.trial import TrialSpec
from tests.helpers import FIXTURES, RunSuite, python_agent, simulated, standard, suite


def test_raising_garbage_and_hanging_variants_are_recorded_and_the_run_completes(
    run_suite: RunSuite,
) -> None:
    variants = {
        "good": python_agent("faulty_agents:succeeds"),
        "crashes": python_agent("faulty_agents:raises"),
        "chatty": python_agent("faulty_agents:returns_text"),
        "bad_cost": python_agent("faulty_agents:returns_bad_cost"),
        "no_success": python_agent("faulty_agents:returns_no_success"),
        "stuck": python_agent("faulty_agents:hangs"),
        "quits": python_agent("faulty_agents:exits"),
    }
    config = suite(
        variants, [standard("faults", list(variants), 2)], trial={"timeout_seconds": 0.3}
    )
    started = time.monotonic()
    ran = run_suite(config)
    elapsed = time.monotonic() - started

    assert ran.record().status == "completed"
    trials = ran.trials()
    assert len(trials) == 14
    by_variant = {v: [t for t in trials if t.variant == v] for v in variants}
    assert [t.status for t in by_variant["good"]] == ["ok", "ok"]
    assert all(t.metrics["cost"] == 0.01 for t in by_variant["good"])

    for crash in by_variant["crashes"]:
        assert crash.status == "error"
        assert crash.error == (
            f"variant 'crashes' raised RuntimeError: tool exploded on trial {crash.index}"
        )
        assert crash.traceback is not None
        assert "faulty_agents.py" in crash.traceback and "in raises" in crash.traceback

    assert {t.error for t in by_variant["chatty"]} == {
        "variant 'chatty' returned str, expected a mapping of metrics such as "
        "{'success': True, 'cost': 0.01}"
    }
    assert {t.error for t in by_variant["bad_cost"]} == {
        "variant 'bad_cost': field 'cost' must be a number, got str 'cheap'"
    }
    assert {t.error for t in by_variant["no_success"]} == {
        "variant 'no_success': field 'success' is missing (bool or 0/1)"
    }
    assert {t.error for t in by_variant["quits"]} == {"variant 'quits' raised SystemExit: 3"}
    for hung in by_variant["stuck"]:
        assert hung.status == "timeout"
        assert hung.error == "trial ran past its timeout of 0.3s"
        assert 0.3 <= hung.latency < 2.0
    # Two hung trials of 0.3 s each; nothing waited for the 20 s the agent would take.
    assert elapsed < 10


def test_failed_trials_keep_identity_and_latency(run_suite: RunSuite) -> None:
    config = suite(
        {"crashes": python_agent("faulty_agents:raises")}, [standard("e", ["crashes"], 3)]
    )
    trials = run_suite(config).trials()
    assert [t.index for t in trials] == [0, 1, 2]
    assert len({t.seed for t in trials}) == 3
    for trial in trials:
        assert trial.metrics.keys() == {"latency"}
        assert trial.latency >= 0 and trial.ended_at >= trial.started_at
        assert trial.attempts == 1


@pytest.mark.parametrize(
    ("failures", "retries", "status", "attempts"),
    [(1, 1, "ok", 2), (2, 2, "ok", 3), (1, 0, "error", 1), (5, 2, "error", 3)],
    ids=["one-retry-saves", "two-retries-save", "no-retries", "retries-exhausted"],
)
def test_retries(
    run_suite: RunSuite, failures: int, retries: int, status: str, attempts: int
) -> None:
    config = suite(
        {"flaky": python_agent("faulty_agents:FailsFirstAttempts", failures=failures)},
        [standard("e", ["flaky"], 3)],
        trial={"timeout_seconds": 5, "retries": retries},
    )
    trials = run_suite(config).trials()
    assert [(t.status, t.attempts) for t in trials] == [(status, attempts)] * 3
    if status == "ok":
        assert [t.metrics["attempt"] for t in trials] == [float(attempts)] * 3
    else:
        assert all("dropped" in (t.error or "") for t in trials)


def _runner(tmp_path: Path, variants: dict, weights: dict | None = None) -> TrialRunner:
    config = load_config(
        suite(
            variants,
            [standard("e", list(variants), 1)],
            scoring_weights=weights or {"success": 1.0},
            custom_metrics=["steps"],
        )
    )
    return TrialRunner.from_config(config)


def _spec(variant: str, index: int = 0) -> TrialSpec:
    return TrialSpec(run_id="r", experiment="e", variant=variant, index=index, seed=1234 + index)


def test_score_is_the_weighted_sum_of_metrics(tmp_path: Path) -> None:
    weights = {"success": 2.0, "cost": -10.0, "autonomy": 0.5, "steps": -0.1}
    runner = _runner(
        tmp_path,
        {"plan": python_agent("planner", skill=1.0, steps=3, cost_per_step=0.01, step_seconds=0)},
        {**weights},
    )
    result = runner(_spec("plan"))
    assert result.status == "ok", result.error
    m = result.metrics
    assert (m["success"], m["steps"], m["autonomy"]) == (1.0, 3.0, 1.0)
    assert result.score == pytest.approx(2.0 - 10.0 * 0.03 + 0.5 - 0.3)


def test_latency_is_measured_by_the_harness_not_reported_by_the_agent(tmp_path: Path) -> None:
    runner = _runner(tmp_path, {"slow": simulated(1.0, latency_mean=0.05)})
    result = runner(_spec("slow"))
    assert result.status == "ok"
    assert 0.05 <= result.latency == result.metrics["latency"] < 1.0


def test_numpy_metrics_are_numbers(tmp_path: Path) -> None:
    runner = _runner(tmp_path, {"np": python_agent("faulty_agents:succeeds")})
    runner._agents["np"] = lambda context: {
        "success": np.bool_(True),
        "cost": np.float32(0.5),
        "tokens": np.int64(12),
    }
    result = runner(_spec("np"))
    assert result.status == "ok", result.error
    assert result.metrics["tokens"] == 12.0 and result.metrics["cost"] == 0.5


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ({"success": 2}, "variant 'v': field 'success' must be a bool or 0/1, got 2"),
        ({"success": True, "cost": -1}, "variant 'v': field 'cost' must be >= 0, got -1.0"),
        (
            {"success": True, "autonomy": 1.5},
            "variant 'v': field 'autonomy' must be within 0..1, got 1.5",
        ),
        ({"success": True, "x": float("nan")}, "variant 'v': field 'x' is not finite (nan)"),
        ({"success": True, "x": [1]}, "variant 'v': field 'x' must be a number, got list [1]"),
        ([("success", True)], "variant 'v' returned list, expected a mapping"),
        (None, "variant 'v' returned NoneType"),
    ],
    ids=["success-2", "negative-cost", "autonomy-1.5", "nan", "list-value", "list", "none"],
)
def test_contract_violations_name_variant_and_field(
    tmp_path: Path, returned: object, message: str
) -> None:
    runner = _runner(tmp_path, {"v": python_agent("faulty_agents:succeeds")})
    runner._agents["v"] = lambda context: returned
    result = runner(_spec("v"))
    assert result.status == "error"
    assert result.error is not None and result.error.startswith(message), result.error


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ({"success": True, "cost": float("inf")}, "variant 'v': field 'cost' is not finite (inf)"),
        ({"success": True, "cost": 1e308}, "variant 'v': the weighted score is not finite (-inf)"),
        (
            {"success": True, "cost": 1e307, "steps": -1e307},
            "variant 'v': the weighted score is not finite (inf)",
        ),
    ],
    ids=["infinite-cost", "score-overflows", "sum-overflows"],
)
def test_non_finite_metrics_and_scores_are_malformed_results(
    tmp_path: Path, returned: object, message: str
) -> None:
    """A finite metric whose weighted score overflows would make the variant's mean and SD
    infinite, so the trial is recorded as malformed (status error) and the run goes on."""
    runner = _runner(
        tmp_path,
        {"v": python_agent("faulty_agents:succeeds")},
        {"success": 1.0, "cost": -10.0, "steps": 10.0},
    )
    runner._agents["v"] = lambda context: {"steps": 0.0, **returned}  # type: ignore[dict-item]
    result = runner(_spec("v"))
    assert result.status == "error" and result.score is not None
    assert result.error is not None and result.error.startswith(message), result.error
    assert runner(_spec("v", 1)).index == 1  # the runner goes on


def test_weighted_metric_missing_from_a_result(tmp_path: Path) -> None:
    runner = _runner(
        tmp_path,
        {"v": python_agent("faulty_agents:succeeds")},
        {"success": 1.0, "autonomy": 1.0},
    )
    result = runner(_spec("v"))
    assert result.status == "error"
    assert result.error == "variant 'v': field 'autonomy' is missing but scoring_weights uses it"


def test_runner_pickles_without_its_agents(tmp_path: Path) -> None:
    import pickle

    runner = _runner(tmp_path, {"v": python_agent("faulty_agents:succeeds")})
    assert runner(_spec("v")).status == "ok"
    clone = pickle.loads(pickle.dumps(runner))
    assert clone._agents == {}
    assert clone(_spec("v", 1)).status == "ok"
    assert str(FIXTURES) in clone.python_path
