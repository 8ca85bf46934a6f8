"""``type: regex``: the output's text matches ``pattern``, or the sample's target used as a pattern."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import field_validator

from meta_orchestrator.core.datasets.base import Sample
from meta_orchestrator.core.kinds.base import BuildContext
from meta_orchestrator.core.scorers.base import (
    Score,
    ScoreFn,
    ScorerKind,
    ScorerOptions,
    alternatives,
    as_text,
    register_scorer,
    shorten,
    verdict,
)


class RegexScorer(ScorerOptions):
    """``re.search`` (``full_match: true``: the whole text) of ``pattern`` in the output's text."""

    type: Literal["regex"]
    pattern: str | None = None
    ignore_case: bool = False
    full_match: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return pattern


@register_scorer
class RegexKind(ScorerKind):
    name = "regex"
    model = RegexScorer

    def needs_target(self, scorer: RegexScorer) -> bool:
        return scorer.pattern is None

    def check_sample(self, scorer: RegexScorer, sample: Sample) -> str | None:
        if scorer.pattern is not None:
            return None
        for target in alternatives(sample.target):
            if not isinstance(target, str):
                return (
                    f"the target (the pattern, as no 'pattern' is set) is not text: {target!r:.60}"
                )
            try:
                re.compile(target)
            except re.error as exc:
                return f"the target {target!r:.60} is not a valid regular expression: {exc}"
        return None

    def build(self, scorer: RegexScorer, context: BuildContext) -> ScoreFn:
        flags = re.IGNORECASE if scorer.ignore_case else 0
        fixed = re.compile(scorer.pattern, flags) if scorer.pattern is not None else None

        def score(output: Any, sample: Sample) -> Score:
            text = as_text(output)
            patterns = (
                [fixed] if fixed else [re.compile(t, flags) for t in alternatives(sample.target)]
            )
            match = any(
                (p.fullmatch(text) if scorer.full_match else p.search(text)) for p in patterns
            )
            return verdict(
                match, f"/{shorten(patterns[0].pattern)}/ does not match {shorten(text)!r}"
            )

        return score
