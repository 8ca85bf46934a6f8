"""The configuration file, as pydantic models, and ``load_config`` which turns YAML into them.

Every model forbids unknown keys. ``load_config`` reports *all* problems at once, one line per field,
each starting with the dotted path of the offending key (``experiments[1].mab_settings.strategy: must
be one of ...``), and raises ``ConfigError`` before anything is written anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, PositiveInt, PrivateAttr, ValidationError, model_validator

from meta_orchestrator.core.kinds import KINDS, kind_of, variant_config_type
from meta_orchestrator.core.models import Name, Positive, Probability, StrictModel
from meta_orchestrator.core.scoring import reward_model
from meta_orchestrator.errors import ConfigError

BUILTIN_METRICS: tuple[str, ...] = ("success", "cost", "autonomy", "latency")
# The one list of each: orchestrators and backends map these names to their classes.
ORCHESTRATOR_NAMES: tuple[str, ...] = ("standard", "mab")
STRATEGY_NAMES: tuple[str, ...] = ("epsilon_greedy", "ucb1", "thompson_sampling")
BACKEND_NAMES: tuple[str, ...] = ("local", "threads", "ray")
REWARD_NAMES: tuple[str, ...] = ("auto", "bernoulli", "gaussian")

VariantConfig = variant_config_type()

__all__ = [
    "BACKEND_NAMES",
    "BUILTIN_METRICS",
    "ORCHESTRATOR_NAMES",
    "STRATEGY_NAMES",
    "BackendConfig",
    "Budget",
    "EarlyStop",
    "ExperimentConfig",
    "MabSettings",
    "RaySettings",
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
    """Stop a bandit once one variant's posterior probability of being the best reaches a threshold.

    Every variant first gets ``min_trials_per_variant`` trials, so no posterior is a guess.
    """

    probability_best: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    min_trials_per_variant: Annotated[int, Field(ge=2)] = 5
    check_every: PositiveInt = 10


class MabSettings(StrictModel):
    strategy: Literal[STRATEGY_NAMES] = "thompson_sampling"  # type: ignore[valid-type]
    total_trials: PositiveInt
    epsilon: Probability = 0.1
    ucb_c: Positive = math.sqrt(2.0)
    reward: Literal[REWARD_NAMES] = "auto"  # type: ignore[valid-type]
    early_stop: EarlyStop | None = None


class ExperimentConfig(StrictModel):
    name: Name
    variants: Annotated[list[Name], Field(min_length=1)]
    enabled: bool = True
    orchestrator: Literal[ORCHESTRATOR_NAMES] = "standard"  # type: ignore[valid-type]
    trials_per_variant: PositiveInt | None = None
    mab_settings: MabSettings | None = None

    @model_validator(mode="after")
    def _settings_match_orchestrator(self) -> ExperimentConfig:
        if len(set(self.variants)) != len(self.variants):
            raise ValueError("variants: each variant may appear only once")
        if self.orchestrator == "standard" and self.trials_per_variant is None:
            raise ValueError("trials_per_variant: required when orchestrator is 'standard'")
        if self.orchestrator == "mab" and self.mab_settings is None:
            raise ValueError("mab_settings: required when orchestrator is 'mab'")
        return self

    @property
    def planned_trials(self) -> int:
        if self.orchestrator == "mab":
            assert self.mab_settings is not None
            return self.mab_settings.total_trials
        assert self.trials_per_variant is not None
        return self.trials_per_variant * len(self.variants)


# ------------------------------------------------------------------------------- run-wide settings
class TrialSettings(StrictModel):
    timeout_seconds: Positive | None = 60.0
    retries: Annotated[int, Field(ge=0, le=10)] = 0


class Budget(StrictModel):
    max_cost: Positive | None = None
    max_seconds: Positive | None = None


class RaySettings(StrictModel):
    """``execution_backend.ray_settings``; see ``meta_orchestrator.backends.ray`` for each field.

    ``executor`` says how trials reach Ray: ``"tasks"``, one Ray task per trial (workers are
    leased per task; a hung trial can be force-cancelled), or ``"actors"``, a pool of threaded
    actors each running up to ``trials_per_actor`` trials at once (fewer processes, less Ray
    work per trial; a worker death takes every trial running in that actor with it).
    """

    address: str | None = None
    num_cpus: PositiveInt | None = None
    num_cpus_per_trial: Annotated[float, Field(gt=0.0, le=64.0)] = 0.25
    max_task_retries: Annotated[int, Field(ge=0, le=10)] = 2
    runtime_env: dict[str, Any] | None = None
    executor: Literal["tasks", "actors"] = "tasks"
    trials_per_actor: Annotated[int, Field(ge=1, le=256)] = 16


class BackendConfig(StrictModel):
    type: Literal[BACKEND_NAMES] = "local"  # type: ignore[valid-type]
    max_in_flight: Annotated[int, Field(ge=1, le=10_000)] | None = None
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
    seed: int = 0
    python_path: list[str] = Field(default_factory=lambda: ["."])
    variants: Annotated[dict[Name, VariantConfig], Field(min_length=1)]
    scoring_weights: dict[Name, float] = Field(default_factory=lambda: {"success": 1.0})
    custom_metrics: list[Name] = Field(default_factory=list)
    experiments: Annotated[list[ExperimentConfig], Field(min_length=1)]
    trial: TrialSettings = Field(default_factory=TrialSettings)
    budget: Budget = Field(default_factory=Budget)
    execution_backend: BackendConfig = Field(default_factory=BackendConfig)
    storage: StorageSettings = Field(default_factory=StorageSettings)

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @property
    def base_dir(self) -> Path:
        """Directory relative paths in the config are resolved against (the config file's folder)."""
        return self._base_dir

    @property
    def enabled_experiments(self) -> list[ExperimentConfig]:
        return [e for e in self.experiments if e.enabled]

    @property
    def planned_trials(self) -> int:
        return sum(e.planned_trials for e in self.enabled_experiments)

    def known_metrics(self) -> set[str]:
        declared = set(BUILTIN_METRICS) | set(self.custom_metrics)
        for variant in self.variants.values():
            declared |= kind_of(variant).metrics(variant)
        return declared

    def resolved_python_path(self) -> list[str]:
        return [str((self.base_dir / p).resolve()) for p in self.python_path]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    def with_overrides(self, **changes: Any) -> SuiteConfig:
        """A copy with top-level fields replaced (``seed``, ``storage`` ...), validated again."""
        data = self.model_dump(mode="python")
        data.update(changes)
        return build_config(data, base_dir=self.base_dir)


# ----------------------------------------------------------------------------------------- loading
def load_config(source: str | Path | Mapping[str, Any]) -> SuiteConfig:
    """Read and validate a config file (or an already-parsed mapping). Raises ``ConfigError``."""
    if isinstance(source, Mapping):
        return build_config(source, base_dir=Path.cwd())
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}", [f"{path}: file not found"])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}", [f"{path}: not valid YAML"]) from exc
    return build_config(data, base_dir=path.resolve().parent, source=str(path))


