"""Power analysis for the benchmark: how many trials the gate needs to catch a 5% drop.

``python -m meta_orchestrator.guardrail.power benchmark_config.yaml`` runs every variant of the
config in process (a *pilot*: the real agent code with fresh seeds, no store, no files), measures each
variant's mean score, SD and share of trials that finish ok, and prints per variant the trials needed
to detect a relative ``--drop`` with ``--power`` and the power at the config's ``trials_per_variant``.

The model is the gate's own test (``analysis.compare``): the candidate's scores are the baseline's
shifted down by ``drop × |mean|``; the one-sided Welch test against the budget (the baseline scaled by
``1 - max_regression``) rejects at ``alpha / k``, which is the first step of Holm over the
benchmark's ``k`` variants, the level at which one regressed variant among ``k`` unchanged ones is
tested. Its power comes from the noncentral t distribution with Welch's degrees of freedom.

``simulate_run`` draws whole runs from a pilot (a bootstrap of real trials, failures included), which
is how the tests and ``benchmarks/bench_gate_power.py`` check the false-alarm rate and the power at
the statistical level without running hundreds of benchmarks.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import stats as _scipy_stats

from meta_orchestrator.analysis.compare import compare_runs
from meta_orchestrator.analysis.formatting import (
    DASH,
    code_span,
    format_percent,
    format_setting_percent,
)
from meta_orchestrator.analysis.run_data import Moments, RunData, VariantData
from meta_orchestrator.core.config import SuiteConfig, load_config
from meta_orchestrator.core.execution import TrialRunner, experiment_scoring
from meta_orchestrator.core.running import RunningMoments
from meta_orchestrator.core.scoring import failure_score
from meta_orchestrator.core.trial import TrialSpec, trial_seed
from meta_orchestrator.guardrail.defaults import (
    DEFAULT_ALPHA,
    DEFAULT_BUDGET,
    DEFAULT_DROP,
    DEFAULT_PILOT_TRIALS,
    DEFAULT_POWER,
)

Key = tuple[str, str]


# ---------------------------------------------------------------------------------------- pilot
@dataclass(frozen=True)
class Pilot:
    """Scores of one variant's pilot trials; ``nan`` marks a trial that failed (no score)."""

    experiment: str
    variant: str
    scores: np.ndarray

    @property
    def key(self) -> Key:
        return (self.experiment, self.variant)

    @property
    def ok_fraction(self) -> float:
        return float(np.mean(~np.isnan(self.scores)))

    @cached_property
    def moments(self) -> Moments:
        return Moments.of_running(RunningMoments.from_array(self.scores))

    @cached_property
    def low_scores(self) -> np.ndarray:
        """Scores of the ok trials below the mean: what a trial that goes wrong looks like."""
        ok = self.scores[~np.isnan(self.scores)]
        return ok[ok < (self.moments.mean or 0.0)]


def _pilot_runner(config: SuiteConfig | str | Path) -> tuple[SuiteConfig, TrialRunner]:
    """The suite and a runner for its pilot trials: in this process, without a timeout (a pilot
    measures score spread, not latency)."""
    suite = config if isinstance(config, SuiteConfig) else load_config(config)
    runner = TrialRunner(
        suite.variants,
        suite.scoring_weights,
        timeout=None,
        base_dir=suite.base_dir,
        python_path=suite.resolved_python_path(),
        experiments=experiment_scoring(suite),
    )
    return suite, runner


def pilot_runs(
    config: SuiteConfig | str | Path, trials: int = DEFAULT_PILOT_TRIALS, seed: int = 7_919
) -> list[Pilot]:
    """Run ``trials`` trials of every variant of every enabled experiment, in this process.

    The seeds differ from any benchmark run's (they derive from ``seed`` and a ``pilot/`` prefix),
    so the pilot is an independent sample of each variant's score distribution. On a dataset the
    pilot cycles through its samples, so it draws from the same mix of easy and hard ones.
    """
    suite, runner = _pilot_runner(config)
    pilots = []
    for experiment in suite.enabled_experiments:
        dataset = suite.dataset(experiment.dataset) if experiment.dataset else None
        for variant in experiment.variants:
            tag = f"pilot/{experiment.name}/{variant}"
            scores = np.empty(trials)
            for i in range(trials):
                spec = TrialSpec("pilot", experiment.name, variant, i, trial_seed(seed, tag, i))
                if dataset is not None:
                    epoch, offset = divmod(i, len(dataset))
                    sample = dataset.samples[offset]
                    spec = replace(
                        spec, sample=sample, epoch=epoch, expose_target=dataset.expose_target
                    )
                score = runner.run(spec).score
                scores[i] = np.nan if score is None else score
            pilots.append(Pilot(experiment.name, variant, scores))
    return pilots


