"""``run --quiet`` prints the run id and nothing else on stdout (issue 13, item 9): an in-process
agent's prints go to the run's log, anything written to file descriptor 1 (a C library, a child
process, Ray) goes to stderr. Before the fix the agent's lines came first on stdout.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
import yaml

from tests.conftest import ray_or_skip
from tests.helpers import FIXTURES

CLI = [sys.executable, "-m", "meta_orchestrator.cli"]


@pytest.mark.parametrize("kind", ["local", "threads", "ray"])
def test_run_quiet_prints_the_run_id_alone(
    kind: str, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    if kind == "ray":
        ray_or_skip()
    backend: dict[str, object] = {"type": kind}
    if kind == "ray":
        backend["ray_settings"] = {"num_cpus": 1}
    config = {
        "name": f"quiet-{kind}",
        "python_path": [str(FIXTURES)],
        "variants": {"talks": {"type": "python", "agent": "faulty_agents:chatty"}},
        "experiments": [{"name": "e", "variants": ["talks"], "trials_per_variant": 3}],
        "execution_backend": backend,
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    db = tmp_path / "r.db"
    done = subprocess.run(
        [*CLI, "run", "-c", str(path), "--db", str(db), "--quiet"],
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    with closing(sqlite3.connect(db)) as conn:
        (run_id,) = conn.execute("SELECT id FROM runs").fetchone()
        logged = [m for (m,) in conn.execute("SELECT message FROM logs")]
    assert lines == [run_id]
    if kind != "ray":  # in process: the prints are the run's log lines
        assert sum(m.startswith("stdout: hello from trial") for m in logged) == 3
        assert done.stderr.count("raw bytes on fd 1") == 3
