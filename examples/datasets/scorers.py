"""A Python scorer for the datasets example: partial credit for answers that are close.

``exact`` says right or wrong; this one also says how wrong: ``value`` falls from 1 (exact) to 0 at
a relative error of ``tolerance``, and the relative error itself is a metric (``closeness.error``).
"""

from __future__ import annotations

from typing import Any

from meta_orchestrator.core.datasets import Sample


def closeness(output: Any, sample: Sample, tolerance: float = 0.1) -> dict[str, Any]:
    try:
        got = float(str(output).strip())
    except ValueError:
        return {"value": 0.0, "error": 1.0, "explanation": f"not a number: {output!r}"}
    wanted = float(sample.target)
    error = min(1.0, abs(got - wanted) / max(1.0, abs(wanted)))
    value = max(0.0, 1.0 - error / tolerance)
    explanation = None if error == 0 else f"off by {got - wanted:+g} ({100 * error:.2g}%)"
    return {"value": value, "error": error, "explanation": explanation}
