"""``type: numeric``: the last number in the output is the target within a tolerance.

``|got - target| <= max(abs_tol, rel_tol * |target|)``. A text answer ("the total is 1,234.5")
gives its last number; an output with no number is a wrong answer, not a scorer failure.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from meta_orchestrator.core.datasets.base import Sample
from meta_orchestrator.core.kinds.base import BuildContext
from meta_orchestrator.core.models import NonNegative
from meta_orchestrator.core.scorers.base import (
    Score,
    ScoreFn,
    ScorerKind,
    ScorerOptions,
    alternatives,
    as_text,
    register_scorer,
    shorten,
)

_NUMBER = re.compile(
    r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+(?:[eE][-+]?\d+)?"
)


class NumericScorer(ScorerOptions):
    """Numbers equal within ``abs_tol`` or ``rel_tol`` (both default to 1e-9)."""

    type: Literal["numeric"]
    abs_tol: NonNegative = 1e-9
    rel_tol: NonNegative = 1e-9


def last_number(value: Any) -> float | None:
    """A number as is; otherwise the last number written in the value's text (commas allowed)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    found = _NUMBER.findall(as_text(value))
    if not found:
        return None
    number = float(found[-1].replace(",", ""))
    return number if math.isfinite(number) else None


def _target_number(target: Any) -> float | None:
    if isinstance(target, str):
        try:
            number = float(target.strip().replace(",", ""))
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return last_number(target) if isinstance(target, int | float) else None


@register_scorer
class NumericKind(ScorerKind):
    name = "numeric"
    model = NumericScorer

    def check_sample(self, scorer: NumericScorer, sample: Sample) -> str | None:
        for target in alternatives(sample.target):
            if _target_number(target) is None:
                return f"the target {target!r:.60} is not a number"
        return None

    def build(self, scorer: NumericScorer, context: BuildContext) -> ScoreFn:
        def score(output: Any, sample: Sample) -> Score:
            got = last_number(output)
            wanted = [_target_number(t) for t in alternatives(sample.target)]
            if got is None:
                return Score(
                    0.0, explanation=f"no number in the output {shorten(as_text(output))!r}"
                )
            for target in wanted:
                if target is not None and abs(got - target) <= max(
                    scorer.abs_tol, scorer.rel_tol * abs(target)
                ):
                    return Score(1.0)
            return Score(0.0, explanation=f"expected {wanted[0]:g}, got {got:g}")

        return score
