"""``type: command``: a scorer in any language, speaking JSON like a command variant.

The program gets ``{"output": ..., "sample": {"id", "input", "target", "metadata"}, "params": ...}``
as one JSON object on stdin and prints its score as the last line of stdout: ``true``, ``0.5``, or
``{"value": 1, "explanation": "...", "key": 0.3}``. A non-zero exit, a timeout or other output is a
scorer failure. It runs exactly as a command variant does (its own session, killed on timeout).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from meta_orchestrator.core.datasets.base import Sample
from meta_orchestrator.core.kinds.base import BuildContext
from meta_orchestrator.core.kinds.command import CommandAgent, CommandVariant
from meta_orchestrator.core.models import Name, Seconds
from meta_orchestrator.core.scorers.base import (
    Score,
    ScoreFn,
    ScorerKind,
    ScorerOptions,
    label,
    parse_returned,
    register_scorer,
)


class CommandScorer(ScorerOptions):
    """An external program: score request JSON on stdin, the score as JSON on stdout's last line."""

    type: Literal["command"]
    command: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    params: dict[str, Any] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    timeout_seconds: Seconds = 60.0
    metrics: list[Name] = Field(default_factory=list)


@register_scorer
class CommandScorerKind(ScorerKind):
    name = "command"
    model = CommandScorer

    def needs_target(self, scorer: Any) -> bool:
        return False

    def metrics(self, scorer: CommandScorer) -> set[str]:
        return {label(scorer), *(f"{label(scorer)}.{m}" for m in scorer.metrics)}

    def build(self, scorer: CommandScorer, context: BuildContext) -> ScoreFn:
        program = CommandVariant(
            type="command",
            command=scorer.command,
            params=scorer.params,
            env=scorer.env,
            cwd=scorer.cwd,
        )
        run = CommandAgent(program, context.base_dir, scorer.timeout_seconds, context.ledger)
        name, declared = label(scorer), list(scorer.metrics)

        def score(output: Any, sample: Sample) -> Score:
            return parse_returned(
                name, run({"output": output, "sample": sample.to_dict()}), declared
            )

        return score
