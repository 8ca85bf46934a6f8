"""``type: simulated``: the built-in seeded stand-in agent (``core.variants.simulated``)."""

from __future__ import annotations

from typing import Literal

from meta_orchestrator.core.kinds.base import Agent, BuildContext, VariantKind, register_kind
from meta_orchestrator.core.variants.simulated import SimulatedAgent, SimulatedParams


class SimulatedVariant(SimulatedParams):
    """A built-in, seeded stand-in agent: success is Bernoulli, latency log-normal, cost normal."""

    type: Literal["simulated"]
    description: str = ""


@register_kind
class SimulatedKind(VariantKind):
    name = "simulated"
    model = SimulatedVariant

    def metrics(self, variant: SimulatedVariant) -> set[str]:
        return set(variant.extra_metrics)

    def build(self, variant: SimulatedVariant, context: BuildContext) -> Agent:
        return SimulatedAgent.from_params(variant).run

    def describe(self, variant: SimulatedVariant) -> str:
        return f"simulated, success {variant.success_rate:g}"
