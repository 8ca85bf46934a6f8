"""The Launch view: pick or edit a config, see the CLI validator's verdict, start and stop runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from meta_orchestrator.analysis.formatting import code_span, escape_text
from meta_orchestrator.core.config import SuiteConfig
from meta_orchestrator.dashboard import launcher
from meta_orchestrator.dashboard.common import Settings, shown_errors
from meta_orchestrator.errors import ConfigError, MetaOrchestratorError
from meta_orchestrator.store import RunRecord, RunStore

START_TIMEOUT = 30.0
DEFAULT_CONFIG = "config.yaml"  # what `meta-orchestrator run` runs without -c: picked first


Goto = Callable[[str, str | None], None]


def render_launch(settings: Settings, goto: Goto) -> None:
    """``goto(view, run_id)`` switches to another view once the launched run has started."""
    st.title("Launch an experiment")
    configs = launcher.list_configs(settings.config_dir)
    names = [str(p.relative_to(settings.config_dir)) for p in configs]
    if names:
        st.selectbox(
            "Config file",
            names,
            index=names.index(DEFAULT_CONFIG) if DEFAULT_CONFIG in names else 0,
            key="launch_file",
            on_change=_load_file,
            args=(settings,),
        )
        if "launch_text" not in st.session_state:
            _load_file(settings)
    else:
        st.info(f"No YAML config in `{settings.config_dir}`; write one below.")
    text = st.text_area("Config (YAML)", key="launch_text", height=420) or ""
    source = settings.config_dir / st.session_state["launch_file"] if names else None
    base_dir = source.parent if source is not None else settings.config_dir
    config = _validated(text, base_dir)
    if st.button("Launch run", type="primary", disabled=config is None, key="launch_button"):
        _launch(text, base_dir, source, settings, goto)
    _launch_list(settings)


def _load_file(settings: Settings) -> None:
    path = settings.config_dir / st.session_state["launch_file"]
    try:
        st.session_state["launch_text"] = path.read_text(encoding="utf-8")
    except OSError as exc:
        st.session_state["launch_text"] = ""
        st.session_state["launch_read_error"] = f"Cannot read {path}: {exc}"


def _validated(text: str, base_dir: Path) -> SuiteConfig | None:
    """The validator's verdict, shown inline: one line per problem, each naming its field."""
    error = st.session_state.pop("launch_read_error", None)
    if error:
        st.error(escape_text(error))
    if not text.strip():
        st.info("Paste or write a config to validate it.")
        return None
    try:
        config = launcher.validate(text, base_dir)
    except ConfigError as exc:
        problems = exc.problems or [str(exc)]
        noun = "problem" if len(problems) == 1 else "problems"
        lines = "\n".join(_problem_line(p) for p in problems)
        st.error(f"**Invalid config** ({len(problems)} {noun}):\n\n{lines}")
        return None
    experiments = len(config.enabled_experiments)
    st.success(
        f"Valid config **{escape_text(config.name)}**: {experiments} experiment"
        f"{'' if experiments == 1 else 's'}, {config.planned_trials} planned trials."
    )
    return config


def _problem_line(problem: str) -> str:
    """``- `field.path`: message``: the field as code, the message as inert text."""
    field, sep, message = problem.partition(": ")
    return f"- {code_span(field)}: {escape_text(message)}" if sep else f"- {escape_text(problem)}"


def _launch(text: str, base_dir: Path, source: Path | None, settings: Settings, goto: Goto) -> None:
    with shown_errors("Launching the run"):
        launch_dir = settings.db.resolve().parent / launcher.LAUNCH_FOLDER
        config_file = launcher.prepare(text, base_dir, launch_dir, source, settings.config_dir)
        launch = launcher.start(config_file, settings.db, settings.config_dir)
        with st.spinner(f"Starting the run (process {launch.pid})…"):
            record = _wait_for_run(launch, settings.db)
        if record is not None:
            goto("Runs", record.id)
        st.error(
            f"The run process exited (code {launch.exit_code}) before it started a run. Its output:"
        )
        st.code(launch.log_tail() or "(no output)", language="text")


def _wait_for_run(launch: launcher.Launch, db: Path) -> RunRecord | None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if db.exists():
            try:
                with RunStore(db) as store:
                    record = launch.find_run(store)
            except MetaOrchestratorError:
                record = None  # the store is being created
            if record is not None:
                return record
        if not launch.running:
            return None
        time.sleep(0.1)
    return None


def _launch_list(settings: Settings) -> None:
    launches = launcher.launches()
    if not launches:
        return
    st.subheader("Runs launched from this dashboard")
    for launch in launches:
        state = "running" if launch.running else f"exited with code {launch.exit_code}"
        left, right = st.columns([4, 1])
        left.write(
            f"`{launch.run_id or 'starting'}` · {escape_text(launch.config_file.name)} · process "
            f"{launch.pid} · {state}"
        )
        if launch.running and right.button("Stop", key=f"stop-launch-{launch.pid}"):
            launch.stop()
            st.toast("Stop requested: the run is marked interrupted; completed trials are kept.")
