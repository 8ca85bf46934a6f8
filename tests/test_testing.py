"""The shipped test kit: the scripted backend's completion orders, and testing one's own agent."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from meta_orchestrator.core.trial import TrialSpec
from meta_orchestrator.errors import ConfigError
from meta_orchestrator.testing import ScriptedBackend, run_agent, run_config, scripted_result
from tests.helpers import FIXTURES, simulated, standard, suite


def _specs(n: int) -> list[TrialSpec]:
    return [TrialSpec("r", "e", "a", i, seed=i) for i in range(n)]


def _drain(backend: ScriptedBackend) -> list[int]:
    order = []
    while (result := backend.next_result()) is not None:
        order.append(result.index)
    return order


# ------------------------------------------------------------------------------ ScriptedBackend
@pytest.mark.parametrize(
    ("order", "expected"), [("lifo", [4, 3, 2, 1, 0]), ("fifo", [0, 1, 2, 3, 4])]
)
def test_lifo_and_fifo_complete_newest_or_oldest_first(order: str, expected: list[int]) -> None:
    backend = ScriptedBackend(lambda spec: 1.0, max_in_flight=5, order=order)
    for spec in _specs(5):
        backend.submit(spec)
    assert backend.in_flight == 5
    assert _drain(backend) == expected
    assert backend.in_flight == 0 and backend.next_result() is None
    assert [s.index for s in backend.submitted] == [0, 1, 2, 3, 4]


def test_random_order_is_a_seeded_shuffle() -> None:
    def shuffled(seed: int) -> list[int]:
        backend = ScriptedBackend(lambda spec: 1.0, max_in_flight=20, order="random", seed=seed)
        for spec in _specs(20):
            backend.submit(spec)
        return _drain(backend)

    first = shuffled(3)
    assert sorted(first) == list(range(20))
    assert first == shuffled(3)
    assert first != shuffled(4)
    assert first not in (list(range(20)), list(range(19, -1, -1)))


def test_outcome_runs_at_completion_and_may_return_a_whole_result() -> None:
    calls: list[int] = []

    def outcome(spec: TrialSpec) -> Any:
        calls.append(spec.index)
        if spec.index == 1:
            return scripted_result(spec, 0.0, "error", error="scripted failure")
        return float(spec.index)

    backend = ScriptedBackend(outcome, max_in_flight=3)
    for spec in _specs(3):
        backend.submit(spec)
    assert calls == []
    results = [backend.next_result() for _ in range(3)]
    assert calls == [2, 1, 0]
    assert [(r.index, r.status, r.score) for r in results if r] == [
        (2, "ok", 2.0),
        (1, "error", 0.0),
        (0, "ok", 0.0),
    ]
    assert results[1] is not None and results[1].error == "scripted failure"


def test_cancel_all_drops_and_records_pending_trials() -> None:
    backend = ScriptedBackend(lambda spec: 1.0, max_in_flight=4, keep_submitted=False)
    for spec in _specs(3):
        backend.submit(spec)
    backend.cancel_all()
    assert backend.in_flight == 0 and backend.next_result() is None
    assert [s.index for s in backend.cancelled] == [0, 1, 2]
    assert backend.submitted == []


def test_unknown_order_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="lifo, fifo, random"):
        ScriptedBackend(lambda spec: 1.0, order="newest")  # type: ignore[arg-type]


def test_scripted_result_defaults() -> None:
    spec = TrialSpec("r", "e", "a", 7, seed=11)
    ok = scripted_result(spec, 1.0)
    assert (ok.run_id, ok.experiment, ok.variant, ok.index, ok.seed) == ("r", "e", "a", 7, 11)
    assert ok.ok and ok.score == 1.0 and ok.error is None
    assert ok.metrics == {"success": 1.0, "cost": 0.0, "latency": 0.0}
    failed = scripted_result(spec, 0.0, "timeout", latency=2.0)
    assert (failed.status, failed.error, failed.latency) == ("timeout", "scripted timeout", 2.0)


# ------------------------------------------------------------------------------------ run_agent
def echo_agent(context: dict[str, Any], bonus: float = 0.0) -> dict[str, float]:
    """Reports what it was given, as metrics."""
    return {
        "success": True,
        "cost": 0.25,
        "seed_seen": float(context["seed"]),
        "bonus": bonus,
        "question": float(context.get("question", -1)),
    }


class CountingAgent:
    def __init__(self, start: int = 0) -> None:
        self.start = start

    def run(self, context: dict[str, Any]) -> dict[str, float]:
        return {"success": self.start > 0, "quality": self.start / 10}


def test_run_agent_runs_a_function_with_params_seed_and_context() -> None:
    result = run_agent(echo_agent, params={"bonus": 2.5}, seed=42, context={"question": 3})
    assert result.ok, result.error
    assert (result.experiment, result.variant, result.index, result.seed) == (
        "test",
        "agent",
        0,
        42,
    )
    assert result.metrics["seed_seen"] == 42.0
    assert result.metrics["bonus"] == 2.5
    assert result.metrics["question"] == 3.0
    assert result.metrics["latency"] >= 0.0
    assert result.score == 1.0  # the default weights score success alone


def test_run_agent_scores_with_the_given_weights() -> None:
    result = run_agent(
        CountingAgent, params={"start": 5}, scoring_weights={"success": 1.0, "quality": 2.0}
    )
    assert result.ok, result.error
    assert result.score == pytest.approx(1.0 + 2.0 * 0.5)


@pytest.mark.parametrize(
    ("agent", "status", "message"),
    [
        ("faulty_agents:raises", "error", "raised RuntimeError: tool exploded on trial 0"),
        ("faulty_agents:returns_bad_cost", "error", "field 'cost'"),
        ("faulty_agents:returns_no_success", "error", "field 'success' is missing"),
        ("faulty_agents:hangs", "timeout", "ran past its timeout of 0.2s"),
    ],
)
def test_run_agent_records_an_agents_failure_like_a_run(
    agent: str, status: str, message: str
) -> None:
    result = run_agent(agent, python_path=[FIXTURES], timeout=0.2)
    assert result.status == status
    assert result.error is not None and message in result.error
    assert result.score == 0.0


def test_run_agent_takes_a_variant_config() -> None:
    result = run_agent({"type": "simulated", "success_rate": 1.0, "latency_mean": 0.0})
    assert result.ok and result.metrics["success"] == 1.0
    if shutil.which("bash"):
        script = {
            "type": "command",
            "command": ["bash", str(FIXTURES / "command_agent.sh")],
            "params": {"mode": "ok"},
        }
        result = run_agent(script, seed=4)
        assert result.ok, result.error
        assert result.metrics["echo_seed"] == 4.0


def test_run_agent_rejects_what_a_config_would_reject() -> None:
    with pytest.raises(ConfigError, match="cannot import module 'no_such_module'"):
        run_agent("no_such_module:agent")
    with pytest.raises(TypeError, match="module-level function or class"):
        run_agent(lambda context: {"success": True})
    with pytest.raises(TypeError, match="holds its own params"):
        run_agent({"type": "simulated"}, params={"x": 1})


# ----------------------------------------------------------------------------------- run_config
def test_run_config_runs_into_a_temporary_store_and_returns_the_trials() -> None:
    config = suite({"a": simulated(0.0), "b": simulated(1.0)}, [standard("std", ["a", "b"], 3)])
    outcome = run_config(config, seed=5)
    assert outcome.status == "completed" and outcome.record.seed == 5
    assert [(t.variant, t.index) for t in outcome.trials] == [
        (v, i) for i, v in enumerate(["a", "b"] * 3)
    ]
    assert set(outcome.experiments) == {"std"}
    assert outcome.scores("a") == [0.0] * 3 and outcome.scores("b", "std") == [1.0] * 3
    assert outcome.run_id in outcome.summary
    assert outcome.record.results_dir is not None
    assert not Path(outcome.record.results_dir).exists()  # the temporary folder is gone


def test_run_config_keeps_a_given_directory(tmp_path: Path) -> None:
    outcome = run_config(
        suite({"a": simulated(0.5)}, [standard("std", ["a"], 2)]), directory=tmp_path
    )
    assert (tmp_path / "store.db").is_file()
    assert (tmp_path / "results" / outcome.run_id / "summary.md").is_file()
    assert len(outcome.trials) == 2
