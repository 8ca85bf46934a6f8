"""What the per-sample views make of the store: pandas frames, no Streamlit, no SQL.

For one experiment on a dataset: each (variant, sample) pass rate with the samples ranked by
difficulty (the mean pass rate over the variants that ran it, hardest first), the samples where
variants disagree, and one sample with every trial run on it. Inputs, targets and outputs are user
text: they go into frames as plain strings (``as_text``), never into Markdown or HTML.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from meta_orchestrator.core.datasets import Sample
from meta_orchestrator.store import ExperimentRecord, RunStore

HEATMAP_SAMPLES = 300  # columns a heatmap can show legibly
DISAGREEMENT_ROWS = 500
TEXT_CHARS = 200  # of an input in a table cell; the sample page shows it whole

GRID_COLUMNS = ["sample", "variant", "pass rate", "passed", "attempts", "difficulty rank"]


def as_text(value: Any, limit: int | None = None) -> str:
    """A sample's input, target or an output as one plain string (JSON for structures)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class SampleGrid:
    """Pass rates of every (variant, sample), samples ranked hardest first."""

    frame: pd.DataFrame  # GRID_COLUMNS, one row per (variant, sample) that ran
    ranks: dict[str, int]  # sample id -> difficulty rank (0: hardest)
    inputs: dict[str, str]  # sample id -> its input, cut to TEXT_CHARS

    @property
    def samples(self) -> int:
        """Samples with at least one trial."""
        return len(self.ranks)

    def heatmap_frame(self, limit: int = HEATMAP_SAMPLES) -> tuple[pd.DataFrame, bool]:
        """At most ``limit`` samples, evenly spread over the difficulty ranking (the hardest and
        the easiest always in); ``True`` when some were left out."""
        if self.samples <= limit:
            return self.frame, False
        ranks = set(np.linspace(0, self.samples - 1, limit).round().astype(int).tolist())
        return self.frame[self.frame["difficulty rank"].isin(ranks)], True

    def disagreements(self, limit: int = DISAGREEMENT_ROWS) -> tuple[pd.DataFrame, int]:
        """Samples where one variant passed every attempt and another failed every attempt (the
        definition ``analysis.samples`` uses in summary.md), hardest first, with each variant's
        ``passed/attempts``; and how many there are in all."""
        frame = self.frame
        always = frame[frame["passed"] == frame["attempts"]].groupby("sample").size()
        never = frame[frame["passed"] == 0].groupby("sample").size()
        ids = sorted(set(always.index) & set(never.index), key=self.ranks.__getitem__)
        rows = []
        for sample_id in ids[:limit]:
            cells = frame[frame["sample"] == sample_id]
            row = {"sample": sample_id, "input": self.inputs.get(sample_id, "")}
            row |= {v: f"{p}/{a}" for v, p, a in cells[["variant", "passed", "attempts"]].values}
            rows.append(row)
        return pd.DataFrame(rows, columns=["sample", "input", *self._variants()]), len(ids)

    def hardest(self, limit: int) -> list[str]:
        return sorted(self.ranks, key=self.ranks.__getitem__)[:limit]

    def _variants(self) -> list[str]:
        return list(dict.fromkeys(self.frame["variant"]))


def sample_grid(store: RunStore, record: ExperimentRecord) -> SampleGrid:
    """The experiment's per-sample pass rates (``RunStore.sample_outcomes``, one pass)."""
    rows: list[tuple[str, str, float, int, int]] = []
    inputs: dict[str, str] = {}
    if record.dataset is not None:
        outcomes = store.sample_outcomes(record.run_id, record.name, record.dataset)
        for sample, results in outcomes:
            if not results:
                continue
            inputs[sample.id] = as_text(sample.input, TEXT_CHARS)
            rows.extend((sample.id, o.variant, o.pass_rate, o.successes, o.trials) for o in results)
    frame = pd.DataFrame(rows, columns=GRID_COLUMNS[:-1])
    difficulty = frame.groupby("sample", sort=False)["pass rate"].mean()
    order = difficulty.reset_index().sort_values(["pass rate", "sample"], kind="stable")
    ranks = dict(zip(order["sample"], range(len(order)), strict=True))
    frame["difficulty rank"] = frame["sample"].map(ranks).astype("int64")
    configured = {v: i for i, v in enumerate(record.variants)}
    frame["_order"] = frame["variant"].map(lambda v: configured.get(v, len(configured)))
    frame = frame.sort_values(["difficulty rank", "_order", "variant"]).drop(columns="_order")
    return SampleGrid(frame.reset_index(drop=True), ranks, inputs)


TRIAL_COLUMNS = [
    "variant", "epoch", "status", "score", "success", "output", "error", "explanation",
]  # fmt: skip


def sample_trials(
    store: RunStore, record: ExperimentRecord, sample_id: str
) -> tuple[Sample | None, pd.DataFrame]:
    """One sample of the experiment's dataset and every trial run on it (text cells as text)."""
    if record.dataset is None:
        return None, pd.DataFrame(columns=TRIAL_COLUMNS)
    sample = store.sample(record.run_id, record.dataset, sample_id)
    rows = [
        (
            t.variant,
            t.epoch,
            t.status,
            t.score,
            t.metrics.get("success"),
            as_text(t.output) + (" [cut]" if t.output_truncated else ""),
            t.error or "",
            t.explanation or "",
        )
        for t in store.sample_trials(record.run_id, record.name, sample_id)
    ]
    return sample, pd.DataFrame(rows, columns=TRIAL_COLUMNS)
