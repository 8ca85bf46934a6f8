"""Built-in example agents: what a Python variant looks like, as a class and as a function.

They do no real work (no API keys needed); their behaviour depends on their params so that one class
with different params makes different variants. The CI guardrail benchmarks these.
"""

from __future__ import annotations

import random
import time
from typing import Any

from meta_orchestrator.core.registry import register


@register("noop")
def noop_agent(context: dict[str, Any]) -> dict[str, float]:
    """Does nothing and succeeds: measures the harness's own overhead."""
    return {"success": True}


@register("planner")
class PlannerAgent:
    """A toy "plan then act" agent: more planning steps raise success and cost.

    ``skill`` is the probability that one step goes right; the task needs ``steps`` steps and the
    agent may re-plan ``replans`` times. Each step costs ``cost_per_step`` and sleeps ``step_seconds``.
    """

    def __init__(
        self,
        skill: float = 0.9,
        steps: int = 3,
        replans: int = 1,
        cost_per_step: float = 0.002,
        step_seconds: float = 0.001,
    ) -> None:
        self.skill = skill
        self.steps = steps
        self.replans = replans
        self.cost_per_step = cost_per_step
        self.step_seconds = step_seconds

    def run(self, context: dict[str, Any]) -> dict[str, float]:
        rng = random.Random(context["seed"])
        steps_taken = 0
        interventions = 0
        for _attempt in range(self.replans + 1):
            done = 0
            while done < self.steps:
                steps_taken += 1
                time.sleep(self.step_seconds)
                if rng.random() >= self.skill:
                    break
                done += 1
            if done == self.steps:
                return {
                    "success": True,
                    "cost": steps_taken * self.cost_per_step,
                    "autonomy": 1.0 / (1 + interventions),
                    "steps": steps_taken,
                }
            interventions += 1
        return {
            "success": False,
            "cost": steps_taken * self.cost_per_step,
            "autonomy": 1.0 / (1 + interventions),
            "steps": steps_taken,
        }


@register("retrieval")
def retrieval_agent(
    context: dict[str, Any], recall: float = 0.7, k: int = 5, cost_per_doc: float = 0.001
) -> dict[str, float]:
    """A toy retrieval agent as a plain function: success if any of ``k`` documents is relevant."""
    rng = random.Random(context["seed"])
    hits = sum(rng.random() < recall / k for _ in range(k))
    return {"success": hits > 0, "cost": k * cost_per_doc, "autonomy": 1.0, "hits": hits}
