"""Ctrl-C and ``resume`` on every backend, through the real command line.

``meta-orchestrator run`` runs in its own process group; once some trials are in the store the test
sends SIGINT to the whole group, as a terminal's Ctrl-C does. The run must exit 130, be marked
``interrupted`` and keep its trials; ``meta-orchestrator resume`` must then bring it to exactly its
planned trials, keeping every trial stored before the interrupt and running none twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.backends.helpers import rows, simulated
from tests.conftest import ray_or_skip

CLI = [sys.executable, "-m", "meta_orchestrator.cli"]
GRID = 30  # 3 variants x 10
BANDIT = 30
PLANNED = GRID + BANDIT


def write_config(folder: Path, kind: str) -> Path:
    variants = {
        "weak": simulated(0.3, 0.1),
        "fair": simulated(0.5, 0.1),
        "strong": simulated(0.7, 0.1),
    }
    backend: dict[str, object] = {"type": kind}
    if kind != "local":
        backend["max_in_flight"] = 4
    if kind == "ray":
        backend["ray_settings"] = {"num_cpus": 1}
    config = {
        "name": f"interrupt-{kind}",
        "variants": variants,
        "experiments": [
            {"name": "grid", "variants": list(variants), "trials_per_variant": GRID // 3},
            {
                "name": "bandit",
                "variants": list(variants),
                "orchestrator": "mab",
                "mab_settings": {"total_trials": BANDIT},
            },
        ],
        "execution_backend": backend,
    }
    path = folder / "cfg.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        return int(rows(db, "SELECT COUNT(*) FROM trials")[0][0])
    except Exception:  # the schema is being created
        return 0


def interrupt_when(db: Path, proc: subprocess.Popen[str], at_least: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while stored(db) < at_least:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, "no trials were stored in time"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)


@pytest.mark.parametrize("kind", ["local", "threads", "ray"])
def test_sigint_then_resume_gives_exactly_the_planned_trials(
    kind: str, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    if kind == "ray":
        ray_or_skip()
    config, db, results = write_config(tmp_path, kind), tmp_path / "runs.db", tmp_path / "results"
    common = ["--db", str(db), "--results-dir", str(results), "--quiet"]
    proc = subprocess.Popen(
        [*CLI, "run", "-c", str(config), *common],
        env=clean_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        interrupt_when(db, proc, at_least=6, timeout=90)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    run_id = out.split()[-1]
    assert rows(db, "SELECT status FROM runs WHERE id = ?", run_id) == [("interrupted",)]
    kept = rows(db, "SELECT seq, experiment, trial_index, variant, score FROM trials ORDER BY seq")
    assert 6 <= len(kept) < PLANNED

    done = subprocess.run(
        [*CLI, "resume", run_id, *common],
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert rows(db, "SELECT status FROM runs WHERE id = ?", run_id) == [("completed",)]
    after = rows(db, "SELECT seq, experiment, trial_index, variant, score FROM trials ORDER BY seq")
    assert len(after) == PLANNED
    assert after[: len(kept)] == kept  # nothing stored before the interrupt was touched
    by_experiment: dict[str, list[int]] = {"grid": [], "bandit": []}
    for _, experiment, index, _, _ in after:
        by_experiment[experiment].append(index)
    assert sorted(by_experiment["grid"]) == list(range(GRID))
    assert len(by_experiment["bandit"]) == len(set(by_experiment["bandit"])) == BANDIT
    statuses = rows(db, "SELECT name, status FROM experiments ORDER BY position")
    assert statuses == [("grid", "completed"), ("bandit", "completed")]
