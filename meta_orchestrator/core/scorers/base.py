"""The contract every scorer keeps, and the helpers scorers share.

A scorer turns ``(output, sample)`` into a ``Score``: a main ``value`` (a number; the metric named
after the scorer), optional further metrics and an optional explanation. A scorer is what ``type:``
names in an experiment's ``scorers:`` list (``exact``, ``includes``, ``regex``, ``numeric``,
``json_match``, ``python``, ``command``, ...). Each lives in one module of
``meta_orchestrator.core.scorers`` and registers itself with ``@register_scorer``; the config's scorer
union is derived from the registry, so adding a scorer is adding one module. What a scorer must keep:

* ``model`` is a ``StrictModel`` extending ``ScorerOptions`` with a field ``type: Literal[name]``.
* ``metrics(scorer)`` names every metric its scores carry: its label (``name``, default the type)
  and, for scorers that return several, ``label.key`` for each declared key. ``scoring_weights``
  may weight exactly these.
* ``check(scorer, python_path)`` returns problem lines for what the model cannot know (an import);
  ``check_sample(scorer, sample)`` returns the problem with one sample (a target that is not a
  number for ``numeric``) or ``None``. Both run when the config loads and never raise.
* ``build(scorer, context)`` returns the score function. It runs once per process and must be safe
  to call from several threads at once. A wrong answer is a score (value 0, with an explanation),
  never an exception: an exception, or a return value that is not a score, means the *scorer*
  failed, and the trial is recorded as an ``error`` with ``error_kind: "scorer"``.
* ``needs_target(scorer)``: the scorer compares with ``sample.target``; an experiment whose dataset
  has no targets cannot use it. ``needs_watchdog``: it runs the user's code in-process, so the trial runner
  abandons it after the trial timeout (a command scorer kills its own program instead).
"""

from __future__ import annotations

import json
import math
import numbers
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from meta_orchestrator.core.datasets.base import Sample
from meta_orchestrator.core.kinds.base import BuildContext
from meta_orchestrator.core.models import Name, StrictModel


@dataclass(frozen=True, slots=True)
class Score:
    """What a scorer made of one output. ``metrics`` holds further named metrics (``label.key``)."""

    value: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    explanation: str | None = None


ScoreFn = Callable[[Any, Sample], Score]


class ScorerError(RuntimeError):
    """A scorer failed or returned something that is not a score; the message names the scorer."""


class ScorerOptions(StrictModel):
    """Options every scorer accepts.

    ``name`` labels the scorer's metric (default: its type; unique within an experiment). A trial
    passes the scorer when its value is at least ``pass_threshold``; with scorers, a trial's
    ``success`` is whether it passed every scorer that gave a value.
    """

    name: Name | None = None
    pass_threshold: float = 1.0


Normalization = Literal["strip", "case", "whitespace"]


def label(scorer: Any) -> str:
    """The name a scorer's metric goes by: its ``name``, else its type."""
    return scorer.name or scorer.type


class ScorerKind(ABC):
    """One ``type:`` of scorer. Subclasses set ``name`` and ``model`` and implement ``build``."""

    name: ClassVar[str]
    model: ClassVar[type[ScorerOptions]]
    needs_watchdog: ClassVar[bool] = False

    def needs_target(self, scorer: Any) -> bool:
        """Whether the scorer compares with ``sample.target`` (then every sample must have one)."""
        return True

    def metrics(self, scorer: Any) -> set[str]:
        return {label(scorer)}

    def check(self, scorer: Any, python_path: list[str]) -> list[str]:
        return []

    def check_sample(self, scorer: Any, sample: Sample) -> str | None:
        return None

    @abstractmethod
    def build(self, scorer: Any, context: BuildContext) -> ScoreFn:
        """The function that scores one output."""


SCORERS: dict[str, ScorerKind] = {}
K = TypeVar("K", bound=type[ScorerKind])


def register_scorer(cls: K) -> K:
    """Class decorator: make ``cls`` the scorer for ``type: cls.name``."""
    existing = SCORERS.get(cls.name)
    if existing is not None and type(existing) is not cls:
        raise ValueError(f"scorer '{cls.name}' is already registered by {type(existing)}")
    SCORERS[cls.name] = cls()
    return cls


def scorer_kind(scorer: Any) -> ScorerKind:
    return SCORERS[scorer.type]


# ------------------------------------------------------------------------------------ helpers
def as_text(value: Any) -> str:
    """An output or a target as text: strings as they are, ``None`` as ``""``, the rest as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


_SPACES = re.compile(r"\s+")


def normalize(text: str, options: list[Normalization]) -> str:
    if "whitespace" in options:
        text = _SPACES.sub(" ", text)
    if "strip" in options or "whitespace" in options:
        text = text.strip()
    if "case" in options:
        text = text.casefold()
    return text


def alternatives(target: Any) -> list[Any]:
    """A list target lists acceptable answers (any one passes); anything else is the one answer."""
    return list(target) if isinstance(target, list) and target else [target]


def shorten(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def verdict(passed: bool, why: str) -> Score:
    """1 with no explanation, or 0 with ``why``: right answers need none, wrong ones do."""
    return Score(1.0) if passed else Score(0.0, explanation=why)


def parse_returned(name: str, value: Any, declared: list[str]) -> Score:
    """A user scorer's return value as a ``Score``: a bool, a number, or a mapping of metrics.

    In a mapping, ``value`` is the main value, ``explanation`` a string, and every other key a
    number that becomes the metric ``name.key``; keys in ``declared`` must be there.
    """
    if isinstance(value, Mapping):
        metrics: dict[str, float] = {}
        main: float | None = None
        explanation = value.get("explanation")
        if explanation is not None and not isinstance(explanation, str):
            raise ScorerError(
                f"scorer '{name}': 'explanation' must be a string, got {type(explanation).__name__}"
            )
        for key, item in value.items():
            if key == "explanation":
                continue
            if not isinstance(key, str):
                raise ScorerError(f"scorer '{name}': metric names must be strings, got {key!r}")
            number = _number(name, key, item)
            if key == "value":
                main = number
            else:
                metrics[f"{name}.{key}"] = number
        missing = [key for key in declared if f"{name}.{key}" not in metrics]
        if missing:
            raise ScorerError(
                f"scorer '{name}' did not return its declared metric "
                f"{', '.join(repr(m) for m in missing)}"
            )
        return Score(main, metrics, explanation)
    return Score(_number(name, "value", value))


def _number(name: str, key: str, value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isfinite(number):
            return number
    raise ScorerError(
        f"scorer '{name}' returned {type(value).__name__} {value!r:.80} for '{key}'; expected a "
        "bool, a finite number, or a mapping of them (with an optional 'explanation')"
    )
