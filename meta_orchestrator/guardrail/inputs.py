"""What the gate refuses to judge: it says so and exits 2 instead of printing a verdict.

A verdict on broken input is worse than none: an infinite SD makes every Welch test "no
significant change" (exit 0), scores that are not numbers would be left out without a word, and a
run that stopped after 885 of 6,000 trials compares a different benchmark. So before any test:

* both runs must be ``completed`` (``allow_partial`` accepts an interrupted or failed run);
* every value of the compared metric must be a finite number (``loaders`` counts those that are
  not: a string score in a hand-edited ``results.json``, a NaN);
* every variant's mean and variance of that metric must be finite (a cost of ``1e200`` passes as a
  number, but its square does not).

Each refusal is a ``ComparisonError`` (exit 2) whose message starts with "cannot judge".
"""

from __future__ import annotations

import math

from meta_orchestrator.analysis.run_data import Moments, RunData
from meta_orchestrator.errors import ComparisonError

COMPLETED = "completed"

__all__ = ["check_gate_inputs"]


def check_gate_inputs(
    baseline: RunData, candidate: RunData, metric: str, *, allow_partial: bool = False
) -> None:
    """Raise ``ComparisonError`` ("cannot judge ...") naming every reason the gate cannot judge."""
    reasons: list[str] = []
    for role, run in (("baseline", baseline), ("candidate", candidate)):
        where = f"{role} run {run.run_id}"
        if run.status != COMPLETED and not allow_partial and run.trials:  # none: compare says so
            reasons.append(
                f"{where} is {run.status}, not completed ({run.trials:,} trials recorded); "
                "finish it with `meta-orchestrator resume`, or pass --allow-partial"
            )
        for (experiment, variant, name), count in sorted(run.unusable.items()):
            if name == metric:
                reasons.append(
                    f"{where}: {count:,} '{metric}' value(s) of {experiment}/{variant} are not "
                    "finite numbers (text or NaN in the results?)"
                )
        for data in run.variants.values():
            moments = data.metrics.get(metric)
            if moments is not None and not _finite(moments):
                reasons.append(
                    f"{where}: the '{metric}' statistics of {data.experiment}/{data.variant} are "
                    f"not finite (mean {_num(moments.mean)}, SD {_num(moments.sd)}); a value is too large"
                )
    if reasons:
        lines = "\n".join(f"  - {r}" for r in reasons)
        raise ComparisonError(f"cannot judge {metric}:\n{lines}")


def _finite(moments: Moments) -> bool:
    mean, sd = moments.mean, moments.sd
    if mean is not None and not math.isfinite(mean):
        return False
    return sd is None or math.isfinite(sd * sd)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"
