"""Two runs compared variant by variant: the numbers behind ``meta-orchestrator compare``, the CI
gate and the dashboard's "compare runs" view.

``compare_runs(baseline, candidate)`` pairs the ``(experiment, variant)`` rows of two ``RunData`` and
gives each a verdict: ``regression``, ``improvement``, ``no significant change``, ``new variant``,
``removed variant`` or ``too few trials``. It is pure; ``load_run`` builds a ``RunData`` from a run
folder, a ``results.json`` or a run id in a store, and ``RunData.from_values`` from plain numbers.

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

Samples are treated as independent. The benchmark gives both runs the same trial seeds, so an
unchanged deterministic variant produces identical samples; where a change keeps outcomes positively
correlated, Welch's test overstates the noise, which can only lower the false-alarm rate.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from scipy import stats as _scipy_stats

from meta_orchestrator.analysis.formatting import (
    DASH,
    code_span,
    escape_text,
    format_p_value,
    format_percent,
    format_setting_percent,
)
from meta_orchestrator.analysis.report import (
    SUMMARY_FILE,
    load_results_json,
    render_summary_markdown,
)
from meta_orchestrator.analysis.stats import MIN_TRIALS_FOR_TEST, holm_adjust, welch_test
from meta_orchestrator.analysis.summary import summarize_run
from meta_orchestrator.core.running import RunningMoments
from meta_orchestrator.errors import ComparisonError, ConfigError, RunNotFoundError
from meta_orchestrator.store import RunStore

COMPARISON_FORMAT = "meta-orchestrator/comparison"
COMPARISON_FORMAT_VERSION = 1
LOWER_IS_BETTER = frozenset({"latency", "cost"})
DEFAULT_METRIC = "score"

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
Key = tuple[str, str]  # (experiment, variant)


# ------------------------------------------------------------------------------------- the data
@dataclass(frozen=True, slots=True)
class Moments:
    """Count, mean and SD of one metric of one variant: everything a Welch test needs."""

    n: int
    mean: float | None = None
    sd: float | None = None

    @classmethod
    def of(cls, values: Iterable[float]) -> Moments:
        """Moments of a sample, in one streaming pass; exact (SD 0) for a constant sample."""
        return cls.of_running(RunningMoments.of(values))

    @classmethod
    def of_running(cls, running: RunningMoments) -> Moments:
        """The snapshot of an accumulator: no mean without values, no SD below two."""
        return cls(running.n, running.mean_or_none, running.sd)


@dataclass(frozen=True)
class VariantData:
    """One variant of one experiment of a run; ``metrics`` maps each metric to its moments."""

    experiment: str
    variant: str
    trials: int  # every trial, failed ones included
    ok: int
    metrics: Mapping[str, Moments]

    @property
    def failed(self) -> int:
        return self.trials - self.ok


@dataclass(frozen=True)
class RunData:
    """What a comparison needs from a run: per-variant moments of every metric, and its summary."""

    run_id: str
    name: str
    source: str  # where it was read from, for messages
    variants: Mapping[Key, VariantData]
    status: str = "completed"
    git_commit: str | None = None
    summary_markdown: str | None = None

    @property
    def trials(self) -> int:
        return sum(v.trials for v in self.variants.values())

    @classmethod
    def from_values(
        cls,
        values: Mapping[Key, Sequence[float | None]],
        *,
        metric: str = DEFAULT_METRIC,
        run_id: str = "simulated",
        name: str = "simulated",
        source: str = "<values>",
    ) -> RunData:
        """A run from raw values of one metric per ``(experiment, variant)``; ``None`` is a failed
        trial without a value.

        The fast path for simulations and tests: no store, no files.
        """
        variants = {}
        for (experiment, variant), raw in values.items():
            ok = [float(v) for v in raw if v is not None]
            variants[(experiment, variant)] = VariantData(
                experiment, variant, len(raw), len(ok), {metric: Moments.of(ok)}
            )
        return cls(run_id, name, source, variants)


class _Collector:
    """Per-variant moments of every metric, from trials streamed past it once."""

    def __init__(self) -> None:
        self.trials: dict[Key, int] = {}
        self.ok: dict[Key, int] = {}
        self.running: dict[Key, dict[str, RunningMoments]] = {}

    def add(
        self,
        experiment: str,
        variant: str,
        status: str,
        score: float | None,
        latency: float | None,
        metrics: Mapping[str, Any],
    ) -> None:
        key = (experiment, variant)
        self.trials[key] = self.trials.get(key, 0) + 1
        running = self.running.setdefault(key, {})

        def add(name: str, value: Any) -> None:
            if _is_number(value):
                running.setdefault(name, RunningMoments()).add(float(value))

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
            )
            for key, count in self.trials.items()
        }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)  # bool is an int: 0 or 1


# ---------------------------------------------------------------------------------- loading runs
def load_run(ref: str | Path, db: str | Path | None = None) -> RunData:
    """A run from a run folder, a ``results.json``, or a run id looked up in the store ``db``.

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
            return run_data_from_store(store, text)
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
    )


