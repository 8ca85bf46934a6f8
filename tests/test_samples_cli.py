"""The command line on samples: ``run --limit`` / ``--sample``, ``samples RUN_ID`` and the report's
per-sample section (samples every variant fails, where variants disagree, flaky ones, pass@k)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from meta_orchestrator import cli
from meta_orchestrator.store import RunStore

FIXTURES = Path(__file__).resolve().parent / "fixtures"
QUESTIONS = [{"id": f"q{i}", "input": f"{i} + {i}", "target": str(2 * i)} for i in range(1, 7)]


def write_config(folder: Path, epochs: int = 2) -> Path:
    def solver(**params: Any) -> dict[str, Any]:
        return {"type": "python", "agent": "sample_agents:solver", "params": params}

    config = {
        "name": "cli-samples",
        "seed": 1,
        "python_path": [str(FIXTURES)],
        "variants": {
            "sloppy": solver(wrong_on=["q2", "q3"], flaky_on=["q5"]),
            "steady": solver(wrong_on=["q3"]),
        },
        "datasets": {"qa": {"type": "inline", "samples": QUESTIONS}},
        "experiments": [
            {
                "name": "e",
                "variants": ["sloppy", "steady"],
                "dataset": "qa",
                "epochs": epochs,
                "scorers": [{"type": "exact"}],
            }
        ],  # fmt: skip
        "trial": {"timeout_seconds": 10},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture
def ran(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[list[str], str]:
    """A finished run: the ``--db`` arguments and its id."""
    db = ["--db", str(tmp_path / "runs.db")]
    code = cli.main(
        [
            "run",
            "-c",
            str(write_config(tmp_path)),
            *db,
            "--results-dir",
            str(tmp_path / "out"),
            "--quiet",
        ]
    )
    assert code == 0
    return db, capsys.readouterr().out.split()[-1]


def test_samples_lists_every_sample_with_passes_per_variant(
    ran: tuple[list[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, run_id = ran
    assert cli.main(["samples", run_id, *db]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "│ q" in line]
    assert len(lines) == 6
    q3 = next(line for line in lines if "│ q3 " in line)
    assert [cell.strip() for cell in q3.split("│")[1:6]] == ["q3", "3 + 3", "6", "0/2", "0/2"]
    assert "6 samples (passes / attempts per variant)" in out


def test_samples_failing_variant_and_json(
    ran: tuple[list[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, run_id = ran
    assert cli.main(["samples", run_id, *db, "--failing", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in records] == ["q2", "q3", "q5"]
    q5 = records[2]
    assert q5["input"] == "5 + 5" and q5["target"] == "10" and q5["experiment"] == "e"
    assert q5["variants"]["sloppy"] | {"mean_score": None} == {
        "trials": 2, "successes": 1, "errors": 0, "pass_rate": 0.5, "mean_score": None, "mean": 0.5,
    }  # fmt: skip
    assert q5["variants"]["steady"]["successes"] == 2

    assert cli.main(["samples", run_id, *db, "--failing", "--variant", "steady", "--json"]) == 0
    only = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in only] == ["q3"] and list(only[0]["variants"]) == ["steady"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--variant", "ghost"], "--variant: 'ghost' is not in experiment 'e' (sloppy, steady)"),
        (["--experiment", "nope"], "has no experiment 'nope' on a dataset"),
    ],
)
def test_samples_usage_errors_are_exit_2(
    ran: tuple[list[str], str], capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    db, run_id = ran
    assert cli.main(["samples", run_id, *db, *extra]) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert cli.main(["samples", "no-such-run", *db]) == 2


def test_the_report_has_a_per_sample_section(
    ran: tuple[list[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, run_id = ran
    assert cli.main(["report", run_id, *db]) == 0
    summary = capsys.readouterr().out
    assert "#### Samples of dataset `qa` (6 samples · 2 epochs · fingerprint `sha256:" in summary
    assert "| `sloppy` | 6 | 58.3% | 66.7% | 50.0% |" in summary  # pass rate, pass@2, pass^2
    assert "| `steady` | 6 | 83.3% | 83.3% | 83.3% |" in summary
    assert "**Every variant fails:** 1 of 6 samples (passes / attempts):" in summary
    assert "| `q3` | 3 + 3 | 6 | 0/2 | 0/2 |" in summary
    assert (
        "**Variants disagree (one passes every attempt, another fails every one):** 1 of 6"
        in summary
    )
    assert "| `q2` | 2 + 2 | 4 | 0/2 | 2/2 |" in summary
    assert "**Flaky (0 < pass rate < 1 across epochs):** 1 of 6 samples" in summary
    assert "| `q5` | 5 + 5 | 10 | 1/2 | 2/2 |" in summary


def test_one_epoch_shows_no_pass_at_k_and_no_flaky_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--db", str(tmp_path / "runs.db")]
    path = write_config(tmp_path, epochs=1)
    assert cli.main(["run", "-c", str(path), *db, "--results-dir", str(tmp_path), "--quiet"]) == 0
    run_id = capsys.readouterr().out.split()[-1]
    summary = (tmp_path / run_id / "summary.md").read_text("utf-8")
    assert "| Variant | Samples | Pass rate per sample |\n" in summary
    assert "pass@" not in summary and "Flaky" not in summary


def test_run_limit_and_sample_run_fewer_samples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path)
    db = tmp_path / "runs.db"
    common = ["--db", str(db), "--results-dir", str(tmp_path / "out"), "--quiet"]
    assert cli.main(["run", "-c", str(path), *common, "--limit", "2"]) == 0
    limited = capsys.readouterr().out.split()[-1]
    assert cli.main(["run", "-c", str(path), *common, "--sample", "q5", "--sample", "q1"]) == 0
    picked = capsys.readouterr().out.split()[-1]
    with RunStore(db) as store:
        assert store.trial_count(limited) == 2 * 2 * 2
        assert [s.id for s in store.samples(limited, "qa")] == ["q1", "q2"]
        assert store.get_run(limited).planned_trials == 8
        assert [s.id for s in store.samples(picked, "qa")] == ["q1", "q5"]
        assert {t.sample_id for _, t in store.iter_trials(picked)} == {"q1", "q5"}
        snapshot = yaml.safe_load(store.get_run(picked).config_yaml)
    assert snapshot["datasets"]["qa"]["sample_ids"] == ["q5", "q1"]  # what ran, in the snapshot
    assert cli.main(["run", "-c", str(path), *common, "--sample", "q9"]) == 2
    assert "no sample with id 'q9'" in capsys.readouterr().err


def test_the_datasets_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "datasets" / "config.yaml"
    db = tmp_path / "runs.db"
    args = ["--db", str(db), "--results-dir", str(tmp_path), "--quiet", "--limit", "5"]
    assert cli.main(["run", "-c", str(example), *args]) == 0
    run_id = capsys.readouterr().out.split()[-1]
    with RunStore(db) as store:
        trials = [t for _, t in store.iter_trials(run_id)]
    assert len(trials) == 5 * 2 * 2 and {t.status for t in trials} == {"ok"}
    assert all(
        {"exact", "closeness", "closeness.error", "success"} <= set(t.metrics) for t in trials
    )
    assert {t.details["strategy"] for t in trials} == {"direct", "careful"}
