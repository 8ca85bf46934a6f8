"""Per-variant statistics and best-versus-others tests for a stored run.

Everything is computed from SQL aggregates (``RunStore.variant_aggregates``, ``choice_counts``), so
summarising a 200,000-trial run holds no trial in memory; only ``latency_quantiles`` reads one
variant's latencies into a float array at a time (8 bytes a trial: 1.6 MB at 200,000).

Conventions the numbers follow:

* ``mean_score`` averages every scored trial; a failed trial (error, timeout) scores as one that
  achieved nothing (``scoring.failure_score``), so failures pull the mean down.
* ``success_rate`` divides successes by *all* trials, so an error or a timeout counts as a failure.
* Latency (mean, p50, p95, nearest rank) and cost cover every trial.
* The best variant (rank 1) is compared with each other one by Welch's t-test on score; the p-values
  of one experiment are Holm-corrected together. A side with fewer than two scored trials is not
  tested: its comparison carries the note ``"not enough trials"`` and no numbers.
* On a dataset (``analysis.clustered``, ``analysis.paired``): the score's interval is clustered by
  sample (t on samples − 1 df), the success rate's too when samples repeat (epochs), and the best
  variant is compared with each other one by a paired t-test on the samples both ran (per-sample
  means over the epochs both ran), with the Wilcoxon signed-rank p beside it; below
  ``MIN_PAIRED_SAMPLES`` paired samples: ``"not enough paired samples"``.
* A ``mab`` experiment allocated adaptively: its comparisons pair only the samples both variants
  reached (the matched prefix), and ``ExperimentSummary.adaptive`` makes the report say that the
  means of rarely chosen variants are biased.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import yaml

from meta_orchestrator.analysis.clustered import (
    ClusteredMean,
    clustered_mean_from_sums,
    mean_interval,
    success_interval,
)
from meta_orchestrator.analysis.paired import holm_paired, paired_comparison
from meta_orchestrator.analysis.samples import SampleSummary, summarize_samples
from meta_orchestrator.analysis.stats import (
    MIN_TRIALS_FOR_TEST,
    WelchResult,
    holm_adjust,
    welch_test,
)
from meta_orchestrator.core.llm.retry import TRANSIENT_KINDS
from meta_orchestrator.store import (
    ExperimentRecord,
    RunRecord,
    RunStore,
    SampleSums,
    VariantAggregate,
)

DEFAULT_ALPHA = 0.05
NOT_ENOUGH_TRIALS = "not enough trials"


@dataclass(frozen=True)
class VariantSummary:
    """One variant of one experiment. Statistics that need data the variant lacks are ``None``;
    a variant that never ran is ``VariantSummary(experiment, variant)``."""

    experiment: str
    variant: str
    rank: int = 0
    trials: int = 0
    ok: int = 0
    errors: int = 0
    timeouts: int = 0
    score_n: int = 0
    mean_score: float | None = None
    score_sd: float | None = None
    score_ci_low: float | None = None
    score_ci_high: float | None = None
    success_rate: float | None = None
    success_ci_low: float | None = None
    success_ci_high: float | None = None
    latency_mean: float | None = None
    latency_p50: float | None = None
    latency_p95: float | None = None
    cost_total: float = 0.0
    cost_mean: float | None = None
    clusters: int | None = None  # on a dataset: the samples the intervals are clustered on
    score_se: float | None = None  # clustered on the sample when ``clusters`` is set
    design_effect: float | None = None  # clustered variance / naive variance of the mean score

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class PairwiseComparison:
    """``other`` against the experiment's best variant; ``difference`` is ``other - best``."""

    experiment: str
    best: str
    other: str
    difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    p_holm: float | None = None
    effect_size: float | None = None  # Hedges' g of other versus best (Welch only)
    significant: bool = False
    note: str | None = None
    test: str = "welch"  # "welch", or "paired" on a dataset
    paired: int | None = None  # samples both ran (paired)
    left_out: int | None = None  # samples only one of the two ran (paired)
    correlation: float | None = None  # of the per-sample scores (paired)
    p_wilcoxon: float | None = None  # signed-rank, two-sided (paired)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ExperimentSummary:
    """One experiment of a run: its variants ranked by mean score and the tests against the best."""

    name: str
    orchestrator: str
    strategy: str | None
    planned_trials: int
    status: str
    stop_reason: str | None
    choice_counts: dict[str, int]
    variants: list[VariantSummary]
    comparisons: list[PairwiseComparison]
    too_few_trials: bool
    alpha: float = DEFAULT_ALPHA
    variant_names: list[str] = field(default_factory=list)  # in config order
    scoring_weights: dict[str, float] = field(default_factory=dict)  # empty: the run's
    epochs: int = 1
    samples: SampleSummary | None = None  # on a dataset: the per-sample section

    @property
    def trials(self) -> int:
        return sum(v.trials for v in self.variants)

    @property
    def none_succeeded(self) -> bool:
        """Trials were recorded and none succeeded: no variant leads, whatever the scores say."""
        return self.trials > 0 and not any(v.success_rate for v in self.variants)

    @property
    def adaptive(self) -> bool:
        """A bandit chose the variants: unequal counts, and biased means for rarely chosen ones."""
        return self.orchestrator == "mab"

    @property
    def best(self) -> VariantSummary | None:
        """The rank-1 variant, or ``None`` when no variant has a scored trial."""
        if self.variants and self.variants[0].mean_score is not None:
            return self.variants[0]
        return None

    def to_dict(self) -> dict[str, Any]:
        """The experiment's entry in ``results.json``."""
        return {
            "name": self.name,
            "orchestrator": self.orchestrator,
            "strategy": self.strategy,
            "planned_trials": self.planned_trials,
            "status": self.status,
            "stop_reason": self.stop_reason,
            "variants": list(self.variant_names),
            "choice_counts": dict(self.choice_counts),
            "alpha": self.alpha,
            "too_few_trials": self.too_few_trials,
            "summary": [v.to_dict() for v in self.variants],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "scoring_weights": dict(self.scoring_weights),
            "epochs": self.epochs,
            "dataset": None if self.samples is None else self.samples.dataset,
            "dataset_fingerprint": None if self.samples is None else self.samples.fingerprint,
            "samples": None if self.samples is None else self.samples.to_dict(),
            "adaptive": self.adaptive,
        }


