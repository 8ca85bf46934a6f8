"""Configs and hand-written rows for the dashboard tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from streamlit.testing.v1 import AppTest

from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.store import NewRun

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HOSTILE = "<img src=x onerror=alert(1)>"
SCRIPT_LOG = "<script>alert('log')</script> **bold** [link](javascript:alert(1))"


def fast_config(
    name: str = "dash", trials_per_variant: int = 8, bandit_trials: int = 30
) -> dict[str, Any]:
    """Three simulated variants with no latency: a run takes a fraction of a second."""
    variant = {"type": "simulated", "latency_mean": 0.0, "cost_mean": 0.01}
    return {
        "name": name,
        "seed": 11,
        "scoring_weights": {"success": 1.0, "cost": -2.0},
        "variants": {
            "alpha": {**variant, "success_rate": 0.9},
            "beta": {**variant, "success_rate": 0.4},
            "gamma": {**variant, "success_rate": 0.6, "error_rate": 0.2},
        },
        "experiments": [
            {
                "name": "grid",
                "variants": ["alpha", "beta", "gamma"],
                "trials_per_variant": trials_per_variant,
            },
            {
                "name": "bandit",
                "orchestrator": "mab",
                "variants": ["alpha", "beta", "gamma"],
                "mab_settings": {"strategy": "thompson_sampling", "total_trials": bandit_trials},
            },
        ],
    }


def slow_config(
    name: str = "slow", latency: float = 0.04, trials_per_variant: int = 100
) -> dict[str, Any]:
    """A run that lasts seconds, for watching it live and stopping it."""
    config = fast_config(name, trials_per_variant=trials_per_variant, bandit_trials=60)
    for variant in config["variants"].values():
        variant["latency_mean"] = latency
    return config


def qa_config(
    name: str, seed: int, samples: list[dict[str, Any]], experiment: str
) -> dict[str, Any]:
    """A run over an inline dataset with the target exposed, two epochs, exact scoring: 'right'
    answers with the target (passes), 'echo' with the whole sample (fails)."""
    return {
        "name": name,
        "seed": seed,
        "python_path": [str(FIXTURES)],
        "variants": {
            "right": {"type": "python", "agent": "sample_agents:peeker"},
            "echo": {"type": "python", "agent": "sample_agents:echo_sample"},
        },
        "datasets": {"qa": {"type": "inline", "samples": samples, "expose_target": True}},
        "experiments": [
            {
                "name": experiment,
                "variants": ["right", "echo"],
                "dataset": "qa",
                "epochs": 2,
                "scorers": [{"type": "exact"}],
            }
        ],
    }


def write_config(folder: Path, config: dict[str, Any], filename: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (filename or f"{config['name']}.yaml")
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def new_run(run_id: str, name: str, started_at: float, planned: int = 10) -> NewRun:
    return NewRun(
        id=run_id, name=name, orchestrator="standard", backend="local", seed=1,
        planned_trials=planned, config_yaml=f"name: {name}\n", config_path=None,
        started_at=started_at, package_version="test", git_commit=None, host=None, pid=None,
    )  # fmt: skip


def trial(run_id: str, experiment: str, variant: str, index: int, score: float | None = 1.0,
          status: str = "ok") -> TrialResult:  # fmt: skip
    ok = status == "ok"
    return TrialResult(
        run_id=run_id, experiment=experiment, variant=variant, index=index, seed=index,
        status=status, started_at=1_000.0 + index, ended_at=1_000.01 + index, latency=0.01,  # type: ignore[arg-type]
        metrics={"success": float(score or 0.0), "cost": 0.0, "latency": 0.01} if ok else {"latency": 0.01},
        score=score, error=None if ok else "boom",
    )  # fmt: skip


def texts(app: AppTest, kind: str) -> list[str]:
    """The text of every element of one kind (``info``, ``error``, ``caption`` ...)."""
    return [str(element.value) for element in getattr(app, kind)]


def metric(app: AppTest, label: str) -> str:
    return next(str(m.value) for m in app.metric if m.label == label)


_CELL_BORDER = re.compile(r"(?<!\\)\|")
_ESCAPED = re.compile(r"\\(.)")


def tables(app: Any) -> list[pd.DataFrame]:
    """The tables an ``AppTest`` (sidebar included) or its ``sidebar`` drew with
    ``dashboard.common.markdown_table``, read back: one frame per table, every cell as the text
    the page shows (escapes undone, so a hostile name reads back as itself)."""
    found = []
    for element in app.markdown:
        lines = str(element.value).splitlines()
        if len(lines) < 2 or not all(line.startswith("|") for line in lines):
            continue  # prose, or a document with tables in it (summary.md)
        header, *rows = (
            [_unescape(c.strip()) for c in _CELL_BORDER.split(line)[1:-1]]
            for line in [lines[0], *lines[2:]]
        )
        assert all(len(row) == len(header) for row in rows), lines
        found.append(pd.DataFrame(rows, columns=header))
    return found


_RUN_ITEM = re.compile(
    r"- \*\*(?P<name>.*?)\*\* · (?P<status>.*?) · (?P<trials>\S+) trials · leader (?P<leader>.*?)"
    r" · (?P<date>\S+ \S+) · (?P<orchestrator>.*)"
)


def run_list(app: Any) -> pd.DataFrame:
    """The sidebar's run list (``run_view.run_list_markdown``), read back as a frame."""
    items = next(
        str(m.value).splitlines() for m in app.sidebar.markdown if str(m.value).startswith("- **")
    )
    rows = []
    for item in items:
        match = _RUN_ITEM.fullmatch(item)
        assert match, item
        rows.append({k: _unescape(v) for k, v in match.groupdict().items()})
    return pd.DataFrame(
        rows, columns=["name", "date", "status", "trials", "leader", "orchestrator"]
    )


def _unescape(text: str) -> str:
    """A cell's text as read: escapes undone, a no-break space read as a space."""
    return _ESCAPED.sub(r"\1", text).replace("&amp;", "&").replace("\u00a0", " ")
