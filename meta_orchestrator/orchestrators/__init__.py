"""Orchestrators choose which variant runs next; ``create_orchestrator`` maps config names to classes."""

from __future__ import annotations

from collections.abc import Mapping

from meta_orchestrator.errors import ConfigError
from meta_orchestrator.experiment_hub.config import ExperimentConfig
from meta_orchestrator.experiment_hub.scoring import bernoulli_scale
from meta_orchestrator.orchestrators.bandits import (
    STRATEGIES,
    UCB1,
    BanditOrchestrator,
    EpsilonGreedy,
    ThompsonSampling,
)
from meta_orchestrator.orchestrators.base import BudgetGuard, Orchestrator, trial_seed
from meta_orchestrator.orchestrators.standard import StandardOrchestrator

__all__ = [
    "UCB1",
    "BanditOrchestrator",
    "BudgetGuard",
    "EpsilonGreedy",
    "Orchestrator",
    "StandardOrchestrator",
    "ThompsonSampling",
    "create_orchestrator",
    "trial_seed",
]


def create_orchestrator(
    experiment: ExperimentConfig, seed: int, weights: Mapping[str, float]
) -> Orchestrator:
    """Build the orchestrator an experiment asks for, seeded from the run seed and its name."""
    experiment_seed = trial_seed(seed, experiment.name, -1)
    if experiment.orchestrator == "standard":
        return StandardOrchestrator(experiment, experiment_seed)
    settings = experiment.mab_settings
    assert settings is not None
    try:
        cls = STRATEGIES[settings.strategy]
    except KeyError:
        raise ConfigError(
            f"mab_settings.strategy: must be one of {', '.join(STRATEGIES)}"
        ) from None
    bernoulli, scale = _reward_model(settings.reward, weights)
    return cls(experiment, experiment_seed, bernoulli=bernoulli, reward_scale=scale)


def _reward_model(reward: str, weights: Mapping[str, float]) -> tuple[bool, float]:
    """Bernoulli when the score is a positive multiple of ``success`` alone, else Gaussian."""
    scale = bernoulli_scale(weights)
    if reward == "bernoulli" and scale is None:
        raise ConfigError(
            "mab_settings.reward: 'bernoulli' needs scoring_weights with 'success' as the only "
            "non-zero (positive) weight"
        )
    if reward == "gaussian" or scale is None:
        return False, 1.0
    return True, scale