@dataclass
class RunSummary:
    run: RunRecord
    experiments: list[ExperimentSummary]
    scoring_weights: dict[str, float]
    # Trials that ended because an endpoint kept failing (``rate_limited``, ``unavailable``), by kind.
    endpoint_failures: dict[str, int] = field(default_factory=dict)

    @property
    def leader(self) -> str | None:
        """``run_leader``'s answer, read from the summary: the best variant of the first
        experiment in which a trial succeeded, or ``None``."""
        for experiment in self.experiments:
            best = experiment.best
            if best is not None and not experiment.none_succeeded:
                return best.variant
        return None


def summarize_run(store: RunStore, run_id: str, alpha: float = DEFAULT_ALPHA) -> RunSummary:
    """Summarise every experiment of a run. Raises ``RunNotFoundError`` for an unknown id."""
    run = store.get_run(run_id)
    experiments = [
        summarize_experiment(store, record, alpha) for record in store.experiments(run_id)
    ]
    failures = {
        kind: n for kind, n in store.error_kind_counts(run_id).items() if kind in TRANSIENT_KINDS
    }
    return RunSummary(run, experiments, scoring_weights(run.config_yaml), failures)


def summarize_experiment(
    store: RunStore, record: ExperimentRecord, alpha: float = DEFAULT_ALPHA
) -> ExperimentSummary:
    aggregates = {a.variant: a for a in store.variant_aggregates(record.run_id, record.name)}
    # A variant that never ran still gets a row; one that ran but is not configured still counts.
    names = list(record.variants) + [v for v in aggregates if v not in record.variants]
    clustered = _clustered(store, record) if record.dataset is not None else {}
    unranked = [
        _variant_summary(store, record, name, aggregates.get(name), clustered.get(name))
        for name in names
    ]
    ranked = rank_variants(unranked)
    if record.dataset is not None:
        comparisons = compare_paired_with_best(store, record, ranked, alpha)
    else:
        comparisons = compare_with_best(ranked, alpha)
    return ExperimentSummary(
        name=record.name,
        orchestrator=record.orchestrator,
        strategy=record.strategy,
        planned_trials=record.planned_trials,
        status=record.status,
        stop_reason=record.stop_reason,
        choice_counts={
            name: aggregates[name].trials if name in aggregates else 0 for name in names
        },
        variants=ranked,
        comparisons=comparisons,
        too_few_trials=any(v.score_n < MIN_TRIALS_FOR_TEST for v in ranked),
        alpha=alpha,
        variant_names=names,
        scoring_weights=dict(record.scoring.get("weights") or {}),
        epochs=record.epochs,
        samples=summarize_samples(store, record),
    )


