"""The command line: run, resume, runs, report, variants, and the exit code of each outcome."""

from __future__ import annotations

import argparse
import io
import json
import os
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
from tests.helpers import FIXTURES, mab, python_agent, simulated, standard, suite


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


# ------------------------------------------------------------------------- help and README table
def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


def test_every_help_entry_says_what_it_does_and_its_default() -> None:
    missing = []
    for name, sub in _subcommands().items():
        for action in _options(sub):
            required = not action.option_strings and action.nargs is None
            text = (action.help or "") % {"default": action.default}
            if len(text) < 10 or (not required and "default" not in text):
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}: {text!r}")
    assert missing == []


def test_the_readme_command_table_lists_every_command_and_option_with_its_default() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## CLI", 1)[1].split("\n\n", 2)[1]
    rows = {
        line.split("`")[1].split()[0]: line.split("`")[1]
        for line in table.splitlines()
        if line.startswith("| `")
    }
    commands = _subcommands()
    assert sorted(rows) == sorted(commands)
    for name, sub in commands.items():
        usage = rows[name]
        for action in _options(sub):
            if not action.option_strings:  # a positional: its metavar, or its default if optional
                shown = action.default if action.nargs == "?" else action.metavar
                assert str(shown) in usage, (name, action.dest)
                continue
            flags = action.option_strings
            assert any(f"[{flag}" in usage or f"| {flag}" in usage for flag in flags), (name, flags)
            if action.default not in (None, False, True) and action.nargs != 0:
                shown = [f"[{flag} {action.default}]" for flag in flags]
                assert any(text in usage for text in shown), (name, flags, action.default)


# ------------------------------------------------------------------ finding runs and their files
def _two_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    first = _run(tmp_path, capsys, "--quiet")
    time.sleep(1.05)  # run ids and start times are per second
    second = _run(tmp_path, capsys, "--quiet", "--seed", "3")
    return first, second


