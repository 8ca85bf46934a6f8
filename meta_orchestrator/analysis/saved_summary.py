"""The summary a run computed as it closed, kept in its store so readers need not compute it again.

Summarising a finished 100,000-trial run takes about 0.3 s of SQL (latency quantiles sort every
variant's latencies); the report computes it once as the run closes, and the dashboard's first view
of the run (and the run list's leader column) would otherwise compute it again. The report saves
it (``StoreWriter.save_summary``) with the trial count and status it was computed for, and a reader
uses it only while the run still has both (``StoredSummary.holds_for``): a resumed run, one still
running, or one killed before it closed is summarised from its trials as before.

The JSON is the dataclasses' own fields (``dataclasses.asdict``), read back strictly: a field
missing or unknown (a summary saved by another version), another format or another
meta-orchestrator version, or JSON that does not parse means "not saved", never an error: the
trials are the truth and the summary is computed from them. ``SAVED_FORMAT`` goes up when a
statistic's computation changes, so an old saved summary is not shown as a new one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any, TypeVar

from meta_orchestrator import __version__
from meta_orchestrator.analysis.samples import SampleNote, SampleSummary, VariantSamples
from meta_orchestrator.analysis.summary import (
    ExperimentSummary,
    PairwiseComparison,
    RunSummary,
    VariantSummary,
    run_leader,
)
from meta_orchestrator.errors import StoreError
from meta_orchestrator.store import RunRecord, RunStore, StoreWriter

log = logging.getLogger(__name__)

SAVED_FORMAT = 1

_Record = TypeVar("_Record")


def summary_to_json(summary: RunSummary) -> str:
    """The summary without its run record (a reader has the current one), as JSON text."""
    return json.dumps(
        {
            "format": SAVED_FORMAT,
            "version": __version__,
            "experiments": [dataclasses.asdict(e) for e in summary.experiments],
            "scoring_weights": summary.scoring_weights,
            "endpoint_failures": summary.endpoint_failures,
        },
        separators=(",", ":"),
    )


def summary_from_json(run: RunRecord, text: str) -> RunSummary:
    """Rebuild a ``summary_to_json`` text for ``run``; ``ValueError`` if it is not one this
    version wrote (``TypeError`` / ``KeyError`` for a value of the wrong shape)."""
    data = json.loads(text)
    if not isinstance(data, dict) or set(data) != {
        "format",
        "version",
        "experiments",
        "scoring_weights",
        "endpoint_failures",
    }:
        raise ValueError("not a saved summary")
    if data["format"] != SAVED_FORMAT or data["version"] != __version__:
        raise ValueError(f"saved by format {data['format']!r}, version {data['version']!r}")
    return RunSummary(
        run=run,
        experiments=[_experiment(e) for e in data["experiments"]],
        scoring_weights=dict(data["scoring_weights"]),
        endpoint_failures=dict(data["endpoint_failures"]),
    )


def save_summary(writer: StoreWriter, summary: RunSummary) -> None:
    """Save ``summary`` for the trial count and status of its run record; a failed save is
    logged and costs only the recomputation a reader then does."""
    try:
        text = summary_to_json(summary)
        writer.save_summary(summary.run.id, summary.run.trials, summary.run.status, text)
    except (StoreError, TypeError, ValueError) as exc:  # TypeError: a value JSON cannot hold
        log.warning("saving the summary of %s failed (readers compute it): %s", summary.run.id, exc)


def saved_summary(store: RunStore, run: RunRecord) -> RunSummary | None:
    """The summary ``run`` saved as it closed, if it still holds for the run; else ``None``."""
    stored = store.stored_summary(run.id)
    if stored is None or not stored.holds_for(run):
        return None
    try:
        return summary_from_json(run, stored.summary_json)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        log.info("the saved summary of %s is not used (%s): computing it", run.id, exc)
        return None


def leader_of(store: RunStore, run: RunRecord) -> str | None:
    """The run's leader (``run_leader``'s rule), from its saved summary when that holds."""
    summary = saved_summary(store, run)
    return summary.leader if summary is not None else run_leader(store, run.id)


def _experiment(data: dict[str, Any]) -> ExperimentSummary:
    samples = data.get("samples")
    return _build(
        ExperimentSummary,
        data,
        variants=[_build(VariantSummary, v) for v in data["variants"]],
        comparisons=[_build(PairwiseComparison, c) for c in data["comparisons"]],
        samples=None if samples is None else _samples(samples),
    )


def _samples(data: dict[str, Any]) -> SampleSummary:
    return _build(
        SampleSummary,
        data,
        variants=[_build(VariantSamples, v) for v in data["variants"]],
        **{name: [_note(n) for n in data[name]] for name in ("all_fail", "disagree", "flaky")},
    )


def _note(data: dict[str, Any]) -> SampleNote:
    rates = {variant: (pair[0], pair[1]) for variant, pair in data["rates"].items()}
    return _build(SampleNote, data, rates=rates)


def _build(cls: type[_Record], data: dict[str, Any], **nested: Any) -> _Record:
    """``cls`` from exactly its fields (``nested`` replaces the ones that hold records)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    if not isinstance(data, dict) or set(data) != names:
        raise ValueError(f"{cls.__name__}: fields {sorted(data)} are not {sorted(names)}")
    return cls(**{**data, **nested})
