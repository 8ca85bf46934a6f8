"""The Compare view's paired part: which samples regressed or improved, and what happened on one.

``analysis.compare.compare_runs`` pairs the two runs' trials by (variant, sample, epoch) when both
ran an experiment on the same dataset; each paired row counts the samples whose pass rate fell
(regressed: passed on the baseline, failed on the candidate) or rose (improved) and keeps the first
few ids. Here they are listed, and a picked one is shown with its input and target and the
variant's trials on it in each run, side by side. User text is shown as text (code blocks, cells).
"""

from __future__ import annotations

import streamlit as st

from meta_orchestrator.analysis.compare import Comparison, VariantComparison
from meta_orchestrator.analysis.formatting import escape_text
from meta_orchestrator.dashboard.samples_data import sample_trials
from meta_orchestrator.dashboard.samples_view import show_sample
from meta_orchestrator.store import ExperimentRecord, RunRecord, RunStore

Pick = tuple[str, str, str, str]  # experiment, variant, sample id, "regressed" | "improved"


def paired_columns(r: VariantComparison) -> dict[str, object]:
    """The paired numbers of a row, for the comparison table (empty cells on unpaired rows)."""
    return {
        "test": r.test or "",
        "paired samples": r.paired_samples,
        "left out": r.left_out_samples,
        "correlation": r.correlation,
        "Wilcoxon p": r.p_wilcoxon,
        "regressed": r.regressed_samples,
        "improved": r.improved_samples,
    }


def render_changed_samples(
    c: Comparison, store: RunStore, baseline: RunRecord, candidate: RunRecord
) -> None:
    if not c.paired:
        return
    changed = [r for r in c.rows if r.regressed_samples or r.improved_samples]
    st.markdown("**Samples that regressed or improved**")
    if not changed:
        st.caption("No paired sample's pass rate changed between the two runs.")
        return
    st.caption(
        "Per paired variant: the samples whose pass rate over the matched epochs fell (regressed: "
        "passed on the baseline, failed on the candidate) or rose (improved); the first "
        "few ids of each, by id."
    )
    st.dataframe(
        [
            {
                "experiment": r.experiment,
                "variant": r.variant,
                "regressed": r.regressed_samples,
                "improved": r.improved_samples,
                "regressed samples (first)": ", ".join(r.regressed_ids),
                "improved samples (first)": ", ".join(r.improved_ids),
            }
            for r in changed
        ],
        hide_index=True,
        width="stretch",
    )
    picks: list[Pick] = [
        (r.experiment, r.variant, sample_id, change)
        for r in changed
        for change, ids in (("regressed", r.regressed_ids), ("improved", r.improved_ids))
        for sample_id in ids
    ]
    pick = st.selectbox("Look at one sample", picks, key="compare_sample_pick", format_func=_label)
    if pick is not None:
        _side_by_side(store, baseline, candidate, pick)


def _label(pick: Pick) -> str:
    experiment, variant, sample_id, change = pick
    return f"{sample_id} · {change} · {variant} · {experiment}"


def _side_by_side(store: RunStore, baseline: RunRecord, candidate: RunRecord, pick: Pick) -> None:
    experiment, variant, sample_id, _ = pick
    records = {}
    for run in (baseline, candidate):
        found = [e for e in store.experiments(run.id) if e.name == experiment]
        if found:
            records[run.id] = found[0]
    if len(records) < 2:
        st.warning(f"Experiment `{escape_text(experiment)}` is missing from one of the runs.")
        return
    sample, _ = sample_trials(store, records[candidate.id], sample_id)
    if sample is not None:
        show_sample(sample)
    left, right = st.columns(2)
    for column, run, title in ((left, baseline, "Baseline"), (right, candidate, "Candidate")):
        record: ExperimentRecord = records[run.id]
        _, trials = sample_trials(store, record, sample_id)
        with column:
            st.caption(f"{title} run `{run.id}`: {escape_text(variant)}'s trials on this sample")
            st.dataframe(trials[trials["variant"] == variant], hide_index=True, width="stretch")
