"""The answer inside a model's reply: the whole text, the last number, a regex match, or JSON.

``extract(text, rule)`` returns ``(answer, problem)``: when the reply holds no answer of the rule's
kind, the answer is ``None`` and ``problem`` says why. A reply without an answer is a wrong answer
for the scorer to judge, not a failed trial.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal, Protocol

__all__ = ["ExtractRule", "extract"]

ExtractType = Literal["text", "last_number", "regex", "json"]

_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


class ExtractRule(Protocol):
    type: ExtractType
    pattern: str | None
    group: int | str | None
    field: str | None


def extract(text: str, rule: ExtractRule) -> tuple[Any, str | None]:
    if rule.type == "text":
        return text.strip(), None
    if rule.type == "last_number":
        return _last_number(text)
    if rule.type == "regex":
        return _regex(text, rule.pattern or "", rule.group)
    return _json(text, rule.field)


def _last_number(text: str) -> tuple[Any, str | None]:
    matches = _NUMBER.findall(text)
    if not matches:
        return None, "no number in the reply"
    raw = matches[-1].replace(",", "").lstrip("+")
    number = float(raw)
    if number.is_integer() and not any(c in raw for c in ".eE"):
        return int(raw), None
    return number, None


def _regex(text: str, pattern: str, group: int | str | None) -> tuple[Any, str | None]:
    compiled = re.compile(pattern)
    match = compiled.search(text)
    if match is None:
        return None, f"the pattern {pattern!r} does not match the reply"
    chosen = group if group is not None else (1 if compiled.groups else 0)
    value = match.group(chosen)
    if value is None:
        return None, f"group {chosen!r} of {pattern!r} did not take part in the match"
    return value.strip(), None


def _json(text: str, field: str | None) -> tuple[Any, str | None]:
    value, found = _first_json(text)
    if not found:
        return None, "no JSON value in the reply"
    if field is None:
        return value, None
    for part in field.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif (
            isinstance(value, list)
            and part.lstrip("-").isdigit()
            and -len(value) <= int(part) < len(value)
        ):
            value = value[int(part)]
        else:
            return None, f"the reply's JSON has no field {field!r}"
    return value, None


def _first_json(text: str) -> tuple[Any, bool]:
    candidates = [text.strip(), *(m.strip() for m in _FENCE.findall(text))]
    for candidate in candidates:
        try:
            return json.loads(candidate), True
        except json.JSONDecodeError:
            pass
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        return value, True
    return None, False