def simulate_run(
    pilots: Sequence[Pilot],
    trials: Mapping[Key, int],
    rng: np.random.Generator,
    *,
    drop: float = 0.0,
    planted: Collection[Key] = (),
    model: Literal["shift", "failures"] = "shift",
    run_id: str = "simulated",
) -> RunData:
    """A run drawn from the pilots: ``trials[key]`` bootstrap draws per variant, failures included.

    For each variant in ``planted``, the mean score drops by ``drop × |pilot mean|``. ``model="shift"``
    moves every score down (the spread stays: the textbook power model); ``model="failures"``
    replaces a share of the draws with draws from the variant's below-mean trials (a variant that
    fails more often, whose spread usually grows), falling back to a shift for constant scores.
    """
    variants = {}
    for pilot in pilots:
        n = trials[pilot.key]
        draws = pilot.scores[rng.integers(0, pilot.scores.size, size=n)]
        if drop and pilot.key in planted:
            draws = _plant(pilot, draws, drop, model, rng)
        moments = Moments.of_running(RunningMoments.from_array(draws))
        variants[pilot.key] = VariantData(
            pilot.experiment, pilot.variant, n, moments.n, {"score": moments}
        )
    return RunData(run_id, "simulated", "<simulation>", variants)


def _plant(
    pilot: Pilot, draws: np.ndarray, drop: float, model: str, rng: np.random.Generator
) -> np.ndarray:
    mean = pilot.moments.mean or 0.0
    low = pilot.low_scores
    if model == "shift" or low.size == 0:
        return draws - drop * abs(mean)
    share = drop * abs(mean) / (mean - float(low.mean()))  # mixture mean = mean - drop*|mean|
    replaced = rng.random(draws.size) < share
    out = draws.copy()
    out[replaced] = low[rng.integers(0, low.size, size=int(replaced.sum()))]
    return out


def simulated_fail_rate(
    pilots: Sequence[Pilot],
    trials: Mapping[Key, int],
    reps: int,
    rng: np.random.Generator,
    *,
    alpha: float = DEFAULT_ALPHA,
    budget: float = DEFAULT_BUDGET,
    drop: float = 0.0,
    planted: Collection[Key] = (),
    model: Literal["shift", "failures"] = "shift",
) -> tuple[float, float]:
    """Run ``reps`` simulated baseline/candidate pairs through ``compare_runs``.

    Returns the share of comparisons that fail the gate, and the share that fail it for a planted
    variant (a regression found where it was planted).
    """
    failed = found = 0
    for _ in range(reps):
        baseline = simulate_run(pilots, trials, rng)
        candidate = simulate_run(pilots, trials, rng, drop=drop, planted=planted, model=model)
        comparison = compare_runs(baseline, candidate, alpha=alpha, max_regression=budget)
        failed += comparison.failed
        found += any((r.experiment, r.variant) in planted for r in comparison.regressions)
    return failed / reps, found / reps


def planned_trials(config: SuiteConfig | str | Path) -> dict[Key, int]:
    """Trials per ``(experiment, variant)`` of the config's standard experiments."""
    suite = config if isinstance(config, SuiteConfig) else load_config(config)
    return {
        (e.name, v): suite.experiment_trials(e) // len(e.variants)
        for e in suite.enabled_experiments
        if e.orchestrator == "standard"
        for v in e.variants
    }


