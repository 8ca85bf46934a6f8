"""The Compare view on two runs over the same dataset: paired verdicts, the samples that regressed
or improved, and one of them side by side, with sample text shown as text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meta_orchestrator.hub import run_experiment_suite

from .helpers import write_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HOSTILE = "<script>alert('note')</script>"


def _config(name: str, wrong_on: list[str], right_on: list[str]) -> dict:
    """'solver' answers 'i + i' samples, wrong on ``wrong_on``; 'steady' never changes."""
    samples = [{"id": f"q{i}", "input": f"{i} + {i}", "target": str(2 * i), "note": HOSTILE}
               for i in range(12)]  # fmt: skip
    agent = "sample_agents:solver"
    return {
        "name": name,
        "seed": 5,
        "python_path": [str(FIXTURES)],
        "variants": {
            "solver": {"type": "python", "agent": agent, "params": {"wrong_on": wrong_on}},
            "steady": {"type": "python", "agent": agent, "params": {"wrong_on": right_on}},
        },
        "datasets": {"qa": {"type": "inline", "samples": samples}},
        "experiments": [
            {"name": "qa", "variants": ["solver", "steady"], "dataset": "qa",
             "scorers": [{"type": "exact"}]}
        ],
    }  # fmt: skip


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str]:
    root = tmp_path_factory.mktemp("compare-samples")
    db = root / "runs.db"
    base = write_config(root / "configs", _config("base", ["q1"], ["q0"]))
    cand = write_config(root / "configs", _config("cand", ["q2", "q3", "q4"], ["q0"]))
    baseline = run_experiment_suite(base, db_path=db, results_dir=root / "results")
    candidate = run_experiment_suite(cand, db_path=db, results_dir=root / "results")
    return db, root / "configs", baseline, candidate


def test_compare_shows_paired_verdicts_and_changed_samples(open_app, two_runs) -> None:
    db, config_dir, baseline, candidate = two_runs
    app = open_app(db, config_dir, view="Compare")
    assert not app.exception, [e.value for e in app.exception]
    app.selectbox(key="compare_baseline").set_value(baseline)
    app.selectbox(key="compare_candidate").set_value(candidate).run()
    assert not app.exception, [e.value for e in app.exception]
    table = next(d.value for d in app.dataframe if "verdict" in d.value.columns)
    solver = table[table["variant"] == "solver"].iloc[0]
    assert solver["test"] == "paired" and solver["paired samples"] == 12
    assert solver["regressed"] == 3 and solver["improved"] == 1
    steady = table[table["variant"] == "steady"].iloc[0]
    assert steady["regressed"] == 0 and steady["improved"] == 0  # same answers: no change
    changed = next(d.value for d in app.dataframe if "regressed samples (first)" in d.value.columns)
    assert list(changed["variant"]) == ["solver"]
    assert changed.iloc[0]["regressed samples (first)"] == "q2, q3, q4"
    assert changed.iloc[0]["improved samples (first)"] == "q1"

    pick = app.selectbox(key="compare_sample_pick")
    assert pick.value == ("qa", "solver", "q2", "regressed")
    codes = [c.value for c in app.code]
    assert "2 + 2" in codes and HOSTILE in "".join(codes)  # input and metadata, verbatim
    sides = [d.value for d in app.dataframe if "explanation" in d.value.columns]
    assert len(sides) == 2 and [len(s) for s in sides] == [1, 1]
    assert sides[0].iloc[0]["output"] == "4" and sides[1].iloc[0]["output"] == "5"
    assert not app.get("html")
    for element in [*app.markdown, *app.caption, *app.warning]:
        prose = re.sub(r"(`+).*?\1", "", element.value, flags=re.DOTALL)
        assert not re.search(r"(?<!\\)<script", prose), element.value
