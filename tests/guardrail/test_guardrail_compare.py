"""compare_runs: verdicts, the budget, the direction of "better", Holm, failures, and the reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

from meta_orchestrator.analysis.compare import (
    IMPROVEMENT,
    NEW_VARIANT,
    NO_CHANGE,
    REGRESSION,
    REMOVED_VARIANT,
    TOO_FEW_TRIALS,
    compare_runs,
)
from meta_orchestrator.analysis.compare_render import comparison_dict, comparison_markdown
from meta_orchestrator.analysis.loaders import load_run, run_data_from_results
from meta_orchestrator.analysis.run_data import Moments, RunData
from meta_orchestrator.errors import ComparisonError, ConfigError

RNG_SEED = 11


def normal(mean: float, sd: float = 0.1, n: int = 200, seed: int = 0) -> list[float]:
    return list(np.random.default_rng(seed).normal(mean, sd, n))


def run(values: dict[str, list[float | None]], metric: str = "score", **kw: str) -> RunData:
    return RunData.from_values({("exp", v): xs for v, xs in values.items()}, metric=metric, **kw)


def verdicts(comparison) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {row.variant: row.verdict for row in comparison.rows}


def test_every_verdict_and_the_exit_code() -> None:
    baseline = run(
        {
            "same": normal(1.0, seed=1),
            "worse": normal(1.0, seed=2),
            "better": normal(1.0, seed=3),
            "short": [1.0],
            "gone": normal(1.0, seed=4),
        }
    )
    candidate = run(
        {
            "same": normal(1.0, seed=5),
            "worse": normal(0.9, seed=6),
            "better": normal(1.1, seed=7),
            "short": [1.0, 1.1],
            "fresh": normal(1.0, seed=8),
        }
    )
    comparison = compare_runs(baseline, candidate)
    assert verdicts(comparison) == {
        "same": NO_CHANGE,
        "worse": REGRESSION,
        "better": IMPROVEMENT,
        "short": TOO_FEW_TRIALS,
        "gone": REMOVED_VARIANT,
        "fresh": NEW_VARIANT,
    }
    assert [r.variant for r in comparison.regressions] == ["worse"]
    assert comparison.failed and comparison.exit_code == 1
    assert comparison.rows[0].variant == "worse"  # what blocks the merge is listed first
    assert comparison.tested == 3  # Holm's family: the variants with a test


def test_the_numbers_of_a_row() -> None:
    comparison = compare_runs(run({"v": [1.0, 2.0, 3.0]}), run({"v": [2.0, 3.0, 4.0]}))
    row = comparison.rows[0]
    assert (row.baseline_mean, row.candidate_mean) == (2.0, 3.0)
    assert row.difference == 1.0 and row.relative_change == 0.5
    assert row.ci_low < 1.0 < row.ci_high
    assert 0 < row.p_value < 1 and row.effect_size > 0
    assert (row.baseline_n, row.candidate_n) == (3, 3)


def test_a_significant_drop_within_the_budget_passes() -> None:
    baseline = run({"v": normal(1.0, 0.05, 2000, seed=1)})
    candidate = run({"v": normal(0.99, 0.05, 2000, seed=2)})  # 1% worse, clearly significant
    strict = compare_runs(baseline, candidate, max_regression=0.0)
    assert verdicts(strict) == {"v": REGRESSION}
    tolerant = compare_runs(baseline, candidate, max_regression=0.02)
    assert verdicts(tolerant) == {"v": NO_CHANGE} and tolerant.exit_code == 0
    assert "within the 2% budget" in (tolerant.rows[0].note or "")
    beyond = compare_runs(
        baseline, run({"v": normal(0.95, 0.05, 2000, seed=3)}), max_regression=0.02
    )
    assert verdicts(beyond) == {"v": REGRESSION}


def test_the_budget_is_part_of_the_test_not_a_filter_on_the_point_estimate() -> None:
    """True drop exactly at the budget: the gate fails about alpha of the time, not half of it."""
    rng = np.random.default_rng(RNG_SEED)
    fails = 0
    for _ in range(300):
        baseline = run({"v": list(rng.normal(1.0, 0.1, 500))})
        candidate = run({"v": list(rng.normal(0.98, 0.1, 500))})
        fails += compare_runs(baseline, candidate, max_regression=0.02).failed
    assert fails / 300 <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 300)


@pytest.mark.parametrize("metric", ["latency", "cost"])
def test_latency_and_cost_are_lower_is_better(metric: str) -> None:
    baseline = run({"v": normal(1.0, seed=1)}, metric=metric)
    slower = run({"v": normal(1.2, seed=2)}, metric=metric)
    assert verdicts(compare_runs(baseline, slower, metric=metric)) == {"v": REGRESSION}
    faster = run({"v": normal(0.8, seed=3)}, metric=metric)
    assert verdicts(compare_runs(baseline, faster, metric=metric)) == {"v": IMPROVEMENT}


def test_direction_can_be_overridden() -> None:
    baseline = run({"v": normal(1.0, seed=1)})
    higher = run({"v": normal(1.2, seed=2)})
    result = compare_runs(baseline, higher, higher_is_better=False)
    assert verdicts(result) == {"v": REGRESSION} and not result.higher_is_better


def test_negative_means_use_the_magnitude_for_the_budget() -> None:
    baseline = run({"v": normal(-1.0, 0.05, 2000, seed=1)})
    candidate = run({"v": normal(-1.01, 0.05, 2000, seed=2)})  # 1% of |mean| worse
    assert verdicts(compare_runs(baseline, candidate, max_regression=0.02)) == {"v": NO_CHANGE}
    worse = run({"v": normal(-1.05, 0.05, 2000, seed=3)})
    row = compare_runs(baseline, worse, max_regression=0.02).rows[0]
    assert row.verdict == REGRESSION and row.relative_change == pytest.approx(-0.05, abs=0.005)


def test_holm_needs_stronger_evidence_with_more_variants() -> None:
    scores = normal(1.0, 0.1, 400, seed=1)
    weak = {"v": scores}
    weak_candidate = {"v": [x - 0.015 for x in scores]}  # t = 2.1: p about 0.02 alone
    alone = compare_runs(run(weak), run(weak_candidate))
    p = alone.rows[0].p_regression
    assert p is not None and 0.01 < p < 0.05 and alone.failed
    others = {f"o{i}": normal(1.0, 0.1, 400, seed=10 + i) for i in range(9)}
    crowd = compare_runs(run({**weak, **others}), run({**weak_candidate, **others}))
    row = next(r for r in crowd.rows if r.variant == "v")
    assert row.verdict == NO_CHANGE and not crowd.failed
    assert row.p_regression_holm == pytest.approx(min(1.0, 10 * p))
    assert "not after Holm" in (row.note or "")


def test_constant_scores_compare_exactly() -> None:
    same = compare_runs(run({"noop": [1.0] * 50}), run({"noop": [1.0] * 70}))
    assert verdicts(same) == {"noop": NO_CHANGE}
    lower = compare_runs(run({"noop": [1.0] * 50}), run({"noop": [0.9] * 50}))
    assert verdicts(lower) == {"noop": REGRESSION}
    assert Moments.of([0.1] * 7) == Moments(7, 0.1, 0.0)


def test_a_variant_whose_trials_now_all_fail_is_a_regression() -> None:
    baseline = run({"v": normal(1.0, seed=1, n=40), "w": normal(1.0, seed=2, n=40)})
    candidate = run({"v": [None] * 40, "w": normal(1.0, seed=3, n=40)})
    comparison = compare_runs(baseline, candidate)
    row = next(r for r in comparison.rows if r.variant == "v")
    assert row.verdict == REGRESSION and row.test == "fisher"
    assert "40 of 40 candidate trials failed" in (row.note or "")
    assert (row.candidate_trials, row.candidate_n) == (40, 0)


def test_failed_trials_count_as_no_success() -> None:
    baseline = RunData.from_values({("e", "v"): [1.0] * 40}, metric="success")
    data = run_from_trials([("ok", 1.0)] * 30 + [("error", None)] * 10)
    row = compare_runs(baseline, data, metric="success").rows[0]
    assert row.candidate_n == 40 and row.candidate_mean == pytest.approx(0.75)
    assert row.verdict == REGRESSION


def run_from_trials(trials: list[tuple[str, float | None]]) -> RunData:
    return run_data_from_results(
        {
            "run": {"id": "r", "name": "n", "status": "completed"},
            "trials": [
                {
                    "experiment": "e",
                    "variant": "v",
                    "status": status,
                    "score": value,
                    "latency": 0.01,
                    "metrics": {"success": value, "latency": 0.01} if status == "ok" else {},
                }
                for status, value in trials
            ],
        }
    )


def test_bad_comparisons_raise_comparison_errors() -> None:
    empty = RunData("empty", "e", "<empty>", {})
    full = run({"v": [1.0, 2.0]})
    with pytest.raises(ComparisonError, match="baseline run empty .* has no trials"):
        compare_runs(empty, full)
    with pytest.raises(ComparisonError, match="candidate run empty"):
        compare_runs(full, empty)
    with pytest.raises(ComparisonError, match="share no .*exp/v.*exp/w"):
        compare_runs(full, run({"w": [1.0, 2.0]}))
    with pytest.raises(ComparisonError, match="metric 'tokens'.*available: score"):
        compare_runs(full, full, metric="tokens")
    with pytest.raises(ConfigError, match="--alpha"):
        compare_runs(full, full, alpha=1.5)
    with pytest.raises(ConfigError, match="--max-regression"):
        compare_runs(full, full, max_regression=-0.1)


def test_markdown_puts_the_verdict_first_and_ends_with_the_candidate_summary() -> None:
    baseline = run({"planner": normal(1.0, seed=1), "retrieval": normal(1.0, seed=2)})
    candidate = RunData(
        "cand",
        "benchmark",
        "<test>",
        run({"planner": normal(1.0, seed=3), "retrieval": normal(0.8, seed=4)}).variants,
        git_commit="0123456789abcdef",
        summary_markdown="## meta-orchestrator run: benchmark\n\nthe candidate's summary",
    )
    markdown = comparison_markdown(compare_runs(baseline, candidate, max_regression=0.02))
    lines = markdown.splitlines()
    assert lines[0].startswith("### ❌ Performance gate failed: 1 significant regression")
    assert "beyond the 2% budget: retrieval" in lines[0]
    header = next(line for line in lines if line.startswith("| Verdict |"))
    assert header.split("|")[1].strip() == "Verdict"
    first_row = lines[lines.index(header) + 2]
    assert first_row.startswith("| 🔴 **regression** | `retrieval` |")
    assert "commit `0123456789ab`" in markdown
    assert markdown.rstrip().endswith("the candidate's summary\n\n</details>")
    assert markdown.index("| Verdict |") < markdown.index("Candidate run summary")


def test_json_report_is_strict_json() -> None:
    comparison = compare_runs(run({"v": [1.0, 1.0], "w": [1.0]}), run({"v": [0.5, 0.5]}))
    data = json.loads(json.dumps(comparison_dict(comparison), allow_nan=False))
    assert data["format"] == "meta-orchestrator/comparison"
    assert data["failed"] is True and data["exit_code"] == 1
    assert data["counts"] == {"regression": 1, "removed variant": 1}
    assert {row["variant"] for row in data["rows"]} == {"v", "w"}


def test_real_runs_from_files(make_run) -> None:  # type: ignore[no-untyped-def]
    spec = {"a": {"success_rate": 0.9}, "b": {"success_rate": 0.5, "error_rate": 0.1}}
    first = make_run(spec, trials=40, seed=1)
    second = make_run(spec, trials=40, seed=2)
    baseline, candidate = load_run(first), load_run(second / "results.json")
    assert baseline.summary_markdown and baseline.summary_markdown.startswith(
        "## meta-orchestrator"
    )
    b = baseline.variants[("exp", "b")]
    assert b.trials == 40 and b.failed == 40 - b.metrics["cost"].n > 0
    assert b.metrics["score"].n == 40  # a failed trial scores as one that achieved nothing
    comparison = compare_runs(baseline, candidate)
    assert {r.variant for r in comparison.rows} == {"a", "b"}
    by_store = load_run(baseline.run_id, db=first.parent / "store.db")
    assert by_store.variants == baseline.variants
    assert by_store.summary_markdown and baseline.run_id in by_store.summary_markdown