# ----------------------------------------------------------------------------------- the power
def gate_power(
    mean: float,
    sd: float,
    n_baseline: int,
    n_candidate: int,
    *,
    drop: float = DEFAULT_DROP,
    budget: float = DEFAULT_BUDGET,
    level: float = DEFAULT_ALPHA,
) -> float:
    """P(the one-sided Welch test against the budget rejects at ``level``) for a true ``drop``.

    Both samples have SD ``sd``; the candidate's mean is ``mean - drop*|mean|``.
    """
    if n_baseline < 2 or n_candidate < 2:
        return 0.0
    factor = 1.0 - budget * (1.0 if mean >= 0 else -1.0)
    shift = -(drop - budget) * abs(mean)  # candidate mean minus the budget threshold
    if sd == 0:
        return 1.0 if shift < 0 else 0.0
    var_c, var_b = sd * sd / n_candidate, factor * factor * sd * sd / n_baseline
    se = math.sqrt(var_c + var_b)
    df = (var_c + var_b) ** 2 / (var_c**2 / (n_candidate - 1) + var_b**2 / (n_baseline - 1))
    critical = float(_scipy_stats.t.ppf(1 - level, df))
    return float(_scipy_stats.nct.cdf(-critical, df, shift / se))


def required_trials(
    mean: float,
    sd: float,
    ok_fraction: float = 1.0,
    *,
    drop: float = DEFAULT_DROP,
    budget: float = DEFAULT_BUDGET,
    level: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
    limit: int = 10_000_000,
) -> int | None:
    """The fewest trials per variant (failures included) that reach ``power``; ``None`` if none do."""

    def reaches(n: int) -> bool:
        ok = int(n * ok_fraction)
        return gate_power(mean, sd, ok, ok, drop=drop, budget=budget, level=level) >= power

    if drop <= budget or ok_fraction <= 0:
        return None
    high = 2
    while not reaches(high):
        high *= 2
        if high > limit:
            return None
    low = high // 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if reaches(middle) else (middle, high)
    return high


@dataclass(frozen=True)
class PowerRow:
    experiment: str
    variant: str
    mean: float | None
    sd: float | None
    ok_fraction: float
    planned: int | None
    required: int | None
    power: float | None  # at the planned trials


def analyze(
    config: SuiteConfig | str | Path,
    *,
    alpha: float = DEFAULT_ALPHA,
    drop: float = DEFAULT_DROP,
    budget: float = DEFAULT_BUDGET,
    power: float = DEFAULT_POWER,
    pilot_trials: int = DEFAULT_PILOT_TRIALS,
    pilots: Sequence[Pilot] | None = None,
) -> tuple[list[PowerRow], float]:
    """Per-variant power analysis of a config; returns the rows and the level ``alpha / k`` used."""
    suite = config if isinstance(config, SuiteConfig) else load_config(config)
    pilots = pilots if pilots is not None else pilot_runs(suite, pilot_trials)
    planned = planned_trials(suite)
    level = alpha / max(1, len(pilots))
    rows = []
    for pilot in pilots:
        m = pilot.moments
        n = planned.get(pilot.key)
        if m.mean is None or m.sd is None:
            rows.append(PowerRow(*pilot.key, m.mean, m.sd, pilot.ok_fraction, n, None, None))
            continue
        settings = {"drop": drop, "budget": budget, "level": level}
        needed = required_trials(m.mean, m.sd, pilot.ok_fraction, power=power, **settings)
        ok = int((n or 0) * pilot.ok_fraction)
        reached = gate_power(m.mean, m.sd, ok, ok, **settings) if n else None
        rows.append(PowerRow(*pilot.key, m.mean, m.sd, pilot.ok_fraction, n, needed, reached))
    return rows, level


# ------------------------------------------------------------------------ paired, on a dataset
DEFAULT_PILOT_SAMPLES = 1000
DEFAULT_PILOT_EPOCHS = 2
EPOCH_CHOICES = (1, 2, 3, 4)


@dataclass(frozen=True)
class SamplePilot:
    """One variant's pilot on a dataset: ``scores[s, e]`` is its score on sample ``s``, epoch
    ``e`` (a failed trial scores as one that achieved nothing, as in the store)."""

    experiment: str
    variant: str
    scores: np.ndarray

    @property
    def key(self) -> Key:
        return (self.experiment, self.variant)

    @cached_property
    def components(self) -> Components:
        return Components.of(self.scores)


