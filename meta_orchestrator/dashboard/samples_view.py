"""The Runs view's **Samples** tab: how each variant did on each sample of a dataset.

A heatmap of pass rates (variant x sample, hardest samples first), the samples where variants
disagree, and a sample page with the sample's input and target and every trial's output, score,
error and explanation. Every piece of user text is shown as text: in dataframe cells or code
blocks, never as Markdown or HTML (``analysis.formatting.escape_text`` for the few captions).
"""

from __future__ import annotations

import json

import streamlit as st

from meta_orchestrator.analysis.formatting import escape_text
from meta_orchestrator.core.datasets import Sample
from meta_orchestrator.dashboard import charts
from meta_orchestrator.dashboard.samples_data import (
    HEATMAP_SAMPLES,
    SampleGrid,
    sample_grid,
    sample_trials,
)
from meta_orchestrator.store import ExperimentRecord, RunRecord, RunStore

PICK_SAMPLES = 200  # hardest samples offered in the sample picker, besides the disagreements


def with_datasets(experiments: list[ExperimentRecord]) -> list[ExperimentRecord]:
    return [e for e in experiments if e.dataset is not None]


def render_samples(store: RunStore, run: RunRecord, experiments: list[ExperimentRecord]) -> None:
    """The tab's content for the experiments of ``run`` that ran on a dataset."""
    if not experiments:
        st.info("No experiment of this run ran on a dataset, so there are no per-sample views.")
        return
    names = [e.name for e in experiments]
    name = names[0]
    if len(names) > 1:
        name = st.selectbox("Experiment", names, key=f"samples_experiment_{run.id}")
    experiment = experiments[names.index(name)]
    grid = _grid(
        store, str(store.path), run.id, experiment.name, experiment, run.trials, run.status
    )
    if not grid.samples:
        st.info("No trial has run on a sample of this experiment yet.")
        return
    _heatmap(grid, experiment)
    picks = _disagreements(grid)
    _sample_page(
        store, run, experiment, picks + [s for s in grid.hardest(PICK_SAMPLES) if s not in picks]
    )


@st.cache_data(max_entries=16, show_spinner="Reading the samples…")
def _grid(
    _store: RunStore,
    db: str,
    run_id: str,
    name: str,
    _experiment: ExperimentRecord,
    trials: int,
    status: str,
) -> SampleGrid:
    """Cached per experiment, trial count and status: a finished run's samples never change."""
    return sample_grid(_store, _experiment)


def _heatmap(grid: SampleGrid, experiment: ExperimentRecord) -> None:
    st.markdown(f"**Pass rate per sample: {escape_text(experiment.name)}**")
    frame, thinned = grid.heatmap_frame()
    st.vega_lite_chart(charts.pass_rate_heatmap(frame, list(experiment.variants)), width="stretch")
    note = (
        f"{HEATMAP_SAMPLES} of {grid.samples} samples, evenly spread over the difficulty ranking. "
        if thinned
        else f"All {grid.samples} samples. "
    )
    st.caption(
        note + "Difficulty: the mean pass rate over the variants that ran the sample; a cell's "
        "pass rate is its variant's passed / attempts over the epochs."
    )


def _disagreements(grid: SampleGrid) -> list[str]:
    table, total = grid.disagreements()
    st.markdown("**Samples where the variants disagree**")
    if not total:
        st.caption(
            "None: no sample was passed on every attempt by one variant and failed on every attempt by another."
        )
        return []
    shown = f"the first {len(table)} of {total}" if len(table) < total else f"all {total}"
    st.caption(
        f"Samples one variant passed on every attempt and another failed on every attempt, "
        f"hardest first ({shown}); cells are passed / attempts."
    )
    st.dataframe(table, hide_index=True, width="stretch")
    return table["sample"].tolist()


def _sample_page(
    store: RunStore, run: RunRecord, experiment: ExperimentRecord, picks: list[str]
) -> None:
    st.markdown("**One sample**")
    left, right = st.columns([2, 1])
    picked = left.selectbox(
        "Sample (disagreements first, then the hardest)",
        picks,
        key=f"sample_pick_{run.id}_{experiment.name}",
    )
    typed = right.text_input("…or its id", key=f"sample_id_{run.id}_{experiment.name}").strip()
    sample_id = typed or picked
    if sample_id is None:
        return
    sample, trials = sample_trials(store, experiment, sample_id)
    if sample is None:
        st.warning(
            f"No sample `{escape_text(sample_id)}` in dataset `{escape_text(experiment.dataset or '')}`."
        )
        return
    show_sample(sample)
    st.caption(f"{len(trials)} trials on this sample (every variant, every epoch)")
    st.dataframe(
        trials,
        hide_index=True,
        width="stretch",
        column_config={"score": st.column_config.NumberColumn(format="%.4g")},
    )


def show_sample(sample: Sample) -> None:
    """A sample's input, target and metadata, each in a code block (shown verbatim)."""
    for title, value in (("Input", sample.input), ("Target", sample.target)):
        st.caption(title)
        st.code(_pretty(value), language="text" if isinstance(value, str) else "json")
    if sample.metadata:
        st.caption("Metadata")
        st.code(_pretty(sample.metadata), language="json")


def _pretty(value: object) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
