"""Two runs compared variant by variant: the numbers behind ``meta-orchestrator compare``, the CI
gate and the dashboard's "compare runs" view.

``compare_runs(baseline, candidate)`` pairs the ``(experiment, variant)`` rows of two ``RunData`` and
gives each a verdict: ``regression``, ``improvement``, ``no significant change``, ``new variant``,
``removed variant`` or ``too few trials``. It is pure. The pieces around it, one job each:
``analysis.run_data`` (``RunData``, ``Moments``: what is compared), ``analysis.loaders``
(``load_run``: a run folder, a ``results.json`` or a run id in a store) and
``analysis.compare_render`` (the Markdown a reviewer reads and the JSON report).

The statistics, and why they are these:

* **Direction.** ``latency`` and ``cost`` are lower-is-better; every other metric (``score`` first)
  is higher-is-better. ``higher_is_better=`` overrides it for metrics of your own.
* **The gate asks a one-sided question with the budget inside it.** Per variant, Welch's t-test
  (scipy) of H0 "the candidate's mean is at most ``max_regression`` × |baseline mean| worse than the
  baseline's" against H1 "worse by more than that" (the baseline sample is scaled by
  ``1 - max_regression``, its SD with it). With a budget of 0 this is the one-sided Welch test of
  "worse at all". So a drop that is significant but within the budget passes, and a true drop sitting
  exactly at the budget fails at most ``alpha`` of the time. The common alternative, "significantly
  different from 0 and the point estimate beyond the budget", fails about half the time at that
  point, with enough trials: a gate that cries wolf.
* **Why not two-sided.** Improvements never fail the gate, so a two-sided test would spend half of
  ``alpha`` on a tail nobody acts on: at the same false-alarm rate it needs about 15-25% more trials
  for the same power. And a two-sided null of "no change" cannot express a budget.
* **Holm across variants, over the regression p-values only.** The probability that the gate fails
  although no variant got worse than the budget is at most ``alpha`` (family-wise), however many
  variants the benchmark has. The price: one regressed variant among ``k`` is tested at
  ``alpha / k``, which is what the benchmark's power analysis (``guardrail.power``) assumes.
  Improvements get their own one-sided tests against no change, Holm-corrected among themselves;
  they label rows and never change the exit code.
* **Failed trials** (error, timeout) count as the run store counts them: their ``score`` is that of
  a trial that achieved nothing and their ``latency`` is measured, so both cover every trial, and
  a variant that starts crashing loses score; ``success`` counts them as 0, like ``summary.md``'s
  success rate; any other metric (``cost``, your own) covers the trials that finished ok. When a
  side has fewer than two values, Welch's test is impossible; if the candidate has fewer than two
  while the baseline has enough, Fisher's exact test asks whether the candidate's trials fail more
  often, and that p-value joins the regression family (a variant whose trials now all fail is a
  regression, not "too few trials").
* **Shown per row, for people:** both means, the absolute and the relative change (relative to
  |baseline mean|), Welch's two-sided p-value and the ``1 - alpha`` interval of the difference (per
  variant, not adjusted), Hedges' g, and the Holm-adjusted one-sided p-value the verdict rests on.

**On a dataset the comparison is paired** (``analysis.paired``). Trials of the two runs are matched
by ``(variant, sample, epoch)``; each sample is one unit, the mean over its matched epochs (so
repeats of a sample are not counted as independent: the clustering by sample). The regression test
is the one-sided paired t-test of ``candidate − (1 − budget)·baseline`` per sample; the shown p and
interval are the two-sided paired t ones, with the Wilcoxon signed-rank p beside them. Variants
agree across runs on which samples are hard, so the paired test needs far fewer samples than
Welch's for the same power (``guardrail.power``). Rows also count the samples that regressed
(passed on the baseline, failed on the candidate: the per-sample pass rate over the matched epochs
fell) and improved. A variant whose every paired difference is 0 (deterministic, same answers) is
"no significant change".

Pairing needs the same samples: when an experiment's dataset fingerprints differ, ``compare_runs``
raises ``ComparisonError`` (exit 2) unless ``allow_different_samples``, which falls back to the
unpaired Welch tests and says so in the notes. Runs without a dataset use Welch's test, treating
trials as independent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from scipy import stats as _scipy_stats

from meta_orchestrator.analysis.formatting import format_setting_percent
from meta_orchestrator.analysis.paired import (
    MIN_PAIRED_SAMPLES,
    NOT_ENOUGH_PAIRED,
    Matched,
    compare_matched,
    match_samples,
    one_sided_paired_p,
)
from meta_orchestrator.analysis.run_data import DEFAULT_METRIC, Key, Moments, RunData, VariantData
from meta_orchestrator.analysis.stats import MIN_TRIALS_FOR_TEST, holm_adjust, welch_test
from meta_orchestrator.errors import ComparisonError, ConfigError

LOWER_IS_BETTER = frozenset({"latency", "cost"})
SAMPLE_EXAMPLES = 10  # regressed / improved sample ids kept per row

REGRESSION = "regression"
IMPROVEMENT = "improvement"
NO_CHANGE = "no significant change"
NEW_VARIANT = "new variant"
REMOVED_VARIANT = "removed variant"
TOO_FEW_TRIALS = "too few trials"
# The order rows are listed in: what blocks a merge first.
VERDICTS = (REGRESSION, TOO_FEW_TRIALS, REMOVED_VARIANT, NEW_VARIANT, IMPROVEMENT, NO_CHANGE)

Verdict = Literal[
    "regression",
    "improvement",
    "no significant change",
    "new variant",
    "removed variant",
    "too few trials",
]


# ------------------------------------------------------------------------------- the comparison
@dataclass(frozen=True)
class VariantComparison:
    """One ``(experiment, variant)``: the two sides, the change, the tests and the verdict.

    ``difference`` is candidate − baseline; ``relative_change`` divides it by |baseline mean|.
    ``p_value`` is Welch's two-sided p; ``p_regression`` / ``p_improvement`` are the one-sided
    p-values the verdict uses (regression against the budget), ``*_holm`` their Holm adjustments.
    """

    experiment: str
    variant: str
    verdict: Verdict
    blocking: bool = False  # a regression beyond the budget: fails the gate
    baseline_trials: int = 0
    baseline_failed: int = 0
    baseline_n: int = 0
    baseline_mean: float | None = None
    baseline_sd: float | None = None
    candidate_trials: int = 0
    candidate_failed: int = 0
    candidate_n: int = 0
    candidate_mean: float | None = None
    candidate_sd: float | None = None
    difference: float | None = None
    relative_change: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    p_regression: float | None = None
    p_regression_holm: float | None = None
    p_improvement: float | None = None
    p_improvement_holm: float | None = None
    effect_size: float | None = None  # Hedges' g, candidate versus baseline (Welch)
    test: Literal["welch", "fisher", "paired"] | None = None
    note: str | None = None
    # paired rows (on a dataset): samples matched and left out, per-sample correlation, Wilcoxon p,
    # and the samples whose pass rate fell (regressed) or rose (improved), the first few by id
    paired_samples: int | None = None
    left_out_samples: int | None = None
    correlation: float | None = None
    p_wilcoxon: float | None = None
    regressed_samples: int | None = None
    improved_samples: int | None = None
    regressed_ids: tuple[str, ...] = ()
    improved_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Comparison:
    """Every row of two runs compared, and whether the gate fails."""

    baseline: RunData
    candidate: RunData
    metric: str
    higher_is_better: bool
    alpha: float
    max_regression: float
    rows: tuple[VariantComparison, ...]
    tested: int = 0  # rows in the regression family (Holm's m)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def paired(self) -> bool:
        """Some row was compared pairwise on matched samples."""
        return any(row.test == "paired" for row in self.rows)

    @property
    def regressions(self) -> list[VariantComparison]:
        """Rows that fail the gate: significant regressions beyond the budget."""
        return [row for row in self.rows if row.blocking]

    @property
    def failed(self) -> bool:
        return bool(self.regressions)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def counts(self) -> dict[str, int]:
        return {v: n for v in VERDICTS if (n := sum(r.verdict == v for r in self.rows))}

    def headline(self) -> str:
        """One line: how many regressions beyond the budget, and which variants."""
        beyond = (
            f" beyond the {format_setting_percent(self.max_regression)} budget"
            if self.max_regression
            else ""
        )
        if self.failed:
            names = ", ".join(self.label(r) for r in self.regressions)
            noun = "regression" if len(self.regressions) == 1 else "regressions"
            return f"{len(self.regressions)} significant {noun}{beyond}: {names}"
        return f"no significant regression{beyond}"

    @property
    def spans_experiments(self) -> bool:
        """Rows come from more than one experiment (so labels name the experiment too)."""
        return len({row.experiment for row in self.rows}) > 1

    def label(self, row: VariantComparison) -> str:
        """The row's variant, prefixed by its experiment when the rows span several."""
        return f"{row.experiment}/{row.variant}" if self.spans_experiments else row.variant


