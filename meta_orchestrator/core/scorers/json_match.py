"""``type: json_match``: the output (an object, or JSON text of one) holds the target's keys and values.

Only the target's keys are compared (``keys:`` narrows them further), so an answer may carry more
fields than the target names. Values compare as JSON (``1`` equals ``1.0``; ``"1"`` does not).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from meta_orchestrator.core.datasets.base import Sample
from meta_orchestrator.core.kinds.base import BuildContext
from meta_orchestrator.core.scorers.base import (
    Score,
    ScoreFn,
    ScorerKind,
    ScorerOptions,
    register_scorer,
    shorten,
)


class JsonMatchScorer(ScorerOptions):
    """Subset match of the target object; ``keys``: compare only these."""

    type: Literal["json_match"]
    keys: list[str] | None = None


def _as_object(output: Any) -> Mapping[str, Any] | None:
    if isinstance(output, Mapping):
        return output
    if isinstance(output, str):
        text = output.strip()
        if text.startswith("```"):  # a fenced code block, as models like to answer
            text = text.strip("`").removeprefix("json").strip()
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, Mapping) else None
    return None


@register_scorer
class JsonMatchKind(ScorerKind):
    name = "json_match"
    model = JsonMatchScorer

    def check_sample(self, scorer: JsonMatchScorer, sample: Sample) -> str | None:
        if not isinstance(sample.target, Mapping):
            return f"the target is not a JSON object: {sample.target!r:.60}"
        missing = [k for k in scorer.keys or () if k not in sample.target]
        if missing:
            return f"the target has no key {', '.join(map(repr, missing))}"
        return None

    def build(self, scorer: JsonMatchScorer, context: BuildContext) -> ScoreFn:
        def score(output: Any, sample: Sample) -> Score:
            got = _as_object(output)
            if got is None:
                return Score(
                    0.0, explanation=f"the output is not a JSON object: {shorten(str(output))!r}"
                )
            target = sample.target
            keys = scorer.keys if scorer.keys is not None else list(target)
            wrong = [k for k in keys if k not in got or got[k] != target[k]]
            if not wrong:
                return Score(1.0)
            return Score(0.0, explanation=f"keys that differ or are missing: {', '.join(wrong)}")

        return score
