"""Statistics, run summaries and reports, shared by the CLI, the dashboard and the CI gate.

``summarize_run`` turns a stored run into ranked per-variant statistics and best-versus-others tests;
``write_run_artifacts`` writes a run's ``results.json``, ``summary.md`` and ``config.yaml``.

Comparing two runs (the CI gate, the dashboard's Compare view): ``compare.compare_runs`` gives the
verdicts on ``run_data.RunData``, which ``loaders.load_run`` reads and ``compare_render`` turns into
Markdown and JSON. ``formatting`` shows user text, p-values, percentages and durations one way on
every surface.

The names below are imported on first use, as in the root package: the statistics load numpy and
scipy.special (and the comparison code scipy.stats, about a second), which ``import
meta_orchestrator.analysis.formatting`` (the progress bar, the CLI) must not pay for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "RESULTS_FORMAT": "meta_orchestrator.analysis.report",
    "RESULTS_FORMAT_VERSION": "meta_orchestrator.analysis.report",
    "load_results_json": "meta_orchestrator.analysis.report",
    "render_summary_markdown": "meta_orchestrator.analysis.report",
    "write_results_json": "meta_orchestrator.analysis.report",
    "write_run_artifacts": "meta_orchestrator.analysis.report",
    "ExperimentSummary": "meta_orchestrator.analysis.summary",
    "PairwiseComparison": "meta_orchestrator.analysis.summary",
    "RunSummary": "meta_orchestrator.analysis.summary",
    "VariantSummary": "meta_orchestrator.analysis.summary",
    "summarize_run": "meta_orchestrator.analysis.summary",
}

if TYPE_CHECKING:
    from meta_orchestrator.analysis.report import (
        RESULTS_FORMAT,
        RESULTS_FORMAT_VERSION,
        load_results_json,
        render_summary_markdown,
        write_results_json,
        write_run_artifacts,
    )
    from meta_orchestrator.analysis.summary import (
        ExperimentSummary,
        PairwiseComparison,
        RunSummary,
        VariantSummary,
        summarize_run,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'meta_orchestrator.analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "RESULTS_FORMAT",
    "RESULTS_FORMAT_VERSION",
    "ExperimentSummary",
    "PairwiseComparison",
    "RunSummary",
    "VariantSummary",
    "load_results_json",
    "render_summary_markdown",
    "summarize_run",
    "write_results_json",
    "write_run_artifacts",
]