def higher_is_better_default(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def compare_runs(
    baseline: RunData,
    candidate: RunData,
    metric: str = DEFAULT_METRIC,
    alpha: float = 0.05,
    max_regression: float = 0.0,
    *,
    higher_is_better: bool | None = None,
    allow_different_samples: bool = False,
) -> Comparison:
    """Compare every ``(experiment, variant)`` of two runs on ``metric``; see the module docstring.

    Raises ``ComparisonError`` when a run has no trials, the runs share no variant, neither has
    the metric, or an experiment's datasets differ (unless ``allow_different_samples``);
    ``ConfigError`` for an ``alpha`` outside (0, 1) or a budget outside [0, 1).
    """
    _check_arguments(alpha, max_regression)
    _check_runs(baseline, candidate, metric)
    paired, sample_notes = _pairing(baseline, candidate, allow_different_samples)
    higher = higher_is_better_default(metric) if higher_is_better is None else higher_is_better
    keys = list(baseline.variants) + [k for k in candidate.variants if k not in baseline.variants]
    settings = {"metric": metric, "higher": higher, "alpha": alpha, "budget": max_regression}
    rows = [
        _row(
            key,
            baseline.variants.get(key),
            candidate.variants.get(key),
            paired=key[0] in paired,
            **settings,
        )
        for key in keys
    ]
    rows, tested = _decide(rows, alpha, max_regression, higher)
    return Comparison(
        baseline=baseline,
        candidate=candidate,
        metric=metric,
        higher_is_better=higher,
        alpha=alpha,
        max_regression=max_regression,
        rows=tuple(sorted(rows, key=lambda row: VERDICTS.index(row.verdict))),  # stable
        tested=tested,
        notes=tuple(sample_notes + _run_notes(baseline, candidate)),
    )


def _check_arguments(alpha: float, max_regression: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"--alpha must be between 0 and 1 (exclusive), got {alpha}")
    if not 0.0 <= max_regression < 1.0:
        raise ConfigError(
            f"--max-regression is a relative drop between 0 and 1 (0.02 = 2%), got {max_regression}"
        )


def _check_runs(baseline: RunData, candidate: RunData, metric: str) -> None:
    for role, run in (("baseline", baseline), ("candidate", candidate)):
        if run.trials == 0:
            raise ComparisonError(
                f"the {role} run {run.run_id} ({run.source}) has no trials: nothing to compare"
            )
    shared = baseline.variants.keys() & candidate.variants.keys()
    if not shared:
        raise ComparisonError(
            "the runs share no (experiment, variant): baseline has "
            f"{_keys(baseline.variants)}; candidate has {_keys(candidate.variants)}"
        )
    available = {
        name
        for run in (baseline, candidate)
        for data in run.variants.values()
        for name, moments in data.metrics.items()
        if moments.n
    }
    if metric not in available:
        raise ComparisonError(
            f"no trial of either run has the metric '{metric}' "
            f"(available: {', '.join(sorted(available)) or 'none'})"
        )


def _pairing(
    baseline: RunData, candidate: RunData, allow_different: bool
) -> tuple[set[str], list[str]]:
    """The shared experiments whose trials can be paired (same dataset on both sides), and notes.

    Raises ``ComparisonError`` for an experiment on different datasets unless ``allow_different``.
    """
    shared = {e for e, _ in baseline.variants} & {e for e, _ in candidate.variants}
    paired, notes = set(), []
    for experiment in sorted(shared):
        base = baseline.fingerprints.get(experiment)
        cand = candidate.fingerprints.get(experiment)
        if base == cand:
            if base is not None:
                paired.add(experiment)
            continue
        what = (
            f"experiment '{experiment}' ran on different samples: dataset fingerprint "
            f"{base or 'none (no dataset)'} in the baseline, {cand or 'none (no dataset)'} in "
            "the candidate"
        )
        if not allow_different:
            raise ComparisonError(
                f"{what}. Trials cannot be paired, and an unpaired test would compare different "
                "tasks. Run both on the same dataset, or pass --allow-different-samples for "
                "unpaired Welch tests."
            )
        notes.append(f"{what}: compared with unpaired Welch tests (--allow-different-samples)")
    return paired, notes


def _keys(variants: Iterable[Key]) -> str:
    return ", ".join(f"{e}/{v}" for e, v in variants) or "nothing"


# ------------------------------------------------------------------------------------ one row
def _row(
    key: Key,
    base: VariantData | None,
    cand: VariantData | None,
    *,
    metric: str,
    higher: bool,
    alpha: float,
    budget: float,
    paired: bool = False,
) -> VariantComparison:
    """A row before Holm: the numbers and the raw one-sided p-values (the verdict comes later)."""
    experiment, variant = key
    if base is None or cand is None:
        side = cand if base is None else base
        assert side is not None
        moments = side.metrics.get(metric, Moments(0))
        prefix = "candidate" if base is None else "baseline"
        return VariantComparison(
            experiment,
            variant,
            NEW_VARIANT if base is None else REMOVED_VARIANT,
            **{
                f"{prefix}_trials": side.trials,
                f"{prefix}_failed": side.failed,
                f"{prefix}_n": moments.n,
                f"{prefix}_mean": moments.mean,
                f"{prefix}_sd": moments.sd,
            },
        )
    a, b = base.metrics.get(metric, Moments(0)), cand.metrics.get(metric, Moments(0))
    row = VariantComparison(
        experiment,
        variant,
        TOO_FEW_TRIALS,
        baseline_trials=base.trials,
        baseline_failed=base.failed,
        baseline_n=a.n,
        baseline_mean=a.mean,
        baseline_sd=a.sd,
        candidate_trials=cand.trials,
        candidate_failed=cand.failed,
        candidate_n=b.n,
        candidate_mean=b.mean,
        candidate_sd=b.sd,
    )
    if a.mean is not None and b.mean is not None:
        difference = b.mean - a.mean
        row = replace(
            row,
            difference=difference,
            relative_change=difference / abs(a.mean) if a.mean != 0 else None,
        )
    if paired and metric in base.by_sample and metric in cand.by_sample:
        return _paired_row(row, base, cand, metric, higher, alpha, budget)
    if a.n >= MIN_TRIALS_FOR_TEST and b.n >= MIN_TRIALS_FOR_TEST:
        return _welch_row(row, a, b, higher, alpha, budget)
    return _fisher_row(row, base, cand)


def _paired_row(
    row: VariantComparison,
    base: VariantData,
    cand: VariantData,
    metric: str,
    higher: bool,
    alpha: float,
    budget: float,
) -> VariantComparison:
    """The paired test on matched ``(sample, epoch)`` trials; per-sample means are the units."""
    matched = match_samples(base.by_sample[metric], cand.by_sample[metric])
    result = compare_matched(matched, confidence=1 - alpha)
    row = replace(
        row,
        paired_samples=matched.paired,
        left_out_samples=matched.left_out,
        **_sample_changes(base, cand),
    )
    if matched.paired < MIN_PAIRED_SAMPLES:
        return replace(
            row, note=f"{NOT_ENOUGH_PAIRED} ({matched.paired}; at least {MIN_PAIRED_SAMPLES})"
        )
    mean_a = float(matched.a.mean())
    worse: Literal["less", "greater"] = "less" if higher else "greater"
    better: Literal["less", "greater"] = "greater" if higher else "less"
    sign = 1.0 if mean_a >= 0 else -1.0
    factor = 1.0 - budget * sign if higher else 1.0 + budget * sign
    return replace(
        row,
        test="paired",
        difference=result.difference,
        relative_change=result.difference / abs(mean_a)
        if mean_a and result.difference is not None
        else None,
        ci_low=result.ci_low,
        ci_high=result.ci_high,
        p_value=result.p_value,
        correlation=result.correlation,
        p_wilcoxon=result.p_wilcoxon,
        p_regression=one_sided_paired_p(matched.a, matched.b, factor=factor, alternative=worse),
        p_improvement=one_sided_paired_p(matched.a, matched.b, alternative=better),
        note=_left_out_note(matched),
    )


def _left_out_note(matched: Matched) -> str | None:
    if not matched.unmatched_trials:
        return None
    return (
        f"paired on {matched.paired} samples; {matched.unmatched_trials} trials without a match "
        f"on the other side left out ({matched.left_out} samples ran on one side only)"
    )


def _sample_changes(base: VariantData, cand: VariantData) -> dict[str, object]:
    """Samples whose pass rate over the matched epochs fell (regressed) or rose (improved)."""
    a, b = base.by_sample.get("success"), cand.by_sample.get("success")
    if a is None or b is None:
        return {}
    matched = match_samples(a, b)
    fell = [str(s) for s, x, y in zip(matched.samples, matched.a, matched.b, strict=True) if y < x]
    rose = [str(s) for s, x, y in zip(matched.samples, matched.a, matched.b, strict=True) if y > x]
    return {
        "regressed_samples": len(fell),
        "improved_samples": len(rose),
        "regressed_ids": tuple(fell[:SAMPLE_EXAMPLES]),
        "improved_ids": tuple(rose[:SAMPLE_EXAMPLES]),
    }


def _welch_row(
    row: VariantComparison, a: Moments, b: Moments, higher: bool, alpha: float, budget: float
) -> VariantComparison:
    assert a.mean is not None and a.sd is not None and b.mean is not None and b.sd is not None
    test = welch_test(a.n, a.mean, a.sd, b.n, b.mean, b.sd, confidence=1 - alpha)
    assert test is not None
    worse: Literal["less", "greater"] = "less" if higher else "greater"
    better: Literal["less", "greater"] = "greater" if higher else "less"
    # The regression threshold is the baseline moved by the budget towards "worse":
    # mean - budget*|mean| when higher is better, mean + budget*|mean| when lower is.
    sign = 1.0 if a.mean >= 0 else -1.0
    factor = 1.0 - budget * sign if higher else 1.0 + budget * sign
    return replace(
        row,
        test="welch",
        ci_low=test.ci.low,
        ci_high=test.ci.high,
        p_value=test.p_value,
        effect_size=test.effect_size,
        p_regression=_one_sided_welch(a, b, factor, worse),
        p_improvement=_one_sided_welch(a, b, 1.0, better),
    )


def _one_sided_welch(
    a: Moments, b: Moments, factor: float, alternative: Literal["less", "greater"]
) -> float:
    """One-sided Welch p-value of ``b.mean - factor * a.mean`` against 0 (scipy)."""
    assert a.mean is not None and a.sd is not None and b.mean is not None and b.sd is not None
    mean_a, sd_a = factor * a.mean, abs(factor) * a.sd
    if a.sd == 0 and b.sd == 0:
        # Both constant: a shift in the tested direction is certain, anything else is no evidence.
        shift = b.mean - mean_a
        return 0.0 if (shift < 0 if alternative == "less" else shift > 0) else 1.0
    result = _scipy_stats.ttest_ind_from_stats(
        b.mean, b.sd, b.n, mean_a, sd_a, a.n, equal_var=False, alternative=alternative
    )
    return float(result.pvalue)


def _fisher_row(row: VariantComparison, base: VariantData, cand: VariantData) -> VariantComparison:
    """Too few values for Welch: test whether the candidate's trials fail more (or less) often."""
    if cand.trials == 0 or base.trials == 0:
        return replace(row, note="no trials on one side")
    if cand.failed + base.failed == 0:  # Fisher's p would be 1: leave it out of Holm's family
        return replace(row, note=f"fewer than {MIN_TRIALS_FOR_TEST} values on a side")
    table = [[cand.failed, cand.ok], [base.failed, base.ok]]
    if row.candidate_n < MIN_TRIALS_FOR_TEST <= row.baseline_n:
        p = float(_scipy_stats.fisher_exact(table, alternative="greater").pvalue)
        note = f"{cand.failed} of {cand.trials} candidate trials failed (Fisher's exact test)"
        return replace(row, test="fisher", p_regression=p, p_improvement=1.0, note=note)
    if row.baseline_n < MIN_TRIALS_FOR_TEST <= row.candidate_n:
        p = float(_scipy_stats.fisher_exact(table, alternative="less").pvalue)
        note = f"{base.failed} of {base.trials} baseline trials failed (Fisher's exact test)"
        return replace(row, test="fisher", p_regression=1.0, p_improvement=p, note=note)
    return replace(row, note=f"fewer than {MIN_TRIALS_FOR_TEST} values on both sides")


# ----------------------------------------------------------------------------------- verdicts
def _decide(
    rows: list[VariantComparison], alpha: float, budget: float, higher: bool
) -> tuple[list[VariantComparison], int]:
    """Holm-adjust each family of one-sided p-values and turn them into verdicts."""
    tested = [i for i, row in enumerate(rows) if row.test is not None]
    regression = holm_adjust([_p(rows[i].p_regression) for i in tested])
    improvement = holm_adjust([_p(rows[i].p_improvement) for i in tested])
    decided = list(rows)
    for i, p_reg, p_imp in zip(tested, regression, improvement, strict=True):
        row = replace(rows[i], p_regression_holm=p_reg, p_improvement_holm=p_imp)
        if p_reg < alpha:
            row = replace(row, verdict=REGRESSION, blocking=True)
        elif p_imp < alpha:
            row = replace(row, verdict=IMPROVEMENT)
        elif row.test == "fisher":  # the metric itself could not be tested
            row = replace(row, verdict=TOO_FEW_TRIALS)
        else:
            note = row.note or _no_change_note(row, alpha, budget, higher, len(tested))
            row = replace(row, verdict=NO_CHANGE, note=note)
        decided[i] = row
    return decided, len(tested)


def _p(value: float | None) -> float:
    return 1.0 if value is None else value


def _no_change_note(
    row: VariantComparison, alpha: float, budget: float, higher: bool, family: int
) -> str | None:
    """Why a change that looks real is not a verdict: the budget tolerates it, or Holm does."""
    if row.p_regression is not None and row.p_regression < alpha:
        return f"worse beyond the budget alone (p {row.p_regression:.3g}), not after Holm over {family}"
    if row.ci_low is None or row.ci_high is None:
        return None
    worse = row.ci_high < 0 if higher else row.ci_low > 0
    if worse and budget > 0:
        return f"a real but tolerated drop: within the {format_setting_percent(budget)} budget"
    return None


def _run_notes(baseline: RunData, candidate: RunData) -> list[str]:
    notes = []
    for role, run in (("baseline", baseline), ("candidate", candidate)):
        if run.status not in ("completed", "?"):
            notes.append(f"the {role} run is {run.status}, not completed: its samples may be short")
    return notes


__all__ = [
    "IMPROVEMENT",
    "LOWER_IS_BETTER",
    "NEW_VARIANT",
    "NO_CHANGE",
    "REGRESSION",
    "REMOVED_VARIANT",
    "TOO_FEW_TRIALS",
    "VERDICTS",
    "Comparison",
    "VariantComparison",
    "Verdict",
    "compare_runs",
    "higher_is_better_default",
]
