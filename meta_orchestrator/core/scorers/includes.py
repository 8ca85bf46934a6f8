"""``type: includes``: the target (or one of a list of targets) appears in the output's text."""

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


class IncludesScorer(ScorerOptions):
    """Substring match after ``normalize`` (default ``strip``; add ``case`` to ignore case)."""

    type: Literal["includes"]
    normalize: list[Normalization] = Field(default_factory=lambda: ["strip"])


@register_scorer
class IncludesKind(ScorerKind):
    name = "includes"
    model = IncludesScorer

    def build(self, scorer: IncludesScorer, context: BuildContext) -> ScoreFn:
        options = list(scorer.normalize)

        def score(output: Any, sample: Sample) -> Score:
            got = normalize(as_text(output), options)
            wanted = [normalize(as_text(t), options) for t in alternatives(sample.target)]
            return verdict(
                any(w in got for w in wanted),
                f"{shorten(wanted[0])!r} not found in {shorten(got)!r}",
            )

        return score
