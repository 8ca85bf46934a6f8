"""What the gate refuses to judge (exit 2, "cannot judge"), each on a real run made unjudgeable the
way a user or a broken agent makes it: infinite statistics, scores as text, a partial run."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from meta_orchestrator.analysis.loaders import load_run
from meta_orchestrator.cli import main
from meta_orchestrator.errors import ComparisonError
from meta_orchestrator.guardrail.inputs import check_gate_inputs
from meta_orchestrator.hub import run_experiment_suite

SAME = {"a": {"success_rate": 0.9}, "b": {"success_rate": 0.6}}


def _edit(run: Path, change: Any) -> Path:
    """A copy of ``run``'s results.json with ``change(data)`` applied (summary.md left behind)."""
    data = json.loads((run / "results.json").read_text())
    change(data)
    edited = run.parent / f"{run.name}-edited" / "results.json"
    edited.parent.mkdir()
    edited.write_text(json.dumps(data))
    return edited


def _compare(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["compare", *argv])
    return code, capsys.readouterr().err.replace("\n", " ")


def test_a_huge_score_makes_the_statistics_infinite_and_the_gate_refuses(make_run, capsys) -> None:  # type: ignore[no-untyped-def]
    """One score of -1e200 in 60 (a cost of 1e200 under a negative weight): the mean is finite
    (-1.7e198) but the variance is not; before, Welch's test said "no significant change", exit 0."""
    baseline, candidate = make_run(SAME, seed=1), make_run(SAME, seed=1)

    def poison(data: dict[str, Any]) -> None:
        trial = next(t for t in data["trials"] if t["variant"] == "a")
        trial["score"] = -1e200

    code, err = _compare(capsys, str(baseline), str(_edit(candidate, poison)))
    assert code == 2
    assert "cannot judge score" in err and "statistics of exp/a are not finite" in err
    assert "SD inf" in err or "SD 1." in err


def test_an_agent_costing_1e200_now_and_then_makes_the_gate_refuse(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """The issue's case end to end: a variant whose cost is 1e200 in 1 trial of 100, under a
    negative cost weight. Every trial is valid (finite), the run completes, and the gate says it
    cannot judge instead of "no significant change"."""
    (tmp_path / "costly_agent_q.py").write_text(
        "def run(context):\n"
        "    return {'success': True, 'cost': 1e200 if context['trial_index'] == 42 else 0.01}\n"
    )
    config = {
        "name": "costly",
        "seed": 1,
        "python_path": [str(tmp_path)],
        "scoring_weights": {"success": 1.0, "cost": -1.0},
        "variants": {"a": {"type": "python", "agent": "costly_agent_q:run"}},
        "experiments": [{"name": "exp", "variants": ["a"], "trials_per_variant": 100}],
    }
    runs = [
        run_experiment_suite(config, db_path=tmp_path / "store.db", results_dir=tmp_path)
        for _ in range(2)
    ]
    code, err = _compare(capsys, *runs, "--db", str(tmp_path / "store.db"))
    assert code == 2
    assert "the 'score' statistics of exp/a are not finite (mean -1e+198, SD inf)" in err


def test_scores_given_as_text_are_refused_not_dropped(make_run, capsys) -> None:  # type: ignore[no-untyped-def]
    baseline, candidate = make_run(SAME, seed=1), make_run(SAME, seed=1)

    def as_text(data: dict[str, Any]) -> None:
        for trial in data["trials"][:17]:
            trial["score"] = str(trial["score"])

    edited = _edit(candidate, as_text)
    assert load_run(edited).unusable == {("exp", "a", "score"): 9, ("exp", "b", "score"): 8}
    code, err = _compare(capsys, str(baseline), str(edited))
    assert code == 2
    assert "9 'score' value(s) of exp/a are not finite numbers" in err
    assert "8 'score' value(s) of exp/b" in err
    # Another metric of the same runs is still judged: only the compared metric's values matter.
    assert main(["compare", str(baseline), str(edited), "--metric", "success"]) == 0


@pytest.mark.parametrize("status", ["interrupted", "failed", "running"])
@pytest.mark.parametrize("side", ["baseline", "candidate"])
def test_a_run_that_is_not_completed_fails_unless_allow_partial(  # type: ignore[no-untyped-def]
    make_run, capsys, status: str, side: str
) -> None:
    complete, partial = make_run(SAME, seed=1), make_run(SAME, seed=1)
    db = partial.parent / "store.db"
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE runs SET status = ? WHERE id = ?", (status, partial.name))
    refs = [str(complete), partial.name]
    if side == "baseline":
        refs.reverse()
    code, err = _compare(capsys, *refs, "--db", str(db))
    assert code == 2
    assert "cannot judge score" in err and f"{side} run {partial.name} is {status}" in err
    assert "--allow-partial" in err
    assert main(["compare", *refs, "--db", str(db), "--allow-partial"]) == 0


def test_an_interrupted_results_file_is_refused(make_run, capsys) -> None:  # type: ignore[no-untyped-def]
    baseline, candidate = make_run(SAME, seed=1), make_run(SAME, seed=1)

    def interrupt(data: dict[str, Any]) -> None:
        data["run"]["status"] = "interrupted"
        data["trials"] = data["trials"][:15]

    code, err = _compare(capsys, str(baseline), str(_edit(candidate, interrupt)))
    assert code == 2 and "is interrupted, not completed (15 trials recorded)" in err


def test_every_reason_is_named_at_once(make_run) -> None:  # type: ignore[no-untyped-def]
    baseline = load_run(make_run(SAME, seed=1))
    candidate = load_run(make_run(SAME, seed=2))
    broken = type(candidate)(
        **{**candidate.__dict__, "status": "failed", "unusable": {("exp", "a", "score"): 3}}
    )
    with pytest.raises(ComparisonError) as caught:
        check_gate_inputs(baseline, broken, "score")
    message = str(caught.value)
    assert (
        message.count("\n  - ") == 2 and "is failed" in message and "3 'score' value(s)" in message
    )
    check_gate_inputs(baseline, candidate, "score")  # the same runs, completed and clean: no error