def rank_variants(variants: list[VariantSummary]) -> list[VariantSummary]:
    """Best mean score first; variants without a scored trial last; ties broken by name."""
    ordered = sorted(
        variants,
        key=lambda v: (v.mean_score is None, -(v.mean_score or 0.0), v.variant),
    )
    return [dataclasses.replace(v, rank=i) for i, v in enumerate(ordered, start=1)]


def compare_with_best(
    ranked: list[VariantSummary], alpha: float = DEFAULT_ALPHA
) -> list[PairwiseComparison]:
    """Welch's t-test of each variant against ``ranked[0]``, Holm-corrected over the tested pairs."""
    if len(ranked) < 2:
        return []
    best, others = ranked[0], ranked[1:]
    tests = [_welch(best, other) for other in others]
    adjusted = iter(holm_adjust([t.p_value for t in tests if t is not None]))
    comparisons = []
    for other, test in zip(others, tests, strict=True):
        if test is None:
            comparisons.append(
                PairwiseComparison(
                    best.experiment, best.variant, other.variant, note=NOT_ENOUGH_TRIALS
                )
            )
            continue
        p_holm = next(adjusted)
        comparisons.append(
            PairwiseComparison(
                experiment=best.experiment,
                best=best.variant,
                other=other.variant,
                difference=test.difference,
                ci_low=test.ci.low,
                ci_high=test.ci.high,
                p_value=test.p_value,
                p_holm=p_holm,
                effect_size=test.effect_size,
                significant=p_holm < alpha,
            )
        )
    return comparisons


def compare_paired_with_best(
    store: RunStore, record: ExperimentRecord, ranked: list[VariantSummary], alpha: float
) -> list[PairwiseComparison]:
    """Paired t-test of each variant against ``ranked[0]`` on the samples both ran (matched on
    sample and epoch), Holm-corrected over the tested pairs; Wilcoxon beside it."""
    if len(ranked) < 2:
        return []
    best, others = ranked[0], ranked[1:]
    tests = []
    for other in others:
        rows = list(
            store.paired_sample_scores(record.run_id, record.name, best.variant, other.variant)
        )
        left_out = (best.clusters or 0) + (other.clusters or 0) - 2 * len(rows)
        tests.append(
            paired_comparison([r[1] for r in rows], [r[2] for r in rows], left_out=left_out)
        )
    comparisons = []
    for other, test in zip(others, holm_paired(tests), strict=True):
        comparisons.append(
            PairwiseComparison(
                experiment=best.experiment,
                best=best.variant,
                other=other.variant,
                difference=test.difference,
                ci_low=test.ci_low,
                ci_high=test.ci_high,
                p_value=test.p_value,
                p_holm=test.p_holm,
                significant=test.p_holm is not None and test.p_holm < alpha,
                note=test.note,
                test="paired",
                paired=test.paired,
                left_out=test.left_out,
                correlation=test.correlation,
                p_wilcoxon=test.p_wilcoxon,
            )
        )
    return comparisons


