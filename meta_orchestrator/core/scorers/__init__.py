"""Scorers: how an agent's output is judged against its sample.

Every module in this package defines one scorer and registers it with ``@register_scorer`` (from
``base``, which holds the registry and states the contract); this package imports them all, so a new
scorer is one new module. ``scorer_config_type()`` is the config's discriminated union over the
registered models and ``build_scorer`` the one way to turn a scorer config into a score function.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import Field

from meta_orchestrator.core.kinds.base import BuildContext
from meta_orchestrator.core.scorers.base import (
    SCORERS,
    Score,
    ScoreFn,
    ScorerError,
    ScorerKind,
    ScorerOptions,
    label,
    parse_returned,
    register_scorer,
    scorer_kind,
)

__all__ = [
    "SCORERS",
    "Score",
    "ScoreFn",
    "ScorerError",
    "ScorerKind",
    "ScorerOptions",
    "build_scorer",
    "label",
    "parse_returned",
    "register_scorer",
    "scorer_config_type",
    "scorer_kind",
]

_FIRST = ("exact", "includes", "regex", "numeric", "json_match", "python", "command")


def build_scorer(
    scorer: Any, base_dir: Path, timeout: float | None, ledger: str | None = None
) -> ScoreFn:
    return scorer_kind(scorer).build(scorer, BuildContext(base_dir, timeout, ledger))


def scorer_config_type() -> Any:
    """``Annotated[Union[...models], Field(discriminator="type")]`` over every registered scorer."""
    models = tuple(SCORERS[name].model for name in SCORERS)
    return Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007 - built at runtime


def _load_scorers() -> None:
    names = [m.name for m in pkgutil.iter_modules(__path__) if m.name != "base"]
    for name in sorted(names, key=lambda n: (_FIRST.index(n) if n in _FIRST else len(_FIRST), n)):
        importlib.import_module(f"{__name__}.{name}")


_load_scorers()
