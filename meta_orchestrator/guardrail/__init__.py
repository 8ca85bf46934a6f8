"""The CI regression gate and the benchmark's power analysis.

``meta-orchestrator compare BASELINE CANDIDATE`` (also ``python -m meta_orchestrator.guardrail``) runs
``gate.run_compare``; ``meta-orchestrator power CONFIG`` (also ``python -m
meta_orchestrator.guardrail.power``) runs ``power.report``. The comparison itself (the statistics,
the verdicts, the Markdown) lives in ``meta_orchestrator.analysis``, so the dashboard shows exactly
what the gate decides; the command-line arguments are defined by ``meta_orchestrator.cli``.

Exit codes: 0 no significant regression beyond the budget, 1 at least one, 2 bad input.
"""
