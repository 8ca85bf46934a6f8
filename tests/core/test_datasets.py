"""Datasets: every source gives samples, ids come from content when absent, the selection applies,
and every malformed dataset is one clear problem line, exit code 2 and nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from meta_orchestrator import cli
from meta_orchestrator.core.config import SuiteConfig, load_config
from meta_orchestrator.core.datasets import Sample, content_id, fingerprint
from meta_orchestrator.errors import ConfigError
from tests.helpers import FIXTURES, simulated

ROWS = [
    {"id": "q1", "input": "2+3", "target": "5", "level": "easy"},
    {"id": "q2", "input": "7*6", "target": "42", "level": "hard"},
    {"id": "q3", "input": "9-4", "target": "5", "level": "easy"},
]


def write_jsonl(path: Path, rows: list[Any], blank_after: int | None = None) -> Path:
    lines = [json.dumps(row) for row in rows]
    if blank_after is not None:
        lines.insert(blank_after, "   ")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def config_for(datasets: dict[str, Any], **experiment: Any) -> dict[str, Any]:
    """A config of one standard experiment over the first dataset, with a simulated variant."""
    first = next(iter(datasets))
    return {
        "name": "datasets-test",
        "python_path": [str(FIXTURES)],
        "variants": {"a": simulated(0.5)},
        "datasets": datasets,
        "experiments": [{"name": "e", "variants": ["a"], "dataset": first, **experiment}],
    }


def load_in(folder: Path, config: dict[str, Any]) -> SuiteConfig:
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return load_config(path)


# --------------------------------------------------------------------------------- sources
def test_jsonl_maps_fields_and_keeps_the_rest_as_metadata(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "data" / "qa.jsonl", ROWS, blank_after=1)
    config = load_in(tmp_path, config_for({"qa": {"type": "jsonl", "path": "data/qa.jsonl"}}))
    dataset = config.dataset("qa")
    assert dataset.samples == (
        Sample("q1", "2+3", "5", {"level": "easy"}),
        Sample("q2", "7*6", "42", {"level": "hard"}),
        Sample("q3", "9-4", "5", {"level": "easy"}),
    )
    assert config.experiment_trials(config.experiments[0]) == 3


def test_field_mapping_with_several_input_fields_and_hash_ids(tmp_path: Path) -> None:
    rows = [{"question": "2+3", "context": "school", "answer": 5}, {"question": "1+1", "answer": 2}]
    rows[1]["context"] = "home"
    write_jsonl(tmp_path / "qa.jsonl", rows)
    dataset = {
        "type": "jsonl",
        "path": "qa.jsonl",
        "input_field": ["question", "context"],
        "target_field": "answer",
    }
    first, second = load_in(tmp_path, config_for({"qa": dataset})).dataset("qa").samples
    assert first.input == {"question": "2+3", "context": "school"}
    assert first.target == 5 and first.metadata == {}
    # No id field: the id is a stable hash of the record's content, the same on every load.
    assert first.id == content_id(rows[0]) and len(first.id) == 16
    assert second.id == content_id(rows[1]) != first.id
    again = load_in(tmp_path, config_for({"qa": dataset})).dataset("qa")
    assert [s.id for s in again.samples] == [first.id, second.id]


def test_csv_rows_are_samples_of_text(tmp_path: Path) -> None:
    (tmp_path / "qa.csv").write_text(
        'id,input,target,topic\nq1,2+3,5,sums\nq2,"7, times 6",42,products\n\n', encoding="utf-8"
    )
    config = load_in(tmp_path, config_for({"qa": {"type": "csv", "path": "qa.csv"}}))
    assert config.dataset("qa").samples == (
        Sample("q1", "2+3", "5", {"topic": "sums"}),
        Sample("q2", "7, times 6", "42", {"topic": "products"}),
    )


def test_inline_samples_without_ids_or_targets(tmp_path: Path) -> None:
    inline = {"type": "inline", "samples": [{"input": "hello"}, {"input": "world", "lang": "en"}]}
    samples = load_in(tmp_path, config_for({"greet": inline})).dataset("greet").samples
    assert [s.input for s in samples] == ["hello", "world"]
    assert [s.id for s in samples] == [
        content_id({"input": "hello"}),
        content_id(inline["samples"][1]),
    ]
    assert all(s.target is None for s in samples)
    assert samples[1].metadata == {"lang": "en"}


def test_python_sources_return_mappings_or_yield_samples(tmp_path: Path) -> None:
    datasets = {
        "rows": {"type": "python", "function": "sample_agents:questions", "params": {"count": 2}},
        "made": {"type": "python", "function": "sample_agents:generated"},
    }
    config = load_in(tmp_path, config_for(datasets))
    assert config.dataset("rows").samples == (
        Sample("q1", "1 + 1", "2", {"level": "easy"}),
        Sample("q2", "2 + 2", "4", {"level": "easy"}),
    )
    made = config.dataset("made").samples
    assert [(s.id, s.input, s.target) for s in made] == [
        ("0", {"n": 0}, 0),
        ("1", {"n": 1}, 1),
        ("2", {"n": 2}, 4),
    ]


def test_synthetic_dataset_is_the_same_every_time_with_a_difficulty(tmp_path: Path) -> None:
    spec = {"type": "synthetic", "size": 200, "seed": 3, "difficulty_sd": 1.5}
    first = load_in(tmp_path, config_for({"tasks": spec})).dataset("tasks")
    second = load_in(tmp_path, config_for({"tasks": spec})).dataset("tasks")
    assert first.samples == second.samples and len(first) == 200
    difficulties = [s.metadata["difficulty"] for s in first.samples]
    mean = sum(difficulties) / len(difficulties)
    sd = (sum((d - mean) ** 2 for d in difficulties) / (len(difficulties) - 1)) ** 0.5
    assert abs(mean) < 0.35 and 1.2 < sd < 1.8
    a, _, b = first.samples[0].input.split()
    assert first.samples[0].target == str(int(a) + int(b))
    other = load_in(tmp_path, config_for({"tasks": {**spec, "seed": 4}})).dataset("tasks")
    assert other.fingerprint != first.fingerprint


# ------------------------------------------------------------------------------- selection
def test_sample_ids_then_shuffle_seeded_by_the_run_seed_then_limit(tmp_path: Path) -> None:
    rows = [{"id": f"s{i}", "input": i, "target": i} for i in range(20)]
    write_jsonl(tmp_path / "d.jsonl", rows)
    plain = {"type": "jsonl", "path": "d.jsonl"}
    assert load_in(tmp_path, config_for({"d": {**plain, "limit": 3}})).dataset("d").ids == [
        "s0",
        "s1",
        "s2",
    ]
    subset = {**plain, "sample_ids": ["s7", "s3", "s9"]}
    assert load_in(tmp_path, config_for({"d": subset})).dataset("d").ids == ["s3", "s7", "s9"]

    shuffled = {**plain, "shuffle": True, "limit": 5}
    one = load_in(tmp_path, {**config_for({"d": shuffled}), "seed": 1}).dataset("d").ids
    same = load_in(tmp_path, {**config_for({"d": shuffled}), "seed": 1}).dataset("d").ids
    other = load_in(tmp_path, {**config_for({"d": shuffled}), "seed": 2}).dataset("d").ids
    assert one == same and one != other and len(set(one)) == 5
    assert one != ["s0", "s1", "s2", "s3", "s4"]


def test_the_fingerprint_covers_ids_inputs_and_targets_not_order() -> None:
    a, b = Sample("a", "x", "1"), Sample("b", "y", "2", {"note": "metadata is not content"})
    assert fingerprint([a, b]) == fingerprint([b, a])
    assert fingerprint([a, b]) != fingerprint([a, Sample("b", "y", "3")])
    assert fingerprint([a, b]) != fingerprint([a, Sample("b", "z", "2")])
    assert fingerprint([a, b]) == fingerprint([a, Sample("b", "y", "2")])
    assert fingerprint([a]).startswith("sha256:")


def test_a_config_override_reuses_the_samples_it_read(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", ROWS)
    config = load_in(tmp_path, config_for({"d": {"type": "jsonl", "path": "d.jsonl"}}))
    data.unlink()  # the override must not need the file again
    again = config.with_overrides(seed=5)
    assert again.dataset("d").samples == config.dataset("d").samples
    smaller = config.with_selection(limit=2)
    assert smaller.dataset("d").ids == ["q1", "q2"] and smaller.datasets["d"].limit == 2
    one = config.with_selection(sample_ids=["q3"])
    assert one.dataset("d").ids == ["q3"]
    assert yaml.safe_load(one.to_yaml())["datasets"]["d"]["sample_ids"] == ["q3"]  # the snapshot
    with pytest.raises(ConfigError, match="no sample with id 'q7'"):
        config.with_selection(sample_ids=["q7"])


# ------------------------------------------------------------------------------- malformed
def _files(tmp_path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


GOOD = "".join(json.dumps(r) + "\n" for r in ROWS)
JSONL = {"type": "jsonl", "path": "data/qa.jsonl"}

# (id, files, datasets, experiment settings, the one expected problem line)
MALFORMED: list[tuple[str, dict[str, str], dict[str, Any], dict[str, Any], str]] = [
    (
        "missing file",
        {},
        {"qa": JSONL},
        {},
        "datasets.qa: data/qa.jsonl: file not found (looked for ",
    ),
    (
        "json error names the line",
        {"data/qa.jsonl": GOOD + '{"id": "q4", "input": "1+1" "target": "2"}\n'},
        {"qa": JSONL},
        {},
        "datasets.qa: data/qa.jsonl line 4: not valid JSON: Expecting ',' delimiter (column 29)",
    ),
    (
        "duplicate ids",
        {"data/qa.jsonl": GOOD + json.dumps({"id": "q2", "input": "x", "target": "y"}) + "\n"},
        {"qa": JSONL},
        {},
        "datasets.qa: data/qa.jsonl line 4: duplicate id 'q2' (first at data/qa.jsonl line 2)",
    ),
    (
        "missing input field",
        {"data/qa.jsonl": GOOD + json.dumps({"id": "q4", "question": "1+1", "target": "2"}) + "\n"},
        {"qa": JSONL},
        {},
        "datasets.qa: data/qa.jsonl line 4: input field 'input' is missing (fields: id, question, "
        "target; set input_field to choose others)",
    ),
    (
        "target missing on one sample",
        {"data/qa.jsonl": GOOD + json.dumps({"id": "q4", "input": "1+1"}) + "\n"},
        {"qa": JSONL},
        {},
        "datasets.qa: data/qa.jsonl line 4: target field 'target' is missing (3 other samples have one)",
    ),
    (
        "explicit target field missing",
        {"data/qa.jsonl": GOOD},
        {"qa": {**JSONL, "target_field": "answer"}},
        {},
        "datasets.qa: data/qa.jsonl line 1: target field 'answer' is missing",
    ),
    (
        "empty dataset",
        {"data/qa.jsonl": "\n  \n"},
        {"qa": JSONL},
        {},
        "datasets.qa: data/qa.jsonl: the dataset has no samples",
    ),
    (
        "a line that is not an object",
        {"data/qa.jsonl": GOOD + "[1, 2]\n"},
        {"qa": JSONL},
        {},
        "datasets.qa: data/qa.jsonl line 4: expected an object with fields, got list [1, 2]",
    ),
    (
        "an id that is not a string",
        {"data/qa.jsonl": json.dumps({"id": [1], "input": "x"}) + "\n"},
        {"qa": JSONL},
        {},
        "datasets.qa: data/qa.jsonl line 1: 'id' must be a string or an integer, got list [1]",
    ),
    (
        "csv row of the wrong length",
        {"data/qa.csv": "id,input,target\nq1,2+3,5\nq2,7*6\n"},
        {"qa": {"type": "csv", "path": "data/qa.csv"}},
        {},
        "datasets.qa: data/qa.csv line 3: 2 values for 3 columns (id, input, target)",
    ),
    (
        "inline sample without input",
        {},
        {"qa": {"type": "inline", "samples": [{"input": "a"}, {"text": "b"}]}},
        {},
        "datasets.qa: samples[1]: input field 'input' is missing (fields: text;",
    ),
    (
        "python loader raises",
        {},
        {"qa": {"type": "python", "function": "sample_agents:broken_loader"}},
        {},
        "datasets.qa: sample_agents:broken_loader raised OSError: the dataset server is down",
    ),
    (
        "python loader returns no samples",
        {},
        {"qa": {"type": "python", "function": "sample_agents:not_a_list"}},
        {},
        "datasets.qa: sample_agents:not_a_list returned int; expected a list or a generator",
    ),
    (
        "python loader does not import",
        {},
        {"qa": {"type": "python", "function": "no_such_module:load"}},
        {},
        "datasets.qa: cannot import module 'no_such_module' for 'no_such_module:load'",
    ),
    (
        "unknown sample id",
        {"data/qa.jsonl": GOOD},
        {"qa": {**JSONL, "sample_ids": ["q1", "q9"]}},
        {},
        "datasets.qa: sample_ids: no sample with id 'q9' (the dataset has 3 samples, such as q1, q2, q3)",
    ),
    (
        "unknown dataset",
        {"data/qa.jsonl": GOOD},
        {"qa": JSONL},
        {"dataset": "qb"},
        "experiments[0].dataset: unknown dataset 'qb' (defined: qa)",
    ),
    (
        "unknown source type",
        {},
        {"qa": {"type": "parquet", "path": "x"}},
        {},
        "datasets.qa: type must be one of 'jsonl', 'csv', 'inline', 'python', 'synthetic'",
    ),
    (
        "a scorer that needs targets on a dataset without",
        {
            "data/qa.jsonl": "".join(
                json.dumps({"id": r["id"], "input": r["input"]}) + "\n" for r in ROWS
            )
        },
        {"qa": JSONL},
        {"scorers": [{"type": "exact"}]},
        "experiments[0].scorers[0]: the 'exact' scorer compares with targets and dataset 'qa' has none",
    ),
    (
        "a numeric scorer on a target that is not a number",
        {"data/qa.jsonl": GOOD.replace('"42"', '"forty-two"')},
        {"qa": JSONL},
        {"scorers": [{"type": "numeric"}]},
        "experiments[0].scorers[0]: sample 'q2' of dataset 'qa': the target 'forty-two' is not a number",
    ),
]


@pytest.mark.parametrize(
    ("case", "files", "datasets", "experiment", "expected"),
    MALFORMED,
    ids=[m[0] for m in MALFORMED],
)
def test_a_malformed_dataset_is_one_problem_exit_2_and_nothing_written(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    files: dict[str, str],
    datasets: dict[str, Any],
    experiment: dict[str, Any],
    expected: str,
) -> None:
    _files(tmp_path, files)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_for(datasets, **experiment)), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert len(caught.value.problems) == 1, caught.value.problems
    assert caught.value.problems[0].startswith(expected), caught.value.problems[0]

    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code = cli.main(["run", "-c", str(path), "--quiet"])
    assert code == 2
    stderr = " ".join(capsys.readouterr().err.split())
    assert "invalid config" in stderr and " ".join(expected.split())[:60] in stderr
    after = sorted(
        p.relative_to(tmp_path) for p in tmp_path.rglob("*") if "__pycache__" not in p.parts
    )
    assert after == [p for p in before if "__pycache__" not in p.parts], "nothing may be written"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"trials_per_variant": 3}, "experiments[0].trials_per_variant: not used with a dataset"),
        (
            {"dataset": None, "trials_per_variant": 2, "epochs": 2},
            "experiments[0].epochs: needs a dataset",
        ),
        (
            {"dataset": None, "trials_per_variant": 2, "scorers": [{"type": "exact"}]},
            "experiments[0].scorers: need a dataset",
        ),
        ({"epochs": 2, "pass_k": 3}, "experiments[0].pass_k: must be at most epochs (2), got 3"),
        (
            {"scorers": [{"type": "exact"}, {"type": "exact", "normalize": ["case"]}]},
            "experiments[0].scorers: two scorers are named 'exact'",
        ),
        (
            {"scorers": [{"type": "regex", "pattern": "(unclosed"}]},
            "experiments[0].scorers[0].pattern:",
        ),
        (
            {"scorers": [{"type": "python", "function": "nowhere:f"}]},
            "experiments[0].scorers[0].function:",
        ),
        (
            {"scorers": [{"type": "fuzzy"}]},
            "experiments[0].scorers[0]: type must be one of 'exact'",
        ),
        (
            {"scoring_weights": {"exact": 1.0}},
            "experiments[0].scoring_weights.exact: unknown metric",
        ),
    ],
    ids=[
        "trials_per_variant with a dataset",
        "epochs without a dataset",
        "scorers without a dataset",
        "pass_k above epochs",
        "two scorers of one name",
        "bad regex",
        "scorer import",
        "unknown scorer",
        "weight of a metric no scorer gives",
    ],
)
def test_experiment_settings_for_samples_are_checked(
    tmp_path: Path, settings: dict[str, Any], expected: str
) -> None:
    write_jsonl(tmp_path / "data" / "qa.jsonl", ROWS)
    with pytest.raises(ConfigError) as caught:
        load_in(tmp_path, config_for({"qa": JSONL}, **settings))
    assert len(caught.value.problems) == 1, caught.value.problems
    assert caught.value.problems[0].startswith(expected), caught.value.problems[0]


def test_run_limit_and_sample_without_a_dataset_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.yaml"
    config = {
        "variants": {"a": simulated(0.5)},
        "experiments": [{"name": "e", "variants": ["a"], "trials_per_variant": 2}],
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert cli.main(["run", "-c", str(path), "--limit", "3", "--quiet"]) == 2
    assert "--limit: no enabled experiment has a dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad_number:
        cli.main(["run", "-c", str(path), "--limit", "0", "--quiet"])
    assert bad_number.value.code == 2
    assert "--limit: must be at least 1, got 0" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]
