"""Built-in variants. Importing this package registers them (``meta-orchestrator variants`` lists them).

The CI guardrail workflow benchmarks every change to this folder.
"""

from meta_orchestrator.core.variants import examples, simulated

__all__ = ["examples", "simulated"]
