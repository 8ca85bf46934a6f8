"""summarize_run against statistics recomputed with numpy and scipy from the stored trials."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pytest
from scipy import stats

from meta_orchestrator.analysis import summarize_run
from meta_orchestrator.analysis.summary import NOT_ENOUGH_TRIALS, run_leader
from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.errors import RunNotFoundError
from meta_orchestrator.store import RunStore


def simulated(success_rate: float, **extra: Any) -> dict[str, Any]:
    """A simulated variant that does not sleep, so a test run takes milliseconds."""
    return {"type": "simulated", "success_rate": success_rate, "latency_mean": 0.0, **extra}


GRID = {
    "name": "stats",
    "seed": 3,
    "scoring_weights": {"success": 1.0, "autonomy": 0.5, "cost": -1.0},
    "variants": {
        "strong": simulated(0.9, autonomy=0.6, autonomy_sd=0.2, cost_mean=0.02, cost_sd=0.01),
        "twin_a": simulated(0.6, autonomy=0.5, autonomy_sd=0.2),
        "twin_b": simulated(0.6, autonomy=0.5, autonomy_sd=0.2),
        "weak": simulated(0.05, autonomy=0.3, autonomy_sd=0.1),
        "flaky": simulated(0.7, error_rate=0.3, autonomy_sd=0.1),
    },
    "experiments": [
        {
            "name": "grid",
            "variants": ["strong", "twin_a", "twin_b", "weak", "flaky"],
            "trials_per_variant": 40,
        }
    ],
}


def by_variant(store: RunStore, run_id: str, experiment: str) -> dict[str, list[TrialResult]]:
    trials: dict[str, list[TrialResult]] = defaultdict(list)
    for _, result in store.iter_trials(run_id, experiment=experiment):
        trials[result.variant].append(result)
    return trials


def scores(trials: list[TrialResult]) -> np.ndarray:
    """Every trial has a score: a failed one scores as a trial that achieved nothing."""
    return np.array([t.score for t in trials], dtype=float)


def hedges_g(best: np.ndarray, other: np.ndarray) -> float:
    n_a, n_b = len(best), len(other)
    pooled = math.sqrt(
        ((n_a - 1) * best.var(ddof=1) + (n_b - 1) * other.var(ddof=1)) / (n_a + n_b - 2)
    )
    return (other.mean() - best.mean()) / pooled * (1 - 3 / (4 * (n_a + n_b) - 9))


def holm(p_values: list[float]) -> list[float]:
    """Textbook Holm step-down: sort ascending, multiply the k-th by (m - k), keep it monotone."""
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for k, i in enumerate(np.argsort(p_values)):
        running = max(running, min(1.0, (m - k) * p_values[i]))
        adjusted[i] = running
    return adjusted


def test_variant_statistics_match_numpy_and_scipy(run_suite, open_store) -> None:
    db, run_id = run_suite(GRID)
    store = open_store(db)
    summary = summarize_run(store, run_id)
    [experiment] = summary.experiments
    trials = by_variant(store, run_id, "grid")

    assert [v.rank for v in experiment.variants] == [1, 2, 3, 4, 5]
    means = [v.mean_score for v in experiment.variants]
    assert means == sorted(means, reverse=True)
    for v in experiment.variants:
        results = trials[v.variant]
        s = scores(results)
        n = len(s)
        assert (v.trials, v.score_n) == (40, n)
        assert v.ok == sum(t.status == "ok" for t in results)
        assert v.errors == sum(t.status == "error" for t in results)
        assert v.timeouts == 0
        assert v.mean_score == pytest.approx(s.mean(), rel=1e-12)
        assert v.score_sd == pytest.approx(s.std(ddof=1), rel=1e-9)
        low, high = stats.t.interval(0.95, n - 1, loc=s.mean(), scale=s.std(ddof=1) / math.sqrt(n))
        assert (v.score_ci_low, v.score_ci_high) == (
            pytest.approx(low, rel=1e-9),
            pytest.approx(high, rel=1e-9),
        )
        successes = sum(int(t.metrics["success"]) for t in results if t.status == "ok")
        assert v.success_rate == pytest.approx(successes / 40)
        wilson = stats.binomtest(successes, 40).proportion_ci(0.95, method="wilson")
        assert v.success_ci_low == pytest.approx(wilson.low, abs=1e-12)
        assert v.success_ci_high == pytest.approx(wilson.high, abs=1e-12)
        latencies = np.array([t.latency for t in results])
        assert v.latency_mean == pytest.approx(latencies.mean(), rel=1e-12)
        assert v.latency_p50 == np.percentile(latencies, 50, method="inverted_cdf")
        assert v.latency_p95 == np.percentile(latencies, 95, method="inverted_cdf")
        cost = sum(t.metrics.get("cost", 0.0) for t in results)
        assert v.cost_total == pytest.approx(cost, rel=1e-12)
        assert v.cost_mean == pytest.approx(cost / 40, rel=1e-12)

    flaky = next(v for v in experiment.variants if v.variant == "flaky")
    assert flaky.errors > 0 and flaky.score_n == 40 and flaky.ok == 40 - flaky.errors
    assert experiment.choice_counts == {name: 40 for name in GRID["variants"]}
    assert experiment.variant_names == ["strong", "twin_a", "twin_b", "weak", "flaky"]
    assert summary.scoring_weights == {"success": 1.0, "autonomy": 0.5, "cost": -1.0}
    assert not experiment.too_few_trials


def test_best_vs_others_is_welch_with_holm_correction(run_suite, open_store) -> None:
    db, run_id = run_suite(GRID)
    store = open_store(db)
    [experiment] = summarize_run(store, run_id).experiments
    trials = by_variant(store, run_id, "grid")
    best = experiment.variants[0]
    assert best.variant == "strong"
    best_scores = scores(trials["strong"])

    comparisons = experiment.comparisons
    assert [c.other for c in comparisons] == [v.variant for v in experiment.variants[1:]]
    raw = []
    for c in comparisons:
        other = scores(trials[c.other])
        test = stats.ttest_ind(other, best_scores, equal_var=False)
        ci = test.confidence_interval(0.95)
        assert c.best == "strong" and c.experiment == "grid" and c.note is None
        assert c.difference == pytest.approx(other.mean() - best_scores.mean(), rel=1e-9)
        assert c.p_value == pytest.approx(test.pvalue, rel=1e-9)
        assert (c.ci_low, c.ci_high) == (pytest.approx(ci.low), pytest.approx(ci.high))
        assert c.effect_size == pytest.approx(hedges_g(best_scores, other), rel=1e-9)
        raw.append(float(test.pvalue))
    expected_holm = holm(raw)
    for c, p_holm in zip(comparisons, expected_holm, strict=True):
        assert c.p_holm == pytest.approx(p_holm, rel=1e-9)
        assert c.significant == (p_holm < 0.05)
    verdicts = {c.other: c.significant for c in comparisons}
    assert verdicts["weak"] is True
    assert all(c.difference is not None and c.difference <= 0 for c in comparisons)


def test_alpha_changes_only_the_verdict(run_suite, open_store) -> None:
    db, run_id = run_suite(GRID)
    store = open_store(db)
    strict = summarize_run(store, run_id, alpha=1e-300).experiments[0]
    loose = summarize_run(store, run_id, alpha=1.0).experiments[0]
    assert strict.alpha == 1e-300 and loose.alpha == 1.0
    assert [c.p_holm for c in strict.comparisons] == [c.p_holm for c in loose.comparisons]
    assert not any(c.significant for c in strict.comparisons)
    assert all(c.significant for c in loose.comparisons)


def test_variant_whose_every_trial_errors_scores_nothing_and_ranks_last(
    run_suite, open_store
) -> None:
    config = {
        "name": "broken",
        "variants": {"fine": simulated(0.7), "broken": simulated(0.9, error_rate=1.0)},
        "experiments": [{"name": "e", "variants": ["broken", "fine"], "trials_per_variant": 12}],
    }
    db, run_id = run_suite(config)
    [experiment] = summarize_run(open_store(db), run_id).experiments
    fine, broken = experiment.variants
    assert (fine.variant, fine.rank, broken.variant, broken.rank) == ("fine", 1, "broken", 2)
    assert (broken.trials, broken.ok, broken.errors, broken.score_n) == (12, 0, 12, 12)
    # score = 1 x success: a failed trial scores 0, however good the variant's success_rate.
    assert (broken.mean_score, broken.score_sd) == (0.0, 0.0)
    assert broken.success_rate == 0.0
    wilson = stats.binomtest(0, 12).proportion_ci(0.95, method="wilson")
    assert broken.success_ci_low == pytest.approx(0.0, abs=1e-12)
    assert broken.success_ci_high == pytest.approx(wilson.high, abs=1e-12)
    assert broken.latency_p50 is not None and broken.cost_total == 0.0
    [comparison] = experiment.comparisons
    fine_scores = np.array(
        [1.0] * round(fine.mean_score * 12) + [0.0] * (12 - round(fine.mean_score * 12))
    )
    expected = stats.ttest_ind(np.zeros(12), fine_scores, equal_var=False).pvalue
    assert comparison.other == "broken" and comparison.note is None
    assert comparison.difference == pytest.approx(-fine.mean_score)
    assert comparison.p_value == pytest.approx(expected, rel=1e-9)
    assert comparison.significant is (comparison.p_holm < 0.05)
    assert not experiment.too_few_trials


def test_one_trial_variant_is_left_out_of_the_holm_family(trial, handmade, open_store) -> None:
    a = [0.9, 1.0, 0.8, 0.95, 0.85]
    b = [0.2, 0.4, 0.3, 0.1]
    results = [trial("run-1", "e", "a", i, score=s) for i, s in enumerate(a)]
    results += [trial("run-1", "e", "b", 10 + i, score=s) for i, s in enumerate(b)]
    results.append(trial("run-1", "e", "solo", 20, score=0.5, cost=0.25))
    results.append(trial("run-1", "e", "b", 21, status="timeout", latency=3.0))
    db, run_id = handmade({"e": (["a", "b", "solo"], results)})
    [experiment] = summarize_run(open_store(db), run_id).experiments

    assert [v.variant for v in experiment.variants] == ["a", "solo", "b"]
    solo = experiment.variants[1]
    assert (solo.score_n, solo.mean_score, solo.score_sd, solo.score_ci_low) == (1, 0.5, None, None)
    assert solo.cost_total == 0.25 and solo.latency_p50 == solo.latency_p95 == 0.01
    b_summary = experiment.variants[2]
    assert (b_summary.trials, b_summary.timeouts, b_summary.score_n) == (5, 1, 4)
    assert b_summary.success_rate == pytest.approx(4 / 5)  # the timeout counts as a failure
    assert b_summary.latency_p95 == 3.0
    by_other = {c.other: c for c in experiment.comparisons}
    assert by_other["solo"].note == NOT_ENOUGH_TRIALS and by_other["solo"].p_value is None
    expected = stats.ttest_ind(b, a, equal_var=False).pvalue
    assert by_other["b"].p_value == pytest.approx(expected, rel=1e-9)
    assert by_other["b"].p_holm == pytest.approx(expected, rel=1e-9)  # a family of one test
    assert by_other["b"].significant
    assert experiment.too_few_trials


def test_one_trial_best_leaves_nothing_testable(trial, handmade, open_store) -> None:
    results = [trial("run-1", "e", "lucky", 0, score=5.0)]
    results += [trial("run-1", "e", "steady", 1 + i, score=s) for i, s in enumerate([1, 2, 3])]
    db, run_id = handmade({"e": (["steady", "lucky"], results)})
    [experiment] = summarize_run(open_store(db), run_id).experiments
    assert experiment.variants[0].variant == "lucky"
    [comparison] = experiment.comparisons
    assert comparison.note == NOT_ENOUGH_TRIALS and not comparison.significant


def test_zero_trial_experiment_and_run(handmade, open_store) -> None:
    db, run_id = handmade({"empty": (["b", "a"], [])})
    summary = summarize_run(open_store(db), run_id)
    assert summary.run.trials == 0
    [experiment] = summary.experiments
    assert experiment.trials == 0 and experiment.best is None
    assert [(v.variant, v.rank, v.trials) for v in experiment.variants] == [
        ("a", 1, 0),
        ("b", 2, 0),
    ]
    empty = experiment.variants[0]
    assert (empty.success_rate, empty.latency_p50, empty.cost_mean) == (None, None, None)
    assert experiment.choice_counts == {"b": 0, "a": 0}
    assert [c.note for c in experiment.comparisons] == [NOT_ENOUGH_TRIALS]
    assert experiment.too_few_trials


def test_run_without_experiments(handmade, open_store) -> None:
    db, run_id = handmade({})
    summary = summarize_run(open_store(db), run_id)
    assert summary.experiments == []
    assert summary.scoring_weights == {"success": 1.0, "cost": -2.0}


def test_bandit_choice_counts_and_stop_reason(run_suite, open_store) -> None:
    config = {
        "name": "bandit",
        "seed": 5,
        "variants": {"good": simulated(0.95), "bad": simulated(0.05), "meh": simulated(0.4)},
        "experiments": [
            {
                "name": "mab",
                "orchestrator": "mab",
                "variants": ["good", "bad", "meh"],
                "mab_settings": {
                    "strategy": "thompson_sampling",
                    "total_trials": 400,
                    "early_stop": {"min_trials_per_variant": 15, "check_every": 5},
                },
            }
        ],
    }
    db, run_id = run_suite(config)
    store = open_store(db)
    [experiment] = summarize_run(store, run_id).experiments
    chosen = Counter(t.variant for _, t in store.iter_trials(run_id))
    assert experiment.choice_counts == {name: chosen[name] for name in ["good", "bad", "meh"]}
    assert {v.variant: v.trials for v in experiment.variants} == experiment.choice_counts
    assert experiment.orchestrator == "mab" and experiment.strategy == "thompson_sampling"
    assert experiment.planned_trials == 400
    [record] = store.experiments(run_id)
    assert experiment.stop_reason == record.stop_reason
    assert experiment.stop_reason is not None and experiment.stop_reason.startswith("early stop")
    assert experiment.trials < 400
    assert experiment.best is not None and experiment.best.variant == "good"
    assert run_leader(store, run_id) == "good"


def test_unknown_run_is_reported(handmade, open_store) -> None:
    db, _ = handmade({})
    with pytest.raises(RunNotFoundError, match="no run 'nope'"):
        summarize_run(open_store(db), "nope")


def test_run_leader_is_none_without_scored_trials(trial, handmade, open_store) -> None:
    results = [trial("run-1", "e", "a", 0, status="error")]
    db, run_id = handmade({"e": (["a"], results)})
    assert run_leader(open_store(db), run_id) is None
