"""The configuration file, as pydantic models, and ``load_config`` which turns YAML into them.

Every model forbids unknown keys. ``load_config`` reports *all* problems at once, one line per field,
each starting with the dotted path of the offending key (``experiments[1].mab_settings.strategy: must
be one of ...``) and ending, for a file, with its line; it raises ``ConfigError`` before anything is
written anywhere. ``build_config`` validates in passes that each run whatever the one before found:
structure (pydantic, and ``config_input``'s checks of the raw bytes and numbers), then the user's
``modules``, names and imports, then metrics. Datasets are read once nothing else is wrong, so a
missing file or a bad line is such a problem too (``datasets.qa: data/qa.jsonl line 3: not valid
JSON ...``); the loaded samples stay with the config.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, PrivateAttr, Strict, TypeAdapter, ValidationError, model_validator

from meta_orchestrator.core.config_datasets import (
    check_dataset_use,
    check_experiment_weights,
    check_scorers_against_samples,
    read_datasets,
    scorer_metrics,
)
from meta_orchestrator.core.config_input import (
    annotate,
    number_problems,
    parse_yaml,
    read_config_bytes,
)
from meta_orchestrator.core.datasets import SOURCES, Dataset, LoadedSamples, dataset_config_type
from meta_orchestrator.core.epochs import REDUCER_NAMES
from meta_orchestrator.core.kinds import KINDS, kind_of, variant_config_type
from meta_orchestrator.core.models import (
    Count,
    Name,
    Positive,
    Probability,
    Seconds,
    Seed,
    StrictModel,
)
from meta_orchestrator.core.paths import extra_sys_path
from meta_orchestrator.core.registry import import_modules
from meta_orchestrator.core.reply import DEFAULT_MAX_OUTPUT_BYTES
from meta_orchestrator.core.scorers import SCORERS, label, scorer_config_type
from meta_orchestrator.core.scoring import reward_model
from meta_orchestrator.errors import ConfigError

BUILTIN_METRICS: tuple[str, ...] = ("success", "cost", "autonomy", "latency")
# The one list of each: orchestrators and backends map these names to their classes.
ORCHESTRATOR_NAMES: tuple[str, ...] = ("standard", "mab")
STRATEGY_NAMES: tuple[str, ...] = ("epsilon_greedy", "ucb1", "thompson_sampling")
BACKEND_NAMES: tuple[str, ...] = ("local", "threads", "ray")
REWARD_NAMES: tuple[str, ...] = ("auto", "bernoulli", "gaussian")
STOP_RULES: tuple[str, ...] = ("posterior", "anytime_valid")

# ``modules``: the user's modules imported (relative to ``python_path``) before names are checked.
ModuleName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")]

VariantConfig = variant_config_type()
DatasetConfig = dataset_config_type()
ScorerConfig = scorer_config_type()
# Where a discriminated union's tag appears in an error's location, and the names it may take.
_UNION_TAGS: dict[str, Any] = {"variants": KINDS, "datasets": SOURCES, "scorers": SCORERS}

__all__ = [
    "BACKEND_NAMES",
    "BUILTIN_METRICS",
    "ORCHESTRATOR_NAMES",
    "STOP_RULES",
    "STRATEGY_NAMES",
    "BackendConfig",
    "Budget",
    "DatasetConfig",
    "EarlyStop",
    "ExperimentConfig",
    "MabSettings",
    "RaySettings",
    "ScorerConfig",
    "StorageSettings",
    "SuiteConfig",
    "TrialSettings",
    "VariantConfig",
    "build_config",
    "load_config",
    "parse_config_text",
]


# ------------------------------------------------------------------------------------ experiments
class EarlyStop(StrictModel):
    """Stop a bandit once one variant is clearly the best, by one of ``STOP_RULES``.

    ``posterior`` (the default): its posterior probability of being the best reaches
    ``probability_best``. ``anytime_valid``: its anytime-valid confidence sequence
    (``core.confseq``) lies above every other variant's, so the chance of stopping on a worse
    variant is at most ``alpha`` however often the rule looks; it needs the scores' bounds
    (``score_bounds``) unless the reward is Bernoulli. Every variant first gets
    ``min_trials_per_variant`` trials, so no posterior is a guess.
    """

    stop_rule: Literal[STOP_RULES] = "posterior"  # type: ignore[valid-type]
    probability_best: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    alpha: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.05
    score_bounds: tuple[float, float] | None = None
    min_trials_per_variant: Annotated[int, Strict(), Field(ge=2)] = 5
    check_every: Count = 10

    @model_validator(mode="after")
    def _settings_match_rule(self) -> EarlyStop:
        anytime = self.stop_rule == "anytime_valid"
        unused = {"alpha", "score_bounds"} if not anytime else {"probability_best"}
        misplaced = sorted(unused & self.model_fields_set)
        if misplaced:
            raise ValueError(f"{misplaced[0]}: not used by stop_rule '{self.stop_rule}'")
        if self.score_bounds is not None:
            low, high = self.score_bounds
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(f"score_bounds: must be finite with low < high, got {[low, high]}")
        return self


class MabSettings(StrictModel):
    strategy: Literal[STRATEGY_NAMES] = "thompson_sampling"  # type: ignore[valid-type]
    total_trials: Count
    epsilon: Probability = 0.1
    ucb_c: Positive = math.sqrt(2.0)
    reward: Literal[REWARD_NAMES] = "auto"  # type: ignore[valid-type]
    early_stop: EarlyStop | None = None


class ExperimentConfig(StrictModel):
    """One experiment. Without a ``dataset`` a trial is "run the variant once with a seed"; with
    one, every variant runs on the dataset's samples, ``epochs`` times each (``standard``: all of
    them; ``mab``: ``total_trials`` of them, chosen by the bandit), judged by ``scorers``.

    ``scoring_weights`` here replaces the run's for this experiment; with exactly one scorer and no
    weights anywhere, the score is that scorer's value. ``reducer`` and ``pass_k`` say how the
    per-sample reports reduce the epochs (``core.epochs``); ``pass_k`` defaults to ``epochs``.
    """

    name: Name
    variants: Annotated[list[Name], Field(min_length=1)]
    enabled: bool = True
    orchestrator: Literal[ORCHESTRATOR_NAMES] = "standard"  # type: ignore[valid-type]
    trials_per_variant: Count | None = None
    mab_settings: MabSettings | None = None
    dataset: Name | None = None
    epochs: Annotated[int, Strict(), Field(ge=1, le=10_000)] = 1
    scorers: list[ScorerConfig] = Field(default_factory=list)  # type: ignore[valid-type]
    scoring_weights: dict[Name, float] | None = None
    reducer: Literal[REDUCER_NAMES] = "mean"  # type: ignore[valid-type]
    pass_k: Count | None = None

    @model_validator(mode="after")
    def _settings_match_orchestrator(self) -> ExperimentConfig:
        if len(set(self.variants)) != len(self.variants):
            raise ValueError("variants: each variant may appear only once")
        if self.orchestrator == "standard" and self.trials_per_variant is None and not self.dataset:
            raise ValueError("trials_per_variant: required when orchestrator is 'standard'")
        if self.orchestrator == "mab" and self.mab_settings is None:
            raise ValueError("mab_settings: required when orchestrator is 'mab'")
        self._check_samples()
        return self

    def _check_samples(self) -> None:
        if self.dataset is not None and self.trials_per_variant is not None:
            raise ValueError(
                "trials_per_variant: not used with a dataset: every variant runs every sample "
                "'epochs' times (use the dataset's limit for fewer)"
            )
        if self.dataset is None:
            if self.epochs != 1:
                raise ValueError("epochs: needs a dataset (without one, set trials_per_variant)")
            if self.scorers:
                raise ValueError("scorers: need a dataset (a scorer compares outputs with samples)")
        if self.pass_k is not None and self.pass_k > self.epochs:
            raise ValueError(f"pass_k: must be at most epochs ({self.epochs}), got {self.pass_k}")
        labels = [label(s) for s in self.scorers]
        for name in labels:
            if labels.count(name) > 1:
                raise ValueError(
                    f"scorers: two scorers are named '{name}'; give one of them another 'name'"
                )

    @property
    def k(self) -> int:
        """The k of pass@k and pass^k in reports."""
        return self.pass_k or self.epochs

    def planned_trials_over(self, samples: int | None) -> int:
        """Trials planned over a dataset of ``samples`` samples (``None``: no dataset)."""
        variants = len(self.variants)
        if samples is None:
            if self.orchestrator == "mab":
                assert self.mab_settings is not None
                return self.mab_settings.total_trials
            assert self.trials_per_variant is not None
            return self.trials_per_variant * variants
        capacity = samples * self.epochs * variants
        if self.orchestrator == "mab":
            assert self.mab_settings is not None
            return min(self.mab_settings.total_trials, capacity)
        return capacity


# ------------------------------------------------------------------------------- run-wide settings
class TrialSettings(StrictModel):
    """``max_output_bytes``: how much of each trial's ``output`` the store keeps (its JSON size)."""

    timeout_seconds: Seconds | None = 60.0
    retries: Annotated[int, Strict(), Field(ge=0, le=10)] = 0
    max_output_bytes: Annotated[int, Strict(), Field(ge=0, le=1 << 30)] = DEFAULT_MAX_OUTPUT_BYTES


