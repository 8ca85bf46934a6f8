"""reasoning-gym: the dataset source gives the generator's own tasks under stable ids, the scorer
gives the generator's own ``score_answer``, and mistakes in either are one problem line, exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from meta_orchestrator import cli
from meta_orchestrator.core.config import SuiteConfig, load_config
from meta_orchestrator.core.datasets import Sample
from meta_orchestrator.core.scorers import ScorerError, build_scorer
from meta_orchestrator.errors import ConfigError
from tests.helpers import FIXTURES, RunSuite, import_or_skip, python_agent

reasoning_gym = import_or_skip(
    "reasoning_gym", "needs reasoning-gym: pip install 'meta-orchestrator[reasoning-gym]'"
)

OPTIONS = {"min_terms": 2, "max_terms": 3, "min_digits": 1, "max_digits": 2}


def rg(size: int = 6, seed: int = 3, name: str = "chain_sum", **options: Any) -> dict[str, Any]:
    return {"type": "reasoning_gym", "name": name, "size": size, "seed": seed, "options": options}


def config_for(dataset: dict[str, Any], **experiment: Any) -> dict[str, Any]:
    return {
        "name": "rg-test",
        "seed": 5,
        "python_path": [str(FIXTURES)],
        "variants": {"solver": python_agent("rg_agents:chain_solver")},
        "datasets": {"tasks": dataset},
        "experiments": [
            {
                "name": "e",
                "variants": ["solver"],
                "dataset": "tasks",
                "scorers": [{"type": "reasoning_gym"}],
                **experiment,
            }
        ],
    }


def load_in(folder: Path, config: dict[str, Any]) -> SuiteConfig:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return load_config(path)


def samples_of(folder: Path, dataset: dict[str, Any]) -> tuple[Sample, ...]:
    return load_in(folder, config_for(dataset)).dataset("tasks").samples


def test_samples_are_the_generators_tasks(tmp_path: Path) -> None:
    samples = samples_of(tmp_path, rg(**OPTIONS))
    tasks = reasoning_gym.create_dataset("chain_sum", seed=3, size=6, **OPTIONS)
    assert len(samples) == 6
    for index, (sample, task) in enumerate(zip(samples, tasks, strict=True)):
        assert sample.input == task["question"] and sample.target == task["answer"]
        assert sample.metadata["expression"] == task["metadata"]["expression"]
        assert sample.metadata["reasoning_gym"] == {
            "name": "chain_sum",
            "options": OPTIONS,
            "seed": 3,
            "size": 6,
            "index": index,
        }
        assert sample.id.startswith("chain_sum-") and sample.id.endswith(f"-{index:04d}")


def test_ids_are_stable_for_a_name_options_and_seed(tmp_path: Path) -> None:
    first = samples_of(tmp_path / "a", rg(**OPTIONS))
    again = samples_of(tmp_path / "b", rg(**OPTIONS))
    assert [s.id for s in first] == [s.id for s in again] and first == again
    larger = samples_of(tmp_path / "c", rg(size=10, **OPTIONS))
    assert [(s.id, s.input) for s in larger[:6]] == [(s.id, s.input) for s in first]
    other_seed = samples_of(tmp_path / "d", rg(seed=4, **OPTIONS))
    other_options = samples_of(tmp_path / "e", rg(**{**OPTIONS, "max_digits": 3}))
    for other in (other_seed, other_options):
        assert not {s.id for s in other} & {s.id for s in first}
    assert [s.input for s in other_seed] != [s.input for s in first]


# (output, oracle) -> the value the generator's own grader gives, computed by hand:
# chain_sum's grader compares decimals ("+07" is 7) and gives len(oracle)/len(answer) to an
# answer that contains the oracle.
HAND = [
    ("7", "7", 1.0),
    ("+07.0", "7", 1.0),
    (7, "7", 1.0),
    ("The answer is 7", "7", 1 / 15),
    ("8", "7", 0.0),
    (None, "7", 0.0),
    ("-13", "-13", 1.0),
    (-13.0, "-13", 1.0),
    ("13", "-13", 0.0),
]


@pytest.mark.parametrize(("output", "oracle", "value"), HAND)
def test_the_scorer_gives_the_generators_own_grade(
    tmp_path: Path, output: Any, oracle: str, value: float
) -> None:
    config = load_in(tmp_path, config_for(rg(size=40, **OPTIONS)))
    sample = next(s for s in config.dataset("tasks").samples if s.target == oracle)
    score = build_scorer(config.experiments[0].scorers[0], tmp_path, timeout=10)(output, sample)
    assert score.value == pytest.approx(value, rel=1e-12)
    tasks = reasoning_gym.create_dataset("chain_sum", seed=3, size=40, **OPTIONS)
    task = tasks[sample.metadata["reasoning_gym"]["index"]]
    text = None if output is None else str(output)
    assert score.value == tasks.score_answer(text, task)
    assert (score.explanation is None) == (value == 1.0)
    if value < 1.0:
        assert f"expected '{oracle}'" in (score.explanation or "")


def test_a_task_from_another_version_is_a_scorer_failure(tmp_path: Path) -> None:
    config = load_in(tmp_path, config_for(rg(**OPTIONS)))
    sample = config.dataset("tasks").samples[0]
    changed = Sample(sample.id, sample.input + " 1 =", sample.target, sample.metadata)
    scorer = build_scorer(config.experiments[0].scorers[0], tmp_path, timeout=10)
    with pytest.raises(ScorerError, match="another reasoning-gym version"):
        scorer(sample.target, changed)


def test_a_run_scores_every_trial_with_the_generator(run_suite: RunSuite) -> None:
    config = config_for(rg(size=12, **OPTIONS), epochs=1)
    config["variants"]["off_by_one"] = python_agent("rg_agents:chain_solver", offset=1)
    config["experiments"][0]["variants"].append("off_by_one")
    trials = run_suite(config).trials()
    assert len(trials) == 24 and all(t.ok for t in trials)
    by_variant: dict[str, list[Any]] = {}
    for trial in trials:
        by_variant.setdefault(trial.variant, []).append(trial)
    assert all(
        t.metrics["success"] == 1.0 and t.metrics["reasoning_gym"] == 1.0
        for t in by_variant["solver"]
    )
    for trial in by_variant["off_by_one"]:
        assert trial.metrics["success"] == 0.0 and trial.metrics["reasoning_gym"] < 1.0
        assert trial.explanation and "expected" in trial.explanation


MALFORMED = [
    ("unknown generator", rg(name="chain_summ"), {}, "datasets.tasks: name: reasoning-gym has no"),
    ("unknown option", rg(max_termz=3), {}, "datasets.tasks: options.max_termz: not an option"),
    ("seed in options", rg(seed=1) | {"options": {"seed": 2}}, {}, "datasets.tasks.options"),
    ("refused options", rg(min_terms=4, max_terms=2), {}, "datasets.tasks: reasoning_gym"),
    (
        "scorer on other samples",
        {"type": "inline", "samples": [{"id": "q", "input": "1 + 1", "target": "2"}]},
        {},
        "experiments[0].scorers[0]",
    ),
]


@pytest.mark.parametrize(
    ("case", "dataset", "experiment", "expected"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_a_mistake_is_one_problem_exit_2_and_nothing_written(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    dataset: dict[str, Any],
    experiment: dict[str, Any],
    expected: str,
) -> None:
    path = tmp_path / "config.yaml"
    config = config_for(dataset, **experiment)
    config["storage"] = {"db": "out/store.db", "results_dir": "out"}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert len(caught.value.problems) == 1, caught.value.problems
    assert caught.value.problems[0].startswith(expected), caught.value.problems[0]
    assert cli.main(["run", "-c", str(path), "--quiet"]) == 2
    assert "invalid config" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
