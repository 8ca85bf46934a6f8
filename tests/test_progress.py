"""The run's progress: plain lines in a log, a bar on a terminal that ends at the real end state."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from meta_orchestrator.hub import run_experiment_suite
from meta_orchestrator.progress import PlainProgress, RichProgress, progress_for
from tests.helpers import mab, simulated, standard, suite

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _config(trials: int = 40) -> dict:
    return suite(
        {"good": simulated(0.9), "bad": simulated(0.2)}, [standard("std", ["good", "bad"], trials)]
    )


def _early_stopping() -> dict:
    early = {"probability_best": 0.9, "min_trials_per_variant": 5, "check_every": 5}
    return suite(
        {"good": simulated(0.95), "bad": simulated(0.05)},
        [mab("bandit", ["good", "bad"], 400, early_stop=early)],
    )


def test_without_a_terminal_there_is_one_plain_line_per_tenth_and_a_final_line(tmp_path) -> None:
    log = io.StringIO()
    run_id = run_experiment_suite(_config(), db_path=tmp_path / "s.db", listener=PlainProgress(log))
    lines = log.getvalue().splitlines()
    assert lines[0] == f"run {run_id}: 80 planned trials"
    steps = [int(m[1]) for line in lines if (m := re.search(r": (\d+)/80 trials \(", line))]
    assert steps == [8, 16, 24, 32, 40, 48, 56, 64, 72]
    assert re.fullmatch(
        rf"run {run_id} completed: 80/80 trials · errors 0 · elapsed \S+ s · leader good \(\S+\)",
        lines[-1],
    )
    assert len(lines) == 11 and not any(ANSI.search(line) for line in lines)


def test_a_plain_log_says_when_a_run_stopped_early(tmp_path) -> None:
    log = io.StringIO()
    run_experiment_suite(_early_stopping(), db_path=tmp_path / "s.db", listener=PlainProgress(log))
    last = log.getvalue().splitlines()[-1]
    done = int(re.search(r" completed: (\d+)/400 trials \(stopped early\) · errors 0", last)[1])
    assert done < 400


def _rendered(tmp_path, config: dict) -> str:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160, color_system=None)
    assert isinstance(progress_for(console), RichProgress)
    run_experiment_suite(config, db_path=tmp_path / "s.db", listener=RichProgress(console))
    # the bar is redrawn in place; what stays on the screen is the last frame
    return ANSI.sub("", screen.getvalue()).replace("\r", "\n").splitlines()[-1]


def test_on_a_terminal_an_early_stopped_run_ends_with_a_full_bar_and_no_eta(tmp_path) -> None:
    last = _rendered(tmp_path, _early_stopping())
    done = int(re.search(r"(\d+)/(\d+)", last)[1])
    assert re.search(rf"\b{done}/{done}\b", last), last  # the bar's total is what ran
    assert "stopped early" in last and "ETA" not in last
    assert "━" in last and " ╸" not in last


def test_on_a_terminal_a_completed_run_ends_full_without_eta(tmp_path) -> None:
    last = _rendered(tmp_path, _config(10))
    assert "20/20" in last and "completed" in last and "ETA" not in last


def test_the_plain_listener_is_chosen_without_a_terminal() -> None:
    console = Console(file=io.StringIO(), force_terminal=False)
    assert isinstance(progress_for(console), PlainProgress)


@pytest.mark.parametrize("planned", [1, 3, 7])
def test_small_runs_still_end_with_one_final_line(tmp_path, planned: int) -> None:
    log = io.StringIO()
    config = suite({"a": simulated(0.5)}, [standard("std", ["a"], planned)])
    run_experiment_suite(config, db_path=tmp_path / "s.db", listener=PlainProgress(log))
    lines = log.getvalue().splitlines()
    assert lines[-1].startswith("run ") and f"{planned}/{planned} trials" in lines[-1]
    assert len(lines) == planned + 1  # start, one per trial but the last (10% < 1 trial), end
