"""The Runs view: the sidebar run browser and one run, live (refreshed every second) or finished."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path

import pandas as pd
import streamlit as st

from meta_orchestrator.analysis.formatting import (
    DASH,
    escape_text,
    format_duration,
    format_interval,
    format_number,
    format_p_value,
    format_percent,
)
from meta_orchestrator.analysis.report import render_summary_markdown
from meta_orchestrator.analysis.saved_summary import leader_of
from meta_orchestrator.analysis.summary import ExperimentSummary, RunSummary
from meta_orchestrator.dashboard import anytime_view, charts, launcher, samples_view, static_chart
from meta_orchestrator.dashboard.common import Settings, markdown_table, shown_errors
from meta_orchestrator.dashboard.data import (
    EXPORT_LIMIT,
    LOG_TAIL,
    ExperimentView,
    RunView,
    Summaries,
    filter_runs,
    histogram_frame,
    process_gone,
    progress,
    run_table,
    trials_csv,
    trials_json,
)
from meta_orchestrator.store import ExperimentRecord, RunRecord, RunStore

REFRESH_SECONDS = 1.0
SUMMARIES = Summaries()
STATUSES = ["running", "dead", "completed", "failed", "interrupted"]
TEST_NAMES = {"welch": "Welch's t-test", "paired": "paired t-test on the samples both ran"}


# ------------------------------------------------------------------------------- run browser
def sidebar_browser(store: RunStore) -> str | None:
    """Past runs newest first, filtered; returns the selected run id (``None`` if there is none)."""
    records = store.list_runs()
    _start_summary(store, records, st.session_state.get("run_id"))
    runs = run_table(records, _leaders(store, records))
    if runs.empty:
        st.sidebar.info("No runs in this store yet.")
        return None
    text = st.sidebar.text_input("Filter runs", key="run_filter", placeholder="name, id, variant…")
    statuses = st.sidebar.multiselect("Status", STATUSES, key="run_statuses")
    matching = filter_runs(runs, text, statuses)
    if matching.empty:
        st.sidebar.warning("No run matches the filter.")
        return None
    wanted = st.session_state.get("run_id")
    shown = listed_runs(matching, wanted)
    labels = {row.id: f"{row.name} · {row.status} · {row.date}" for row in shown.itertuples()}
    if wanted in labels:
        st.session_state["run_pick"] = wanted
    selected = st.sidebar.selectbox(
        "Run", list(labels), key="run_pick", format_func=labels.__getitem__, on_change=_picked
    )
    run_list = st.sidebar.container(height=RUN_LIST_HEIGHT if len(shown) > 10 else "content")
    run_list.markdown(run_list_markdown(shown))
    if len(shown) < len(matching):
        listed = min(len(shown), RUN_LIST_LIMIT)
        also = " and the one open" if len(shown) > RUN_LIST_LIMIT else ""
        st.sidebar.caption(
            f"The {listed} newest of {len(matching)} matching runs{also}; filter to find the others."
        )
    st.session_state["run_id"] = selected
    return selected


RUN_LIST_LIMIT = 200  # rows of the sidebar's list and choices of its picker; the filter sees all
RUN_LIST_HEIGHT = 400  # pixels: a longer run list scrolls


def run_list_markdown(runs: pd.DataFrame) -> str:
    """The sidebar's runs (``data.run_table`` rows) as a Markdown list, one run per item:
    **name** · status · trials · leader · date · orchestrator.

    A list, not a table: the sidebar is too narrow for six columns, and a Markdown table there is
    cut at its edge rather than scrolled; a list item wraps, so nothing is hidden. It is not an
    ``st.dataframe`` because the grid's JavaScript would load before any page could show
    (``common.markdown_table``).
    """
    return "\n".join(
        f"- **{escape_text(r.name)}** · {escape_text(r.status)} · {escape_text(r.trials)} trials"
        f" · leader {escape_text(r.leader)} · {escape_text(r.date)} · {escape_text(r.orchestrator)}"
        for r in runs.itertuples()
    )


def listed_runs(matching: pd.DataFrame, wanted: str | None) -> pd.DataFrame:
    """The newest ``RUN_LIST_LIMIT`` of the matching runs (newest first), and the run the page
    shows (``?run=``) even when it is older: a store of thousands of CI runs must not send the
    browser a picker and a table of thousands of rows."""
    shown = matching.head(RUN_LIST_LIMIT)
    if wanted is not None and wanted not in set(shown["id"]):
        shown = pd.concat([shown, matching[matching["id"] == wanted]])
    return shown


def _start_summary(store: RunStore, records: list[RunRecord], wanted: str | None) -> None:
    """Start the summary of the run the page is about to show, if it is finished, before the
    sidebar scans every run for its leader: on a first open the two then overlap instead of
    queueing (``render_run`` gets the same future back from ``SUMMARIES``)."""
    record = next((r for r in records if r.id == wanted), None)
    if record is not None and _finished(record):
        SUMMARIES.start(store.path, record)


def _finished(record: RunRecord) -> bool:
    """A run whose trials no longer change while the page shows it, and that has some."""
    return bool(record.trials) and not (record.status == "running" and not process_gone(record))


def _picked() -> None:
    st.session_state["run_id"] = st.session_state["run_pick"]


def _leaders(store: RunStore, records: list[RunRecord]) -> dict[str, str | None]:
    return {r.id: _leader(store, r, str(store.path), r.id, r.trials, r.status) for r in records}


@st.cache_data(max_entries=5000, show_spinner=False)
def _leader(
    _store: RunStore, _record: RunRecord, db: str, run_id: str, trials: int, status: str
) -> str | None:
    """Cached on the store, run, trial count and status (the underscored arguments are not
    hashed): a run that gains a trial or changes status is asked again."""
    return leader_of(_store, _record)


# ---------------------------------------------------------------------------------- one run
def render_run(store: RunStore, run_id: str, settings: Settings) -> None:
    """A live (or trial-less) run as one panel refreshed every second; a finished one as views.

    A finished run opens on its **Overview** (progress, and per experiment the score chart as a
    server-drawn picture and the ranking with the tests against the best) and draws nothing else
    until another view is picked: ``st.tabs`` would send and draw every tab, and Vega's first
    chart alone costs the browser about a second (``static_chart``).
    """
    record = store.get_run(run_id)
    _header(record)
    _status_notes(record)
    _stop_button(store, record)
    if not _finished(record):
        live = record.status == "running" and not process_gone(record)
        panel = st.fragment(run_every=REFRESH_SECONDS if live else None)(_run_panel)
        panel(settings.db, run_id, live)
        return
    summary = SUMMARIES.start(settings.db, record)  # computed while the progress is drawn
    _finished_run(store, record, summary)


def _header(record: RunRecord) -> None:
    st.title(escape_text(record.name))
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.started_at))
    status = "dead" if process_gone(record) else record.status
    st.caption(
        f"Run `{record.id}` · status **{escape_text(status)}** · orchestrator "
        f"`{record.orchestrator}` · backend `{record.backend}` · seed {record.seed} · "
        f"started {started}"
    )


def _status_notes(record: RunRecord) -> None:
    if process_gone(record):
        st.warning(
            f"This run is dead: it is marked running, but its process (host {record.host}, pid "
            f"{record.pid}) is gone or has stopped its heartbeat: it was killed or crashed. "
            f"Continue it with `meta-orchestrator resume {record.id}`."
        )
    if record.status == "failed":
        st.error(f"This run failed: {escape_text(record.error or 'no error recorded')}")
    elif record.status == "interrupted":
        st.warning(
            f"This run was interrupted; its completed trials are kept. Continue it with "
            f"`meta-orchestrator resume {record.id}`."
        )
    if record.trials == 0 and record.status != "running":
        st.info("This run recorded no trials, so there is nothing to rank or chart.")
    if record.stop_reason:
        st.caption(f"Stop reason: {escape_text(record.stop_reason)}")


def _stop_button(store: RunStore, record: RunRecord) -> None:
    launch = launcher.launch_for_run(record.id, store)
    if launch is None or not launch.running:
        return
    if st.button("Stop run (SIGINT)", key=f"stop-{record.id}", type="primary"):
        launch.stop()
        st.toast("Stop requested: the run finishes its current trial and is marked interrupted.")


# ---------------------------------------------------------------------------------- live panel
def _run_panel(db: Path, run_id: str, live: bool) -> None:
    """Progress and, per experiment, charts and ranking; while ``live`` also the log tail.

    As a fragment it re-runs every second while ``live``, reading only the new trials.
    """
    with shown_errors("Reading the run"), RunStore(db) as store:
        record = store.get_run(run_id)
        view = _view_state(store, record)
        view.update(store)
        experiments = store.experiments(run_id)
        if live and (record.status != "running" or process_gone(record)):
            st.rerun()  # the run ended: redraw the whole page as a finished run
        _progress(record, view)
        if live and not view.trials:
            st.info("The run has started; waiting for its first trial…")
        for experiment in experiments:
            state = _experiment_header(experiment, view)
            if state is not None:
                _interactive_charts(experiment, view, anytime_view.bands(store, record, experiment))
                _live_ranking(view, experiment.name)
        if live:
            with st.expander(f"Log (last {LOG_TAIL} lines)", expanded=True):
                _log_tail(store, run_id)


def _log_tail(store: RunStore, run_id: str) -> None:
    """The run's last log lines as a code block, newest first: a scrolled box opens at its top,
    so that is where the newest line must be. Shown verbatim, never as Markdown or HTML."""
    lines = store.logs(run_id, tail=LOG_TAIL)
    text = "\n".join(
        f"{time.strftime('%H:%M:%S', time.localtime(line.ts))} {line.level:<7} {line.message}"
        for line in reversed(lines)
    )
    if lines:
        st.caption(f"The last {len(lines)} log lines, newest first.")
    st.code(text or "(no log lines)", language="text", height=320 if lines else "content")


def _view_state(store: RunStore, record: RunRecord) -> RunView:
    """This session's view of the run: bootstrapped once, then only read forward.

    A finished run's bootstrap is shared by every session (cached by trial count and status).
    """
    key = (str(store.path), record.id)
    view = st.session_state.get("run_view")
    if view is None or st.session_state.get("run_view_key") != key:
        if record.status == "running":
            view = RunView.bootstrap(store, record.id)
        else:
            view = _finished_view(store, key[0], record.id, record.trials, record.status)
        st.session_state["run_view"], st.session_state["run_view_key"] = view, key
    return view


@st.cache_data(max_entries=16, show_spinner=False)
def _finished_view(_store: RunStore, db: str, run_id: str, trials: int, status: str) -> RunView:
    return RunView.bootstrap(_store, run_id)


def _progress(record: RunRecord, view: RunView) -> None:
    p = progress(record, view)
    columns = st.columns([1, 1, 1, 1, 2])
    columns[0].metric(
        "Trials done",
        f"{p.done:,}",
        delta=f"of {p.planned:,} planned",
        delta_color="off",
        delta_arrow="off",
    )
    columns[1].metric("Errors", f"{p.failures:,}")
    columns[2].metric("Elapsed", format_duration(p.elapsed))
    columns[3].metric("ETA", format_duration(p.eta) if record.status == "running" else DASH)
    if p.leader is None:
        columns[4].metric("Leader", DASH)
    else:
        columns[4].metric(
            "Leader",
            p.leader[0],
            delta=f"{view.last_experiment} · mean score {p.leader[1]:.3f}",
            delta_color="off",
            delta_arrow="off",
        )
    st.progress(*_progress_bar(record, p.done, p.fraction))


def _progress_bar(record: RunRecord, done: int, fraction: float) -> tuple[float, str]:
    """A finished run that ran fewer trials than planned stopped early on purpose (a bandit's
    early stop, a budget): its bar is full and says why, not "78% of the planned trials"."""
    if record.status == "completed" and done < record.planned_trials:
        reason = record.stop_reason or "fewer trials than planned were needed"
        return 1.0, f"stopped early: {reason} ({done:,} of {record.planned_trials:,} trials)"
    return fraction, f"{format_percent(fraction)} of the planned trials"


def _experiment_header(experiment: ExperimentRecord, view: RunView) -> ExperimentView | None:
    """The experiment's heading and counts; its state, or ``None`` while it has no trials."""
    kind = experiment.orchestrator + (f" ({experiment.strategy})" if experiment.strategy else "")
    state = view.experiments.get(experiment.name)
    done = state.trials if state else 0
    st.subheader(f"Experiment {escape_text(experiment.name)}")
    st.caption(
        f"{escape_text(kind)} · {done} of {experiment.planned_trials} trials · "
        f"{escape_text(experiment.status)}"
    )
    if state is None or not state.trials:
        st.caption("No trials yet.")
        return None
    return state