class Budget(StrictModel):
    max_cost: Positive | None = None
    max_seconds: Seconds | None = None


class RaySettings(StrictModel):
    """``execution_backend.ray_settings``; see ``meta_orchestrator.backends.ray`` for each field.

    ``executor`` says how trials reach Ray: ``"tasks"``, one Ray task per trial (workers are
    leased per task; a worker that dies costs only its own trial a retry), or ``"actors"``, a
    pool of threaded actors each running up to ``trials_per_actor`` trials at once (fewer
    processes, less Ray work per trial; a worker death takes every trial running in that actor
    with it).
    """

    address: str | None = None
    num_cpus: Count | None = None
    num_cpus_per_trial: Annotated[float, Field(gt=0.0, le=64.0)] = 0.25
    max_task_retries: Annotated[int, Strict(), Field(ge=0, le=10)] = 2
    runtime_env: dict[str, Any] | None = None
    executor: Literal["tasks", "actors"] = "tasks"
    trials_per_actor: Annotated[int, Strict(), Field(ge=1, le=256)] = 16


class BackendConfig(StrictModel):
    type: Literal[BACKEND_NAMES] = "local"  # type: ignore[valid-type]
    max_in_flight: Annotated[int, Strict(), Field(ge=1, le=10_000)] | None = None
    ray_settings: RaySettings = Field(default_factory=RaySettings)

    @property
    def in_flight(self) -> int:
        """Trials kept running at once; the sequential backend always runs one."""
        if self.type == "local":
            return 1
        return self.max_in_flight or 8


