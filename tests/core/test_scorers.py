"""Scorers: each built-in on right, wrong and malformed outputs; user scorers in Python and as a
command; a scorer that raises or returns garbage fails its trial (kind ``scorer``) and the run goes on."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from meta_orchestrator.core.config import ScorerConfig
from meta_orchestrator.core.datasets import Sample
from meta_orchestrator.core.scorers import Score, ScorerError, build_scorer, parse_returned
from tests.helpers import FIXTURES, RunSuite, python_agent

SCORERS = TypeAdapter(ScorerConfig)


def score(spec: dict[str, Any], output: Any, target: Any, **sample: Any) -> Score:
    scorer = build_scorer(SCORERS.validate_python(spec), FIXTURES, timeout=10)
    return scorer(output, Sample(sample.get("id", "s1"), sample.get("input", "q"), target))


# (scorer, output, target, value): right, wrong and malformed answers; none of them raises
CASES = [
    ({"type": "exact"}, " 42\n", "42", 1.0),
    ({"type": "exact"}, "41", "42", 0.0),
    ({"type": "exact"}, None, "42", 0.0),
    ({"type": "exact"}, {"answer": 42}, "42", 0.0),
    ({"type": "exact"}, 42, "42", 1.0),  # compared as text
    ({"type": "exact"}, "Paris", "paris", 0.0),
    ({"type": "exact", "normalize": ["case"]}, "Paris", "paris", 1.0),
    ({"type": "exact", "normalize": ["whitespace"]}, "new   york ", "new york", 1.0),
    ({"type": "exact"}, "NYC", ["New York", "NYC"], 1.0),  # a list target: any one
    ({"type": "includes"}, "The answer is 42.", "42", 1.0),
    ({"type": "includes"}, "The answer is 24.", "42", 0.0),
    ({"type": "includes"}, ["no", "text"], "42", 0.0),
    ({"type": "includes", "normalize": ["case"]}, "PARIS is nice", "paris", 1.0),
    ({"type": "regex", "pattern": r"\b4\d\b"}, "it is 42", None, 1.0),
    ({"type": "regex", "pattern": r"^\d+$", "full_match": True}, "42 apples", None, 0.0),
    ({"type": "regex"}, "colour", "colou?r", 1.0),  # the target is the pattern
    ({"type": "regex", "ignore_case": True, "pattern": "yes"}, "YES!", None, 1.0),
    ({"type": "regex", "pattern": "yes"}, None, None, 0.0),
    ({"type": "numeric"}, "So the total is 1,234.5 dollars", "1234.5", 1.0),
    ({"type": "numeric"}, "first 3, then 4", 4, 1.0),  # the last number
    ({"type": "numeric"}, 7.0, "7", 1.0),
    ({"type": "numeric"}, "about 10.4", "10", 0.0),
    ({"type": "numeric", "abs_tol": 0.5}, "about 10.4", "10", 1.0),
    ({"type": "numeric", "rel_tol": 0.05}, "1040", "1000", 1.0),
    ({"type": "numeric", "rel_tol": 0.01}, "1040", "1000", 0.0),
    ({"type": "numeric"}, "no idea", "10", 0.0),
    ({"type": "numeric"}, True, "1", 0.0),
    ({"type": "numeric"}, "-3e2", "-300", 1.0),
    (
        {"type": "json_match"},
        {"city": "Paris", "country": "FR", "extra": 1},
        {"city": "Paris"},
        1.0,
    ),
    ({"type": "json_match"}, '{"city": "Paris"}', {"city": "Paris"}, 1.0),
    ({"type": "json_match"}, '```json\n{"city": "Paris"}\n```', {"city": "Paris"}, 1.0),
    ({"type": "json_match"}, {"city": "Lyon"}, {"city": "Paris"}, 0.0),
    ({"type": "json_match"}, {"country": "FR"}, {"city": "Paris"}, 0.0),
    ({"type": "json_match"}, "Paris", {"city": "Paris"}, 0.0),
    ({"type": "json_match"}, [1, 2], {"city": "Paris"}, 0.0),
    ({"type": "json_match", "keys": ["a"]}, {"a": 1, "b": 3}, {"a": 1.0, "b": 2}, 1.0),
]


@pytest.mark.parametrize(("spec", "output", "target", "value"), CASES)
def test_built_in_scorers(spec: dict[str, Any], output: Any, target: Any, value: float) -> None:
    result = score(spec, output, target)
    assert result.value == value
    if value == 0.0:
        assert result.explanation  # a wrong answer says why
    else:
        assert result.explanation is None


def test_explanations_say_what_was_expected() -> None:
    assert score({"type": "exact"}, "41", "42").explanation == "expected '42', got '41'"
    assert score({"type": "numeric"}, "n/a", "3").explanation == "no number in the output 'n/a'"
    assert score({"type": "numeric"}, "4", "3").explanation == "expected 3, got 4"
    wrong = score({"type": "json_match"}, {"a": 2}, {"a": 1, "b": 2}).explanation
    assert wrong == "keys that differ or are missing: a, b"


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        (True, Score(1.0)),
        (0, Score(0.0)),
        (0.25, Score(0.25)),
        ({"value": 0.5, "tokens": 3, "explanation": "ok"}, Score(0.5, {"j.tokens": 3.0}, "ok")),
        ({"fluency": 0.9}, Score(None, {"j.fluency": 0.9})),
    ],
)
def test_a_user_scorer_returns_a_bool_a_number_or_metrics(returned: Any, expected: Score) -> None:
    assert parse_returned("j", returned, []) == expected


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ("yes", "scorer 'j' returned str 'yes' for 'value'"),
        (float("nan"), "scorer 'j' returned float nan for 'value'"),
        ({"value": "high"}, "scorer 'j' returned str 'high' for 'value'"),
        ({"value": 1, "explanation": 3}, "scorer 'j': 'explanation' must be a string, got int"),
        ({"value": 1}, "scorer 'j' did not return its declared metric 'tokens'"),
        (None, "scorer 'j' returned NoneType None for 'value'"),
    ],
)
def test_a_user_scorer_returning_garbage_is_a_scorer_error(returned: Any, message: str) -> None:
    with pytest.raises(ScorerError) as caught:
        parse_returned("j", returned, ["tokens"])
    assert str(caught.value).startswith(message), str(caught.value)


# ------------------------------------------------------------------------------- in a run
QUESTIONS = [
    {"id": "q1", "input": "2 + 3", "target": "5"},
    {"id": "q2", "input": "7 * 6", "target": "42"},
    {"id": "q3", "input": "9 - 4", "target": "5"},
]


def dataset_suite(
    variants: dict[str, Any], scorers: list[dict[str, Any]], **experiment: Any
) -> dict[str, Any]:
    top = {k: experiment.pop(k) for k in list(experiment) if k in ("scoring_weights", "trial")}
    return {
        "name": "scorer-test",
        "seed": 3,
        "python_path": [str(FIXTURES)],
        "variants": variants,
        "datasets": {"qa": {"type": "inline", "samples": QUESTIONS}},
        "experiments": [
            {
                "name": "e",
                "variants": list(variants),
                "dataset": "qa",
                "scorers": scorers,
                **experiment,
            }
        ],
        "trial": {"timeout_seconds": 10},
        **top,
    }


def by_sample(run_suite: RunSuite, config: dict[str, Any]) -> dict[str, Any]:
    return {t.sample_id: t for t in run_suite(config).trials()}


def test_scorers_decide_success_and_the_agent_need_not(run_suite: RunSuite) -> None:
    config = dataset_suite(
        {"solver": python_agent("sample_agents:no_success")}, [{"type": "exact"}]
    )
    trials = by_sample(run_suite, config)
    assert {t.status for t in trials.values()} == {"ok"}
    assert all(t.metrics["success"] == 1.0 == t.metrics["exact"] for t in trials.values())
    # One scorer and no scoring_weights: the score is the scorer's value.
    assert all(t.score == 1.0 for t in trials.values())


def test_a_wrong_answer_fails_and_says_why(run_suite: RunSuite) -> None:
    config = dataset_suite(
        {"solver": python_agent("sample_agents:solver", wrong_on=["q2"])}, [{"type": "exact"}]
    )
    trials = by_sample(run_suite, config)
    assert trials["q2"].status == "ok" and trials["q2"].metrics["success"] == 0.0
    assert trials["q2"].score == 0.0 and trials["q2"].output == "43"
    assert trials["q2"].explanation == "exact: expected '42', got '43'"
    assert trials["q1"].metrics["success"] == 1.0 and trials["q1"].explanation is None


def test_one_scorer_without_weights_scores_its_value(run_suite: RunSuite) -> None:
    config = dataset_suite(
        {"solver": python_agent("sample_agents:solver")},
        [{"type": "python", "function": "sample_agents:half", "pass_threshold": 0.5}],
    )
    trials = by_sample(run_suite, config)
    assert all(t.score == 0.5 and t.metrics["python"] == 0.5 for t in trials.values())
    assert all(t.metrics["success"] == 1.0 for t in trials.values())  # 0.5 >= pass_threshold


def test_several_scorers_are_weighted_by_name_and_success_needs_all(run_suite: RunSuite) -> None:
    config = dataset_suite(
        {"solver": python_agent("sample_agents:solver", wrong_on=["q3"])},
        [
            {"type": "numeric", "name": "close", "abs_tol": 1.5},
            {
                "type": "python",
                "name": "judge",
                "function": "sample_agents:judge",
                "metrics": ["length"],
            },
        ],
        scoring_weights={"close": 1.0, "judge": 2.0, "judge.length": -0.1, "cost": -1.0},
    )
    trials = by_sample(run_suite, config)
    q1, q3 = trials["q1"], trials["q3"]
    assert q1.metrics | {"latency": 0} == {
        "close": 1.0,
        "judge": 1.0,
        "judge.length": 1.0,
        "success": 1.0,
        "cost": 0.001,
        "latency": 0,
    }
    assert q1.score == pytest.approx(1 + 2 - 0.1 - 0.001)
    # q3: within the numeric tolerance, but the judge disagrees: not a success.
    assert (q3.metrics["close"], q3.metrics["judge"], q3.metrics["success"]) == (1.0, 0.0, 0.0)
    assert q3.explanation == "judge: wanted 5"
    assert q3.score == pytest.approx(1 + 0 - 0.1 - 0.001)


def test_without_scorers_the_agents_own_success_counts(run_suite: RunSuite) -> None:
    config = dataset_suite({"solver": python_agent("sample_agents:no_success")}, [])
    trials = by_sample(run_suite, config)
    assert {t.status for t in trials.values()} == {"error"}
    assert {t.error_kind for t in trials.values()} == {"malformed"}
    assert "field 'success' is missing" in (trials["q1"].error or "")
    assert trials["q1"].output == "5"  # what the agent answered is kept


@pytest.mark.parametrize(
    ("scorer", "error"),
    [
        (
            {"type": "python", "function": "sample_agents:explodes_on_q2"},
            "scorer 'python' raised ZeroDivisionError: the judge divided by zero",
        ),
        (
            {"type": "python", "name": "lazy", "function": "sample_agents:garbage"},
            "scorer 'lazy' returned str 'looks right to me' for 'value'",
        ),
        (
            {"type": "python", "function": "sample_agents:forgets_metric", "metrics": ["tokens"]},
            "scorer 'python' did not return its declared metric 'tokens'",
        ),
    ],
    ids=["raises", "garbage", "missing declared metric"],
)
def test_a_failing_scorer_fails_the_trial_with_the_scorer_named_and_the_run_goes_on(
    run_suite: RunSuite, scorer: dict[str, Any], error: str
) -> None:
    config = dataset_suite({"solver": python_agent("sample_agents:solver")}, [scorer])
    ran = run_suite(config)
    trials = {t.sample_id: t for t in ran.trials()}
    assert len(trials) == 3 and ran.record().status == "completed"
    failed = [t for t in trials.values() if t.status == "error"]
    assert failed, "the scorer's failure must be recorded"
    for trial in failed:
        assert trial.error_kind == "scorer"
        assert trial.error is not None and trial.error.startswith(error), trial.error
        assert trial.output is not None  # the agent's answer, kept to debug the scorer
        assert trial.score == 0.0  # scored like every failed trial
    if scorer["function"].endswith("explodes_on_q2"):
        assert [t.sample_id for t in failed] == ["q2"]
        assert "ZeroDivisionError" in (failed[0].traceback or "")
        assert trials["q1"].status == trials["q3"].status == "ok"


def test_a_hanging_python_scorer_is_abandoned_after_the_trial_timeout(
    run_suite: RunSuite, tmp_path: Path
) -> None:
    (tmp_path / "slow_scorer.py").write_text(
        "import time\n\ndef slow(output, sample):\n    time.sleep(5)\n    return True\n",
        encoding="utf-8",
    )
    config = dataset_suite(
        {"solver": python_agent("sample_agents:solver")},
        [{"type": "python", "function": "slow_scorer:slow"}],
        trial={"timeout_seconds": 0.3},
    )
    config["python_path"].append(str(tmp_path))
    config["datasets"]["qa"]["limit"] = 1
    (trial,) = run_suite(config).trials()
    assert trial.status == "error" and trial.error_kind == "scorer"
    assert trial.error == "scorer 'python' ran past 0.3s"


def test_a_command_scorer_speaks_json(run_suite: RunSuite) -> None:
    scorer = {
        "type": "command",
        "name": "external",
        "command": [sys.executable, str(FIXTURES / "command_scorer.py")],
        "metrics": ["chars"],
    }
    config = dataset_suite(
        {"solver": python_agent("sample_agents:solver", wrong_on=["q1"])}, [scorer]
    )
    trials = by_sample(run_suite, config)
    assert trials["q1"].metrics["external"] == 0.0 and trials["q1"].metrics["success"] == 0.0
    assert trials["q2"].metrics["external"] == 1.0 and trials["q2"].metrics["external.chars"] == 2
    assert trials["q2"].explanation == "external: ok"

    crashing = {**scorer, "params": {"crash": True}}
    config = dataset_suite({"solver": python_agent("sample_agents:solver")}, [crashing])
    failed = by_sample(run_suite, config)["q1"]
    assert failed.status == "error" and failed.error_kind == "scorer"
    assert "exited with code 2" in (failed.error or "") and "scorer crashed" in (failed.error or "")


def test_scores_and_outputs_reach_results_json(run_suite: RunSuite) -> None:
    config = dataset_suite(
        {"solver": python_agent("sample_agents:solver", wrong_on=["q2"])}, [{"type": "exact"}]
    )
    ran = run_suite(config)
    data = json.loads((ran.results_dir / ran.run_id / "results.json").read_text("utf-8"))
    wrong = next(t for t in data["trials"] if t["sample_id"] == "q2")
    assert wrong["output"] == "43" and wrong["explanation"] == "exact: expected '42', got '43'"
    assert wrong["epoch"] == 0 and wrong["metrics"]["exact"] == 0.0
    assert [s["id"] for s in data["samples"]] == ["q1", "q2", "q3"]
    assert data["samples"][1] == {
        "dataset": "qa",
        "id": "q2",
        "input": "7 * 6",
        "target": "42",
        "metadata": {},
    }
    (experiment,) = data["experiments"]
    assert experiment["dataset"] == "qa" and experiment["dataset_fingerprint"].startswith("sha256:")
    assert experiment["scoring_weights"] == {"exact": 1.0}