def _interactive_charts(
    experiment: ExperimentRecord, view: RunView, anytime: anytime_view.Bands | None
) -> None:
    """The score over time (Vega, with tooltips) and, for a bandit, how often it chose each."""
    state = view.experiments[experiment.name]
    variants = _variant_names(experiment, state.variants)
    is_bandit = experiment.orchestrator == "mab"
    left, right = st.columns([3, 2]) if is_bandit else (st.container(), None)
    with left:
        series, band = _score_series(view, experiment.name, anytime)
        if series.empty:
            st.caption("No scored trial yet (every trial so far failed).")
        else:
            st.vega_lite_chart(charts.score_over_time(series, variants, band), width="stretch")
            anytime_view.caption(anytime)
    if right is not None:
        with right:
            spec = charts.choice_distribution(view.choice_frame(experiment.name), variants)
            st.vega_lite_chart(spec, width="stretch")


def _score_series(
    view: RunView, experiment: str, anytime: anytime_view.Bands | None
) -> tuple[pd.DataFrame, str]:
    """The score chart's points and the name of its band: anytime-valid when the scores are
    bounded, else the fixed-sample interval (the same for the picture and the Vega chart)."""
    if anytime is None:
        return view.series_frame(experiment), "95% CI"
    return anytime.frame, anytime_view.LABEL


