"""The agent contract with samples: what an agent sees (``context["sample"]``, never the target
unless exposed), what it returns (``output``, ``details``, ``transient_retries``, metrics), and what
the store keeps of it. Python variants from a user's module and command variants alike."""

from __future__ import annotations

import sys
from typing import Any

from meta_orchestrator.core.trial import sample_seed, trial_seed
from meta_orchestrator.store import RunStore
from tests.helpers import FIXTURES, RunSuite, python_agent, simulated, standard, suite

QUESTIONS = [
    {"id": "q1", "input": "2 + 3", "target": "5", "topic": "sums"},
    {"id": "q2", "input": "7 * 6", "target": "42", "topic": "products"},
]


def on_questions(variants: dict[str, Any], **experiment: Any) -> dict[str, Any]:
    dataset = {"type": "inline", "samples": QUESTIONS}
    dataset.update(experiment.pop("dataset_options", {}))
    trial = experiment.pop("trial", {"timeout_seconds": 10})
    return {
        "name": "contract-test",
        "seed": 5,
        "python_path": [str(FIXTURES)],
        "variants": variants,
        "datasets": {"qa": dataset},
        "experiments": [{"name": "e", "variants": list(variants), "dataset": "qa", **experiment}],
        "trial": trial,
    }


def test_a_users_module_reads_the_sample_and_returns_an_output(run_suite: RunSuite) -> None:
    config = on_questions(
        {"solver": python_agent("sample_agents:solver")}, scorers=[{"type": "exact"}]
    )
    trials = run_suite(config).trials()
    assert [(t.sample_id, t.status, t.output, t.metrics["success"]) for t in trials] == [
        ("q1", "ok", "5", 1.0),
        ("q2", "ok", "42", 1.0),
    ]
    # The agent did not see the target, and its details are kept as it gave them.
    assert all(t.details == {"saw_target": False, "epoch": 0} for t in trials)


def test_the_agent_sees_id_input_and_metadata_but_not_the_target(run_suite: RunSuite) -> None:
    config = on_questions({"echo": python_agent("sample_agents:echo_sample")})
    first = run_suite(config).trials()[0]
    assert first.output == {"id": "q1", "input": "2 + 3", "metadata": {"topic": "sums"}}


def test_expose_target_shows_it(run_suite: RunSuite) -> None:
    config = on_questions(
        {"peeker": python_agent("sample_agents:peeker")},
        scorers=[{"type": "exact"}],
        dataset_options={"expose_target": True},
    )
    assert [t.output for t in run_suite(config).trials()] == ["5", "42"]
    hidden = on_questions(
        {"peeker": python_agent("sample_agents:peeker")}, scorers=[{"type": "exact"}]
    )
    assert [t.metrics["success"] for t in run_suite(hidden).trials()] == [0.0, 0.0]


def test_a_command_variant_gets_the_sample_on_stdin(run_suite: RunSuite) -> None:
    command = {
        "type": "command",
        "command": [sys.executable, str(FIXTURES / "sample_command_agent.py")],
    }
    config = on_questions({"reverse": command}, scorers=[{"type": "exact"}], epochs=2)
    trials = run_suite(config).trials()
    assert len(trials) == 4 and {t.status for t in trials} == {"ok"}
    for trial in trials:
        question = next(q for q in QUESTIONS if q["id"] == trial.sample_id)
        assert trial.output == question["input"][::-1]
        assert trial.details == {
            "sample": trial.sample_id,
            "keys": ["id", "input", "metadata"],  # no target
            "epoch": trial.epoch,
        }
        assert trial.metrics["success"] == 0.0 and trial.metrics["cost"] == 0.01
    assert sorted((t.sample_id, t.epoch) for t in trials) == [
        ("q1", 0),
        ("q1", 1),
        ("q2", 0),
        ("q2", 1),
    ]

    failing = on_questions({"reverse": {**command, "params": {"fail": True}}})
    failed = run_suite(failing).trials()[0]
    assert failed.status == "error" and failed.error_kind == "exception"
    assert "exited with code 4" in (failed.error or "")
    assert "cannot reach the model" in (failed.error or "")