def parse_config_text(text: str, base_dir: Path | None = None) -> SuiteConfig:
    """Validate config YAML given as text (the dashboard's editor uses this)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", [f"<config>: not valid YAML: {exc}"]) from exc
    return build_config(data, base_dir=base_dir or Path.cwd())


def build_config(data: Any, *, base_dir: Path, source: str = "config") -> SuiteConfig:
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{source}: the top level must be a mapping of keys", ["<root>: must be a mapping"]
        )
    try:
        config = SuiteConfig.model_validate(dict(data))
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors()]
        raise _config_error(source, problems) from None
    config._base_dir = base_dir
    problems = _cross_check(config)
    if problems:
        raise _config_error(source, problems)
    return config


def _config_error(source: str, problems: list[str]) -> ConfigError:
    lines = "\n".join(f"  - {p}" for p in problems)
    noun = "problem" if len(problems) == 1 else "problems"
    return ConfigError(f"invalid config {source} ({len(problems)} {noun}):\n{lines}", problems)


def _cross_check(config: SuiteConfig) -> list[str]:
    """Checks that span several fields: names that must exist, metrics that must be produced."""
    problems: list[str] = []
    defined = sorted(config.variants)
    for i, experiment in enumerate(config.experiments):
        for j, name in enumerate(experiment.variants):
            if name not in config.variants:
                problems.append(
                    f"experiments[{i}].variants[{j}]: unknown variant '{name}' "
                    f"(defined: {', '.join(defined)})"
                )
    names = [e.name for e in config.experiments]
    for i, name in enumerate(names):
        if names.index(name) != i:
            problems.append(f"experiments[{i}].name: duplicate experiment name '{name}'")
    if not config.enabled_experiments:
        problems.append("experiments: every experiment is disabled; enable at least one")
    known = config.known_metrics()
    for metric in config.scoring_weights:
        if metric not in known:
            problems.append(
                f"scoring_weights.{metric}: unknown metric '{metric}' (known: "
                f"{', '.join(sorted(known))}; declare your own under custom_metrics)"
            )
    problems.extend(_check_rewards(config))
    python_path = config.resolved_python_path()
    for name, variant in config.variants.items():
        problems.extend(kind_of(variant).check(name, variant, python_path))
    return problems


def _check_rewards(config: SuiteConfig) -> list[str]:
    problems = []
    for i, experiment in enumerate(config.experiments):
        if experiment.mab_settings is None:
            continue
        try:
            reward_model(experiment.mab_settings.reward, config.scoring_weights)
        except ValueError as exc:
            problems.append(f"experiments[{i}].mab_settings.reward: {exc}")
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
        message = f"type is required (one of {', '.join(repr(k) for k in KINDS)})"
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
        # A discriminated union puts the tag ('simulated', ...) into the path: drop it.
        if i >= 2 and loc[i - 2] == "variants" and item in KINDS:
            continue
        parts.append(("." if parts else "") + str(item))
    return "".join(parts)
