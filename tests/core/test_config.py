"""Config validation: every malformed config names the offending field, exits 2, writes nothing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from meta_orchestrator import cli
from meta_orchestrator.core.config import load_config
from meta_orchestrator.errors import ConfigError
from tests.helpers import mab, simulated, standard, suite

ROOT = Path(__file__).resolve().parents[2]


def _valid() -> dict[str, Any]:
    return suite(
        {"a": simulated(0.3), "b": simulated(0.6)},
        [standard("std", ["a", "b"], 2), mab("bandit", ["a", "b"], 10)],
    )


def _with(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    config = copy.deepcopy(_valid())
    change(config)
    return config


# (id, mutation, the one expected problem line: "path: message" or its start)
MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    (
        "unknown top-level key",
        _with(lambda c: c.update(colour="red")),
        "colour: unknown key",
    ),
    (
        "unknown variant key (typo)",
        _with(lambda c: c["variants"]["a"].update(succes_rate=0.3)),
        "variants.a.succes_rate: unknown key",
    ),
    (
        "unknown strategy",
        _with(lambda c: c["experiments"][1]["mab_settings"].update(strategy="greedy")),
        "experiments[1].mab_settings.strategy: must be one of 'epsilon_greedy', 'ucb1' or "
        "'thompson_sampling' (got 'greedy')",
    ),
    (
        "unknown variant in an experiment",
        _with(lambda c: c["experiments"][0]["variants"].append("ghost")),
        "experiments[0].variants[2]: unknown variant 'ghost' (defined: a, b)",
    ),
    (
        "zero trials per variant",
        _with(lambda c: c["experiments"][0].update(trials_per_variant=0)),
        "experiments[0].trials_per_variant: input should be greater than 0 (got 0)",
    ),
    (
        "negative bandit budget",
        _with(lambda c: c["experiments"][1]["mab_settings"].update(total_trials=-5)),
        "experiments[1].mab_settings.total_trials: input should be greater than 0 (got -5)",
    ),
    (
        "wrong type for seed",
        _with(lambda c: c.update(seed="abc")),
        "seed: input should be a valid integer",
    ),
    (
        "unknown variant type",
        _with(lambda c: c["variants"]["a"].update(type="docker")),
        "variants.a: type must be one of 'simulated', 'python', 'command', 'chat' (got 'docker')",
    ),
    (
        "probability above 1",
        _with(lambda c: c["variants"]["b"].update(success_rate=1.5)),
        "variants.b.success_rate: input should be less than or equal to 1 (got 1.5)",
    ),
    (
        "missing import path module",
        _with(lambda c: c["variants"].update(x={"type": "python", "agent": "no_such_mod_q:run"})),
        "variants.x.agent: cannot import module 'no_such_mod_q' for 'no_such_mod_q:run'",
    ),
    (
        "import path without the attribute",
        _with(lambda c: c["variants"].update(x={"type": "python", "agent": "faulty_agents:nope"})),
        "variants.x.agent: module 'faulty_agents' has no attribute 'nope'",
    ),
    (
        "unregistered agent name",
        _with(lambda c: c["variants"].update(x={"type": "python", "agent": "gpt_whisperer"})),
        "variants.x.agent: 'gpt_whisperer' is neither a registered agent",
    ),
    (
        "weight on a metric nobody produces",
        _with(lambda c: c.update(scoring_weights={"success": 1.0, "quality": 0.5})),
        "scoring_weights.quality: unknown metric 'quality'",
    ),
    (
        "standard experiment without trials_per_variant",
        _with(lambda c: c["experiments"][0].pop("trials_per_variant")),
        "experiments[0].trials_per_variant: required when orchestrator is 'standard'",
    ),
    (
        "mab experiment without mab_settings",
        _with(lambda c: c["experiments"][1].pop("mab_settings")),
        "experiments[1].mab_settings: required when orchestrator is 'mab'",
    ),
    (
        "early-stop threshold above 1",
        _with(
            lambda c: c["experiments"][1]["mab_settings"].update(
                early_stop={"probability_best": 1.5}
            )
        ),
        "experiments[1].mab_settings.early_stop.probability_best: input should be less than 1",
    ),
    (
        "unknown stop rule",
        _with(
            lambda c: c["experiments"][1]["mab_settings"].update(early_stop={"stop_rule": "peek"})
        ),
        "experiments[1].mab_settings.early_stop.stop_rule: must be one of 'posterior' or "
        "'anytime_valid' (got 'peek')",
    ),
    (
        "posterior threshold given to the anytime rule",
        _with(
            lambda c: c["experiments"][1]["mab_settings"].update(
                early_stop={"stop_rule": "anytime_valid", "probability_best": 0.9}
            )
        ),
        "experiments[1].mab_settings.early_stop.probability_best: not used by stop_rule "
        "'anytime_valid'",
    ),
    (
        "alpha given to the posterior rule",
        _with(lambda c: c["experiments"][1]["mab_settings"].update(early_stop={"alpha": 0.1})),
        "experiments[1].mab_settings.early_stop.alpha: not used by stop_rule 'posterior'",
    ),
    (
        "anytime rule on unbounded scores",
        _with(
            lambda c: (
                c.update(scoring_weights={"success": 1.0, "cost": -1.0}),
                c["experiments"][1]["mab_settings"].update(
                    early_stop={"stop_rule": "anytime_valid"}
                ),
            )
        ),
        "experiments[1].mab_settings.early_stop.score_bounds: required by stop_rule "
        "'anytime_valid' when the reward is not Bernoulli",
    ),
    (
        "empty score bounds",
        _with(
            lambda c: c["experiments"][1]["mab_settings"].update(
                early_stop={"stop_rule": "anytime_valid", "score_bounds": [1, 1]}
            )
        ),
        "experiments[1].mab_settings.early_stop.score_bounds: must be finite with low < high",
    ),
    (
        "duplicate experiment name",
        _with(lambda c: c["experiments"][1].update(name="std")),
        "experiments[1].name: duplicate experiment name 'std'",
    ),
    (
        "non-positive budget",
        _with(lambda c: c.update(budget={"max_cost": 0})),
        "budget.max_cost: input should be greater than 0 (got 0)",
    ),
    (
        "unknown backend",
        _with(lambda c: c.update(execution_backend={"type": "k8s"})),
        "execution_backend.type: must be one of 'local', 'threads' or 'ray' (got 'k8s')",
    ),
    (
        "bernoulli reward with a cost weight",
        _with(
            lambda c: (
                c.update(scoring_weights={"success": 1.0, "cost": -1.0}),
                c["experiments"][1]["mab_settings"].update(reward="bernoulli"),
            )
        ),
        "experiments[1].mab_settings.reward: 'bernoulli' needs scoring_weights with 'success'",
    ),
    (
        "every experiment disabled",
        _with(lambda c: [e.update(enabled=False) for e in c["experiments"]]),
        "experiments: every experiment is disabled; enable at least one",
    ),
    (
        "empty command",
        _with(lambda c: c["variants"].update(x={"type": "command", "command": []})),
        "variants.x.command: list should have at least 1 item",
    ),
]


def _problem_lines(config: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    return caught.value.problems


@pytest.mark.parametrize(("case", "config", "expected"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_config_names_the_field(case: str, config: dict[str, Any], expected: str) -> None:
    problems = _problem_lines(config)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


@pytest.mark.parametrize(("case", "config", "expected"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_cli_rejects_malformed_config_with_exit_2_and_writes_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    config: dict[str, Any],
    expected: str,
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")

    code = cli.main(["run", "-c", str(path), "--quiet"])

    assert code == 2
    stderr = capsys.readouterr().err
    assert "invalid config" in stderr and expected[:40] in stderr.replace("\n", " ")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__") == [
        "config.yaml"
    ], "a rejected config must not create the store or a results folder"


def test_every_problem_is_reported_at_once() -> None:
    config = _with(
        lambda c: (
            c.update(seed="x"),
            c["variants"]["a"].update(latency_mean=-1),
            c["experiments"][1]["mab_settings"].update(strategy="greedy"),
        )
    )
    problems = _problem_lines(config)
    assert [p.split(":")[0] for p in problems] == [
        "seed",
        "variants.a.latency_mean",
        "experiments[1].mab_settings.strategy",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [unclosed\n", "not valid YAML"),
        ("- a\n- b\n", "<root>: must be a mapping"),
        ("", "<root>: must be a mapping"),
    ],
    ids=["not yaml", "a list", "empty file"],
)
def test_unreadable_config_file(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert expected in caught.value.problems[0]
    assert cli.main(["run", "-c", str(path), "--db", str(tmp_path / "x.db"), "--quiet"]) == 2
    assert not (tmp_path / "x.db").exists()
    assert not (tmp_path / "results").exists()


def test_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    assert cli.main(["run", "-c", str(tmp_path / "nope.yaml"), "--quiet"]) == 2
    assert list(tmp_path.iterdir()) == []


def test_shipped_default_config_is_valid_with_a_standard_and_a_mab_experiment() -> None:
    config = load_config(ROOT / "config.yaml")
    kinds = {e.orchestrator for e in config.enabled_experiments}
    assert kinds == {"standard", "mab"}
    assert len(config.variants) >= 3
    assert all(v.type == "simulated" for v in config.variants.values())
    assert config.planned_trials == sum(
        config.experiment_trials(e) for e in config.enabled_experiments
    )


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "config.yaml"
    config = _valid()
    config["python_path"] = ["agents"]
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    loaded = load_config(path)
    assert loaded.base_dir == (tmp_path / "conf").resolve()
    assert loaded.resolved_python_path() == [str((tmp_path / "conf" / "agents").resolve())]