def test_details_retries_and_an_exceptions_error_kind_are_recorded(run_suite: RunSuite) -> None:
    config = on_questions(
        {
            "retried": python_agent("sample_agents:retried"),
            "limited": python_agent("sample_agents:rate_limited"),
            "bad": python_agent("sample_agents:bad_details"),
        }
    )
    config["custom_metrics"] = ["tokens"]
    by_variant = {t.variant: t for t in run_suite(config).trials() if t.sample_id == "q1"}
    retried = by_variant["retried"]
    assert retried.status == "ok" and retried.transient_retries == 2
    assert retried.metrics["tokens"] == 12 and "transient_retries" not in retried.metrics
    limited = by_variant["limited"]
    assert (limited.status, limited.error_kind, limited.transient_retries) == (
        "error",
        "rate_limited",
        3,
    )
    assert "429 Too Many Requests" in (limited.error or "")
    bad = by_variant["bad"]
    assert (bad.status, bad.error_kind) == ("error", "malformed")
    assert bad.error == "variant 'bad': field 'details' must be a JSON object, got list"


def test_a_long_output_is_kept_up_to_max_output_bytes(run_suite: RunSuite) -> None:
    config = on_questions(
        {"long": python_agent("sample_agents:long_answer", size=1000)},
        trial={"timeout_seconds": 10, "max_output_bytes": 100},
    )
    first = run_suite(config).trials()[0]
    assert first.output == "x" * 100 and first.output_truncated
    short = on_questions({"long": python_agent("sample_agents:long_answer", size=100)},
                         trial={"timeout_seconds": 10, "max_output_bytes": 100})  # fmt: skip
    kept = run_suite(short).trials()[0]
    assert kept.output == "x" * 100 and not kept.output_truncated


def test_an_output_that_is_not_json_breaks_the_contract(run_suite: RunSuite, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "setty.py").write_text(
        "def agent(context):\n    return {'output': {1, 2}, 'success': True}\n", encoding="utf-8"
    )
    config = on_questions({"setty": python_agent("setty:agent")})
    config["python_path"].append(str(tmp_path))
    first = run_suite(config).trials()[0]
    assert (first.status, first.error_kind) == ("error", "malformed")
    assert (first.error or "").startswith("variant 'setty': field 'output' is not JSON")


def test_seeds_without_a_dataset_are_unchanged_and_on_one_are_per_variant_sample_epoch(
    run_suite: RunSuite,
) -> None:
    plain = suite({"a": simulated(0.5), "b": simulated(0.5)}, [standard("std", ["a", "b"], 3)])
    ran = run_suite(plain)
    assert [t.seed for t in ran.trials()] == [trial_seed(7, "std", i) for i in range(6)]
    assert all(t.sample_id is None and t.epoch == 0 for t in ran.trials())

    config = on_questions({"a": simulated(0.5), "b": simulated(0.5)}, epochs=3)
    trials = run_suite(config).trials()
    assert len(trials) == 2 * 2 * 3
    assert all(t.seed == sample_seed(5, "e", t.variant, t.sample_id, t.epoch) for t in trials)
    assert len({t.seed for t in trials}) == len(trials)  # distinct per (variant, sample, epoch)


def test_an_agent_that_changes_its_sample_changes_nobody_elses(run_suite: RunSuite) -> None:
    config = on_questions(
        {
            "vandal": python_agent("sample_agents:vandal"),
            "echo": python_agent("sample_agents:echo_sample"),
        },
        epochs=2,
    )
    config["datasets"]["qa"] = {"type": "python", "function": "sample_agents:generated"}
    ran = run_suite(config)
    echoed = [t.output for t in ran.trials() if t.variant == "echo"]
    assert len(echoed) == 6
    assert all(o["input"]["n"] >= 0 and o["metadata"] == {"square": True} for o in echoed)
    with RunStore(ran.db) as store:
        assert [s.input for s in store.samples(ran.run_id, "qa")] == [{"n": 0}, {"n": 1}, {"n": 2}]
