"""Execution backends: where trials run. ``create_backend`` maps the config's ``type`` to a class.

The names are ``core.config.BACKEND_NAMES``, the one list the config validates against.
"""

from __future__ import annotations

from collections.abc import Callable

from meta_orchestrator.backends.base import Backend
from meta_orchestrator.backends.local import LocalBackend
from meta_orchestrator.backends.threads import ThreadBackend
from meta_orchestrator.core.config import BACKEND_NAMES, BackendConfig
from meta_orchestrator.core.execution import TrialRunner

__all__ = ["BACKENDS", "Backend", "LocalBackend", "ThreadBackend", "create_backend"]


def _ray(runner: TrialRunner, config: BackendConfig) -> Backend:
    from meta_orchestrator.backends.ray import RayBackend  # imports ray lazily

    return RayBackend(runner, config.in_flight, config.ray_settings)


BACKENDS: dict[str, Callable[[TrialRunner, BackendConfig], Backend]] = {
    "local": lambda runner, config: LocalBackend(runner),
    "threads": lambda runner, config: ThreadBackend(runner, config.in_flight),
    "ray": _ray,
}
if set(BACKENDS) != set(BACKEND_NAMES):  # the config validates against BACKEND_NAMES
    raise ImportError(f"backends {sorted(BACKENDS)} differ from {BACKEND_NAMES}")


def create_backend(runner: TrialRunner, config: BackendConfig) -> Backend:
    """The backend ``config.type`` names (validated by the config, so always one of BACKENDS)."""
    return BACKENDS[config.type](runner, config)