def run_leader(store: RunStore, run_id: str) -> str | None:
    """The best-scoring variant of the run's first experiment in which a trial succeeded, or
    ``None``: where every trial failed, the least bad score leads nothing.

    Cheap enough to call for every row of a run list: one aggregate query per experiment.
    """
    for record in store.experiments(run_id):
        aggregates = store.variant_aggregates(run_id, record.name)
        scored = [a for a in aggregates if a.score_mean is not None]
        if scored and any(a.successes > 0 for a in aggregates):
            return min(scored, key=lambda a: (-(a.score_mean or 0.0), a.variant)).variant
    return None


def no_trial_succeeded(store: RunStore, run_id: str) -> bool:
    """Whether the run recorded trials and not one of them succeeded (the CLI then exits 1)."""
    aggregates = [
        a
        for record in store.experiments(run_id)
        for a in store.variant_aggregates(run_id, record.name)
    ]
    return (
        bool(aggregates)
        and sum(a.trials for a in aggregates) > 0
        and not any(a.successes > 0 for a in aggregates)
    )


def scoring_weights(config_yaml: str) -> dict[str, float]:
    """The ``scoring_weights`` of a config snapshot; empty if the snapshot cannot be read."""
    try:
        data = yaml.safe_load(config_yaml)
    except yaml.YAMLError:
        return {}
    weights = data.get("scoring_weights") if isinstance(data, dict) else None
    if not isinstance(weights, dict):
        return {}
    return {str(k): float(v) for k, v in weights.items() if isinstance(v, int | float)}


def _clustered(
    store: RunStore, record: ExperimentRecord
) -> dict[str, tuple[ClusteredMean | None, ClusteredMean | None]]:
    """Per variant: the score and the success rate clustered by sample."""
    by_variant: dict[str, list[SampleSums]] = {}
    for sums in store.sample_sums(record.run_id, record.name):
        by_variant.setdefault(sums.variant, []).append(sums)
    out = {}
    for variant, rows in by_variant.items():
        score = clustered_mean_from_sums(
            [r.score_n for r in rows],
            [r.score_sum for r in rows],
            squares=sum(r.score_sq for r in rows),
        )
        success = clustered_mean_from_sums([r.trials for r in rows], [r.successes for r in rows])
        out[variant] = (score, success)
    return out


def _variant_summary(
    store: RunStore,
    record: ExperimentRecord,
    name: str,
    agg: VariantAggregate | None,
    clustered: tuple[ClusteredMean | None, ClusteredMean | None] | None = None,
) -> VariantSummary:
    if agg is None or agg.trials == 0:
        return VariantSummary(record.name, name)
    score_c, success_c = clustered or (None, None)
    score_ci = mean_interval(agg.score_n, agg.score_mean, agg.score_sd, score_c)
    success_ci = success_interval(agg.successes, agg.trials, success_c)
    p50, p95 = store.latency_quantiles(record.run_id, record.name, name, (0.50, 0.95), agg.trials)
    return VariantSummary(
        experiment=record.name,
        variant=name,
        rank=0,
        trials=agg.trials,
        ok=agg.ok,
        errors=agg.errors,
        timeouts=agg.timeouts,
        score_n=agg.score_n,
        mean_score=agg.score_mean,
        score_sd=agg.score_sd,
        score_ci_low=score_ci.low if score_ci else None,
        score_ci_high=score_ci.high if score_ci else None,
        success_rate=agg.successes / agg.trials,
        success_ci_low=success_ci.low if success_ci else None,
        success_ci_high=success_ci.high if success_ci else None,
        latency_mean=agg.latency_mean,
        latency_p50=p50,
        latency_p95=p95,
        cost_total=agg.cost_total,
        cost_mean=agg.cost_total / agg.trials,
        clusters=score_c.clusters if score_c else None,
        score_se=score_c.se if score_c else None,
        design_effect=score_c.design_effect if score_c else None,
    )


def _welch(best: VariantSummary, other: VariantSummary) -> WelchResult | None:
    if best.score_n < MIN_TRIALS_FOR_TEST or other.score_n < MIN_TRIALS_FOR_TEST:
        return None
    a = (best.score_n, best.mean_score or 0.0, best.score_sd or 0.0)
    b = (other.score_n, other.mean_score or 0.0, other.score_sd or 0.0)
    return welch_test(*a, *b)