class StorageSettings(StrictModel):
    """Where this config's runs go; unset keys follow ``core.paths`` (``./results/`` by default)."""

    db: str | None = None
    results_dir: str | None = None


class SuiteConfig(StrictModel):
    """A whole ``config.yaml``: the variants, how to score them and which experiments to run."""

    name: Name = "experiment"
    description: str = ""
    seed: Seed = 0
    python_path: list[str] = Field(default_factory=lambda: ["."])
    modules: list[ModuleName] = Field(default_factory=list)
    variants: Annotated[dict[Name, VariantConfig], Field(min_length=1)]
    datasets: dict[Name, DatasetConfig] = Field(default_factory=dict)  # type: ignore[valid-type]
    scoring_weights: dict[Name, float] = Field(default_factory=lambda: {"success": 1.0})
    custom_metrics: list[Name] = Field(default_factory=list)
    experiments: Annotated[list[ExperimentConfig], Field(min_length=1)]
    trial: TrialSettings = Field(default_factory=TrialSettings)
    budget: Budget = Field(default_factory=Budget)
    execution_backend: BackendConfig = Field(default_factory=BackendConfig)
    storage: StorageSettings = Field(default_factory=StorageSettings)

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _loaded: dict[str, tuple[str, LoadedSamples]] = PrivateAttr(default_factory=dict)
    _selected: dict[str, Dataset] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _one_scorer_scores(cls, data: Any) -> Any:
        """With no ``scoring_weights`` anywhere, an experiment with one scorer scores its value.

        Written into the experiment, so the config snapshot (and a resume) says what was used.
        """
        if not isinstance(data, Mapping) or "scoring_weights" in data:
            return data
        experiments = data.get("experiments")
        if not isinstance(experiments, list):
            return data
        changed = []
        for experiment in experiments:
            scorers = experiment.get("scorers") if isinstance(experiment, Mapping) else None
            if (
                isinstance(scorers, list)
                and len(scorers) == 1
                and isinstance(scorers[0], Mapping)
                and experiment.get("scoring_weights") is None
            ):
                name = scorers[0].get("name") or scorers[0].get("type")
                if isinstance(name, str):
                    experiment = {**experiment, "scoring_weights": {name: 1.0}}
            changed.append(experiment)
        return {**data, "experiments": changed}

    @property
    def base_dir(self) -> Path:
        """Directory relative paths in the config are resolved against (the config file's folder)."""
        return self._base_dir

    @property
    def enabled_experiments(self) -> list[ExperimentConfig]:
        return [e for e in self.experiments if e.enabled]

    @property
    def planned_trials(self) -> int:
        return sum(self.experiment_trials(e) for e in self.enabled_experiments)

    def experiment_trials(self, experiment: ExperimentConfig) -> int:
        """The trials ``experiment`` plans in this run (over its dataset's selected samples)."""
        size = None if experiment.dataset is None else len(self.dataset(experiment.dataset))
        return experiment.planned_trials_over(size)

    def dataset(self, name: str) -> Dataset:
        """The samples dataset ``name`` gives this run (after ``sample_ids``, shuffle, ``limit``)."""
        try:
            return self._selected[name]
        except KeyError:
            raise ConfigError(
                f"dataset '{name}' is not loaded (a config built without its datasets)"
            ) from None

    def attach_datasets(self, datasets: Mapping[str, Dataset]) -> None:
        """Use these samples (a resumed run's, read from its store) instead of reading sources."""
        self._selected.update(datasets)

    def keep_dataset(self, name: str, key: str, loaded: LoadedSamples, selected: Dataset) -> None:
        """Remember a dataset read while loading: every sample (``key`` names the source settings,
        so an override that leaves them alone reuses them) and this run's selection."""
        self._loaded[name] = (key, loaded)
        self._selected[name] = selected

    def weights_for(self, experiment: ExperimentConfig) -> dict[str, float]:
        """The scoring weights of one experiment: its own, else the run's."""
        if experiment.scoring_weights is not None:
            return dict(experiment.scoring_weights)
        return dict(self.scoring_weights)

    def known_metrics(self) -> set[str]:
        declared = set(BUILTIN_METRICS) | set(self.custom_metrics)
        for variant in self.variants.values():
            declared |= kind_of(variant).metrics(variant)
        for experiment in self.experiments:
            declared |= scorer_metrics(experiment)
        return declared

    def experiment_metrics(self, experiment: ExperimentConfig) -> set[str]:
        """Metrics the trials of ``experiment`` can carry: built-in, declared, its scorers'."""
        declared = set(BUILTIN_METRICS) | set(self.custom_metrics) | scorer_metrics(experiment)
        for name in experiment.variants:
            variant = self.variants.get(name)
            if variant is not None:
                declared |= kind_of(variant).metrics(variant)
        return declared

    def resolved_python_path(self) -> list[str]:
        return [str((self.base_dir / p).resolve()) for p in self.python_path]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    def with_overrides(self, **changes: Any) -> SuiteConfig:
        """A copy with top-level fields replaced (``seed``, ``storage`` ...), validated again.

        Datasets whose source settings did not change are not read again.
        """
        data = self.model_dump(mode="python", exclude_unset=True)
        data.update(changes)
        return build_config(data, base_dir=self.base_dir, loaded=self._loaded)

    def with_selection(
        self, limit: int | None = None, sample_ids: list[str] | None = None
    ) -> SuiteConfig:
        """A copy running fewer samples (``run --limit N`` / ``--sample ID``), written into the
        config of every dataset an enabled experiment uses, so the snapshot says what ran."""
        if limit is None and not sample_ids:
            return self
        used = sorted({e.dataset for e in self.enabled_experiments if e.dataset})
        option = "--limit" if limit is not None else "--sample"
        if not used:
            raise ConfigError(
                f"{option}: no enabled experiment has a dataset", [f"{option}: no dataset"]
            )
        data = self.model_dump(mode="python", exclude_unset=True)
        for name in used:
            current = self.datasets[name]
            changes = data["datasets"][name]
            if limit is not None:
                changes["limit"] = min(limit, current.limit or limit)
            if sample_ids:
                chosen = current.sample_ids
                outside = [i for i in sample_ids if chosen is not None and i not in chosen]
                if outside:
                    problem = (
                        f"--sample: {', '.join(map(repr, outside))} not among "
                        f"datasets.{name}.sample_ids"
                    )
                    raise ConfigError(problem, [problem])
                changes["sample_ids"] = list(dict.fromkeys(sample_ids))
        return build_config(data, base_dir=self.base_dir, loaded=self._loaded)


