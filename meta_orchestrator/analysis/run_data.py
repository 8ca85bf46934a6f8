"""The data model of a run comparison: per-variant moments of every metric of a run.

``RunData`` is what ``analysis.compare.compare_runs`` reads from each side. ``analysis.loaders``
builds one from a run folder, a ``results.json`` or a run in the store; ``RunData.from_values``
builds one from plain numbers (simulations, tests). Each metric is a ``Moments``: the frozen
snapshot of a ``core.running.RunningMoments``, so every layer accumulates the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from meta_orchestrator.core.running import RunningMoments

DEFAULT_METRIC = "score"
Key = tuple[str, str]  # (experiment, variant)
MatchKey = tuple[str, int]  # (sample_id, epoch): how trials of two runs are paired


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
    # On a dataset: metric -> {(sample_id, epoch): value}, what a paired comparison matches on.
    by_sample: Mapping[str, Mapping[MatchKey, float]] = field(default_factory=dict)

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
    # experiment -> its dataset's fingerprint (``None``: the experiment ran without a dataset)
    fingerprints: Mapping[str, str | None] = field(default_factory=dict)
    # (experiment, variant, metric) -> values that were not finite numbers, so not in ``variants``.
    unusable: Mapping[tuple[str, str, str], int] = field(default_factory=dict)

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

    @classmethod
    def from_samples(
        cls,
        values: Mapping[Key, Mapping[MatchKey, float | None]],
        *,
        fingerprint: str = "simulated",
        metric: str = DEFAULT_METRIC,
        run_id: str = "simulated",
        name: str = "simulated",
        source: str = "<samples>",
    ) -> RunData:
        """A run on a dataset from raw values keyed by ``(sample_id, epoch)``; ``None`` is a
        failed trial without a value. Every experiment gets ``fingerprint``."""
        variants = {}
        for (experiment, variant), raw in values.items():
            ok = {k: float(v) for k, v in raw.items() if v is not None}
            variants[(experiment, variant)] = VariantData(
                experiment,
                variant,
                len(raw),
                len(ok),
                {metric: Moments.of(ok.values())},
                {metric: ok},
            )
        experiments = {experiment: fingerprint for experiment, _ in values}
        return cls(run_id, name, source, variants, fingerprints=experiments)