def run_data_from_store(store: RunStore, run_id: str, *, summary: bool = True) -> RunData:
    """A ``RunData`` for a run in a ``RunStore``; ``summary`` renders its summary.md as well.

    Raises ``RunNotFoundError`` for an unknown run id.
    """
    record = store.get_run(run_id)
    collector = _Collector()
    for _, trial in store.iter_trials(run_id):
        collector.add(
            trial.experiment, trial.variant, trial.status, trial.score, trial.latency, trial.metrics
        )
    return RunData(
        run_id=record.id,
        name=record.name,
        source=f"run {record.id} in {store.path}",
        variants=collector.variants(),
        status=record.status,
        git_commit=record.git_commit,
        summary_markdown=render_summary_markdown(summarize_run(store, run_id)) if summary else None,
    )


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
    effect_size: float | None = None  # Hedges' g, candidate versus baseline
    test: Literal["welch", "fisher"] | None = None
    note: str | None = None

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
            names = ", ".join(_label(r, self.spans_experiments) for r in self.regressions)
            noun = "regression" if len(self.regressions) == 1 else "regressions"
            return f"{len(self.regressions)} significant {noun}{beyond}: {names}"
        return f"no significant regression{beyond}"

    @property
    def spans_experiments(self) -> bool:
        """Rows come from more than one experiment (so labels name the experiment too)."""
        return len({row.experiment for row in self.rows}) > 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": COMPARISON_FORMAT,
            "format_version": COMPARISON_FORMAT_VERSION,
            "failed": self.failed,
            "exit_code": self.exit_code,
            "headline": self.headline(),
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "alpha": self.alpha,
            "max_regression": self.max_regression,
            "tested": self.tested,
            "counts": self.counts(),
            "baseline": _run_header(self.baseline),
            "candidate": _run_header(self.candidate),
            "notes": list(self.notes),
            "rows": [_finite(row.to_dict()) for row in self.rows],
        }

    def to_markdown(self, *, include_summary: bool = True) -> str:
        """The verdict, a table a reviewer reads at a glance, then the candidate's summary.md."""
        return _render_markdown(self, include_summary)


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
) -> Comparison:
    """Compare every ``(experiment, variant)`` of two runs on ``metric``; see the module docstring.

    Raises ``ComparisonError`` when a run has no trials, the runs share no variant, or neither has
    the metric; ``ConfigError`` for an ``alpha`` outside (0, 1) or a budget outside [0, 1).
    """
    _check_arguments(alpha, max_regression)
    _check_runs(baseline, candidate, metric)
    higher = higher_is_better_default(metric) if higher_is_better is None else higher_is_better
    keys = list(baseline.variants) + [k for k in candidate.variants if k not in baseline.variants]
    settings = {"metric": metric, "higher": higher, "alpha": alpha, "budget": max_regression}
    rows = [
        _row(key, baseline.variants.get(key), candidate.variants.get(key), **settings)
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
        notes=tuple(_run_notes(baseline, candidate)),
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
    if a.n >= MIN_TRIALS_FOR_TEST and b.n >= MIN_TRIALS_FOR_TEST:
        return _welch_row(row, a, b, higher, alpha, budget)
    return _fisher_row(row, base, cand)


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


# ---------------------------------------------------------------------------------- formatting
_MARK = {
    REGRESSION: "🔴 **regression**",
    IMPROVEMENT: "🟢 improvement",
    NO_CHANGE: "⚪ no significant change",
    NEW_VARIANT: "🆕 new variant",
    REMOVED_VARIANT: "➖ removed variant",
    TOO_FEW_TRIALS: "⚠️ too few trials",
}


def _render_markdown(comparison: Comparison, include_summary: bool) -> str:
    c = comparison
    icon = "❌" if c.failed else "✅"
    state = "failed" if c.failed else "passed"
    parts = [
        f"### {icon} Performance gate {state}: {c.headline()}",
        _context_line(c),
        _table(c),
    ]
    notes = [f"- {code_span(_label(r, c.spans_experiments))}: {r.note}" for r in c.rows if r.note]
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
        f"metric **{escape_text(c.metric)}** ({direction}) · one-sided Welch tests at alpha "
        f"{c.alpha:g}, Holm-corrected across {c.tested} tested "
        f"variant{'' if c.tested == 1 else 's'} · {budget}"
    )


def _run_ref(run: RunData) -> str:
    commit = f", commit {code_span(run.git_commit[:12])}" if run.git_commit else ""
    return f"{code_span(run.run_id)} ({escape_text(run.name)}{commit})"


def _table(c: Comparison) -> str:
    confidence = format_setting_percent(1 - c.alpha)
    rows = [
        f"| Verdict | Variant | Baseline | Candidate | Change | {confidence} CI of change "
        "| Welch p | Holm p | Hedges' g | Trials |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for r in c.rows:
        cells = [
            _MARK[r.verdict],
            code_span(_label(r, c.spans_experiments), table=True),
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
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _legend(c: Comparison) -> str:
    worse = "drop" if c.higher_is_better else "rise"
    return (
        "<sub>Change = candidate − baseline (relative to |baseline mean|). A row is a "
        f"**regression** when a one-sided Welch test shows a {worse} of more than the budget, "
        f"Holm-corrected across variants (Holm p < {c.alpha:g}); only regressions fail the gate. "
        "Welch p (two-sided) and the interval are per variant and not adjusted. Failed trials score "
        "as trials that achieved nothing and count as no `success`; for other metrics they have no "
        "value (Trials shows how many failed), and a candidate left with fewer than two values is tested "
        "for more failures with Fisher's exact test.</sub>"
    )


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


def _label(row: VariantComparison, with_experiment: bool) -> str:
    return f"{row.experiment}/{row.variant}" if with_experiment else row.variant


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
    "Moments",
    "RunData",
    "VariantComparison",
    "VariantData",
    "compare_runs",
    "higher_is_better_default",
    "load_run",
    "run_data_from_results",
    "run_data_from_results_file",
    "run_data_from_store",
]