# ----------------------------------------------------------------------------------------- loading
def load_config(source: str | Path | Mapping[str, Any]) -> SuiteConfig:
    """Read and validate a config file (or an already-parsed mapping). Raises ``ConfigError``."""
    if isinstance(source, Mapping):
        return build_config(source, base_dir=Path.cwd())
    path = Path(source)
    data, lines = parse_yaml(read_config_bytes(path), str(path))
    return build_config(data, base_dir=path.resolve().parent, source=str(path), lines=lines)


def parse_config_text(
    text: str, base_dir: Path | None = None, *, load_datasets: bool = True
) -> SuiteConfig:
    """Validate config YAML given as text (the dashboard's editor uses this; ``resume`` passes
    ``load_datasets=False`` and attaches the samples its run stored)."""
    data, lines = parse_yaml(text, "<config>")
    return build_config(
        data, base_dir=base_dir or Path.cwd(), load_datasets=load_datasets, lines=lines
    )


def build_config(
    data: Any,
    *,
    base_dir: Path,
    source: str = "config",
    load_datasets: bool = True,
    loaded: Mapping[str, tuple[str, LoadedSamples]] | None = None,
    lines: Mapping[str, int] | None = None,
) -> SuiteConfig:
    """Validate ``data`` in passes that each run whatever the one before found (structure; the
    user's ``modules``, names and imports; metrics), and raise one ``ConfigError`` listing every
    problem. Datasets are read (``load_datasets``) only once nothing else is wrong, reusing the
    samples in ``loaded`` for datasets whose source settings are unchanged."""
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{source}: the top level must be a mapping of keys", ["<root>: must be a mapping"]
        )
    problems = number_problems(data)
    try:
        config = SuiteConfig.model_validate(dict(data))
    except ValidationError as exc:
        reported = {p.partition(": ")[0] for p in problems}
        problems += [
            p for p in map(_describe, exc.errors()) if p.partition(": ")[0] not in reported
        ]
        config = _salvage(dict(data))
    config._base_dir = base_dir
    problems += _cross_check(config, data)
    if load_datasets and not problems:
        unreadable = read_datasets(config, dict(loaded or {}))
        problems += unreadable or check_scorers_against_samples(config)
    if problems:
        where = source if source != "config" else "<config>"
        raise _config_error(source, [annotate(p, lines or {}, where) for p in problems])
    return config


