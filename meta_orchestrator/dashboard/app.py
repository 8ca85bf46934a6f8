"""The meta-orchestrator dashboard (Streamlit): ``meta-orchestrator dashboard`` runs this file.

``streamlit run app.py -- --db PATH --config-dir DIR``. Three views: **Runs** (the run browser in
the sidebar; a running run refreshes every second), **Launch** (validate, start and stop runs) and
**Compare** (two runs, per variant). ``?view=…&run=…`` in the URL opens a view and a run directly.
"""

from __future__ import annotations

import sys

import streamlit as st

from meta_orchestrator.dashboard.common import Settings, open_store, parse_settings, shown_errors
from meta_orchestrator.dashboard.compare_view import render_compare
from meta_orchestrator.dashboard.launch_view import render_launch
from meta_orchestrator.dashboard.run_view import render_run, sidebar_browser
from meta_orchestrator.errors import RunNotFoundError
from meta_orchestrator.store import RunStore

VIEWS = ["Runs", "Launch", "Compare"]
WATCH_SECONDS = 2.0


def main() -> None:
    st.set_page_config(page_title="meta-orchestrator", layout="wide")
    settings = parse_settings(sys.argv[1:])
    _apply_navigation()
    st.sidebar.title("meta-orchestrator")
    view = st.sidebar.radio("View", VIEWS, key="view", horizontal=True)
    st.sidebar.caption(f"Store: `{settings.db}`")
    if view == "Launch":
        with shown_errors("The launcher"):
            render_launch(settings, goto)
        st.query_params.from_dict({"view": "Launch"})
        return
    store = open_store(settings.db)
    if store is None:
        _watch_store(settings, None, (-1, None))
        return
    with store, shown_errors(f"Showing the {view.lower()} view"):
        run_id = None
        if view == "Compare":
            render_compare(store)
            st.query_params.from_dict({"view": "Compare"})
        else:
            run_id = _runs_view(store, settings)
        _watch_store(settings, run_id, _store_state(store, run_id))


def _runs_view(store: RunStore, settings: Settings) -> str | None:
    run_id = sidebar_browser(store)
    if run_id is None:
        st.title("Runs")
        st.info(
            "No runs to show yet. Start one from the **Launch** view or with "
            "`meta-orchestrator run`; it appears here within seconds."
        )
        return None
    st.query_params.from_dict({"view": "Runs", "run": run_id})
    render_run(store, run_id, settings)
    return run_id


def goto(view: str, run_id: str | None = None) -> None:
    """Switch view (and run) on the next script run; widgets cannot change once drawn."""
    st.session_state["_goto"] = (view, run_id)
    st.rerun()


def _apply_navigation() -> None:
    """Before any widget exists: a pending ``goto``, else the URL's ``?view=&run=`` on first load."""
    pending = st.session_state.pop("_goto", None)
    if pending is None and "view" not in st.session_state:
        params = st.query_params
        view = params.get("view", "Runs")
        pending = (view if view in VIEWS else "Runs", params.get("run"))
    if pending is not None:
        st.session_state["view"] = pending[0]
        if pending[1]:
            st.session_state["run_id"] = pending[1]


StoreState = tuple[int, str | None]  # number of runs, status of the shown run


def _store_state(store: RunStore, run_id: str | None) -> StoreState:
    status = None
    if run_id is not None:
        try:
            status = store.get_run(run_id).status
        except RunNotFoundError:
            status = "deleted"
    return store.run_count(), status


def _watch_store(settings: Settings, run_id: str | None, known: StoreState) -> None:
    """Redraw the page when a run appears, the shown run changes status (a finished run is
    resumed, say) or the store is created; checked every 2 seconds."""

    @st.fragment(run_every=WATCH_SECONDS)
    def watch() -> None:
        if not settings.db.exists():
            return
        try:
            with RunStore(settings.db) as store:
                now = _store_state(store, run_id)
        except Exception:  # a store being created, or not a store: the page already says so
            return
        if now != known:
            st.rerun()

    watch()


if __name__ == "__main__":
    main()
