"""``meta-orchestrator compare``: load two runs, compare them, write the reports, return the exit code.

Thin on purpose: the statistics live in ``meta_orchestrator.analysis.compare`` and the reports in
``analysis.compare_render``, so the dashboard shows exactly what the gate decides. Errors (a missing file, an empty run, no shared
variant, a file that is not a results file) are raised as ``MetaOrchestratorError`` subclasses, which
the CLI prints without a traceback and turns into exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table
from rich.text import Text

from meta_orchestrator.analysis.compare import IMPROVEMENT, REGRESSION, Comparison, compare_runs
from meta_orchestrator.analysis.compare_render import comparison_dict, comparison_markdown
from meta_orchestrator.analysis.formatting import DASH, format_p_value, format_percent
from meta_orchestrator.analysis.loaders import load_run
from meta_orchestrator.analysis.report import atomic_write
from meta_orchestrator.guardrail.inputs import check_gate_inputs

_STYLE = {REGRESSION: "bold red", IMPROVEMENT: "green"}


def run_compare(
    baseline_ref: str,
    candidate_ref: str,
    *,
    db: Path | None,
    metric: str = "score",
    alpha: float = 0.05,
    max_regression: float = 0.0,
    higher_is_better: bool | None = None,
    allow_different_samples: bool = False,
    markdown: str | None = None,
    json_path: str | None = None,
    allow_partial: bool = False,
) -> int:
    """Compare two runs, print the verdict, write the reports; 0 pass, 1 regression (errors raise,
    exit 2: among them every input ``guardrail.inputs`` cannot judge)."""
    baseline = load_run(baseline_ref, db)
    candidate = load_run(candidate_ref, db)
    check_gate_inputs(baseline, candidate, metric, allow_partial=allow_partial)
    comparison = compare_runs(
        baseline,
        candidate,
        metric=metric,
        alpha=alpha,
        max_regression=max_regression,
        higher_is_better=higher_is_better,
        allow_different_samples=allow_different_samples,
    )
    console = Console(highlight=False)
    print_comparison(comparison, console)
    if markdown:
        with atomic_write(Path(markdown)) as out:
            out.write(comparison_markdown(comparison))
        console.print(f"wrote {escape(markdown)}")
    if json_path:
        with atomic_write(Path(json_path)) as out:
            json.dump(comparison_dict(comparison), out, indent=2, allow_nan=False)
            out.write("\n")
        console.print(f"wrote {escape(json_path)}")
    return comparison.exit_code


def print_comparison(comparison: Comparison, console: Console) -> None:
    """The verdict and a compact table, narrow enough for a CI log; the Markdown has every number."""
    c = comparison
    table = Table(
        Column("verdict", no_wrap=True), Column("variant", no_wrap=True),
        Column("mean", no_wrap=True), Column("change", no_wrap=True),
        Column("Holm p", no_wrap=True), box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
    )  # fmt: skip
    for row in c.rows:
        holm = row.p_improvement_holm if row.verdict == IMPROVEMENT else row.p_regression_holm
        table.add_row(
            Text(row.verdict, style=_STYLE.get(row.verdict, "")),
            escape(f"{row.experiment}/{row.variant}" if c.spans_experiments else row.variant),
            f"{_num(row.baseline_mean)} → {_num(row.candidate_mean)}",
            _change(row.difference, row.relative_change),
            format_p_value(holm),
        )
    test = "paired t on matched samples" if c.paired else "Welch"
    console.print(
        f"{escape(c.metric)}: baseline {escape(c.baseline.run_id)} → candidate "
        f"{escape(c.candidate.run_id)}, alpha {c.alpha:g}, budget {c.max_regression:g}, "
        f"one-sided {test}, Holm across variants"
    )
    console.print(table)
    for note in c.notes:
        console.print(f"note: {escape(note)}")
    colour = "bold red" if c.failed else "bold green"
    console.print(f"[{colour}]{'FAIL' if c.failed else 'PASS'}[/]: {escape(c.headline())}")


def _change(difference: float | None, relative: float | None) -> str:
    if difference is None:
        return DASH
    if relative is None:
        return f"{difference:+.3g}"
    return f"{difference:+.3g} ({format_percent(relative, signed=True)})"


def _num(value: float | None) -> str:
    return DASH if value is None else f"{value:.3g}"
