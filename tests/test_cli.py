"""The command line: run, resume, runs, report, variants, and the exit code of each outcome."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from meta_orchestrator import __version__, cli
from meta_orchestrator.store import RunStore
from tests.helpers import FIXTURES, mab, simulated, standard, suite


def _write_config(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _small(tmp_path: Path) -> Path:
    return _write_config(
        tmp_path,
        suite(
            {"careful": simulated(0.9, cost_mean=0.02), "hasty": simulated(0.3)},
            [standard("std", ["careful", "hasty"], 4), mab("bandit", ["careful", "hasty"], 8)],
        ),
    )


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    code = cli.main(
        ["run", "-c", str(_small(tmp_path)), "--db", str(tmp_path / "s.db")]
        + ["--results-dir", str(tmp_path / "results"), *extra]
    )
    assert code == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_run_prints_the_run_id_and_stores_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = _run(tmp_path, capsys, "--quiet", "--seed", "11")
    with RunStore(tmp_path / "s.db") as store:
        record = store.get_run(run_id)
    assert (record.status, record.trials, record.seed) == ("completed", 16, 11)


def test_run_shows_a_progress_bar_unless_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["run", "-c", str(_small(tmp_path)), "--db", str(tmp_path / "s.db")]
        + ["--results-dir", str(tmp_path / "results")]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "16/16" in captured.err
    assert captured.out.strip() == RunStore(tmp_path / "s.db").list_runs()[0].id


def test_runs_lists_past_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("meta_orchestrator.analysis.summary")
    monkeypatch.setattr(cli, "out", Console(width=200, highlight=False))  # no wrapped cells
    first = _run(tmp_path, capsys, "--quiet")
    second = _run(tmp_path, capsys, "--quiet", "--seed", "3")
    assert cli.main(["runs", "--db", str(tmp_path / "s.db")]) == 0
    out = capsys.readouterr().out
    assert first in out and second in out
    assert out.count("completed") == 2
    assert out.count("16/16") == 2
    assert "careful" in out  # the leader


def test_runs_without_a_store_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["runs", "--db", str(tmp_path / "none.db")]) == 2
    assert "no run store at" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


def test_report_prints_and_rewrites_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("meta_orchestrator.analysis.report")
    run_id = _run(tmp_path, capsys, "--quiet")
    summary = tmp_path / "results" / run_id / "summary.md"
    summary.unlink()
    out_dir = tmp_path / "results"
    code = cli.main(
        ["report", run_id, "--db", str(tmp_path / "s.db"), "--results-dir", str(out_dir)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert summary.is_file()
    assert printed.strip() == summary.read_text(encoding="utf-8").strip()
    assert run_id in printed and "careful" in printed


def test_report_of_an_unknown_run_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("meta_orchestrator.analysis.report")
    _run(tmp_path, capsys, "--quiet")
    code = cli.main(["report", "no-such-run", "--db", str(tmp_path / "s.db")])
    assert code == 2
    assert "no-such-run" in capsys.readouterr().err


def test_variants_lists_config_and_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["variants", "-c", str(_small(tmp_path))]) == 0
    out = capsys.readouterr().out
    for name in ("careful", "hasty", "simulated", "noop", "planner", "retrieval"):
        assert name in out
    assert cli.main(["variants", "-c", str(tmp_path / "missing.yaml")]) == 0
    captured = capsys.readouterr()
    assert "showing registered agents only" in captured.err
    assert "noop" in captured.out and "careful" not in captured.out


def test_variants_with_a_broken_config_is_exit_2(tmp_path: Path) -> None:
    path = _write_config(tmp_path, {"variants": {"x": {"type": "nope"}}})
    assert cli.main(["variants", "-c", str(path)]) == 2


def test_a_run_that_fails_exits_1_and_is_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from meta_orchestrator import hub

    def broken_backend(*args: Any) -> Any:
        raise RuntimeError("the cluster is on fire")

    monkeypatch.setattr(hub, "create_backend", broken_backend)
    code = cli.main(
        ["run", "-c", str(_small(tmp_path)), "--db", str(tmp_path / "s.db"), "--quiet"]
        + ["--results-dir", str(tmp_path / "results")]
    )
    assert code == 1
    assert "run failed: RuntimeError: the cluster is on fire" in capsys.readouterr().err
    with RunStore(tmp_path / "s.db") as store:
        (record,) = store.list_runs()
    assert record.status == "failed"
    assert record.error == "RuntimeError: the cluster is on fire"


@pytest.mark.parametrize(
    "argv",
    [["frobnicate"], ["run", "--seed", "many"], ["report"], []],
    ids=["unknown-command", "bad-seed", "missing-run-id", "no-command"],
)
def test_bad_usage_is_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_resume_errors_are_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _run(tmp_path, capsys, "--quiet")
    db = str(tmp_path / "s.db")
    assert cli.main(["resume", run_id, "--db", db, "--quiet"]) == 2
    assert "already completed" in capsys.readouterr().err
    assert cli.main(["resume", "nope", "--db", db, "--quiet"]) == 2


def test_module_entry_point_and_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "meta_orchestrator.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"meta-orchestrator {__version__}"


def test_sigint_keeps_completed_trials_and_resume_completes_the_run(tmp_path: Path) -> None:
    """Ctrl-C of a real CLI process (local backend), then ``resume`` to the exact planned count."""
    config = suite(
        {"a": simulated(0.4, latency_mean=0.02), "b": simulated(0.7, latency_mean=0.02)},
        [standard("std", ["a", "b"], 40), mab("bandit", ["a", "b"], 60)],
        python_path=[str(FIXTURES)],
    )
    path = _write_config(tmp_path, config)
    db = tmp_path / "s.db"
    command = [sys.executable, "-m", "meta_orchestrator.cli"]
    proc = subprocess.Popen(
        [*command, "run", "-c", str(path), "--db", str(db), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        kept = 0
        while kept < 10 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            if db.exists():
                try:
                    with RunStore(db) as store:
                        runs = store.list_runs()
                        kept = store.trial_count(runs[0].id) if runs else 0
                except Exception:  # the schema is being created
                    kept = 0
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    run_id = out.strip().splitlines()[-1]
    assert f"run {run_id} interrupted; completed trials are kept." in err
    assert f"meta-orchestrator resume {run_id}" in err
    with RunStore(db) as store:
        record = store.get_run(run_id)
    assert record.status == "interrupted"
    assert 10 <= record.trials < 140

    resumed = subprocess.run(
        [*command, "resume", run_id, "--db", str(db), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    with RunStore(db) as store:
        record = store.get_run(run_id)
        keys = [(t.experiment, t.index) for _, t in store.iter_trials(run_id)]
    assert record.status == "completed"
    assert len(keys) == len(set(keys)) == 140
    assert sum(1 for e, _ in keys if e == "std") == 80
    assert sorted(i for e, i in keys if e == "std") == list(range(80))
