"""Execution backends: where trials run. ``create_backend`` maps the config's ``type`` to a class."""

from __future__ import annotations

from collections.abc import Callable

from meta_orchestrator.backends.base import Backend
from meta_orchestrator.backends.local import LocalBackend
from meta_orchestrator.backends.threads import ThreadBackend
from meta_orchestrator.errors import ConfigError
from meta_orchestrator.experiment_hub.config import BackendConfig
from meta_orchestrator.experiment_hub.execution import TrialRunner

__all__ = ["BACKENDS", "Backend", "LocalBackend", "ThreadBackend", "create_backend"]


def _ray(runner: TrialRunner, config: BackendConfig) -> Backend:
    from meta_orchestrator.backends.ray import RayBackend  # imports ray lazily

    return RayBackend(runner, config.in_flight, config.ray_settings)


BACKENDS: dict[str, Callable[[TrialRunner, BackendConfig], Backend]] = {
    "local": lambda runner, config: LocalBackend(runner),
    "threads": lambda runner, config: ThreadBackend(runner, config.in_flight),
    "ray": _ray,
}


def create_backend(runner: TrialRunner, config: BackendConfig) -> Backend:
    try:
        factory = BACKENDS[config.type]
    except KeyError:
        raise ConfigError(
            f"execution_backend.type: must be one of {', '.join(BACKENDS)} (got {config.type!r})"
        ) from None
    return factory(runner, config)
