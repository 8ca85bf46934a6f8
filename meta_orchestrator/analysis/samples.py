"""Per-sample results of an experiment on a dataset: pass@k, pass^k, and the samples worth a look.

Everything streams from ``RunStore.sample_outcomes`` one sample at a time, so a 20,000-sample
dataset costs no more memory than a 20-sample one; only the first ``examples`` samples of each
list are kept (with their counts in full).

* **Every variant fails**: no variant that ran the sample ever passed it.
* **Variants disagree**: one variant passed it on every attempt and another failed it on every
  attempt.
* **Flaky**: a variant passed it on some attempts and failed on others (0 < pass rate < 1 across
  epochs): the samples a reliability measure (pass^k) pays for.

A variant's pass@k and pass^k (``core.epochs``) are means over the samples it ran at least ``k``
times; its per-sample pass rate is the mean over the samples it ran of ``successes / attempts``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from meta_orchestrator.core.datasets import Sample
from meta_orchestrator.core.epochs import pass_at_k, pass_hat_k, reduce
from meta_orchestrator.store import ExperimentRecord, RunStore, SampleOutcome

EXAMPLES = 10


@dataclass(frozen=True)
class VariantSamples:
    """One variant over the samples: per-sample means of the pass rate and of the estimators."""

    variant: str
    samples: int = 0
    pass_rate: float | None = None
    k: int = 1
    k_samples: int = 0  # samples with at least k attempts: what pass@k and pass^k average over
    pass_at_k: float | None = None
    pass_hat_k: float | None = None
    reduced: float | None = None  # the experiment's reducer, averaged over the k_samples


@dataclass(frozen=True)
class SampleNote:
    """A sample in one of the lists, with each variant's ``(successes, attempts)`` on it."""

    sample_id: str
    input: Any
    target: Any
    rates: dict[str, tuple[int, int]]


@dataclass
class SampleSummary:
    """The per-sample section of one experiment."""

    dataset: str
    fingerprint: str | None
    epochs: int
    k: int
    reducer: str
    samples: int = 0
    variants: list[VariantSamples] = field(default_factory=list)
    all_fail: list[SampleNote] = field(default_factory=list)
    all_fail_count: int = 0
    disagree: list[SampleNote] = field(default_factory=list)
    disagree_count: int = 0
    flaky: list[SampleNote] = field(default_factory=list)
    flaky_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class _Sums:
    """Running sums of one variant's per-sample values."""

    def __init__(self, k: int, reducer: str) -> None:
        self.k, self.reducer = k, reducer
        self.samples = self.k_samples = 0
        self.rate = self.at_k = self.hat_k = self.reduced = 0.0

    def add(self, outcome: SampleOutcome) -> None:
        n, c = outcome.trials, outcome.successes
        self.samples += 1
        self.rate += c / n
        if n >= self.k:
            self.k_samples += 1
            self.at_k += pass_at_k(n, c, self.k)
            self.hat_k += pass_hat_k(n, c, self.k)
            self.reduced += reduce(self.reducer, n, c, self.k)

    def result(self, variant: str) -> VariantSamples:
        if not self.samples:
            return VariantSamples(variant, k=self.k)
        per_k = self.k_samples or None
        return VariantSamples(
            variant=variant,
            samples=self.samples,
            pass_rate=self.rate / self.samples,
            k=self.k,
            k_samples=self.k_samples,
            pass_at_k=self.at_k / per_k if per_k else None,
            pass_hat_k=self.hat_k / per_k if per_k else None,
            reduced=self.reduced / per_k if per_k else None,
        )


def summarize_samples(
    store: RunStore, record: ExperimentRecord, examples: int = EXAMPLES
) -> SampleSummary | None:
    """The per-sample section of an experiment run on a dataset; ``None`` without a dataset."""
    if record.dataset is None:
        return None
    k = int(record.scoring.get("k") or record.epochs)
    reducer = str(record.scoring.get("reducer") or "mean")
    summary = SampleSummary(record.dataset, record.dataset_fingerprint, record.epochs, k, reducer)
    sums = {v: _Sums(k, reducer) for v in record.variants}
    for sample, outcomes in store.sample_outcomes(record.run_id, record.name, record.dataset):
        summary.samples += 1
        for outcome in outcomes:
            sums.setdefault(outcome.variant, _Sums(k, reducer)).add(outcome)
        _classify(summary, sample, outcomes, examples)
    summary.variants = [sums[v].result(v) for v in sums]
    return summary


def _classify(
    summary: SampleSummary, sample: Sample, outcomes: list[SampleOutcome], examples: int
) -> None:
    ran = [o for o in outcomes if o.trials]
    if not ran:
        return
    note = None

    def keep(into: list[SampleNote]) -> None:
        nonlocal note
        if len(into) < examples:
            note = note or _note(sample, ran)
            into.append(note)

    if all(o.successes == 0 for o in ran):
        summary.all_fail_count += 1
        keep(summary.all_fail)
    if any(o.successes == o.trials for o in ran) and any(o.successes == 0 for o in ran):
        summary.disagree_count += 1
        keep(summary.disagree)
    if any(0 < o.successes < o.trials for o in ran):
        summary.flaky_count += 1
        keep(summary.flaky)


def _note(sample: Sample, outcomes: list[SampleOutcome]) -> SampleNote:
    rates = {o.variant: (o.successes, o.trials) for o in outcomes}
    return SampleNote(sample.id, sample.input, sample.target, rates)


# ------------------------------------------------------------------------- the samples command
@dataclass(frozen=True)
class SampleRow:
    """One sample with each variant's results on it (``meta-orchestrator samples``)."""

    sample: Sample
    outcomes: list[SampleOutcome]

    def failing(self) -> bool:
        """A variant failed at least one attempt at this sample."""
        return any(o.successes < o.trials for o in self.outcomes)

    def to_dict(self, reducer: str = "mean", k: int = 1) -> dict[str, Any]:
        variants = {}
        for o in self.outcomes:
            value = reduce(reducer, o.trials, o.successes, k) if o.trials >= k else None
            variants[o.variant] = {
                "trials": o.trials,
                "successes": o.successes,
                "errors": o.errors,
                "pass_rate": o.pass_rate,
                "mean_score": o.score_sum / o.trials if o.trials else None,
                reducer: value,
            }
        return {**self.sample.to_dict(), "variants": variants}


def sample_rows(
    store: RunStore,
    record: ExperimentRecord,
    *,
    variant: str | None = None,
    failing: bool = False,
) -> Iterator[SampleRow]:
    """Every sample of the experiment's dataset in order (``failing``: only those some variant
    failed at least once), with ``variant``'s results alone when it is given."""
    if record.dataset is None:
        return
    for sample, outcomes in store.sample_outcomes(
        record.run_id, record.name, record.dataset, variant
    ):
        row = SampleRow(sample, outcomes)
        if not failing or row.failing():
            yield row
