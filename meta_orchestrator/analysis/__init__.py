"""Statistics, run summaries and reports, shared by the CLI, the dashboard and the CI gate.

``summarize_run`` turns a stored run into ranked per-variant statistics and best-versus-others tests;
``write_run_artifacts`` writes a run's ``results.json``, ``summary.md`` and ``config.yaml``.

Comparing two runs (the CI gate, the dashboard's Compare view): ``compare.compare_runs`` gives the
verdicts on ``run_data.RunData``, which ``loaders.load_run`` reads and ``compare_render`` turns into
Markdown and JSON. ``formatting`` shows user text, p-values, percentages and durations one way on
every surface.
"""

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