@dataclass(frozen=True)
class Components:
    """A variant's score split into a per-sample part and the noise of repeated attempts.

    ``between`` is the variance of the true per-sample means (σ_b², the spread of difficulty),
    ``within`` the variance of one attempt around its sample's mean (σ_w²). From a pilot with
    ``E`` epochs: σ_w² is the pooled within-sample variance and σ_b² = Var(per-sample means) −
    σ_w² / E (the one-way random-effects ANOVA estimates), floored at 0.
    """

    mean: float
    between: float
    within: float

    @classmethod
    def of(cls, scores: np.ndarray) -> Components:
        epochs = scores.shape[1]
        means = scores.mean(axis=1)
        within = float(scores.var(axis=1, ddof=1).mean()) if epochs > 1 else 0.0
        between = max(0.0, float(means.var(ddof=1)) - within / epochs)
        return cls(float(scores.mean()), between, within)

    def paired_variance(self, epochs: int, correlation: float) -> float:
        """Var of one sample's difference (candidate − baseline, ``epochs`` attempts each) when
        the two sides' true per-sample means correlate at ``correlation``."""
        return 2 * self.between * (1 - correlation) + 2 * self.within / epochs

    def unpaired_variance(self, epochs: int) -> float:
        """The same for independent samples on each side (what an unpaired test assumes)."""
        return 2 * (self.between + self.within / epochs)


def sample_pilot_runs(
    config: SuiteConfig | str | Path,
    samples: int = DEFAULT_PILOT_SAMPLES,
    epochs: int = DEFAULT_PILOT_EPOCHS,
    seed: int = 7_919,
) -> list[SamplePilot]:
    """Run every variant of every enabled dataset experiment on (up to) ``samples`` of its samples,
    ``epochs`` times each, in this process, with seeds no benchmark run uses."""
    suite, runner = _pilot_runner(config)
    pilots = []
    for experiment in suite.enabled_experiments:
        if experiment.dataset is None:
            continue
        dataset = suite.dataset(experiment.dataset)
        chosen = dataset.samples[:samples]
        failed = failure_score(0.0, suite.weights_for(experiment))
        for variant in experiment.variants:
            tag = f"pilot/{experiment.name}/{variant}"
            scores = np.empty((len(chosen), epochs))
            for i, sample in enumerate(chosen):
                for epoch in range(epochs):
                    index = i * epochs + epoch
                    spec = TrialSpec(
                        "pilot", experiment.name, variant, index, trial_seed(seed, tag, index),
                        sample=sample, epoch=epoch, expose_target=dataset.expose_target,
                    )  # fmt: skip
                    score = runner.run(spec).score
                    scores[i, epoch] = failed if score is None else score
            pilots.append(SamplePilot(experiment.name, variant, scores))
    return pilots


def pilot_correlations(pilots: Sequence[SamplePilot]) -> dict[Key, float]:
    """Per variant, the median correlation of its true per-sample means with the other variants'
    of its experiment (covariances of per-sample means are unbiased: the attempts' noise is
    independent), clipped to [0, 1]; 0 when no other variant varies.

    A changed version of a variant is assumed to agree with the original on which samples are
    hard at least as well as two different variants do: a conservative stand-in, since the
    candidate's code is not known when the benchmark is sized.
    """
    out = {}
    for pilot in pilots:
        c = pilot.components
        values = []
        for other in pilots:
            o = other.components
            if (
                other is pilot
                or other.experiment != pilot.experiment
                or not (c.between and o.between)
            ):
                continue
            cov = float(np.cov(pilot.scores.mean(axis=1), other.scores.mean(axis=1))[0, 1])
            values.append(cov / math.sqrt(c.between * o.between))
        out[pilot.key] = float(np.clip(np.median(values), 0.0, 1.0)) if values else 0.0
    return out


def design_power(
    mean: float,
    variance: float,
    samples: int,
    *,
    paired: bool,
    drop: float = DEFAULT_DROP,
    budget: float = DEFAULT_BUDGET,
    level: float = DEFAULT_ALPHA,
) -> float:
    """P(the one-sided t-test against the budget rejects at ``level``) for a true ``drop``, with
    ``samples`` samples and a per-sample difference of variance ``variance``: paired t on
    ``samples − 1`` df, or unpaired on ``2·samples − 2``. (The budget scales the baseline by
    ``1 − budget``; its effect on the variance, about 2·budget, is left out.)"""
    if samples < 2:
        return 0.0
    shift = -(drop - budget) * abs(mean)
    if variance <= 0:
        return 1.0 if shift < 0 else 0.0
    df = samples - 1 if paired else 2 * samples - 2
    se = math.sqrt(variance / samples)
    critical = float(_scipy_stats.t.ppf(1 - level, df))
    return float(_scipy_stats.nct.cdf(-critical, df, shift / se))


