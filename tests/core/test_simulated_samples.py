"""The simulated agent on samples: success follows the task's difficulty on the logit scale, so
simulated variants agree on which tasks are hard; without a sample nothing changes."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest

from meta_orchestrator.core.variants.simulated import SimulatedAgent
from meta_orchestrator.store import RunStore
from tests.helpers import RunSuite, simulated


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@pytest.mark.parametrize(
    ("rate", "weight", "difficulty", "expected"),
    [
        (0.8, 1.0, 0.0, 0.8),
        (0.8, 1.0, 1.0, sigmoid(math.log(4) - 1)),
        (0.8, 1.0, -2.0, sigmoid(math.log(4) + 2)),
        (0.8, 0.5, 2.0, sigmoid(math.log(4) - 1)),
        (0.8, 0.0, 3.0, 0.8),
        (1.0, 1.0, 5.0, 1.0),
        (0.0, 1.0, -5.0, 0.0),
    ],
)
def test_success_probability_is_logistic_in_the_difficulty(
    rate: float, weight: float, difficulty: float, expected: float
) -> None:
    agent = SimulatedAgent(success_rate=rate, difficulty_weight=weight)
    sample = {"id": "s", "input": "1 + 1", "metadata": {"difficulty": difficulty}}
    assert agent.success_probability(sample) == pytest.approx(expected)
    assert agent.success_probability({"id": "s", "input": "x", "metadata": {}}) == rate
    assert agent.success_probability(None) == rate


def test_without_a_sample_the_draws_are_those_of_before() -> None:
    """Bernoulli(success_rate) from the trial seed's first draw, as before samples existed."""
    agent = SimulatedAgent(success_rate=0.6, latency_mean=0.0)
    for seed in range(200):
        assert agent.run({"seed": seed})["success"] == (random.Random(seed).random() < 0.6)


def pass_rates(
    run_suite: RunSuite, variants: dict[str, Any], epochs: int
) -> dict[str, list[float]]:
    config = {
        "name": "difficulty",
        "seed": 2,
        "variants": variants,
        "datasets": {"tasks": {"type": "synthetic", "size": 300, "seed": 5, "difficulty_sd": 1.5}},
        "experiments": [
            {"name": "e", "variants": list(variants), "dataset": "tasks", "epochs": epochs}
        ],
        "trial": {"timeout_seconds": None},
    }
    ran = run_suite(config)
    rates: dict[str, list[float]] = {v: [] for v in variants}
    with RunStore(ran.db) as store:
        for _, outcomes in store.sample_outcomes(ran.run_id, "e", "tasks"):
            for outcome in outcomes:
                rates[outcome.variant].append(outcome.pass_rate)
    return rates


def test_variants_of_different_skill_agree_on_the_hard_tasks(run_suite: RunSuite) -> None:
    rates = pass_rates(run_suite, {"strong": simulated(0.9), "weak": simulated(0.6)}, epochs=5)
    r = float(np.corrcoef(rates["strong"], rates["weak"])[0, 1])
    assert 0.4 < r < 0.7, r  # Miller 2024: 0.3-0.7 between frontier models
    assert np.mean(rates["strong"]) > np.mean(rates["weak"]) + 0.2


def test_a_variant_that_ignores_difficulty_does_not_correlate(run_suite: RunSuite) -> None:
    rates = pass_rates(
        run_suite,
        {"strong": simulated(0.9), "blind": simulated(0.6, difficulty_weight=0.0)},
        epochs=5,
    )
    r = float(np.corrcoef(rates["strong"], rates["blind"])[0, 1])
    assert abs(r) < 0.15, r
