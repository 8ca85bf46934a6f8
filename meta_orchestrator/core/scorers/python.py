"""``type: python``: the user's own scorer, ``function(output, sample, **params)``.

It returns a bool, a number, or a mapping: ``value`` (the main value), ``explanation`` (text) and any
other numeric keys, which become metrics ``NAME.key`` (declare them under ``metrics`` to weight them).
It may ignore the target (an LLM judge with a rubric), so it does not need one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from meta_orchestrator.core.datasets.base import Sample
from meta_orchestrator.core.kinds.base import BuildContext
from meta_orchestrator.core.models import Name
from meta_orchestrator.core.paths import extra_sys_path
from meta_orchestrator.core.registry import import_callable
from meta_orchestrator.core.scorers.base import (
    Score,
    ScoreFn,
    ScorerKind,
    ScorerOptions,
    label,
    parse_returned,
    register_scorer,
)
from meta_orchestrator.errors import ConfigError


class PythonScorer(ScorerOptions):
    """``function: "package.module:function"``; ``metrics``: the keys its mapping returns."""

    type: Literal["python"]
    function: Annotated[str, Field(min_length=3, pattern=r"^[^:]+:[^:]+$")]
    params: dict[str, Any] = Field(default_factory=dict)
    metrics: list[Name] = Field(default_factory=list)


@register_scorer
class PythonScorerKind(ScorerKind):
    name = "python"
    model = PythonScorer
    needs_watchdog = True

    def needs_target(self, scorer: Any) -> bool:
        return False

    def metrics(self, scorer: PythonScorer) -> set[str]:
        return {label(scorer), *(f"{label(scorer)}.{m}" for m in scorer.metrics)}

    def check(self, scorer: PythonScorer, python_path: list[str]) -> list[str]:
        with extra_sys_path(python_path):
            try:
                import_callable(scorer.function)
            except ConfigError as exc:
                return [f"function: {exc}"]
        return []

    def build(self, scorer: PythonScorer, context: BuildContext) -> ScoreFn:
        function = import_callable(scorer.function)
        params, name, declared = dict(scorer.params), label(scorer), list(scorer.metrics)

        def score(output: Any, sample: Sample) -> Score:
            return parse_returned(name, function(output, sample, **params), declared)

        return score
