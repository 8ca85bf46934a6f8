"""``type: exact``: the output equals the target (or one of a list of targets) after ``normalize``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from meta_orchestrator.core.datasets.base import Sample
from meta_orchestrator.core.kinds.base import BuildContext
from meta_orchestrator.core.scorers.base import (
    Normalization,
    Score,
    ScoreFn,
    ScorerKind,
    ScorerOptions,
    alternatives,
    as_text,
    normalize,
    register_scorer,
    shorten,
    verdict,
)


class ExactScorer(ScorerOptions):
    """Text equality; ``normalize``: ``strip`` (ends), ``whitespace`` (runs to one space), ``case``."""

    type: Literal["exact"]
    normalize: list[Normalization] = Field(default_factory=lambda: ["strip"])


@register_scorer
class ExactKind(ScorerKind):
    name = "exact"
    model = ExactScorer

    def build(self, scorer: ExactScorer, context: BuildContext) -> ScoreFn:
        options = list(scorer.normalize)

        def score(output: Any, sample: Sample) -> Score:
            got = normalize(as_text(output), options)
            wanted = [normalize(as_text(t), options) for t in alternatives(sample.target)]
            return verdict(got in wanted, f"expected {shorten(wanted[0])!r}, got {shorten(got)!r}")

        return score
