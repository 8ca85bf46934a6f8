"""The simulated agent: a seeded stand-in with known success rate, latency and cost.

It really sleeps for its latency (so wall-clock measurement, timeouts and concurrency behave as with
a real agent) and draws everything from the trial's seed, so a run is reproducible.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

from meta_orchestrator.experiment_hub.registry import register


class SimulatedFailure(RuntimeError):
    """Raised on purpose by a simulated agent with ``error_rate > 0``."""


@register("simulated", description="Seeded stand-in agent with configurable success, latency, cost")
class SimulatedAgent:
    """Success ~ Bernoulli(success_rate); latency ~ log-normal(mean, sd); cost, autonomy ~ normal."""

    def __init__(
        self,
        success_rate: float = 0.5,
        latency_mean: float = 0.01,
        latency_sd: float = 0.0,
        cost_mean: float = 0.0,
        cost_sd: float = 0.0,
        autonomy: float = 0.5,
        autonomy_sd: float = 0.0,
        error_rate: float = 0.0,
        extra_metrics: dict[str, float] | None = None,
        description: str = "",
    ) -> None:
        self.success_rate = success_rate
        self.latency_mean = latency_mean
        self.latency_sd = latency_sd
        self.cost_mean = cost_mean
        self.cost_sd = cost_sd
        self.autonomy = autonomy
        self.autonomy_sd = autonomy_sd
        self.error_rate = error_rate
        self.extra_metrics = dict(extra_metrics or {})

    def run(self, context: dict[str, Any]) -> dict[str, float]:
        rng = random.Random(context.get("seed", 0))
        if self.error_rate and rng.random() < self.error_rate:
            raise SimulatedFailure("simulated failure (error_rate)")
        delay = self._latency(rng)
        if delay > 0:
            time.sleep(delay)
        return {
            "success": rng.random() < self.success_rate,
            "cost": max(0.0, rng.gauss(self.cost_mean, self.cost_sd))
            if self.cost_sd
            else self.cost_mean,
            "autonomy": min(1.0, max(0.0, rng.gauss(self.autonomy, self.autonomy_sd))),
            **self.extra_metrics,
        }

    def _latency(self, rng: random.Random) -> float:
        if self.latency_mean <= 0:
            return 0.0
        if self.latency_sd <= 0:
            return self.latency_mean
        # Log-normal with the requested mean and SD: agent latencies are right-skewed.
        sigma2 = math.log1p((self.latency_sd / self.latency_mean) ** 2)
        mu = math.log(self.latency_mean) - sigma2 / 2
        return rng.lognormvariate(mu, math.sqrt(sigma2))
