"""``type: python``: a function ``f(context, **params)`` or a class ``C(**params)`` with ``run``.

``agent`` is ``"package.module:attr"`` or a name registered with ``@register`` (the built-in agents of
``core.variants``, entry-point plugins, or the user's ``modules``).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import Field

from meta_orchestrator.core import variants as _builtin_agents  # noqa: F401 - registers them
from meta_orchestrator.core.kinds.base import Agent, BuildContext, VariantKind, register_kind
from meta_orchestrator.core.models import StrictModel
from meta_orchestrator.core.paths import extra_sys_path
from meta_orchestrator.core.registry import resolve_agent
from meta_orchestrator.errors import ConfigError


class PythonVariant(StrictModel):
    """A function ``f(context, **params) -> dict`` or a class ``C(**params)`` with ``run(context)``.

    ``agent`` is ``"package.module:attr"`` or a name registered with ``@register``.
    """

    type: Literal["python"]
    description: str = ""
    agent: Annotated[str, Field(min_length=1)]
    params: dict[str, Any] = Field(default_factory=dict)


@register_kind
class PythonKind(VariantKind):
    name = "python"
    model = PythonVariant

    def check(self, name: str, variant: PythonVariant, python_path: list[str]) -> list[str]:
        with extra_sys_path(python_path):
            try:
                resolve_agent(variant.agent)
            except ConfigError as exc:
                return [f"variants.{name}.agent: {exc}"]
        return []

    def build(self, variant: PythonVariant, context: BuildContext) -> Agent:
        return python_agent(resolve_agent(variant.agent), variant.params)

    def describe(self, variant: PythonVariant) -> str:
        return variant.agent


def python_agent(target: Any, params: Mapping[str, Any]) -> Agent:
    """A class is instantiated once with ``params``; a function gets them on every call."""
    if inspect.isclass(target):
        instance = target(**params)
        method = getattr(instance, "run", None)
        if callable(method):
            return method
        if callable(instance):
            return instance
        raise TypeError(f"{target.__qualname__} instances have no run(context) method")
    return partial(target, **params) if params else target