def _salvage(data: dict[str, Any]) -> SuiteConfig:
    """The parts of an invalid config that are valid on their own, for the later passes: each
    top-level field, each variant; the experiments only if every one of them is valid (their
    problems are reported by index). An invalid part takes its default, or is left out."""
    data = SuiteConfig._one_scorer_scores(data)
    fields: dict[str, Any] = {}
    for name, info in SuiteConfig.model_fields.items():
        if name not in data:
            continue
        value = data[name]
        one = {"variants": VariantConfig, "datasets": DatasetConfig}.get(name)
        if one is not None and isinstance(value, Mapping):
            fields[name] = {k: v for k, item in value.items() if (v := _valid(one, item))}
            continue
        parsed = _valid(info.annotation, value)
        if parsed is not None:
            fields[name] = parsed
    fields.setdefault("variants", {})
    fields.setdefault("experiments", [])
    return SuiteConfig.model_construct(**fields)


def _valid(annotation: Any, value: Any) -> Any:
    try:
        return TypeAdapter(annotation).validate_python(value)
    except ValidationError:
        return None


def _config_error(source: str, problems: list[str]) -> ConfigError:
    lines = "\n".join(f"  - {p}" for p in problems)
    noun = "problem" if len(problems) == 1 else "problems"
    return ConfigError(f"invalid config {source} ({len(problems)} {noun}):\n{lines}", problems)


def _cross_check(config: SuiteConfig, data: Mapping[str, Any]) -> list[str]:
    """The passes after structure: the user's modules, then names and imports, then metrics.

    ``config`` may be salvaged from an invalid one (``_salvage``): experiment names are read from
    ``data`` so their indices stay right, and the metric pass runs only when every variant and
    ``custom_metrics`` are valid, since it cannot know otherwise what the trials carry.
    """
    python_path = config.resolved_python_path()
    problems = _import_user_modules(config.modules, python_path)
    problems += _unknown_variants(data)
    names = [e.name for e in config.experiments]
    for i, name in enumerate(names):
        if names.index(name) != i:
            problems.append(f"experiments[{i}].name: duplicate experiment name '{name}'")
    if config.experiments and not config.enabled_experiments:
        problems.append("experiments: every experiment is disabled; enable at least one")
    for name, variant in config.variants.items():
        problems.extend(kind_of(variant).check(name, variant, python_path))
    datasets = data.get("datasets")
    names = list(map(str, datasets)) if isinstance(datasets, Mapping) else None
    problems.extend(check_dataset_use(config, python_path, names))
    variants = data.get("variants")
    complete = (
        isinstance(variants, Mapping)
        and len(variants) == len(config.variants)
        and data.get("custom_metrics", []) == config.custom_metrics
    )
    return problems + (_check_metrics(config) if complete else [])


