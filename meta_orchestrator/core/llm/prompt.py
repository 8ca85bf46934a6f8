"""Chat messages from a sample: the system message, few-shot turns and a ``str.format`` template.

A template names the sample's fields: ``{input}``, ``{id}``, ``{metadata}`` and ``{target}`` (only
when the dataset exposes targets), with ``[key]`` to reach inside a mapping or list:
``{input[question]}``, ``{metadata[topic]}``. Mappings and lists are written as JSON; write literal
braces as ``{{`` and ``}}``. ``check_template`` finds unknown fields when the config loads;
a field a sample lacks is a ``PromptError`` naming it, at trial time.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["FIELDS", "PromptError", "build_messages", "check_template", "render"]

FIELDS = ("input", "id", "metadata", "target")
_ROOT = re.compile(r"^([^.\[]*)(.*)$")
_INDEX = re.compile(r"\[([^\]]*)\]")


class PromptError(ValueError):
    """A template cannot be rendered for a sample (a field it names is missing)."""


def check_template(template: str) -> list[str]:
    """Problems with ``template`` itself: bad syntax, unknown or positional fields."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        return [f"not a valid template ({exc}); write literal braces as {{{{ and }}}}"]
    problems = []
    for _, field, spec, _ in parsed:
        if field is None:
            continue
        root, rest = _ROOT.match(field).groups()  # type: ignore[union-attr]
        if root == "" or root.isdigit():
            problems.append(f"{{{field}}}: name a field ({', '.join(FIELDS)})")
        elif root not in FIELDS:
            problems.append(
                f"unknown field {{{field}}} (fields: {', '.join(FIELDS)}; "
                f"a key of the input is {{input[{root}]}})"
            )
        elif rest and _INDEX.sub("", rest):
            problems.append(f"{{{field}}}: reach inside a field with [key], not attributes")
        if spec and "{" in spec:
            problems.append(f"{{{field}}}: nested fields in a format spec are not supported")
    return problems


class _Formatter(string.Formatter):
    def get_value(self, key: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if key not in kwargs:
            if key == "target":
                raise PromptError(
                    "the prompt uses {target}, but the sample has no target "
                    "(the dataset must set expose_target: true)"
                )
            raise PromptError(f"the prompt uses {{{key}}}, which the trial's sample does not have")
        return kwargs[key]

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        root, rest = _ROOT.match(field_name).groups()  # type: ignore[union-attr]
        value = self.get_value(root, args, kwargs)
        for key in _INDEX.findall(rest):
            value = _index(value, key, field_name)
        return value, root

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, Mapping | list | tuple) and not format_spec:
            return json.dumps(value, ensure_ascii=False)
        if value is None and not format_spec:
            return "null"
        return super().format_field(value, format_spec)


def _index(value: Any, key: str, field: str) -> Any:
    if isinstance(value, Mapping):
        if key in value:
            return value[key]
    elif isinstance(value, list | tuple) and key.lstrip("-").isdigit():
        position = int(key)
        if -len(value) <= position < len(value):
            return value[position]
    raise PromptError(f"the prompt uses {{{field}}}, but the sample has no [{key}] there")


_FORMATTER = _Formatter()


def render(template: str, fields: Mapping[str, Any]) -> str:
    """``template`` with ``fields`` filled in; ``PromptError`` for a field the sample lacks."""
    return _FORMATTER.vformat(template, (), fields)


def sample_fields(sample: Mapping[str, Any]) -> dict[str, Any]:
    """The template's fields of one sample (``target`` only when the sample carries one)."""
    fields = {
        "input": sample.get("input", ""),
        "id": sample.get("id", ""),
        "metadata": sample.get("metadata") or {},
    }
    if "target" in sample:
        fields["target"] = sample["target"]
    return fields


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def build_messages(
    *,
    system: str | None,
    examples: Sequence[Mapping[str, Any]],
    template: str,
    sample: Mapping[str, Any],
) -> list[dict[str, str]]:
    """System message, then each example as a user turn (the template over its input) and an
    assistant turn (its output), then the sample's user turn."""
    messages = [{"role": "system", "content": system}] if system else []
    for example in examples:
        messages.append({"role": "user", "content": render(template, sample_fields(example))})
        messages.append({"role": "assistant", "content": as_text(example["output"])})
    messages.append({"role": "user", "content": render(template, sample_fields(sample))})
    return messages
