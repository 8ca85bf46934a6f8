"""The part of loading a config that concerns samples: reading datasets and checking scorers.

Kept apart from ``config`` (which calls it from ``build_config``) because it reads files and imports
user code, while the rest of the config is pure validation. Every function returns problem lines
(``"datasets.qa: data/qa.jsonl line 3: ..."``) and never raises for a user's mistake.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from meta_orchestrator.core.datasets import (
    DatasetError,
    LoadContext,
    LoadedSamples,
    load_samples,
    select,
    source_of,
)
from meta_orchestrator.core.scorers import scorer_kind

if TYPE_CHECKING:
    from meta_orchestrator.core.config import ExperimentConfig, SuiteConfig

# Dataset options that choose among the samples; changing them needs no new read of the source.
SELECTION_FIELDS = {"description", "limit", "shuffle", "sample_ids", "expose_target"}


def scorer_metrics(experiment: ExperimentConfig) -> set[str]:
    """Every metric the experiment's scorers put on its trials."""
    metrics: set[str] = set()
    for scorer in experiment.scorers:
        metrics |= scorer_kind(scorer).metrics(scorer)
    return metrics


def check_experiment_weights(config: SuiteConfig, known: set[str]) -> list[str]:
    """Every weighted metric must be one the experiment's trials can carry."""
    problems = []
    from_scorers = set().union(*(scorer_metrics(e) for e in config.experiments))
    for i, experiment in enumerate(config.experiments):
        produced = config.experiment_metrics(experiment)
        if experiment.scoring_weights is not None:
            for metric in experiment.scoring_weights:
                if metric not in produced:
                    problems.append(
                        f"experiments[{i}].scoring_weights.{metric}: unknown metric '{metric}' "
                        f"(known here: {', '.join(sorted(produced))})"
                    )
            continue
        for metric in config.scoring_weights:
            if metric in known and metric not in produced and metric in from_scorers:
                problems.append(
                    f"scoring_weights.{metric}: experiment '{experiment.name}' has no scorer "
                    f"producing '{metric}'; give it scoring_weights of its own"
                )
    return problems


def check_dataset_use(
    config: SuiteConfig, python_path: list[str], names: Collection[str] | None = None
) -> list[str]:
    """Datasets named by experiments exist (among ``names``, the defined ones even if invalid;
    by default ``config.datasets``); sources and scorers import what they name."""
    problems = []
    context = LoadContext(config.base_dir, python_path)
    for name, dataset in config.datasets.items():
        problems.extend(f"datasets.{name}.{p}" for p in source_of(dataset).check(dataset, context))
    known = set(config.datasets if names is None else names)
    defined = ", ".join(sorted(known)) or "none"
    for i, experiment in enumerate(config.experiments):
        if experiment.dataset is not None and experiment.dataset not in known:
            problems.append(
                f"experiments[{i}].dataset: unknown dataset '{experiment.dataset}' "
                f"(defined: {defined})"
            )
        for j, scorer in enumerate(experiment.scorers):
            problems.extend(
                f"experiments[{i}].scorers[{j}].{p}"
                for p in scorer_kind(scorer).check(scorer, python_path)
            )
    return problems


def read_datasets(config: SuiteConfig, loaded: dict[str, tuple[str, LoadedSamples]]) -> list[str]:
    """Read every dataset (reusing ``loaded`` where the source is unchanged) and select this run's
    samples; a problem line per dataset that cannot be read."""
    problems = []
    context = LoadContext(config.base_dir, config.resolved_python_path())
    for name, dataset in config.datasets.items():
        key = dataset.model_dump_json(exclude=SELECTION_FIELDS)
        try:
            if name in loaded and loaded[name][0] == key:
                samples = loaded[name][1]
            else:
                samples = load_samples(dataset, context)
            config.keep_dataset(name, key, samples, select(name, samples, dataset, config.seed))
        except DatasetError as exc:
            problems.append(f"datasets.{name}: {exc}")
    return problems


def check_scorers_against_samples(config: SuiteConfig) -> list[str]:
    """Scorers that compare with targets need them, of the right kind, on every sample."""
    problems = []
    for i, experiment in enumerate(config.experiments):
        if experiment.dataset is None or experiment.dataset not in config._selected:
            continue
        dataset = config._selected[experiment.dataset]
        for j, scorer in enumerate(experiment.scorers):
            kind = scorer_kind(scorer)
            where = f"experiments[{i}].scorers[{j}]"
            if not kind.needs_target(scorer):
                continue
            if not dataset.has_targets:
                problems.append(
                    f"{where}: the '{scorer.type}' scorer compares with targets and dataset "
                    f"'{dataset.name}' has none (set its target_field)"
                )
                continue
            for sample in dataset.samples:
                problem = kind.check_sample(scorer, sample)
                if problem is not None:
                    problems.append(
                        f"{where}: sample '{sample.id}' of dataset '{dataset.name}': {problem}"
                    )
                    break
    return problems