def _live_ranking(view: RunView, experiment: str) -> None:
    live = _with_interval(view.ranking_frame(experiment))
    st.markdown(
        markdown_table(
            live,
            {"mean score": format_number},
            intervals=["score 95% CI"],
        )
    )


def _with_interval(frame: pd.DataFrame) -> pd.DataFrame:
    """The live ranking with its two interval bounds as one text column that is never [x, x]."""
    interval = [
        format_interval(low, high, n=trials) if pd.notna(low) and pd.notna(high) else DASH
        for low, high, trials in zip(
            frame["CI low"], frame["CI high"], frame["trials"], strict=True
        )
    ]
    shown = frame.drop(columns=["CI low", "CI high"])
    shown.insert(shown.columns.get_loc("mean score") + 1, "score 95% CI", interval)
    return shown


def _variant_names(experiment: ExperimentRecord, seen: Iterable[str]) -> list[str]:
    """The configured variants, then any others the store holds, for stable chart colours."""
    return list(experiment.variants) + [v for v in seen if v not in experiment.variants]


# -------------------------------------------------------------------------- finished run only
OVERVIEW, CHARTS, SAMPLES = "Overview", "Charts", "Samples"
SECTIONS = [OVERVIEW, CHARTS, "summary.md", "Config snapshot", "Log", "Download trials"]