def test_runs_json_has_full_ids_and_a_pipe_gets_plain_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _two_runs(tmp_path, capsys)
    db = str(tmp_path / "s.db")
    assert cli.main(["runs", "--db", db, "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in lines] == [second, first]  # newest first
    assert {r["status"] for r in lines} == {"completed"}
    assert lines[0]["trials"] == lines[0]["planned_trials"] == 16
    assert lines[0]["leader"] == "careful"
    assert lines[0]["results_dir"] == str((tmp_path / "results").resolve())
    assert lines[0]["started_at"].endswith("+00:00")

    assert cli.main(["runs", "--db", db, "--limit", "1"]) == 0  # capsys: not a terminal
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == list(cli.RUNS_COLUMNS)
    assert row.split()[0] == second and "16/16" in row.split()
    assert not any(ch in header + row for ch in "┃│━")


def test_a_run_id_may_be_a_unique_prefix_latest_or_latest_n(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _two_runs(tmp_path, capsys)
    db = str(tmp_path / "s.db")
    with RunStore(db) as store:
        assert store.resolve_run_id("latest") == second
        assert store.resolve_run_id("latest~1") == first
        assert store.resolve_run_id(second[:-2]) == second
        assert store.resolve_run_id(first) == first
    assert cli.main(["report", "latest~1", "--db", db]) == 0
    assert first in capsys.readouterr().out
    assert cli.main(["compare", "latest~1", "latest", "--db", db]) == 0
    assert second in capsys.readouterr().out

    shared = os.path.commonprefix([first, second])
    assert cli.main(["report", shared, "--db", db]) == 2
    message = capsys.readouterr().err
    assert "ambiguous" in message and first in message and second in message
    assert cli.main(["report", "latest~2", "--db", db]) == 2
    assert "holds 2 runs" in capsys.readouterr().err
    assert cli.main(["samples", "zzz", "--db", db]) == 2
    assert "no run 'zzz'" in capsys.readouterr().err


def test_run_prints_the_id_on_stdout_and_the_summary_path_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["run", "-c", str(_small(tmp_path)), "--db", str(tmp_path / "s.db"), "--quiet"]
        + ["--results-dir", str(tmp_path / "results")]
    )
    assert code == 0
    captured = capsys.readouterr()
    run_id = captured.out.strip()
    assert captured.out == run_id + "\n"
    summary = tmp_path / "results" / run_id / "summary.md"
    assert f"summary: {summary.resolve()}" in captured.err
    assert summary.is_file()


def test_resume_writes_into_the_runs_own_folder_and_the_hint_names_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _write_config(
        tmp_path,
        suite(
            {"x": python_agent("faulty_agents:interrupts_once", at=4), "y": simulated(0.5)},
            [standard("std", ["x", "y"], 6)],
        ),
    )
    db, results = tmp_path / "store" / "s.db", tmp_path / "out"
    code = cli.main(
        ["run", "-c", str(config), "--db", str(db), "--results-dir", str(results), "--quiet"]
    )
    assert code == 130
    captured = capsys.readouterr()
    run_id = captured.out.strip()
    assert f"meta-orchestrator resume {run_id} --db {db.resolve()}" in captured.err
    summary = results / run_id / "summary.md"
    assert "**Status:** interrupted" in summary.read_text(encoding="utf-8")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert cli.main(["resume", run_id[:-1], "--db", str(db), "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == run_id
    assert "**Status:** completed" in summary.read_text(encoding="utf-8")
    assert list(elsewhere.iterdir()) == []  # nothing written to ./results of the working folder
    with RunStore(db) as store:
        assert store.get_run(run_id).trials == 12


def test_the_resume_hint_has_no_db_for_the_default_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("META_ORCHESTRATOR_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    assert cli._resume_command("r1", Path("results/meta_orchestrator.db")) == (
        "meta-orchestrator resume r1"
    )
    assert cli._resume_command("r1", tmp_path / "other.db") == (
        f"meta-orchestrator resume r1 --db {tmp_path / 'other.db'}"
    )


# ------------------------------------------------------------------------ reports that mislead
def test_a_run_in_which_no_trial_succeeded_names_no_leader_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write_config(
        tmp_path,
        suite(
            {"a": simulated(0.9, error_rate=1.0), "b": simulated(0.9, error_rate=1.0)},
            [standard("std", ["a", "b"], 3)],
        ),
    )
    db = str(tmp_path / "s.db")
    code = cli.main(["run", "-c", str(config), "--db", db, "--quiet"])
    assert code == 1
    captured = capsys.readouterr()
    run_id = captured.out.strip()
    assert "no trial succeeded" in captured.err and "all 6 trials" in captured.err
    summary = (tmp_path / run_id / "summary.md").read_text(encoding="utf-8")
    assert "**no trial succeeded**: no variant leads" in summary
    assert "> **No trial succeeded:** all 6 trials failed" in summary
    assert "Best vs others" not in summary
    assert cli.main(["runs", "--db", db, "--json"]) == 0
    (listed,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed["leader"] is None


def test_a_variant_that_always_succeeds_gets_no_zero_width_interval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write_config(
        tmp_path,
        suite(
            {"perfect": simulated(1.0), "coin": simulated(0.5)},
            [standard("std", ["perfect", "coin"], 60)],
        ),
    )
    code = cli.main(["run", "-c", str(config), "--db", str(tmp_path / "s.db"), "--quiet"])
    assert code == 0
    run_id = capsys.readouterr().out.strip()
    summary = (tmp_path / run_id / "summary.md").read_text(encoding="utf-8")
    row = next(line for line in summary.splitlines() if line.startswith("| 1 | `perfect`"))
    assert "1.000 · n/a (no variance in 60 trials; failure rate ≤ 5.0% (95%, rule of three))" in row
    assert "[1.000, 1.000]" not in summary
    assert "100.0% [94.0%, 100.0%]" in row  # Wilson stays honest at 100%


def test_report_renders_markdown_on_a_terminal_and_prints_it_raw_when_piped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _write_config(
        tmp_path,
        suite({"bandit_arm": simulated(0.7)}, [standard("head_to_head", ["bandit_arm"], 3)]),
    )
    db = str(tmp_path / "s.db")
    assert cli.main(["run", "-c", str(config), "--db", db, "--quiet"]) == 0
    run_id = capsys.readouterr().out.strip()
    assert cli.main(["report", "latest", "--db", db]) == 0
    piped = capsys.readouterr().out
    assert piped == (tmp_path / run_id / "summary.md").read_text(encoding="utf-8")
    assert "head\\_to\\_head" in piped or "`head_to_head`" in piped

    terminal = io.StringIO()
    monkeypatch.setattr(cli, "out", Console(file=terminal, force_terminal=True, width=160))
    assert cli.main(["report", "latest", "--db", db]) == 0
    shown = terminal.getvalue()
    assert "bandit_arm" in shown and "head_to_head" in shown
    assert "\\_" not in shown and "| Rank |" not in shown and "## meta" not in shown
    assert "Config snapshot" in shown and "<details>" not in shown


def test_in_a_log_progress_and_warnings_are_plain_unwrapped_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write_config(
        tmp_path,
        suite(
            {"flaky": simulated(0.9, error_rate=0.5), "steady": simulated(0.8)},
            [standard("std", ["flaky", "steady"], 10)],
        ),
    )
    assert cli.main(["run", "-c", str(config), "--db", str(tmp_path / "s.db")]) == 0
    captured = capsys.readouterr()
    run_id = captured.out.strip()
    lines = captured.err.splitlines()
    warnings = [line for line in lines if line.startswith("WARNING trial std/")]
    assert warnings and all(len(line) > 80 and "error" in line for line in warnings)
    assert lines[0] == f"run {run_id}: 20 planned trials"
    assert any(line.startswith(f"run {run_id} completed: 20/20 trials · errors ") for line in lines)
    assert not any("\x1b[" in line or "━" in line for line in lines)


def test_on_a_dataset_the_rule_of_three_counts_samples_not_epochs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write_config(
        tmp_path,
        suite(
            {"perfect": simulated(1.0, difficulty_weight=0.0), "coin": simulated(0.5)},
            [{"name": "ds", "dataset": "syn", "variants": ["perfect", "coin"], "epochs": 2}],
            datasets={"syn": {"type": "synthetic", "size": 30}},
        ),
    )
    assert cli.main(["run", "-c", str(config), "--db", str(tmp_path / "s.db"), "--quiet"]) == 0
    run_id = capsys.readouterr().out.strip()
    summary = (tmp_path / run_id / "summary.md").read_text(encoding="utf-8")
    row = next(line for line in summary.splitlines() if line.startswith("| 1 | `perfect`"))
    assert "n/a (no variance in 60 trials; failure rate ≤ 10.0% (95%, rule of three over 30 " in row
    assert "[1.000, 1.000]" not in summary and "[100.0%, 100.0%]" not in summary


def test_runs_on_a_narrow_terminal_keeps_every_id_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _two_runs(tmp_path, capsys)
    screen = io.StringIO()
    monkeypatch.setattr(
        cli, "out", Console(file=screen, force_terminal=True, width=80, color_system=None)
    )
    assert cli.main(["runs", "--db", str(tmp_path / "s.db")]) == 0
    shown = screen.getvalue()
    assert first in shown and second in shown and "…" not in shown
    assert "┃" in shown  # a table, not the plain layout
