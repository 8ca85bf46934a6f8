"""``meta-orchestrator compare`` / ``python -m meta_orchestrator.guardrail``: inputs, outputs, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from meta_orchestrator.cli import main
from meta_orchestrator.store import NewRun, StoreWriter

SAME = {"a": {"success_rate": 0.9}, "b": {"success_rate": 0.6}}


def compare(*argv: str) -> int:
    return main(["compare", *argv])


def test_identical_behaviour_passes_and_writes_both_reports(make_run, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    baseline, candidate = make_run(SAME, seed=1), make_run(SAME, seed=1)
    markdown, report = tmp_path / "out" / "comparison.md", tmp_path / "out" / "comparison.json"
    code = compare(
        str(baseline), str(candidate), "--markdown", str(markdown), "--json", str(report)
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "no significant regression" in out
    assert markdown.read_text().startswith("### ✅ Performance gate passed")
    assert json.loads(report.read_text())["exit_code"] == 0


def test_a_regression_exits_1(make_run, capsys) -> None:  # type: ignore[no-untyped-def]
    baseline = make_run({"a": {"success_rate": 0.95}, "b": {"success_rate": 0.6}}, trials=200)
    candidate = make_run({"a": {"success_rate": 0.40}, "b": {"success_rate": 0.6}}, trials=200)
    assert compare(str(baseline), str(candidate)) == 1
    assert "FAIL" in capsys.readouterr().out


def test_run_ids_are_looked_up_in_the_store(make_run) -> None:  # type: ignore[no-untyped-def]
    first, second = make_run(SAME), make_run(SAME)
    assert compare(first.name, str(second), "--db", str(first.parent / "store.db")) == 0


def test_direction_flags(make_run) -> None:  # type: ignore[no-untyped-def]
    slow = {"a": {"success_rate": 0.9, "cost_mean": 0.05}}
    cheap = {"a": {"success_rate": 0.9, "cost_mean": 0.01}}
    baseline, candidate = make_run(slow, seed=3), make_run(cheap, seed=3)
    assert compare(str(baseline), str(candidate), "--metric", "cost") == 0
    assert compare(str(baseline), str(candidate), "--metric", "cost", "--higher-is-better") == 1


def expect_usage_error(capsys, *argv: str) -> str:  # type: ignore[no-untyped-def]
    assert compare(*argv) == 2
    return capsys.readouterr().err


def test_missing_file(tmp_path, make_run, capsys) -> None:  # type: ignore[no-untyped-def]
    run = make_run(SAME)
    err = expect_usage_error(capsys, str(tmp_path / "nope" / "results.json"), str(run))
    assert "nope/results.json: no such run folder or results.json" in err
    err = expect_usage_error(capsys, str(run), str(tmp_path))  # a folder without results.json
    assert "no results file at" in err


def test_unknown_run_id(tmp_path, make_run, capsys) -> None:  # type: ignore[no-untyped-def]
    run = make_run(SAME)
    db = run.parent / "store.db"
    err = expect_usage_error(capsys, "20990101-000000-abcdef", str(run), "--db", str(db))
    assert "no run '20990101-000000-abcdef'" in err
    err = expect_usage_error(capsys, "some-id", str(run), "--db", str(tmp_path / "none.db"))
    assert "'some-id' is not a run folder, a results.json or a run id" in err


def test_run_with_no_trials(tmp_path, make_run, capsys) -> None:  # type: ignore[no-untyped-def]
    run = make_run(SAME)
    data = json.loads((run / "results.json").read_text())
    data["trials"] = []
    empty = tmp_path / "empty" / "results.json"
    empty.parent.mkdir()
    empty.write_text(json.dumps(data))
    err = expect_usage_error(capsys, str(run), str(empty))
    assert "the candidate run" in err and "has no trials: nothing to compare" in err


def test_run_with_no_trials_in_the_store(tmp_path, make_run, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "store.db"
    with StoreWriter(db) as writer:
        writer.create_run(
            NewRun(
                id="empty-run", name="empty", orchestrator="standard", backend="local", seed=0,
                planned_trials=10, config_yaml="name: empty\n", config_path=None,
                started_at=time.time(), package_version="0", git_commit=None, host=None, pid=None,
            )
        )  # fmt: skip
    err = expect_usage_error(capsys, "empty-run", str(make_run(SAME)), "--db", str(db))
    assert "the baseline run empty-run" in err and "has no trials" in err


def test_disjoint_variants(make_run, capsys) -> None:  # type: ignore[no-untyped-def]
    baseline = make_run({"a": {"success_rate": 0.9}})
    candidate = make_run({"z": {"success_rate": 0.9}})
    err = expect_usage_error(capsys, str(baseline), str(candidate))
    assert "share no (experiment, variant)" in err and "exp/a" in err and "exp/z" in err


def test_not_a_results_file(tmp_path, make_run, capsys) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "package.json"
    other.write_text('{"name": "something else"}')
    err = expect_usage_error(capsys, str(other), str(make_run(SAME)))
    assert "is not a meta-orchestrator results file" in err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    err = expect_usage_error(capsys, str(broken), str(make_run(SAME)))
    assert "not valid JSON" in err


def test_bad_alpha(make_run, capsys) -> None:  # type: ignore[no-untyped-def]
    run = make_run(SAME)
    err = expect_usage_error(capsys, str(run), str(run), "--alpha", "5")
    assert "--alpha must be between 0 and 1" in err


def test_python_dash_m_runs_the_same_command(make_run) -> None:  # type: ignore[no-untyped-def]
    run = make_run(SAME)
    done = subprocess.run(
        [sys.executable, "-m", "meta_orchestrator.guardrail", str(run), str(run)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent,
    )
    assert done.returncode == 0, done.stderr
    assert "PASS" in done.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "meta_orchestrator.guardrail", "missing/results.json", str(run)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2 and "error:" in missing.stderr
    assert "Traceback" not in missing.stderr


@pytest.mark.parametrize("flag", ["--markdown", "--json"])
def test_reports_are_not_written_on_bad_input(tmp_path, capsys, flag: str) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "report"
    expect_usage_error(
        capsys, str(tmp_path / "a.json"), str(tmp_path / "b.json"), flag, str(target)
    )
    assert not target.exists()
