"""summarize_run on datasets: clustered intervals and paired comparisons, recomputed by hand,
with scipy and statsmodels from the stored trials; a bandit's matched prefix and its note."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from scipy import stats

from meta_orchestrator.analysis import summarize_run
from meta_orchestrator.analysis.paired import NOT_ENOUGH_PAIRED
from meta_orchestrator.analysis.report import render_summary_markdown
from meta_orchestrator.analysis.stats import holm_adjust, wilson_interval
from meta_orchestrator.store import RunStore

RATES = {"strong": 0.85, "middle": 0.7, "weak": 0.5}


def config(experiment: dict[str, Any], size: int = 30) -> dict[str, Any]:
    return {
        "name": "samples",
        "seed": 5,
        "variants": {
            v: {"type": "simulated", "success_rate": r, "latency_mean": 0.0, "cost_mean": 0.0}
            for v, r in RATES.items()
        },
        "datasets": {"tasks": {"type": "synthetic", "size": size, "seed": 2, "difficulty_sd": 1.5}},
        "experiments": [experiment],
    }


def trials_by_key(store: RunStore, run_id: str) -> dict[str, dict[tuple[str, int], float]]:
    out: dict[str, dict[tuple[str, int], float]] = defaultdict(dict)
    for _, t in store.iter_trials(run_id):
        out[t.variant][(t.sample_id, t.epoch)] = float(t.score)  # type: ignore[index,arg-type]
    return out


def per_sample(values: dict[tuple[str, int], float]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for (sample, _), value in values.items():
        out[sample].append(value)
    return out


EPOCHS = {"name": "e", "dataset": "tasks", "epochs": 3, "variants": list(RATES)}


def test_clustered_intervals_match_statsmodels(run_suite, open_store) -> None:
    sm = pytest.importorskip("statsmodels.api")
    db, run_id = run_suite(config(EPOCHS))
    store = open_store(db)
    summary = summarize_run(store, run_id).experiments[0]
    trials = trials_by_key(store, run_id)
    for v in summary.variants:
        values = trials[v.variant]
        y = np.array(list(values.values()))
        groups = [sample for sample, _ in values]
        fit = sm.OLS(y, np.ones_like(y)).fit(
            cov_type="cluster", cov_kwds={"groups": groups}, use_t=True
        )
        low, high = fit.conf_int(alpha=0.05)[0]
        assert v.clusters == 30 and v.score_se == pytest.approx(fit.bse[0])
        assert (v.score_ci_low, v.score_ci_high) == pytest.approx((low, high))
        # success with epochs: clustered too (score is success here), not Wilson
        assert v.success_ci_low == pytest.approx(max(0.0, low))
        assert (v.success_ci_low, v.success_ci_high) != wilson_interval(y.sum(), y.size)


def test_paired_comparisons_on_epochs(run_suite, open_store) -> None:
    db, run_id = run_suite(config(EPOCHS))
    store = open_store(db)
    summary = summarize_run(store, run_id).experiments[0]
    trials = trials_by_key(store, run_id)
    best = summary.variants[0].variant
    assert best == "strong"
    p_values = []
    for c in summary.comparisons:
        a, b = per_sample(trials[best]), per_sample(trials[c.other])
        x = np.array([np.mean(a[s]) for s in sorted(a)])
        y = np.array([np.mean(b[s]) for s in sorted(a)])
        assert c.test == "paired" and c.paired == 30 and c.left_out == 0
        assert c.difference == pytest.approx(float(np.mean(y - x)))
        assert c.p_value == pytest.approx(stats.ttest_rel(y, x).pvalue)
        assert c.p_wilcoxon == pytest.approx(stats.wilcoxon(y - x).pvalue)
        assert c.correlation == pytest.approx(stats.pearsonr(x, y).statistic)
        half = stats.t.ppf(0.975, 29) * stats.sem(y - x)
        assert (c.ci_low, c.ci_high) == pytest.approx(
            (np.mean(y - x) - half, np.mean(y - x) + half)
        )
        p_values.append(c.p_value)
    assert [c.p_holm for c in summary.comparisons] == pytest.approx(holm_adjust(p_values))
    markdown = render_summary_markdown(summarize_run(store, run_id))
    assert "paired t-test on score over the samples both ran" in markdown
    assert "clustered by sample" in markdown
    assert "Adaptive allocation" not in markdown


def test_one_epoch_keeps_wilson_for_success(run_suite, open_store) -> None:
    experiment = {"name": "e", "dataset": "tasks", "variants": list(RATES)}
    db, run_id = run_suite(config(experiment))
    store = open_store(db)
    for v in summarize_run(store, run_id).experiments[0].variants:
        interval = wilson_interval(round((v.success_rate or 0) * v.trials), v.trials)
        assert interval is not None
        assert (v.success_ci_low, v.success_ci_high) == pytest.approx((interval.low, interval.high))
        sd = v.score_sd or 0.0
        half = stats.t.ppf(0.975, v.trials - 1) * sd / np.sqrt(v.trials)
        assert v.score_ci_low == pytest.approx((v.mean_score or 0) - half)


def test_bandit_pairs_the_matched_prefix_and_says_allocation_was_adaptive(
    run_suite, open_store
) -> None:
    experiment = {
        "name": "bandit",
        "orchestrator": "mab",
        "dataset": "tasks",
        "epochs": 2,
        "variants": list(RATES),
        "mab_settings": {"strategy": "thompson_sampling", "total_trials": 150},
    }
    db, run_id = run_suite(config(experiment, size=40))
    store = open_store(db)
    summary = summarize_run(store, run_id).experiments[0]
    trials = trials_by_key(store, run_id)
    best = summary.variants[0].variant
    for c in summary.comparisons:
        shared = trials[best].keys() & trials[c.other].keys()
        samples_best = {s for s, _ in trials[best]}
        samples_other = {s for s, _ in trials[c.other]}
        paired = {s for s, _ in shared}
        assert c.paired == len(paired)
        assert c.left_out == len(samples_best - paired) + len(samples_other - paired)
        if c.paired < 6:
            assert c.note == NOT_ENOUGH_PAIRED and c.p_value is None
            continue
        a = per_sample({k: trials[best][k] for k in shared})
        b = per_sample({k: trials[c.other][k] for k in shared})
        x = np.array([np.mean(a[s]) for s in sorted(a)])
        y = np.array([np.mean(b[s]) for s in sorted(a)])
        assert c.p_value == pytest.approx(stats.ttest_rel(y, x).pvalue, nan_ok=True)
    markdown = render_summary_markdown(summarize_run(store, run_id))
    assert (
        "Adaptive allocation" in markdown
        and "means of rarely chosen variants are biased" in markdown
    )
    assert "pair only the samples both variants ran" in markdown
