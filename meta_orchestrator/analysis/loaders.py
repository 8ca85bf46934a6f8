"""Loading a run for a comparison: from a run folder, a ``results.json`` or a run id in a store.

Trials stream past a collector once, in O(variants × metrics) memory, into a ``RunData``. The rules
match the run store's: a failed trial (error, timeout) has a ``score`` (that of a trial that
achieved nothing) and a measured ``latency``, counts as 0 ``success``, and has no other metric.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from meta_orchestrator.analysis.report import (
    SUMMARY_FILE,
    load_results_json,
    render_summary_markdown,
)
from meta_orchestrator.analysis.run_data import Key, MatchKey, Moments, RunData, VariantData
from meta_orchestrator.analysis.summary import summarize_run
from meta_orchestrator.core.running import RunningMoments
from meta_orchestrator.errors import ComparisonError, RunNotFoundError
from meta_orchestrator.store import RunStore


def load_run(ref: str | Path, db: str | Path | None = None) -> RunData:
    """A run from a run folder, a ``results.json``, or a run id looked up in the store ``db`` (a
    unique prefix, ``latest`` and ``latest~N`` too: ``RunStore.resolve_run_id``).

    Raises ``RunNotFoundError`` when nothing matches and ``ComparisonError`` for a file that is not
    a meta-orchestrator results file.
    """
    path = Path(ref)
    if path.exists():
        return run_data_from_results_file(path)
    text = str(ref)
    looks_like_path = text.endswith(".json") or "/" in text or os.sep in text
    if db is not None and Path(db).is_file() and not looks_like_path:
        with RunStore(db) as store:
            return run_data_from_store(store, store.resolve_run_id(text))
    where = f"and no run store at {db} to look it up in" if db is not None else "(no --db given)"
    if looks_like_path:
        raise RunNotFoundError(f"{ref}: no such run folder or results.json")
    raise RunNotFoundError(f"'{ref}' is not a run folder, a results.json or a run id {where}")


def run_data_from_results_file(path: str | Path) -> RunData:
    """Read a ``results.json`` (or the run folder holding one) and the ``summary.md`` beside it."""
    data = load_results_json(path)
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    summary = folder / SUMMARY_FILE
    markdown = summary.read_text(encoding="utf-8") if summary.is_file() else None
    return run_data_from_results(data, source=str(path), summary_markdown=markdown)


def run_data_from_results(
    data: Mapping[str, Any], *, source: str = "results.json", summary_markdown: str | None = None
) -> RunData:
    """A ``RunData`` from a parsed ``results.json`` (as checked by ``load_results_json``)."""
    run = data.get("run") or {}
    collector = _Collector()
    for i, trial in enumerate(data.get("trials") or []):
        try:
            collector.add(
                str(trial["experiment"]),
                str(trial["variant"]),
                str(trial["status"]),
                trial.get("score"),
                trial.get("latency"),
                trial.get("metrics") or {},
                trial.get("sample_id"),
                int(trial.get("epoch") or 0),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ComparisonError(
                f"{source} is damaged: trial #{i} lacks experiment, variant or status ({exc!r})"
            ) from exc
    return RunData(
        run_id=str(run.get("id", "?")),
        name=str(run.get("name", "?")),
        source=source,
        variants=collector.variants(),
        status=str(run.get("status", "?")),
        git_commit=run.get("git_commit"),
        summary_markdown=summary_markdown,
        fingerprints={
            str(e.get("name")): e.get("dataset_fingerprint")
            for e in data.get("experiments") or []
            if isinstance(e, dict)
        },
        unusable=collector.unusable,
    )


def run_data_from_store(store: RunStore, run_id: str, *, summary: bool = True) -> RunData:
    """A ``RunData`` for a run in a ``RunStore``; ``summary`` renders its summary.md as well.

    Raises ``RunNotFoundError`` for an unknown run id.
    """
    record = store.get_run(run_id)
    collector = _Collector()
    for _, trial in store.iter_trials(run_id):
        collector.add(
            trial.experiment,
            trial.variant,
            trial.status,
            trial.score,
            trial.latency,
            trial.metrics,
            trial.sample_id,
            trial.epoch,
        )
    return RunData(
        run_id=record.id,
        name=record.name,
        source=f"run {record.id} in {store.path}",
        variants=collector.variants(),
        status=record.status,
        git_commit=record.git_commit,
        summary_markdown=render_summary_markdown(summarize_run(store, run_id)) if summary else None,
        fingerprints={e.name: e.dataset_fingerprint for e in store.experiments(run_id)},
        unusable=collector.unusable,
    )


class _Collector:
    """Per-variant moments of every metric, from trials streamed past it once; on a dataset also
    each trial's values keyed by ``(sample, epoch)`` for the paired comparison."""

    def __init__(self) -> None:
        self.trials: dict[Key, int] = {}
        self.ok: dict[Key, int] = {}
        self.running: dict[Key, dict[str, RunningMoments]] = {}
        self.by_sample: dict[Key, dict[str, dict[MatchKey, float]]] = {}
        self.unusable: dict[tuple[str, str, str], int] = {}

    def add(
        self,
        experiment: str,
        variant: str,
        status: str,
        score: float | None,
        latency: float | None,
        metrics: Mapping[str, Any],
        sample_id: str | None = None,
        epoch: int = 0,
    ) -> None:
        key = (experiment, variant)
        self.trials[key] = self.trials.get(key, 0) + 1
        running = self.running.setdefault(key, {})
        paired = self.by_sample.setdefault(key, {}) if sample_id is not None else None

        def add(name: str, value: Any) -> None:
            if _is_number(value):
                running.setdefault(name, RunningMoments()).add(float(value))
                if paired is not None:
                    paired.setdefault(name, {})[(str(sample_id), epoch)] = float(value)
            elif value is not None:  # text, NaN: counted, so the gate can refuse to judge
                where = (experiment, variant, name)
                self.unusable[where] = self.unusable.get(where, 0) + 1

        # Every trial has a score (a failed one scores as achieving nothing) and a latency.
        add("score", score)
        add("latency", latency)
        if status != "ok":
            add("success", 0.0)  # as summary.md's success rate counts it
            return
        self.ok[key] = self.ok.get(key, 0) + 1
        for name, value in metrics.items():
            if name not in ("score", "latency"):
                add(name, value)

    def variants(self) -> dict[Key, VariantData]:
        return {
            key: VariantData(
                key[0],
                key[1],
                count,
                self.ok.get(key, 0),
                {name: Moments.of_running(r) for name, r in self.running[key].items()},
                self.by_sample.get(key, {}),
            )
            for key, count in self.trials.items()
        }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)  # bool is an int: 0 or 1


__all__ = ["load_run", "run_data_from_results", "run_data_from_results_file", "run_data_from_store"]