def required_samples(
    mean: float,
    variance: float,
    *,
    paired: bool,
    drop: float = DEFAULT_DROP,
    budget: float = DEFAULT_BUDGET,
    level: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
    limit: int = 10_000_000,
) -> int | None:
    """The fewest samples for ``power`` (bisection on ``design_power``); ``None`` if none do."""
    settings = {"paired": paired, "drop": drop, "budget": budget, "level": level}
    if drop <= budget:
        return None
    high = 2
    while design_power(mean, variance, high, **settings) < power:
        high *= 2
        if high > limit:
            return None
    low = high // 2
    while high - low > 1:
        middle = (low + high) // 2
        if design_power(mean, variance, middle, **settings) >= power:
            high = middle
        else:
            low = middle
    return high


@dataclass(frozen=True)
class PairedPowerRow:
    experiment: str
    variant: str
    components: Components
    correlation: float
    planned_samples: int
    planned_epochs: int
    power: float  # of the paired gate at the planned samples and epochs
    power_unpaired: float
    needed: dict[int, tuple[int | None, int | None]]  # epochs -> (paired, unpaired) samples


def analyze_paired(
    config: SuiteConfig | str | Path,
    *,
    alpha: float = DEFAULT_ALPHA,
    drop: float = DEFAULT_DROP,
    budget: float = DEFAULT_BUDGET,
    power: float = DEFAULT_POWER,
    pilot_samples: int = DEFAULT_PILOT_SAMPLES,
    pilot_epochs: int = DEFAULT_PILOT_EPOCHS,
    pilots: Sequence[SamplePilot] | None = None,
) -> tuple[list[PairedPowerRow], float]:
    """Per-variant power of the paired gate for a config's dataset experiments; returns the rows
    and the level ``alpha / k`` used (Holm's first step over the ``k`` variants)."""
    suite = config if isinstance(config, SuiteConfig) else load_config(config)
    pilots = pilots if pilots is not None else sample_pilot_runs(suite, pilot_samples, pilot_epochs)
    correlations = pilot_correlations(pilots)
    level = alpha / max(1, len(pilots))
    settings = {"drop": drop, "budget": budget, "level": level}
    experiments = {e.name: e for e in suite.enabled_experiments}
    rows = []
    for pilot in pilots:
        c, rho = pilot.components, correlations[pilot.key]
        experiment = experiments[pilot.experiment]
        samples = len(suite.dataset(experiment.dataset or ""))
        epochs = experiment.epochs
        needed = {
            e: (
                required_samples(c.mean, c.paired_variance(e, rho), paired=True, power=power, **settings),
                required_samples(c.mean, c.unpaired_variance(e), paired=False, power=power, **settings),
            )
            for e in EPOCH_CHOICES
        }  # fmt: skip
        rows.append(
            PairedPowerRow(
                pilot.experiment, pilot.variant, c, rho, samples, epochs,
                design_power(c.mean, c.paired_variance(epochs, rho), samples, paired=True, **settings),
                design_power(c.mean, c.unpaired_variance(epochs), samples, paired=False, **settings),
                needed,
            )
        )  # fmt: skip
    return rows, level


