"""The simulated agent: a seeded stand-in with known success rate, latency and cost.

It really sleeps for its latency (so wall-clock measurement, timeouts and concurrency behave as with
a real agent) and draws everything from the trial's seed, so a run is reproducible.

On a sample with ``metadata.difficulty`` (the built-in ``synthetic`` dataset gives every sample one),
success follows a logistic (Rasch) model: ``P(success) = sigmoid(logit(success_rate) -
difficulty_weight * difficulty)``. So ``success_rate`` is the success on a sample of difficulty 0,
and variants share which samples are hard: their per-sample results correlate as real agents' do
(Miller 2024, *Adding Error Bars to Evals*, reports 0.3-0.7 between frontier models). Without a
sample (or a difficulty), success is Bernoulli(``success_rate``), as before. Its parameters
are defined once, in ``SimulatedParams``: the ``type: simulated`` variant kind extends that model,
and ``type: python, agent: simulated`` validates its ``params`` with it.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

from pydantic import Field

from meta_orchestrator.core.models import Duration, Name, NonNegative, Probability, StrictModel
from meta_orchestrator.core.registry import register


class SimulatedFailure(RuntimeError):
    """Raised on purpose by a simulated agent with ``error_rate > 0``."""


class SimulatedParams(StrictModel):
    """Success ~ Bernoulli(success_rate), moved by a sample's difficulty (``difficulty_weight``);
    latency ~ log-normal(mean, sd); cost, autonomy ~ normal."""

    success_rate: Probability = 0.5
    latency_mean: Duration = 0.01
    latency_sd: Duration = 0.0
    cost_mean: NonNegative = 0.0
    cost_sd: NonNegative = 0.0
    autonomy: Probability = 0.5
    autonomy_sd: NonNegative = 0.0
    error_rate: Probability = 0.0
    extra_metrics: dict[Name, float] = Field(default_factory=dict)
    difficulty_weight: NonNegative = 1.0


@register("simulated", description="Seeded stand-in agent with configurable success, latency, cost")
class SimulatedAgent:
    """The agent of a simulated variant; ``SimulatedAgent(**params)`` validates its parameters."""

    def __init__(self, **params: Any) -> None:
        self.params = SimulatedParams.model_validate(params)

    @classmethod
    def from_params(cls, params: SimulatedParams) -> SimulatedAgent:
        agent = cls.__new__(cls)
        agent.params = params
        return agent

    def run(self, context: dict[str, Any]) -> dict[str, float]:
        p = self.params
        rng = random.Random(context.get("seed", 0))
        if p.error_rate and rng.random() < p.error_rate:
            raise SimulatedFailure("simulated failure (error_rate)")
        delay = self._latency(rng)
        if delay > 0:
            time.sleep(delay)
        return {
            "success": rng.random() < self.success_probability(context.get("sample")),
            "cost": max(0.0, rng.gauss(p.cost_mean, p.cost_sd)) if p.cost_sd else p.cost_mean,
            "autonomy": min(1.0, max(0.0, rng.gauss(p.autonomy, p.autonomy_sd))),
            **p.extra_metrics,
        }

    def success_probability(self, sample: Any) -> float:
        """``success_rate``, moved by the sample's difficulty on the logit scale when it has one."""
        rate = self.params.success_rate
        if not isinstance(sample, dict) or rate in (0.0, 1.0):
            return rate
        difficulty = (sample.get("metadata") or {}).get("difficulty")
        if isinstance(difficulty, bool) or not isinstance(difficulty, int | float):
            return rate
        logit = math.log(rate / (1.0 - rate)) - self.params.difficulty_weight * difficulty
        return 1.0 / (1.0 + math.exp(-max(-700.0, min(700.0, logit))))

    def _latency(self, rng: random.Random) -> float:
        mean, sd = self.params.latency_mean, self.params.latency_sd
        if mean <= 0:
            return 0.0
        if sd <= 0:
            return mean
        # Log-normal with the requested mean and SD: agent latencies are right-skewed.
        sigma2 = math.log1p((sd / mean) ** 2)
        mu = math.log(mean) - sigma2 / 2
        return rng.lognormvariate(mu, math.sqrt(sigma2))
