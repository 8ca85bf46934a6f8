"""Two runs' comparison for people and for programs: the Markdown a reviewer reads in a
pull-request comment, and the JSON report (``"format": "meta-orchestrator/comparison"``).

The numbers and verdicts come from ``analysis.compare``; names and numbers are shown with
``analysis.formatting``, as in summary.md.
"""

from __future__ import annotations

import math
from typing import Any

from meta_orchestrator.analysis.compare import (
    IMPROVEMENT,
    NEW_VARIANT,
    NO_CHANGE,
    REGRESSION,
    REMOVED_VARIANT,
    TOO_FEW_TRIALS,
    Comparison,
    VariantComparison,
)
from meta_orchestrator.analysis.formatting import (
    DASH,
    code_span,
    escape_text,
    format_p_value,
    format_percent,
    format_setting_percent,
)
from meta_orchestrator.analysis.run_data import RunData

COMPARISON_FORMAT = "meta-orchestrator/comparison"
COMPARISON_FORMAT_VERSION = 1
_MARK = {
    REGRESSION: "🔴 **regression**",
    IMPROVEMENT: "🟢 improvement",
    NO_CHANGE: "⚪ no significant change",
    NEW_VARIANT: "🆕 new variant",
    REMOVED_VARIANT: "➖ removed variant",
    TOO_FEW_TRIALS: "⚠️ too few trials",
}


def comparison_dict(comparison: Comparison) -> dict[str, Any]:
    """The JSON report: the settings, the verdict, both runs and every row (strict JSON: no NaN)."""
    return {
        "format": COMPARISON_FORMAT,
        "format_version": COMPARISON_FORMAT_VERSION,
        "failed": comparison.failed,
        "exit_code": comparison.exit_code,
        "headline": comparison.headline(),
        "metric": comparison.metric,
        "higher_is_better": comparison.higher_is_better,
        "alpha": comparison.alpha,
        "max_regression": comparison.max_regression,
        "tested": comparison.tested,
        "counts": comparison.counts(),
        "baseline": _run_header(comparison.baseline),
        "candidate": _run_header(comparison.candidate),
        "notes": list(comparison.notes),
        "rows": [_finite(row.to_dict()) for row in comparison.rows],
    }


def comparison_markdown(comparison: Comparison, *, include_summary: bool = True) -> str:
    """The verdict, a table a reviewer reads at a glance, then the candidate's summary.md."""
    c = comparison
    icon = "❌" if c.failed else "✅"
    state = "failed" if c.failed else "passed"
    parts = [
        f"### {icon} Performance gate {state}: {c.headline()}",
        _context_line(c),
        _table(c),
    ]
    notes = [f"- {code_span(c.label(r))}: {r.note}" for r in c.rows if r.note]
    notes += [line for r in c.rows if (line := _samples_line(c, r))]
    notes += [f"- {note}" for note in c.notes]
    if notes:
        parts.append("**Notes**\n\n" + "\n".join(notes))
    parts.append(_legend(c))
    if include_summary:
        summary = c.candidate.summary_markdown
        body = summary.strip() if summary else "_The candidate's summary.md was not found._"
        parts.append(
            "<details>\n<summary>Candidate run summary (summary.md)</summary>\n\n"
            f"{body}\n\n</details>"
        )
    return "\n\n".join(parts) + "\n"


def _context_line(c: Comparison) -> str:
    direction = "higher is better" if c.higher_is_better else "lower is better"
    worse = "drop" if c.higher_is_better else "rise"
    budget = (
        f"budget {format_setting_percent(c.max_regression)} relative {worse}"
        if c.max_regression
        else "budget 0: any significant worsening fails"
    )
    return (
        f"**Baseline** {_run_ref(c.baseline)} → **candidate** {_run_ref(c.candidate)} · "
        f"metric **{escape_text(c.metric)}** ({direction}) · {_tests(c)} at alpha "
        f"{c.alpha:g}, Holm-corrected across {c.tested} tested "
        f"variant{'' if c.tested == 1 else 's'} · {budget}"
    )


def _tests(c: Comparison) -> str:
    if not c.paired:
        return "one-sided Welch tests"
    return (
        "one-sided paired t-tests on the samples both runs ran (trials matched by variant, sample "
        "and epoch; per-sample means)"
    )


