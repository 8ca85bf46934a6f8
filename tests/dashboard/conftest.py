"""Stores for the dashboard tests: real runs through the hub, and hand-written runs for edge cases.

``finished_store`` is built once per session (two real runs of a standard and a bandit experiment,
plus a failed, a zero-trial and a hostile-names run) and must not be written by tests; tests that
write build their own store.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import import_or_skip

import_or_skip("streamlit", "the dashboard needs 'streamlit': pip install '.[dashboard]'")

from streamlit.testing.v1 import AppTest  # noqa: E402

from meta_orchestrator.dashboard import APP  # noqa: E402
from meta_orchestrator.hub import run_experiment_suite  # noqa: E402
from meta_orchestrator.store import StoreWriter  # noqa: E402

from .helpers import HOSTILE, SCRIPT_LOG, fast_config, new_run, trial, write_config  # noqa: E402


@dataclass(frozen=True)
class FinishedStore:
    db: Path
    config_dir: Path
    older: str  # first real run
    newer: str  # second real run (seed 12)
    failed: str
    empty: str  # completed with zero trials
    hostile: str  # variant name and log line that look like HTML / Markdown


@pytest.fixture(scope="session")
def finished_store(tmp_path_factory: pytest.TempPathFactory) -> FinishedStore:
    root = tmp_path_factory.mktemp("dashboard-store")
    db, config_dir = root / "runs.db", root / "configs"
    config = write_config(config_dir, fast_config())
    older = run_experiment_suite(config, db_path=db, results_dir=root / "results")
    time.sleep(1.1)  # run ids and start times order by the second
    newer = run_experiment_suite(config, db_path=db, results_dir=root / "results", seed=12)
    base = time.time() - 3600
    with StoreWriter(db) as writer:
        writer.create_run(new_run("run-failed", "broken", base))
        writer.upsert_experiment("run-failed", 0, "grid", "standard", None, ["alpha"], 10)
        writer.add_trial(trial("run-failed", "grid", "alpha", 0))
        writer.finish_run("run-failed", "failed", error="RuntimeError: the backend died")
        writer.create_run(new_run("run-empty", "nothing", base + 1))
        writer.finish_run("run-empty", "completed")
        writer.create_run(new_run("run-hostile", "hostile", base + 2))
        writer.upsert_experiment("run-hostile", 0, "grid", "standard", None, [HOSTILE, "plain"], 10)
        for i in range(6):
            writer.add_trial(
                trial("run-hostile", "grid", HOSTILE if i % 2 else "plain", i, score=i / 6)
            )
        writer.add_log("run-hostile", "WARNING", SCRIPT_LOG)
        writer.finish_run("run-hostile", "completed")
    return FinishedStore(db, config_dir, older, newer, "run-failed", "run-empty", "run-hostile")


@pytest.fixture
def open_app(monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """``open_app(db, config_dir, **query)``: the dashboard as an ``AppTest``, already run once."""

    def open_(db: Path, config_dir: Path, **query: str) -> AppTest:
        monkeypatch.setattr(
            sys, "argv", ["app.py", "--db", str(db), "--config-dir", str(config_dir)]
        )
        app = AppTest.from_file(str(APP), default_timeout=60)
        app.query_params.update(query)
        return app.run()

    return open_


@pytest.fixture
def no_launch_leftovers() -> Iterator[None]:
    """Stop (SIGINT, then kill) any run a test launched, so none outlives it."""
    from meta_orchestrator.dashboard import launcher

    yield
    for launch in launcher.launches():
        if launch.running:
            launch.stop()
            try:
                launch.process.wait(timeout=20)
            except Exception:
                launch.process.kill()
                launch.process.wait()
