"""Per-variant statistics and best-versus-others tests for a stored run.

Everything is computed from SQL aggregates (``RunStore.variant_aggregates``, ``latency_quantile``,
``choice_counts``), so summarising a 200,000-trial run takes as little memory as a 20-trial one.

Conventions the numbers follow:

* ``mean_score`` averages every scored trial; a failed trial (error, timeout) scores as one that
  achieved nothing (``scoring.failure_score``), so failures pull the mean down.
* ``success_rate`` divides successes by *all* trials, so an error or a timeout counts as a failure.
* Latency (mean, p50, p95, nearest rank) and cost cover every trial.
* The best variant (rank 1) is compared with each other one by Welch's t-test on score; the p-values
  of one experiment are Holm-corrected together. A side with fewer than two scored trials is not
  tested: its comparison carries the note ``"not enough trials"`` and no numbers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import yaml

from meta_orchestrator.analysis.samples import SampleSummary, summarize_samples
from meta_orchestrator.analysis.stats import (
    MIN_TRIALS_FOR_TEST,
    WelchResult,
    holm_adjust,
    mean_ci,
    welch_test,
    wilson_interval,
)
from meta_orchestrator.core.llm.retry import TRANSIENT_KINDS
from meta_orchestrator.store import ExperimentRecord, RunRecord, RunStore, VariantAggregate

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
    effect_size: float | None = None  # Hedges' g of other versus best
    significant: bool = False
    note: str | None = None

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
        }


@dataclass
class RunSummary:
    run: RunRecord
    experiments: list[ExperimentSummary]
    scoring_weights: dict[str, float]
    # Trials that ended because an endpoint kept failing (``rate_limited``, ``unavailable``), by kind.
    endpoint_failures: dict[str, int] = field(default_factory=dict)


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
    unranked = [_variant_summary(store, record, name, aggregates.get(name)) for name in names]
    ranked = rank_variants(unranked)
    counts = store.choice_counts(record.run_id, record.name)
    return ExperimentSummary(
        name=record.name,
        orchestrator=record.orchestrator,
        strategy=record.strategy,
        planned_trials=record.planned_trials,
        status=record.status,
        stop_reason=record.stop_reason,
        choice_counts={name: counts.get(name, 0) for name in names},
        variants=ranked,
        comparisons=compare_with_best(ranked, alpha),
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


def run_leader(store: RunStore, run_id: str) -> str | None:
    """The best-scoring variant of the run's first experiment with a scored trial, or ``None``.

    Cheap enough to call for every row of a run list: one aggregate query per experiment.
    """
    for record in store.experiments(run_id):
        scored = [
            a for a in store.variant_aggregates(run_id, record.name) if a.score_mean is not None
        ]
        if scored:
            return min(scored, key=lambda a: (-(a.score_mean or 0.0), a.variant)).variant
    return None


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


def _variant_summary(
    store: RunStore, record: ExperimentRecord, name: str, agg: VariantAggregate | None
) -> VariantSummary:
    if agg is None or agg.trials == 0:
        return VariantSummary(record.name, name)
    score_ci = mean_ci(agg.score_n, agg.score_mean, agg.score_sd)
    success_ci = wilson_interval(agg.successes, agg.trials)
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
        latency_p50=store.latency_quantile(record.run_id, record.name, name, 0.50),
        latency_p95=store.latency_quantile(record.run_id, record.name, name, 0.95),
        cost_total=agg.cost_total,
        cost_mean=agg.cost_total / agg.trials,
    )


def _welch(best: VariantSummary, other: VariantSummary) -> WelchResult | None:
    if best.score_n < MIN_TRIALS_FOR_TEST or other.score_n < MIN_TRIALS_FOR_TEST:
        return None
    a = (best.score_n, best.mean_score or 0.0, best.score_sd or 0.0)
    b = (other.score_n, other.mean_score or 0.0, other.score_sd or 0.0)
    return welch_test(*a, *b)
