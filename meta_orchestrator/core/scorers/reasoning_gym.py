"""``type: reasoning_gym``: the generator's own ``score_answer`` grades the output.

Each reasoning-gym generator knows how its answers are judged (``chain_sum`` accepts ``"+01,000.00"``
for 1000, a puzzle checks that a solution is valid, some give partial credit). This scorer rebuilds
the sample's task from ``metadata.reasoning_gym`` (written by the ``reasoning_gym`` dataset source)
and returns ``score_answer(output, task)``, a number in [0, 1]; the trial passes at
``pass_threshold`` (default 1: full credit). The output is given as text, as the graders expect
(``12`` becomes ``"12"``; no output is ``None``, which they score 0).

A task rebuilt with a question other than the sample's means the samples were made by another
reasoning-gym version: the scorer fails (the trial is an ``error`` of kind ``scorer``) rather than
grade an answer against the wrong task.
"""

from __future__ import annotations

from typing import Any, Literal

from meta_orchestrator.core.datasets.base import DatasetError, Sample
from meta_orchestrator.core.datasets.reasoning_gym import (
    METADATA_KEY,
    generator,
    reasoning_gym_missing,
)
from meta_orchestrator.core.kinds.base import BuildContext
from meta_orchestrator.core.scorers.base import (
    Score,
    ScoreFn,
    ScorerError,
    ScorerKind,
    ScorerOptions,
    as_text,
    register_scorer,
    shorten,
)


class ReasoningGymScorer(ScorerOptions):
    """The generator's ``score_answer`` on samples of a ``reasoning_gym`` dataset."""

    type: Literal["reasoning_gym"]


def _origin(sample: Sample) -> dict[str, Any] | None:
    origin = sample.metadata.get(METADATA_KEY)
    if isinstance(origin, dict) and {"name", "options", "seed", "size", "index"} <= set(origin):
        return origin
    return None


def answer_text(output: Any) -> str | None:
    """The output as the graders read it: text, numbers written out, ``None`` kept."""
    if output is None or isinstance(output, str):
        return output
    if isinstance(output, bool):
        return str(output).lower()
    if isinstance(output, int | float):
        return str(output)
    return as_text(output)


@register_scorer
class ReasoningGymScorerKind(ScorerKind):
    name = "reasoning_gym"
    model = ReasoningGymScorer
    needs_watchdog = True  # third-party graders (sympy, solvers) run in-process

    def check(self, scorer: ReasoningGymScorer, python_path: list[str]) -> list[str]:
        missing = reasoning_gym_missing()
        return [f"type: {missing}"] if missing else []

    def check_sample(self, scorer: ReasoningGymScorer, sample: Sample) -> str | None:
        if _origin(sample) is None:
            return (
                f"sample '{sample.id}' has no metadata.{METADATA_KEY}: this scorer grades samples "
                "of a 'type: reasoning_gym' dataset"
            )
        return None

    def build(self, scorer: ReasoningGymScorer, context: BuildContext) -> ScoreFn:
        def score(output: Any, sample: Sample) -> Score:
            origin = _origin(sample)
            if origin is None:
                raise ScorerError(self.check_sample(scorer, sample) or "")
            try:
                tasks = generator(origin["name"], origin["options"], origin["seed"], origin["size"])
            except DatasetError as exc:
                raise ScorerError(str(exc)) from None
            task = tasks[origin["index"]]
            if task["question"] != sample.input:
                raise ScorerError(
                    f"reasoning-gym's {origin['name']} task {origin['index']} is not the question "
                    f"of sample '{sample.id}' (made by another reasoning-gym version?)"
                )
            answer = answer_text(output)
            value = float(tasks.score_answer(answer, task))
            if value >= 1.0:
                return Score(value)
            got = "no answer" if answer is None else repr(shorten(answer))
            return Score(value, explanation=f"expected {task.get('answer')!r}, got {got}")

        return score