def _import_user_modules(modules: list[str], python_path: list[str]) -> list[str]:
    problems = []
    with extra_sys_path(python_path):
        for i, module in enumerate(modules):
            try:
                import_modules([module])
            except ConfigError as exc:
                problems.append(f"modules[{i}]: {exc}")
    return problems


def _unknown_variants(data: Mapping[str, Any]) -> list[str]:
    """Experiments naming a variant the config does not define (read from the raw data)."""
    variants, experiments = data.get("variants"), data.get("experiments")
    if not isinstance(variants, Mapping) or not isinstance(experiments, list):
        return []
    defined = ", ".join(sorted(map(str, variants)))
    problems = []
    for i, experiment in enumerate(experiments):
        names = experiment.get("variants") if isinstance(experiment, Mapping) else None
        for j, name in enumerate(names if isinstance(names, list) else []):
            if isinstance(name, str) and name not in variants:
                problems.append(
                    f"experiments[{i}].variants[{j}]: unknown variant '{name}' (defined: {defined})"
                )
    return problems


def _check_metrics(config: SuiteConfig) -> list[str]:
    problems = []
    known = config.known_metrics()
    for metric in config.scoring_weights:
        if metric not in known:
            problems.append(
                f"scoring_weights.{metric}: unknown metric '{metric}' (known: "
                f"{', '.join(sorted(known))}; declare your own under custom_metrics)"
            )
    problems.extend(check_experiment_weights(config, known))
    return problems + _check_rewards(config)


def _check_rewards(config: SuiteConfig) -> list[str]:
    problems = []
    for i, experiment in enumerate(config.experiments):
        if experiment.mab_settings is None:
            continue
        try:
            bernoulli, _ = reward_model(
                experiment.mab_settings.reward, config.weights_for(experiment)
            )
        except ValueError as exc:
            problems.append(f"experiments[{i}].mab_settings.reward: {exc}")
            continue
        stop = experiment.mab_settings.early_stop
        if stop and stop.stop_rule == "anytime_valid" and not bernoulli and not stop.score_bounds:
            problems.append(
                f"experiments[{i}].mab_settings.early_stop.score_bounds: required by stop_rule "
                "'anytime_valid' when the reward is not Bernoulli: the lowest and highest score "
                "a trial can get, e.g. [0, 1]"
            )
    return problems


def _describe(error: Mapping[str, Any]) -> str:
    path = _format_loc(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        message = "unknown key"
    elif kind == "missing":
        message = "required field is missing"
    elif kind == "literal_error":
        message = f"must be one of {ctx.get('expected', '')} (got {error.get('input')!r})"
    elif kind == "union_tag_invalid":
        message = f"type must be one of {ctx.get('expected_tags', '')} (got {ctx.get('tag')!r})"
    elif kind == "union_tag_not_found":
        tags = next((t for c, t in _UNION_TAGS.items() if c in error["loc"]), KINDS)
        message = f"type is required (one of {', '.join(repr(k) for k in tags)})"
    elif kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
        if ": " in message and not message.startswith(" "):
            field, _, rest = message.partition(": ")
            if field.isidentifier():
                path = f"{path}.{field}" if path else field
                message = rest
    else:
        message = error["msg"][:1].lower() + error["msg"][1:]
        if "input" in error and kind not in ("missing",):
            message += f" (got {error['input']!r})"
    return f"{path or '<root>'}: {message}"


def _format_loc(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for i, item in enumerate(loc):
        if isinstance(item, int):
            parts.append(f"[{item}]")
            continue
        # A discriminated union puts the tag ('simulated', 'jsonl', 'exact') into the path: drop it.
        if i >= 2 and item in _UNION_TAGS.get(str(loc[i - 2]), ()):
            continue
        parts.append(("." if parts else "") + str(item))
    return "".join(parts)
