"""Where variant agents come from: ``@register``-ed objects, entry points, and ``module:attr`` paths.

Built-in agents live in ``meta_orchestrator.core.variants`` and register when it is imported, which
loading the ``python`` variant kind does (so any loaded config sees them); this module imports no
agents itself. Plugins expose agents through the entry-point group ``meta_orchestrator.variants``
(``name = "package.module:attr"``). Anything else is named by its import path.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TypeVar

from meta_orchestrator.errors import ConfigError

ENTRY_POINT_GROUP = "meta_orchestrator.variants"

T = TypeVar("T")


@dataclass(frozen=True)
class Registered:
    name: str
    obj: Any
    import_path: str
    description: str


_REGISTRY: dict[str, Registered] = {}


def register(name: str, *, description: str = "") -> Callable[[T], T]:
    """Register an agent function or class under ``name`` so configs can say ``agent: name``."""

    def decorate(obj: T) -> T:
        path = f"{obj.__module__}:{obj.__qualname__}"  # type: ignore[attr-defined]
        existing = _REGISTRY.get(name)
        if existing is not None and existing.import_path != path:
            raise ValueError(
                f"variant agent '{name}' is already registered by {existing.import_path}"
            )
        doc = description or (obj.__doc__ or "").strip().splitlines()[0:1]
        text = doc if isinstance(doc, str) else (doc[0] if doc else "")
        _REGISTRY[name] = Registered(name, obj, path, text)
        return obj

    return decorate


def registered() -> dict[str, Registered]:
    """Every registered agent: built-ins, entry points and whatever user code registered."""
    _load_entry_points()
    return dict(sorted(_REGISTRY.items()))


def resolve_agent(ref: str) -> Any:
    """Turn ``"pkg.module:attr"`` or a registered name into the function or class it names."""
    if ":" in ref:
        return _import_path(ref)
    if ref not in _REGISTRY:
        _load_entry_points()
    if ref not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ConfigError(
            f"'{ref}' is neither a registered agent (registered: {known}) "
            "nor an import path of the form 'package.module:attr'"
        )
    return _REGISTRY[ref].obj


def import_callable(ref: str) -> Any:
    """The function or class ``"package.module:attr"`` names (a dataset loader, a scorer).

    Raises ``ConfigError`` with a sentence saying what is wrong.
    """
    return _import_path(ref)


def import_modules(names: Sequence[str]) -> None:
    """Import the config's ``modules`` (so their ``@register`` calls run); ``ConfigError`` names
    the first that fails. Idempotent: a module already imported is not run again."""
    for name in names:
        import_user_module(name)


def import_user_module(name: str, purpose: str = "") -> Any:
    """Import the user's module ``name``; whatever it raises, ``sys.exit`` included, becomes a
    ``ConfigError`` saying so (a module that exits at import must not end the run as a success)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(f"cannot import module '{name}'{purpose}: {exc}") from exc
    except SystemExit as exc:
        raise ConfigError(
            f"importing '{name}'{purpose} called sys.exit({exc.code!r}); a module must not exit "
            "when imported"
        ) from None
    except Exception as exc:  # a user module that fails while importing
        raise ConfigError(f"importing '{name}'{purpose} raised {exc!r}") from exc


def _import_path(ref: str) -> Any:
    module_name, _, attr_path = ref.partition(":")
    if not module_name or not attr_path:
        raise ConfigError(f"'{ref}' is not of the form 'package.module:attr'")
    obj: Any = import_user_module(module_name, f" for '{ref}'")
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"module '{module_name}' has no attribute '{attr_path}'") from None
    if not callable(obj):
        raise ConfigError(f"'{ref}' is not callable (a function or a class is expected)")
    return obj


def _load_entry_points() -> None:
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in _REGISTRY:
            continue
        try:
            obj = entry.load()
        except (Exception, SystemExit) as exc:
            raise ConfigError(
                f"the plugin variant '{entry.name}' ({entry.value}) failed to load: {exc!r}"
            ) from exc
        _REGISTRY[entry.name] = Registered(entry.name, obj, entry.value, "plugin")
