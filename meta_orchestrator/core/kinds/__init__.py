"""Variant kinds: what ``type:`` in a variant's config can name, and how each becomes an agent.

Every module in this package defines one kind and registers it with ``@register_kind`` (from
``base``, which holds the registry); this package imports them all, so a new kind is one new module. ``variant_config_type()`` is the config's
discriminated union over the registered models, ``kind_of(variant)`` the kind of a validated variant,
and ``build_agent`` the one way any layer turns a variant into a callable agent.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import Field

from meta_orchestrator.core.kinds.base import (
    KINDS,
    Agent,
    BuildContext,
    TrialTimeout,
    VariantKind,
    kind_of,
    register_kind,
)

__all__ = [
    "KINDS",
    "Agent",
    "BuildContext",
    "TrialTimeout",
    "VariantKind",
    "build_agent",
    "kind_of",
    "register_kind",
    "variant_config_type",
]

_FIRST = ("simulated", "python", "command")  # listed first in messages; the rest alphabetically


def build_agent(
    variant: Any, base_dir: Path, timeout: float | None, ledger: str | None = None
) -> Agent:
    return kind_of(variant).build(variant, BuildContext(base_dir, timeout, ledger))


def variant_config_type() -> Any:
    """``Annotated[Union[...models], Field(discriminator="type")]`` over every registered kind."""
    models = tuple(KINDS[name].model for name in KINDS)
    return Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007 - built at runtime


def _load_kinds() -> None:
    names = [m.name for m in pkgutil.iter_modules(__path__) if m.name != "base"]
    for name in sorted(names, key=lambda n: (_FIRST.index(n) if n in _FIRST else len(_FIRST), n)):
        importlib.import_module(f"{__name__}.{name}")


_load_kinds()
