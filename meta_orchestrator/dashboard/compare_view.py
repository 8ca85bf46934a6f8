"""The Compare view: two runs, variant by variant, computed exactly as the CI gate computes them.

The numbers come from ``meta_orchestrator.analysis`` (``loaders.run_data_from_store``,
``compare.compare_runs`` and the ``compare_render`` reports), the modules behind
``meta-orchestrator compare``: the same paired (on a dataset) or Welch tests, Holm correction,
budget and verdicts; on a dataset also the samples that regressed or improved
(``compare_samples``).
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from meta_orchestrator.analysis.compare import IMPROVEMENT, Comparison, compare_runs
from meta_orchestrator.analysis.compare_render import comparison_dict, comparison_markdown
from meta_orchestrator.analysis.formatting import (
    escape_text,
    format_interval,
    format_setting_percent,
)
from meta_orchestrator.analysis.loaders import run_data_from_store
from meta_orchestrator.analysis.run_data import RunData
from meta_orchestrator.dashboard import compare_samples
from meta_orchestrator.dashboard.common import fitted_columns, formatted
from meta_orchestrator.errors import ComparisonError, ConfigError
from meta_orchestrator.store import RunRecord, RunStore

METRICS = ["score", "success", "latency", "cost"]


def render_compare(store: RunStore) -> None:
    st.title("Compare runs")
    records = store.list_runs()
    if len(records) < 2:
        st.info(
            "Comparing needs two runs in the store; there is only one so far."
            if records
            else "The store has no runs yet."
        )
        return
    baseline, candidate = _pick_runs(records)
    if baseline.id == candidate.id:
        st.warning("Pick two different runs.")
        return
    metric, alpha, budget = _settings()
    try:
        comparison = compare_runs(
            _run_data(store, str(store.path), baseline.id, baseline.trials, baseline.status),
            _run_data(store, str(store.path), candidate.id, candidate.trials, candidate.status),
            metric=metric,
            alpha=alpha,
            max_regression=budget,
        )
    except (ComparisonError, ConfigError) as exc:
        st.warning(f"These runs cannot be compared: {escape_text(exc)}")
        return
    _show(comparison, store, baseline, candidate)


def _pick_runs(records: list[RunRecord]) -> tuple[RunRecord, RunRecord]:
    by_id = {r.id: r for r in records}
    labels = {r.id: f"{r.name} · {r.id} · {r.status} · {r.trials} trials" for r in records}
    left, right = st.columns(2)
    baseline = left.selectbox(
        "Baseline run", list(by_id), index=1, key="compare_baseline", format_func=labels.get
    )
    candidate = right.selectbox(
        "Candidate run", list(by_id), index=0, key="compare_candidate", format_func=labels.get
    )
    return by_id[baseline], by_id[candidate]


def _settings() -> tuple[str, float, float]:
    a, b, c = st.columns(3)
    metric = a.selectbox("Metric", METRICS, key="compare_metric")
    alpha = b.number_input("Alpha", 0.001, 0.5, 0.05, step=0.01, format="%.3f", key="compare_alpha")
    budget = c.number_input(
        "Regression budget (relative)",
        0.0,
        0.99,
        0.0,
        step=0.01,
        format="%.2f",
        key="compare_budget",
        help="A drop this large (0.02 = 2%) passes even when significant, as in the CI gate.",
    )
    return metric, float(alpha), float(budget)


@st.cache_data(max_entries=32, show_spinner="Reading the run…")
def _run_data(_store: RunStore, db: str, run_id: str, trials: int, status: str) -> RunData:
    """Cached per trial count and status: a finished run's data never changes."""
    return run_data_from_store(_store, run_id, summary=False)


def _show(c: Comparison, store: RunStore, baseline: RunRecord, candidate: RunRecord) -> None:
    headline = f"{'Gate fails' if c.failed else 'Gate passes'}: {escape_text(c.headline())}"
    (st.error if c.failed else st.success)(headline)
    direction = "higher is better" if c.higher_is_better else "lower is better"
    test = (
        "paired t-tests on the samples both runs ran (trials matched by variant, sample and "
        "epoch; each sample one unit), Wilcoxon signed-rank p beside them; rows without a "
        "dataset use Welch's"
        if c.paired
        else "Welch's tests"
    )
    st.caption(
        f"{escape_text(c.metric)} ({direction}). Difference = candidate − baseline with its "
        f"{format_setting_percent(1 - c.alpha)} interval and two-sided p; {test}. The verdict "
        "rests on one-sided tests against the budget, Holm-corrected across "
        f"{c.tested} tested variants. The same computation as "
        f"`meta-orchestrator compare {baseline.id} {candidate.id} --db {store.path}`."
    )
    rows = _rows(c)
    p_columns = [_p_column(c), "Holm p"] + (["Wilcoxon p"] if c.paired else [])
    st.dataframe(
        formatted(rows, p_values=p_columns, signed_percents=["relative"]),
        hide_index=True,
        width="stretch",
        column_config=fitted_columns(
            rows,
            {
                "baseline mean": st.column_config.NumberColumn(format="%.4g"),
                "candidate mean": st.column_config.NumberColumn(format="%.4g"),
                "difference": st.column_config.NumberColumn(format="%+.4g"),
                "Hedges' g": st.column_config.NumberColumn(format="%+.2f"),
            },
        ),
    )
    for note in c.notes:
        st.caption(escape_text(note))
    compare_samples.render_changed_samples(c, store, baseline, candidate)
    left, right = st.columns(2)
    stem = f"compare-{baseline.id}-{candidate.id}"
    left.download_button(
        "Comparison as Markdown",
        comparison_markdown(c, include_summary=False),
        f"{stem}.md",
        "text/markdown",
    )
    right.download_button(
        "Comparison as JSON",
        json.dumps(comparison_dict(c), indent=2, allow_nan=False),
        f"{stem}.json",
        "application/json",
    )


def _p_column(c: Comparison) -> str:
    """The two-sided p's column: paired t on paired rows (Welch's on the others)."""
    return "p" if c.paired else "Welch p"


def _rows(c: Comparison) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "verdict": r.verdict,
                "experiment": r.experiment,
                "variant": r.variant,
                "baseline mean": r.baseline_mean,
                "candidate mean": r.candidate_mean,
                "difference": r.difference,
                "relative": r.relative_change,
                # one text cell: an interval without width reads "n/a (no variance ...)", never
                # as a certain [x, x]
                f"{format_setting_percent(1 - c.alpha)} CI": format_interval(
                    r.ci_low, r.ci_high, n=min(r.baseline_trials, r.candidate_trials), digits=4
                ),
                _p_column(c): r.p_value,
                "Holm p": r.p_improvement_holm if r.verdict == IMPROVEMENT else r.p_regression_holm,
                "Hedges' g": r.effect_size,
                "trials": f"{r.baseline_trials} → {r.candidate_trials}",
                "note": r.note or "",
                **(compare_samples.paired_columns(r) if c.paired else {}),
            }
            for r in c.rows
        ]
    )