def format_paired_table(rows: Sequence[PairedPowerRow]) -> str:
    """The paired power analysis as Markdown: per variant, samples needed per epoch count."""
    heads = " | ".join(
        f"samples at {e} epoch{'' if e == 1 else 's'}: paired / unpaired" for e in EPOCH_CHOICES
    )
    lines = [
        f"| variant | mean | SD between samples | SD within | correlation | {heads} "
        "| power at planned (paired / unpaired) |",
        "|---|---:|---:|---:|---:|" + "---:|" * len(EPOCH_CHOICES) + "---:|",
    ]
    for r in rows:
        c = r.components
        cells = [
            code_span(r.variant, table=True), _fmt(c.mean), _fmt(math.sqrt(c.between)),
            _fmt(math.sqrt(c.within)), _fmt(r.correlation),
            *(f"{p or DASH} / {u or DASH}" for p, u in (r.needed[e] for e in EPOCH_CHOICES)),
            f"{format_percent(r.power)} / {format_percent(r.power_unpaired)}",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _paired_design_lines(rows: Sequence[PairedPowerRow]) -> list[str]:
    """Per epoch count: the samples the noisiest variant needs, and the trials that costs."""
    lines = []
    variants = len(rows)
    for e in EPOCH_CHOICES:
        paired = [r.needed[e][0] for r in rows]
        unpaired = [r.needed[e][1] for r in rows]
        if None in paired or None in unpaired or not rows:
            continue
        n_p, n_u = max(p for p in paired if p), max(u for u in unpaired if u)
        lines.append(
            f"- {e} epoch{'' if e == 1 else 's'}: paired {n_p} samples ({n_p * e * variants:,} "
            f"trials), unpaired {n_u} samples ({n_u * e * variants:,} trials)"
        )
    return lines


def format_table(rows: Sequence[PowerRow]) -> str:
    """The power analysis as a Markdown table."""
    lines = [
        "| variant | mean score | SD | scored trials | trials needed | trials planned | power |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {code_span(r.variant, table=True)} | {_fmt(r.mean)} | {_fmt(r.sd)} | "
            f"{format_percent(r.ok_fraction)} | {r.required or DASH} | {r.planned or DASH} | "
            f"{format_percent(r.power)} |"
        )
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return DASH if value is None else f"{value:.3f}"


def report(
    config: str | Path,
    *,
    alpha: float = DEFAULT_ALPHA,
    drop: float = DEFAULT_DROP,
    budget: float = DEFAULT_BUDGET,
    power: float = DEFAULT_POWER,
    pilot_trials: int = DEFAULT_PILOT_TRIALS,
) -> int:
    """Print the power analysis of ``config``; 1 if a variant falls short of ``power``, else 0.

    A config whose experiments run on datasets gets the paired analysis (``analyze_paired``).
    """
    suite = load_config(config)
    if any(e.dataset is not None for e in suite.enabled_experiments):
        return _report_paired(
            suite, str(config), alpha=alpha, drop=drop, budget=budget, power=power
        )
    rows, level = analyze(
        config, alpha=alpha, drop=drop, budget=budget, power=power, pilot_trials=pilot_trials
    )
    print(
        f"{config}: detect a {format_setting_percent(drop)} drop in mean score beyond a "
        f"{format_setting_percent(budget)} budget with {format_setting_percent(power)} power; "
        "one-sided Welch "
        f"at alpha {alpha:g} / {len(rows)} variants = {level:.5f} (Holm's first step); "
        f"pilot of {pilot_trials} trials per variant.\n"
    )
    print(format_table(rows))
    short = [r.variant for r in rows if r.power is not None and r.power < power]
    if short:
        print(f"\nbelow {format_setting_percent(power)} power: {', '.join(short)}")
        return 1
    return 0


def _report_paired(
    suite: SuiteConfig, name: str, *, alpha: float, drop: float, budget: float, power: float
) -> int:
    rows, level = analyze_paired(suite, alpha=alpha, drop=drop, budget=budget, power=power)
    planned = sorted({(r.planned_samples, r.planned_epochs) for r in rows})
    print(
        f"{name}: detect a {format_setting_percent(drop)} drop in mean score beyond a "
        f"{format_setting_percent(budget)} budget with {format_setting_percent(power)} power; "
        f"one-sided paired t (unpaired for contrast) at alpha {alpha:g} / {len(rows)} variants = "
        f"{level:.5f} (Holm's first step); pilot of {DEFAULT_PILOT_EPOCHS} epochs on up to "
        f"{DEFAULT_PILOT_SAMPLES} samples per variant; planned (samples, epochs): "
        f"{', '.join(f'({n}, {e})' for n, e in planned)}.\n"
        "The candidate is modelled as agreeing with the baseline on which samples are hard as "
        "well as the config's variants agree with each other (the correlation column).\n"
    )
    print(format_paired_table(rows))
    print("\nSamples the noisiest variant needs (every variant runs each sample every epoch):")
    print("\n".join(_paired_design_lines(rows)))
    short = [r.variant for r in rows if r.power < power]
    if short:
        print(f"\nbelow {format_setting_percent(power)} power: {', '.join(short)}")
        return 1
    return 0


if __name__ == "__main__":
    from meta_orchestrator.cli import main

    sys.exit(main(["power", *sys.argv[1:]]))
