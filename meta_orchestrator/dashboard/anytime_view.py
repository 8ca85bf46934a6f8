"""The Runs view's anytime-valid bands: one ``LiveBands`` per experiment and browser session.

The score chart of a run shows these bands instead of fixed-sample intervals whenever the scores'
bounds are known (``analysis.anytime.score_bounds``): a page that refreshes every second is read
at every look, and only a confidence sequence stays valid when read that way.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from meta_orchestrator.analysis.anytime import ALPHA, LiveBands, score_bounds
from meta_orchestrator.analysis.formatting import escape_text, format_setting_percent
from meta_orchestrator.store import ExperimentRecord, RunRecord, RunStore

LABEL = f"anytime-valid {format_setting_percent(1 - ALPHA)} band"


@dataclass(frozen=True)
class Bands:
    """What the score chart draws: ``frame`` as ``RunView.series_frame`` has it, and the
    variants left without a band because a score fell outside the bounds."""

    frame: pd.DataFrame
    outside: list[str]


def bands(store: RunStore, run: RunRecord, experiment: ExperimentRecord) -> Bands | None:
    """The experiment's anytime bands so far (``None`` when its scores have no known bounds),
    read forward from where this session's last refresh stopped."""
    bounds = score_bounds(experiment, run.config_yaml)
    if bounds is None:
        return None
    key = session_key(str(store.path), run.id, experiment.name)
    live = st.session_state.get(key)
    if not isinstance(live, LiveBands) or live.bounds != bounds:
        live = st.session_state[key] = LiveBands(run.id, experiment.name, bounds)
    live.update(store)
    return Bands(live.frame(), sorted(live.outside()))


def session_key(db: str, run_id: str, experiment: str) -> str:
    return f"anytime_bands:{db}:{run_id}:{experiment}"


def caption(anytime: Bands | None) -> None:
    """Say which band the chart shows and what it promises."""
    if anytime is None:
        st.caption(
            "Bands: fixed-sample 95% t intervals, valid when read once, not at every refresh. "
            "An anytime-valid band needs bounded scores: weight only success and autonomy, or set "
            "mab_settings.early_stop.score_bounds."
        )
        return
    st.caption(
        f"Bands: {LABEL}s (empirical-Bernstein confidence sequences, Waudby-Smith & Ramdas "
        "2023). Each covers its variant's true mean at every refresh at once with 95% "
        "probability, so watching them live is safe; the table's CI is a fixed-sample t "
        "interval, valid only when read once."
    )
    if anytime.outside:
        names = ", ".join(escape_text(n) for n in anytime.outside)
        st.caption(f"No band for {names}: a score fell outside the bounds the band assumes.")
