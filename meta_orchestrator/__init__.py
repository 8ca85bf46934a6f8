"""meta-orchestrator: evaluate and benchmark AI agent variants with honest statistics.

The public API, imported on first use so that ``import meta_orchestrator`` stays cheap:

* ``run_experiment_suite(config, ...)`` runs a config and returns the run id;
* ``resume_run(run_id, ...)`` finishes an interrupted run;
* ``register(name)`` makes an agent function or class available to configs by name.

Everything else is reached through its layer's module (``meta_orchestrator.core.config``,
``meta_orchestrator.store``, ``meta_orchestrator.analysis``, ...); see the README's architecture.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "register", "resume_run", "run_experiment_suite"]

_LAZY = {
    "run_experiment_suite": "meta_orchestrator.hub",
    "resume_run": "meta_orchestrator.hub",
    "register": "meta_orchestrator.core.registry",
}

if TYPE_CHECKING:
    from meta_orchestrator.core.registry import register
    from meta_orchestrator.hub import resume_run, run_experiment_suite


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'meta_orchestrator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