def _finished_run(store: RunStore, record: RunRecord, summary: Future[RunSummary]) -> None:
    """Progress, then the one view the user picked: only that view is computed and sent."""
    view = _view_state(store, record)
    if view.trials < record.trials:  # a dead run's last trials landed after its bootstrap
        view.update(store)  # (a read that finds nothing still scans the run's index: 40 ms)
    _progress(record, view)
    experiments = store.experiments(record.id)
    sampled = samples_view.with_datasets(experiments)
    section = _section_picker(sampled)
    if section == OVERVIEW:
        _overview(store, record, view, experiments, summary.result())
    elif section == CHARTS:
        _charts(store, record, view, experiments, summary.result())
    elif section == SAMPLES:
        samples_view.render_samples(store, record, sampled)
    elif section == "summary.md":
        markdown = render_summary_markdown(summary.result())
        st.download_button(
            "Download summary.md", markdown, f"{record.id}-summary.md", "text/markdown"
        )
        st.markdown(_without_html_details(markdown))
    elif section == "Config snapshot":
        st.code(record.config_yaml, language="yaml")
    elif section == "Log":
        _log_tail(store, record.id)
    else:
        _downloads(store.path, record)


def _section_picker(sampled: list[ExperimentRecord]) -> str:
    """The views of a finished run, as one row of radio buttons kept in the session (the pick
    survives switching runs; a view this run lacks, Samples, falls back to the Overview)."""
    names = list(SECTIONS)
    if sampled:
        names.insert(2, SAMPLES)
    if st.session_state.get("run_section") not in names:
        st.session_state["run_section"] = OVERVIEW
    picked = st.radio(
        "View of the run", names, key="run_section", horizontal=True, label_visibility="collapsed"
    )
    return str(picked)