def _samples_line(c: Comparison, r: VariantComparison) -> str | None:
    """The samples that regressed (passed on the baseline, failed on the candidate) and improved."""
    if r.regressed_samples is None or r.improved_samples is None:
        return None
    if not (r.regressed_samples or r.improved_samples):
        return f"- {code_span(c.label(r))}: no sample changed its pass rate"
    parts = []
    for label, count, ids in (
        ("regressed (passed on the baseline, failed on the candidate)", r.regressed_samples,
         r.regressed_ids),
        ("improved", r.improved_samples, r.improved_ids),
    ):  # fmt: skip
        if count:
            listed = ", ".join(code_span(i) for i in ids)
            more = f" and {count - len(ids)} more" if count > len(ids) else ""
            parts.append(f"{count} sample{'' if count == 1 else 's'} {label}: {listed}{more}")
    return f"- {code_span(c.label(r))}: " + "; ".join(parts)


def _run_ref(run: RunData) -> str:
    commit = f", commit {code_span(run.git_commit[:12])}" if run.git_commit else ""
    return f"{code_span(run.run_id)} ({escape_text(run.name)}{commit})"


def _table(c: Comparison) -> str:
    confidence = format_setting_percent(1 - c.alpha)
    rows = [
        f"| Verdict | Variant | Baseline | Candidate | Change | {confidence} CI of change "
        "| Test p | Holm p | Hedges' g | Trials |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    if c.paired:
        rows[0] = rows[0].replace(
            "| Hedges' g |", "| Wilcoxon p | Samples paired · regressed / improved |"
        )
        rows[1] = "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|"
    for r in c.rows:
        cells = [
            _MARK[r.verdict],
            code_span(c.label(r), table=True),
            _num(r.baseline_mean),
            _num(r.candidate_mean),
            _change(r),
            _interval(r),
            format_p_value(r.p_value),
            format_p_value(
                r.p_improvement_holm if r.verdict == IMPROVEMENT else r.p_regression_holm
            ),
            _signed(r.effect_size, ".2f"),
            f"{_count(r, 'baseline')} → {_count(r, 'candidate')}",
        ]
        if c.paired:
            cells[8:9] = [format_p_value(r.p_wilcoxon), _paired_counts(r)]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _legend(c: Comparison) -> str:
    worse = "drop" if c.higher_is_better else "rise"
    test = "paired t-test on the samples both runs ran" if c.paired else "Welch test"
    paired = (
        "Paired rows: trials are matched by (variant, sample, epoch) and each sample counts once "
        "(the mean over its matched epochs); Test p is the two-sided paired t p, Wilcoxon p the "
        "signed-rank one (a robustness check); a sample regressed when its pass rate fell. "
        if c.paired
        else "Test p is Welch's two-sided p. "
    )
    return (
        "<sub>Change = candidate − baseline (relative to |baseline mean|). A row is a "
        f"**regression** when a one-sided {test} shows a {worse} of more than the budget, "
        f"Holm-corrected across variants (Holm p < {c.alpha:g}); only regressions fail the gate. "
        f"{paired}"
        "Test p and the interval are per variant and not adjusted. Failed trials score "
        "as trials that achieved nothing and count as no `success`; for other metrics they have no "
        "value (Trials shows how many failed), and a candidate left with fewer than two values is tested "
        "for more failures with Fisher's exact test.</sub>"
    )


def _paired_counts(r: VariantComparison) -> str:
    if r.paired_samples is None:
        return DASH
    changes = (
        f" · {r.regressed_samples} / {r.improved_samples}"
        if r.regressed_samples is not None
        else ""
    )
    return f"{r.paired_samples}{changes}"


def _change(r: VariantComparison) -> str:
    if r.difference is None:
        return DASH
    if r.relative_change is None:
        return _signed(r.difference)
    return f"{_signed(r.difference)} ({_minus(format_percent(r.relative_change, signed=True))})"


def _interval(r: VariantComparison) -> str:
    if r.ci_low is None or r.ci_high is None:
        return DASH
    return f"[{_signed(r.ci_low)}, {_signed(r.ci_high)}]"


def _count(r: VariantComparison, side: str) -> str:
    trials, failed = getattr(r, f"{side}_trials"), getattr(r, f"{side}_failed")
    if not trials:
        return DASH
    return f"{trials} ({failed} failed)" if failed else str(trials)


def _num(value: float | None) -> str:
    return DASH if value is None else f"{value:.4g}"


def _signed(value: float | None, spec: str = ".3g") -> str:
    return DASH if value is None else _minus(format(value, "+" + spec))


def _minus(text: str) -> str:
    """Typeset minus signs (−) for the Markdown report."""
    return text.replace("-", "−")


def _run_header(run: RunData) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "name": run.name,
        "source": run.source,
        "status": run.status,
        "git_commit": run.git_commit,
        "trials": run.trials,
    }


def _finite(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()
    }


__all__ = [
    "COMPARISON_FORMAT",
    "COMPARISON_FORMAT_VERSION",
    "comparison_dict",
    "comparison_markdown",
]
