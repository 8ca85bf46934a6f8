"""The paired gate: trials matched by (variant, sample, epoch), one-sided paired t against the
budget with Holm across variants (checked against scipy on a fixed table), missing samples,
identical deterministic variants, and runs on different datasets (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from meta_orchestrator.analysis.compare import NO_CHANGE, REGRESSION, compare_runs
from meta_orchestrator.analysis.compare_render import comparison_markdown
from meta_orchestrator.analysis.run_data import RunData
from meta_orchestrator.analysis.stats import holm_adjust
from meta_orchestrator.cli import main
from meta_orchestrator.errors import ComparisonError
from meta_orchestrator.hub import run_experiment_suite

BASE = {
    "a": [0.9, 0.8, 1.0, 0.7, 0.95, 0.85, 0.6, 0.9],
    "b": [0.5, 0.6, 0.4, 0.7, 0.55, 0.65, 0.5, 0.6],
}
CAND = {
    "a": [0.8, 0.7, 1.0, 0.6, 0.9, 0.7, 0.5, 0.85],  # worse on most samples
    "b": [0.5, 0.62, 0.41, 0.69, 0.56, 0.64, 0.52, 0.6],  # about the same
}


def run(values: dict[str, list[float]], fingerprint: str = "fp", epochs: int = 1) -> RunData:
    return RunData.from_samples(
        {
            ("exp", v): {(f"s{i}", e): x for i, x in enumerate(xs) for e in range(epochs)}
            for v, xs in values.items()
        },
        fingerprint=fingerprint,
    )


def test_one_sided_paired_test_against_the_budget_matches_scipy_with_holm() -> None:
    budget = 0.02
    comparison = compare_runs(run(BASE), run(CAND), max_regression=budget)
    rows = {r.variant: r for r in comparison.rows}
    raw = []
    for v in ("a", "b"):
        x, y = np.array(BASE[v]), np.array(CAND[v])
        order = np.argsort([f"s{i}" for i in range(8)])  # samples are matched by id
        x, y = x[order], y[order]
        r = rows[v]
        assert r.test == "paired" and r.paired_samples == 8 and r.left_out_samples == 0
        p = stats.ttest_rel(y, (1 - budget) * x, alternative="less").pvalue
        assert r.p_regression == pytest.approx(p)
        assert r.p_value == pytest.approx(stats.ttest_rel(y, x).pvalue)
        assert r.p_wilcoxon == pytest.approx(stats.wilcoxon(y - x).pvalue)
        assert r.difference == pytest.approx(float(np.mean(y - x)))
        half = stats.t.ppf(0.975, 7) * stats.sem(y - x)
        assert (r.ci_low, r.ci_high) == pytest.approx(
            (np.mean(y - x) - half, np.mean(y - x) + half)
        )
        raw.append(p)
    assert [rows["a"].p_regression_holm, rows["b"].p_regression_holm] == pytest.approx(
        holm_adjust(raw)
    )
    assert rows["a"].verdict == REGRESSION and rows["b"].verdict != REGRESSION
    assert comparison.exit_code == 1


def test_epochs_are_averaged_per_sample_and_missing_samples_left_out() -> None:
    base = run(BASE, epochs=2)
    cand_values = {
        ("exp", v): {(f"s{i}", e): x for i, x in enumerate(xs) for e in range(2)}
        for v, xs in CAND.items()
    }
    del cand_values[("exp", "a")][("s0", 0)]  # s0 keeps one matched epoch
    del cand_values[("exp", "a")][("s1", 0)], cand_values[("exp", "a")][("s1", 1)]  # s1 gone
    cand = RunData.from_samples(cand_values, fingerprint="fp")
    row = next(r for r in compare_runs(base, cand).rows if r.variant == "a")
    assert row.paired_samples == 7 and row.left_out_samples == 1
    assert "3 trials without a match" in (row.note or "")
    keep = [i for i in range(8) if i != 1]
    x, y = np.array(BASE["a"])[keep], np.array(CAND["a"])[keep]
    assert row.p_value == pytest.approx(stats.ttest_rel(y, x).pvalue)


def test_identical_deterministic_variant_is_no_change() -> None:
    comparison = compare_runs(run(BASE), run(BASE), max_regression=0.0)
    for row in comparison.rows:
        assert row.verdict == NO_CHANGE and row.difference == 0.0 and row.p_value == 1.0
    assert comparison.exit_code == 0


def test_different_datasets_are_refused_unless_allowed() -> None:
    with pytest.raises(ComparisonError, match="different samples.*--allow-different-samples"):
        compare_runs(run(BASE, "fp1"), run(CAND, "fp2"))
    comparison = compare_runs(run(BASE, "fp1"), run(CAND, "fp2"), allow_different_samples=True)
    assert all(r.test == "welch" for r in comparison.rows)
    assert any("unpaired Welch" in note for note in comparison.notes)
    assert "unpaired Welch" in comparison_markdown(comparison, include_summary=False)


def _config(size: int, rate_a: float, epochs: int = 2) -> dict[str, Any]:
    return {
        "name": "paired",
        "seed": 4,
        "variants": {
            "a": {"type": "simulated", "success_rate": rate_a, "latency_mean": 0.0},
            "b": {"type": "simulated", "success_rate": 0.7, "latency_mean": 0.0},
        },
        "datasets": {"tasks": {"type": "synthetic", "size": size, "seed": 3}},
        "experiments": [
            {"name": "exp", "dataset": "tasks", "epochs": epochs, "variants": ["a", "b"]}
        ],
    }


def _run(tmp_path: Path, name: str, config: dict[str, Any]) -> Path:
    out = tmp_path / name
    run_id = run_experiment_suite(config, db_path=out / "store.db", results_dir=out)
    return out / run_id


def test_real_runs_pair_and_report_regressed_samples(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    base = _run(tmp_path, "base", _config(60, 0.9))
    cand = _run(tmp_path, "cand", _config(60, 0.5))
    report = tmp_path / "c.json"
    markdown = tmp_path / "c.md"
    code = main(
        ["compare", str(base), str(cand), "--json", str(report), "--markdown", str(markdown)]
    )
    assert code == 1
    rows = {r["variant"]: r for r in json.loads(report.read_text())["rows"]}
    assert rows["a"]["test"] == "paired" and rows["a"]["paired_samples"] == 60
    assert rows["a"]["regressed_samples"] > rows["a"]["improved_samples"]
    # the same config and seed on both sides: b is identical, every difference 0
    assert rows["b"]["verdict"] == NO_CHANGE and rows["b"]["difference"] == 0.0
    assert rows["b"]["regressed_samples"] == 0 == rows["b"]["improved_samples"]
    text = markdown.read_text()
    assert "paired t-tests on the samples both runs ran" in text
    assert "regressed (passed on the baseline, failed on the candidate)" in text
    assert "paired t on matched samples" in capsys.readouterr().out


def test_gate_fed_runs_on_different_datasets_exits_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    base = _run(tmp_path, "base", _config(20, 0.9))
    cand = _run(tmp_path, "cand", _config(25, 0.9))
    report = tmp_path / "c.json"
    assert main(["compare", str(base), str(cand), "--json", str(report)]) == 2
    err = capsys.readouterr().err
    assert "different samples" in err and "--allow-different-samples" in err
    assert not report.exists()  # nothing written
    assert main(["compare", str(base), str(cand), "--allow-different-samples"]) == 0
    assert "unpaired Welch" in capsys.readouterr().out