def _overview(
    store: RunStore,
    record: RunRecord,
    view: RunView,
    experiments: list[ExperimentRecord],
    summary: RunSummary,
) -> None:
    """Per experiment: the score chart as a picture, the ranking and the tests against the best."""
    ranked = {e.name: e for e in summary.experiments}
    for experiment in experiments:
        state = _experiment_header(experiment, view)
        if state is None:
            continue
        anytime = anytime_view.bands(store, record, experiment)
        variants = _variant_names(experiment, state.variants)
        picture = _score_picture(
            str(store.path), record.id, record.trials, record.status, experiment.name,
            _view=view, _anytime=anytime, _variants=variants,
        )  # fmt: skip
        if picture is None:
            st.caption("No scored trial yet (every trial so far failed).")
        else:
            st.image(picture, width="stretch")
            anytime_view.caption(anytime)
        if experiment.name in ranked:
            _ranking(ranked[experiment.name])
    st.caption(
        "**Charts** has these charts with tooltips, the bandit's choices and the latency and "
        "cost histograms."
    )


@st.cache_data(max_entries=64, show_spinner=False)
def _score_picture(
    db: str,
    run_id: str,
    trials: int,
    status: str,
    experiment: str,
    *,
    _view: RunView,
    _anytime: anytime_view.Bands | None,
    _variants: list[str],
) -> str | None:
    """The score chart of a finished run's experiment as SVG (``None``: no scored trial), drawn
    once per trial count and status like ``_finished_view``: the frame and the picture cost a
    script run 70-110 ms, and every browser session that opens the run would redraw the same."""
    series, band = _score_series(_view, experiment, _anytime)
    return None if series.empty else static_chart.score_over_time_svg(series, _variants, band)


def _charts(
    store: RunStore,
    record: RunRecord,
    view: RunView,
    experiments: list[ExperimentRecord],
    summary: RunSummary,
) -> None:
    """Per experiment the interactive score chart, the bandit's choices and the histograms."""
    distributions = {e.name: e for e in summary.experiments if e.trials}
    for experiment in experiments:
        if _experiment_header(experiment, view) is None:
            continue
        _interactive_charts(experiment, view, anytime_view.bands(store, record, experiment))
        if experiment.name in distributions:
            _distributions(store, record, distributions[experiment.name])


def _without_html_details(markdown: str) -> str:
    """summary.md ends with the config in a ``<details>`` block for GitHub; HTML is not rendered
    here (it would show as text) and the config has its own tab, so the block is left out."""
    return re.sub(
        r"\n<details>\n<summary>Config snapshot</summary>.*?</details>\n?",
        "\n",
        markdown,
        flags=re.S,
    )


