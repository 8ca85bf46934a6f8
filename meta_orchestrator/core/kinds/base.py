"""The contract of a variant kind: a config model, the metrics it declares, checks and a builder.

A kind is what ``type:`` names in a variant's config (``simulated``, ``python``, ``command``, ...). Each
lives in one module of ``meta_orchestrator.core.kinds`` and registers itself with ``@register_kind``;
the config's variant union, its cross-checks and ``build_agent`` are all derived from the registry,
so adding a kind is adding one module.

What a kind must keep:

* ``model`` is a ``StrictModel`` with a field ``type: Literal[name]`` (the union's discriminator).
  Validation of single fields belongs in the model; it runs when the config loads.
* ``metrics(variant)`` names the metrics every trial of such a variant reports beyond the built-in
  ones (a simulated variant's ``extra_metrics``), so that ``scoring_weights`` may weight them.
* ``check(name, variant, python_path)`` returns problem lines (``"variants.NAME.field: message"``) for
  what the model alone cannot know, such as an import path that does not import. It never raises.
* ``build(variant, context)`` returns the agent: ``agent(trial_context) -> result mapping``. It runs
  once per process (a thread pool shares the agent; each Ray worker builds its own), so the agent
  must be safe to call from several threads at once. It may raise; the trial is then an error.
* An agent that exceeds ``context.timeout`` raises ``TrialTimeout``. Kinds whose agents enforce the
  timeout themselves (a command kills its process) set ``enforces_timeout``; for the others the
  trial runner abandons the call after the timeout.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from meta_orchestrator.core.models import StrictModel

Agent = Callable[[dict[str, Any]], Any]


class TrialTimeout(TimeoutError):
    """A trial ran past its timeout; the trial is recorded with status ``timeout``."""


@dataclass(frozen=True)
class BuildContext:
    """What a kind needs to build an agent: where relative paths start, the trial timeout, and
    the run's process ledger folder (``core.processes``) where programs it starts are recorded."""

    base_dir: Path
    timeout: float | None
    ledger: str | None = None


class VariantKind(ABC):
    """One ``type:`` of variant. Subclasses set ``name`` and ``model`` and implement ``build``."""

    name: ClassVar[str]
    model: ClassVar[type[StrictModel]]
    enforces_timeout: ClassVar[bool] = False

    def metrics(self, variant: Any) -> set[str]:
        """Metrics a variant of this kind declares beyond the built-in ones."""
        return set()

    def check(self, name: str, variant: Any, python_path: list[str]) -> list[str]:
        """Problems the model cannot see (imports, files); an empty list when there are none."""
        return []

    @abstractmethod
    def build(self, variant: Any, context: BuildContext) -> Agent:
        """The callable that runs one trial of ``variant``."""

    def describe(self, variant: Any) -> str:
        """What the variant runs, in a few words, for ``meta-orchestrator variants``."""
        return self.name


KINDS: dict[str, VariantKind] = {}
K = TypeVar("K", bound=type[VariantKind])


def register_kind(cls: K) -> K:
    """Class decorator: make ``cls`` the kind for ``type: cls.name``."""
    existing = KINDS.get(cls.name)
    if existing is not None and type(existing) is not cls:
        raise ValueError(f"variant kind '{cls.name}' is already registered by {type(existing)}")
    KINDS[cls.name] = cls()
    return cls


def kind_of(variant: Any) -> VariantKind:
    """The registered kind of a validated variant config."""
    return KINDS[variant.type]
