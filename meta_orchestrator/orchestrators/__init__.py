"""Orchestrators choose which variant runs next; ``create_orchestrator`` maps config names to classes.

``base`` is the contract (propose / observe / restore); ``standard`` and ``bandits`` implement it. The
names come from ``core.config`` (``ORCHESTRATOR_NAMES``, ``STRATEGY_NAMES``), the one list of each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from meta_orchestrator.core.config import ExperimentConfig
from meta_orchestrator.core.scoring import reward_model
from meta_orchestrator.core.trial import trial_seed
from meta_orchestrator.errors import ConfigError
from meta_orchestrator.orchestrators.bandits import (
    STRATEGIES,
    UCB1,
    BanditOrchestrator,
    EpsilonGreedy,
    ThompsonSampling,
)
from meta_orchestrator.orchestrators.base import Orchestrator, Proposal
from meta_orchestrator.orchestrators.standard import StandardOrchestrator

__all__ = [
    "STRATEGIES",
    "UCB1",
    "BanditOrchestrator",
    "EpsilonGreedy",
    "Orchestrator",
    "Proposal",
    "StandardOrchestrator",
    "ThompsonSampling",
    "create_orchestrator",
]


def create_orchestrator(
    experiment: ExperimentConfig,
    seed: int,
    weights: Mapping[str, float],
    samples: Sequence[str] | None = None,
) -> Orchestrator:
    """Build the orchestrator an experiment asks for, seeded from the run seed and its name.

    ``samples`` are the ids of the experiment's dataset, in the dataset's order (the orchestrator
    shuffles them once, with its seed). Raises ``ConfigError`` for a reward model the scoring
    weights do not allow (``load_config`` reports the same problem first, through ``reward_model``).
    """
    experiment_seed = trial_seed(seed, experiment.name, -1)
    if experiment.orchestrator == "standard":
        return StandardOrchestrator(experiment, experiment_seed, samples)
    settings = experiment.mab_settings
    assert settings is not None
    cls = STRATEGIES[settings.strategy]
    try:
        bernoulli, scale = reward_model(settings.reward, weights)
    except ValueError as exc:
        raise ConfigError(f"mab_settings.reward: {exc}") from None
    return cls(
        experiment, experiment_seed, bernoulli=bernoulli, reward_scale=scale, samples=samples
    )