def _ranking(experiment: ExperimentSummary) -> None:
    """The final ranking with intervals, then each variant tested against the best."""
    rows = [
        {
            "rank": v.rank,
            "variant": v.variant,
            "trials": v.trials,
            "mean score": v.mean_score,
            "score 95% CI": format_interval(v.score_ci_low, v.score_ci_high, n=v.score_n),
            "success": v.success_rate,
            "success 95% CI": format_interval(
                v.success_ci_low, v.success_ci_high, n=v.trials, percent=True
            ),
            "latency p50 (s)": v.latency_p50,
            "latency p95 (s)": v.latency_p95,
            "cost total": v.cost_total,
            "errors": v.errors,
            "timeouts": v.timeouts,
        }
        for v in experiment.variants
    ]
    ranking = pd.DataFrame(rows)
    st.markdown(
        markdown_table(
            ranking,
            {
                "mean score": format_number,
                "success": format_percent,
                "latency p50 (s)": functools.partial(format_number, digits=4),
                "latency p95 (s)": functools.partial(format_number, digits=4),
            },
            intervals=["score 95% CI", "success 95% CI"],
        )
    )
    tested = [c for c in experiment.comparisons if c.p_value is not None]
    if tested:
        best = experiment.comparisons[0].best
        names = sorted({TEST_NAMES.get(c.test, c.test) for c in tested})
        st.caption(
            f"Best vs others ({escape_text(best)}): difference = other − best, "
            f"{' and '.join(names)}, Holm-corrected, alpha {experiment.alpha:g}; "
            "significant means Holm p < alpha."
        )
        comparisons = pd.DataFrame(
            [
                {
                    "other": c.other,
                    "test": TEST_NAMES.get(c.test, c.test) if c.p_value is not None else DASH,
                    "difference": c.difference,
                    "95% CI": _difference_interval(c.ci_low, c.ci_high),
                    "p": c.p_value,
                    "Holm p": c.p_holm,
                    "significant": c.significant,
                    "note": c.note or "",
                }
                for c in experiment.comparisons
            ]
        )
        st.markdown(
            markdown_table(
                comparisons,
                {
                    "difference": functools.partial(format_number, signed=True),
                    "p": format_p_value,
                    "Holm p": format_p_value,
                },
                intervals=["95% CI"],
            )
        )


def _difference_interval(low: float | None, high: float | None) -> str:
    """As summary.md shows it: signed bounds, never a zero-width interval."""
    if low is None or high is None:
        return DASH
    if high - low <= 1e-12:
        return "n/a (no variance on either side)"
    return f"[{low:+.3f}, {high:+.3f}]"


def _distributions(store: RunStore, record: RunRecord, experiment: ExperimentSummary) -> None:
    left, right = st.columns(2)
    for column, metric, title in (
        (left, "latency", "latency (s)"),
        (right, "cost", "cost per trial"),
    ):
        histogram = _histogram(
            store, str(store.path), record.id, experiment.name, metric, record.trials
        )
        with column:
            if histogram.empty:
                st.caption(f"No {metric} recorded.")
            else:
                spec = charts.distribution(histogram, title, experiment.variant_names)
                st.vega_lite_chart(spec, width="stretch")


@st.cache_data(max_entries=256, show_spinner=False)
def _histogram(
    _store: RunStore, db: str, run_id: str, experiment: str, metric: str, trials: int
) -> pd.DataFrame:
    """Cached per trial count: a finished run's histogram never changes."""
    return histogram_frame(_store, run_id, experiment, metric)


def _downloads(db: Path, record: RunRecord) -> None:
    if record.trials > EXPORT_LIMIT:
        st.info(
            f"This run has {record.trials:,} trials; the downloads hold the first {EXPORT_LIMIT:,}. "
            f"Its `results.json` has them all (`meta-orchestrator report {record.id}` rewrites it)."
        )
    st.caption("The file is built when you click, from the store as it is then.")
    left, right = st.columns(2)
    left.download_button(
        "Trials as CSV",
        data=functools.partial(_export, db, record.id, trials_csv),
        file_name=f"{record.id}-trials.csv",
        mime="text/csv",
    )
    right.download_button(
        "Trials as JSON",
        data=functools.partial(_export, db, record.id, trials_json),
        file_name=f"{record.id}-trials.json",
        mime="application/json",
    )


def _export(db: Path, run_id: str, render: Callable[[RunStore, str], str]) -> str:
    """Called by Streamlit when the button is clicked, long after this script run ended."""
    with RunStore(db) as store:
        return render(store, run_id)
