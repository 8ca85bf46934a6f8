"""Config validation: every malformed config names the offending field, exits 2, writes nothing."""

from __future__ import annotations

import copy
import math
import sqlite3
import subprocess
import sys
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
    # Values that were accepted and then hung the run or broke its statistics (issue #13 item 7).
    (
        "infinite timeout",
        _with(lambda c: c.update(trial={"timeout_seconds": math.inf})),
        "trial.timeout_seconds: must be a finite number (got inf)",
    ),
    (
        "a timeout of 1e300 seconds",
        _with(lambda c: c.update(trial={"timeout_seconds": 1e300})),
        "trial.timeout_seconds: input should be less than or equal to 2592000",
    ),
    (
        "infinite latency",
        _with(lambda c: c["variants"]["a"].update(latency_mean=math.inf)),
        "variants.a.latency_mean: must be a finite number (got inf)",
    ),
    (
        "NaN weight",
        _with(lambda c: c.update(scoring_weights={"success": math.nan})),
        "scoring_weights.success: must be a finite number (got nan)",
    ),
    (
        "true as a trial count",
        _with(lambda c: c["experiments"][0].update(trials_per_variant=True)),
        "experiments[0].trials_per_variant: input should be a valid integer (got True)",
    ),
    (
        "true as a bandit budget",
        _with(lambda c: c["experiments"][1]["mab_settings"].update(total_trials=True)),
        "experiments[1].mab_settings.total_trials: input should be a valid integer (got True)",
    ),
    (
        "a seed beyond 64 bits",
        _with(lambda c: c.update(seed=2**70)),
        "seed: integer out of range (more than 64 bits)",
    ),
    (
        "a trial count beyond 64 bits",
        _with(lambda c: c["experiments"][0].update(trials_per_variant=10**20)),
        "experiments[0].trials_per_variant: integer out of range (more than 64 bits)",
    ),
    (
        "1e20 trials per variant",
        _with(lambda c: c["experiments"][0].update(trials_per_variant=1e20)),
        "experiments[0].trials_per_variant: input should be a valid integer (got 1e+20)",
    ),
    (
        "a trillion trials per variant",
        _with(lambda c: c["experiments"][0].update(trials_per_variant=10**12)),
        "experiments[0].trials_per_variant: input should be less than or equal to 10000000",
    ),
    (
        "a module name that is not one",
        _with(lambda c: c.update(modules=["my agents"])),
        "modules[0]: string should match pattern",
    ),
    (
        "a module that does not exist",
        _with(lambda c: c.update(modules=["no_such_module_q"])),
        "modules[0]: cannot import module 'no_such_module_q'",
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
    assert expected in caught.value.problems[0].replace(f"{tmp_path}/", "")
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


_BOMB = "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" if i else "l0: &l0 [x, x, x, x, x]\n"
    for i in range(9)
)
_VALID_YAML = yaml.safe_dump(_valid(), sort_keys=False)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b"variants:\n  a: {type: simulated}\n  b: {type: simulated}\n"
            b"  a: {type: simulated, success_rate: 0.9}\n"
            b"experiments:\n- {name: e, variants: [a, b], trials_per_variant: 2}\n",
            "variants.a: duplicate key 'a' (config.yaml line 4; first at line 2)",
        ),
        (
            b"experiments:\n- name: x\n  name: y\n",
            "experiments[0].name: duplicate key 'name' (config.yaml line 3; first at line 2)",
        ),
        (_BOMB.encode(), "config.yaml line 6: aliases expand to more than 100,000 values"),
        (b"a: &a [*a]\n", "config.yaml line 1: an alias refers to itself"),
        (b"name: caf\xe9\nseed: 1\n", "config.yaml line 1: not valid UTF-8 (byte 0xe9)"),
        (b"# " + b"x" * (1 << 20) + b"\n", "config.yaml: larger than 1024 KiB"),
        (b"[" * 5000 + b"]" * 5000, "config.yaml: nested too deeply"),
        (_VALID_YAML.replace("seed: 7", "seed: .nan").encode(), "seed: must be a finite number"),
    ],
    ids=[
        "duplicate variant",
        "duplicate key in a list item",
        "alias bomb",
        "recursive alias",
        "latin-1 bytes",
        "10 MiB file",
        "deep nesting",
        "nan seed",
    ],
)
def test_config_text_the_loader_refuses(tmp_path: Path, content: bytes, expected: str) -> None:
    """Each is rejected within the test's time with one problem naming the file and line; the
    CLI exits 2 and writes nothing (these hung, tracebacked or passed silently before)."""
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert len(caught.value.problems) == 1, caught.value.problems
    assert expected in caught.value.problems[0].replace(f"{tmp_path}/", "")
    assert cli.main(["run", "-c", str(path), "--db", str(tmp_path / "x.db"), "--quiet"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_a_problem_names_its_line_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(_VALID_YAML.replace("success_rate: 0.6", "success_rate: 1.5"))
    line = _VALID_YAML.splitlines().index("    success_rate: 0.6") + 1
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems[0].endswith(f"({path} line {line})"), caught.value.problems


def test_an_unreadable_config_file_is_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # /proc/self/mem is a regular file every read of which fails (EIO), even for root.
    path = tmp_path / "config.yaml"
    path.symlink_to("/proc/self/mem")
    assert cli.main(["run", "-c", str(path), "--db", str(tmp_path / "x.db"), "--quiet"]) == 2
    stderr = capsys.readouterr().err.strip()
    assert "cannot read the file: Input/output error" in stderr and "Traceback" not in stderr
    assert len(stderr.splitlines()) == 1
    assert cli.main(["run", "-c", str(tmp_path), "--quiet"]) == 2
    assert "is a folder, not a config file" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def _user_module(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(body, encoding="utf-8")


def test_a_module_that_exits_at_import_is_a_config_error(tmp_path: Path) -> None:
    _user_module(tmp_path, "exits_at_import_q", "import sys\nsys.exit(0)\n")
    for change in (
        {"modules": ["exits_at_import_q"]},
        {"variants": {"a": {"type": "python", "agent": "exits_at_import_q:run"}}},
    ):
        config = {**_valid(), "python_path": [str(tmp_path)], **change}
        with pytest.raises(ConfigError) as caught:
            load_config(config)
        assert "called sys.exit(0); a module must not exit when imported" in str(caught.value)
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        assert cli.main(["run", "-c", str(path), "--db", str(tmp_path / "x.db"), "--quiet"]) == 2
        assert not (tmp_path / "x.db").exists()


def test_modules_register_agents_a_config_names(tmp_path: Path) -> None:
    """``modules`` are imported relative to ``python_path`` before names are checked, and a run
    in a fresh process (as a Ray or thread worker would be) imports them again to build agents."""
    agents = tmp_path / "agents"
    agents.mkdir()
    _user_module(
        agents,
        "my_registered_agents_q",
        "from meta_orchestrator import register\n\n"
        "@register('always_right_q')\n"
        "def always_right(context):\n    return {'success': True, 'cost': 0.5}\n",
    )
    config = {
        **_valid(),
        "python_path": ["agents"],
        "modules": ["my_registered_agents_q"],
        "variants": {"a": {"type": "python", "agent": "always_right_q"}, "b": simulated(0.5)},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    without = {k: v for k, v in config.items() if k != "modules"}
    (tmp_path / "without.yaml").write_text(yaml.safe_dump(without))
    with pytest.raises(ConfigError, match="'always_right_q' is neither a registered agent"):
        load_config(tmp_path / "without.yaml")
    assert load_config(path).modules == ["my_registered_agents_q"]

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "meta_orchestrator.cli",
            "run",
            "-c",
            str(path),
            "--quiet",
            "--db",
            str(tmp_path / "runs.db"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "runs.db") as db:
        rows = db.execute(
            "SELECT status, COUNT(*) FROM trials WHERE variant = 'a' GROUP BY status"
        ).fetchall()
    assert len(rows) == 1 and rows[0][0] == "ok" and rows[0][1] >= 2, rows


def test_four_problems_across_the_passes_are_reported_in_one_run() -> None:
    """Structure (a bad seed), names (an unknown variant), imports (a module that is missing)
    and metrics (a weight nobody produces): all four in one error, in pass order."""
    config = _with(
        lambda c: (
            c.update(seed="x", scoring_weights={"success": 1.0, "quality": 1.0}),
            c["experiments"][0]["variants"].append("ghost"),
            c["variants"].update(x={"type": "python", "agent": "no_such_mod_q:run"}),
        )
    )
    problems = _problem_lines(config)
    assert [p.split(":")[0] for p in problems] == [
        "seed",
        "experiments[0].variants[2]",
        "variants.x.agent",
        "scoring_weights.quality",
    ]


def test_later_passes_run_over_what_is_valid_and_keep_indices() -> None:
    """An invalid variant still counts as defined (no false "unknown variant"), and no metric
    is called unknown while a variant that could produce it is invalid."""
    config = _with(
        lambda c: (
            c["variants"]["a"].update(success_rate=2.0, extra_metrics={"quality": 1.0}),
            c.update(scoring_weights={"success": 1.0, "quality": 1.0}),
            c["experiments"][1]["variants"].append("ghost"),
        )
    )
    assert _problem_lines(config) == [
        "variants.a.success_rate: input should be less than or equal to 1 (got 2.0)",
        "experiments[1].variants[2]: unknown variant 'ghost' (defined: a, b)",
    ]
